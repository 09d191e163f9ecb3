// Limits and admission: body timeout (slow POST bodies), the connection cap
// (503), the per-client send-queue cap (a client that does not read, or does
// not poll, is dropped with a log line), the Origin allow-list and the
// allow_request hook. Each case also checks that a well-behaved bystander is
// untouched.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Socket } from "engine.io-client";
import { io } from "socket.io-client";
import WebSocket from "ws";
import { startServer, once, withTimeout, eventually } from "./lib/server.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// An engine.io-client session that collects messages.
async function bystander(server, transports = ["websocket"]) {
  const s = new Socket(server.url, { path: "/engine.io/", transports });
  s.got = [];
  s.on("message", (m) => s.got.push(m));
  await withTimeout(once(s, "open"), 3000, "bystander open");
  s.roundTrip = async (text) => {
    const n = s.got.length;
    s.send(text);
    await eventually(() => s.got.length > n && s.got.includes(text), 3000, `echo of ${text}`);
  };
  return s;
}

async function stats(server) {
  const res = await fetch(`${server.url}/stats`, { headers: { connection: "close" } });
  return res.json();
}

// A raw HTTP exchange on a fresh TCP connection: writes `request`, returns
// everything read until the server closes (or `ms` pass).
function rawExchange(port, request, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let data = "";
    const t = setTimeout(() => {
      sock.destroy();
      resolve({ data, closed: false });
    }, ms);
    sock.on("connect", () => request && sock.write(request));
    sock.on("data", (d) => (data += d));
    sock.on("close", () => {
      clearTimeout(t);
      resolve({ data, closed: true });
    });
    sock.on("error", (e) => e.code !== "ECONNRESET" && reject(e));
  });
}

async function pollingHandshake(server, headers = {}) {
  const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`, { headers });
  const body = await res.text();
  return { res, body, sid: res.ok ? JSON.parse(body.slice(1)).sid : null };
}

describe("body timeout", () => {
  let server;
  before(async () => {
    server = await startServer("tests/e2e/eio-echo-server", ["--body-timeout", "300"]);
  });
  after(() => server.stop());

  test("a POST body that stalls gets 408 and its session fails; others unaffected", async () => {
    const b = await bystander(server);
    const { sid } = await pollingHandshake(server);
    const t0 = Date.now();
    const { data, closed } = await rawExchange(
      server.port,
      `POST /engine.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4hel`,
    );
    assert.ok(closed, "connection closed");
    assert.match(data, /^HTTP\/1.1 408 Request Timeout\r\n/);
    assert.ok(Date.now() - t0 >= 250, "not before the timeout");
    const after = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(after.status, 400);
    assert.deepEqual(await after.json(), { code: 1, message: "Session ID unknown" });
    assert.match(server.stderr, /408 Request Timeout/);
    await b.roundTrip("still here");
    b.close();
  });

  test("a body trickling in slower than the timeout is cut off too", async () => {
    const sock = net.connect(server.port, "127.0.0.1");
    await once(sock, "connect");
    sock.write("POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n");
    let data = "";
    sock.on("data", (d) => (data += d));
    sock.on("error", () => {});
    const closed = once(sock, "close");
    const drip = setInterval(() => sock.writable && sock.write("a"), 50); // never idle, never done
    await withTimeout(closed, 3000, "server closes the dripping request");
    clearInterval(drip);
    assert.match(data, /^HTTP\/1.1 408 /);
  });
});

describe("connection cap", () => {
  let server;
  before(async () => {
    server = await startServer("tests/e2e/eio-echo-server", ["--max-connections", "12"]);
  });
  after(() => server.stop());

  test("past the cap new connections get 503; existing ones keep working", async () => {
    const b = await bystander(server); // 1 connection
    const idle = [];
    const openIdle = async () => {
      const s = net.connect(server.port, "127.0.0.1");
      s.on("error", () => {});
      await once(s, "connect");
      idle.push(s);
    };
    for (let i = 0; i < 10; i++) await openIdle();
    // 11 open: the stats request is the 12th, still under the cap.
    await eventually(async () => (await statsNoConn(server)) === 11, 2000, "11 connections open");
    // The 12th; accepted before anything that connects after it.
    await openIdle();
    const refused = await rawExchange(server.port, "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(refused.data, /^HTTP\/1.1 503 Service Unavailable\r\n/);
    assert.match(refused.data, /Connection: close\r\n/);
    assert.ok(refused.closed);
    // A WebSocket attempt is refused the same way, before any upgrade.
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`);
    const [, res] = await withTimeout(once(ws, "unexpected-response"), 3000, "503 to the upgrade");
    assert.equal(res.statusCode, 503);
    ws.on("error", () => {});
    res.resume();
    // The open ones are untouched: the session echoes, an idle one can still ask.
    await b.roundTrip("alive");
    idle[0].write("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
    const [first] = await withTimeout(once(idle[0], "data"), 2000, "answer on an old connection");
    assert.match(String(first), /^HTTP\/1.1 200 OK/);
    assert.match(server.stderr, /refusing new ones with 503/);
    // Once some leave, new ones are accepted again.
    for (const s of idle) s.destroy();
    await eventually(async () => (await statsNoConn(server)) <= 2, 3000, "connections released");
    const { res: ok } = await pollingHandshake(server);
    assert.equal(ok.status, 200);
    b.close();
  });
});

// /stats over a raw connection (fetch's pool would hold one open): the
// count it reports, less the /stats connection itself.
async function statsNoConn(server) {
  const { data } = await rawExchange(server.port, "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const body = data.slice(data.indexOf("\r\n\r\n") + 4);
  if (!body.startsWith("{")) return -1; // refused (503) while at the cap
  return JSON.parse(body).connections - 1;
}

describe("send-queue cap", () => {
  let server;
  // max_payload 100000: the queue cap becomes max_payload + 64 KiB = 165,536 bytes.
  before(async () => {
    server = await startServer("tests/e2e/eio-echo-server", [
      "--max-payload", "100000", "--max-send-queue", "1000", "--ping-interval", "60000", "--ping-timeout", "60000",
    ]);
  });
  after(() => server.stop());

  test("a WebSocket client that does not read is dropped with a log line; a reader is not", async () => {
    const reader = await bystander(server);
    // The slow one: a raw WebSocket whose socket we stop reading.
    const slow = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`);
    await once(slow, "message"); // the open packet
    slow._socket.pause();
    const before = (await stats(server)).sessions;
    // Bursts of ~35 KB each: the reader drains them, the slow one piles up
    // (first in the kernel's buffers, then in the server's queue).
    for (let i = 0; i < 600 && /dropping connection/.test(server.stderr) === false; i++) {
      slow.send("4flood:5000");
      if (i % 20 === 0) reader.send("flood:5000");
      await sleep(2);
    }
    await eventually(() => /send queue over 165536 bytes/.test(server.stderr), 10000, "the drop is logged");
    await eventually(async () => (await stats(server)).sessions === before - 1, 3000, "slow session closed");
    await reader.roundTrip("reader survives");
    slow.terminate();
    reader.close();
  });

  test("a polling client that stops polling is dropped once its queue is over the cap", async () => {
    const reader = await bystander(server, ["polling"]);
    const { sid } = await pollingHandshake(server);
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    for (let i = 0; i < 40; i++) {
      const r = await fetch(url, { method: "POST", body: "4flood:5000" });
      if (r.status !== 200) break; // the session is gone
    }
    await eventually(() => /dropping it: over 165536 bytes queued/.test(server.stderr), 3000, "the drop is logged");
    const res = await fetch(url);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 1, message: "Session ID unknown" });
    await reader.roundTrip("poller survives");
    reader.close();
  });

  test("a burst below the cap reaches a polling client whole", async () => {
    const { sid } = await pollingHandshake(server);
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    await fetch(url, { method: "POST", body: "4flood:10000" }); // ~58 KB
    const body = await (await fetch(url)).text();
    const msgs = body.split("\x1e");
    assert.equal(msgs.length, 10000);
    assert.equal(msgs[9999], "49999");
    await fetch(url, { method: "POST", body: "1" });
  });
});

describe("origin allow-list and allow_request hook", () => {
  let server;
  before(async () => {
    server = await startServer("tests/e2e/eio-echo-server", [
      "--allow-origin", "https://good.example",
      "--allow-origin", "http://localhost:8080",
      "--forbid-query", "deny=1",
    ]);
  });
  after(() => server.stop());

  test("polling handshakes from other origins get 403; listed ones and none pass", async () => {
    for (const origin of ["https://good.example", "http://localhost:8080"]) {
      const { res } = await pollingHandshake(server, { origin });
      assert.equal(res.status, 200, origin);
    }
    assert.equal((await pollingHandshake(server)).res.status, 200, "no Origin header");
    for (const origin of ["https://evil.example", "https://good.example.evil", "http://localhost:8081", "null"]) {
      const { res, body } = await pollingHandshake(server, { origin });
      assert.equal(res.status, 403, origin);
      assert.deepEqual(JSON.parse(body), { code: 4, message: "Forbidden" });
    }
    assert.match(server.stderr, /origin https:\/\/evil.example is not allowed/);
  });

  test("a session's later requests from another origin are refused too", async () => {
    const { sid } = await pollingHandshake(server, { origin: "https://good.example" });
    const url = `${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`;
    const bad = await fetch(url, { method: "POST", body: "4x", headers: { origin: "https://evil.example" } });
    assert.equal(bad.status, 403);
    const good = await fetch(url, { method: "POST", body: "4x", headers: { origin: "https://good.example" } });
    assert.equal(good.status, 200);
  });

  test("WebSocket upgrades from other origins get 403 before the 101", async () => {
    const url = `ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket`;
    const bad = new WebSocket(url, { origin: "https://evil.example" });
    bad.on("error", () => {});
    const [, res] = await withTimeout(once(bad, "unexpected-response"), 3000, "403");
    assert.equal(res.statusCode, 403);
    let body = "";
    for await (const chunk of res) body += chunk;
    assert.equal(body, "Forbidden");
    const good = new WebSocket(url, { origin: "https://good.example" });
    const [open] = await withTimeout(once(good, "message"), 3000, "open packet");
    assert.match(String(open), /^0\{"sid"/);
    good.close();
  });

  test("the allow_request hook refuses with its own message, on polling and WebSocket", async () => {
    const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling&deny=1`);
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { code: 4, message: "refused by test hook" });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/engine.io/?EIO=4&transport=websocket&deny=1`);
    ws.on("error", () => {});
    const [, wres] = await withTimeout(once(ws, "unexpected-response"), 3000, "403");
    assert.equal(wres.statusCode, 403);
    wres.resume();
    const ok = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling&deny=0`);
    assert.equal(ok.status, 200);
  });
});

describe("sio-chat --allow-origin", () => {
  let server;
  before(async () => {
    server = await startServer("server/sio-chat", ["--host", "127.0.0.1", "--allow-origin", "https://chat.example"]);
  });
  after(() => server.stop());

  for (const transports of [["websocket"], ["polling"]]) {
    test(`socket.io-client from an allowed origin connects, others get connect_error (${transports})`, async () => {
      const opts = (origin) => ({ transports, reconnection: false, extraHeaders: { origin } });
      const good = io(server.url, opts("https://chat.example"));
      await withTimeout(once(good, "connect"), 3000, "allowed origin connects");
      const bad = io(server.url, opts("https://evil.example"));
      const [err] = await withTimeout(once(bad, "connect_error"), 3000, "refused origin");
      assert.ok(err instanceof Error);
      assert.equal(bad.connected, false);
      good.close();
      bad.close();
    });
  }
});

describe("default connection cap under a low open-file limit", () => {
  let server;
  // `ulimit -n 100`: the default cap is then half of it (50), and the server
  // answers 503 instead of running out of descriptors.
  before(async () => {
    server = await startServer("tests/e2e/eio-echo-server", [], {
      wrapper: ["sh", "-c", 'ulimit -n 100 && exec "$0" "$@"'],
      startTimeoutMs: 10000,
      stopTimeoutMs: 10000,
    });
  });
  after(() => server.stop());

  test("connections past the default cap get 503, and the server recovers", async () => {
    const b = await bystander(server);
    const socks = [];
    for (let i = 0; i < 70; i++) {
      const s = net.connect(server.port, "127.0.0.1");
      s.got = "";
      s.on("data", (d) => (s.got += d));
      s.on("error", () => {});
      socks.push(s);
    }
    await Promise.all(socks.map((s) => once(s, "connect")));
    await eventually(() => socks.filter((s) => s.got.startsWith("HTTP/1.1 503")).length >= 20, 3000, "503s");
    const refused = socks.filter((s) => s.got.startsWith("HTTP/1.1 503")).length;
    assert.ok(refused >= 20 && refused <= 21, `${refused} refused`);
    assert.doesNotMatch(server.stderr, /accept failed/);
    await b.roundTrip("still served");
    for (const s of socks) s.destroy();
    await eventually(async () => (await statsNoConn(server)) <= 1, 3000, "connections released");
    const { res } = await pollingHandshake(server);
    assert.equal(res.status, 200);
    b.close();
  });
});
