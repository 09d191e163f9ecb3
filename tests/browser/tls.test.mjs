// Browser test of the chat over TLS: build/server/sio-chat with --tls-cert
// and --tls-key serves the page, /socket.io/socket.io.js and Socket.IO over
// https and wss. The certificate is signed by a throwaway CA made with the
// openssl CLI in a temp dir (removed afterwards). Chromium is told to accept
// exactly that server key (--ignore-certificate-errors-spki-list with its
// SPKI hash; no blanket --ignore-certificate-errors). Then the same scenario
// as chat.test.mjs (chat-lib.mjs): page A upgrades to wss, page B (no
// window.WebSocket) stays on https polling, both see both lines; every
// request is https on the server's origin, every WebSocket wss. A screenshot
// of page A is left in artifacts/chat-tls.png.
//
//   node --test tests/browser/tls.test.mjs     # build/server/sio-chat
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { startServer } from "../e2e/lib/server.mjs";
import { launchChromium, closeBrowser, twoPagesChat } from "./chat-lib.mjs";

// A CA and a server certificate (EC P-256, localhost and 127.0.0.1) signed
// by it, in `dir`: ca.pem, server.pem (leaf then CA), server.key.
function makeCerts(dir) {
  const ssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  ssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", "/CN=sio throwaway test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", "ca.pem");
  fs.writeFileSync(path.join(dir, "leaf.ext"), [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "",
  ].join("\n"));
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key");
  ssl("req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr");
  ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2", "-days", "2",
    "-sha256", "-extfile", "leaf.ext", "-out", "server.pem");
  fs.appendFileSync(path.join(dir, "server.pem"), fs.readFileSync(path.join(dir, "ca.pem")));
  const leaf = new crypto.X509Certificate(fs.readFileSync(path.join(dir, "server.pem")));
  const spki = leaf.publicKey.export({ type: "spki", format: "der" });
  return { dir, spkiHash: crypto.createHash("sha256").update(spki).digest("base64") };
}

let certs;
let server;
let browser;
before(async () => {
  certs = makeCerts(fs.mkdtempSync(path.join(os.tmpdir(), "sio-tls-browser-")));
  server = await startServer("server/sio-chat", [
    "--host", "127.0.0.1",
    "--tls-cert", path.join(certs.dir, "server.pem"),
    "--tls-key", path.join(certs.dir, "server.key"),
  ]);
  browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spkiHash}`]);
});
after(async () => {
  try {
    await closeBrowser(browser);
    if (server) await server.stop();
  } finally {
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  }
});

test("two browsers chat over TLS, one over wss and one stuck on https polling", { timeout: 90000 }, async () => {
  const url = `https://localhost:${server.port}`;
  const { a, b } = await twoPagesChat(browser, url, "chat-tls.png");
  // Every request was https and every WebSocket wss (twoPagesChat checked
  // the origin; this is explicit about the scheme).
  for (const { seen } of [a, b]) {
    for (const u of seen.requests) if (!u.startsWith("data:")) assert.match(u, /^https:\/\/localhost:/);
    for (const u of seen.websockets) assert.match(u, /^wss:\/\/localhost:/);
  }
  assert.ok(a.seen.websockets.length >= 1);
  // The page really is a secure context served over TLS.
  assert.equal(await a.page.evaluate(() => window.isSecureContext && location.protocol), "https:");
  await a.page.context().close();
  // The same server in clear text is refused with a hint.
  const res = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /https/);
});
