// Reference server for tests/e2e/compression.test.mjs (SIO_REF=1): the npm
// engine.io (with --engine: an echo like eio-echo-server, at /engine.io/) or
// socket.io (an echo like sio-echo-server's "message" -> "message-back"),
// with the compression flags the C echo servers take:
//
//   node ref-compression-server.mjs --port N [--engine] [--per-message-deflate]
//        [--deflate-threshold BYTES] [--deflate-server-no-context-takeover]
//        [--http-compression | --no-http-compression]
//        [--http-compression-threshold BYTES] [--max-payload BYTES]
//
// Flags map to engine.io's options: perMessageDeflate ({threshold} or
// false: the default), httpCompression ({threshold}, the default being
// {threshold: 1024}, or false), maxHttpBufferSize. GET /stats answers
// {"rss": BYTES} (tests/bench/deflate_idle.mjs).
import { attach } from "engine.io";
import { Server } from "socket.io";
import { createServer, eioEcho, parseArgs, serve, serveEngine } from "./options.mjs";

const argv = process.argv.slice(2);
const flags = new Set(["--engine", "--per-message-deflate", "--deflate-server-no-context-takeover",
  "--http-compression", "--no-http-compression"]);
const valued = { "--deflate-threshold": 1024, "--http-compression-threshold": 1024, "--max-payload": 1e6 };
const on = new Set();
const values = { ...valued };
const rest = [];
for (let i = 0; i < argv.length; i++) {
  if (flags.has(argv[i])) on.add(argv[i]);
  else if (argv[i] in valued) values[argv[i]] = Number(argv[++i]);
  else rest.push(argv[i]);
}
const opts = parseArgs(rest);
const engineOpts = {
  maxHttpBufferSize: values["--max-payload"],
  perMessageDeflate: on.has("--per-message-deflate")
    ? {
        threshold: values["--deflate-threshold"],
        ...(on.has("--deflate-server-no-context-takeover") ? { serverNoContextTakeover: true } : {}),
      }
    : false,
  httpCompression: on.has("--no-http-compression") ? false : { threshold: values["--http-compression-threshold"] },
  cors: { origin: "*" },
};
const httpServer = createServer(opts);
// GET /stats: the resident memory, as the C echo servers report it.
const stats = (req, res) => {
  if (req.url !== "/stats") return;
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(JSON.stringify({ rss: process.memoryUsage().rss }));
};

if (on.has("--engine")) {
  const engine = attach(httpServer, { path: "/engine.io/", ...engineOpts });
  httpServer.on("request", stats); // after attach: called for every request, answers one
  engine.on("connection", eioEcho);
  serveEngine(httpServer, engine, opts);
} else {
  const io = new Server(httpServer, { ...engineOpts, serveClient: false });
  httpServer.on("request", stats);
  io.on("connection", (socket) => {
    socket.on("message", (...args) => socket.emit("message-back", ...args));
    socket.on("broadcast", (...args) => socket.broadcast.emit("message-back", ...args));
    socket.on("uncompressed", (...args) => socket.compress(false).emit("message-back", ...args));
  });
  serve(httpServer, io, opts);
}
