// socket.io server API parity, seen from the npm socket.io-client 4:
// onAny, onAnyOutgoing, per-socket packet middlewares (socket.use),
// volatile emits and dynamic namespaces (io.of(regex)), on the hooks of
// sio-echo-server (see its header) and, with SIO_REF=1, of the Node
// reference ref/ref-echo-server.mjs, which must give the same results.
// (fetchSockets, socketsJoin/Leave, disconnectSockets, socket.data,
// serverSideEmit and broadcasts with acks: tests/e2e/cluster.test.mjs.)
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, withTimeout, eventually, once } from "./lib/server.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-echo-server.mjs" : "tests/e2e/sio-echo-server";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("server API parity", () => {
  let server;
  before(async () => {
    server = await startServer(PROGRAM);
  });
  after(() => server.stop());

  async function connect(nsp = "/", opts = {}) {
    const c = io(server.url + nsp, { forceNew: true, reconnection: false, ...opts });
    await withTimeout(once(c, "connect"), 5000, `connect ${nsp}`);
    return c;
  }

  for (const transports of [["websocket"], ["polling"]]) {
    test(`onAny hears every event, packet middlewares drop some, onAnyOutgoing sees what is sent (${transports[0]})`,
      { timeout: 10000 }, async () => {
        const c = await connect("/", { transports });
        try {
          let bad = 0;
          c.on("should-not-happen", () => bad++);
          const back = [];
          c.on("message-back", (x) => back.push(x));
          c.emit("message", "one");
          c.emit("forbidden", "x");
          c.emit("message", "two");
          await eventually(() => back.length === 2, 3000, "two echoes");
          await sleep(100);
          assert.deepEqual(back, ["one", "two"]);
          assert.equal(bad, 0, "the middleware dropped the forbidden event");
          // onAny runs before the middlewares: it heard the forbidden event too.
          assert.deepEqual(await c.emitWithAck("any-log"), ["message", "forbidden", "message", "any-log"]);
          assert.deepEqual(await c.emitWithAck("outgoing-log"), ["auth", "message-back", "message-back"]);
        } finally {
          c.close();
        }
      });
  }

  test("volatile emits are dropped while the transport is busy, never queued", { timeout: 10000 }, async () => {
    for (const transports of [["websocket"], ["polling"]]) {
      const c = await connect("/", { transports });
      try {
        const got = [];
        c.on("v", (i) => got.push(i));
        await sleep(100); // nothing queued for the client any more (sio holds writes ~3 ms after CONNECT)
        c.emit("volatile-burst", 50);
        await sleep(500);
        assert.ok(got.length >= 1 && got.length < 50, `${transports[0]}: ${got.length} of 50 arrived`);
        assert.deepEqual(got, [...got].sort((a, b) => a - b), "in order");
      } finally {
        c.close();
      }
    }
  });

  test("dynamic namespaces: any /dyn-<n> is admitted, others are not, and the parent broadcasts to all",
    { timeout: 10000 }, async () => {
      const a = await connect("/dyn-1");
      const b = await connect("/dyn-22");
      const bad = io(server.url + "/dyn-x", { forceNew: true, reconnection: false });
      try {
        const [err] = await withTimeout(once(bad, "connect_error"), 5000, "connect_error");
        assert.equal(err.message, "Invalid namespace");
        // Children behave as the parent's handlers say.
        a.emit("message", "hi");
        const [echo] = await withTimeout(once(a, "message-back"), 3000, "echo in /dyn-1");
        assert.equal(echo, "hi");
        // io.of(pattern).emit reaches every child.
        const news = [once(a, "dyn-news"), once(b, "dyn-news")];
        b.emit("dyn-emit");
        for (const [nsp] of await withTimeout(Promise.all(news), 3000, "dyn-news")) assert.equal(nsp, "/dyn-22");
      } finally {
        a.close();
        b.close();
        bad.close();
      }
    });
});

// The cluster operations on one node without an adapter (the in-memory
// case): sio-cluster-node / ref-cluster-node.mjs without --redis.
describe("cluster operations on a single node", () => {
  const NODE = process.env.SIO_REF ? "ref/ref-cluster-node.mjs" : "tests/e2e/sio-cluster-node";
  let server;
  const cs = [];
  before(async () => {
    server = await startServer(NODE, ["--name", "solo"]);
    for (let i = 0; i < 4; i++) {
      const c = io(server.url, { forceNew: true, reconnection: false, transports: [i % 2 ? "polling" : "websocket"],
        auth: { user: `u${i}`, room: i < 2 ? "low" : "high" } });
      c.on("question", (from, cb) => cb(`u${i}`));
      cs.push(c);
    }
    await Promise.all(cs.map((c) => withTimeout(once(c, "connect"), 5000, "connect")));
  });
  after(async () => {
    for (const c of cs) c.close();
    await server.stop();
  });
  const ask = (ev, ...args) => withTimeout(cs[0].emitWithAck(ev, ...args), 5000, ev);

  test("fetchSockets, socketsJoin, socketsLeave", { timeout: 10000 }, async () => {
    const all = await ask("fetch", {});
    assert.equal(all.err, null);
    assert.deepEqual(all.sockets.map((s) => s.data.user).sort(), ["u0", "u1", "u2", "u3"]);
    const high = await ask("fetch", { rooms: ["high"] });
    assert.deepEqual(high.sockets.map((s) => s.data.user).sort(), ["u2", "u3"]);
    await ask("join", { rooms: ["low"], except: [cs[0].id] }, "picked");
    assert.deepEqual((await ask("fetch", { rooms: ["picked"] })).sockets.map((s) => s.data.user), ["u1"]);
    await ask("leave", {}, "picked");
    assert.deepEqual((await ask("fetch", { rooms: ["picked"] })).sockets, []);
  });

  test("a broadcast with acks collects every answer; the timeout gives what came", { timeout: 10000 }, async () => {
    const res = await ask("bc-ack", {}, 2000);
    assert.equal(res.err, null);
    assert.deepEqual(res.responses, ["u0", "u1", "u2", "u3"]);
    cs[3].off("question");
    cs[3].on("question", () => {}); // never answers
    const late = await ask("bc-ack", { rooms: ["high"] }, 300);
    assert.equal(late.err, "operation has timed out");
    assert.deepEqual(late.responses, ["u2"]);
  });

  // (socket.io's in-memory adapter logs "this adapter does not support the
  // serverSideEmit() functionality" and its promise never settles.)
  test("serverSideEmitWithAck with no other server: no answers", {
    timeout: 10000, skip: process.env.SIO_REF && "the reference never answers" }, async () => {
    const res = await ask("sse-ack", { q: 1 });
    assert.deepEqual(res, { err: null, responses: [] });
  });

  test("disconnectSockets", { timeout: 10000 }, async () => {
    const gone = once(cs[2], "disconnect");
    await ask("kick", { rooms: ["high"], except: [cs[3].id] }, false);
    const [reason] = await withTimeout(gone, 3000, "disconnect");
    assert.equal(reason, "io server disconnect");
    await sleep(100);
    assert.deepEqual(cs.map((c) => c.connected), [true, true, false, true]);
  });
});
