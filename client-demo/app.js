// The chat page's logic. The server sends every line as event "message"
// with one string: "<id>: <text>" for chat, "<id> connected" and
// "<id> disconnected" for arrivals and departures.
//
// Each <li>'s textContent is exactly the line received (the sender and the
// text sit in child spans, the ": " in a visually hidden one), so tests and
// copy-paste see what the server sent while the page shows bubbles.
(function () {
  "use strict";

  const messages = document.getElementById("messages");
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const input = document.getElementById("input");
  const status = document.getElementById("status");
  const statusText = document.getElementById("status-text");

  const socket = io();
  // Reachable from the console and from browser tests.
  window.socket = socket;

  // ---- connection status ---------------------------------------------------

  function transportName() {
    const engine = socket.io.engine;
    return engine && engine.transport ? engine.transport.name : "";
  }

  function showStatus(state, label) {
    const transport = state === "connected" ? transportName() : "";
    status.dataset.state = state;
    status.dataset.transport = transport;
    statusText.textContent = transport ? label + " · " + transport : label;
  }

  // A new Engine.IO connection is made on each reconnection, so the upgrade
  // listener is attached to each one as it opens.
  socket.io.on("open", () => {
    socket.io.engine.on("upgrade", () => {
      if (socket.connected) showStatus("connected", "connected");
    });
  });
  socket.on("connect", () => showStatus("connected", "connected"));
  socket.on("disconnect", (reason) => {
    // After "io server disconnect" the client does not retry on its own.
    if (reason === "io server disconnect") socket.connect();
    showStatus("disconnected", "disconnected");
  });
  socket.io.on("reconnect_attempt", () => showStatus("disconnected", "reconnecting…"));
  socket.on("connect_error", () => showStatus("disconnected", "disconnected"));

  // ---- messages --------------------------------------------------------------

  const CHAT = /^([A-Za-z0-9_-]+): ([\s\S]*)$/;
  const SYSTEM = /^([A-Za-z0-9_-]+) (connected|disconnected)$/;

  // A stable hue per sender, so a conversation is easy to follow.
  function hue(id) {
    let h = 0;
    for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  function span(cls, text) {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function time() {
    return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function render(line) {
    const li = document.createElement("li");
    li.title = time();
    let m;
    if ((m = CHAT.exec(line))) {
      const mine = socket.id !== undefined && m[1] === socket.id;
      li.className = mine ? "msg mine" : "msg";
      li.style.setProperty("--hue", hue(m[1]));
      li.append(span("who", m[1]), span("sep", ": "), span("text", m[2]));
    } else if ((m = SYSTEM.exec(line))) {
      li.className = "system " + m[2];
      if (m[1] === socket.id) li.classList.add("mine");
      li.append(span("who", m[1]), span("what", " " + m[2]));
    } else {
      li.className = "system";
      li.textContent = line;
    }
    return li;
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  socket.on("message", (line) => {
    if (typeof line !== "string") return;
    // Follow the conversation, unless the reader has scrolled up to read
    // older lines; one's own lines always bring the view back down.
    const follow = nearBottom();
    const li = render(line);
    messages.appendChild(li);
    if (follow || li.classList.contains("mine")) li.scrollIntoView({ block: "end" });
  });

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    // Sent even while disconnected: the client buffers and delivers it on
    // reconnection.
    socket.emit("message", text);
    input.value = "";
    input.focus();
  });
})();
