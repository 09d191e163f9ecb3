// End-to-end: the chat server (server/sio-chat) with the npm socket.io-client
// over WebSocket only, polling only, and polling with upgrade; and its
// static files (the page at "/" and the stock client bundle).
//
//   node --test tests/e2e/chat.test.mjs             # build/server/sio-chat
//   SIO_REF=1 node --test tests/e2e/chat.test.mjs   # the Node reference, ref/ref-chat-server.mjs
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Manager } from "socket.io-client";
import { startServer, withTimeout, eventually } from "./lib/server.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-chat-server.mjs" : "server/sio-chat";
const T = { timeout: 20000 };

let server;
before(async () => {
  server = await startServer(PROGRAM);
});
after(async () => {
  await server.stop();
});

const MODES = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  "polling+upgrade": {},
};

const managers = new Set();
afterEach(() => {
  for (const m of managers) m.disconnect();
  managers.clear();
});

// A chat client: s.lines holds every "message" received, in order.
async function join(mode) {
  const m = new Manager(server.url, { ...MODES[mode], reconnection: false, timeout: 5000 });
  managers.add(m);
  m.upgraded = false;
  m.engine.on("upgrade", () => (m.upgraded = true));
  const s = m.socket("/");
  s.lines = [];
  s.on("message", (line) => s.lines.push(line));
  await withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", resolve);
      s.once("connect_error", reject);
    }),
    5000,
    "connect",
  );
  return s;
}

function sees(s, line, ms = 5000) {
  return eventually(() => s.lines.includes(line), ms, `${JSON.stringify(line)} (got ${JSON.stringify(s.lines.slice(-5))})`);
}

async function checkTransport(s, mode) {
  if (mode === "polling+upgrade") {
    await eventually(() => s.io.upgraded, 5000, "upgrade to websocket");
    assert.equal(s.io.engine.transport.name, "websocket");
  } else {
    assert.equal(s.io.engine.transport.name, MODES[mode].transports[0]);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const mode of Object.keys(MODES)) {
  describe(`chat over ${mode}`, () => {
    test("connection announcements name the socket ids", T, async () => {
      const a = await join(mode);
      await sees(a, `${a.id} connected`);
      const b = await join(mode);
      await sees(a, `${b.id} connected`);
      await sees(b, `${b.id} connected`);
      assert.ok(!b.lines.includes(`${a.id} connected`), "B saw an announcement from before it joined");
      assert.match(a.id, /^[A-Za-z0-9_-]{20}$/);
      await checkTransport(a, mode);
    });

    test("a message reaches everyone, the sender too, in order", T, async () => {
      const a = await join(mode);
      const b = await join(mode);
      a.emit("message", "hi");
      await sees(a, `${a.id}: hi`);
      await sees(b, `${a.id}: hi`);
      b.emit("message", "héllo ✓ 😀 <b>not html</b>");
      await sees(a, `${b.id}: héllo ✓ 😀 <b>not html</b>`);
      const lines = Array.from({ length: 50 }, (_, i) => `line ${i}`);
      for (const l of lines) a.emit("message", l);
      const want = lines.map((l) => `${a.id}: ${l}`);
      for (const s of [a, b]) {
        await sees(s, want.at(-1));
        assert.deepEqual(s.lines.filter((l) => l.startsWith(`${a.id}: line `)), want);
      }
      await checkTransport(a, mode);
    });

    test("non-string messages are not relayed", T, async () => {
      const a = await join(mode);
      a.emit("message", 42);
      a.emit("message", { text: "obj" });
      a.emit("message", "after");
      await sees(a, `${a.id}: after`);
      assert.deepEqual(a.lines.filter((l) => l.startsWith(`${a.id}:`)), [`${a.id}: after`]);
    });

    test("a leaver is announced to the others", T, async () => {
      const a = await join(mode);
      const b = await join(mode);
      await sees(b, `${b.id} connected`);
      // Namespace disconnect (the client sends DISCONNECT).
      const aid = a.id;
      a.disconnect();
      await sees(b, `${aid} disconnected`);
      assert.ok(!a.lines.includes(`${aid} disconnected`));
      // Connection closed without a DISCONNECT.
      const c = await join(mode);
      const cid = c.id;
      await sees(b, `${cid} connected`);
      c.io.engine.close();
      await sees(b, `${cid} disconnected`);
      assert.ok(!c.lines.includes(`${cid} disconnected`));
      await sleep(100);
      assert.equal(b.lines.filter((l) => l === `${aid} disconnected`).length, 1, "announced once");
      await checkTransport(b, mode);
    });
  });
}

describe("static files", () => {
  test("/ is the chat page", T, async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/html/);
    const body = await res.text();
    assert.match(body, /<form[\s>]/i);
    assert.match(body, /id=["']?input\b/);
    assert.match(body, /id=["']?messages\b/);
    assert.match(body, /socket\.io\/socket\.io(\.min)?\.js/);
  });

  test("/socket.io/socket.io.js is the stock client", T, async () => {
    const res = await fetch(`${server.url}/socket.io/socket.io.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^(application|text)\/javascript/);
    const body = await res.text();
    assert.match(body, /Socket\.IO v4\.\d+\.\d+/);
    assert.ok(body.length > 10000, `${body.length} bytes`);
  });

  for (const url of ["/", "/socket.io/socket.io.js"]) {
    test(`${url}: ETag, and 304 on If-None-Match`, T, async () => {
      const res = await fetch(`${server.url}${url}`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      const etag = res.headers.get("etag");
      assert.ok(etag, "has an ETag");
      const again = await fetch(`${server.url}${url}`, { headers: { "If-None-Match": etag } });
      assert.equal(again.status, 304);
      assert.equal(again.headers.get("content-length"), null, "a 304 claims no length");
      assert.equal((await again.arrayBuffer()).byteLength, 0);
      const head = await fetch(`${server.url}${url}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers.get("content-length")), Number(res.headers.get("content-length")),
        "HEAD gives the GET's length");
      const other = await fetch(`${server.url}${url}`, { headers: { "If-None-Match": '"something-else"' } });
      assert.equal(other.status, 200);
      await other.arrayBuffer();
    });
  }

  test("unknown paths are 404", T, async () => {
    for (const url of ["/nope", "/nope.html", "/socket.io.js", "/favicon.ico.missing"]) {
      const res = await fetch(`${server.url}${url}`);
      assert.equal(res.status, 404, url);
      await res.arrayBuffer();
    }
  });

  test("paths escaping the site are refused", T, async () => {
    for (const target of ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd"]) {
      const text = await new Promise((resolve) => {
        const sock = net.connect(server.port, "127.0.0.1");
        let got = "";
        const timer = setTimeout(() => sock.destroy(), 3000);
        sock.on("data", (d) => (got += d.toString("latin1")));
        sock.on("close", () => {
          clearTimeout(timer);
          resolve(got);
        });
        sock.on("error", () => {});
        sock.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      });
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
      assert.ok(status >= 400 && status < 500, `${target}: status ${status}`);
      assert.doesNotMatch(text, /root:/, target);
    }
  });
});
