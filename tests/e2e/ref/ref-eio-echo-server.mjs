// Reference Engine.IO echo server on the npm engine.io server: what
// tests/e2e/eio-echo-server does in C, so the Engine.IO tests can be checked
// against Node (SIO_REF=1, e.g. eio3.test.mjs).
//
//   node ref-eio-echo-server.mjs --port N [--host H] [--ping-interval MS] [--ping-timeout MS]
//                                [--allow-eio3]
//
// Echoes every message (text or binary) to its sender; "close-me" closes the
// session, "flood:N" sends N numbered messages, as the C server does.
import { attach } from "engine.io";
import { createServer, parseArgs } from "./options.mjs";

const argv = process.argv.slice(2);
const allowEIO3 = argv.includes("--allow-eio3");
const opts = parseArgs(argv.filter((a) => a !== "--allow-eio3"));
const httpServer = createServer(opts);
const engine = attach(httpServer, {
  path: "/engine.io/",
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  maxHttpBufferSize: 1e6,
  cors: { origin: "*" },
  allowEIO3,
});

engine.on("connection", (socket) => {
  socket.on("message", (msg) => {
    if (msg === "close-me") return socket.close();
    if (typeof msg === "string" && msg.startsWith("flood:")) {
      const n = Number(msg.slice(6));
      for (let i = 0; i < n; i++) socket.send(String(i));
      return;
    }
    socket.send(msg);
  });
});

httpServer.listen(opts.port, opts.host, () => {
  const addr = httpServer.address();
  console.error(`listening on ${addr.address}:${addr.port}`);
});
const shutdown = () => {
  engine.close();
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
