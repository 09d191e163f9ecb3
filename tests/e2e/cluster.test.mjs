// Cluster operations across sio and Node.js nodes sharing one Redis:
// fetchSockets, socketsJoin/Leave, disconnectSockets, rooms and except in
// broadcasts, serverSideEmit (with and without acks) and broadcasts with
// acks, each made from a sio node and from the Node.js node (socket.io with
// @socket.io/redis-adapter). Nodes: two sio-cluster-node (A, B) and one
// ref-cluster-node.mjs (N); see tests/e2e/sio_cluster_node.c for the events
// the clients use to drive them.
import { test, describe, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, withTimeout, eventually, once } from "./lib/server.mjs";
import { haveRedis, freePort, startRedis } from "./lib/redis.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skip = haveRedis() ? false : "redis-server is not installed";

describe("cluster operations across sio and Node.js nodes", { skip }, () => {
  let redis, nodes;
  before(async () => {
    redis = await startRedis(await freePort());
    const url = `redis://127.0.0.1:${redis.port}`;
    nodes = {
      A: await startServer("tests/e2e/sio-cluster-node", ["--redis", url, "--name", "A"]),
      B: await startServer("tests/e2e/sio-cluster-node", ["--redis", url, "--name", "B"]),
      N: await startServer("ref/ref-cluster-node.mjs", ["--redis", url, "--name", "N"]),
    };
    await eventually(() => ["A", "B"].every((k) => /adapter \w+ connected/.test(nodes[k].stderr)), 5000,
      "sio nodes connected to Redis");
  });

  after(async () => {
    for (const n of Object.values(nodes ?? {})) await n.stop();
    await redis?.stop();
  });

  // Two clients per node (websocket, polling), each in room "r-<node>" and
  // room "even" or "odd"; every client answers "question" with its label
  // and records "news" and "heard".
  let cs;
  beforeEach(async () => {
    cs = [];
    let i = 0;
    for (const name of ["A", "B", "N"]) {
      for (const transports of [["websocket"], ["polling"]]) {
        const label = `${name}/${transports[0]}`;
        const parity = i++ % 2 ? "odd" : "even";
        const c = io(nodes[name].url, { transports, reconnection: false, forceNew: true,
          auth: { user: label, room: `r-${name}` } });
        c.label = label;
        c.node = name;
        c.parity = parity;
        c.news = [];
        c.heard = [];
        c.on("news", (payload, from) => c.news.push({ payload, from }));
        c.on("heard", (h) => c.heard.push(h));
        c.on("question", (from, cb) => cb(label));
        cs.push(c);
      }
    }
    await Promise.all(cs.map((c) => withTimeout(once(c, "connect"), 5000, `${c.label} connect`)));
    // The parity rooms, joined through the cluster from one node.
    await Promise.all(["even", "odd"].map((p) => ask(cs[0], "join",
      { rooms: cs.filter((c) => c.parity === p).map((c) => c.id) }, p)));
    await eventually(async () => (await fetchFrom("A", { rooms: ["odd"] })).sockets.length === 3, 5000,
      "parity rooms joined everywhere");
  });
  afterEach(() => {
    for (const c of cs) c.close();
  });

  const ask = (c, ev, ...args) => withTimeout(c.emitWithAck(ev, ...args), 8000, `${c.label} ${ev}`);
  const client = (node) => cs.find((c) => c.node === node && c.connected);
  const fetchFrom = (node, sel = {}) => ask(client(node), "fetch", sel);

  for (const from of ["A", "N"]) {
    test(`fetchSockets from ${from} lists the sockets of every node`, { timeout: 20000 }, async () => {
      const res = await fetchFrom(from);
      assert.equal(res.err, null);
      assert.deepEqual(res.sockets.map((s) => s.id), cs.map((c) => c.id).sort());
      for (const s of res.sockets) {
        const c = cs.find((x) => x.id === s.id);
        assert.deepEqual(s.data, { node: c.node, user: c.label }, `data of ${c.label}`);
        assert.equal(s.rooms[0], c.id, `${c.label}: own room first`);
        assert.deepEqual(s.rooms.slice(1).sort(), [`r-${c.node}`, c.parity].sort(), `rooms of ${c.label}`);
        assert.match(s.address, /127\.0\.0\.1/);
      }
      // Selections: rooms (union) and except.
      const some = await fetchFrom(from, { rooms: ["r-B", "r-N"], except: ["odd"] });
      assert.deepEqual(some.sockets.map((s) => s.id),
        cs.filter((c) => c.node !== "A" && c.parity !== "odd").map((c) => c.id).sort());
    });
  }

  test("socketsJoin and socketsLeave reach sockets on the other nodes, both ways", { timeout: 20000 }, async () => {
    // From sio A: the Node.js node's sockets join "x".
    assert.equal(await ask(client("A"), "join", { rooms: ["r-N"] }, "x"), "ok");
    await eventually(async () => (await fetchFrom("N", { rooms: ["x"] })).sockets.length === 2, 5000,
      "N's sockets in x");
    // From N: every sio socket joins "y" except A's odd one.
    assert.equal(await ask(client("N"), "join", { rooms: ["r-A", "r-B"], except: ["odd"] }, "y"), "ok");
    const want = cs.filter((c) => c.node !== "N" && c.parity === "even").map((c) => c.id).sort();
    await eventually(async () => {
      const got = (await fetchFrom("B", { rooms: ["y"] })).sockets.map((s) => s.id);
      return JSON.stringify(got) === JSON.stringify(want);
    }, 5000, "the sio sockets of y");
    // A broadcast to "y" from N reaches exactly them.
    await ask(client("N"), "emit", { rooms: ["y"] }, "to-y");
    await sleep(300);
    for (const c of cs) assert.equal(c.news.filter((n) => n.payload === "to-y").length, want.includes(c.id) ? 1 : 0, c.label);
    // Leave, from the other side each time.
    await ask(client("N"), "leave", { rooms: ["x"] }, "x");
    await ask(client("A"), "leave", {}, "y");
    await eventually(async () => (await fetchFrom("A", { rooms: ["x", "y"] })).sockets.length === 0, 5000,
      "x and y empty");
  });

  test("rooms and except are honoured across nodes, each client reached once", { timeout: 20000 }, async () => {
    for (const from of ["A", "B", "N"]) {
      const tag = `from-${from}`;
      // A union of rooms overlapping on purpose (r-A and even), minus odd and r-N.
      await ask(client(from), "emit", { rooms: ["r-A", "even", "r-B"], except: ["odd", "r-N"] }, tag);
    }
    const want = (c) => c.node !== "N" && c.parity !== "odd";
    await eventually(() => cs.filter(want).every((c) => c.news.length >= 3), 5000, "news delivered");
    await sleep(300);
    for (const c of cs) {
      const got = c.news.map((n) => n.payload).sort();
      assert.deepEqual(got, want(c) ? ["from-A", "from-B", "from-N"] : [], c.label);
    }
    // A socket id is a room on every node: to(id) from elsewhere.
    const target = cs.find((c) => c.node === "N");
    await ask(client("B"), "emit", { rooms: [target.id] }, "just-you");
    await eventually(() => target.news.some((n) => n.payload === "just-you"), 5000, "to(id) across nodes");
  });

  for (const from of ["A", "N"]) {
    test(`disconnectSockets from ${from} disconnects sockets on the other nodes`, { timeout: 20000 }, async () => {
      const victims = cs.filter((c) => c.node !== from && c.parity === "odd");
      const reasons = victims.map((c) => withTimeout(once(c, "disconnect"), 5000, `${c.label} disconnected`));
      assert.equal(await ask(client(from), "kick", { rooms: ["odd"], except: [`r-${from}`] }, false), "ok");
      for (const [reason] of await Promise.all(reasons)) assert.equal(reason, "io server disconnect");
      await sleep(200);
      for (const c of cs) assert.equal(c.connected, !victims.includes(c), c.label);
    });
  }

  for (const from of ["A", "N"]) {
    test(`serverSideEmit from ${from} reaches the other nodes only`, { timeout: 20000 }, async () => {
      await ask(client(from), "sse", { n: 1, from });
      const others = ["A", "B", "N"].filter((n) => n !== from);
      await eventually(() => cs.filter((c) => others.includes(c.node)).every((c) => c.heard.length >= 1), 5000,
        "heard on the other nodes");
      await sleep(300);
      for (const c of cs) {
        const want = others.includes(c.node) ? [{ node: c.node, payload: { n: 1, from }, from }] : [];
        assert.deepEqual(c.heard, want, c.label);
      }
    });

    test(`serverSideEmitWithAck from ${from} gathers one answer per other node`, { timeout: 20000 }, async () => {
      const res = await ask(client(from), "sse-ack", { q: from });
      assert.equal(res.err, null);
      const others = ["A", "B", "N"].filter((n) => n !== from);
      assert.deepEqual(res.responses, others.map((node) => ({ node, payload: { q: from } })));
    });

    test(`a broadcast with acks from ${from} collects every client's answer on every node`, { timeout: 20000 }, async () => {
      const all = await ask(client(from), "bc-ack", {}, 3000);
      assert.equal(all.err, null);
      assert.deepEqual(all.responses, cs.map((c) => c.label).sort());
      const some = await ask(client(from), "bc-ack", { rooms: ["r-B", "r-N"], except: ["even"] }, 3000);
      assert.equal(some.err, null);
      assert.deepEqual(some.responses, cs.filter((c) => c.node !== "A" && c.parity === "odd").map((c) => c.label).sort());
    });
  }

  test("a broadcast with acks times out with the answers received", { timeout: 20000 }, async () => {
    // One client on B stops answering.
    const mute = cs.find((c) => c.node === "B");
    mute.off("question");
    mute.on("question", () => {});
    for (const from of ["A", "N"]) {
      const res = await ask(client(from), "bc-ack", {}, 1000);
      assert.equal(res.err, "operation has timed out", `from ${from}`);
      assert.deepEqual(res.responses, cs.filter((c) => c !== mute).map((c) => c.label).sort(), `from ${from}`);
    }
  });
});
