// CORS (PROTOCOL.md 1.12) as configured through sio-chat's flags: an origin
// list (reflected when listed, with Vary: Origin; no Allow-Origin when not),
// "*", credentials, exposed headers, preflights (methods, allowed headers
// configured or echoed, max age, 204), on errors and on the WebSocket 101.
// Each case is also asked of the reference (socket.io with Node's `cors`
// package, in this process) with the same settings, and the CORS headers
// must be the same.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Server } from "socket.io";
import WebSocket from "ws";
import { startServer } from "./lib/server.mjs";

const A = "http://a.example";
const B = "http://b.example";
const C = "http://c.example";

// One HTTP exchange on a fresh connection: status and headers.
function request(url, method, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { connection: "close", ...headers }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

// The CORS part of a response, normalized for comparison.
function cors(h) {
  const out = {};
  for (const [k, v] of Object.entries(h))
    if (k.startsWith("access-control-") || k === "vary") out[k] = k === "vary" ? v.split(/\s*,\s*/).sort().join(", ") : v;
  return out;
}

// The reference: socket.io on an ephemeral port with these cors options.
async function reference(corsOptions) {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { cors: corsOptions });
  await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${httpServer.address().port}`,
    close: () => new Promise((r) => io.close(() => r())),
  };
}

const handshake = "/socket.io/?EIO=4&transport=polling";

// The exchanges compared in every configuration.
const exchanges = [
  ["handshake, listed origin", "GET", handshake, { origin: A }],
  ["handshake, second listed origin", "GET", handshake, { origin: B }],
  ["handshake, unlisted origin", "GET", handshake, { origin: C }],
  ["handshake, no origin", "GET", handshake, {}],
  ["error answer (bad transport)", "GET", "/socket.io/?EIO=4&transport=nope", { origin: A }],
  ["preflight, listed origin, request headers", "OPTIONS", handshake,
    { origin: A, "access-control-request-method": "POST", "access-control-request-headers": "x-token,content-type" }],
  ["preflight, unlisted origin", "OPTIONS", handshake, { origin: C, "access-control-request-method": "GET" }],
  ["preflight, no request headers", "OPTIONS", handshake, { origin: A, "access-control-request-method": "GET" }],
];

function configSuite(name, flags, refOptions, extra = () => {}) {
  describe(name, () => {
    let ours, ref;
    before(async () => {
      ours = await startServer("server/sio-chat", ["--host", "127.0.0.1", ...flags]);
      ref = await reference(refOptions);
    });
    after(async () => {
      await ref.close();
      await ours.stop();
    });
    for (const [what, method, path, headers] of exchanges)
      test(`${what}: as socket.io + cors`, async () => {
        const [got, want] = await Promise.all([request(ours.url + path, method, headers), request(ref.url + path, method, headers)]);
        assert.equal(got.status, want.status, "status");
        assert.deepEqual(cors(got.headers), cors(want.headers));
        if (method === "OPTIONS") assert.equal(got.headers["content-length"], "0");
      });
    extra(() => ours);
  });
}

configSuite(
  "origin list with credentials and exposed headers",
  ["--cors", `${A},${B}`, "--cors-credentials", "--cors-exposed-headers", "X-Request-Id,X-Other"],
  { origin: [A, B], credentials: true, exposedHeaders: ["X-Request-Id", "X-Other"] },
  (server) => {
    test("a listed origin is reflected, with Vary: Origin; an unlisted one gets no Allow-Origin", async () => {
      const ok = await request(server().url + handshake, "GET", { origin: A });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers["access-control-allow-origin"], A);
      assert.equal(ok.headers["access-control-allow-credentials"], "true");
      assert.equal(ok.headers["access-control-expose-headers"], "X-Request-Id,X-Other");
      assert.match(ok.headers.vary, /Origin/);
      const no = await request(server().url + handshake, "GET", { origin: C });
      assert.equal(no.status, 200, "CORS does not refuse (that is --allow-origin's job)");
      assert.equal(no.headers["access-control-allow-origin"], undefined);
      assert.match(no.headers.vary, /Origin/);
    });
    test("the preflight echoes the requested headers, 204", async () => {
      const r = await request(server().url + handshake, "OPTIONS", {
        origin: B,
        "access-control-request-method": "POST",
        "access-control-request-headers": "x-token",
      });
      assert.equal(r.status, 204);
      assert.equal(r.headers["access-control-allow-origin"], B);
      assert.equal(r.headers["access-control-allow-methods"], "GET,HEAD,PUT,PATCH,POST,DELETE");
      assert.equal(r.headers["access-control-allow-headers"], "x-token");
      assert.match(r.headers.vary, /Access-Control-Request-Headers/);
    });
    test("the WebSocket 101 carries the headers too", async () => {
      const url = server().url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket";
      const ws = new WebSocket(url, { origin: A });
      const res = await new Promise((resolve, reject) => {
        ws.on("upgrade", resolve);
        ws.on("error", reject);
      });
      assert.equal(res.headers["access-control-allow-origin"], A);
      assert.equal(res.headers["access-control-allow-credentials"], "true");
      ws.close();
    });
  },
);

configSuite("any origin", ["--cors", "*"], { origin: "*" }, (server) => {
  test("Allow-Origin: * and no Vary: Origin", async () => {
    const r = await request(server().url + handshake, "GET", { origin: C });
    assert.equal(r.headers["access-control-allow-origin"], "*");
    assert.doesNotMatch(r.headers.vary || "", /Origin/);
  });
});

configSuite(
  "configured methods, allowed headers and max age",
  ["--cors", A, "--cors-methods", "GET,POST", "--cors-allowed-headers", "Content-Type,Authorization", "--cors-max-age", "600"],
  { origin: [A], methods: ["GET", "POST"], allowedHeaders: ["Content-Type", "Authorization"], maxAge: 600 },
  (server) => {
    test("the preflight sends the configured lists, not the echo", async () => {
      const r = await request(server().url + handshake, "OPTIONS", {
        origin: A,
        "access-control-request-headers": "x-anything",
      });
      assert.equal(r.status, 204);
      assert.equal(r.headers["access-control-allow-methods"], "GET,POST");
      assert.equal(r.headers["access-control-allow-headers"], "Content-Type,Authorization");
      assert.equal(r.headers["access-control-max-age"], "600");
      assert.doesNotMatch(r.headers.vary, /Access-Control-Request-Headers/);
    });
  },
);

describe("CORS from the environment; none by default", () => {
  test("SIO_CHAT_CORS and SIO_CHAT_CORS_CREDENTIALS", async () => {
    process.env.SIO_CHAT_CORS = `${A}, ${B}`;
    process.env.SIO_CHAT_CORS_CREDENTIALS = "true";
    let server;
    try {
      server = await startServer("server/sio-chat", ["--host", "127.0.0.1"]);
    } finally {
      delete process.env.SIO_CHAT_CORS;
      delete process.env.SIO_CHAT_CORS_CREDENTIALS;
    }
    try {
      const r = await request(server.url + handshake, "GET", { origin: B });
      assert.equal(r.headers["access-control-allow-origin"], B);
      assert.equal(r.headers["access-control-allow-credentials"], "true");
    } finally {
      await server.stop();
    }
  });

  test("without --cors no CORS header is sent, even to a preflight", async () => {
    const server = await startServer("server/sio-chat", ["--host", "127.0.0.1"]);
    try {
      for (const method of ["GET", "OPTIONS"]) {
        const r = await request(server.url + handshake, method, { origin: A, "access-control-request-method": "GET" });
        assert.deepEqual(cors(r.headers), {}, method);
      }
    } finally {
      await server.stop();
    }
  });
});
