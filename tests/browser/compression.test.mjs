// Browser test of compression: Debian's chromium (playwright-core) opens the
// chat served by `sio-chat --per-message-deflate`. Through the DevTools
// protocol (Network domain) it checks what Chromium itself saw:
//  - page A (WebSocket): the 101 it received carries
//    Sec-WebSocket-Extensions: permessage-deflate (Chromium offers
//    "permessage-deflate; client_max_window_bits"), and the chat works over
//    it, a long line (compressed both ways: Chromium compresses what it
//    sends, sio what it sends at or above 1024 bytes) included;
//  - page B (no window.WebSocket, so long-polling): the poll that brings the
//    long line comes gzip-encoded (Chromium accepts gzip; sio's default
//    httpCompression), and the page shows it intact.
// A screenshot of page A is left in artifacts/chat-deflate.png.
//
//   node --test tests/browser/compression.test.mjs        # build/server/sio-chat
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { startServer } from "../e2e/lib/server.mjs";
import { launchChromium, closeBrowser, waitForLine, send, lines, ARTIFACTS, WAIT } from "./chat-lib.mjs";

let server;
let browser;
before(async () => {
  server = await startServer("server/sio-chat", ["--host", "127.0.0.1", "--per-message-deflate"]);
  browser = await launchChromium();
});
after(async () => {
  await closeBrowser(browser);
  if (server) await server.stop();
});

// Opens the chat with the Network domain on before the page loads, so no
// handshake or response is missed. Records WebSocket handshakes and the
// responses to Socket.IO polls (with their headers as Chromium got them).
async function openTraced(url, { withoutWebSocket = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const seen = { handshakes: [], polls: [], errors: [] };
  page.on("pageerror", (err) => seen.errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => msg.type() === "error" && seen.errors.push(`console: ${msg.text()}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  const requests = new Map();
  cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => requests.set(e.requestId, e.request.headers));
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) =>
    seen.handshakes.push({ request: requests.get(e.requestId) || {}, status: e.response.status, headers: e.response.headers }),
  );
  cdp.on("Network.responseReceived", (e) => {
    const u = new URL(e.response.url);
    if (u.pathname === "/socket.io/" && u.searchParams.get("transport") === "polling")
      seen.polls.push({ requestId: e.requestId, headers: e.response.headers, status: e.response.status });
  });
  seen.body = async (requestId) => (await cdp.send("Network.getResponseBody", { requestId })).body;
  if (withoutWebSocket) {
    await page.addInitScript(() => {
      delete window.WebSocket;
      window.WebSocket = undefined;
    });
  }
  await page.goto(url);
  return { page, seen, context };
}

// Header lookup, whatever case the browser reports them in.
const header = (headers, name) => {
  for (const [k, v] of Object.entries(headers || {})) if (k.toLowerCase() === name) return v;
  return undefined;
};

test("Chromium negotiates permessage-deflate with sio-chat and chats over it; polling gets gzip", { timeout: 90000 }, async () => {
  const a = await openTraced(`${server.url}/`);
  const b = await openTraced(`${server.url}/`, { withoutWebSocket: true });
  await a.page.waitForSelector('#status[data-state="connected"][data-transport="websocket"]');
  await b.page.waitForSelector('#status[data-state="connected"]');

  // The handshake, as Chromium saw it.
  const hs = a.seen.handshakes.filter((h) => h.status === 101);
  assert.ok(hs.length >= 1, "page A completed a WebSocket handshake");
  for (const h of hs) {
    assert.match(header(h.request, "sec-websocket-extensions") || "", /permessage-deflate/, "Chromium offered it");
    assert.equal(header(h.headers, "sec-websocket-extensions"), "permessage-deflate", "sio-chat accepted it");
  }

  const idA = await a.page.evaluate(() => window.socket.id);
  const idB = await b.page.evaluate(() => window.socket.id);
  await waitForLine(a.page, `${idB} connected`);

  await send(a.page, "short line, under the threshold");
  await waitForLine(b.page, `${idA}: short line, under the threshold`);

  // 1,800 bytes of text: the relayed line is well over 1024 bytes.
  const long = "compressed both ways ✓ ".repeat(75);
  await send(a.page, long);
  await send(b.page, `B read ${long.length} characters`);
  for (const { page } of [a, b]) {
    await waitForLine(page, `${idA}: ${long}`);
    await waitForLine(page, `${idB}: B read ${long.length} characters`);
  }

  // The poll that carried the long line to B was gzip'ed.
  const gz = [];
  for (const p of b.seen.polls) {
    if (header(p.headers, "content-encoding") !== "gzip") continue;
    gz.push(p);
  }
  assert.ok(gz.length >= 1, `a gzip'ed poll among ${b.seen.polls.length}`);
  const bodies = await Promise.all(gz.map((p) => b.seen.body(p.requestId).catch(() => "")));
  assert.ok(bodies.some((t) => t.includes(long)), "Chromium decoded it to the payload with the long line");
  // Small polls are sent as they are.
  assert.ok(b.seen.polls.some((p) => header(p.headers, "content-encoding") === undefined), "small polls plain");

  assert.equal(await a.page.evaluate(() => window.socket.io.engine.transport.name), "websocket");
  assert.equal(await b.page.evaluate(() => window.socket.io.engine.transport.name), "polling");
  assert.deepEqual(a.seen.errors, [], "page A errors");
  assert.deepEqual(b.seen.errors, [], "page B errors");
  assert.ok((await lines(a.page)).includes(`${idA}: ${long}`));

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await a.page.screenshot({ path: path.join(ARTIFACTS, "chat-deflate.png"), timeout: WAIT });
  await b.context.close();
  await waitForLine(a.page, `${idB} disconnected`);
  await a.context.close();
});
