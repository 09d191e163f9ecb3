// TLS (https and wss) end to end. A throwaway CA and two server certificates
// signed by it (an EC P-256 key in SEC1 form, with the chain leaf + CA in the
// certificate file; an RSA-2048 key in PKCS#8 form, leaf only), both for
// localhost and 127.0.0.1, are made with the openssl CLI in a temp dir that
// is removed afterwards. sio-echo-server runs with each; the npm
// socket.io-client, trusting the CA, echoes over wss, https polling and
// polling with upgrade (text, binary, acks, ~900 KB each way, hundreds of
// ordered events of sizes around the 16 KiB record size). Also: a client not
// trusting the CA is refused (the server logs the handshake failure) while a
// trusting one is not; plain HTTP on the TLS port gets a clear-text 400;
// garbage is closed; a silent or half-ClientHello client is closed after the
// handshake timeout; ALPN picks http/1.1; sessions resume (ticket and
// session-id cache); churn over wss and https polling returns /stats to its
// baseline; RSTs mid-handshake, mid-record (either direction) leave the
// server alive. Under the ASan build (SIO_BUILD contains "asan") stop()
// fails on any LSan report at exit (e.g. a leaked TLS context).
//
//   node --test tests/e2e/tls.test.mjs
//   SIO_BUILD=$PWD/build-asan ASAN_OPTIONS=detect_leaks=1 node --test tests/e2e/tls.test.mjs
import { test, describe, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import tls from "node:tls";
import https from "node:https";
import crypto from "node:crypto";
import { Duplex } from "node:stream";
import { execFileSync, execFile } from "node:child_process";
import { Manager } from "socket.io-client";
import { Socket as EioSocket } from "engine.io-client";
import { startServer, withTimeout, eventually } from "./lib/server.mjs";

const ASAN = /asan/i.test(process.env.SIO_BUILD || "");
const T = { timeout: ASAN ? 90000 : 30000 };
const HANDSHAKE_TIMEOUT = 300;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- certificates ----------------------------------------------------------

// Makes, in `dir`: ca.pem (+ ca.key), and for each of "ec" and "rsa" a key
// (<name>.key) and a certificate signed by the CA (<name>.pem; for "ec" the
// file holds the chain, leaf then CA).
function makeCerts(dir) {
  const ssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key");
  ssl("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "2", "-subj", "/CN=sio throwaway test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    "-out", "ca.pem");
  fs.writeFileSync(path.join(dir, "leaf.ext"), [
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "",
  ].join("\n"));
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"); // "BEGIN EC PRIVATE KEY"
  ssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key"); // "BEGIN PRIVATE KEY"
  for (const name of ["ec", "rsa"]) {
    ssl("req", "-new", "-key", `${name}.key`, "-subj", "/CN=localhost", "-out", `${name}.csr`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial",
      String(name === "ec" ? 2 : 3), "-days", "2", "-sha256", "-extfile", "leaf.ext", "-out", `${name}.pem`);
  }
  fs.appendFileSync(path.join(dir, "ec.pem"), fs.readFileSync(path.join(dir, "ca.pem")));
  // Another CA, trusted by a client that must then refuse our servers.
  ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "other-ca.key");
  ssl("req", "-x509", "-new", "-key", "other-ca.key", "-sha256", "-days", "2", "-subj", "/CN=some other CA",
    "-out", "other-ca.pem");
  return { ca: fs.readFileSync(path.join(dir, "ca.pem")), dir };
}

let certs;
const servers = {}; // ec, rsa: sio-echo-server; eio: eio-echo-server (EC)

function tlsArgs(name) {
  return [
    "--tls-cert", path.join(certs.dir, `${name}.pem`),
    "--tls-key", path.join(certs.dir, `${name}.key`),
    "--tls-handshake-timeout", String(HANDSHAKE_TIMEOUT),
  ];
}

before(async () => {
  certs = makeCerts(fs.mkdtempSync(path.join(os.tmpdir(), "sio-tls-")));
  const ping = ["--ping-interval", "500", "--ping-timeout", "1000"];
  [servers.ec, servers.rsa, servers.eio] = await Promise.all([
    startServer("tests/e2e/sio-echo-server", [...tlsArgs("ec"), ...ping]),
    startServer("tests/e2e/sio-echo-server", [...tlsArgs("rsa"), ...ping]),
    startServer("tests/e2e/eio-echo-server", [...tlsArgs("ec"), ...ping]),
  ]);
});
after(async () => {
  try {
    for (const s of Object.values(servers)) await s.stop();
  } finally {
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  }
});

// The EC server is addressed by name, the RSA one by IP: both SAN kinds are
// verified by the clients.
const urlOf = (srv) => `https://${srv === servers.rsa ? "127.0.0.1" : "localhost"}:${srv.port}`;

// ---- helpers ---------------------------------------------------------------

// GET over https on its own connection; resolves { status, headers, body }.
function httpsGet(srv, urlPath, opts = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1", servername: "localhost", port: srv.port, path: urlPath, ca: certs.ca, agent: false,
        headers: { connection: "close" }, ...opts,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function stats(srv) {
  const r = await httpsGet(srv, "/stats");
  assert.equal(r.status, 200);
  return JSON.parse(r.body);
}

// Waits until /stats shows `base` sessions and connections again.
async function settled(srv, base, ms = ASAN ? 10000 : 5000) {
  let last;
  const t0 = Date.now();
  for (;;) {
    last = await stats(srv);
    if (last.sessions === base.sessions && last.connections === base.connections) return last;
    if (Date.now() - t0 > ms) {
      assert.deepEqual(
        { sessions: last.sessions, connections: last.connections },
        { sessions: base.sessions, connections: base.connections },
        `/stats not back to its baseline after ${ms} ms`,
      );
    }
    await sleep(50);
  }
}

const MODES = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  "polling+upgrade": {},
};

const managers = new Set();
afterEach(() => {
  for (const m of managers) {
    for (const s of Object.values(m.nsps)) s.disconnect();
    m.disconnect();
  }
  managers.clear();
});

function open(srv, mode, opts = {}) {
  const m = new Manager(urlOf(srv), { ...MODES[mode], reconnection: false, timeout: 5000, ca: certs.ca, ...opts });
  managers.add(m);
  m.upgraded = false;
  m.engine.on("upgrade", () => (m.upgraded = true));
  return m;
}

function socketOn(m, nsp = "/") {
  const s = m.socket(nsp);
  s.events = {};
  s.onAny((event, ...args) => (s.events[event] ??= []).push(args));
  s.got = (event) => s.events[event] ?? [];
  return s;
}

function connected(s) {
  if (s.connected) return Promise.resolve(s);
  return withTimeout(
    new Promise((resolve, reject) => {
      s.once("connect", () => resolve(s));
      s.once("connect_error", (err) => reject(new Error(`connect_error: ${err.message} ${err.description?.message ?? ""}`)));
    }),
    ASAN ? 15000 : 5000,
    `connect to ${s.io.uri}`,
  );
}

const connect = (srv, mode, opts) => connected(socketOn(open(srv, mode, opts)));

async function nth(s, event, n = 1, ms = 15000) {
  await eventually(() => s.got(event).length >= n, ASAN ? ms * 3 : ms, `${n} "${event}" event(s) (got ${s.got(event).length})`);
  return s.got(event).slice(0, n);
}

async function checkTransport(s, mode) {
  const m = s.io;
  if (mode === "polling+upgrade") {
    await eventually(() => m.upgraded, 5000, "upgrade to websocket");
    assert.equal(m.engine.transport.name, "websocket");
  } else {
    assert.equal(m.upgraded, false);
    assert.equal(m.engine.transport.name, MODES[mode].transports[0]);
  }
}

function norm(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
  return v;
}

// A string of `bytes` UTF-8 bytes, mostly ASCII with some multi-byte
// characters, varying so that a misplaced or repeated chunk shows.
function text(bytes, seed = 0) {
  const parts = [];
  let n = 0;
  for (let i = seed; n < bytes - 16; i++) {
    const p = i % 7 === 0 ? `é✓${i}` : `${i.toString(36)}-`;
    parts.push(p);
    n += Buffer.byteLength(p);
  }
  return parts.join("") + ".".repeat(Math.max(0, bytes - n));
}

// A raw TCP exchange: sends `chunks` (with `gapMs` between them), returns
// what came back until the server closed (or `ms` passed) and when.
function rawExchange(port, chunks, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const data = [];
    const t0 = Date.now();
    const t = setTimeout(() => {
      sock.destroy();
      resolve({ data: Buffer.concat(data), closed: false, ms: Date.now() - t0 });
    }, ms);
    sock.on("connect", () => {
      for (const c of chunks) sock.write(c);
    });
    sock.on("data", (d) => data.push(d));
    sock.on("close", () => {
      clearTimeout(t);
      resolve({ data: Buffer.concat(data), closed: true, ms: Date.now() - t0 });
    });
    sock.on("error", (e) => e.code !== "ECONNRESET" && reject(e));
  });
}

// A real ClientHello, as node:tls would send it to `servername`.
function captureClientHello() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer((sock) => {
      sock.once("data", (d) => {
        resolve(d);
        sock.destroy();
        srv.close();
      });
    });
    srv.listen(0, "127.0.0.1", () => {
      const c = tls.connect({ port: srv.address().port, host: "127.0.0.1", servername: "localhost", ca: certs.ca });
      c.on("error", () => {});
    });
    srv.on("error", reject);
  });
}

// A node:tls connection to `srv` trusting the CA; resolves once secure.
function tlsConnect(srv, opts = {}) {
  return new Promise((resolve, reject) => {
    const c = tls.connect({ port: srv.port, host: "127.0.0.1", servername: "localhost", ca: certs.ca, ...opts });
    c.once("secureConnect", () => resolve(c));
    c.once("error", reject);
  });
}

// A TCP connection to `port` and a JS stream relaying to it, for a TLS
// client to run over: the TCP socket can then be reset (RST) at any moment
// without pulling it from under the TLS layer (resetting a net.Socket that
// node:tls wrapped directly crashes Node 20).
function relay(port, host = "127.0.0.1") {
  const raw = net.connect(port, host);
  const stream = new Duplex({
    read() {},
    write(chunk, enc, cb) {
      raw.write(chunk, cb);
    },
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on("data", (d) => stream.push(d));
  raw.on("end", () => stream.push(null));
  raw.on("error", () => {});
  return { raw, stream };
}

// Writes an HTTP/1.1 request on a TLS socket; resolves with the raw response
// read until the server closes.
function tlsRequest(c, request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    c.on("data", (d) => chunks.push(d));
    c.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    c.on("error", reject);
    c.write(request);
  });
}

// ---- echo over each transport ---------------------------------------------

for (const key of ["ec", "rsa"]) {
  for (const mode of Object.keys(MODES)) {
    describe(`${key} key: socket.io-client over ${mode} (TLS)`, () => {
      test("text, binary and acks echo; the transport is the expected one", T, async () => {
        const srv = servers[key];
        const s = await connect(srv, mode);
        assert.deepEqual(await nth(s, "auth"), [[{}]]);
        const bin = crypto.randomBytes(1000);
        s.emit("message", "héllo ✓", 42, { a: [1, null, true] });
        s.emit("message", bin, { nested: bin.subarray(0, 10) });
        const got = await nth(s, "message-back", 2);
        assert.deepEqual(got[0], ["héllo ✓", 42, { a: [1, null, true] }]);
        assert.deepEqual(norm(got[1]), [bin, { nested: bin.subarray(0, 10) }]);
        const acked = await s.timeout(5000).emitWithAck("message-with-ack", "ack me", bin);
        assert.deepEqual(norm(acked), "ack me"); // emitWithAck resolves with the first argument
        const both = await new Promise((resolve) => s.emit("message-with-ack", "x", bin, (...args) => resolve(args)));
        assert.deepEqual(norm(both), ["x", bin]);
        await checkTransport(s, mode);
        // The engine really runs over TLS.
        assert.match(s.io.uri, /^https:/);
      });

      if (key === "rsa") return; // the heavy cases once, on the EC server

      test("~900 KB each way (text, binary, through an ack)", T, async () => {
        const s = await connect(servers.ec, mode);
        const big = text(900 * 1000, 1);
        s.emit("message", big);
        const [[got]] = await nth(s, "message-back", 1);
        assert.equal(got.length, big.length);
        assert.ok(got === big, "900 KB string intact");
        // Polling carries binary as base64 (4/3 larger) in a body that must
        // stay under maxPayload (1e6): 700 KB there, 900 KB over WebSocket.
        const bin = crypto.randomBytes(mode === "websocket" ? 900 * 1024 : 700 * 1024);
        s.emit("message", bin);
        const [, [gotBin]] = await nth(s, "message-back", 2);
        assert.ok(norm(gotBin).equals(bin), `${bin.length} B binary intact`);
        const acked = await s.timeout(ASAN ? 45000 : 15000).emitWithAck("message-with-ack", big);
        assert.ok(acked === big, "900 KB string intact through an ack");
        await checkTransport(s, mode);
      });

      test("400 ordered events of sizes around the 16 KiB record", T, async () => {
        const s = await connect(servers.ec, mode);
        // 0 B .. ~40 KB, many within a few bytes of 16384 and 32768.
        const sizes = Array.from({ length: 400 }, (_, i) =>
          i % 4 === 0 ? 16384 + (i % 9) - 4 : i % 4 === 1 ? 32768 + (i % 7) - 3 : (i * 2731) % 40000);
        const sent = sizes.map((n, i) => (i % 5 === 4 ? crypto.randomBytes(n) : text(n, i)));
        for (let i = 0; i < sent.length; i++) s.emit("message", i, sent[i]);
        const got = await nth(s, "message-back", sent.length, 25000);
        for (let i = 0; i < sent.length; i++) {
          assert.equal(got[i][0], i, `event ${i} in order`);
          const v = norm(got[i][1]);
          if (Buffer.isBuffer(sent[i])) assert.ok(v.equals(sent[i]), `binary event ${i} intact`);
          else assert.ok(v === sent[i], `text event ${i} intact`);
        }
        await checkTransport(s, mode);
      });
    });
  }
}

test("eio-echo-server: engine.io-client echoes over wss and https polling", T, async () => {
  for (const transports of [["websocket"], ["polling"]]) {
    const s = new EioSocket(urlOf(servers.eio), { path: "/engine.io/", transports, ca: certs.ca });
    const got = [];
    s.on("message", (m) => got.push(m));
    await withTimeout(new Promise((resolve, reject) => {
      s.once("open", resolve);
      s.once("error", reject);
    }), 5000, `open over ${transports}`);
    const bin = crypto.randomBytes(40000);
    s.send("hi ✓");
    s.send(bin);
    await eventually(() => got.length >= 2, 5000, "two echoes");
    assert.equal(got[0], "hi ✓");
    assert.ok(norm(got[1]).equals(bin));
    assert.equal(s.transport.name, transports[0]);
    s.close();
  }
});

// ---- trust ----------------------------------------------------------------

describe("trust", () => {
  test("a client not trusting the CA is refused; a trusting one on the same server is not", T, async () => {
    const srv = servers.ec;
    const trusting = await connect(srv, "websocket");
    const errorsBefore = (srv.stderr.match(/tls: handshake with .* failed/g) || []).length;
    for (const mode of ["websocket", "polling"]) {
      const s = socketOn(open(srv, mode, { ca: undefined }));
      const err = await withTimeout(
        new Promise((resolve, reject) => {
          s.once("connect", () => reject(new Error(`an untrusting client connected over ${mode}`)));
          s.once("connect_error", resolve);
        }),
        5000,
        `connect_error over ${mode}`,
      );
      assert.ok(err instanceof Error);
    }
    // Node checks the chain only once the handshake is over and then just
    // closes, without an alert: the server cannot tell. openssl s_client
    // trusting another CA aborts the handshake with an alert, which the
    // server logs as a failed handshake.
    const sclient = await new Promise((resolve) => {
      const p = execFile("openssl", [
        "s_client", "-connect", `127.0.0.1:${srv.port}`, "-servername", "localhost",
        "-CAfile", path.join(certs.dir, "other-ca.pem"), "-verify_return_error",
      ], { timeout: 10000 }, (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stderr }));
      p.stdin.end();
    });
    assert.notEqual(sclient.code, 0, "s_client refused the server");
    assert.match(sclient.stderr, /verify error|certificate verify failed|unable to get local issuer/i);
    await eventually(
      () => (srv.stderr.match(/tls: handshake with .* failed/g) || []).length > errorsBefore,
      3000,
      `the server logs the handshake failure:\n${srv.stderr.slice(-2000)}`,
    );
    assert.match(srv.stderr, /tls: handshake with 127\.0\.0\.1 failed: .*alert/i);
    trusting.emit("message", "still here");
    assert.deepEqual(await nth(trusting, "message-back"), [["still here"]]);
    // And a new trusting client connects fine.
    const again = await connect(srv, "polling");
    again.emit("message", "me too");
    assert.deepEqual(await nth(again, "message-back"), [["me too"]]);
  });

  test("the server presents the chain it was given (EC: leaf + CA; RSA: leaf)", T, async () => {
    const c = await tlsConnect(servers.ec);
    const leaf = c.getPeerCertificate(true);
    assert.equal(leaf.subject.CN, "localhost");
    assert.match(leaf.subjectaltname, /DNS:localhost/);
    assert.match(leaf.subjectaltname, /IP Address:127.0.0.1/);
    assert.equal(leaf.asn1Curve, "prime256v1");
    assert.equal(leaf.issuerCertificate.subject.CN, "sio throwaway test CA");
    assert.equal(c.getProtocol(), "TLSv1.2");
    c.destroy();
    const r = await tlsConnect(servers.rsa, { servername: undefined });
    const rleaf = r.getPeerCertificate();
    assert.equal(rleaf.bits, 2048);
    assert.match(r.getCipher().name, /RSA/);
    r.destroy();
  });
});

// ---- not TLS --------------------------------------------------------------

describe("not TLS on the TLS port", () => {
  test("plain HTTP gets a clear-text 400 saying to use https, then a close", T, async () => {
    const srv = servers.ec;
    const { data, closed } = await rawExchange(srv.port, ["GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\n\r\n"]);
    assert.ok(closed, "closed by the server");
    const resp = data.toString("latin1");
    assert.match(resp, /^HTTP\/1.1 400 Bad Request\r\n/);
    const [head, body] = resp.split("\r\n\r\n");
    assert.match(head, /\r\nConnection: close/i);
    const len = Number(/\r\nContent-Length: (\d+)/i.exec(head)?.[1]);
    assert.equal(Buffer.byteLength(body), len, "the whole body, as announced");
    assert.match(body, /https/);
    // Through node:http as well (no reset before the answer is read).
    const res = await fetch(`http://127.0.0.1:${srv.port}/stats`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /https:\/\//);
    assert.match(srv.stderr, /plain HTTP from .* answered 400/);
  });

  test("garbage that is neither TLS nor HTTP is closed without an answer", T, async () => {
    const srv = servers.ec;
    for (const junk of [crypto.randomBytes(64).fill(0, 0, 1), Buffer.from("hello there\r\n"), Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])]) {
      const t0 = Date.now();
      const { data, closed } = await rawExchange(srv.port, [junk]);
      assert.ok(closed, `closed after ${junk.subarray(0, 4).toString("hex")}`);
      assert.equal(data.length, 0, "nothing sent back");
      assert.ok(Date.now() - t0 < HANDSHAKE_TIMEOUT, "at once, not by the handshake timeout");
    }
    // A handshake record header followed by junk: closed (perhaps after an alert).
    const junk = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), crypto.randomBytes(64)]);
    const { data, closed } = await rawExchange(srv.port, [junk]);
    assert.ok(closed);
    if (data.length) assert.equal(data[0], 0x15, `only an alert comes back, got ${data.toString("hex")}`);
    const s = await connect(srv, "websocket");
    s.emit("message", "ok");
    assert.deepEqual(await nth(s, "message-back"), [["ok"]]);
  });

  test("a silent client, and one that stops half-way through its ClientHello, are closed after the handshake timeout", T, async () => {
    const srv = servers.ec;
    const hello = await captureClientHello();
    assert.equal(hello[0], 0x16);
    const silent = rawExchange(srv.port, [], 5000);
    const half = rawExchange(srv.port, [hello.subarray(0, hello.length >> 1)], 5000);
    const oneByte = rawExchange(srv.port, [hello.subarray(0, 1)], 5000);
    for (const [what, r] of [["silent", await silent], ["half a ClientHello", await half], ["one byte", await oneByte]]) {
      assert.ok(r.closed, `${what}: closed`);
      assert.equal(r.data.length, 0, `${what}: nothing sent back`);
      assert.ok(r.ms >= HANDSHAKE_TIMEOUT - 50, `${what}: not before the timeout (${r.ms} ms)`);
      assert.ok(r.ms < HANDSHAKE_TIMEOUT + (ASAN ? 3000 : 1500), `${what}: soon after the timeout (${r.ms} ms)`);
    }
    assert.match(srv.stderr, /handshake not finished in time/);
    // A finished handshake is not subject to it: an idle TLS connection outlives it.
    const c = await tlsConnect(srv);
    await sleep(HANDSHAKE_TIMEOUT * 2);
    const resp = await tlsRequest(c, "GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert.match(resp, /^HTTP\/1.1 200 /);
  });
});

// ---- ALPN, resumption -------------------------------------------------------

describe("TLS features", () => {
  test("ALPN: offered h2 and http/1.1, http/1.1 is chosen", T, async () => {
    const c = await tlsConnect(servers.ec, { ALPNProtocols: ["h2", "http/1.1"] });
    assert.equal(c.alpnProtocol, "http/1.1");
    const resp = await tlsRequest(c, "GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert.match(resp, /^HTTP\/1.1 200 /);
    assert.match(resp, /"sessions":/);
    // Only h2 offered: no protocol agreed (the server does not speak h2).
    const d = await tlsConnect(servers.ec, { ALPNProtocols: ["h2"] }).catch((e) => e);
    if (d instanceof Error) assert.match(d.message, /alpn|protocol|alert/i);
    else {
      assert.notEqual(d.alpnProtocol, "h2");
      d.destroy();
    }
  });

  async function resumes(srv, opts) {
    const first = await tlsConnect(srv, opts);
    assert.equal(first.isSessionReused(), false);
    // TLS 1.2: the session (and ticket, if any) is known once connected.
    const session = first.getSession();
    assert.ok(session, "a session to resume");
    first.end();
    const second = await tlsConnect(srv, { ...opts, session });
    const reused = second.isSessionReused();
    const resp = await tlsRequest(second, "GET /stats HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert.match(resp, /^HTTP\/1.1 200 /);
    return reused;
  }

  test("session resumption with a ticket", T, async () => {
    assert.equal(await resumes(servers.ec, {}), true, "session reused (ticket)");
    assert.equal(await resumes(servers.rsa, { servername: undefined }), true, "session reused (ticket, RSA)");
  });

  test("session resumption from the server's cache (no ticket)", T, async () => {
    const opts = { secureOptions: crypto.constants.SSL_OP_NO_TICKET };
    assert.equal(await resumes(servers.ec, opts), true, "session reused (session id)");
  });
});

// ---- churn and resets -----------------------------------------------------

describe("churn and resets over TLS", () => {
  const CYCLES = 300;

  test(`${CYCLES} connect/echo/disconnect cycles over wss and https polling; /stats back to baseline`, { timeout: ASAN ? 120000 : 40000 }, async () => {
    const srv = servers.ec;
    const base = await settled(srv, await stats(srv));
    let done = 0;
    const cycle = async (i) => {
      // Two in three over wss; the others over https polling, every other
      // one keeping its connection alive between requests (as browsers do).
      const mode = i % 3 === 2 ? "polling" : "websocket";
      const agent = mode === "polling" && i % 2 ? new https.Agent({ keepAlive: true, ca: certs.ca }) : undefined;
      const m = new Manager(urlOf(srv), { ...MODES[mode], reconnection: false, timeout: 10000, ca: certs.ca, agent });
      const s = socketOn(m);
      try {
        await connected(s);
        s.emit("message", i);
        await eventually(() => s.got("message-back").length === 1, ASAN ? 15000 : 5000, `echo ${i}`);
        assert.deepEqual(s.got("message-back")[0], [i]);
        done++;
      } finally {
        s.disconnect();
        m.engine?.close();
        // The agent's pool is emptied once the engine's last request (the
        // close packet's POST) is out.
        if (agent) {
          await sleep(100);
          agent.destroy();
        }
      }
    };
    const CONC = 20;
    for (let i = 0; i < CYCLES; i += CONC) {
      await Promise.all(Array.from({ length: Math.min(CONC, CYCLES - i) }, (_, k) => cycle(i + k)));
    }
    assert.equal(done, CYCLES);
    await settled(srv, base);
  });

  test("RST mid-handshake, mid-record (client → server and server → client): the server survives", T, async () => {
    const srv = servers.ec;
    const base = await settled(srv, await stats(srv));
    const hello = await captureClientHello();
    const rst = (sock) => sock.resetAndDestroy();

    // 1. Half a ClientHello, then RST (several times, concurrently).
    await Promise.all(Array.from({ length: 20 }, () => new Promise((resolve) => {
      const sock = net.connect(srv.port, "127.0.0.1", () => {
        sock.write(hello.subarray(0, hello.length >> 1), () => setTimeout(() => (rst(sock), resolve()), 20));
      });
      sock.on("error", () => {});
    })));

    // 2. A full ClientHello, the server's answer read, then RST.
    await new Promise((resolve) => {
      const sock = net.connect(srv.port, "127.0.0.1", () => sock.write(hello));
      sock.once("data", () => (rst(sock), resolve()));
      sock.on("error", () => {});
    });

    // 3. Established, then the header of a 16 KiB application-data record
    //    and a part of its body, then RST.
    for (let k = 0; k < 10; k++) {
      const { raw, stream } = relay(srv.port);
      const c = await tlsConnect(srv, { socket: stream });
      await new Promise((resolve) => raw.write(Buffer.concat([Buffer.from([0x17, 0x03, 0x03, 0x40, 0x18]), crypto.randomBytes(100 + k * 500)]), resolve));
      await sleep(10);
      rst(raw);
      c.destroy();
    }

    // 4. A polling session whose GET gets a 3 × 900 KB answer: RST after
    //    the first bytes of it (the server is mid-write, mid-record).
    for (let k = 0; k < 3; k++) {
      const hs = await httpsGet(srv, "/socket.io/?EIO=4&transport=polling");
      assert.equal(hs.status, 200);
      const sid = JSON.parse(hs.body.toString().slice(1)).sid;
      const post = (body) => new Promise((resolve, reject) => {
        const req = https.request({
          host: "127.0.0.1", servername: "localhost", port: srv.port, method: "POST", ca: certs.ca, agent: false,
          path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
          headers: { connection: "close", "content-type": "text/plain;charset=UTF-8" },
        }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        });
        req.on("error", reject);
        req.end(body);
      });
      assert.equal(await post("40"), 200);
      // The CONNECT answer ("40{sid}", "42[auth]") first.
      const first = await httpsGet(srv, `/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      assert.match(first.body.toString(), /^40/);
      for (let j = 0; j < 3; j++) assert.equal(await post(`42${JSON.stringify(["message", text(900 * 1000, k + j)])}`), 200);
      const { raw, stream } = relay(srv.port);
      const c = await tlsConnect(srv, { socket: stream });
      c.write(`GET /socket.io/?EIO=4&transport=polling&sid=${sid} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      // Stop reading at the first bytes, so that the server still has
      // ciphertext to write when the reset comes.
      await new Promise((resolve) => raw.once("data", resolve));
      raw.pause();
      await sleep(30);
      rst(raw);
      c.destroy();
    }

    // 5. A wss client asks for 3 × 900 KB back and its TCP connection is
    //    reset as the answer starts to arrive (an agent keeps the TCP socket).
    for (let k = 0; k < 3; k++) {
      const agent = new (class extends https.Agent {
        createConnection(options) {
          const { raw, stream } = relay(options.port, options.host);
          this.raw = raw;
          return tls.connect({ ...options, socket: stream });
        }
      })({ keepAlive: false });
      const s = await connect(srv, "websocket", { agent });
      for (let j = 0; j < 3; j++) s.emit("message", text(900 * 1000, k + j));
      await new Promise((resolve) => agent.raw.once("data", resolve));
      agent.raw.pause();
      await sleep(30);
      rst(agent.raw);
    }

    // Alive, serving, and back to where it was (dropped polling sessions go
    // by the ping timeout: 500 + 1000 ms).
    const s = await connect(srv, "polling");
    s.emit("message", "alive");
    assert.deepEqual(await nth(s, "message-back"), [["alive"]]);
    s.disconnect();
    await settled(srv, base, ASAN ? 15000 : 8000);
  });
});
