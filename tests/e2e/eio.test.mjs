// End-to-end: the npm engine.io-client (v6, Engine.IO v4) against
// eio-echo-server, over polling only, WebSocket only, and polling with
// upgrade; plus raw-protocol checks of heartbeat, close and errors.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import WebSocket from "ws";
import { startServer, once, withTimeout } from "./lib/server.mjs";

let server;
before(async () => {
  server = await startServer("tests/e2e/eio-echo-server", ["--ping-interval", "300", "--ping-timeout", "200"]);
});
after(async () => {
  await server.stop();
});

const MODES = {
  polling: { transports: ["polling"], upgrade: false },
  websocket: { transports: ["websocket"] },
  "polling+upgrade": { transports: ["polling", "websocket"], upgrade: true },
};

function connect(opts) {
  const socket = new Socket(server.url, { path: "/engine.io/", ...opts });
  const messages = [];
  const waiters = [];
  socket.on("message", (m) => {
    messages.push(m);
    while (waiters.length && waiters[0].n <= messages.length) waiters.shift().resolve();
  });
  socket.next = async (n = 1, ms = 5000) => {
    const want = messages.length + n;
    if (messages.length < want) {
      await withTimeout(new Promise((resolve) => waiters.push({ n: want, resolve })), ms, `${n} message(s)`);
    }
    return messages.slice(want - n, want);
  };
  socket.messages = messages;
  return socket;
}

for (const [mode, opts] of Object.entries(MODES)) {
  describe(`engine.io-client over ${mode}`, () => {
    test("opens, upgrades as configured, echoes text", async () => {
      const socket = connect(opts);
      await withTimeout(once(socket, "open"), 5000, "open");
      assert.equal(socket.id.length, 20);
      assert.match(socket.id, /^[A-Za-z0-9_-]{20}$/);
      if (mode === "polling+upgrade") {
        if (socket.transport.name !== "websocket") await withTimeout(once(socket, "upgrade"), 5000, "upgrade");
        assert.equal(socket.transport.name, "websocket");
      } else {
        assert.equal(socket.transport.name, opts.transports[0]);
      }
      socket.send("hello");
      socket.send("héllo wörld ✓ 😀");
      const got = await socket.next(2);
      assert.deepEqual(got, ["hello", "héllo wörld ✓ 😀"]);
      socket.close();
    });

    test("echoes binary both ways", async () => {
      const socket = connect(opts);
      await withTimeout(once(socket, "open"), 5000, "open");
      const bytes = Uint8Array.from([0, 1, 2, 3, 254, 255]);
      socket.send(bytes);
      const [got] = await socket.next(1);
      assert.ok(typeof got !== "string", "binary arrives as binary");
      assert.deepEqual(Buffer.from(got), Buffer.from(bytes));
      socket.close();
    });

    test("carries a 900 KB message each way", async () => {
      const socket = connect(opts);
      await withTimeout(once(socket, "open"), 5000, "open");
      const big = "x".repeat(450 * 1024) + "y".repeat(450 * 1024);
      socket.send(big);
      const [got] = await socket.next(1, 10000);
      assert.equal(got.length, big.length);
      assert.equal(got, big);
      // Polling carries binary as base64 (4/3 larger) under the same 1 MB
      // maxPayload, so the binary case is sized to fit once encoded.
      const bin = Buffer.alloc(700 * 1024, 7);
      socket.send(bin);
      const [gotBin] = await socket.next(1, 10000);
      assert.equal(Buffer.from(gotBin).length, bin.length);
      assert.ok(Buffer.from(gotBin).equals(bin));
      socket.close();
    });

    test("keeps order over many messages and survives heartbeats", async () => {
      const socket = connect(opts);
      await withTimeout(once(socket, "open"), 5000, "open");
      for (let i = 0; i < 500; i++) socket.send(`m${i}`);
      const got = await socket.next(500, 10000);
      assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => `m${i}`));
      // Several ping intervals (300 ms): the client answers, the session lives.
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(socket.readyState, "open");
      socket.send("still here");
      assert.deepEqual(await socket.next(1), ["still here"]);
      socket.send("flood:300");
      const flood = await socket.next(300, 10000);
      assert.deepEqual(flood, Array.from({ length: 300 }, (_, i) => `${i}`));
      socket.close();
    });

    test("sees a server-initiated close", async () => {
      const socket = connect(opts);
      await withTimeout(once(socket, "open"), 5000, "open");
      socket.send("close-me");
      const [reason] = await withTimeout(once(socket, "close"), 5000, "close");
      assert.equal(reason, "transport close");
    });
  });
}

async function handshakePolling() {
  const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], "0");
  return JSON.parse(body.slice(1));
}

describe("raw protocol", () => {
  test("open packet has the reference keys in order", async () => {
    const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`);
    assert.equal(res.headers.get("content-type"), "text/plain; charset=UTF-8");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    const body = await res.text();
    assert.match(body, /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\["websocket"\],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000\}$/);
  });

  test("error statuses and bodies", async () => {
    const cases = [
      ["/engine.io/?EIO=4", "GET", 400, { code: 0, message: "Transport unknown" }],
      ["/engine.io/?EIO=4&transport=abc", "GET", 400, { code: 0, message: "Transport unknown" }],
      ["/engine.io/?EIO=4&transport=polling&sid=nope", "GET", 400, { code: 1, message: "Session ID unknown" }],
      ["/engine.io/?EIO=4&transport=polling", "POST", 400, { code: 2, message: "Bad handshake method" }],
      ["/engine.io/?EIO=4&transport=websocket", "GET", 400, { code: 3, message: "Bad request" }],
      ["/engine.io/?EIO=3&transport=polling", "GET", 400, { code: 5, message: "Unsupported protocol version" }],
      ["/engine.io/?transport=polling", "GET", 400, { code: 5, message: "Unsupported protocol version" }],
    ];
    for (const [url, method, status, body] of cases) {
      const res = await fetch(server.url + url, { method });
      assert.equal(res.status, status, url);
      assert.equal(res.headers.get("content-type"), "application/json", url);
      assert.deepEqual(await res.json(), body, url);
    }
    const res = await fetch(`${server.url}/elsewhere`);
    assert.equal(res.status, 404);
  });

  test("POST answers ok; other methods on a session get 500", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const post = await fetch(url, { method: "POST", body: "4a\x1e4b\x1ebAQID" });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get("content-type"), "text/html");
    assert.equal(await post.text(), "ok");
    const get = await fetch(url);
    assert.equal(await get.text(), "4a\x1e4b\x1ebAQID");
    const put = await fetch(url, { method: "PUT", body: "x" });
    assert.equal(put.status, 500);
  });

  test("oversized POST gets 413", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const res = await fetch(url, { method: "POST", body: "4" + "z".repeat(1000000) });
    assert.equal(res.status, 413);
  });

  test("ping timeout closes a silent polling session", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const first = await fetch(url);
    assert.equal(await first.text(), "2"); // ping after 300 ms
    await new Promise((r) => setTimeout(r, 350)); // no pong within 200 ms
    const res = await fetch(url);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 1, message: "Session ID unknown" });
  });

  test("ping timeout closes a silent WebSocket", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`);
    const frames = [];
    ws.on("message", (d) => frames.push(d.toString()));
    const t0 = Date.now();
    const [code] = await withTimeout(once(ws, "close"), 3000, "server closes");
    const elapsed = Date.now() - t0;
    assert.ok(frames[0].startsWith('0{"sid":'));
    assert.match(frames[0], /"upgrades":\[\]/);
    assert.deepEqual(frames.slice(1), ["2"]);
    assert.equal(code, 1005); // a close frame with no status code, as the reference
    assert.ok(elapsed >= 450 && elapsed < 1500, `closed after ${elapsed} ms`);
  });

  test("traffic while a pong is awaited restarts the ping timeout once (engine.io 6.6)", async () => {
    // pingInterval 300, pingTimeout 200. The client never answers pings but
    // sends messages 100 and 250 ms after the first ping: the first message
    // restarts the 200 ms timeout (close about 300 ms after the ping, not
    // 200), the second one does not (not 450).
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`);
    let pingAt = 0;
    ws.on("message", (d) => {
      if (d.toString() !== "2" || pingAt) return;
      pingAt = Date.now();
      setTimeout(() => ws.readyState === 1 && ws.send("4one"), 100);
      setTimeout(() => ws.readyState === 1 && ws.send("4two"), 250);
    });
    await withTimeout(once(ws, "close"), 3000, "server closes");
    const after = Date.now() - pingAt;
    assert.ok(after >= 280 && after < 420, `closed ${after} ms after the ping`);
  });

  test("a pong keeps a WebSocket alive; a v4 ping closes it", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`);
    let pings = 0;
    ws.on("message", (d) => {
      if (d.toString() === "2") {
        pings++;
        ws.send("3");
      }
    });
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok(pings >= 3, `${pings} pings answered`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.send("2");
    await withTimeout(once(ws, "close"), 2000, "close after client ping");
  });

  test("duplicate GET fails the session", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const first = fetch(url);
    await new Promise((r) => setTimeout(r, 20));
    const second = await fetch(url);
    assert.equal(second.status, 400);
    const r1 = await first;
    assert.equal(r1.status, 200);
    assert.equal(await r1.text(), "1");
    assert.equal((await fetch(url)).status, 400);
  });

  test("client close over polling: pending GET gets a noop", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const [get, post] = await Promise.all([fetch(url), fetch(url, { method: "POST", body: "1" })]);
    assert.equal(post.status, 200);
    assert.equal(await get.text(), "6");
    assert.equal((await fetch(url)).status, 400);
  });

  test("upgrade: probe, noop to the pending GET, switch, and old transport refused", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
    await once(ws, "open");
    const pending = fetch(url);
    await new Promise((r) => setTimeout(r, 30));
    ws.send("2probe");
    const [probe] = await once(ws, "message");
    assert.equal(probe.toString(), "3probe");
    const poll = await pending;
    assert.equal(await poll.text(), "6");
    ws.send("5");
    ws.send("4after upgrade");
    const [echo] = await once(ws, "message");
    assert.equal(echo.toString(), "4after upgrade");
    const old = await fetch(url);
    assert.equal(old.status, 400);
    assert.deepEqual(await old.json(), { code: 3, message: "Bad request" });
    // A second WebSocket for the upgraded sid is accepted, then closed.
    const ws2 = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
    await withTimeout(once(ws2, "close"), 2000, "second websocket closed");
    ws.close();
  });

  test("a server close during a probed upgrade waits for the upgrade, then closes the WebSocket", async () => {
    // The client pauses polling once the probe answers: a close queued for a
    // poll would never be fetched (the client would only see a ping timeout).
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
    await once(ws, "open");
    ws.send("2probe");
    const [probe] = await once(ws, "message");
    assert.equal(probe.toString(), "3probe");
    const posted = await fetch(url, { method: "POST", body: "4close-me" });
    assert.equal(posted.status, 200);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(ws.readyState, WebSocket.OPEN, "the probe is not aborted");
    ws.send("5");
    await withTimeout(once(ws, "close"), 2000, "the upgraded WebSocket is closed");
    const after = await fetch(url);
    assert.equal(after.status, 400);
  });

  test("upgrade refused before the 101 for an unknown sid", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket&sid=unknown`);
    const [, res] = await withTimeout(once(ws, "unexpected-response"), 2000, "400");
    assert.equal(res.statusCode, 400);
    let body = "";
    for await (const chunk of res) body += chunk;
    assert.equal(body, "Session ID unknown");
  });

  test("invalid packets close the session (polling and WebSocket)", async () => {
    const { sid } = await handshakePolling();
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const res = await fetch(url, { method: "POST", body: "abc" }).catch(() => null);
    if (res) assert.equal(res.status, 400);
    assert.equal((await fetch(url)).status, 400);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`);
    await once(ws, "message");
    ws.send("abc");
    await withTimeout(once(ws, "close"), 2000, "close after parse error");
  });

  test("WebSocket protocol violations get their close codes", async () => {
    const base = `ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`;
    // Oversized message: 1009.
    const ws = new WebSocket(base);
    await once(ws, "message");
    ws.send("4" + "a".repeat(1000001));
    const [code] = await withTimeout(once(ws, "close"), 3000, "1009");
    assert.equal(code, 1009);
  });
});
