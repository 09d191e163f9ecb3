// Starts one of our server binaries on a free loopback port for a test file,
// and checks on stop that it exits cleanly (under the ASan build this also
// means: no leak and no memory error reported).
//
// `program` is a path under $SIO_BUILD (e.g. "tests/e2e/sio-echo-server"),
// or a Node script ending in ".mjs" (e.g. the reference servers
// "ref/ref-echo-server.mjs"), run with this node and resolved against
// tests/e2e/ unless absolute.
import { spawn } from "node:child_process";
import path from "node:path";
import assert from "node:assert/strict";
import fs from "node:fs";

const BUILD = process.env.SIO_BUILD || path.resolve(import.meta.dirname, "../../../build");
const E2E_DIR = path.resolve(import.meta.dirname, "..");

export async function startServer(program, args = []) {
  const argv = ["--port", "0", ...args];
  const proc = program.endsWith(".mjs")
    ? spawn(process.execPath, [path.resolve(E2E_DIR, program), ...argv], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(path.join(BUILD, program), argv, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  // Keep the server's log for post-mortems (CI prints it on failure).
  const logDir = path.resolve(import.meta.dirname, "../artifacts");
  fs.mkdirSync(logDir, { recursive: true });
  const log = fs.createWriteStream(path.join(logDir, `${path.basename(program)}-${proc.pid}.log`));
  proc.stderr.on("data", (chunk) => log.write(chunk));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${program} did not start:\n${stderr}`)), 10000);
    proc.stderr.on("data", (chunk) => {
      stderr += chunk;
      const m = /listening on [^\s]*:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on("exit", (code) => reject(new Error(`${program} exited (${code}):\n${stderr}`)));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get stderr() {
      return stderr;
    },
    async stop() {
      const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 10000);
      const { code, signal } = await exited;
      clearTimeout(killer);
      assert.equal(signal, null, `${program} killed by ${signal}:\n${stderr}`);
      assert.equal(code, 0, `${program} exited with ${code}:\n${stderr}`);
      assert.doesNotMatch(stderr, /ERROR: AddressSanitizer|runtime error:|LeakSanitizer/, stderr);
    },
  };
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

// Resolves once `predicate()` is truthy (checked every 10 ms), or rejects
// after `ms` naming `what`.
export function eventually(predicate, ms, what) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      let v;
      try {
        v = predicate();
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
