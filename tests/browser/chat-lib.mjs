// What the browser tests of the chat share: launching Debian's chromium
// (never a downloaded browser) through playwright-core, opening the chat page
// in a fresh context, and the two-page scenario: page A as is (it must
// upgrade to WebSocket), page B without window.WebSocket (it must stay on
// polling); both send a line and both see both lines; every request stays on
// the server's origin; B leaves and A is told.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { withTimeout } from "../e2e/lib/server.mjs";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ARTIFACTS = path.join(import.meta.dirname, "artifacts");
export const WAIT = 10000; // any single wait in a page

export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", ...extraArgs],
    timeout: 30000,
  });
}

export async function closeBrowser(browser) {
  if (browser) await withTimeout(browser.close(), 15000, "browser close").catch(() => {});
}

// Opens the chat at `url` in its own context; records every request,
// WebSocket and error of the page.
export async function openChat(browser, url, { withoutWebSocket = false } = {}) {
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
  await page.goto(url);
  return { page, seen };
}

export const lines = (page) => page.$$eval("#messages li", (lis) => lis.map((li) => li.textContent));

export async function waitForLine(page, line) {
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

export async function send(page, text) {
  await page.fill("#input", text);
  await page.press("#input", "Enter");
}

// The two-page chat against the server at `url` (its origin: "http://…" or
// "https://…"); a screenshot of page A is left in artifacts/<screenshot>.
// Returns the pages' records for further checks.
export async function twoPagesChat(browser, url, screenshot) {
  const a = await openChat(browser, `${url}/`);
  const b = await openChat(browser, `${url}/`, { withoutWebSocket: true });
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
  const origin = new URL(url).origin;
  const wsOrigin = origin.replace(/^http/, "ws");
  for (const { seen } of [a, b]) {
    assert.ok(seen.requests.length > 0);
    for (const u of seen.requests) {
      if (u.startsWith("data:")) continue; // inline resources are not requests to anyone
      assert.equal(new URL(u).origin, origin, `request to ${u}`);
    }
    for (const u of seen.websockets) assert.equal(new URL(u).origin, wsOrigin, `WebSocket to ${u}`);
  }
  for (const want of ["/", "/socket.io/socket.io.js"]) {
    assert.ok(a.seen.requests.some((u) => new URL(u).pathname === want), `page A requested ${want}`);
  }
  assert.ok(b.seen.requests.filter((u) => /\/socket\.io\/\?EIO=4&transport=polling/.test(u)).length >= 2, "page B polled");
  assert.deepEqual(a.seen.errors, [], "page A errors");
  assert.deepEqual(b.seen.errors, [], "page B errors");

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await a.page.screenshot({ path: path.join(ARTIFACTS, screenshot), timeout: WAIT });

  // B leaves: A is told.
  await b.page.context().close();
  await waitForLine(a.page, `${idB} disconnected`);
  return { a, b, idA, idB };
}
