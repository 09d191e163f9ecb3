// Generates tests/unit/deflate_vectors.h: what the reference answers to
// Sec-WebSocket-Extensions offers (ws's extension.parse() and
// PerMessageDeflate.accept() as a server, under several option sets) and
// which encoding engine.io picks for an Accept-Encoding (negotiator through
// accepts), for tests/unit/test_ws_deflate.c and test_http_compress.c.
//
//   node tests/unit/deflate_vectors.mjs > tests/unit/deflate_vectors.h
//
// Uses the npm packages of tests/e2e (engine.io 6.6 and its ws 8, negotiator
// 0.6). An answer is the Sec-WebSocket-Extensions value ws sends, "0" when
// there is no permessage-deflate offer (no extension), "-1" when ws refuses
// the upgrade (400 "Invalid or unacceptable Sec-WebSocket-Extensions header").
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.resolve(import.meta.dirname, "../e2e/node_modules/engine.io") + "/");
const wsLib = path.join(path.dirname(require.resolve("ws")), "lib");
const extension = require(path.join(wsLib, "extension.js"));
const PerMessageDeflate = require(path.join(wsLib, "permessage-deflate.js"));
const preferredEncodings = require(path.join(path.dirname(require.resolve("negotiator")), "lib/encoding.js"));

// The C config names (test_ws_deflate.c builds the same sio__pmd_config).
const configs = {
  def: {},
  snct_always: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  snct_refuse: { serverNoContextTakeover: false },
  smwb12: { serverMaxWindowBits: 12 },
  smwb_refuse: { serverMaxWindowBits: false },
  cmwb10: { clientMaxWindowBits: 10 },
  cmwb_never: { clientMaxWindowBits: false },
};

const offers = [
  "permessage-deflate",
  "permessage-deflate; client_max_window_bits",
  "permessage-deflate; client_max_window_bits=10",
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
  "permessage-deflate; server_max_window_bits=10",
  "permessage-deflate; server_max_window_bits=8",
  "permessage-deflate; server_max_window_bits=\"10\"",
  "permessage-deflate; server_max_window_bits=\"1\\0\"",
  "permessage-deflate; server_max_window_bits=\"\\10\"",
  "permessage-deflate; server_max_window_bits",
  "permessage-deflate; server_max_window_bits=7",
  "permessage-deflate; server_max_window_bits=16",
  "permessage-deflate; client_max_window_bits=0x0a",
  "permessage-deflate; client_max_window_bits=1e1",
  "permessage-deflate; client_max_window_bits=010",
  "permessage-deflate; client_max_window_bits=10.0",
  "permessage-deflate; client_max_window_bits=10.5",
  "permessage-deflate; client_max_window_bits=+10",
  "permessage-deflate; client_max_window_bits=-10",
  "permessage-deflate; client_max_window_bits=0b1010",
  "permessage-deflate; client_max_window_bits=0o12",
  "permessage-deflate; client_max_window_bits=.1e2",
  "permessage-deflate; client_max_window_bits=10.",
  "permessage-deflate; client_max_window_bits=80e-1",
  "permessage-deflate; client_max_window_bits=1_0",
  "permessage-deflate; client_max_window_bits=Infinity",
  "permessage-deflate; foo",
  "permessage-deflate; foo=1",
  "permessage-deflate; client_no_context_takeover=true",
  "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
  "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
  "permessage-deflate;",
  "",
  ",permessage-deflate",
  "permessage-deflate ",
  " permessage-deflate",
  "permessage-deflate,",
  "permessage-deflate;;",
  "permessage-deflate; =1",
  "permessage-deflate; a b",
  "permessage-deflate; client_max_window_bits = 10",
  "permessage-deflate ; client_max_window_bits",
  "permessage-deflate;client_max_window_bits=10,x",
  "permessage-deflate;\tclient_max_window_bits",
  "permessage-deflate; client_max_window_bits=\"10",
  "permessage-deflate; client_max_window_bits=\"\"",
  "permessage-deflate; client_max_window_bits=\"1 0\"",
  "permessage-deflate; client_max_window_bits=\"10\"x",
  "permessage-deflate; client_max_window_bits=\"10\" ",
  "permessage-deflate; client_max_window_bits=\"10\" ; server_no_context_takeover",
  "permessage-deflate; client_max_window_bits=1\"0\"",
  "x-webkit-deflate-frame",
  "x-webkit-deflate-frame; no_context_takeover",
  "foo, permessage-deflate",
  "foo; bar=baz, permessage-deflate; client_max_window_bits",
  "foo; bar=\"b\\az\", permessage-deflate",
  "foo; bar=b@z, permessage-deflate",
  "Permessage-Deflate",
  "permessage-deflate; server_max_window_bits=10, permessage-deflate",
  "permessage-deflate, permessage-deflate; foo",
  "permessage-deflate; client_max_window_bits=9, permessage-deflate; client_max_window_bits",
  "permessage-deflate; server_max_window_bits=14; client_max_window_bits=12; server_no_context_takeover",
  "permessage-deflate; client_max_window_bits=15, permessage-deflate",
  "permessage-deflateé"
];

// Also run under every configuration.
const configOffers = [
  "permessage-deflate",
  "permessage-deflate; client_max_window_bits",
  "permessage-deflate; server_no_context_takeover",
  "permessage-deflate; server_max_window_bits=10",
  "permessage-deflate; server_max_window_bits=14",
  "permessage-deflate; client_max_window_bits=9",
  "permessage-deflate; client_max_window_bits=12",
  "permessage-deflate; client_max_window_bits=12; server_no_context_takeover",
  "permessage-deflate; server_no_context_takeover, permessage-deflate",
  "permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits"
];

const acceptEncodings = [
  "gzip, deflate, br",
  "deflate, gzip",
  "gzip",
  "deflate",
  "br",
  "identity",
  "*",
  "",
  "gzip;q=0",
  "gzip;q=0, *",
  "gzip;q=0.5, deflate",
  "gzip;q=0.5, deflate;q=0.5",
  "deflate;q=0.5, gzip;q=0.5",
  "deflate;q=1, gzip;q=0.9",
  "GZIP",
  "Deflate, GZip",
  "*;q=0.1, deflate;q=0",
  "gzip;q=",
  "gzip;q",
  "gzip;q=abc, deflate",
  "gzip; q=0.2, deflate; q=0.1",
  "gzip ;q=0.2, deflate",
  "gzip q=1",
  "gzip,,deflate",
  " , gzip",
  "gzip;q=1e-1, deflate;q=0.05",
  "gzip;q=Infinity, deflate;q=Infinity",
  "deflate;q=Infinity, gzip;q=Infinity",
  "gzip;level=1;q=0.3, deflate;q=0.2",
  "gzip;q = 0.1, deflate;q=0.5",
  "gzip;q=0.5=1, deflate;q=0.4",
  "*, gzip;q=0.1",
  "gzip;q=0.1, *",
  "x-gzip",
  "gzip;q=-1, deflate;q=0.001",
  "deflate;q=.5, gzip;q=0.50",
  "*;q=0.5, deflate",
  "gzip;q=0.3;q=0.9, deflate;q=0.5",
  "deflate ; q=0.5 , gzip ; q=0.4",
  "\tgzip\t",
  "gzip;q=+0.5, deflate;q=0.4"
];

function answer(header, options) {
  try {
    const parsed = extension.parse(header);
    if (!parsed[PerMessageDeflate.extensionName]) return "0";
    const pmd = new PerMessageDeflate({ ...options, isServer: true, maxPayload: 0 });
    pmd.accept(parsed[PerMessageDeflate.extensionName]);
    return extension.format({ [PerMessageDeflate.extensionName]: [pmd.params] });
  } catch {
    return "-1";
  }
}

// A C string literal (bytes as UTF-8, escapes for the rest).
function c(s) {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    if (b === 0x22 || b === 0x5c) out += "\\" + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += "\\x" + b.toString(16).padStart(2, "0") + '""';
  }
  return '"' + out + '"';
}

const lines = ["/* Generated by tests/unit/deflate_vectors.mjs (ws " + require("ws/package.json").version +
  ", negotiator " + require("negotiator/package.json").version + ") - do not edit. */"];
lines.push("static const struct ext_vector {", "  const char *config, *offer, *answer;", "} ext_vectors[] = {");
for (const h of offers) lines.push(`  {"def", ${c(h)}, ${c(answer(h, configs.def))}},`);
for (const [name, options] of Object.entries(configs)) {
  if (name === "def") continue;
  for (const h of configOffers) lines.push(`  {"${name}", ${c(h)}, ${c(answer(h, options))}},`);
}
lines.push("};", "", "static const struct enc_vector {", "  const char *accept, *encoding;", "} enc_vectors[] = {");
for (const h of acceptEncodings) lines.push(`  {${c(h)}, "${preferredEncodings(h, ["gzip", "deflate"])[0] || "identity"}"},`);
lines.push("};");
console.log(lines.join("\n"));
