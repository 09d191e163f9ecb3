// One node of a test cluster on the npm socket.io server with
// @socket.io/redis-adapter: the reference twin of tests/e2e/sio_cluster_node.c
// (see there for the events), for tests/e2e/cluster.test.mjs.
//
//   node ref-cluster-node.mjs --port N [--host H] --redis redis://HOST:PORT [--name NAME]
import { createServer } from "node:http";
import { Server } from "socket.io";
import { parseArgs, serve, useRedisAdapter } from "./options.mjs";

const opts = parseArgs(process.argv.slice(2));
const httpServer = createServer((req, res) => res.writeHead(404).end());
const io = new Server(httpServer, {});
let NAME = opts.name;

if (opts.redis) await useRedisAdapter(io, opts.redis);

const select = (sel = {}) => {
  let op = io.in(sel.rooms ?? []);
  if (sel.except?.length) op = op.except(sel.except);
  return op;
};
const byKey = (k) => (a, b) => (a[k] < b[k] ? -1 : a[k] > b[k] ? 1 : 0);
const sortAnswers = (list) =>
  [...list].sort(typeof list[0] === "string" ? undefined : byKey("node"));

io.on("connection", (socket) => {
  const auth = socket.handshake.auth ?? {};
  socket.data = { node: NAME, user: auth.user ?? null };
  if (typeof auth.room === "string") socket.join(auth.room);

  socket.on("fetch", async (sel, ack) => {
    try {
      const sockets = await select(sel).fetchSockets();
      const list = sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data, address: s.handshake.address }));
      ack({ err: null, sockets: list.sort(byKey("id")) });
    } catch (err) {
      ack({ err: err.message, sockets: [] });
    }
  });
  socket.on("join", (sel, room, ack) => {
    select(sel).socketsJoin(room);
    ack?.("ok");
  });
  socket.on("leave", (sel, room, ack) => {
    select(sel).socketsLeave(room);
    ack?.("ok");
  });
  socket.on("kick", (sel, close, ack) => {
    ack?.("ok");
    select(sel).disconnectSockets(close);
  });
  socket.on("emit", (sel, payload, ack) => {
    let op = io.to(sel?.rooms ?? []);
    if (sel?.except?.length) op = op.except(sel.except);
    op.emit("news", payload, NAME);
    ack?.("ok");
  });
  socket.on("sse", (payload, ack) => {
    io.serverSideEmit("hello", payload, NAME);
    ack?.("ok");
  });
  socket.on("sse-ack", async (payload, ack) => {
    try {
      const responses = await io.serverSideEmitWithAck("hello-ack", payload);
      ack({ err: null, responses: sortAnswers(responses) });
    } catch (err) {
      ack({ err: err.message, responses: [] });
    }
  });
  socket.on("bc-ack", (sel, ms, ack) => {
    let op = io.to(sel?.rooms ?? []);
    if (sel?.except?.length) op = op.except(sel.except);
    op.timeout(ms || 1000).emit("question", NAME, (err, responses) => {
      ack({ err: err ? err.message : null, responses: sortAnswers(responses ?? []) });
    });
  });
});

io.on("hello", (payload, from) => {
  io.local.emit("heard", { node: NAME, payload, from });
});
io.on("hello-ack", (payload, cb) => {
  cb({ node: NAME, payload });
});

httpServer.on("listening", () => {
  if (!NAME) NAME = `node-${httpServer.address().port}`;
});
serve(httpServer, io, opts);
