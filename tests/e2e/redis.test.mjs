// Scale-out over Redis: two sio-chat nodes (--redis) and one Node.js
// socket.io node with @socket.io/redis-adapter (tests/e2e/ref) on one
// redis-server. Every io.emit from every node reaches the clients of every
// node exactly once (websocket and polling clients); a socket.broadcast
// leaves its sender out everywhere; a Redis restart is survived.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, withTimeout, eventually, once } from "./lib/server.mjs";
import { haveRedis, freePort, startRedis } from "./lib/redis.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const skip = haveRedis() ? false : "redis-server is not installed";

describe("Redis adapter: sio and Node.js nodes in one cluster", { skip }, () => {
  let redis, redisPort, nodes;
  before(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    const url = `redis://127.0.0.1:${redisPort}`;
    nodes = {
      sio1: await startServer("server/sio-chat", ["--host", "127.0.0.1", "--redis", url]),
      sio2: await startServer("server/sio-chat", ["--host", "127.0.0.1", "--redis", url]),
      node: await startServer("ref/ref-chat-server.mjs", ["--redis", url]),
    };
    await eventually(() => /adapter \w+ connected/.test(nodes.sio1.stderr) && /adapter \w+ connected/.test(nodes.sio2.stderr),
      5000, "sio nodes connected to Redis");
  });
  after(async () => {
    for (const n of Object.values(nodes ?? {})) await n.stop();
    await redis?.stop();
  });

  // One client per node and transport, each recording chat lines.
  async function clients() {
    const list = [];
    for (const [name, n] of Object.entries(nodes)) {
      for (const transports of [["websocket"], ["polling"]]) {
        const c = io(n.url, { transports, reconnection: false, forceNew: true });
        c.lines = [];
        c.on("message", (m) => c.lines.push(m));
        c.label = `${name}/${transports[0]}`;
        list.push(c);
      }
    }
    await Promise.all(list.map((c) => withTimeout(once(c, "connect"), 5000, `${c.label} connect`)));
    // Connection announcements are io.emit too; let them settle.
    await sleep(300);
    return list;
  }

  test("every io.emit from every node reaches every client exactly once", { timeout: 30000 }, async () => {
    const cs = await clients();
    try {
      for (const c of cs) c.lines.length = 0;
      const N = 20;
      for (let i = 0; i < N; i++) for (const c of cs) c.emit("message", `${c.label} #${i}`);
      const want = N * cs.length;
      await eventually(() => cs.every((c) => c.lines.length >= want), 10000,
        `all ${want} lines on every client (${cs.map((c) => `${c.label}:${c.lines.length}`).join(" ")})`);
      await sleep(200);
      for (const c of cs) {
        assert.equal(c.lines.length, want, `${c.label}: ${c.lines.length} lines`);
        assert.equal(new Set(c.lines).size, want, `${c.label}: duplicates`);
        // In order per sender.
        for (const s of cs) {
          const mine = c.lines.filter((l) => l.endsWith(`${s.label} #${mine_index(l)}`) && l.includes(`: ${s.label} #`));
          assert.deepEqual(mine.map(mine_index), [...Array(N).keys()], `${c.label}: order of ${s.label}`);
        }
      }
    } finally {
      for (const c of cs) c.close();
    }
  });

  test("socket.broadcast (the leave announcement) skips the leaver on every node", { timeout: 30000 }, async () => {
    const cs = await clients();
    try {
      for (const c of cs) c.lines.length = 0;
      const leaver = cs.find((c) => c.label === "sio1/websocket");
      const id = leaver.id;
      leaver.close();
      const others = cs.filter((c) => c !== leaver);
      await eventually(() => others.every((c) => c.lines.includes(`${id} disconnected`)), 5000,
        "every other client hears the leave");
      await sleep(200);
      for (const c of others) assert.equal(c.lines.filter((l) => l === `${id} disconnected`).length, 1, c.label);
    } finally {
      for (const c of cs) c.close();
    }
  });

  test("a Redis restart: nodes reconnect and broadcasts flow again", { timeout: 40000 }, async () => {
    await redis.stop();
    await eventually(() => /lost Redis/.test(nodes.sio1.stderr), 5000, "sio node notices the loss");
    redis = await startRedis(redisPort);
    // sio nodes log their recovery; the Node node's client reconnects on its own.
    await eventually(() => (nodes.sio1.stderr.match(/adapter \w+ connected/g) ?? []).length >= 2 &&
      (nodes.sio2.stderr.match(/adapter \w+ connected/g) ?? []).length >= 2, 15000, "sio nodes back on Redis");
    await sleep(1500); // node-redis' own reconnection
    const cs = await clients();
    try {
      for (const c of cs) c.lines.length = 0;
      for (const c of cs) c.emit("message", `${c.label} after restart`);
      await eventually(() => cs.every((c) => c.lines.length >= cs.length), 10000,
        `every line after the restart (${cs.map((c) => `${c.label}:${c.lines.length}`).join(" ")})`);
      await sleep(200);
      for (const c of cs) assert.equal(c.lines.length, cs.length, c.label);
    } finally {
      for (const c of cs) c.close();
    }
  });
});

// "<id>: <label> #<i>" → i
function mine_index(line) {
  const m = / #(\d+)$/.exec(line);
  return m ? Number(m[1]) : -1;
}
