// Browser test of the chat: Debian's chromium (never a downloaded browser)
// driven by playwright-core opens the page served by the chat server twice:
// page A as is (it must upgrade to WebSocket), page B without
// window.WebSocket (it must stay on polling). Both send a line and both see
// both lines. A screenshot of page A is left in artifacts/chat.png.
//
//   (cd tests/browser && npm ci)   # once
//   node --test tests/browser/chat.test.mjs             # build/server/sio-chat
//   SIO_REF=1 node --test tests/browser/chat.test.mjs   # tests/e2e/ref/ref-chat-server.mjs
//
// CHROMIUM=/path/to/chrome overrides /usr/bin/chromium.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer, withTimeout } from "../e2e/lib/server.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-chat-server.mjs" : "server/sio-chat";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = path.join(import.meta.dirname, "artifacts");
const WAIT = 10000; // any single wait in a page

let server;
let browser;
before(async () => {
  server = await startServer(PROGRAM);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    timeout: 30000,
  });
});
after(async () => {
  if (browser) await withTimeout(browser.close(), 15000, "browser close").catch(() => {});
  if (server) await server.stop();
});

// Opens the chat in its own context; records every request, WebSocket and
// error of the page.
async function openChat({ withoutWebSocket = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.setDefaultNavigationTimeout(WAIT);
  const seen = { requests: [], websockets: [], errors: [] };
  page.on("request", (r) => seen.requests.push(r.url()));
  page.on("websocket", (ws) => seen.websockets.push(ws.url()));
  page.on("pageerror", (err) => seen.errors.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") seen.errors.push(`console: ${msg.text()}`);
  });
  if (withoutWebSocket) {
    await page.addInitScript(() => {
      delete window.WebSocket;
      window.WebSocket = undefined;
    });
  }
  await page.goto(`${server.url}/`);
  return { page, seen };
}

const lines = (page) => page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));

async function waitForLine(page, line) {
  try {
    await page.waitForFunction(
      (want) => [...document.querySelectorAll("#messages li")].some((li) => li.textContent === want),
      line,
      { timeout: WAIT },
    );
  } catch (err) {
    assert.fail(`${JSON.stringify(line)} never appeared; the page has ${JSON.stringify(await lines(page))} (${err.message})`);
  }
}

async function send(page, text) {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

test("two browsers chat, one over WebSocket and one stuck on polling", { timeout: 90000 }, async () => {
  const a = await openChat();
  const b = await openChat({ withoutWebSocket: true });
  assert.equal(await b.page.evaluate(() => typeof window.WebSocket), "undefined");

  await a.page.waitForSelector('#status[data-state="connected"][data-transport="websocket"]');
  await b.page.waitForSelector('#status[data-state="connected"]');
  const idA = await a.page.evaluate(() => window.socket.id);
  const idB = await b.page.evaluate(() => window.socket.id);
  assert.match(idA, /^[A-Za-z0-9_-]{20}$/);
  assert.match(idB, /^[A-Za-z0-9_-]{20}$/);
  await waitForLine(a.page, `${idB} connected`);

  await send(a.page, "hello from A (websocket) ✓");
  await send(b.page, "hello from B (polling) 😀");
  for (const { page } of [a, b]) {
    await waitForLine(page, `${idA}: hello from A (websocket) ✓`);
    await waitForLine(page, `${idB}: hello from B (polling) 😀`);
  }
  assert.equal(await a.page.inputValue("#input"), "", "the input is cleared after sending");

  // Transports, as the page shows them and as the client has them.
  assert.equal(await a.page.getAttribute("#status", "data-transport"), "websocket");
  assert.equal(await a.page.evaluate(() => window.socket.io.engine.transport.name), "websocket");
  assert.equal(await b.page.getAttribute("#status", "data-transport"), "polling");
  assert.equal(await b.page.evaluate(() => window.socket.io.engine.transport.name), "polling");
  assert.ok(a.seen.websockets.length >= 1, "page A opened a WebSocket");
  assert.deepEqual(b.seen.websockets, [], "page B opened no WebSocket");

  // Nothing left our server: every request (page, script, style, polls)
  // and every WebSocket went to its origin.
  const origin = new URL(server.url).origin;
  const wsOrigin = origin.replace(/^http/, "ws");
  for (const { seen } of [a, b]) {
    assert.ok(seen.requests.length > 0);
    for (const url of seen.requests) {
      if (url.startsWith("data:")) continue; // inline resources are not requests to anyone
      assert.equal(new URL(url).origin, origin, `request to ${url}`);
    }
    for (const url of seen.websockets) assert.equal(new URL(url).origin, wsOrigin, `WebSocket to ${url}`);
  }
  for (const want of ["/", "/socket.io/socket.io.js"]) {
    assert.ok(a.seen.requests.some((u) => new URL(u).pathname === want), `page A requested ${want}`);
  }
  assert.ok(b.seen.requests.filter((u) => /\/socket\.io\/\?EIO=4&transport=polling/.test(u)).length >= 2, "page B polled");
  assert.deepEqual(a.seen.errors, [], "page A errors");
  assert.deepEqual(b.seen.errors, [], "page B errors");

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await a.page.screenshot({ path: path.join(ARTIFACTS, "chat.png"), timeout: WAIT });

  // B leaves: A is told.
  await b.page.context().close();
  await waitForLine(a.page, `${idB} disconnected`);
  await a.page.context().close();
});
