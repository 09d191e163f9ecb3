// Reference chat server on the npm socket.io server: what server/sio-chat
// does in C, for the chat e2e and browser tests (SIO_REF=1) and as a
// benchmark baseline.
//
//   node ref-chat-server.mjs --port N [--host H] [--ping-interval MS] [--ping-timeout MS]
//                            [--tls-cert FILE --tls-key FILE]   (https/wss)
//                            [--redis redis://HOST:PORT]  (@socket.io/redis-adapter)
//
// Serves the files of client-demo/ (index.html at "/") and the stock client
// at "/socket.io/socket.io.js" (socket.io's serveClient); anything else is 404.
//   on connection       io.emit("message", "<id> connected")
//   "message" text      io.emit("message", "<id>: <text>")  (strings only)
//   on disconnect       socket.broadcast.emit("message", "<id> disconnected")
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Server } from "socket.io";
import { createServer, parseArgs, serve, useRedisAdapter } from "./options.mjs";

const opts = parseArgs(process.argv.slice(2));
const ROOT = path.resolve(import.meta.dirname, "../../../client-demo");
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

// GET/HEAD of a file under ROOT, read on every request so edits show
// without a restart; an ETag from the content, 304 on If-None-Match.
async function serveStatic(req, res, pathname) {
  let rel;
  try {
    rel = decodeURIComponent(pathname);
  } catch {
    return notFound(res);
  }
  if (rel.endsWith("/")) rel += "index.html";
  // No dot-files, "." or ".." segments, backslashes or NULs.
  if (/[\\\0]/.test(rel) || rel.split("/").some((seg) => seg.startsWith("."))) return notFound(res);
  const file = path.join(ROOT, rel);
  if (!file.startsWith(ROOT + path.sep)) return notFound(res);
  let body;
  try {
    body = await readFile(file);
  } catch {
    return notFound(res);
  }
  const etag = `"${createHash("sha1").update(body).digest("base64url")}"`;
  const headers = {
    "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream",
    ETag: etag,
    "Cache-Control": "no-cache",
  };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers).end();
  } else {
    res.writeHead(200, { ...headers, "Content-Length": body.length });
    res.end(req.method === "HEAD" ? undefined : body);
  }
}

function notFound(res) {
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("Not Found\n");
}

// socket.io answers its own path (Engine.IO and the client bundle) before
// this handler runs; every other request lands here.
const httpServer = createServer(opts, (req, res) => {
  const pathname = req.url.split("?")[0];
  if ((req.method === "GET" || req.method === "HEAD") && pathname.startsWith("/")) {
    serveStatic(req, res, pathname).catch(() => res.destroy());
  } else {
    notFound(res);
  }
});

const io = new Server(httpServer, {
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  connectTimeout: opts.connectTimeout,
  serveClient: true,
});

if (opts.redis) await useRedisAdapter(io, opts.redis);

io.on("connection", (socket) => {
  io.emit("message", `${socket.id} connected`);
  socket.on("message", (text) => {
    if (typeof text === "string") io.emit("message", `${socket.id}: ${text}`);
  });
  socket.on("disconnect", () => {
    socket.broadcast.emit("message", `${socket.id} disconnected`);
  });
});

serve(httpServer, io, opts);
