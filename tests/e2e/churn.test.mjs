// Churn and leak tests: thousands of connect/disconnect cycles over both
// transports (Engine.IO and Socket.IO, polling, WebSocket and upgrade),
// clients that vanish mid-frame, mid-upgrade or mid-request, resets (RST)
// during a long-poll or a POST body, polling clients that simply stop. After
// each group the server must be back to no session and its baseline
// connection count (clean disconnects and dropped connections at once, the
// rest within the ping timeout), alive, and serving a fresh client; on the
// plain build its RSS must be within RSS_SLACK of what it was after a
// warm-up. Under the ASan build (SIO_BUILD contains "asan") LSan reports
// leaks at server exit, which stop() turns into a failure; on the plain
// build, when valgrind is installed, a reduced churn runs under
// valgrind --leak-check=full and must end with no error and nothing
// definitely or indirectly lost.
//
//   node --test tests/e2e/churn.test.mjs                       # build/
//   SIO_BUILD=$PWD/build-asan ASAN_OPTIONS=detect_leaks=1 node --test tests/e2e/churn.test.mjs
//
// GET /stats on the echo servers: {"sessions":N,"connections":N,"rss":BYTES}
// (connections counts the /stats request's own connection).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import http from "node:http";
import crypto from "node:crypto";
import { spawnSync } from "node:child_process";
import { Socket as EioSocket } from "engine.io-client";
import { io as sioConnect } from "socket.io-client";
import { startServer, withTimeout, checkExit } from "./lib/server.mjs";

const ASAN = /asan/i.test(process.env.SIO_BUILD || "");
// The ASan build is slower per request and its allocator quarantine makes
// RSS meaningless: counts are scaled down to a fifth there (5,000 cycles
// become 1,000) to keep `make test` reasonable, and RSS is not checked.
// SIO_CHURN_SCALE=N overrides the factor (e.g. 1 for full counts under ASan).
const SCALE = Number(process.env.SIO_CHURN_SCALE) || (ASAN ? 0.2 : 1);
const n = (count) => Math.max(1, Math.round(count * SCALE));
const CONCURRENCY = 50;
// A correct server stays within ~0.1 MB over 5,000 cycles; 2 MB catches a
// leak of ~400 bytes per cycle that LSan/valgrind would not see (memory
// still reachable, e.g. kept in a list) without flaking on allocator noise.
const RSS_SLACK = 2 * 1024 * 1024;
// Clean disconnects must be cleaned up at once, not by a ping timeout: the
// churn servers ping every 300 ms (so sessions that live across a ping are
// exercised too) but wait 10 s for the pong, longer than this.
const CLEAN_SETTLE_MS = ASAN ? 6000 : 4000;
// Vanished clients may be left to the ping timeout: 300 + 200 ms there.
const VANISH_SETTLE_MS = ASAN ? 5000 : 3000;
const T = (ms) => ({ timeout: ASAN ? ms * 3 : ms });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- helpers: HTTP, /stats, settling ---------------------------------------

// One HTTP request on its own connection (no keep-alive pool that would keep
// connections open on the server and skew its count).
function request(srv, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: srv.port, method, path: urlPath, agent: false },
      (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode, body: data }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.end(body);
  });
}

async function stats(srv) {
  const res = await request(srv, "GET", "/stats");
  assert.equal(res.status, 200, `/stats: ${res.status} ${res.body}`);
  return JSON.parse(res.body);
}

// Waits until the server has no session and no more connections than
// `base.connections` (the count with nothing but /stats open); returns that
// /stats answer, or fails naming the last one seen.
async function settle(srv, base, ms, what) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await stats(srv);
    if (last.sessions === 0 && last.connections <= base.connections) return last;
    if (Date.now() - t0 >= ms) {
      assert.fail(
        `${what}: not back to baseline after ${ms} ms: sessions ${last.sessions} (want 0), ` +
          `connections ${last.connections} (want <= ${base.connections})`,
      );
    }
    await sleep(25);
  }
}

// Runs fn(0..count-1), `concurrency` at a time; the first failure stops the
// workers from starting more and is rethrown with its iteration number.
async function pool(count, concurrency, fn) {
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (!failure && next < count) {
      const i = next++;
      try {
        await fn(i);
      } catch (err) {
        failure ??= Object.assign(new Error(`iteration ${i}: ${err.message}`), { cause: err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure) throw failure;
}

function mb(bytes) {
  return `${(bytes / 1048576).toFixed(2)} MB`;
}

function rssChange(before, after) {
  return `${mb(before)} -> ${mb(after)} (${after >= before ? "+" : ""}${mb(after - before)})`;
}

// ---- one clean cycle with the npm clients ----------------------------------

// Resolves on okEvent, rejects on an error or close first. Marked handled:
// a close after a timed-out wait must not become an unhandled rejection.
function opened(emitter, okEvent, what) {
  const p = new Promise((resolve, reject) => {
    emitter.once(okEvent, resolve);
    emitter.once("error", (err) => reject(new Error(`${what}: error ${err?.message ?? err}`)));
    emitter.once("connect_error", (err) => reject(new Error(`${what}: connect_error ${err?.message ?? err}`)));
    emitter.once("close", (reason) => reject(new Error(`${what}: closed (${reason})`)));
  });
  p.catch(() => {});
  return p;
}

// Engine.IO: open, one echo, close. "upgrade" = polling then WebSocket.
async function eioCycle(srv, mode, i) {
  const opts =
    mode === "upgrade"
      ? { transports: ["polling", "websocket"], upgrade: true }
      : { transports: [mode], upgrade: false };
  const s = new EioSocket(srv.url, { path: "/engine.io/", ...opts });
  try {
    await withTimeout(opened(s, "open", "eio open"), 10000, `eio ${mode} open`);
    if (mode === "upgrade" && s.transport.name !== "websocket") {
      await withTimeout(opened(s, "upgrade", "eio upgrade"), 10000, "eio upgrade");
    }
    const echo = new Promise((resolve) => s.once("message", resolve));
    s.send(`churn ${i}`);
    assert.equal(await withTimeout(echo, 10000, `eio ${mode} echo`), `churn ${i}`);
  } finally {
    s.close();
  }
}

// Socket.IO: connect, emit "message", get "message-back", disconnect.
async function sioCycle(srv, mode, i) {
  const opts = mode === "upgrade" ? {} : { transports: [mode], upgrade: false };
  const s = sioConnect(srv.url, { ...opts, forceNew: true, reconnection: false, timeout: 10000 });
  try {
    await withTimeout(opened(s, "connect", "sio connect"), 10000, `sio ${mode} connect`);
    if (mode === "upgrade" && s.io.engine.transport.name !== "websocket") {
      await withTimeout(opened(s.io.engine, "upgrade", "sio upgrade"), 10000, "sio upgrade");
    }
    const back = new Promise((resolve) => s.once("message-back", (...args) => resolve(args)));
    s.emit("message", "churn", i);
    assert.deepEqual(await withTimeout(back, 10000, `sio ${mode} message-back`), ["churn", i]);
  } finally {
    s.disconnect();
  }
}

// ---- raw TCP clients --------------------------------------------------------

// A TCP connection that buffers what it receives, for clients written by hand.
class Raw {
  constructor(port) {
    this.sock = net.connect(port, "127.0.0.1");
    this.sock.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.waiter = null;
    this.connected = new Promise((resolve, reject) => {
      this.sock.once("connect", resolve);
      this.sock.once("error", reject);
    });
    this.sock.on("error", () => {}); // the server may reset us first
    this.sock.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    this.sock.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  write(data) {
    this.sock.write(data);
  }

  // Resolves with parse(buf) once it is not undefined; parse may consume
  // this.buf. Fails on timeout or if the server closes first.
  read(parse, ms, what) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const check = () => {
          let v;
          try {
            v = parse();
          } catch (err) {
            this.waiter = null;
            return reject(err);
          }
          if (v !== undefined) {
            this.waiter = null;
            resolve(v);
          } else if (this.closed) {
            this.waiter = null;
            reject(new Error(`${what}: connection closed by the server`));
          }
        };
        this.waiter = check;
        check();
      }),
      ms,
      what,
    );
  }

  // The HTTP response head (status line and headers), consumed.
  head(ms = 5000) {
    return this.read(
      () => {
        const end = this.buf.indexOf("\r\n\r\n");
        if (end < 0) return undefined;
        const head = this.buf.subarray(0, end).toString("latin1");
        this.buf = this.buf.subarray(end + 4);
        return head;
      },
      ms,
      "response head",
    );
  }

  // One WebSocket frame from the server (unmasked), consumed.
  frame(ms = 5000) {
    return this.read(
      () => {
        const b = this.buf;
        if (b.length < 2) return undefined;
        let len = b[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (b.length < 4) return undefined;
          len = b.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (b.length < 10) return undefined;
          len = Number(b.readBigUInt64BE(2));
          off = 10;
        }
        if (b[1] & 0x80) off += 4; // a server must not mask, but skip it anyway
        if (b.length < off + len) return undefined;
        const frame = { fin: !!(b[0] & 0x80), opcode: b[0] & 0x0f, payload: b.subarray(off, off + len) };
        this.buf = b.subarray(off + len);
        return frame;
      },
      ms,
      "websocket frame",
    );
  }

  // The next text message, skipping Engine.IO pings ("2") if asked.
  async text(ms = 5000, { skipPings = true } = {}) {
    for (;;) {
      const f = await this.frame(ms);
      if (f.opcode === 8) throw new Error(`websocket closed by the server (${f.payload.toString("hex")})`);
      const s = f.payload.toString("utf8");
      if (skipPings && s === "2") continue;
      return s;
    }
  }

  // Leaves without a word: FIN (destroy) or RST (resetAndDestroy).
  vanish(rst) {
    if (rst) this.sock.resetAndDestroy();
    else this.sock.destroy();
  }
}

// A masked client frame (the client must mask).
function wsFrame(payload, { opcode = 1, fin = true } = {}) {
  const data = Buffer.from(payload);
  const len = data.length;
  let head;
  if (len < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  const mask = crypto.randomBytes(4);
  const body = Buffer.alloc(len);
  for (let k = 0; k < len; k++) body[k] = data[k] ^ mask[k & 3];
  return Buffer.concat([head, mask, body]);
}

function upgradeRequest(srv, path, sid) {
  const query = `EIO=4&transport=websocket${sid ? `&sid=${sid}` : ""}`;
  return (
    `GET ${path}?${query} HTTP/1.1\r\n` +
    `Host: 127.0.0.1:${srv.port}\r\n` +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString("base64")}\r\n` +
    "Sec-WebSocket-Version: 13\r\n\r\n"
  );
}

// A WebSocket opened by hand: the Upgrade, its 101, and (for a new session)
// the open packet. With `sio`, also joins the "/" namespace ("40" → "40{…}").
async function rawWebSocket(srv, path, { sid, sio = false } = {}) {
  const c = new Raw(srv.port);
  await c.connected;
  c.write(upgradeRequest(srv, path, sid));
  const head = await c.head();
  assert.match(head, /^HTTP\/1\.1 101 /, head);
  if (!sid) {
    const open = await c.text();
    assert.match(open, /^0\{"sid":/);
    c.sid = JSON.parse(open.slice(1)).sid;
    if (sio) {
      c.write(wsFrame("40"));
      assert.match(await c.text(), /^40\{"sid":/);
    }
  }
  return c;
}

// A polling session opened with one GET; with `sio`, also joins "/".
async function pollingSession(srv, path, { sio = false } = {}) {
  const res = await request(srv, "GET", `${path}?EIO=4&transport=polling`);
  assert.equal(res.status, 200, res.body);
  assert.equal(res.body[0], "0");
  const { sid } = JSON.parse(res.body.slice(1));
  const url = `${path}?EIO=4&transport=polling&sid=${sid}`;
  if (sio) {
    const post = await request(srv, "POST", url, "40");
    assert.equal(post.status, 200);
    const get = await request(srv, "GET", url);
    assert.match(get.body, /^40\{"sid":/);
  }
  return { sid, url };
}

// ---- the ways a client vanishes --------------------------------------------
// Each takes (srv, path, i, sio): i picks the variant and FIN vs RST.

// A WebSocket client that disappears in the middle of a frame it sends.
async function vanishMidFrame(srv, path, i, sio) {
  const c = await rawWebSocket(srv, path, { sio });
  const message = sio ? `42["message","${"v".repeat(40)}"]` : `4${"v".repeat(40)}`;
  const small = wsFrame(message);
  const variant = (i >> 1) % 7;
  switch (variant) {
    case 0: // one byte of the header
      c.write(small.subarray(0, 1));
      break;
    case 1: // the header and half of the mask
      c.write(small.subarray(0, 4));
      break;
    case 2: // half of the payload of a small frame
      c.write(small.subarray(0, 6 + 20));
      break;
    case 3: // half of a 16-bit-length frame's payload
      c.write(wsFrame("4" + "m".repeat(9999)).subarray(0, 5000));
      break;
    case 4: {
      // Half of a 64-bit-length frame's payload (400 KB of 800 KB). One at a
      // time: 20 such buffers at once raise the allocator's high-water mark
      // (RSS) by up to ~10 MB at random, which would drown the RSS check.
      const done = bigFrames.then(async () => {
        c.write(wsFrame("4" + "l".repeat(800 * 1024)).subarray(0, 400 * 1024));
        await sleep(20);
        c.vanish(i & 1);
        await new Promise((r) => (c.closed ? r() : c.sock.once("close", r)));
      });
      bigFrames = done.catch(() => {});
      return done;
    }
    case 5: // a whole first fragment, then half of the continuation
      c.write(wsFrame("4frag", { fin: false }));
      c.write(wsFrame("ment".repeat(100), { opcode: 0 }).subarray(0, 150));
      break;
    case 6: // a complete message, then half of the next one
      c.write(small);
      c.write(small.subarray(0, 10));
      break;
  }
  await sleep(5); // let the server read the partial frame
  c.vanish(i & 1);
}
let bigFrames = Promise.resolve();

// A polling client that upgrades and disappears half way through it.
async function vanishMidUpgrade(srv, path, i, sio) {
  const { sid, url } = await pollingSession(srv, path, { sio });
  const variant = (i >> 1) % 6;
  const rst = !!(i & 1);
  if (variant === 0) {
    // The upgrade request itself only half written.
    const c = new Raw(srv.port);
    await c.connected;
    const req = upgradeRequest(srv, path, sid);
    c.write(req.slice(0, req.length >> 1));
    await sleep(5);
    return c.vanish(rst);
  }
  const ws = await rawWebSocket(srv, path, { sid });
  if (variant === 1) return ws.vanish(rst); // 101, then nothing
  let poll = null;
  if (variant === 3) {
    // A GET pending while probing: the server ends it with a noop ("6").
    poll = new Raw(srv.port);
    await poll.connected;
    poll.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await sleep(10);
  }
  ws.write(wsFrame("2probe"));
  assert.equal(await ws.text(), "3probe");
  if (poll) {
    const head = await poll.head(2000);
    assert.match(head, /^HTTP\/1\.1 200 /);
    poll.vanish(rst);
  }
  if (variant === 4) ws.write(wsFrame("5").subarray(0, 3)); // "5" half sent
  if (variant === 5) {
    // Probe answered, then an invalid packet instead of "5" (the server
    // aborts the upgrade), then gone.
    ws.write(wsFrame("4not an upgrade"));
    await sleep(5);
  }
  ws.vanish(rst);
}

// A long-poll GET or a POST whose connection is reset (RST) mid-way.
async function resetDuringPoll(srv, path, i, sio) {
  const { url } = await pollingSession(srv, path, { sio });
  const variant = (i >> 1) % 4;
  const c = new Raw(srv.port);
  await c.connected;
  const body = sio ? `42["message","${"p".repeat(100)}"]` : `4${"p".repeat(100)}`;
  const post =
    `POST ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  let other = null;
  switch (variant) {
    case 0: // a pending long-poll GET
      c.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      break;
    case 1: // a POST with half its body
      c.write(post + body.slice(0, body.length >> 1));
      break;
    case 2: // a POST with half its headers
      c.write(post.slice(0, post.length >> 1));
      break;
    case 3: // a pending GET, and a POST half sent on another connection
      c.write(`GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      other = new Raw(srv.port);
      await other.connected;
      other.write(post + body.slice(0, 10));
      break;
  }
  await sleep(30); // let the server take the request in
  // FIN instead of RST on every other run of the two-connection variant.
  c.vanish(variant !== 3 || !(i & 1));
  other?.vanish(true);
}

// Clients that just stop: a polling session that never polls again (after
// 0, 1 or 2 exchanges), and a WebSocket that never answers a ping; only the
// ping timeout can reap them. Returns once the session is established.
async function stopResponding(srv, path, i, sio) {
  const variant = i % 4;
  if (variant === 3) {
    const c = await rawWebSocket(srv, path, { sio });
    stopResponding.silent.push(c); // keeps its TCP connection open, closed by the server
    return;
  }
  const { url } = await pollingSession(srv, path, { sio });
  if (variant >= 1) {
    const msg = sio ? `42["message","stop ${i}"]` : `4stop ${i}`;
    assert.equal((await request(srv, "POST", url, msg)).status, 200);
  }
  if (variant === 2) {
    // Reads what was queued (the echo and/or a ping), never answers a ping.
    const get = await request(srv, "GET", url);
    assert.equal(get.status, 200);
  }
}
stopResponding.silent = [];

const VANISHERS = {
  "vanish mid-frame (WebSocket)": vanishMidFrame,
  "vanish mid-upgrade (probe, half request, half '5')": vanishMidUpgrade,
  "reset during a long-poll GET or a half-sent POST": resetDuringPoll,
  "stop polling / never answer a ping": stopResponding,
};

// After stopResponding: every silent WebSocket must be closed by the server.
async function silentWebSocketsClosed(ms) {
  const silent = stopResponding.silent.splice(0);
  await withTimeout(
    Promise.all(silent.map((c) => (c.closed ? null : new Promise((r) => c.sock.once("close", r))))),
    ms,
    `${silent.length} silent WebSockets closed by the server`,
  );
}

// A fresh client of every transport still works.
async function freshClients(srv, kind) {
  for (const mode of ["websocket", "polling", "upgrade"]) {
    if (kind === "sio") await sioCycle(srv, mode, 0);
    else await eioCycle(srv, mode, 0);
  }
}

// ---- churn with the npm clients ---------------------------------------------

// Warm-up, RSS, `count` cycles, back to baseline, RSS again.
async function churn(srv, base, cycle, mode, count, { warmup, concurrency = CONCURRENCY, checkRss, settleMs }) {
  await pool(warmup, concurrency, (i) => cycle(srv, mode, i));
  const before = await settle(srv, base, settleMs, `after ${warmup} warm-up ${mode} cycles`);
  const t0 = Date.now();
  await pool(count, concurrency, (i) => cycle(srv, mode, i));
  const elapsed = Date.now() - t0;
  const afterChurn = await settle(srv, base, settleMs, `after ${count} ${mode} cycles`);
  const grew = afterChurn.rss - before.rss;
  console.log(`${count} ${mode} cycles in ${elapsed} ms; RSS ${rssChange(before.rss, afterChurn.rss)}`);
  if (checkRss) {
    assert.ok(grew < RSS_SLACK, `RSS grew by ${mb(grew)} over ${count} ${mode} cycles (limit ${mb(RSS_SLACK)})`);
  }
}

// A connection that drops mid-frame, or under a pending GET or a POST whose
// headers were read, is a transport error: the session ends at once, as with
// the reference server (a POST cut inside its headers never reached the
// session, and an aborted upgrade leaves the polling session alive: those two
// are left to the ping timeout). Checked on the churn servers, whose 10 s
// ping timeout would be too late.
async function droppedAtOnce(srv, base, kind, count) {
  const path = kind === "sio" ? "/socket.io/" : "/engine.io/";
  const sio = kind === "sio";
  await pool(count, 20, async (i) => {
    await vanishMidFrame(srv, path, i, sio);
    let j = i % 6; // resetDuringPoll variants 0, 1 and 3 (i >> 1), FIN and RST
    if (j >= 4) j += 2;
    await resetDuringPoll(srv, path, j + 8 * Math.floor(i / 6), sio);
  });
  await settle(srv, base, CLEAN_SETTLE_MS, `after ${count} × (vanish mid-frame, reset during a GET or a POST body)`);
}

const CHURN_ARGS = ["--ping-interval", "300", "--ping-timeout", "10000"];
const VANISH_ARGS = ["--ping-interval", "300", "--ping-timeout", "200"];

describe("churn: Engine.IO connect/disconnect cycles (eio-echo-server)", () => {
  let srv, base;
  before(async () => {
    srv = await startServer("tests/e2e/eio-echo-server", CHURN_ARGS);
    base = await stats(srv);
  });
  after(async () => {
    await srv.stop();
  });

  for (const [mode, count] of [["websocket", n(5000)], ["polling", n(5000)], ["upgrade", n(500)]]) {
    const label = mode === "upgrade" ? "polling upgraded to WebSocket" : mode;
    test(`${count} cycles over ${label}: sessions, connections and RSS back`, T(60000), async () => {
      await churn(srv, base, eioCycle, mode, count, {
        warmup: mode === "upgrade" ? n(100) : n(500),
        checkRss: !ASAN,
        settleMs: CLEAN_SETTLE_MS,
      });
      await freshClients(srv, "eio");
      await settle(srv, base, CLEAN_SETTLE_MS, "after fresh clients");
    });
  }

  test("dropped connections end their sessions at once, without a ping timeout", T(30000), async () => {
    await droppedAtOnce(srv, base, "eio", n(300));
  });
});

describe("churn: Socket.IO connect/emit/disconnect cycles (sio-echo-server)", () => {
  let srv, base;
  before(async () => {
    srv = await startServer("tests/e2e/sio-echo-server", CHURN_ARGS);
    base = await stats(srv);
  });
  after(async () => {
    await srv.stop();
  });

  for (const [mode, count] of [["websocket", n(500)], ["polling", n(500)], ["upgrade", n(200)]]) {
    const label = mode === "upgrade" ? "polling upgraded to WebSocket" : mode;
    test(`${count} cycles over ${label}: sessions, connections and RSS back`, T(60000), async () => {
      await churn(srv, base, sioCycle, mode, count, {
        warmup: n(100),
        concurrency: 25,
        checkRss: !ASAN,
        settleMs: CLEAN_SETTLE_MS,
      });
      await freshClients(srv, "sio");
      await settle(srv, base, CLEAN_SETTLE_MS, "after fresh clients");
    });
  }

  test("dropped connections end their sessions at once, without a ping timeout", T(30000), async () => {
    await droppedAtOnce(srv, base, "sio", n(100));
  });
});

// ---- vanishing clients --------------------------------------------------------

// `count` clients vanish in the way fn does (after `warmup` of them, when
// RSS is to be checked), then: back to baseline, RSS (plain build), a fresh
// client of each transport works, back to baseline again.
async function vanishGroup(srv, base, kind, name, fn, count, opts = {}) {
  const { concurrency = 20, settleMs = VANISH_SETTLE_MS, warmup = 0, checkRss = false } = opts;
  const path = kind === "sio" ? "/socket.io/" : "/engine.io/";
  const round = async (k, what) => {
    await pool(k, concurrency, (i) => fn(srv, path, i, kind === "sio"));
    if (fn === stopResponding) {
      // They are all still there until the ping timeout.
      const s = await stats(srv);
      assert.ok(s.sessions > 0, `the silent clients' sessions exist (${s.sessions})`);
      await silentWebSocketsClosed(settleMs);
    }
    return settle(srv, base, settleMs, `after ${k} × ${name}${what}`);
  };
  const before = warmup ? await round(warmup, " (warm-up)") : null;
  const afterAll = await round(count, "");
  if (before) {
    const grew = afterAll.rss - before.rss;
    console.log(`${count} × ${name}: RSS ${rssChange(before.rss, afterAll.rss)}`);
    if (checkRss) {
      assert.ok(grew < RSS_SLACK, `RSS grew by ${mb(grew)} over ${count} × ${name} (limit ${mb(RSS_SLACK)})`);
    }
  }
  await freshClients(srv, kind);
  await settle(srv, base, settleMs, `after ${name}, then fresh clients`);
}

for (const [kind, program, count] of [
  ["eio", "tests/e2e/eio-echo-server", n(300)],
  ["sio", "tests/e2e/sio-echo-server", n(100)],
]) {
  describe(`clients that vanish (${program.split("/").pop()})`, () => {
    let srv, base;
    before(async () => {
      srv = await startServer(program, VANISH_ARGS);
      base = await stats(srv);
    });
    after(async () => {
      await srv.stop();
    });

    for (const [name, fn] of Object.entries(VANISHERS)) {
      test(`${count} × ${name}: reaped, server alive, fresh clients work`, T(60000), async () => {
        await vanishGroup(srv, base, kind, name, fn, count, { warmup: Math.ceil(count / 2), checkRss: !ASAN });
      });
    }
  });
}

// ---- valgrind -----------------------------------------------------------------

const VALGRIND = [
  "valgrind",
  "--leak-check=full",
  "--error-exitcode=99",
  "--errors-for-leak-kinds=definite,indirect",
  "--num-callers=30",
];

function valgrindSkipReason() {
  if (ASAN) return "valgrind does not mix with the ASan build (it runs on the plain build)";
  const probe = spawnSync("valgrind", ["--version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) return "valgrind is not installed";
  return false;
}

const valgrindSkip = valgrindSkipReason();
if (valgrindSkip) console.log(`valgrind group skipped: ${valgrindSkip}`);

for (const [kind, program] of [
  ["eio", "tests/e2e/eio-echo-server"],
  ["sio", "tests/e2e/sio-echo-server"],
]) {
  describe(`under valgrind: ${program.split("/").pop()}`, { skip: valgrindSkip }, () => {
    let srv, base;
    // Valgrind slows the server 20-50x: a longer ping timeout, so that live
    // clients are not timed out, and generous settling times.
    const SETTLE = 20000;
    before(async () => {
      srv = await startServer(program, ["--ping-interval", "500", "--ping-timeout", "1000"], { wrapper: VALGRIND });
      base = await stats(srv);
    });

    const cycle = kind === "sio" ? sioCycle : eioCycle;
    for (const [mode, count] of [["websocket", 200], ["polling", 200], ["upgrade", 20]]) {
      test(`${count} cycles over ${mode}`, { timeout: 180000 }, async () => {
        await pool(count, 10, (i) => cycle(srv, mode, i));
        await settle(srv, base, SETTLE, `after ${count} ${mode} cycles`);
      });
    }

    test("a few clients that vanish in each way", { timeout: 180000 }, async () => {
      for (const [name, fn] of Object.entries(VANISHERS)) {
        // Enough iterations to hit every variant with both FIN and RST.
        await vanishGroup(srv, base, kind, name, fn, 24, { concurrency: 4, settleMs: SETTLE });
      }
    });

    // stop() runs the checks: exit 0, "ERROR SUMMARY: 0 errors", nothing
    // definitely or indirectly lost.
    test("exits with no valgrind error and no definite/indirect leak", { timeout: 120000 }, async () => {
      const s = srv;
      srv = null;
      await s.stop();
      assert.match(s.stderr, /ERROR SUMMARY: 0 errors/);
    });

    after(async () => {
      if (srv) await srv.stop(); // an earlier test failed: still stop it
    });
  });
}

// ---- the exit checks themselves ----------------------------------------------

test("checkExit fails on valgrind errors, lost blocks and sanitizer reports", () => {
  const check = (code, signal, stderr, valgrind = true) => checkExit({ program: "p", code, signal, stderr, valgrind });
  const vg = (...lines) => lines.map((l) => `==1== ${l}\n`).join("");
  const clean = vg("All heap blocks were freed -- no leaks are possible", "ERROR SUMMARY: 0 errors from 0 contexts");
  check(0, null, clean);
  const leak = vg(
    "LEAK SUMMARY:",
    "   definitely lost: 48 bytes in 1 blocks",
    "   indirectly lost: 0 bytes in 0 blocks",
    "ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)",
  );
  assert.throws(() => check(0, null, leak), /valgrind errors/);
  assert.throws(() => check(99, null, leak), /exited with 99/);
  const lost = vg("   indirectly lost: 1,024 bytes in 2 blocks", "ERROR SUMMARY: 0 errors from 0 contexts");
  assert.throws(() => check(0, null, lost), /indirectly lost 1,024/);
  assert.throws(() => check(0, null, "no summary"), /no valgrind ERROR SUMMARY/);
  assert.throws(() => check(0, null, "==1==ERROR: LeakSanitizer: detected memory leaks\n", false), /LeakSanitizer/);
  assert.throws(() => check(null, "SIGSEGV", "", false), /killed by SIGSEGV/);
});
