// Browser test of the chat: Debian's chromium (never a downloaded browser)
// driven by playwright-core opens the page served by the chat server twice:
// page A as is (it must upgrade to WebSocket), page B without
// window.WebSocket (it must stay on polling). Both send a line and both see
// both lines. A screenshot of page A is left in artifacts/chat.png. The
// scenario itself is in chat-lib.mjs (shared with tls.test.mjs, the same over
// https and wss).
//
//   (cd tests/browser && npm ci)   # once
//   node --test tests/browser/chat.test.mjs             # build/server/sio-chat
//   SIO_REF=1 node --test tests/browser/chat.test.mjs   # tests/e2e/ref/ref-chat-server.mjs
//
// CHROMIUM=/path/to/chrome overrides /usr/bin/chromium.
import { test, before, after } from "node:test";
import { startServer } from "../e2e/lib/server.mjs";
import { launchChromium, closeBrowser, twoPagesChat } from "./chat-lib.mjs";

const PROGRAM = process.env.SIO_REF ? "ref/ref-chat-server.mjs" : "server/sio-chat";

let server;
let browser;
before(async () => {
  server = await startServer(PROGRAM);
  browser = await launchChromium();
});
after(async () => {
  await closeBrowser(browser);
  if (server) await server.stop();
});

test("two browsers chat, one over WebSocket and one stuck on polling", { timeout: 90000 }, async () => {
  const { a } = await twoPagesChat(browser, server.url, "chat.png");
  await a.page.context().close();
});
