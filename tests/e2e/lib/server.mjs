// Starts one of our server binaries on a free loopback port for a test file,
// and checks on stop that it exits cleanly (under the ASan build this also
// means: no leak and no memory error reported).
//
// `program` is a path under $SIO_BUILD (e.g. "tests/e2e/sio-echo-server"),
// or a Node script ending in ".mjs" (e.g. the reference servers
// "ref/ref-echo-server.mjs"), run with this node and resolved against
// tests/e2e/ unless absolute.
//
// Options (third argument, all optional):
//   wrapper: a command the binary is run under, e.g.
//     ["valgrind", "--leak-check=full", "--error-exitcode=99",
//      "--errors-for-leak-kinds=definite,indirect"]
//     With valgrind as the wrapper, stop() also requires "ERROR SUMMARY: 0
//     errors" and no definitely/indirectly lost bytes in its report.
//   stopTimeoutMs: how long stop() waits after SIGTERM before SIGKILL
//     (default 10000, or 60000 with a wrapper: valgrind is slow to exit).
//   startTimeoutMs: how long to wait for "listening on" (default 10000, or
//     60000 with a wrapper).
import { spawn } from "node:child_process";
import path from "node:path";
import assert from "node:assert/strict";
import fs from "node:fs";

const BUILD = process.env.SIO_BUILD || path.resolve(import.meta.dirname, "../../../build");
const E2E_DIR = path.resolve(import.meta.dirname, "..");

export async function startServer(program, args = [], options = {}) {
  const argv = ["--port", "0", ...args];
  const wrapper = options.wrapper || [];
  const startTimeoutMs = options.startTimeoutMs ?? (wrapper.length ? 60000 : 10000);
  const stopTimeoutMs = options.stopTimeoutMs ?? (wrapper.length ? 60000 : 10000);
  const command = program.endsWith(".mjs")
    ? [process.execPath, path.resolve(E2E_DIR, program), ...argv]
    : [path.join(BUILD, program), ...argv];
  const full = [...wrapper, ...command];
  const proc = spawn(full[0], full.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  // "close" comes after "exit" once stderr is drained: the end of a
  // sanitizer's or valgrind's report is never missed. Listened to from the
  // start so that a server that died before stop() is still seen.
  const closed = new Promise((resolve) => proc.on("close", (code, signal) => resolve({ code, signal })));
  let stderr = "";
  // Keep the server's log for post-mortems (CI prints it on failure).
  const logDir = path.resolve(import.meta.dirname, "../artifacts");
  fs.mkdirSync(logDir, { recursive: true });
  const log = fs.createWriteStream(path.join(logDir, `${path.basename(program)}-${proc.pid}.log`));
  proc.stderr.on("data", (chunk) => log.write(chunk));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${program} did not start:\n${stderr}`)), startTimeoutMs);
    proc.stderr.on("data", (chunk) => {
      stderr += chunk;
      const m = /listening on [^\s]*:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on("exit", (code) => reject(new Error(`${program} exited (${code}):\n${stderr}`)));
    proc.on("error", (err) => reject(new Error(`${full[0]}: ${err.message}`)));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get stderr() {
      return stderr;
    },
    async stop() {
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), stopTimeoutMs);
      const { code, signal } = await closed;
      clearTimeout(killer);
      checkExit({ program, code, signal, stderr, valgrind: isValgrind(wrapper) });
    },
  };
}

function isValgrind(wrapper) {
  return wrapper.length > 0 && path.basename(wrapper[0]) === "valgrind";
}

// The checks stop() applies to a server's exit (exported so that they can
// be tested on their own): a clean exit 0, no sanitizer report, and under
// valgrind no error and no definitely/indirectly lost block.
export function checkExit({ program, code, signal, stderr, valgrind = false }) {
  assert.equal(signal, null, `${program} killed by ${signal}:\n${stderr}`);
  assert.equal(code, 0, `${program} exited with ${code}:\n${stderr}`);
  assert.doesNotMatch(stderr, /ERROR: AddressSanitizer|runtime error:|LeakSanitizer/, stderr);
  if (valgrind) {
    const summary = /ERROR SUMMARY: (\d+) errors/.exec(stderr);
    assert.ok(summary, `${program}: no valgrind ERROR SUMMARY:\n${stderr}`);
    assert.equal(Number(summary[1]), 0, `${program}: valgrind errors:\n${stderr}`);
    for (const kind of ["definitely", "indirectly"]) {
      const m = new RegExp(`${kind} lost: ([\\d,]+) bytes`).exec(stderr);
      if (m) assert.equal(m[1], "0", `${program}: ${kind} lost ${m[1]} bytes:\n${stderr}`);
    }
  }
}

export function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}

export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// Resolves once `predicate()` is truthy (checked every 10 ms; a promise it
// returns is awaited), or rejects after `ms` naming `what`.
export function eventually(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = async () => {
      let v;
      try {
        v = await predicate();
      } catch (err) {
        return reject(err);
      }
      if (v) return resolve(v);
      if (Date.now() - t0 >= ms) return reject(new Error(`timed out after ${ms} ms: ${what}`));
      setTimeout(check, 10);
    };
    check();
  });
}
