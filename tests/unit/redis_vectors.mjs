// Generates tests/unit/redis_vectors.h: real @socket.io/redis-adapter v8
// messages, captured from the reference running against a fake Redis client,
// plus notepack.io encodings of edge values, for tests/unit/test_redis_codec.c.
//
//   mkdir -p /tmp/redis-ref && cd /tmp/redis-ref && npm init -y &&
//     npm install @socket.io/redis-adapter@8 notepack.io socket.io
//   node tests/unit/redis_vectors.mjs [/tmp/redis-ref] > tests/unit/redis_vectors.h
//
// (generated with node v20, @socket.io/redis-adapter 8.3.0, socket.io 4.8.x,
// notepack.io 3.0.1). Each vector: kind ('B' broadcast, 'Q' request, 'R'
// response, 'V' any msgpack value), channel, bytes (hex), the value notepack
// decodes them to as JSON (binaries as {"$bin": "<hex>"}, Dates as
// toJSON gives them, undefined dropped/null as JSON.stringify), and whether
// re-encoding the decoded value must give the same bytes.
import { createRequire } from "node:module";
import path from "node:path";

const refDir = path.resolve(process.argv[2] || "/tmp/redis-ref");
const require = createRequire(refDir + "/");

// Deterministic ids: uid2 is what the adapter uses for its uid and request ids.
const uid2Path = require.resolve("uid2");
let idCounter = 0;
require(uid2Path);
require.cache[uid2Path].exports = (n) => ("req" + String(++idCounter).padStart(n, "0")).slice(-n);

const notepack = require("notepack.io");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");

const published = [];
function fakeClient() {
  const handlers = {};
  return {
    psubscribe() {},
    punsubscribe() {},
    subscribe() {},
    unsubscribe() {},
    on(ev, fn) { (handlers[ev] ||= []).push(fn); return this; },
    off() { return this; },
    listenerCount() { return 1; },
    publish(channel, msg) { published.push({ channel, msg: Buffer.from(msg) }); return Promise.resolve(1); },
    send_command(cmd, args, cb) { cb(null, ["x", "2"]); },
    sendCommand() { return Promise.resolve(["x", "2"]); },
  };
}

const pub = fakeClient(), sub = fakeClient();
const io = new Server({ adapter: createAdapter(pub, sub) });
const nsp = io.of("/");
const admin = io.of("/admin");
nsp.adapter.uid = "AbC123";
admin.adapter.uid = "XyZ789";

// ---- value conversion for the expected JSON ---------------------------------
function conv(v, inArray) {
  if (v === undefined || typeof v === "function") return inArray ? null : undefined;
  if (v === null) return null;
  if (Buffer.isBuffer(v) || ArrayBuffer.isView(v) || v instanceof ArrayBuffer)
    return { $bin: Buffer.from(v instanceof ArrayBuffer ? new Uint8Array(v) : v).toString("hex") };
  if (v instanceof Date) return v.toJSON();
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map((x) => conv(x, true));
  if (typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) {
      const c = conv(v[k], false);
      if (c !== undefined) o[k] = c;
    }
    return o;
  }
  return v;
}

const out = [];
function add(name, kind, channel, buf, reencode = true) {
  const value = buf[0] === 0x7b ? JSON.parse(buf.toString()) : notepack.decode(buf);
  out.push({ name, kind, channel, hex: buf.toString("hex"), json: JSON.stringify(conv(value, true)), reencode });
}
function take(name, kind, reencode = true) {
  const p = published.shift();
  if (!p) throw new Error("nothing published for " + name);
  add(name, kind, p.channel, p.msg, reencode);
}

// ---- broadcasts ----------------------------------------------------------------
io.emit("hello", "world");
take("emit_text", "B");

io.to("room1").emit("numbers", 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
  2 ** 53, 2 ** 53 + 2, 2 ** 63, 12345678901234567890, -1, -32, -33, -128, -129, -32768, -32769,
  -2147483648, -2147483649, -(2 ** 53), -(2 ** 63), 0.1, -1.5, 1e-7, 5e-324,
  Math.PI, -0);
take("emit_numbers_room", "B");

io.emit("nested", { a: { b: [1, { c: "\u00e9\u65e5\u672c\ud83c\udf89" }] }, 2: "two", 1: "one", z: null,
  t: true, f: false, u: undefined, "": "empty key", "k\u00e9y": [[], {}, [[[]]]] }, [1, [2, [3, [4]]]]);
take("emit_nested_unicode", "B");

io.emit("bin", Buffer.from([1, 2, 3]), { file: Buffer.alloc(300, 7), list: [Buffer.alloc(0), "x"] },
  new Uint8Array([9, 8]), new Uint16Array([1, 2]).buffer);
take("emit_binary", "B");

io.to(["r1", "r2"]).except(["r3", "sid-abc"]).volatile.compress(false).emit("flags", 1);
take("emit_rooms_except_flags", "B");

io.local.emit("not published");
if (published.length) throw new Error("local emit was published");

admin.to("a#b").emit("room with hash", "s".repeat(40), "t".repeat(300), "u".repeat(256));
take("admin_room_hash_long_strings", "B");

admin.to("").emit("empty room");
take("admin_empty_room", "B");

io.except("sid1").emit("except only", [], {});
take("emit_except_only", "B");

io.emit("date", new Date(Date.UTC(2020, 0, 1)), new Date(1.5), new Date(-1), new Date(Date.UTC(20000, 5, 1)));
take("emit_dates", "B", false);

io.emit("huge ints", 1e21, 1e300, -1e20, Number.MAX_VALUE);
take("emit_notepack_bigint_bug", "B", false);

// ---- requests (the adapter thinks there are 2 servers) ------------------------
const tick = () => new Promise((r) => setTimeout(r, 10));
io.timeout(1000).emit("with ack", "x", Buffer.from([0xff]), () => {});
take("req_broadcast_ack", "Q");

nsp.adapter.allRooms().catch(() => {});
await tick();
take("req_all_rooms", "Q");

io.in("room1").except("room2").fetchSockets().catch(() => {});
await tick();
take("req_remote_fetch", "Q");

io.in("room1").socketsJoin(["a", "b"]);
take("req_remote_join", "Q");
io.except("room3").socketsLeave("a");
take("req_remote_leave", "Q");
io.in("room1").disconnectSockets(true);
take("req_remote_disconnect", "Q");

io.serverSideEmit("sse", 1, { k: "v" });
take("req_server_side_emit", "Q");
io.serverSideEmit("sse ack", "y", () => {});
await tick();
take("req_server_side_emit_ack", "Q");

// ---- responses: feed requests from another node to the adapter -----------------
const remote = (o) => Buffer.from(JSON.stringify(o));
nsp.on("sse ack", (a, cb) => cb({ ok: a }));
await nsp.adapter.onrequest("socket.io-request#/#", remote({ uid: "other1", requestId: "rq0001", type: 1 }));
take("res_all_rooms", "R");
await nsp.adapter.onrequest("socket.io-request#/#",
  remote({ uid: "other1", requestId: "rq0002", type: 5, opts: { rooms: [], except: [] } }));
take("res_remote_fetch", "R");
await nsp.adapter.onrequest("socket.io-request#/#",
  remote({ uid: "other1", requestId: "rq0003", type: 6, data: ["sse ack", 42] }));
take("res_server_side_emit", "R");
await nsp.adapter.onrequest("socket.io-request#/#", notepack.encode({ uid: "other1", requestId: "rq0004",
  type: 7, packet: { type: 2, data: ["ev", 1], nsp: "/" }, opts: { rooms: [], except: [], flags: { timeout: 500 } } }));
take("res_broadcast_client_count", "R");
// What the adapter publishes for a client's ack (publishResponse of
// parser.encode({type, requestId, packet})) — built the same way here, as
// that needs a connected client.
add("res_broadcast_ack", "R", "socket.io-response#/#",
  notepack.encode({ type: 9, requestId: "rq0004", packet: ["ack", Buffer.from([5, 6])] }));

// ---- edge values (notepack.encode) -------------------------------------------------
const V = (name, v, reencode = true) => add(name, "V", "", notepack.encode(v), reencode);
V("v_str_lengths", ["a".repeat(31), "b".repeat(32), "c".repeat(255), "d".repeat(256)]);
V("v_array_lengths", [new Array(15).fill(1), new Array(16).fill(2)]);
V("v_map_lengths", [Object.fromEntries([...Array(15).keys()].map((i) => ["k" + i, i])),
  Object.fromEntries([...Array(16).keys()].map((i) => ["k" + i, i]))]);
V("v_bin_lengths", [Buffer.alloc(255, 1), Buffer.alloc(256, 2)]);
// Large values: only the first 12 bytes and the total size are kept (kind
// 'P'); the C test builds the same value from the spec in place of JSON.
const P = (spec, v) => {
  const b = notepack.encode(v);
  out.push({ name: "p_" + spec.replace(/ /g, "_"), kind: "P", channel: "", hex: b.subarray(0, 12).toString("hex"),
    json: JSON.stringify({ spec, len: b.length }), reencode: true });
};
P("str 65535 e", "e".repeat(65535));
P("str 65536 f", "f".repeat(65536));
P("arr 65535 0", new Array(65535).fill(0));
P("arr 65536 0", new Array(65536).fill(0));
P("bin 65535 3", Buffer.alloc(65535, 3));
P("bin 65536 3", Buffer.alloc(65536, 3));
P("map 65536 k", Object.fromEntries([...Array(65536).keys()].map((i) => ["k" + i, i])));
V("v_nonfinite", [NaN, Infinity, -Infinity], false);
V("v_index_keys", { b: 1, 10: "ten", a: 2, 2: "two", "01": "not index", 4294967294: "max", 4294967295: "not index" });
V("v_undefined", [1, undefined, { a: undefined, b: 2 }]);
// Hand-written forms notepack never emits but decodes.
const H = (name, hex, reencode = false) => add(name, "V", "", Buffer.from(hex, "hex"), reencode);
H("v_float32", "92ca3fc00000ca7f800000");                  // [1.5, Infinity]
H("v_noncanonical_ints", "94cc01cd0002ce00000003d0fe");   // [1, 2, 3, -2]
H("v_ext_undefined", "929201d4000082a161d40000a16202");    // [[1, undefined], {a: undefined, b: 2}]
H("v_ext_other", "91d50501ff");                           // [[5, <01 ff>]]
H("v_ext_arraybuffer", "91c70300010203");                 // [ArrayBuffer <01 02 03>]
H("v_ts96_negative", "91c70cff00000000ffffffffffffffff"); // [new Date(-1000)]
H("v_invalid_utf8", "94a3e0a041a2c380a4f0908041a180");    // ["\ufffdA", "\u00c0", "\ufffdA", "\ufffd"]
H("v_proto_key", "82a95f5f70726f746f5f5f81a17801a17902"); // {__proto__: {x:1}, y:2}

// ---- output ----------------------------------------------------------------------
const cstr = (s) => '"' + s.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
console.log("/* Generated by tests/unit/redis_vectors.mjs — do not edit. */");
console.log("static const struct redis_vector {");
console.log("  const char *name;\n  char kind;\n  const char *channel;\n  const char *hex;\n  const char *json;\n  int reencode;");
console.log("} redis_vectors[] = {");
for (const v of out) {
  // Long hex strings are split so no literal exceeds compiler limits.
  const hex = v.hex.match(/.{1,4000}/g) || [""];
  const json = v.json.match(/.{1,4000}/g) || [""];
  console.log(`  {${cstr(v.name)}, '${v.kind}', ${cstr(v.channel)},\n   ${hex.map(cstr).join("\n   ")},\n   ${json.map(cstr).join("\n   ")},\n   ${v.reencode ? 1 : 0}},`);
}
console.log("};");
process.exit(0);
