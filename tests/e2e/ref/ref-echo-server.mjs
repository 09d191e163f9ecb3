// Reference echo server on the npm socket.io server: what
// tests/e2e/sio-echo-server does in C, so the e2e tests can be checked
// against Node (SIO_REF=1) and benchmarks have a baseline.
//
//   node ref-echo-server.mjs --port N [--host H] [--ping-interval MS] [--ping-timeout MS]
//                            [--connect-timeout MS] [--tls-cert FILE --tls-key FILE]
//                            [--allow-eio3] (no value: allowEIO3, Socket.IO v2 clients)
//
// Namespaces "/", "/custom" and "/refuse" (whose middleware refuses unless
// auth.token === "ok"), all with the same handlers:
//   on connect                     emit "auth" with the handshake auth object
//   "message" ...args              emit "message-back" ...args
//   "message-with-ack" ...args     ack with ...args
//   "ping-me" [timeoutMs]          emit "ping-back" "please ack" asking for an
//                                  ack; when acked with X emit "pinged" X, or
//                                  "ping-timeout" once timeoutMs has passed
//   "join" [room]                  join the room (and ack, if asked)
//   "to-room" [room, ...args]      io.to(room).emit("message-back", ...args)
//   "broadcast" ...args            socket.broadcast.emit("message-back", ...args)
//   "disconnect-me" [close]        socket.disconnect(close)
//   "disconnect-reason" [id]       ack with the reason the server app got when
//                                  socket id disconnected (null if unknown)
import { Server } from "socket.io";
import { createServer, parseArgs, serve } from "./options.mjs";

const argv = process.argv.slice(2);
const allowEIO3 = argv.includes("--allow-eio3");
const opts = parseArgs(argv.filter((a) => a !== "--allow-eio3"));
const httpServer = createServer(opts);
const io = new Server(httpServer, {
  allowEIO3,
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  connectTimeout: opts.connectTimeout,
  ...(opts.recovery ? { connectionStateRecovery: { maxDisconnectionDuration: opts.recovery } } : {}),
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
  serveClient: false,
});

const DEFAULT_PING_TIMEOUT_MS = 5000;
const reasons = new Map(); // socket id → disconnect reason, the last 64

function onDisconnect(socket, reason) {
  reasons.set(socket.id, reason);
  if (reasons.size > 64) reasons.delete(reasons.keys().next().value);
}

function onConnection(socket) {
  const nsp = socket.nsp;
  socket.emit("auth", socket.handshake.auth);

  socket.on("message", (...args) => socket.emit("message-back", ...args));

  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });

  socket.on("ping-me", (timeoutMs) => {
    const ms = Number.isInteger(timeoutMs) && timeoutMs >= 0 ? timeoutMs : DEFAULT_PING_TIMEOUT_MS;
    socket.timeout(ms).emit("ping-back", "please ack", (err, ...answer) => {
      if (err) socket.emit("ping-timeout");
      else socket.emit("pinged", ...answer);
    });
  });

  socket.on("join", (room, ack) => {
    if (typeof room === "string") socket.join(room);
    if (typeof ack === "function") ack();
  });

  socket.on("to-room", (room, ...args) => {
    if (typeof room === "string") nsp.to(room).emit("message-back", ...args);
  });

  socket.on("broadcast", (...args) => socket.broadcast.emit("message-back", ...args));

  socket.on("disconnect-me", (close) => socket.disconnect(close === true));

  socket.on("disconnect-reason", (id, ack) => {
    if (typeof ack === "function") ack(reasons.get(id) ?? null);
  });

  socket.on("disconnect", (reason) => onDisconnect(socket, reason));
}

// The server API hooks of "/" (see sio_echo_server.c).
io.of("/").use((socket, next) => {
  socket.logs = { any: [], out: [] };
  socket.onAny((event) => socket.logs.any.push(event));
  socket.onAnyOutgoing((event) => socket.logs.out.push(event));
  socket.use(([event], next2) => (event === "forbidden" ? next2(new Error("forbidden")) : next2()));
  socket.on("error", () => {}); // the refused packet's error stays here
  socket.on("any-log", (ack) => ack(socket.logs.any));
  socket.on("outgoing-log", (ack) => ack(socket.logs.out));
  socket.on("forbidden", () => socket.emit("should-not-happen"));
  socket.on("volatile-burst", (n) => {
    for (let i = 0; i < n && i < 10000; i++) socket.volatile.emit("v", i);
  });
  next();
});
io.of("/").on("connection", onConnection);
const dyn = io.of(/^\/dyn-\d+$/);
dyn.on("connection", (socket) => {
  onConnection(socket);
  socket.on("dyn-emit", () => dyn.emit("dyn-news", socket.nsp.name));
});
io.of("/custom").on("connection", onConnection);

const refuse = io.of("/refuse");
refuse.use((socket, next) => {
  if (socket.handshake.auth?.token === "ok") return next();
  const err = new Error("Not authorized");
  err.data = { reason: "test" };
  next(err);
});
refuse.on("connection", onConnection);

serve(httpServer, io, opts);
