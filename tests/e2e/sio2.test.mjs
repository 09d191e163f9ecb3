// Socket.IO v2 clients (npm socket.io-client 2.x, Engine.IO v3) on a server
// started with --allow-eio3, over polling, WebSocket and polling then
// upgrade: connect (the server connects "/" itself), events, acks, binary,
// namespaces with a query as auth, a middleware's refusal, rooms, and the
// reversed heartbeat keeping the session alive.
//   node --test tests/e2e/sio2.test.mjs
//   SIO_REF=1 node --test tests/e2e/sio2.test.mjs   # the Node reference
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import io2 from "socket.io-client-v2";
import { startServer, withTimeout, once } from "./lib/server.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-echo-server.mjs" : "tests/e2e/sio-echo-server";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("Socket.IO v2 clients (allow_eio3)", () => {
  let server;
  before(async () => {
    server = await startServer(PROGRAM, ["--allow-eio3", "--ping-interval", "300", "--ping-timeout", "200"]);
  });
  after(() => server.stop());

  function connect(nsp, opts = {}) {
    const c = io2(server.url + nsp, { forceNew: true, reconnection: false, ...opts });
    // The echo server greets every socket with "auth" on connection.
    c.greeting = once(c, "auth");
    return c;
  }

  for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
    const label = transports.join("+");

    test(`${label}: connect, events, acks and binary`, { timeout: 15000 }, async () => {
      const c = connect("/", { transports });
      try {
        await withTimeout(once(c, "connect"), 5000, "connect");
        assert.equal(c.id, c.io.engine.id, "on / the socket id is the Engine.IO id");
        const [auth] = await withTimeout(c.greeting, 3000, "auth");
        assert.deepEqual(auth, {});
        c.emit("message", "hello", 1, { a: [true, null] });
        assert.deepEqual(await withTimeout(once(c, "message-back"), 3000, "echo"), ["hello", 1, { a: [true, null] }]);
        const acked = await withTimeout(new Promise((r) => c.emit("message-with-ack", "x", 2, (...a) => r(a))), 3000, "ack");
        assert.deepEqual(acked, ["x", 2]);
        const bin = Buffer.from([0, 1, 2, 250, 255]);
        c.emit("message", "bytes", bin, { nested: bin });
        const [text, b1, obj] = await withTimeout(once(c, "message-back"), 3000, "binary echo");
        assert.equal(text, "bytes");
        assert.deepEqual(Buffer.from(b1), bin);
        assert.deepEqual(Buffer.from(obj.nested), bin);
        const binAck = await withTimeout(new Promise((r) => c.emit("message-with-ack", bin, (a) => r(a))), 3000, "binary ack");
        assert.deepEqual(Buffer.from(binAck), bin);
        if (transports.length === 2) assert.equal(c.io.engine.transport.name, "websocket", "upgraded");
        // The client pings (v3 heartbeat): the session outlives pingInterval + pingTimeout.
        await sleep(1200);
        assert.equal(c.connected, true);
        c.emit("message", "still here");
        assert.deepEqual(await withTimeout(once(c, "message-back"), 3000, "later echo"), ["still here"]);
      } finally {
        c.close();
      }
    });
  }

  test("a namespace with a query: the query is the auth, the id is <nsp>#<engine id>", { timeout: 10000 }, async () => {
    const c = connect("/custom", { query: { token: "abc", n: "1" } });
    try {
      await withTimeout(once(c, "connect"), 5000, "connect");
      const [auth] = await withTimeout(c.greeting, 3000, "auth");
      assert.equal(auth.token, "abc");
      assert.equal(auth.n, "1");
      assert.equal(c.id, `/custom#${c.io.engine.id}`);
      // Rooms and broadcasts by that id.
      await new Promise((r) => c.emit("join", "room-2", r));
      c.emit("to-room", "room-2", "to the room");
      assert.deepEqual(await withTimeout(once(c, "message-back"), 3000, "room echo"), ["to the room"]);
    } finally {
      c.close();
    }
  });

  test("a middleware's refusal reaches a v2 client as an error with its data", { timeout: 10000 }, async () => {
    const bad = connect("/refuse", { transports: ["websocket"] });
    const good = connect("/refuse", { transports: ["websocket"], query: { token: "ok" } });
    try {
      const [err] = await withTimeout(once(bad, "error"), 5000, "error");
      assert.deepEqual(err, { reason: "test" });
      await withTimeout(once(good, "connect"), 5000, "admitted with the token");
    } finally {
      bad.close();
      good.close();
    }
  });

  test("v4 clients are unaffected on the same server", { timeout: 10000 }, async () => {
    const { io } = await import("socket.io-client");
    const c = io(server.url, { forceNew: true, reconnection: false });
    try {
      await withTimeout(once(c, "connect"), 5000, "connect");
      assert.notEqual(c.id, c.io.engine.id, "v4: the socket id is not the Engine.IO id");
      c.emit("message", "v4");
      assert.deepEqual(await withTimeout(once(c, "message-back"), 3000, "echo"), ["v4"]);
    } finally {
      c.close();
    }
  });
});
