// A throwaway redis-server for the scale-out tests (redis, cluster, nginx).
import { spawn, execFileSync } from "node:child_process";
import net from "node:net";
import { eventually, once } from "./server.mjs";

export function haveRedis() {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

// Whether something accepts TCP connections on 127.0.0.1:`port`.
export async function portOpen(port) {
  const s = net.connect(port, "127.0.0.1");
  const ok = await new Promise((r) => {
    s.once("connect", () => r(true));
    s.once("error", () => r(false));
  });
  s.destroy();
  return ok;
}

// redis-server on 127.0.0.1:`port` (no persistence), resolved once it
// accepts connections. stop() kills it (SIGKILL: a crash, as far as its
// clients can tell) and waits for its exit.
export async function startRedis(port) {
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
    "--appendonly", "no"], { stdio: "ignore" });
  const exited = once(proc, "exit");
  await eventually(() => portOpen(port), 5000, `redis-server up on port ${port}`);
  return {
    proc,
    port,
    async stop() {
      proc.kill("SIGKILL");
      await exited;
    },
  };
}
