// Compression, both kinds the reference has:
//  - permessage-deflate (RFC 7692) on WebSocket, off by default: what the
//    101 answers to offers (as ws), RSV1 on the server's frames at or above
//    the threshold and not below, compressed client messages (fragmented
//    too) inflated, maxPayload applied to the inflated size (close 1009),
//    RSV1 without negotiation (1002); then the npm clients (Node's `ws` under
//    socket.io-client negotiates it by default) with large messages,
//    attachments, an upgrade and a broadcast; sio-chat's flag;
//  - gzip/deflate of long-polling bodies, on by default (engine.io's
//    httpCompression, threshold 1024): the encoding the Accept-Encoding
//    prefers, bodies that decode to the payload, nothing below the threshold
//    or without Accept-Encoding, and the flags that change it.
//
// A bare TCP WebSocket client (rawWs) shows what `ws` hides: the 101's
// headers and the RSV1 bit of each server frame.
//
//   node --test tests/e2e/compression.test.mjs             # build/
//   SIO_REF=1 node --test tests/e2e/compression.test.mjs   # Node's engine.io / socket.io
//
// Under SIO_REF the few places where sio differs on purpose are checked the
// reference's way, each marked "reference:".
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import { spawnSync } from "node:child_process";
import path from "node:path";
import zlib from "node:zlib";
import WebSocket from "ws";
import { io } from "socket.io-client";
import { startServer, once, withTimeout, eventually } from "./lib/server.mjs";

const REF = !!process.env.SIO_REF;
const BUILD = process.env.SIO_BUILD || path.resolve(import.meta.dirname, "../../build");
const EIO = REF ? "ref/ref-compression-server.mjs" : "tests/e2e/eio-echo-server";
const SIO = REF ? "ref/ref-compression-server.mjs" : "tests/e2e/sio-echo-server";
const eioArgs = (args = []) => (REF ? ["--engine", ...args] : args);
const EIO_WS = "/engine.io/?EIO=4&transport=websocket";
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// ---- a WebSocket client on a bare socket ------------------------------------------

async function rawWs(port, url, extensions) {
  const sock = net.connect(port, "127.0.0.1");
  await once(sock, "connect");
  const key = crypto.randomBytes(16).toString("base64");
  sock.write(
    `GET ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (extensions === undefined ? "" : `Sec-WebSocket-Extensions: ${extensions}\r\n`) +
      "\r\n",
  );
  let buf = Buffer.alloc(0);
  let head = null;
  let closed = false;
  const frames = [];
  let wake = () => {};
  const parse = () => {
    if (!head) {
      const i = buf.indexOf("\r\n\r\n");
      if (i < 0) return;
      const lines = buf.subarray(0, i).toString("latin1").split("\r\n");
      const headers = {};
      for (const l of lines.slice(1)) {
        const c = l.indexOf(":");
        headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
      }
      head = { status: Number(lines[0].split(" ")[1]), headers };
      buf = buf.subarray(i + 4);
      if (head.status !== 101) {
        head.body = buf.toString();
        return;
      }
    }
    while (buf.length >= 2) {
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) break;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) break;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) break;
      frames.push({
        fin: !!(buf[0] & 0x80),
        rsv1: !!(buf[0] & 0x40),
        opcode: buf[0] & 0x0f,
        payload: Buffer.from(buf.subarray(off, off + len)),
      });
      buf = buf.subarray(off + len);
    }
  };
  sock.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    parse();
    wake();
  });
  sock.on("close", () => {
    closed = true;
    wake();
  });
  sock.on("error", () => {});
  const until = (cond, what) =>
    withTimeout(
      new Promise((resolve) => {
        const check = () => (cond() ? resolve() : (wake = check));
        check();
      }),
      5000,
      what,
    );
  return {
    async head() {
      await until(() => head || closed, "the 101");
      if (head && head.status !== 101) await until(() => closed, "the refusal's end");
      if (head && head.status !== 101) head.body = buf.toString();
      return head;
    },
    async frame() {
      await until(() => frames.length || closed, "a frame");
      if (!frames.length) throw new Error("connection closed");
      return frames.shift();
    },
    // The next data frame whose text does not start with "2" (pings).
    async message() {
      for (;;) {
        const f = await this.frame();
        if (f.opcode === 1 && !f.rsv1 && f.payload.toString() === "2") continue;
        return f;
      }
    },
    send(opcode, payload, { fin = true, rsv1 = false } = {}) {
      const data = Buffer.from(payload);
      const mask = crypto.randomBytes(4);
      const n = data.length;
      const len = n <= 125 ? Buffer.from([0x80 | n]) : n <= 0xffff ? Buffer.alloc(3) : Buffer.alloc(9);
      if (n > 125 && n <= 0xffff) (len[0] = 0xfe), len.writeUInt16BE(n, 1);
      if (n > 0xffff) (len[0] = 0xff), len.writeBigUInt64BE(BigInt(n), 1);
      const b0 = Buffer.from([(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode]);
      for (let i = 0; i < n; i++) data[i] ^= mask[i & 3];
      sock.write(Buffer.concat([b0, len, mask, data]));
    },
    async closed() {
      await until(() => closed, "the close");
    },
    destroy() {
      sock.destroy();
    },
  };
}

// A message as a client compresses it (no context: always valid).
const deflate = (data) => {
  const z = zlib.deflateRawSync(Buffer.from(data), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(z.subarray(-4), TAIL);
  return z.subarray(0, -4);
};

// The client's inflater: the server's window carries over (context takeover).
function contextInflater() {
  const z = zlib.createInflateRaw();
  const chunks = [];
  z.on("data", (c) => chunks.push(c));
  return (payload) =>
    new Promise((resolve, reject) => {
      z.once("error", reject);
      z.write(Buffer.concat([payload, TAIL]));
      z.flush(() => {
        const out = Buffer.concat(chunks);
        chunks.length = 0;
        resolve(out);
      });
    });
}

// The client's deflater, keeping its window as a client with context
// takeover does: a repeated message becomes a back-reference.
function contextDeflater() {
  const z = zlib.createDeflateRaw();
  const chunks = [];
  z.on("data", (c) => chunks.push(c));
  return (data) =>
    new Promise((resolve) => {
      z.write(Buffer.from(data));
      z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(chunks);
        chunks.length = 0;
        resolve(out.subarray(0, -4));
      });
    });
}

// One message without context (server_no_context_takeover), or any inflate
// of a sync-flushed message that is not the end of a stream.
const inflateAlone = (payload) =>
  zlib.inflateRawSync(Buffer.concat([payload, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });

const closeCode = (f) => (f.opcode === 8 && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null);

// ---- permessage-deflate ---------------------------------------------------------------

describe("permessage-deflate on the Engine.IO echo server", () => {
  let server;
  before(async () => {
    server = await startServer(EIO, eioArgs(["--per-message-deflate", "--max-payload", "100000"]));
  });
  after(() => server.stop());

  test("an offer like Chromium's is accepted; RSV1 on frames at or above 1024 bytes only", async () => {
    const ws = await rawWs(server.port, EIO_WS, "permessage-deflate; client_max_window_bits");
    const head = await ws.head();
    assert.equal(head.status, 101);
    assert.equal(head.headers["sec-websocket-extensions"], "permessage-deflate");
    const inflate = contextInflater();
    const open = await ws.frame();
    // reference: engine.io 6.6 sends every message with ws's default
    // compress: true, and ws applies the threshold only without context
    // takeover, so even the open packet is compressed there.
    assert.equal(open.rsv1, REF, "the open packet (107 bytes)");
    const openText = (open.rsv1 ? await inflate(open.payload) : open.payload).toString();
    assert.match(openText, /^0\{"sid":/);
    for (const size of [1022, 1023, 5000, 5000, 30000]) {
      const msg = "4" + "compress me ".repeat(size).slice(0, size);
      ws.send(1, msg);
      const f = await ws.message();
      assert.equal(f.opcode, 1);
      const want = msg.length >= 1024 || REF;
      assert.equal(f.rsv1, want, `RSV1 for a ${msg.length}-byte frame`);
      const text = (f.rsv1 ? await inflate(f.payload) : f.payload).toString();
      assert.equal(text, msg, `echo of ${msg.length} bytes`);
      if (f.rsv1) assert.ok(f.payload.length < msg.length / 4, `${msg.length} B went as ${f.payload.length} B`);
    }
    ws.destroy();
  });

  test("context takeover: a repeated message costs a few bytes the second time", async () => {
    const ws = await rawWs(server.port, EIO_WS, "permessage-deflate");
    await ws.head();
    const inflate = contextInflater();
    const open = await ws.frame();
    if (open.rsv1) await inflate(open.payload);
    const msg = "4" + crypto.randomBytes(3000).toString("base64");
    const sizes = [];
    for (let i = 0; i < 2; i++) {
      ws.send(1, msg);
      const f = await ws.message();
      assert.ok(f.rsv1);
      assert.equal((await inflate(f.payload)).toString(), msg);
      sizes.push(f.payload.length);
    }
    assert.ok(sizes[0] > 2900 && sizes[1] < 50, `sizes ${sizes}`);
    ws.destroy();
  });

  test("an idle connection's streams go, its windows stay: both sides still refer back", { timeout: 30000 }, async () => {
    // sio frees the zlib streams of a connection idle for 10 s and keeps
    // only each direction's window; the next messages must not notice.
    const ws = await rawWs(server.port, EIO_WS, "permessage-deflate");
    await ws.head();
    const inflate = contextInflater(), deflateCtx = contextDeflater();
    const open = await ws.frame();
    if (open.rsv1) await inflate(open.payload);
    const msg = "4" + crypto.randomBytes(2400).toString("base64");
    const sizes = [];
    for (let round = 0; round < 2; round++) {
      if (round) await new Promise((r) => setTimeout(r, 10500));
      const z = await deflateCtx(msg);
      if (round) assert.ok(z.length < 50, `the client's repeat refers back (${z.length} B)`);
      ws.send(1, z, { rsv1: true });
      const f = await ws.message();
      assert.ok(f.rsv1);
      assert.equal((await inflate(f.payload)).toString(), msg, `round ${round}`);
      sizes.push(f.payload.length);
    }
    assert.ok(sizes[1] < 50, `the server's repeat refers back after the idle period: ${sizes}`);
    ws.destroy();
  });

  test("server_no_context_takeover: each message inflates alone", async () => {
    const ws = await rawWs(server.port, EIO_WS, "permessage-deflate; server_no_context_takeover");
    assert.equal((await ws.head()).headers["sec-websocket-extensions"], "permessage-deflate; server_no_context_takeover");
    await ws.frame();
    const msg = "4" + "no context ".repeat(300);
    for (let i = 0; i < 3; i++) {
      ws.send(1, msg);
      const f = await ws.message();
      assert.ok(f.rsv1);
      const fresh = inflateAlone(f.payload);
      assert.equal(fresh.toString(), msg, `message ${i} without the previous ones`);
    }
    ws.destroy();
  });

  test("compressed client messages are inflated: whole, fragmented, binary, empty", async () => {
    const ws = await rawWs(server.port, EIO_WS, "permessage-deflate; client_max_window_bits");
    await ws.head();
    const inflate = contextInflater();
    const readText = async () => {
      const f = await ws.message();
      return { f, text: (f.rsv1 ? await inflate(f.payload) : f.payload).toString() };
    };
    const open = await ws.frame();
    if (open.rsv1) await inflate(open.payload);

    const whole = "4" + "a whole compressed message ".repeat(100);
    ws.send(1, deflate(whole), { rsv1: true });
    assert.equal((await readText()).text, whole);

    // RSV1 on the first frame only; a ping between the fragments.
    const frag = "4" + "fragmented ✓ ".repeat(400);
    const z = deflate(frag);
    const a = Math.floor(z.length / 3), b = Math.floor((2 * z.length) / 3);
    ws.send(1, z.subarray(0, a), { rsv1: true, fin: false });
    ws.send(0, z.subarray(a, b), { fin: false });
    ws.send(9, "ping?");
    ws.send(0, z.subarray(b));
    const pong = await ws.frame();
    assert.equal(pong.opcode, 10);
    assert.equal(pong.payload.toString(), "ping?");
    assert.equal((await readText()).text, frag);

    const bin = crypto.randomBytes(2000);
    ws.send(2, deflate(Buffer.concat([bin, bin])), { rsv1: true });
    const fb = await ws.message();
    assert.equal(fb.opcode, 2);
    const echoed = fb.rsv1 ? await inflate(fb.payload) : fb.payload;
    assert.deepEqual(echoed, Buffer.concat([bin, bin]));

    ws.send(1, Buffer.from([0x00]), { rsv1: true }); // an empty message: not an Engine.IO packet
    const end = await ws.frame();
    assert.equal(end.opcode, 8, "an empty text message does not decode: the session ends");
    ws.destroy();
  });

  test("maxPayload applies to the inflated size: a small zip bomb is closed with 1009", async () => {
    const ws = await rawWs(server.port, EIO_WS, "permessage-deflate");
    await ws.head();
    await ws.frame();
    const fits = "4" + "x".repeat(90000);
    ws.send(1, deflate(fits), { rsv1: true });
    const ok1 = await ws.message();
    const inflated = ok1.rsv1 ? inflateAlone(ok1.payload) : ok1.payload;
    assert.equal(inflated.length, fits.length, "90 KB inflated is under the 100 KB limit");
    const bomb = deflate("4" + "0".repeat(5_000_000));
    assert.ok(bomb.length < 10000, `5 MB in ${bomb.length} B`);
    ws.send(1, bomb, { rsv1: true });
    let f;
    do f = await ws.frame();
    while (f.opcode !== 8);
    assert.equal(closeCode(f), 1009);
    await ws.closed();
  });

  test("RSV1 on a continuation or a control frame: 1002", async () => {
    for (const [what, frames] of [
      ["continuation", [[1, "4ab", { fin: false }], [0, "cd", { rsv1: true }]]],
      ["ping", [[9, "x", { rsv1: true }]]],
    ]) {
      const ws = await rawWs(server.port, EIO_WS, "permessage-deflate");
      await ws.head();
      await ws.frame();
      for (const [op, p, o] of frames) ws.send(op, p, o);
      let f;
      do f = await ws.frame();
      while (f.opcode !== 8);
      assert.equal(closeCode(f), 1002, what);
      ws.destroy();
    }
  });

  test("offers: invalid ones refused with 400 as ws does, unknown extensions ignored", async () => {
    for (const bad of ["permessage-deflate; foo", "permessage-deflate; server_max_window_bits=7", "permessage-deflate;", "a b"]) {
      const ws = await rawWs(server.port, EIO_WS, bad);
      const head = await ws.head();
      assert.equal(head.status, 400, bad);
      assert.equal(head.body, "Invalid or unacceptable Sec-WebSocket-Extensions header", bad);
    }
    for (const [offer, answer] of [
      ["x-webkit-deflate-frame", undefined],
      ["foo, permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10"],
      ["permessage-deflate; server_max_window_bits=9, permessage-deflate", "permessage-deflate; server_max_window_bits=9"],
    ]) {
      const ws = await rawWs(server.port, EIO_WS, offer);
      const head = await ws.head();
      assert.equal(head.status, 101, offer);
      assert.equal(head.headers["sec-websocket-extensions"], answer, offer);
      ws.destroy();
    }
  });

  test("RSV1 without an agreed extension: 1002", async () => {
    const ws = await rawWs(server.port, EIO_WS); // no offer
    const head = await ws.head();
    assert.equal(head.headers["sec-websocket-extensions"], undefined);
    await ws.frame();
    ws.send(1, deflate("4hello"), { rsv1: true });
    let f;
    do f = await ws.frame();
    while (f.opcode !== 8);
    assert.equal(closeCode(f), 1002);
    ws.destroy();
  });

  test("the npm ws client: negotiated, and its compressed bomb gets 1009", async () => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}${EIO_WS}`, { perMessageDeflate: true });
    const upgraded = once(ws, "upgrade"), opened = once(ws, "message"); // may come in one read
    const res = await withTimeout(upgraded, 3000, "upgrade");
    assert.equal(res[0].headers["sec-websocket-extensions"], "permessage-deflate");
    await withTimeout(opened, 3000, "open packet");
    assert.equal(ws.extensions, "permessage-deflate");
    const echo = once(ws, "message");
    const big = "4" + "ws says hi ".repeat(1000);
    ws.send(big, { compress: true });
    assert.equal((await withTimeout(echo, 3000, "echo"))[0].toString(), big);
    const closed = once(ws, "close");
    ws.send("4" + " ".repeat(300000), { compress: true });
    const [code] = await withTimeout(closed, 5000, "close");
    assert.equal(code, 1009);
  });
});

describe("permessage-deflate off (the default)", () => {
  let server;
  before(async () => {
    server = await startServer(EIO, eioArgs());
  });
  after(() => server.stop());

  test("offers are declined without a word, even invalid ones (as ws)", async () => {
    for (const offer of ["permessage-deflate; client_max_window_bits", "permessage-deflate; foo"]) {
      const ws = await rawWs(server.port, EIO_WS, offer);
      const head = await ws.head();
      assert.equal(head.status, 101, offer);
      assert.equal(head.headers["sec-websocket-extensions"], undefined, offer);
      const open = await ws.frame();
      assert.equal(open.rsv1, false);
      ws.send(1, deflate("4x"), { rsv1: true });
      let f;
      do f = await ws.frame();
      while (f.opcode !== 8);
      assert.equal(closeCode(f), 1002, "RSV1 refused");
      ws.destroy();
    }
  });
});

describe("socket.io-client (Node: ws with perMessageDeflate) on the Socket.IO echo server", () => {
  let server;
  const clients = [];
  before(async () => {
    server = await startServer(SIO, ["--per-message-deflate"]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.stop();
  });
  const connect = async (opts) => {
    const s = io(server.url, { forceNew: true, reconnection: false, ...opts });
    clients.push(s);
    await withTimeout(once(s, "connect"), 5000, "connect");
    return s;
  };

  test("negotiated over WebSocket; large arguments and attachments round-trip", async () => {
    const s = await connect({ transports: ["websocket"] });
    assert.equal(s.io.engine.transport.name, "websocket");
    assert.equal(s.io.engine.transport.ws.extensions, "permessage-deflate");
    const text = "Lorem ipsum dolor sit amet, ünïcödé ✓ ".repeat(20000); // ~760 KB
    const obj = { list: Array.from({ length: 2000 }, (_, i) => ({ i, s: `item ${i}` })) };
    const bin = crypto.randomBytes(200000);
    const back = once(s, "message-back");
    s.emit("message", text, obj, bin, "small");
    const [t, o, b, small] = await withTimeout(back, 10000, "message-back");
    assert.equal(t, text);
    assert.deepEqual(o, obj);
    assert.deepEqual(Buffer.from(b), bin);
    assert.equal(small, "small");
  });

  test("after an upgrade from polling too", async () => {
    const s = await connect({});
    await eventually(() => s.io.engine.transport.name === "websocket", 5000, "upgrade");
    assert.equal(s.io.engine.transport.ws.extensions, "permessage-deflate");
    const text = "after the upgrade ".repeat(5000);
    const back = once(s, "message-back");
    s.emit("message", text);
    assert.equal((await withTimeout(back, 5000, "message-back"))[0], text);
  });

  test("a broadcast is compressed for each recipient and reaches all", async () => {
    const senders = await connect({ transports: ["websocket"] });
    const others = await Promise.all([1, 2, 3].map(() => connect({ transports: ["websocket"] })));
    const text = "to everybody but the sender ".repeat(3000);
    const got = others.map((c) => withTimeout(once(c, "message-back"), 5000, "broadcast"));
    for (let i = 0; i < 3; i++) senders.emit("broadcast", text, i);
    for (const g of got) assert.deepEqual(await g, [text, 0]);
  });
});

// ---- HTTP compression of long-polling bodies ----------------------------------------------

// One request, without any automatic decompression: status, headers, raw body.
function request(port, method, url, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: url, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const decode = (res) => {
  const enc = res.headers["content-encoding"];
  if (enc === "gzip") return zlib.gunzipSync(res.body).toString();
  if (enc === "deflate") return zlib.inflateSync(res.body).toString(); // the zlib format, as Node's createDeflate
  assert.equal(enc, undefined);
  return res.body.toString();
};

async function pollingSession(port, threshold = 1024) {
  const res = await request(port, "GET", "/engine.io/?EIO=4&transport=polling", { headers: { "accept-encoding": "gzip" } });
  assert.equal(res.status, 200);
  const open = decode(res);
  assert.equal(res.headers["content-encoding"], open.length < threshold ? undefined : "gzip", "the open packet");
  const sid = JSON.parse(open.slice(1)).sid;
  const url = `/engine.io/?EIO=4&transport=polling&sid=${sid}`;
  return {
    post: (payload) => request(port, "POST", url, { body: payload, headers: { "content-type": "text/plain;charset=UTF-8" } }),
    get: (acceptEncoding) =>
      request(port, "GET", url, { headers: acceptEncoding === undefined ? {} : { "accept-encoding": acceptEncoding } }),
  };
}

describe("compress(false) on the Socket.IO echo server", () => {
  let server;
  before(async () => {
    server = await startServer(SIO, ["--per-message-deflate"]);
  });
  after(() => server.stop());
  const big = "x".repeat(4000);

  test("over WebSocket: the same large event compressed, then not", async () => {
    const ws = await rawWs(server.port, "/socket.io/?EIO=4&transport=websocket", "permessage-deflate");
    assert.equal((await ws.head()).status, 101);
    const inflate = contextInflater();
    const text = async (f) => (f.rsv1 ? await inflate(f.payload) : f.payload).toString();
    await text(await ws.frame()); // the open packet
    ws.send(1, "40");
    assert.match(await text(await ws.message()), /^40\{"sid"/);
    const echo = `42${JSON.stringify(["message-back", big])}`;
    // The next echo, past anything else the server sends (sio-echo-server's "auth").
    const next = async () => {
      for (;;) {
        const f = await ws.message();
        if ((f.text = await text(f)).startsWith('42["message-back"')) return f;
      }
    };
    ws.send(1, `42${JSON.stringify(["message", big])}`);
    const f1 = await next();
    assert.equal(f1.rsv1, true, "a plain emit of 4 KB is compressed");
    assert.equal(f1.text, echo);
    ws.send(1, `42${JSON.stringify(["uncompressed", big])}`);
    const f2 = await next();
    // reference: engine.io 6.6's WebSocket transport compresses every
    // message whatever the packet's compress flag (see the open packet
    // above); sio honours compress(false), as socket.io documents it.
    assert.equal(f2.rsv1, REF, "compress(false): sent as is");
    assert.equal(f2.text, echo);
    ws.destroy();
  });

  test("over polling: a response holding only compress(false) packets is not gzipped", async () => {
    const base = `http://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=polling`;
    const hs = await (await fetch(base)).text();
    const sid = JSON.parse(hs.slice(1)).sid;
    const url = `${base}&sid=${sid}`;
    const post = (body) => fetch(url, { method: "POST", body, headers: { "Content-Type": "text/plain" } });
    await post("40");
    await (await fetch(url)).text(); // the CONNECT reply
    const poll = async (event) => {
      await post(`42${JSON.stringify([event, big])}`);
      const res = await fetch(url, { headers: { "Accept-Encoding": "gzip" } });
      const body = await res.text(); // fetch decodes what it was sent
      return { enc: res.headers.get("content-encoding"), body };
    };
    const plain = await poll("message");
    assert.equal(plain.enc, "gzip");
    assert.equal(plain.body, `42${JSON.stringify(["message-back", big])}`);
    const raw = await poll("uncompressed");
    assert.equal(raw.enc, null, "not compressed");
    assert.equal(raw.body, `42${JSON.stringify(["message-back", big])}`);
  });
});

describe("HTTP compression of polling responses (on by default)", () => {
  let server;
  before(async () => {
    server = await startServer(EIO, eioArgs());
  });
  after(() => server.stop());

  for (const [accept, encoding] of [
    ["gzip, deflate, br", "gzip"],
    ["deflate", "deflate"],
    ["gzip;q=0.5, deflate", "deflate"],
    ["br, *", "gzip"],
    ["gzip;q=0, identity", undefined],
    [undefined, undefined],
  ]) {
    test(`Accept-Encoding: ${accept ?? "(none)"} -> ${encoding ?? "identity"}`, async () => {
      const s = await pollingSession(server.port);
      const msg = "4" + "long-polling body ".repeat(200);
      assert.equal((await s.post(msg)).status, 200);
      const res = await s.get(accept);
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-encoding"], encoding);
      assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
      assert.equal(res.headers.vary, undefined, "reference: no Vary (the response is no-store anyway)");
      assert.equal(decode(res), msg);
      if (encoding) assert.ok(res.body.length < msg.length / 5, `${msg.length} B sent as ${res.body.length} B`);
      // reference: a compressed body is streamed (chunked); sio sends its length.
      if (!REF || !encoding) assert.equal(Number(res.headers["content-length"]), res.body.length);
    });
  }

  test("bodies under 1024 bytes go uncompressed", async () => {
    const s = await pollingSession(server.port);
    const msg = "4" + "x".repeat(1022); // 1023 bytes
    await s.post(msg);
    const res = await s.get("gzip");
    assert.equal(res.headers["content-encoding"], undefined);
    assert.equal(res.body.toString(), msg);
    const msg2 = "4" + "x".repeat(1023); // 1024 bytes
    await s.post(msg2);
    const res2 = await s.get("gzip");
    assert.equal(res2.headers["content-encoding"], "gzip");
    assert.equal(decode(res2), msg2);
  });

  test("a body of many packets: the whole payload, separators included", async () => {
    const s = await pollingSession(server.port);
    await s.post("4flood:300");
    let text = "";
    // The first poll may catch only part of the flood.
    while (!text.endsWith("4299")) {
      const res = await s.get("gzip");
      if (res.body.length > 1024) assert.equal(res.headers["content-encoding"], "gzip");
      text += (text ? "\x1e" : "") + decode(res);
    }
    assert.equal(text, Array.from({ length: 300 }, (_, i) => `4${i}`).join("\x1e"));
  });
});

describe("HTTP compression flags", () => {
  let off, low;
  before(async () => {
    off = await startServer(EIO, eioArgs(["--no-http-compression"]));
    low = await startServer(EIO, eioArgs(["--http-compression-threshold", "100"]));
  });
  after(async () => {
    await off.stop();
    await low.stop();
  });

  test("--no-http-compression: never", async () => {
    const s = await pollingSession(off.port);
    const msg = "4" + "y".repeat(5000);
    await s.post(msg);
    const res = await s.get("gzip, deflate");
    assert.equal(res.headers["content-encoding"], undefined);
    assert.equal(res.body.toString(), msg);
  });

  test("--http-compression-threshold 100", async () => {
    const s = await pollingSession(low.port, 100);
    const msg = "4" + "z".repeat(150);
    await s.post(msg);
    const res = await s.get("gzip");
    assert.equal(res.headers["content-encoding"], "gzip");
    assert.equal(decode(res), msg);
  });
});

describe("sio-chat --per-message-deflate", { skip: REF && "sio-chat only" }, () => {
  const CHAT = path.join(BUILD, "server/sio-chat");

  test("--help documents both flags with their variables", () => {
    const r = spawnSync(CHAT, ["--help"], { encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^ {4}--per-message-deflate$/m);
    assert.match(r.stdout, /SIO_CHAT_PER_MESSAGE_DEFLATE \(1 or 0\)\. Default: off\./);
    assert.match(r.stdout, /^ {4}--http-compression$/m);
    assert.match(r.stdout, /SIO_CHAT_HTTP_COMPRESSION \(1 or 0\)\. Default: on\./);
  });

  for (const [how, args, env] of [
    ["flag", ["--per-message-deflate"], {}],
    ["environment", [], { SIO_CHAT_PER_MESSAGE_DEFLATE: "1" }],
    ["off by default", [], {}],
  ]) {
    test(`${how}`, async () => {
      const saved = { ...process.env };
      Object.assign(process.env, env); // startServer passes the environment on
      let chat;
      try {
        chat = await startServer("server/sio-chat", ["--host", "127.0.0.1", ...args]);
      } finally {
        for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
      }
      try {
        const ws = await rawWs(chat.port, "/socket.io/?EIO=4&transport=websocket", "permessage-deflate; client_max_window_bits");
        const head = await ws.head();
        assert.equal(head.status, 101);
        assert.equal(head.headers["sec-websocket-extensions"], how === "off by default" ? undefined : "permessage-deflate");
        ws.destroy();
        // HTTP compression stays on: a big polling body comes back gzip'ed.
        const res = await request(chat.port, "GET", "/socket.io/?EIO=4&transport=polling", { headers: { "accept-encoding": "gzip" } });
        assert.equal(res.status, 200);
      } finally {
        await chat.stop();
      }
    });
  }
});
