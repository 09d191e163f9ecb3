// sio-chat as a production server: /metrics (Prometheus text format; the
// counters move by exactly what a scripted session did), /healthz, the
// --help man page, options from the environment (and flags overriding
// them), usage errors (exit 2), and the SIGTERM drain: clients see a
// proper disconnect, the server exits 0 within --drain-timeout, and the
// socket.io clients reconnect to a server restarted on the same port.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { io } from "socket.io-client";
import { startServer, checkExit, withTimeout, eventually } from "./lib/server.mjs";

const BUILD = process.env.SIO_BUILD || path.resolve(import.meta.dirname, "../../build");
const CHAT = path.join(BUILD, "server/sio-chat");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the exposition format ----------------------------------------------------

// Parses Prometheus text format 0.0.4: samples keyed by `name{labels}` (as
// written), plus the HELP and TYPE of each family.
function parseMetrics(text) {
  const samples = new Map();
  const help = new Map();
  const type = new Map();
  for (const line of text.split("\n")) {
    if (!line) continue;
    let m;
    if ((m = /^# HELP (\w+) (.+)$/.exec(line))) help.set(m[1], m[2]);
    else if ((m = /^# TYPE (\w+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) type.set(m[1], m[2]);
    else if ((m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line))) {
      assert.ok(!samples.has(m[1] + (m[2] || "")), `duplicate sample ${line}`);
      samples.set(m[1] + (m[2] || ""), Number(m[3]));
    } else assert.fail(`not exposition format: ${JSON.stringify(line)}`);
  }
  return { samples, help, type };
}

async function scrape(url) {
  const res = await fetch(`${url}/metrics`, { headers: { connection: "close" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parseMetrics(await res.text());
}

function value(metrics, key) {
  assert.ok(metrics.samples.has(key), `no sample ${key}`);
  return metrics.samples.get(key);
}

// ---- clients ---------------------------------------------------------------------

// A socket.io client that records every chat line it receives.
function chatClient(url, opts = {}) {
  const s = io(url, { forceNew: true, reconnection: false, ...opts });
  s.lines = [];
  s.on("message", (line) => s.lines.push(line));
  return s;
}

async function connected(s) {
  if (!s.connected) await withTimeout(new Promise((r) => s.once("connect", r)), 5000, "connect");
  // Our own "connected" line is the last thing the server sends on connect.
  await eventually(() => s.lines.includes(`${s.id} connected`), 3000, `${s.id} connected line`);
}

describe("metrics", () => {
  let server;
  before(async () => {
    server = await startServer("server/sio-chat", [
      "--host", "127.0.0.1",
      "--allow-origin", "http://allowed.example",
      "--max-payload", "1000",
    ]);
  });
  after(() => server.stop());

  test("/healthz answers 200 ok (text/plain) while serving", async () => {
    const res = await fetch(`${server.url}/healthz`, { headers: { connection: "close" } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^text\/plain/);
    assert.equal(await res.text(), "ok");
    const post = await fetch(`${server.url}/healthz`, { method: "POST", headers: { connection: "close" } });
    assert.equal(post.status, 405);
  });

  test("every family has HELP and TYPE; counters end in _total; names start with sio_", async () => {
    const m = await scrape(server.url);
    const families = new Set([...m.samples.keys()].map((k) => k.replace(/\{.*$/, "")));
    for (const f of families) {
      assert.match(f, /^sio_/, f);
      assert.ok(m.help.has(f), `HELP for ${f}`);
      assert.ok(m.type.has(f), `TYPE for ${f}`);
      if (m.type.get(f) === "counter") assert.match(f, /_total$/, `counter ${f}`);
      else assert.doesNotMatch(f, /_total$/, `gauge ${f}`);
    }
    for (const f of [
      "sio_connections", "sio_sessions", "sio_namespaces", "sio_sockets", "sio_rooms",
      "sio_handshakes_total", "sio_upgrades_total", "sio_sessions_closed_total",
      "sio_packets_received_total", "sio_packets_sent_total", "sio_bytes_received_total",
      "sio_bytes_sent_total", "sio_broadcasts_total", "sio_broadcast_deliveries_total",
      "sio_http_errors_total", "sio_errors_total", "sio_tls_handshakes_total", "sio_tls_errors_total",
      "sio_process_resident_memory_bytes", "sio_uptime_seconds",
    ])
      assert.ok(families.has(f), `family ${f}`);
    assert.ok(value(m, "sio_process_resident_memory_bytes") > 1e6);
    assert.ok(value(m, "sio_uptime_seconds") >= 0);
    assert.equal(value(m, "sio_namespaces"), 1);
  });

  test("a scripted session moves the counters by exactly its amounts", async () => {
    const before = await scrape(server.url);
    const N = 5;
    // Two clients on WebSocket, one starting on polling and upgrading;
    // one after the other, so that the join broadcasts reach 1, 2, 3.
    const a = chatClient(server.url, { transports: ["websocket"] });
    await connected(a);
    const b = chatClient(server.url, { transports: ["websocket"] });
    await connected(b);
    const c = chatClient(server.url, { transports: ["polling", "websocket"] });
    await connected(c);
    await eventually(() => c.io.engine.transport.name === "websocket", 5000, "upgrade");
    const clients = [a, b, c];
    // N chat lines from each: every line goes to all three.
    for (const s of clients) for (let i = 0; i < N; i++) s.emit("message", `line ${i} from ${s.id}`);
    await eventually(
      () => clients.every((s) => clients.every((from) => s.lines.includes(`${from.id}: line ${N - 1} from ${from.id}`))),
      5000,
      "all lines delivered",
    );
    // One leaves: the others hear it.
    const aid = a.id;
    a.disconnect();
    await eventually(() => [b, c].every((s) => s.lines.includes(`${aid} disconnected`)), 3000, "leave line");
    // Refused and failed requests.
    const forbidden = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: "http://evil.example", connection: "close" },
    });
    assert.equal(forbidden.status, 403);
    const bad = await fetch(`${server.url}/socket.io/?EIO=4&transport=carrier-pigeon`, { headers: { connection: "close" } });
    assert.equal(bad.status, 400);
    const missing = await fetch(`${server.url}/no-such-page`, { headers: { connection: "close" } });
    assert.equal(missing.status, 404);
    const hs = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { connection: "close" } });
    const sid = JSON.parse((await hs.text()).slice(1)).sid;
    const big = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
      method: "POST",
      headers: { "content-type": "text/plain;charset=UTF-8", connection: "close" },
      body: "4" + "x".repeat(3000),
    }).catch(() => null); // the server may close before the client finished sending
    if (big) assert.equal(big.status, 413);

    const want = {
      'sio_handshakes_total{transport="websocket"}': 2,
      'sio_handshakes_total{transport="polling"}': 2, // c, and the raw one
      "sio_upgrades_total": 1,
      'sio_sessions_closed_total{reason="transport_close"}': 1, // a
      'sio_sessions_closed_total{reason="transport_error"}': 1, // the 413
      'sio_sessions_closed_total{reason="ping_timeout"}': 0,
      'sio_sessions_closed_total{reason="parse_error"}': 0,
      'sio_socket_connects_total{namespace="/"}': 3,
      'sio_socket_disconnects_total{namespace="/"}': 1,
      'sio_events_received_total{namespace="/"}': 3 * N,
      // joins 1+2+3, lines 3N×3, the leave 2
      'sio_broadcasts_total{namespace="/"}': 3 + 3 * N + 1,
      'sio_broadcast_deliveries_total{namespace="/"}': 6 + 9 * N + 2,
      'sio_events_sent_total{namespace="/"}': 6 + 9 * N + 2,
      'sio_acks_received_total{namespace="/"}': 0,
      "sio_chat_messages_total": 3 * N,
      // Engine.IO messages: 3 CONNECTs, 3N events, a's DISCONNECT / 3 CONNECT replies + deliveries
      "sio_messages_received_total": 3 + 3 * N + 1,
      "sio_messages_sent_total": 3 + 6 + 9 * N + 2,
      'sio_http_errors_total{status="400"}': 1,
      'sio_http_errors_total{status="403"}': 1,
      'sio_http_errors_total{status="404"}': 1,
      'sio_http_errors_total{status="408"}': 0,
      'sio_http_errors_total{status="413"}': 1,
      'sio_http_errors_total{status="503"}': 0,
      'sio_errors_total{kind="protocol"}': 0,
      'sio_errors_total{kind="invalid_namespace"}': 0,
      'sio_tls_handshakes_total': 0,
    };
    let after;
    // The last closes land just after the clients' view of them.
    await eventually(
      async () => {
        after = await scrape(server.url);
        return value(after, 'sio_sessions_closed_total{reason="transport_close"}') -
          value(before, 'sio_sessions_closed_total{reason="transport_close"}') === 1 &&
          value(after, 'sio_sessions_closed_total{reason="transport_error"}') -
          value(before, 'sio_sessions_closed_total{reason="transport_error"}') === 1;
      },
      3000,
      "closes counted",
    ).catch(() => {});
    after = await scrape(server.url);
    const got = {};
    for (const k of Object.keys(want)) got[k] = value(after, k) - value(before, k);
    assert.deepEqual(got, want);
    // Gauges now: b and c on WebSocket, nobody on polling.
    assert.equal(value(after, 'sio_sessions{transport="websocket"}'), 2);
    assert.equal(value(after, 'sio_sessions{transport="polling"}'), 0);
    assert.equal(value(after, 'sio_sockets{namespace="/"}'), 2);
    assert.ok(value(after, "sio_connections") >= 2);
    // Traffic counters moved at least as much as the messages.
    for (const dir of ["received", "sent"]) {
      const packets = value(after, `sio_packets_${dir}_total`) - value(before, `sio_packets_${dir}_total`);
      assert.ok(packets >= got[`sio_messages_${dir}_total`], `packets ${dir}`);
      assert.ok(value(after, `sio_bytes_${dir}_total`) - value(before, `sio_bytes_${dir}_total`) > 1000, `bytes ${dir}`);
    }
    assert.ok(value(after, "sio_connections_accepted_total") - value(before, "sio_connections_accepted_total") >= 5);
    b.disconnect();
    c.disconnect();
  });
});

// ---- command line and environment ---------------------------------------------------

function runChat(args, env = {}) {
  return spawnSync(CHAT, args, { env: { ...process.env, ...env }, encoding: "utf8", timeout: 10000 });
}

test("--help reads like a man page and documents every option with its variable", () => {
  const r = runChat(["--help"]);
  assert.equal(r.status, 0);
  for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "ENVIRONMENT", "SIGNALS", "ENDPOINTS", "EXIT STATUS", "EXAMPLES"])
    assert.match(r.stdout, new RegExp(`^${section}$`, "m"), section);
  for (const flag of [
    "host", "port", "static", "client-dir", "cors", "cors-credentials", "ping-interval", "ping-timeout",
    "max-payload", "max-connections", "max-send-queue", "allow-origin", "tls-cert", "tls-key",
    "log-level", "drain-timeout",
  ]) {
    assert.match(r.stdout, new RegExp(`^    --${flag}\\b`, "m"), `--${flag}`);
    assert.ok(r.stdout.includes(`SIO_CHAT_${flag.toUpperCase().replaceAll("-", "_")}`), `env of --${flag}`);
  }
  assert.match(r.stdout, /\/healthz/);
  assert.match(r.stdout, /\/metrics/);
  assert.match(r.stdout, /SIGTERM/);
});

test("usage errors: unknown or malformed flags and variables exit 2 with a message", () => {
  const cases = [
    [["--no-such-flag"], {}, /unknown option '--no-such-flag'/],
    [["--port", "http"], {}, /--port: 'http' is not a whole number/],
    [["--ping-interval"], {}, /--ping-interval needs a value/],
    [["--log-level", "loud"], {}, /--log-level: 'loud'/],
    [["stray"], {}, /unexpected argument 'stray'/],
    [["--cors", "*,http://a.example"], {}, /'\*' cannot be combined/],
    [["--tls-cert", "x.pem"], {}, /--tls-cert and --tls-key go together/],
    [[], { SIO_CHAT_PORT: "eighty" }, /SIO_CHAT_PORT: 'eighty'/],
    [[], { SIO_CHAT_CORS_CREDENTIALS: "maybe" }, /SIO_CHAT_CORS_CREDENTIALS: 'maybe'/],
    [[], { SIO_CHAT_DRAIN_TIMEOUT: "-5" }, /SIO_CHAT_DRAIN_TIMEOUT/],
    [[], { SIO_CHAT_PROT: "3000" }, /unknown environment variable SIO_CHAT_PROT/],
  ];
  for (const [args, env, message] of cases) {
    const r = runChat(args, env);
    assert.equal(r.status, 2, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /--help/);
  }
});

async function handshake(url) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { connection: "close" } });
  return JSON.parse((await res.text()).slice(1));
}

// startServer inherits process.env: set the variables around the start.
async function startWithEnv(env, args) {
  const saved = {};
  for (const k of Object.keys(env)) (saved[k] = process.env[k]), (process.env[k] = env[k]);
  try {
    return await startServer("server/sio-chat", ["--host", "127.0.0.1", ...args]);
  } finally {
    for (const k of Object.keys(env)) saved[k] === undefined ? delete process.env[k] : (process.env[k] = saved[k]);
  }
}

test("options from the environment take effect; flags override them", async () => {
  const env = { SIO_CHAT_PING_INTERVAL: "1234", SIO_CHAT_MAX_PAYLOAD: "4321", SIO_CHAT_LOG_LEVEL: "debug" };
  const s1 = await startWithEnv(env, []);
  try {
    const open = await handshake(s1.url);
    assert.equal(open.pingInterval, 1234);
    assert.equal(open.maxPayload, 4321);
  } finally {
    await s1.stop();
  }
  assert.match(s1.stderr, / debug /, "SIO_CHAT_LOG_LEVEL=debug shows debug lines");
  const s2 = await startWithEnv(env, ["--ping-interval", "4000", "--log-level=warn"]);
  try {
    const open = await handshake(s2.url);
    assert.equal(open.pingInterval, 4000, "the flag wins");
    assert.equal(open.maxPayload, 4321, "the environment still applies to the rest");
  } finally {
    await s2.stop();
  }
  const chatty = s2.stderr.split("\n").filter((l) => / (info|debug) /.test(l) && !/listening on/.test(l));
  assert.deepEqual(chatty, [], "--log-level=warn hides info lines (all but the listening line)");
});

// ---- the drain ------------------------------------------------------------------------

// Spawns sio-chat directly (the drain tests signal it and restart it on the same port).
async function spawnChat(args) {
  const proc = spawn(CHAT, ["--host", "127.0.0.1", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const closed = new Promise((resolve) => proc.on("close", (code, signal) => resolve({ code, signal })));
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      proc.stderr.on("data", () => {
        const m = /listening on [^\s]*:(\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      proc.on("exit", (code) => reject(new Error(`sio-chat exited ${code}: ${stderr}`)));
    }),
    10000,
    "sio-chat start",
  );
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    get stderr() {
      return stderr;
    },
    // SIGTERM, then the exit (checked as startServer's stop does); resolves to ms taken.
    async term(boundMs) {
      const t0 = Date.now();
      proc.kill("SIGTERM");
      const { code, signal } = await withTimeout(closed, boundMs, "exit after SIGTERM");
      checkExit({ program: "sio-chat", code, signal, stderr });
      return Date.now() - t0;
    },
  };
}

test("SIGTERM during traffic: a proper disconnect, exit 0 in time, clients reconnect to the restarted server", async () => {
  const first = await spawnChat(["--port", "0", "--drain-timeout", "5000"]);
  const opts = { reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 400, randomizationFactor: 0 };
  const clients = [
    chatClient(first.url, { ...opts, transports: ["websocket"] }),
    chatClient(first.url, { ...opts, transports: ["websocket"] }),
    chatClient(first.url, { ...opts, transports: ["polling"] }),
  ];
  const reasons = clients.map(() => []);
  clients.forEach((s, i) => s.on("disconnect", (reason) => reasons[i].push(reason)));
  let restarted;
  try {
    for (const s of clients) await connected(s);
    // Traffic while the signal lands.
    let n = 0;
    const pump = setInterval(() => clients.forEach((s) => s.connected && s.emit("message", `tick ${n++}`)), 10);
    await sleep(200);
    const took = await first.term(7000);
    clearInterval(pump);
    assert.ok(took < 5000, `exited after ${took} ms (drain timeout 5000)`);
    assert.match(first.stderr, /sio-chat draining signal=SIGTERM/);
    assert.match(first.stderr, /sio-chat drained reason=done/);
    await eventually(() => reasons.every((r) => r.length === 1), 3000, "every client disconnected");
    assert.deepEqual(reasons, [["transport close"], ["transport close"], ["transport close"]]);

    // Same port, new process: the clients come back on their own and chat.
    restarted = await spawnChat(["--port", String(first.port)]);
    for (const s of clients) s.lines = [];
    await withTimeout(Promise.all(clients.map((s) => connected(s))), 10000, "reconnect");
    clients.forEach((s, i) => s.emit("message", `back ${i}`));
    await eventually(
      () => clients.every((s) => clients.every((from, i) => s.lines.includes(`${from.id}: back ${i}`))),
      5000,
      "chat after the restart",
    );
  } finally {
    clients.forEach((s) => s.disconnect());
    if (restarted) await restarted.term(5000);
    else first.proc.kill("SIGKILL");
  }
});

test("while draining: /healthz 503, new sessions 503, exit 0 at the drain timeout", async () => {
  const s = await spawnChat(["--port", "0", "--drain-timeout", "1500"]);
  // A connection stuck mid-request holds the drain until its deadline.
  const stuck = net.connect(s.port, "127.0.0.1");
  await new Promise((r) => stuck.on("connect", r));
  stuck.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
  stuck.on("error", () => {});
  await sleep(100); // read by the server before the signal: not an idle connection
  const t0 = Date.now();
  const exited = s.term(4000);
  await sleep(200);
  const health = await fetch(`${s.url}/healthz`, { headers: { connection: "close" } });
  assert.equal(health.status, 503);
  assert.equal(await health.text(), "draining");
  const hs = await fetch(`${s.url}/socket.io/?EIO=4&transport=polling`, { headers: { connection: "close" } });
  assert.equal(hs.status, 503);
  const metrics = parseMetrics(await (await fetch(`${s.url}/metrics`, { headers: { connection: "close" } })).text());
  assert.equal(value(metrics, "sio_draining"), 1);
  assert.equal(value(metrics, 'sio_http_errors_total{status="503"}'), 2);
  await exited;
  const took = Date.now() - t0;
  assert.ok(took >= 1400 && took < 3500, `exit after ${took} ms (drain timeout 1500)`);
  assert.match(s.stderr, /sio-chat drained reason=timeout/);
  stuck.destroy();
});

test("a second signal during the drain exits at once with status 1", async () => {
  const s = await spawnChat(["--port", "0", "--drain-timeout", "10000"]);
  const stuck = net.connect(s.port, "127.0.0.1");
  await new Promise((r) => stuck.on("connect", r));
  stuck.write("GET / HTTP/1.1\r\n");
  stuck.on("error", () => {});
  await sleep(100); // read by the server before the signal: not an idle connection
  const closed = new Promise((resolve) => s.proc.on("close", (code) => resolve(code)));
  s.proc.kill("SIGTERM");
  await sleep(200);
  const t0 = Date.now();
  s.proc.kill("SIGINT");
  assert.equal(await withTimeout(closed, 2000, "exit after the second signal"), 1);
  assert.ok(Date.now() - t0 < 1000);
  assert.match(s.stderr, /second signal/);
  stuck.destroy();
});
