// Resident memory per idle WebSocket connection with permessage-deflate,
// read from a server's GET /stats (eio-echo-server, or the Node reference
// with SIO_REF=1: ref-compression-server.mjs --engine). For each scenario a
// fresh server is started, N clients (the npm `ws`) connect, optionally
// exchange one large message each way, then sit idle; the RSS growth over
// the empty server, divided by N, is the cost of one connection.
//
//   node tests/bench/deflate_idle.mjs [N=1000]
//   SIO_REF=1 node tests/bench/deflate_idle.mjs [N]
//
// Scenarios:
//   plain          compression off (the default)
//   deflate-small  negotiated, only small messages (below the threshold)
//   deflate-used   negotiated, then one 4 KB message compressed each way:
//                  with context takeover both sides keep their zlib streams;
//                  measured at once ("busy") and after 12 s of silence
//                  ("idle": sio frees the streams of connections idle for
//                  10 s, keeping only their windows)
//   deflate-nct    the same, the server answering server_ and
//                  client_no_context_takeover (streams shared, reset)
// Rough figures: one machine, loopback, the client in the same machine.
import path from "node:path";
import crypto from "node:crypto";
import WebSocket from "../e2e/node_modules/ws/index.js";
import { startServer } from "../e2e/lib/server.mjs";

const N = Number(process.argv[2] || 1000);
const REF = !!process.env.SIO_REF;
process.env.SIO_BUILD ||= path.resolve(import.meta.dirname, "../../build");
const PROGRAM = REF ? "ref/ref-compression-server.mjs" : "tests/e2e/eio-echo-server";
const base = REF ? ["--engine"] : [];

const scenarios = [
  ["plain", [], false, false],
  ["deflate-small", ["--per-message-deflate"], true, false],
  ["deflate-used", ["--per-message-deflate"], true, true],
  ...(REF ? [] : [["deflate-nct", ["--per-message-deflate", "--deflate-server-no-context-takeover",
    "--deflate-client-no-context-takeover"], true, true]]),
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rss = async (url) => (await (await fetch(`${url}/stats`)).json()).rss;

// The RSS once it has stopped moving (the reference's GC settles slowly).
async function settledRss(url) {
  let last = await rss(url);
  for (let i = 0; i < 20; i++) {
    await sleep(250);
    const now = await rss(url);
    if (Math.abs(now - last) < 64 * 1024) return now;
    last = now;
  }
  return last;
}

function connect(url, deflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace("http", "ws")}/engine.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: deflate ? { threshold: 0 } : false,
    });
    ws.once("message", () => resolve(ws)); // the open packet
    ws.once("error", reject);
  });
}

function exchange(ws) {
  // 4 KB that compresses, different for every client (no shared strings).
  const msg = "4" + (crypto.randomBytes(8).toString("hex") + " some chat text that repeats ").repeat(110);
  return new Promise((resolve) => {
    ws.once("message", () => resolve());
    ws.send(msg, { compress: true });
  });
}

console.log(`${REF ? "Node engine.io" : "sio eio-echo-server"}: ${N} idle WebSocket connections`);
for (const [name, args, deflate, used] of scenarios) {
  const server = await startServer(PROGRAM, [...base, ...args, "--ping-interval", "600000", "--ping-timeout", "600000"]);
  const clients = [];
  try {
    await sleep(300);
    const before = await settledRss(server.url);
    for (let i = 0; i < N; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => connect(server.url, deflate)));
      clients.push(...batch);
    }
    if (used) for (let i = 0; i < N; i += 100) await Promise.all(clients.slice(i, i + 100).map(exchange));
    const ext = clients[0].extensions || "(none)";
    const show = (label, after) =>
      console.log(`${label.padEnd(19)} ${((after - before) / N / 1024).toFixed(1).padStart(7)} KiB/connection` +
        `  (RSS ${(before / 1048576).toFixed(1)} -> ${(after / 1048576).toFixed(1)} MiB; extensions: ${ext})`);
    show(used ? `${name} busy` : name, await settledRss(server.url));
    if (used) {
      await sleep(12000);
      show(`${name} idle`, await settledRss(server.url));
    }
  } finally {
    for (const ws of clients) ws.terminate();
    await sleep(200);
    await server.stop();
  }
}
