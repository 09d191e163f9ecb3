// Sticky sessions behind nginx: two sio-chat nodes sharing broadcasts
// through Redis, behind an nginx that runs docs/nginx/sio.conf (read from
// the file, with this test's ports substituted), so that the documented
// configuration is the one tested.
//
// Why sticky sessions: an Engine.IO session lives in the node that answered
// its handshake. A long-polling client goes on with separate HTTP requests
// (GETs, POSTs, the upgrade), which must all reach that node; another node
// answers 400 "Session ID unknown".
//
// nginx listens on three loopback ports, all with the same location blocks
// as the documented server {}:
//   - ip_hash: the documented upstream. ip_hash keys on the first three
//     octets of an IPv4 client address, so every client of this test
//     (127.0.0.1) lands on one node: it proves that polling and upgrades
//     work through the proxy, not that sessions are spread and kept.
//   - by_arg (test only): the same upstream with `hash $arg_node;` instead
//     of ip_hash, a stand-in that lets the test choose a client's node with
//     a query parameter (socket.io-client's `query` option adds it to every
//     request of the session). It shows that clients on both nodes keep
//     their sessions and chat with each other through Redis.
//   - round_robin (test only): no stickiness at all, the negative control:
//     polling sessions must break there, which is why stickiness is needed
//     and shows that these tests can see the breakage.
//
//   cd tests/e2e && SIO_BUILD=/path/to/build node --test nginx.test.mjs
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import { io } from "socket.io-client";
import { startServer, withTimeout, eventually, once } from "./lib/server.mjs";
import { freePort, portOpen, startRedis } from "./lib/redis.mjs";

const DOC_CONF = path.resolve(import.meta.dirname, "../../docs/nginx/sio.conf");
const T = { timeout: 30000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// nginx lives in /usr/sbin, which is not on every user's PATH.
function findProgram(name, versionArgs, extraDirs = []) {
  for (const candidate of [name, ...extraDirs.map((d) => path.join(d, name))]) {
    try {
      execFileSync(candidate, versionArgs, { stdio: "ignore" });
      return candidate;
    } catch {
      /* next */
    }
  }
  return null;
}

const NGINX = findProgram("nginx", ["-v"], ["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"]);
const REDIS = findProgram("redis-server", ["--version"], ["/usr/bin", "/usr/sbin"]);
const skip = !NGINX ? "nginx is not installed (apt-get install nginx)"
  : !REDIS ? "redis-server is not installed (apt-get install redis-server)" : false;

// Retries an async check every 50 ms until it returns a truthy value.
async function until(check, ms, what) {
  const t0 = Date.now();
  for (;;) {
    let v;
    try {
      v = await check();
    } catch {
      v = false;
    }
    if (v) return v;
    if (Date.now() - t0 >= ms) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(50);
  }
}

// One HTTP/1.1 GET on a fresh connection: { status, body }.
function get(port, urlPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: timeout`)));
    req.on("error", reject);
  });
}

// ---- the nginx configuration -----------------------------------------------

// docs/nginx/sio.conf without its comments.
function readDocConf() {
  return fs.readFileSync(DOC_CONF, "utf8").split("\n")
    .map((l) => l.replace(/#.*$/, "").trimEnd()).filter((l) => l.trim()).join("\n");
}

// The first top-level `server { ... }` block of a comment-free config.
function serverBlock(conf) {
  const start = conf.search(/^server\s*\{/m);
  assert.ok(start >= 0, `${DOC_CONF}: no server {} block`);
  let depth = 0;
  for (let i = conf.indexOf("{", start); i < conf.length; i++) {
    if (conf[i] === "{") depth++;
    else if (conf[i] === "}" && --depth === 0) return conf.slice(start, i + 1);
  }
  assert.fail(`${DOC_CONF}: unbalanced braces`);
}

function replaceOnce(text, from, to) {
  const n = text.split(from).length - 1;
  assert.equal(n, 1, `${DOC_CONF}: expected "${from}" exactly once (found ${n}); the test substitutes it`);
  return text.replace(from, to);
}

// The documented snippet with our ports, plus the two test-only upstreams
// and server blocks, which are copies of the documented server {} (same
// locations, same headers) pointed at another upstream.
function httpSnippet({ node1, node2, ipHashPort, byArgPort, roundRobinPort }) {
  const doc = readDocConf();
  for (const needed of ["ip_hash;", "map $http_upgrade $connection_upgrade", "proxy_http_version 1.1;",
    "proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;"]) {
    assert.ok(doc.includes(needed), `${DOC_CONF}: "${needed}" is missing`);
  }
  assert.ok(doc.includes("proxy_pass http://sio_nodes;"), `${DOC_CONF}: no proxy_pass http://sio_nodes;`);
  const block = serverBlock(doc);
  const copy = (port, upstream) =>
    replaceOnce(block, "listen 80;", `listen 127.0.0.1:${port};`)
      .replaceAll("proxy_pass http://sio_nodes;", `proxy_pass http://${upstream};`);
  let ours = replaceOnce(doc, "listen 80;", `listen 127.0.0.1:${ipHashPort};`);
  ours = replaceOnce(ours, "server 127.0.0.1:3001;", `server 127.0.0.1:${node1};`);
  ours = replaceOnce(ours, "server 127.0.0.1:3002;", `server 127.0.0.1:${node2};`);
  return `${ours}

# ---- test only ----
# As sio_nodes, but the node is chosen by the "node" query parameter
# (without one, nginx falls back to round robin).
upstream sio_by_arg {
    hash $arg_node;
    server 127.0.0.1:${node1};
    server 127.0.0.1:${node2};
}
# No stickiness: the negative control.
upstream sio_round_robin {
    server 127.0.0.1:${node1};
    server 127.0.0.1:${node2};
}
${copy(byArgPort, "sio_by_arg")}
${copy(roundRobinPort, "sio_round_robin")}
`;
}

// nginx as the current user, in the foreground, everything under `dir`.
async function startNginx(dir, snippet, ports) {
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
    log_format sio '$server_port $remote_addr "$request" $status upstream=$upstream_addr';
    access_log ${dir}/access.log sio;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;

${snippet}
}
`;
  fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
  const proc = spawn(NGINX, ["-p", `${dir}/`, "-e", `${dir}/error.log`, "-c", `${dir}/nginx.conf`],
    { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  proc.stdout.on("data", (d) => (output += d));
  proc.stderr.on("data", (d) => (output += d));
  let exit = null;
  const exited = new Promise((r) => proc.on("exit", (code, signal) => r((exit = { code, signal }))));
  const logs = () => {
    const read = (f) => {
      try {
        return fs.readFileSync(path.join(dir, f), "utf8").split("\n").slice(-60).join("\n");
      } catch {
        return "(none)";
      }
    };
    return `--- nginx output ---\n${output}\n--- nginx error.log (tail) ---\n${read("error.log")}\n` +
      `--- nginx access.log (tail) ---\n${read("access.log")}\n--- nginx.conf ---\n${conf}`;
  };
  try {
    // Up when every port answers /healthz through its upstream.
    await until(async () => {
      if (exit) throw new Error(`nginx exited (${JSON.stringify(exit)})`);
      for (const p of ports) if ((await get(p, "/healthz")).status !== 200) return false;
      return true;
    }, 10000, "nginx answering /healthz on every port");
  } catch (err) {
    proc.kill("SIGKILL");
    throw new Error(`${err.message}\n${logs()}`);
  }
  return {
    logs,
    accessLog: () => fs.readFileSync(path.join(dir, "access.log"), "utf8"),
    get running() {
      return exit === null;
    },
    async stop() {
      if (exit === null) {
        proc.kill("SIGTERM"); // fast shutdown
        const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(killer);
      }
      return exit;
    },
  };
}

// ---- clients and nodes --------------------------------------------------------

// A value from a node's /metrics, asked of the node directly.
async function metric(node, name, labels = "") {
  const { body } = await get(node.port, "/metrics");
  const line = body.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  assert.ok(line, `${name}${labels} not in /metrics`);
  return Number(line.split(" ").pop());
}

const handshakes = (node) => metric(node, "sio_handshakes_total", '{transport="polling"}');
const http400 = (node) => metric(node, "sio_http_errors_total", '{status="400"}');

// A chat client through nginx on `port`; c.lines gets the chat lines that
// contain `c.mark` (set by chatRound), c.problems every connect_error and
// disconnect. Resolves once connected, or once the connection failed.
async function client(port, label, { transports, query } = {}) {
  const c = io(`http://127.0.0.1:${port}`, {
    ...(transports ? { transports } : {}),
    ...(query ? { query } : {}),
    reconnection: false,
    forceNew: true,
    timeout: 5000,
  });
  c.label = label;
  c.lines = [];
  c.problems = [];
  c.mark = null;
  c.on("message", (m) => {
    if (c.mark && m.includes(c.mark)) c.lines.push(m);
  });
  const settled = new Promise((resolve) => {
    c.once("connect", resolve);
    c.on("connect_error", (err) => {
      c.problems.push(`connect_error: ${err.message}`);
      resolve();
    });
  });
  c.on("disconnect", (reason) => c.problems.push(`disconnect: ${reason}`));
  await withTimeout(settled, 8000, `${label}: connect or connect_error`);
  return c;
}

// Each client sends `n` lines; every client must receive every line exactly
// once ("<sender id>: <text>", as sio-chat's io.emit), in order per sender.
async function chatRound(cs, n = 10) {
  const mark = `round-${Math.random().toString(36).slice(2, 10)}`;
  for (const c of cs) {
    c.mark = mark;
    c.lines = [];
  }
  const expected = [];
  for (let i = 0; i < n; i++) {
    for (const c of cs) {
      c.emit("message", `${mark} ${c.label} #${i}`);
      expected.push(`${c.id}: ${mark} ${c.label} #${i}`);
    }
  }
  await eventually(() => cs.every((c) => c.lines.length >= expected.length), 15000,
    `${expected.length} lines on every client (${cs.map((c) => `${c.label}:${c.lines.length}`).join(" ")})`);
  await sleep(300); // would a duplicate come?
  for (const c of cs) {
    assert.deepEqual([...c.lines].sort(), [...expected].sort(), `${c.label}: every line exactly once`);
    for (const s of cs) {
      const from = c.lines.filter((l) => l.startsWith(`${s.id}: `));
      assert.deepEqual(from, expected.filter((l) => l.startsWith(`${s.id}: `)), `${c.label}: order of ${s.label}`);
    }
  }
}

describe("nginx in front of two sio nodes (docs/nginx/sio.conf)", { skip }, () => {
  let redis, nodes, nginx, dir, ports;
  let clients = [];

  before(async () => {
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    const url = `redis://127.0.0.1:${redisPort}`;
    // A short drain: clients of the negative control leave orphaned polling
    // sessions (nobody polls them again), which a stop would otherwise wait
    // for during the whole default drain (10 s).
    const args = ["--host", "127.0.0.1", "--redis", url, "--drain-timeout", "2000"];
    nodes = [await startServer("server/sio-chat", args), await startServer("server/sio-chat", args)];
    await eventually(() => nodes.every((n) => /adapter \w+ connected/.test(n.stderr)), 5000,
      "both sio nodes connected to Redis");
    ports = { ipHashPort: await freePort(), byArgPort: await freePort(), roundRobinPort: await freePort() };
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-nginx-"));
    const snippet = httpSnippet({ node1: nodes[0].port, node2: nodes[1].port, ...ports });
    nginx = await startNginx(dir, snippet, Object.values(ports));
  }, T);

  after(async () => {
    for (const c of clients) c.close();
    clients = [];
    let nginxExit = null;
    if (nginx) {
      const wasRunning = nginx.running;
      nginxExit = await nginx.stop();
      if (!wasRunning || nginxExit.code !== 0) console.error(nginx.logs());
    }
    // Everything is stopped even if a node's exit check fails; the first
    // failure is reported afterwards.
    const failures = [];
    for (const n of nodes ?? []) await n.stop().catch((err) => failures.push(err));
    await redis?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (failures.length) throw failures[0];
    if (nginxExit) assert.deepEqual(nginxExit, { code: 0, signal: null }, "nginx's exit");
  }, T);

  // The test body, with nginx's logs attached to a failure.
  const withLogs = (fn) => async () => {
    try {
      await fn();
    } catch (err) {
      throw new Error(`${err.message}\n${nginx?.logs() ?? ""}`, { cause: err });
    } finally {
      for (const c of clients) c.close();
      clients = [];
    }
  };

  // Which node a client landed on: the node whose polling handshake count
  // went up while it connected (clients are connected one at a time).
  async function placed(port, label, opts) {
    const before = await Promise.all(nodes.map(handshakes));
    const c = await client(port, label, opts);
    clients.push(c);
    const after = await Promise.all(nodes.map(handshakes));
    const grew = nodes.map((_, i) => after[i] - before[i]);
    assert.equal(grew[0] + grew[1], 1, `${label}: one handshake on one node (${grew})`);
    c.node = grew[0] ? 0 : 1;
    return c;
  }

  test("polling clients through nginx to two sio nodes chat with each other", T, withLogs(async () => {
    const errorsBefore = await Promise.all(nodes.map(http400));
    // Pick node keys until three clients sit on each node (the hash of a key
    // is nginx's business; where a client landed is read from the nodes).
    const perNode = [[], []];
    for (let k = 0; k < 40 && (perNode[0].length < 3 || perNode[1].length < 3); k++) {
      const c = await placed(ports.byArgPort, `key${k}`, { transports: ["polling"], query: { node: `key${k}` } });
      assert.deepEqual(c.problems, [], `${c.label}: ${c.problems}`);
      if (perNode[c.node].length < 3) perNode[c.node].push(c);
      else c.close();
    }
    assert.ok(perNode[0].length === 3 && perNode[1].length === 3,
      `clients on both nodes (${perNode[0].length} + ${perNode[1].length})`);
    const cs = [...perNode[0], ...perNode[1]];
    for (const c of cs) c.label = `node${c.node + 1}/${c.label}`;
    // Each node holds its three polling sessions (the closed extras are gone).
    for (const [i, node] of nodes.entries()) {
      await until(async () => (await metric(node, "sio_sockets", '{namespace="/"}')) === 3, 5000,
        `node${i + 1} has 3 sockets`);
    }

    await chatRound(cs, 10);
    // Long-polls cycle many times in a round; keep going a little longer.
    await sleep(500);
    await chatRound(cs, 5);

    for (const c of cs) {
      assert.equal(c.connected, true, `${c.label} still connected`);
      assert.equal(c.io.engine.transport.name, "polling", `${c.label} on polling`);
      assert.deepEqual(c.problems, [], `${c.label}: ${c.problems}`);
    }
    const errorsAfter = await Promise.all(nodes.map(http400));
    assert.deepEqual(errorsAfter, errorsBefore, "no 400 (Session ID unknown) from the nodes");
    assert.doesNotMatch(nginx.accessLog(), new RegExp(`^${ports.byArgPort} .* 400 `, "m"), "no 400 in nginx's log");
  }));

  test("through the ip_hash upstream: polling clients and clients that upgrade to WebSocket", T, withLogs(async () => {
    const errorsBefore = await Promise.all(nodes.map(http400));
    const cs = [];
    for (let i = 0; i < 3; i++) cs.push(await placed(ports.ipHashPort, `polling${i}`, { transports: ["polling"] }));
    for (let i = 0; i < 3; i++) cs.push(await placed(ports.ipHashPort, `upgrade${i}`));
    for (const c of cs) assert.deepEqual(c.problems, [], `${c.label}: ${c.problems}`);
    // ip_hash on 127.0.0.x: one node for all (the /24 caveat of the docs).
    assert.equal(new Set(cs.map((c) => c.node)).size, 1, `every loopback client on one node (${cs.map((c) => c.node)})`);

    const upgrading = cs.filter((c) => c.label.startsWith("upgrade"));
    await eventually(() => upgrading.every((c) => c.io.engine.transport.name === "websocket"), 10000,
      "the default-transport clients upgraded to websocket through nginx");
    const node = nodes[cs[0].node];
    await until(async () => (await metric(node, "sio_sessions", '{transport="websocket"}')) === 3, 5000,
      "3 websocket sessions on the node");

    await chatRound(cs, 10);
    for (const c of cs) {
      assert.equal(c.connected, true, `${c.label} still connected`);
      assert.deepEqual(c.problems, [], `${c.label}: ${c.problems}`);
    }
    for (const c of cs.filter((c) => c.label.startsWith("polling"))) {
      assert.equal(c.io.engine.transport.name, "polling", `${c.label} on polling`);
    }
    const errorsAfter = await Promise.all(nodes.map(http400));
    assert.deepEqual(errorsAfter, errorsBefore, "no 400 (Session ID unknown) from the nodes");
    assert.doesNotMatch(nginx.accessLog(), new RegExp(`^${ports.ipHashPort} .* 400 `, "m"), "no 400 in nginx's log");
  }));

  test("negative control: without stickiness (round robin) polling sessions break", T, withLogs(async () => {
    // By hand: a handshake, then the first poll of that session. Round robin
    // sends the two requests to different nodes: the second one does not
    // know the sid.
    const hs = await get(ports.roundRobinPort, "/socket.io/?EIO=4&transport=polling");
    assert.equal(hs.status, 200, hs.body);
    const { sid } = JSON.parse(hs.body.slice(1)); // "0{...}": the open packet
    const poll = await get(ports.roundRobinPort, `/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.equal(poll.status, 400, `second request of a session through round robin: ${poll.status} ${poll.body}`);
    assert.deepEqual(JSON.parse(poll.body), { code: 1, message: "Session ID unknown" });

    // The same two requests through the by-arg upstream stay on one node.
    const hs2 = await get(ports.byArgPort, "/socket.io/?EIO=4&transport=polling&node=key0");
    assert.equal(hs2.status, 200, hs2.body);
    const sid2 = JSON.parse(hs2.body.slice(1)).sid;
    // The POST of the Socket.IO CONNECT answers at once (a GET would be held
    // until the node has something to send).
    const connect = await new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: ports.byArgPort, method: "POST", agent: false,
        path: `/socket.io/?EIO=4&transport=polling&node=key0&sid=${sid2}`,
        headers: { "Content-Type": "text/plain;charset=UTF-8" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", reject);
      req.end("40");
    });
    assert.equal(connect, 200, "a sticky session's POST is accepted");

    // The npm client, polling only: every one of them fails.
    const errorsBefore = await Promise.all(nodes.map(http400));
    const cs = [];
    for (let i = 0; i < 4; i++) {
      const c = await client(ports.roundRobinPort, `rr${i}`, { transports: ["polling"] });
      clients.push(c);
      cs.push(c);
      await eventually(() => c.problems.length > 0, 10000, `${c.label} fails (connected: ${c.connected})`);
    }
    for (const c of cs) assert.match(c.problems[0], /connect_error|disconnect: transport (error|close)/, c.label);
    const errorsAfter = await Promise.all(nodes.map(http400));
    const more = errorsAfter[0] + errorsAfter[1] - errorsBefore[0] - errorsBefore[1];
    assert.ok(more >= cs.length, `the nodes answered 400 (Session ID unknown) ${more} times for ${cs.length} clients`);
    assert.match(nginx.accessLog(), new RegExp(`^${ports.roundRobinPort} .*sid=.* 400 `, "m"),
      "400s on the round-robin port in nginx's log");
  }));
});
