// Connection state recovery (PROTOCOL.md 6) with the npm socket.io-client 4:
// a client whose transport drops comes back with socket.recovered, the same
// id, its rooms, and every message it missed exactly once and in order; one
// away longer than maxDisconnectionDuration, or one that left on purpose,
// gets a new session.
//   node --test tests/e2e/recovery.test.mjs
//   SIO_REF=1 node --test tests/e2e/recovery.test.mjs   # the Node reference
import { test, describe, after, before } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, withTimeout, eventually, once } from "./lib/server.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-echo-server.mjs" : "tests/e2e/sio-echo-server";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A client recording "message-back" payloads (the offset argument dropped).
function client(url, opts = {}) {
  const c = io(url, { reconnectionDelay: 600, reconnectionDelayMax: 600, randomizationFactor: 0, forceNew: true,
    ...opts });
  c.got = [];
  c.on("message-back", (...args) => c.got.push(args[0]));
  return c;
}

for (const transports of [["websocket"], ["polling"]]) {
  describe(`recovery over ${transports[0]}`, () => {
    let server;
    before(async () => {
      server = await startServer(PROGRAM, ["--recovery", "5000"]);
    });
    after(() => server.stop());

    test("a dropped client comes back recovered: same id, rooms kept, missed messages once and in order",
      { timeout: 20000 }, async () => {
        const a = client(server.url, { transports });
        const b = client(server.url, { transports });
        try {
          await Promise.all([a, b].map((c) => withTimeout(once(c, "connect"), 5000, "connect")));
          assert.equal(a.recovered, false, "a first connection is not a recovery");
          await a.emitWithAck("join", "room-r");
          b.emit("to-room", "room-r", "m0");
          await eventually(() => a.got.includes("m0"), 3000, "m0");
          const id = a.id;

          const gone = once(a, "disconnect");
          a.io.engine.close(); // the transport drops; the client will reconnect
          const [reason] = await withTimeout(gone, 3000, "disconnect");
          assert.equal(reason, "forced close"); // the client's word for engine.close()
          // On the wire, after the reconnection: the replayed events come
          // before the CONNECT reply.
          const wire = [];
          a.io.once("open", () => a.io.engine.on("packet", (p) => p.type === "message" && wire.push(String(p.data))));
          await sleep(150); // the server has seen it go
          for (let i = 1; i <= 5; i++) b.emit("to-room", "room-r", `m${i}`);
          b.emit("broadcast", "b1"); // socket.broadcast: every socket but b
          b.emit("message", "only-b"); // to b only: a must not get it
          await withTimeout(once(a, "connect"), 5000, "reconnect");
          assert.equal(a.recovered, true, "recovered");
          assert.equal(a.id, id, "same id");
          await eventually(() => a.got.length >= 7, 3000, `missed messages (${a.got})`);
          await sleep(200);
          assert.deepEqual(a.got, ["m0", "m1", "m2", "m3", "m4", "m5", "b1"]);
          // (Engine.IO message data: the Socket.IO packet, "2[...]" EVENT, "0{...}" CONNECT.)
          const connectAt = wire.findIndex((m) => m.startsWith("0"));
          assert.ok(connectAt === 6, `6 replayed events, then the CONNECT reply: ${JSON.stringify(wire)}`);
          assert.match(wire[connectAt], /^0\{"sid":"[^"]+","pid":"[^"]+"\}$/);
          // Still in its room.
          b.emit("to-room", "room-r", "m6");
          await eventually(() => a.got.includes("m6"), 3000, "m6 after the recovery");
          assert.equal(a.got.filter((m) => m === "m6").length, 1);
        } finally {
          a.close();
          b.close();
        }
      });

    test("a client away longer than maxDisconnectionDuration gets a new session", { timeout: 20000 }, async () => {
      const short = await startServer(PROGRAM, ["--recovery", "300"]);
      const a = client(short.url, { transports, reconnectionDelay: 1200, reconnectionDelayMax: 1200 });
      try {
        await withTimeout(once(a, "connect"), 5000, "connect");
        a.emit("message", "hello"); // message-back gives a an offset
        await eventually(() => a.got.includes("hello"), 3000, "hello");
        const id = a.id;
        a.io.engine.close();
        await withTimeout(once(a, "connect"), 5000, "reconnect");
        assert.equal(a.recovered, false, "not recovered");
        assert.notEqual(a.id, id, "a new id");
      } finally {
        a.close();
        await short.stop();
      }
    });

    test("a client that left on purpose is not recovered", { timeout: 20000 }, async () => {
      const a = client(server.url, { transports });
      try {
        await withTimeout(once(a, "connect"), 5000, "connect");
        a.emit("message", "hello");
        await eventually(() => a.got.includes("hello"), 3000, "hello");
        const id = a.id;
        a.disconnect();
        a.connect();
        await withTimeout(once(a, "connect"), 5000, "connect again");
        assert.equal(a.recovered, false);
        assert.notEqual(a.id, id);
      } finally {
        a.close();
      }
    });
  });
}

describe("sio-chat --recovery", { skip: process.env.SIO_REF ? "sio-chat only" : false }, () => {
  test("chat lines missed while away are replayed, and /metrics counts the recovery", { timeout: 20000 }, async () => {
    const chat = await startServer("server/sio-chat", ["--host", "127.0.0.1", "--recovery"]);
    const lines = (c) => {
      c.lines = [];
      c.on("message", (line) => c.lines.push(line));
      return c;
    };
    const a = lines(client(chat.url, { transports: ["websocket"] }));
    const b = lines(client(chat.url, { transports: ["websocket"] }));
    try {
      await Promise.all([a, b].map((c) => withTimeout(once(c, "connect"), 5000, "connect")));
      b.emit("message", "before");
      await eventually(() => a.lines.some((l) => l.endsWith(": before")), 3000, "before");
      a.io.engine.close();
      await sleep(150);
      b.emit("message", "while away");
      await withTimeout(once(a, "connect"), 5000, "reconnect");
      assert.equal(a.recovered, true);
      await eventually(() => a.lines.some((l) => l.endsWith(": while away")), 3000, "the missed line");
      const text = await (await fetch(`${chat.url}/metrics`)).text();
      assert.match(text, /^sio_recovered_total\{namespace="\/"\} 1$/m);
      assert.match(text, /^sio_recovery_events\{namespace="\/"\} [1-9]\d*$/m);
    } finally {
      a.close();
      b.close();
      await chat.stop();
    }
  });
});
