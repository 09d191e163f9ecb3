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

  test("/metrics: the Redis adapter's counters follow the traffic", { timeout: 20000 }, async () => {
    const families = ["published", "publish_failed", "publish_lost", "received", "deliveries", "invalid",
      "reconnects", "requests_sent", "requests_failed", "requests_received", "responses_sent",
      "responses_received"].map((f) => [`sio_redis_${f}_total`, "counter"]).concat([["sio_redis_connected", "gauge"]]);
    const scrape = async (n) => {
      const text = await (await fetch(`${n.url}/metrics`)).text();
      const m = new Map([...text.matchAll(/^(sio_redis_\w+) (\S+)$/gm)].map(([, k, v]) => [k, Number(v)]));
      return { text, get: (k) => (assert.ok(m.has(k), `no ${k}`), m.get(k)) };
    };
    for (const n of [nodes.sio1, nodes.sio2]) {
      const { text, get } = await scrape(n);
      for (const [f, type] of families) {
        assert.match(text, new RegExp(`^# TYPE ${f} ${type}$`, "m"), `TYPE ${f}`);
        get(f);
      }
      assert.equal(get("sio_redis_connected"), 1);
    }
    // A sender on sio1, a receiver on sio2: every line crosses Redis.
    const tx = io(nodes.sio1.url, { transports: ["websocket"], reconnection: false, forceNew: true });
    const rx = io(nodes.sio2.url, { transports: ["websocket"], reconnection: false, forceNew: true });
    rx.lines = [];
    rx.on("message", (l) => rx.lines.push(l));
    try {
      await Promise.all([tx, rx].map((c) => withTimeout(once(c, "connect"), 5000, "connect")));
      await sleep(300);
      const [b1, b2] = [await scrape(nodes.sio1), await scrape(nodes.sio2)];
      const N = 5;
      for (let i = 0; i < N; i++) tx.emit("message", `metrics #${i}`);
      await eventually(() => rx.lines.filter((l) => l.startsWith(`${tx.id}: metrics #`)).length === N, 5000,
        `${N} lines on sio2`);
      const [a1, a2] = [await scrape(nodes.sio1), await scrape(nodes.sio2)];
      const d = (a, b, f) => a.get(f) - b.get(f);
      assert.equal(d(a1, b1, "sio_redis_published_total"), N, "sio1 published each line");
      assert.equal(d(a2, b2, "sio_redis_received_total"), N, "sio2 received each line");
      assert.ok(d(a2, b2, "sio_redis_deliveries_total") >= N, "and delivered it");
      for (const [a, b] of [[a1, b1], [a2, b2]])
        for (const f of ["sio_redis_publish_failed_total", "sio_redis_publish_lost_total", "sio_redis_invalid_total"])
          assert.equal(d(a, b, f), 0, f);
    } finally {
      tx.close();
      rx.close();
    }
  });

  // sio-chat's Redis counters (/metrics).
  async function redisCounters(node) {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    const get = (name) => Number((new RegExp(`^${name} (\\d+)$`, "m").exec(text) ?? [])[1]);
    return { published: get("sio_redis_published_total"), failed: get("sio_redis_publish_failed_total"),
      lost: get("sio_redis_publish_lost_total"), connected: get("sio_redis_connected") };
  }

  test("a Redis restart mid-traffic: what was lost is counted, nothing is lost after the reconnection",
    { timeout: 60000 }, async (t) => {
      const cs = await clients();
      let stop = false;
      try {
        for (const c of cs) c.lines.length = 0;
        // Every client says a numbered line every 40 ms throughout, and each
        // line's send time decides its phase.
        const sent = new Map();
        const loops = cs.map(async (c) => {
          const times = [];
          sent.set(c, times);
          for (let i = 0; !stop; i++) {
            times.push(Date.now());
            c.emit("message", `${c.label} ~${i}`);
            await sleep(40);
          }
        });
        await sleep(1000);
        const before = { sio1: await redisCounters(nodes.sio1), sio2: await redisCounters(nodes.sio2) };
        const tKill = Date.now();
        await redis.stop();
        await eventually(() => /lost Redis/.test(nodes.sio1.stderr) && /lost Redis/.test(nodes.sio2.stderr), 5000,
          "sio nodes notice the loss");
        await sleep(1000);
        redis = await startRedis(redisPort);
        await eventually(() => (nodes.sio1.stderr.match(/adapter \w+ connected/g) ?? []).length >= 2 &&
          (nodes.sio2.stderr.match(/adapter \w+ connected/g) ?? []).length >= 2, 15000, "sio nodes back on Redis");
        await sleep(2000); // node-redis' own reconnection and resubscription
        const tRecovered = Date.now();
        await sleep(1500);
        stop = true;
        await Promise.all(loops);
        await sleep(1000);

        // Per phase, the lines that did not reach a client (from any sender).
        const missing = { before: 0, outage: 0, after: 0 };
        const outageLines = { total: 0 };
        for (const r of cs) {
          const got = new Set(r.lines);
          for (const [s, times] of sent) {
            times.forEach((at, i) => {
              const phase = at < tKill - 200 ? "before" : at >= tRecovered ? "after" : "outage";
              if (phase === "outage") outageLines.total++;
              if (!got.has(`${s.id}: ${s.label} ~${i}`)) missing[phase]++;
            });
          }
        }
        const after = { sio1: await redisCounters(nodes.sio1), sio2: await redisCounters(nodes.sio2) };
        const notPublished = Object.keys(after).map((k) => `${k}: ${after[k].failed - before[k].failed} not published, ` +
          `${after[k].lost - before[k].lost} lost in flight`).join("; ");
        t.diagnostic(`deliveries missing: ${missing.before} before the outage, ${missing.outage} of ` +
          `${outageLines.total} during it, ${missing.after} after the reconnection`);
        t.diagnostic(`sio nodes' own count of broadcasts that did not reach Redis: ${notPublished}`);
        assert.equal(missing.before, 0, "lines lost before the outage");
        assert.equal(missing.after, 0, "lines lost after the reconnection");
        assert.ok(missing.outage > 0, "the outage cut cross-node delivery (else this test shows nothing)");
        // Every broadcast a sio node could not publish was counted.
        for (const k of ["sio1", "sio2"]) {
          assert.ok(after[k].failed + after[k].lost > before[k].failed + before[k].lost, `${k} counted its losses`);
          assert.equal(after[k].connected, 1, `${k} connected again`);
        }
      } finally {
        stop = true;
        for (const c of cs) c.close();
      }
    });
});

// "<id>: <label> #<i>" → i
function mine_index(line) {
  const m = / #(\d+)$/.exec(line);
  return m ? Number(m[1]) : -1;
}
