// Smoke run of the load generator (tests/bench/sio-bench) against the echo
// server for a second: it must connect, complete round trips and report
// them. A check that the benchmark tool works, not a measurement.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import fs from "node:fs";
import os from "node:os";
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

// The soak (make soak) for two seconds with 100 clients, both transports:
// the checker must run and find every delivery.
function soak(env) {
  return new Promise((resolve) => {
    execFile(path.resolve(import.meta.dirname, "../bench/soak.sh"), [], {
      timeout: 60000,
      env: { ...process.env, SIO_BUILD: BUILD, SOAK_CLIENTS: "100", SOAK_SECONDS: "2", SOAK_RATE: "2", ...env },
    }, (err, stdout) => resolve({ code: err ? err.code : 0, report: JSON.parse(stdout.trim().split("\n").at(-1)) }));
  });
}

test("soak: 100 chat clients for 2 s, every delivery checked", { timeout: 90000 }, async () => {
  const { code, report } = await soak({});
  assert.equal(code, 0);
  assert.equal(report.pass, true);
  assert.ok(report.clients_polling > 0 && report.clients_websocket > 0);
  assert.equal(report.received, report.expected);
  assert.ok(report.expected >= 100 * 100 * 2);
});

// sio-bench's --inject makes client 0 misbehave once (a duplicate, a skipped
// line, two lines swapped): the checker must fail the run for each.
for (const [fault, field] of [["dup", "duplicates"], ["skip", "missing"], ["swap", "reordered"]]) {
  test(`soak checker catches an injected fault (${fault})`, { timeout: 60000 }, async () => {
    const server = await startServer("server/sio-chat", ["--host", "127.0.0.1"]);
    try {
      const r = await new Promise((resolve) => {
        execFile(path.join(BUILD, "tests/bench/sio-bench"),
          ["--port", String(server.port), "--mode", "soak", "--clients", "20", "--duration", "1",
            "--client-rate", "10", "--drain", "2", "--inject", fault],
          { timeout: 30000 },
          (err, stdout) => resolve({ code: err ? err.code : 0, report: JSON.parse(stdout.trim().split("\n").at(-1)) }));
      });
      assert.equal(r.code, 3);
      assert.equal(r.report.pass, false);
      assert.ok(r.report[field] > 0, `${field}: ${JSON.stringify(r.report)}`);
    } finally {
      await server.stop();
    }
  });
}

// sio-bench over TLS (wss and https polling) against the echo server with a
// throwaway certificate; then resumed handshakes (session tickets/cache).
test("sio-bench over TLS: echo on both transports, and resumed handshakes", { timeout: 90000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-bench-tls-"));
  const cert = path.join(dir, "cert.pem"), key = path.join(dir, "key.pem");
  await new Promise((resolve, reject) => execFile("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt",
    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
    (err) => (err ? reject(err) : resolve())));
  const server = await startServer("tests/e2e/sio-echo-server", ["--tls-cert", cert, "--tls-key", key]);
  try {
    for (const transport of ["websocket", "polling"]) {
      const r = await bench(["--port", String(server.port), "--tls", "--mode", "echo", "--transport", transport,
        "--clients", "20", "--duration", "1", "--warmup", "0.2"]);
      assert.equal(r.tls, true);
      assert.equal(r.errors, 0, transport);
      assert.equal(r.connected, 20);
      assert.ok(r.events_per_s > 0);
      assert.ok(r.tls_handshakes >= 20);
    }
    const r = await bench(["--port", String(server.port), "--tls-resume", "--mode", "connect",
      "--clients", "5", "--duration", "1", "--warmup", "0"]);
    assert.ok(r.connects_per_s > 0);
    assert.ok(r.tls_resumed > 0, `resumed ${r.tls_resumed}`);
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
