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
import { createServer, eioEcho, parseArgs, serveEngine } from "./options.mjs";

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

engine.on("connection", eioEcho);
serveEngine(httpServer, engine, opts);
