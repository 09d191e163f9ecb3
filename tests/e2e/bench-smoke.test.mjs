// Smoke run of the load generator (tests/bench/sio-bench) against the echo
// server for a second: it must connect, complete round trips and report
// them. A check that the benchmark tool works, not a measurement.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { startServer } from "./lib/server.mjs";

const BUILD = process.env.SIO_BUILD || path.resolve(import.meta.dirname, "../../build");

function bench(args) {
  return new Promise((resolve, reject) => {
    execFile(path.join(BUILD, "tests/bench/sio-bench"), args, { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`sio-bench failed: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").at(-1)));
    });
  });
}

for (const transport of ["websocket", "polling"]) {
  test(`sio-bench echo over ${transport} for a second`, { timeout: 60000 }, async () => {
    const server = await startServer("tests/e2e/sio-echo-server");
    try {
      const r = await bench(["--port", String(server.port), "--mode", "echo", "--transport", transport,
        "--clients", "20", "--duration", "1", "--warmup", "0.2"]);
      assert.equal(r.mode, "echo");
      assert.equal(r.errors, 0);
      assert.equal(r.connected, 20);
      assert.ok(r.events_per_s > 0, `events/s ${r.events_per_s}`);
      assert.ok(r.p99_ms >= r.p50_ms && r.p50_ms > 0, `p50 ${r.p50_ms} p99 ${r.p99_ms}`);
    } finally {
      await server.stop();
    }
  });
}
