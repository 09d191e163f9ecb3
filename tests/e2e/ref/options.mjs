// Command-line options shared by the reference servers, spelled as the C
// programs spell them: --port N [--host H] [--ping-interval MS]
// [--ping-timeout MS] [--connect-timeout MS] [--tls-cert FILE --tls-key FILE].
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";

export function parseArgs(argv, defaults = {}) {
  const opts = {
    host: "127.0.0.1",
    port: 3000,
    pingInterval: 25000,
    pingTimeout: 20000,
    connectTimeout: 45000,
    ...defaults,
  };
  const names = {
    "--host": ["host", String],
    "--port": ["port", Number],
    "--ping-interval": ["pingInterval", Number],
    "--ping-timeout": ["pingTimeout", Number],
    "--connect-timeout": ["connectTimeout", Number],
    "--tls-cert": ["tlsCert", String],
    "--tls-key": ["tlsKey", String],
    "--redis": ["redis", String],
    "--name": ["name", String],
    "--recovery": ["recovery", Number],
  };
  for (let i = 0; i < argv.length; i++) {
    const spec = names[argv[i]];
    if (!spec || i + 1 >= argv.length) {
      console.error(`usage: ${process.argv[1]} ${Object.keys(names).map((n) => `[${n} V]`).join(" ")}`);
      process.exit(2);
    }
    const [key, conv] = spec;
    opts[key] = conv(argv[++i]);
    if (conv === Number && !(Number.isInteger(opts[key]) && opts[key] >= 0)) {
      console.error(`${argv[i - 1]}: not a non-negative integer: ${argv[i]}`);
      process.exit(2);
    }
  }
  if (!opts.tlsCert !== !opts.tlsKey) {
    console.error("--tls-cert and --tls-key go together");
    process.exit(2);
  }
  return opts;
}

// An http server, or with --tls-cert/--tls-key an https one (Node's
// defaults otherwise: TLS 1.2 and 1.3, session tickets on), as the C servers
// do with the same options.
export function createServer(opts, handler) {
  if (!opts.tlsCert) return createHttpServer(handler);
  return createHttpsServer({ cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }, handler);
}

// Listens, prints "listening on HOST:PORT" to stderr (what the tests and
// benchmarks wait for), and exits 0 once closed on SIGTERM or SIGINT.
export function serve(httpServer, io, { host, port }) {
  httpServer.listen(port, host, () => {
    const addr = httpServer.address();
    console.error(`listening on ${addr.address}:${addr.port}`);
  });
  const shutdown = () => {
    // io.close() closes every Engine.IO session (answering held polls) and
    // the HTTP server; drop idle keep-alive connections so it completes.
    io.close(() => process.exit(0));
    httpServer.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

// The reference scale-out: io shares broadcasts and cluster requests with
// the other nodes (sio or Node.js) through the Redis at `url`
// (@socket.io/redis-adapter over node-redis 4).
export async function useRedisAdapter(io, url) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on("error", (err) => console.error(`redis: ${err.message}`));
  sub.on("error", (err) => console.error(`redis: ${err.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  // A Redis restart rejects the adapter's in-flight commands (node-redis 4
  // reconnects by itself): log them instead of dying.
  process.on("unhandledRejection", (err) => console.error(`redis: unhandled: ${err?.message ?? err}`));
  io.adapter(createAdapter(pub, sub));
}

// An Engine.IO echo (what eio-echo-server does): every message back;
// "close-me" closes the session, "flood:N" sends "0".."N-1".
export function eioEcho(socket) {
  socket.on("message", (msg) => {
    if (msg === "close-me") return socket.close();
    if (typeof msg === "string" && msg.startsWith("flood:")) {
      for (let i = 0, n = Number(msg.slice(6)); i < n; i++) socket.send(String(i));
      return;
    }
    socket.send(msg);
  });
}

// serve() for a bare Engine.IO server.
export function serveEngine(httpServer, engine, { host, port }) {
  httpServer.listen(port, host, () => {
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
}
