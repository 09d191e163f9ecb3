// The HTTP layer under Engine.IO, over raw TCP: keep-alive and pipelining,
// header size cap (431), header timeout (408), bad requests (400).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startServer } from "./lib/server.mjs";

let server;
before(async () => {
  server = await startServer("tests/e2e/eio-echo-server", ["--header-timeout", "300"]);
});
after(async () => {
  await server.stop();
});

// Sends `data` on a fresh connection and collects everything until the
// server closes it (or `ms` passes).
function exchange(data, ms = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect(server.port, "127.0.0.1");
    let got = "";
    const t0 = Date.now();
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ text: got, closed: false, ms: Date.now() - t0 });
    }, ms);
    sock.on("data", (d) => (got += d.toString("latin1")));
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ text: got, closed: true, ms: Date.now() - t0 });
    });
    sock.on("error", () => {});
    if (data) sock.write(data);
  });
}

const statuses = (text) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

test("pipelined requests are answered in order on one connection", async () => {
  const hs = "GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
  const missing = "GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n";
  const bad = "GET /engine.io/?EIO=4&transport=abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const { text, closed } = await exchange(hs + missing + hs + bad);
  assert.deepEqual(statuses(text), [200, 404, 200, 400]);
  const opens = text.match(/0\{"sid":"[^"]+"/g);
  assert.equal(opens.length, 2);
  assert.notEqual(opens[0], opens[1]);
  assert.ok(closed, "Connection: close honoured");
});

test("a long-poll holds later pipelined requests until it is answered", async () => {
  const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`);
  const sid = JSON.parse((await res.text()).slice(1)).sid;
  const poll = `GET /engine.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const after404 = "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const pending = exchange(poll + after404, 3000);
  await new Promise((r) => setTimeout(r, 100));
  await fetch(`${server.url}/engine.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "4wake" });
  const { text } = await pending;
  assert.deepEqual(statuses(text), [200, 404]);
  assert.ok(text.indexOf("4wake") < text.lastIndexOf("HTTP/1.1 404"), "answers in request order");
});

test("oversized request headers get 431 and a close", async () => {
  const req = `GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20000)}\r\n\r\n`;
  const { text, closed } = await exchange(req);
  assert.deepEqual(statuses(text), [431]);
  assert.ok(closed);
});

test("headers not completed in time get 408 and a close", async () => {
  const { text, closed, ms } = await exchange("GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n", 3000);
  assert.deepEqual(statuses(text), [408]);
  assert.ok(closed);
  assert.ok(ms >= 250 && ms < 2000, `closed after ${ms} ms`);
});

test("malformed requests get 400 and a close", async () => {
  const { text, closed } = await exchange("GARBAGE\r\n\r\n");
  assert.deepEqual(statuses(text), [400]);
  assert.ok(closed);
});

test("other clients are unaffected by a bad one", async () => {
  const bad = exchange("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n");
  const res = await fetch(`${server.url}/engine.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  assert.deepEqual(statuses((await bad).text), [400]);
});
