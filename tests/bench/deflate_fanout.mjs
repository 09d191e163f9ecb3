// What permessage-deflate costs the server on a fan-out: sio-echo-server's
// "broadcast" (socket.broadcast.emit) of B messages to N WebSocket clients
// (the npm `ws`, raw Engine.IO/Socket.IO frames), with compression off, on
// with context takeover (each recipient's own deflate stream: one
// compression per delivery), and on with server_no_context_takeover (one
// compression per broadcast, the frame shared). Reports the server's CPU
// time per delivery (from /proc, utime + stime) and the bytes each client
// received. The clients' work (inflating) is not counted.
//
//   node tests/bench/deflate_fanout.mjs [N=200] [B=200] [PAYLOAD=2000]
//   SIO_REF=1 node tests/bench/deflate_fanout.mjs ...   # Node's socket.io
//                                  (tests/e2e/ref/ref-compression-server.mjs)
//
// Rough figures: short runs on a shared machine.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "../e2e/node_modules/ws/index.js";

const [N, B, PAYLOAD] = [200, 200, 2000].map((d, i) => Number(process.argv[2 + i] || d));
const BUILD = process.env.SIO_BUILD || path.resolve(import.meta.dirname, "../../build");
const TICK = 100; // clock ticks per second (getconf CLK_TCK)

const REF = !!process.env.SIO_REF;

function start(args) {
  const cmd = REF
    ? [process.execPath, path.resolve(import.meta.dirname, "../e2e/ref/ref-compression-server.mjs")]
    : [path.join(BUILD, "tests/e2e/sio-echo-server")];
  const proc = spawn(cmd[0], [...cmd.slice(1), "--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let err = "";
    proc.stderr.on("data", (d) => {
      err += d;
      const m = /listening on [^\s]*:(\d+)/.exec(err);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on("exit", (c) => reject(new Error(`exited ${c}: ${err}`)));
  });
}

const cpu = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime
};

function client(port, deflate, onEvent) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: deflate ? { threshold: 1024 } : false,
    });
    ws.on("message", (data) => {
      const s = data.toString();
      if (s === "2") return ws.send("3");
      if (s[0] === "0") return ws.send("40");
      if (s.startsWith("40")) return resolve(ws);
      if (s.startsWith('42["auth"')) return;
      if (s.startsWith("42")) onEvent();
    });
    ws.on("error", reject);
  });
}

const scenarios = [
  ["off", [], false],
  ["on (context takeover)", ["--per-message-deflate"], true],
  ["on (server_no_context_takeover)", ["--per-message-deflate", "--deflate-server-no-context-takeover"], true],
];
const text = Array.from({ length: PAYLOAD }, (_, i) => "abcdefghij klmnopqrst uvwxyz 0123456789"[(i * 7) % 40]).join("");
console.log(`fan-out: ${B} broadcasts of a ${PAYLOAD}-character string to ${N} WebSocket clients ` +
  `(${REF ? "Node socket.io" : "sio-echo-server"})`);
for (const [name, args, deflate] of scenarios) {
  const { proc, port } = await start(args);
  let got = 0;
  const clients = [];
  for (let i = 0; i < N; i += 50)
    clients.push(...(await Promise.all(Array.from({ length: Math.min(50, N - i) }, () => client(port, deflate, () => got++)))));
  const sender = await client(port, deflate, () => {});
  const want = B * N;
  const read0 = clients.map((c) => c._socket.bytesRead);
  const c0 = cpu(proc.pid), t0 = process.hrtime.bigint();
  for (let i = 0; i < B; i++) {
    sender.send(`42["broadcast","${text}",${i}]`);
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5)); // paced a little
  }
  while (got < want) await new Promise((r) => setTimeout(r, 20));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9, used = cpu(proc.pid) - c0;
  const bytes = clients.reduce((a, c, i) => a + c._socket.bytesRead - read0[i], 0) / N;
  console.log(`${name.padEnd(34)} server CPU ${(used * 1e6 / want).toFixed(2).padStart(6)} µs/delivery` +
    `  (${used.toFixed(2)} s for ${want} deliveries in ${secs.toFixed(1)} s; ${(bytes / 1024).toFixed(0)} KiB per client)` +
    `  ext: ${clients[0].extensions || "none"}`);
  for (const c of [...clients, sender]) c.terminate();
  proc.kill("SIGTERM");
  await new Promise((r) => proc.on("exit", r));
}
