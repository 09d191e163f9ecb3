// End-to-end: the npm socket.io-client (v4, Socket.IO v5 over Engine.IO v4)
// against sio-echo-server, over WebSocket only, polling only, and polling
// with upgrade to WebSocket.
//
//   node --test tests/e2e/sio.test.mjs             # build/tests/e2e/sio-echo-server
//   SIO_REF=1 node --test tests/e2e/sio.test.mjs   # the Node reference, ref/ref-echo-server.mjs
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Manager } from "socket.io-client";
import { Socket as EioSocket } from "engine.io-client";
import { startServer, withTimeout, eventually } from "./lib/server.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-echo-server.mjs" : "tests/e2e/sio-echo-server";
const CONNECT_TIMEOUT = 1000;
const T = { timeout: 30000 }; // per test: a failure must never hang the run

let server;
before(async () => {
  server = await startServer(PROGRAM, [
    "--ping-interval", "500",
    "--ping-timeout", "1000",
    "--connect-timeout", String(CONNECT_TIMEOUT),
  ]);
});
after(async () => {
  await server.stop();
});

const MODES = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  "polling+upgrade": {}, // the client's default: polling first, then upgrade
};

// Every manager a test opens is closed after it, pass or fail.
const managers = new Set();
afterEach(() => {
  for (const m of managers) {
    for (const s of Object.values(m.nsps)) s.disconnect();
    m.disconnect();
  }
  managers.clear();
});

// One Engine.IO connection (sockets of several namespaces can share it).
function open(mode, opts = {}) {
  const m = new Manager(server.url, { ...MODES[mode], reconnection: false, timeout: 5000, ...opts });
  managers.add(m);
  m.upgraded = false;
  m.engine.on("upgrade", () => (m.upgraded = true));
  return m;
}

// A socket on namespace `nsp` that records every event it receives
// (s.got(event) → list of argument arrays).
function socketOn(m, nsp = "/", auth) {
  const s = m.socket(nsp, auth ? { auth } : {});
  s.events = {};
  s.onAny((event, ...args) => (s.events[event] ??= []).push(args));
  s.got = (event) => s.events[event] ?? [];
  return s;
}

function connected(s) {
  if (s.connected) return Promise.resolve(s);
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", (err) => reject(new Error(`connect_error on ${s.nsp}: ${err.message}`)));
    }),
    5000,
    `connect to ${s.nsp}`,
  );
}

function connectError(s) {
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => reject(new Error(`unexpectedly connected to ${s.nsp}`)));
      s.once("connect_error", resolve);
    }),
    5000,
    `connect_error on ${s.nsp}`,
  );
}

async function connect(mode, nsp = "/", auth) {
  return connected(socketOn(open(mode), nsp, auth));
}

// Waits for the n-th `event` and returns the first n argument lists.
async function nth(s, event, n = 1, ms = 5000) {
  await eventually(() => s.got(event).length >= n, ms, `${n} "${event}" event(s) on ${s.nsp} (got ${s.got(event).length})`);
  return s.got(event).slice(0, n);
}

// Round trip on `s` so everything the server sent it before is in.
async function sync(s, tag = "sync") {
  const before = s.got("message-back").length;
  s.emit("message", tag);
  await nth(s, "message-back", before + 1);
  assert.deepEqual(s.got("message-back").at(-1), [tag]);
  s.events["message-back"].pop();
}

// Checks the connection ran (or ended up) on the transport the mode asks for.
async function checkTransport(s, mode) {
  const m = s.io;
  if (mode === "polling+upgrade") {
    await eventually(() => m.upgraded, 5000, "upgrade to websocket");
    assert.equal(m.engine.transport.name, "websocket");
  } else {
    assert.equal(m.upgraded, false);
    assert.equal(m.engine.transport.name, MODES[mode].transports[0]);
  }
}

// Received binary arrives as Buffer or ArrayBuffer depending on transport:
// compare everything as Buffers.
function norm(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const mode of Object.keys(MODES)) {
  describe(`socket.io-client over ${mode}`, () => {
    test("auth: the handshake auth object is echoed on connect", T, async () => {
      const s = await connect(mode, "/", { token: "123" });
      assert.deepEqual(await nth(s, "auth"), [[{ token: "123" }]]);
      const t = await connect(mode, "/");
      assert.deepEqual(await nth(t, "auth"), [[{}]]);
      const nested = { token: "abc", user: { id: 7, roles: ["a", "b"] }, ok: true, n: null };
      const u = await connect(mode, "/", nested);
      assert.deepEqual(await nth(u, "auth"), [[nested]]);
      await checkTransport(s, mode);
    });

    test("mixed-type arguments round trip", T, async () => {
      const s = await connect(mode);
      const args = [
        1, 0, -1, 42, 3.14159, -2.5e-7, 1e21, 0.1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER,
        "", "plain", "héllo wörld ✓ 😀 日本語 Ελληνικά עברית",
        { a: 1, b: "two", c: { d: [1, "x", null, true, { e: [] }] }, f: {} },
        [], [[[]]], [1, [2, [3, [4]]]],
        null, true, false,
        { "key with spaces": "v", "ключ": "значение", "😀": "emoji key" },
      ];
      s.emit("message", ...args);
      s.emit("message");
      s.emit("message", null);
      s.emit("message", "only");
      const got = await nth(s, "message-back", 4);
      assert.deepEqual(got, [args, [], [null], ["only"]]);
      await checkTransport(s, mode);
    });

    test("numbers beyond int64 and at the edges of double", T, async () => {
      const s = await connect(mode);
      // JSON.stringify writes 1e19 and 2**64 as bare integer literals.
      const args = [1e19, 2 ** 64, -(2 ** 70), 2 ** 63, -(2 ** 63), 5e-324, 1.7976931348623157e308, 123456789.123456789, -0];
      s.emit("message", ...args);
      const [got] = await nth(s, "message-back");
      assert.deepEqual(got, [1e19, 2 ** 64, -(2 ** 70), 2 ** 63, -(2 ** 63), 5e-324, 1.7976931348623157e308, 123456789.123456789, 0]);
      await checkTransport(s, mode);
    });

    test("strings with escapes, NUL and separators round trip", T, async () => {
      const s = await connect(mode);
      const args = ['quote " backslash \\ slash /', "\b\f\n\r\t", "nul\u0000inside", "\u2028\u2029", "\u001e record separator", "\u007f\u0080\u07ff\u0800\uffff", "𝄞"];
      s.emit("message", ...args);
      assert.deepEqual(await nth(s, "message-back"), [args]);
      await checkTransport(s, mode);
    });

    test("binary at the top level and nested, several attachments", T, async () => {
      const s = await connect(mode);
      const a = Buffer.from([0, 1, 2, 3, 254, 255]);
      const b = randomBytes(100 * 1024);
      const c = Buffer.from("text in a buffer ✓");
      s.emit("message", a); // top level, single attachment
      s.emit("message", "before", { bin: b, list: [c, 1, { deeper: [a] }] }, [a, "x", b], c, "after");
      const ten = Array.from({ length: 10 }, (_, i) => Buffer.alloc(i + 1, i));
      s.emit("message", ...ten); // at the parser's attachment limit
      const got = await nth(s, "message-back", 3, 10000);
      assert.deepEqual(norm(got[0]), [a]);
      assert.deepEqual(norm(got[1]), ["before", { bin: b, list: [c, 1, { deeper: [a] }] }, [a, "x", b], c, "after"]);
      assert.deepEqual(norm(got[2]), ten);
      // Binary in an ack both ways (BINARY_EVENT in, BINARY_ACK out).
      const acked = await s.timeout(5000).emitWithAck("message-with-ack", { nested: [b] });
      assert.deepEqual(norm(acked), { nested: [b] });
      await checkTransport(s, mode);
    });

    test("empty binary attachment", T, async () => {
      const s = await connect(mode);
      s.emit("message", Buffer.alloc(0), { e: Buffer.alloc(0) });
      const [got] = await nth(s, "message-back");
      assert.deepEqual(norm(got), [Buffer.alloc(0), { e: Buffer.alloc(0) }]);
      await checkTransport(s, mode);
    });

    test("acks client→server return the arguments", T, async () => {
      const s = await connect(mode);
      assert.deepEqual(await s.timeout(5000).emitWithAck("message-with-ack", { x: [1, "y"] }), { x: [1, "y"] });
      // All the arguments, and the empty ack.
      const all = (...args) =>
        withTimeout(new Promise((resolve, reject) => {
          s.timeout(5000).emit("message-with-ack", ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
        }), 6000, "ack");
      assert.deepEqual(await all(1, "two", [3], { four: 4 }, null, true), [1, "two", [3], { four: 4 }, null, true]);
      assert.deepEqual(await all(), []);
      // Many in flight at once: each answer reaches its own callback.
      const many = await Promise.all(Array.from({ length: 100 }, (_, i) => s.timeout(10000).emitWithAck("message-with-ack", i)));
      assert.deepEqual(many, Array.from({ length: 100 }, (_, i) => i));
      await checkTransport(s, mode);
    });

    test("acks server→client: answered, and timed out", T, async () => {
      const s = await connect(mode);
      const bin = Buffer.from([9, 8, 7]);
      s.once("ping-back", (...args) => {
        const ack = args.pop();
        assert.equal(typeof ack, "function", "ping-back asks for an ack");
        ack("pong", { n: 1 }, [true, null], bin);
      });
      s.emit("ping-me", 5000);
      const [pinged] = await nth(s, "pinged");
      assert.deepEqual(norm(pinged), ["pong", { n: 1 }, [true, null], bin]);
      assert.equal(s.got("ping-timeout").length, 0);

      // Not answered in time: the server gives up; a late answer is ignored.
      let late;
      s.once("ping-back", (...args) => (late = args.pop()));
      const t0 = Date.now();
      s.emit("ping-me", 300);
      await nth(s, "ping-timeout", 1, 5000);
      assert.ok(Date.now() - t0 >= 250, `ping-timeout after ${Date.now() - t0} ms`);
      assert.equal(typeof late, "function");
      late("too late");
      await sleep(300);
      await sync(s);
      assert.equal(s.got("pinged").length, 1, "a late ack must not reach the server's callback");
      assert.equal(s.connected, true);
      await checkTransport(s, mode);
    });

    test("custom namespace multiplexed with / on one Engine.IO connection", T, async () => {
      const m = open(mode);
      const root = socketOn(m, "/", { token: "root" });
      const custom = socketOn(m, "/custom", { token: "custom" });
      await Promise.all([connected(root), connected(custom)]);
      assert.equal(root.io.engine, custom.io.engine, "one Engine.IO connection");
      assert.deepEqual(await nth(root, "auth"), [[{ token: "root" }]]);
      assert.deepEqual(await nth(custom, "auth"), [[{ token: "custom" }]]);
      assert.notEqual(root.id, custom.id);
      root.emit("message", "to root");
      custom.emit("message", "to custom");
      assert.deepEqual(await nth(root, "message-back"), [["to root"]]);
      assert.deepEqual(await nth(custom, "message-back"), [["to custom"]]);
      assert.deepEqual(await custom.timeout(5000).emitWithAck("message-with-ack", "c"), "c");
      // Leaving one namespace keeps the other (and the connection) alive.
      root.disconnect();
      await sleep(100);
      custom.emit("message", "still here");
      assert.deepEqual(await nth(custom, "message-back", 2), [["to custom"], ["still here"]]);
      assert.equal(root.got("message-back").length, 1);
      await checkTransport(custom, mode);
    });

    test("unknown namespace: connect_error 'Invalid namespace', connection stays usable", T, async () => {
      const m = open(mode);
      const root = await connected(socketOn(m, "/"));
      const err = await connectError(socketOn(m, "/nope"));
      assert.equal(err.message, "Invalid namespace");
      root.emit("message", "after refusal");
      assert.deepEqual(await nth(root, "message-back"), [["after refusal"]]);
      assert.equal(root.connected, true);
      // Alone on its connection too.
      const err2 = await connectError(socketOn(open(mode), "/does/not/exist"));
      assert.equal(err2.message, "Invalid namespace");
      await checkTransport(root, mode);
    });

    test("middleware refusal carries message and data; the token is accepted", T, async () => {
      const refused = socketOn(open(mode), "/refuse", { token: "bad" });
      const err = await connectError(refused);
      assert.equal(err.message, "Not authorized");
      assert.deepEqual(err.data, { reason: "test" });
      const anon = await connectError(socketOn(open(mode), "/refuse"));
      assert.equal(anon.message, "Not authorized");
      assert.deepEqual(anon.data, { reason: "test" });
      // Retry the refused socket with the right token.
      refused.auth = { token: "ok" };
      refused.connect();
      await connected(refused);
      assert.deepEqual(await nth(refused, "auth"), [[{ token: "ok" }]]);
      refused.emit("message", "in");
      assert.deepEqual(await nth(refused, "message-back"), [["in"]]);
      // And straight away, next to "/" on one connection.
      const m = open(mode);
      const [root, ok] = await Promise.all([connected(socketOn(m, "/")), connected(socketOn(m, "/refuse", { token: "ok" }))]);
      assert.equal(root.io.engine, ok.io.engine);
      assert.deepEqual(await nth(ok, "auth"), [[{ token: "ok" }]]);
      await checkTransport(ok, mode);
    });

    test("400 KB payloads round trip (string, binary, in an ack)", T, async () => {
      const s = await connect(mode);
      const unit = "0123456789abcdefghijklmnopqrstuvwxyzé✓😀";
      const big = unit.repeat(Math.ceil((400 * 1024) / unit.length)).slice(0, 400 * 1024);
      s.emit("message", big);
      const [[got]] = await nth(s, "message-back", 1, 15000);
      assert.equal(got.length, big.length);
      assert.ok(got === big, "400 KB string intact");
      const bin = randomBytes(400 * 1024);
      s.emit("message", bin);
      const [, [gotBin]] = await nth(s, "message-back", 2, 15000);
      assert.ok(norm(gotBin).equals(bin), "400 KB binary intact");
      const acked = await s.timeout(15000).emitWithAck("message-with-ack", big);
      assert.ok(acked === big, "400 KB string intact through an ack");
      await checkTransport(s, mode);
    });

    test("2000 events arrive in order", T, async () => {
      const s = await connect(mode);
      // Sent at once, so with upgrade they cross the polling→WebSocket switch.
      for (let i = 0; i < 2000; i++) s.emit("message", i, `m${i}`);
      const got = await nth(s, "message-back", 2000, 25000);
      assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => [i, `m${i}`]));
      await checkTransport(s, mode);
    });

    test("rooms: join, to-room reaches members only, broadcast skips the sender", T, async () => {
      const a = await connect(mode);
      const b = await connect(mode);
      const c = await connect(mode);
      const d = await connected(socketOn(c.io, "/custom")); // shares c's connection, other namespace
      a.emit("join", "r1");
      b.emit("join", "r1");
      await Promise.all([sync(a), sync(b)]);

      // io.to(room) from a member: every member, the sender included.
      a.emit("to-room", "r1", "hello", { n: 1 });
      assert.deepEqual(await nth(a, "message-back"), [["hello", { n: 1 }]]);
      assert.deepEqual(await nth(b, "message-back"), [["hello", { n: 1 }]]);
      // From a non-member: the members only.
      c.emit("to-room", "r1", "from-c");
      assert.deepEqual((await nth(a, "message-back", 2))[1], ["from-c"]);
      assert.deepEqual((await nth(b, "message-back", 2))[1], ["from-c"]);
      await sync(c);
      assert.deepEqual(c.got("message-back"), [], "non-member got a room message");
      // A room nobody joined reaches nobody.
      c.emit("to-room", "empty-room", "void");

      // socket.broadcast: everyone in the namespace but the sender.
      a.emit("broadcast", "bc", [1, 2]);
      assert.deepEqual(await nth(b, "message-back", 3), [["hello", { n: 1 }], ["from-c"], ["bc", [1, 2]]]);
      assert.deepEqual(await nth(c, "message-back", 1), [["bc", [1, 2]]]);
      await Promise.all([sync(a), sync(d)]);
      assert.deepEqual(a.got("message-back"), [["hello", { n: 1 }], ["from-c"]], "sender got its own broadcast");
      assert.deepEqual(d.got("message-back"), [], "another namespace got the broadcast");
      await sync(b);
      assert.equal(b.got("message-back").length, 3);
      await checkTransport(a, mode);
    });

    test("server-side disconnect: 'io server disconnect', no reconnection", T, async () => {
      const reconnecting = { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100, randomizationFactor: 0 };
      // Namespace only: the other namespace and the connection live on.
      const m1 = open(mode, reconnecting);
      const [root, custom] = await Promise.all([connected(socketOn(m1, "/")), connected(socketOn(m1, "/custom"))]);
      await checkTransport(root, mode);
      const reason = withTimeout(new Promise((r) => root.once("disconnect", r)), 5000, "disconnect");
      root.emit("disconnect-me", false);
      assert.equal(await reason, "io server disconnect");
      await sleep(500);
      assert.equal(root.connected, false, "reconnected after io server disconnect");
      assert.equal(custom.connected, true);
      custom.emit("message", "alive");
      assert.deepEqual(await nth(custom, "message-back"), [["alive"]]);
      assert.equal(custom.io.engine.readyState, "open");

      // close = true: every namespace of the connection, then the connection.
      const m2 = open(mode, reconnecting);
      const [r2, c2] = await Promise.all([connected(socketOn(m2, "/")), connected(socketOn(m2, "/custom"))]);
      await checkTransport(r2, mode);
      const engine = m2.engine;
      const reasons = Promise.all([r2, c2].map((s) => withTimeout(new Promise((r) => s.once("disconnect", r)), 5000, `disconnect ${s.nsp}`)));
      let reconnects = 0;
      m2.on("reconnect_attempt", () => reconnects++);
      r2.emit("disconnect-me", true);
      assert.deepEqual(await reasons, ["io server disconnect", "io server disconnect"]);
      await eventually(() => engine.readyState === "closed", 5000, "Engine.IO connection closed");
      await sleep(500);
      assert.equal(reconnects, 0, "the client tried to reconnect");
      assert.equal(r2.connected || c2.connected, false);
    });

    test("socket ids are 20 chars and not the Engine.IO id", T, async () => {
      const m = open(mode);
      const [root, custom] = await Promise.all([connected(socketOn(m, "/")), connected(socketOn(m, "/custom"))]);
      const other = await connect(mode);
      for (const s of [root, custom, other]) {
        assert.match(s.id, /^[A-Za-z0-9_-]{20}$/);
        assert.notEqual(s.id, s.io.engine.id);
      }
      assert.match(m.engine.id, /^[A-Za-z0-9_-]{20}$/);
      assert.equal(new Set([root.id, custom.id, other.id, m.engine.id, other.io.engine.id]).size, 5);
      await checkTransport(root, mode);
    });

    test("the Engine.IO id appears in no packet but the open packet", T, async () => {
      const m = open(mode);
      const raw = [];
      m.engine.on("packet", (p) => raw.push(p));
      const s = await connected(socketOn(m, "/"));
      const c = await connected(socketOn(m, "/custom"));
      const peer = await connect(mode);
      await new Promise((resolve) => s.emit("message-with-ack", "a", { b: 1 }, resolve));
      await new Promise((resolve) => s.emit("join", "r", resolve));
      await new Promise((resolve) => peer.emit("join", "r", resolve));
      peer.emit("to-room", "r", "to the room");
      peer.emit("broadcast", "to all");
      await nth(s, "message-back", 2);
      await sync(c);
      s.on("ping-back", (text, ack) => ack("acked"));
      s.emit("ping-me", 2000);
      await nth(s, "pinged");
      await checkTransport(s, mode);
      const sid = m.engine.id;
      assert.equal(raw[0].type, "open");
      assert.ok(raw[0].data.includes(sid));
      const later = raw.slice(1).filter((p) => typeof p.data === "string");
      assert.ok(later.length >= 8, `saw ${later.length} packets`);
      for (const p of later) assert.ok(!p.data.includes(sid), `sid in ${p.type} ${p.data}`);
      // ... nor in what a peer's socket sees about us.
      assert.ok(!JSON.stringify(peer.events).includes(sid));
    });
  });
}

describe("connect timeout", () => {
  for (const transport of ["polling", "websocket"]) {
    test(`an Engine.IO connection that joins no namespace is closed (${transport})`, T, async () => {
      const socket = new EioSocket(server.url, { path: "/socket.io/", transports: [transport] });
      try {
        await withTimeout(new Promise((r) => socket.once("open", r)), 5000, "open");
        const t0 = Date.now();
        const [reason] = await withTimeout(new Promise((r) => socket.once("close", (...a) => r(a))), CONNECT_TIMEOUT + 3000, "close");
        const ms = Date.now() - t0;
        assert.ok(ms >= CONNECT_TIMEOUT - 200, `closed after ${ms} ms`);
        assert.equal(reason, "transport close");
      } finally {
        socket.close();
      }
    });
  }
});

// What the server application is told when a socket goes (its disconnect
// handler's reason), read back through the echo server's "disconnect-reason".
describe("disconnect reasons seen by the server app", () => {
  // Asks until the server has a reason for `id` (disconnects are noticed
  // asynchronously), for at most 5 s.
  async function reasonFor(observer, id) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const reason = await observer.timeout(2000).emitWithAck("disconnect-reason", id);
      if (reason !== null || Date.now() > deadline) return reason;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  for (const mode of ["websocket", "polling"]) {
    test(`client, transport and server initiated (${mode})`, T, async () => {
      const observer = await connect("websocket");
      const a = await connect(mode);
      const aid = a.id;
      a.disconnect();
      assert.equal(await reasonFor(observer, aid), "client namespace disconnect");

      const b = await connect(mode);
      const bid = b.id;
      b.io.engine.close();
      assert.equal(await reasonFor(observer, bid), "transport close");

      const c = await connect(mode);
      const cid = c.id;
      c.emit("disconnect-me", false);
      assert.equal(await reasonFor(observer, cid), "server namespace disconnect");
    });
  }

  test("ping timeout (a client that stops answering pings)", T, async () => {
    const observer = await connect("websocket");
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    const id = await withTimeout(new Promise((resolve) => {
      ws.on("message", (d) => {
        const text = d.toString();
        if (text.startsWith("0")) ws.send("40");
        else if (text.startsWith("40")) resolve(JSON.parse(text.slice(2)).sid);
        // pings ("2") are deliberately left unanswered
      });
    }), 5000, "raw client connected");
    try {
      assert.equal(await reasonFor(observer, id), "ping timeout");
    } finally {
      ws.terminate();
    }
  });
});
