/* Engine.IO server: routes HTTP requests under the Engine.IO path, validates
 * them in the reference's order (PROTOCOL.md 1.6), opens sessions (polling
 * handshake or WebSocket), and hands everything else to the application's
 * HTTP handler. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "eio/eio_internal.h"
#include "util/id.h"
#include "util/log.h"
#include "net/tls.h"
#include "http/http_compress.h"
#include "ws/ws_conn.h"

enum {
  ERR_TRANSPORT_UNKNOWN = 0,
  ERR_UNKNOWN_SID = 1,
  ERR_BAD_HANDSHAKE_METHOD = 2,
  ERR_BAD_REQUEST = 3,
  ERR_FORBIDDEN = 4,
  ERR_UNSUPPORTED_PROTOCOL_VERSION = 5,
};

static const char *const error_messages[] = {
    "Transport unknown", "Session ID unknown", "Bad handshake method",
    "Bad request",       "Forbidden",          "Unsupported protocol version",
};

const char *eio_strerror(int err) {
  switch (err) {
  case 0: return "success";
  case EIO_EINVAL: return "invalid argument";
  case EIO_ECLOSED: return "socket closed";
  case EIO_ENOMEM: return "out of memory";
  case EIO_ETOOBIG: return "message larger than maxPayload";
  case EIO_EFULL: return "send queue full";
  case EIO_ETLS: return "TLS set-up failed";
  case EIO_ETIMEDOUT: return "operation has timed out";
  default: return err < 0 && err > -4000 ? uv_strerror(err) : "unknown error";
  }
}

const char *eio_close_reason_str(eio_close_reason_t reason) {
  static const char *const names[] = {"transport close", "transport error", "ping timeout",
                                      "parse error",     "forced close",    "server shutdown"};
  return (unsigned)reason < sizeof names / sizeof names[0] ? names[reason] : "unknown";
}

void eio_options_init(eio_options_t *o) {
  memset(o, 0, sizeof *o);
  o->path = "/engine.io/";
  o->ping_interval_ms = 25000;
  o->ping_timeout_ms = 20000;
  o->upgrade_timeout_ms = 10000;
  o->max_payload = 1000000;
  o->allow_upgrades = 1;
  o->transports = EIO_TRANSPORT_POLLING | EIO_TRANSPORT_WEBSOCKET;
  o->allow_eio3 = 0;
  o->max_header_bytes = 16384;
  o->header_timeout_ms = 30000;
  o->keepalive_timeout_ms = 5000;
  o->body_timeout_ms = 30000;
  o->max_send_queue = 4u << 20;
  o->tls_handshake_timeout_ms = 10000;
  o->deflate_threshold = 1024;
  o->deflate_level = -1;
  o->deflate_mem_level = 8;
  o->http_compression = 1;
  o->http_compression_threshold = 1024;
  o->cors_preflight_status = 204;
}

/* ---- CORS (PROTOCOL.md 1.12) ------------------------------------------------- */

/* As Node's `cors` middleware under engine.io: which headers depend on the
 * configuration, never on whether the request is then accepted. */

static int cors_enabled(const eio_server_t *srv) {
  return srv->opts.cors_origin || srv->opts.cors_origins;
}

static int cors_listed(const eio_server_t *srv, const char *o, size_t olen) {
  for (const char *const *p = srv->opts.cors_origins; *p; p++)
    if (strlen(*p) == olen && memcmp(*p, o, olen) == 0) return 1;
  return 0;
}

/* Appends a formatted piece; a response that would overflow loses the
 * piece rather than the whole header block. */
static size_t cors_put(char *out, size_t cap, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t cors_put(char *out, size_t cap, size_t n, const char *fmt, ...) {
  if (n >= cap) return n;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(out + n, cap - n, fmt, ap);
  va_end(ap);
  if (m < 0 || (size_t)m >= cap - n) {
    out[n] = 0;
    return n;
  }
  return n + (size_t)m;
}

/* The headers every response gets (origin, credentials, exposed headers);
 * *vary_origin tells whether the caller owes "Vary: Origin". */
static size_t cors_common(eio_server_t *srv, const sio__http_req *req, char *out, size_t cap,
                          int *vary_origin) {
  size_t n = 0;
  size_t olen;
  const char *o = sio__http_req_header(req, "origin", &olen);
  if (o && (olen > 512 || sio__http_header_value_invalid(o, olen))) o = NULL;
  *vary_origin = 0;
  if (srv->opts.cors_origins) {
    *vary_origin = 1;
    if (o && cors_listed(srv, o, olen))
      n = cors_put(out, cap, n, "Access-Control-Allow-Origin: %.*s\r\n", (int)olen, o);
  } else if (strcmp(srv->opts.cors_origin, "*") == 0) {
    if (srv->opts.cors_credentials) {
      /* "*" cannot be combined with credentials: reflect the caller. */
      n = cors_put(out, cap, n, "Access-Control-Allow-Origin: %.*s\r\n", o ? (int)olen : 1, o ? o : "*");
      *vary_origin = 1;
    } else {
      n = cors_put(out, cap, n, "Access-Control-Allow-Origin: *\r\n");
    }
  } else {
    n = cors_put(out, cap, n, "Access-Control-Allow-Origin: %s\r\n", srv->opts.cors_origin);
    *vary_origin = 1;
  }
  if (srv->opts.cors_credentials) n = cors_put(out, cap, n, "Access-Control-Allow-Credentials: true\r\n");
  if (srv->opts.cors_exposed_headers)
    n = cors_put(out, cap, n, "Access-Control-Expose-Headers: %s\r\n", srv->opts.cors_exposed_headers);
  return n;
}

void sio__eio_cors_headers(eio_server_t *srv, const sio__http_req *req, char *out, size_t cap) {
  out[0] = 0;
  if (!cors_enabled(srv)) return;
  int vary;
  size_t n = cors_common(srv, req, out, cap, &vary);
  if (vary) cors_put(out, cap, n, "Vary: Origin\r\n");
}

/* OPTIONS preflight: the common headers plus methods, allowed headers and
 * max age; 204 (or the configured status), empty body. */
static void cors_preflight(eio_server_t *srv, sio__conn *c, const sio__http_req *req) {
  char h[2048];
  int vary_origin, vary_rh = 0;
  size_t n = cors_common(srv, req, h, sizeof h, &vary_origin);
  n = cors_put(h, sizeof h, n, "Access-Control-Allow-Methods: %s\r\n",
               srv->opts.cors_methods ? srv->opts.cors_methods : "GET,HEAD,PUT,PATCH,POST,DELETE");
  if (srv->opts.cors_allowed_headers) {
    if (*srv->opts.cors_allowed_headers)
      n = cors_put(h, sizeof h, n, "Access-Control-Allow-Headers: %s\r\n", srv->opts.cors_allowed_headers);
  } else {
    size_t rlen;
    const char *rh = sio__http_req_header(req, "access-control-request-headers", &rlen);
    vary_rh = 1;
    if (rh && rlen && rlen < 512 && !sio__http_header_value_invalid(rh, rlen))
      n = cors_put(h, sizeof h, n, "Access-Control-Allow-Headers: %.*s\r\n", (int)rlen, rh);
  }
  if (srv->opts.cors_max_age)
    n = cors_put(h, sizeof h, n, "Access-Control-Max-Age: %u\r\n", srv->opts.cors_max_age);
  if (vary_origin || vary_rh)
    n = cors_put(h, sizeof h, n, "Vary: %s%s%s\r\n", vary_origin ? "Origin" : "",
                 vary_origin && vary_rh ? ", " : "", vary_rh ? "Access-Control-Request-Headers" : "");
  int status = srv->opts.cors_preflight_status;
  sio__http_respond(c, status >= 200 && status < 300 ? status : 204, h, NULL, 0);
}

/* ---- request validation -------------------------------------------------------- */

typedef struct eio_query {
  char eio[8];
  char transport[16];
  char sid[32];
  char b64[8];
  ptrdiff_t eio_len, transport_len, sid_len, b64_len;
} eio_query;

/* As the reference: EIO=4 is revision 4, anything else (even none) is 3. */
static int protocol_of(const eio_query *q) { return q->eio_len == 1 && q->eio[0] == '4' ? 4 : 3; }

/* A non-empty b64 parameter: the client takes no binary (the reference's
 * supportsBinary = !query.b64). */
static int b64_of(const eio_query *q) { return q->b64_len > 0; }

static void parse_query(const sio__http_req *req, eio_query *q) {
  const char *path, *query;
  size_t plen, qlen;
  sio__http_req_path_query(req, &path, &plen, &query, &qlen);
  q->eio_len = sio__http_query_get(query, qlen, "EIO", q->eio, sizeof q->eio);
  q->transport_len = sio__http_query_get(query, qlen, "transport", q->transport, sizeof q->transport);
  q->sid_len = sio__http_query_get(query, qlen, "sid", q->sid, sizeof q->sid);
  q->b64_len = sio__http_query_get(query, qlen, "b64", q->b64, sizeof q->b64);
}

static int transport_of(eio_server_t *srv, const eio_query *q) {
  if (q->transport_len < 0) return 0;
  if (strcmp(q->transport, "polling") == 0 && (srv->opts.transports & EIO_TRANSPORT_POLLING))
    return EIO_TRANSPORT_POLLING;
  if (strcmp(q->transport, "websocket") == 0 && (srv->opts.transports & EIO_TRANSPORT_WEBSOCKET))
    return EIO_TRANSPORT_WEBSOCKET;
  return 0;
}

static int origin_allowed(eio_server_t *srv, const char *origin, size_t olen) {
  for (const char *const *o = srv->opts.allowed_origins; *o; o++)
    if (strlen(*o) == olen && memcmp(*o, origin, olen) == 0) return 1;
  return 0;
}

/* Returns -1 if the request is acceptable, else an error code; *sock is the
 * session named by sid, if any. A refusal by the allow_request hook may set
 * *message. */
static int verify(eio_server_t *srv, sio__conn *c, sio__http_req *req, const eio_query *q,
                  int upgrade, eio_socket_t **sock, const char **message) {
  *sock = NULL;
  int transport = transport_of(srv, q);
  if (!transport) return ERR_TRANSPORT_UNKNOWN;
  size_t olen;
  const char *origin = sio__http_req_header(req, "origin", &olen);
  if (origin && sio__http_header_value_invalid(origin, olen)) return ERR_BAD_REQUEST;
  if (origin && srv->opts.allowed_origins && !origin_allowed(srv, origin, olen)) {
    char peer[64];
    sio__conn_peer(c, peer, sizeof peer);
    SIO_LOGI("eio: refusing a request from %s: origin %.*s is not allowed", peer,
             (int)(olen < 200 ? olen : 200), origin);
    return ERR_FORBIDDEN;
  }
  if (q->sid_len >= 0) {
    sio__hmap_node *n = sio__hmap_get(&srv->sessions, q->sid, (size_t)q->sid_len);
    if (!n) return ERR_UNKNOWN_SID;
    eio_socket_t *s = sio__container_of(n, eio_socket_t, node);
    if (!upgrade && s->transport != transport) return ERR_BAD_REQUEST;
    /* Every request of a session names its revision (the reference's
     * PROTOCOL_MISMATCH). */
    if (s->protocol != protocol_of(q)) return ERR_BAD_REQUEST;
    *sock = s;
    return -1;
  }
  if (req->method != HTTP_GET) return ERR_BAD_HANDSHAKE_METHOD;
  if (transport == EIO_TRANSPORT_WEBSOCKET && !upgrade) return ERR_BAD_REQUEST;
  if (srv->opts.allow_request) {
    /* responded = 1: the hook only looks at the request. */
    eio_http_request_t r = {c, req, NULL, 0, 1, {0}};
    if (!srv->opts.allow_request(&r, message, srv->opts.data)) return ERR_FORBIDDEN;
  }
  if (protocol_of(q) == 3 && !srv->opts.allow_eio3) return ERR_UNSUPPORTED_PROTOCOL_VERSION;
  return -1;
}

/* A JSON string's contents: quotes, backslashes and controls escaped. */
static size_t json_escape(char *out, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 7 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') out[n++] = '\\', out[n++] = (char)ch;
    else if (ch < 0x20) n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
    else out[n++] = (char)ch;
  }
  out[n] = 0;
  return n;
}

static void respond_error(eio_server_t *srv, sio__conn *c, const sio__http_req *req, int code,
                          const char *message) {
  char h[1400], msg[256], body[320];
  int n = snprintf(h, sizeof h, "Content-Type: application/json\r\n");
  sio__eio_cors_headers(srv, req, h + n, sizeof h - (size_t)n);
  json_escape(msg, sizeof msg, message ? message : error_messages[code]);
  int blen = snprintf(body, sizeof body, "{\"code\":%d,\"message\":\"%s\"}", code, msg);
  sio__http_respond(c, code == ERR_FORBIDDEN ? 403 : 400, h, body, (size_t)blen);
}

/* A new session while draining: 503, the client retries (elsewhere). */
static void respond_draining(eio_server_t *srv, sio__conn *c, const sio__http_req *req) {
  char h[1024];
  int n = snprintf(h, sizeof h, "Content-Type: text/plain\r\nRetry-After: 1\r\n");
  sio__eio_cors_headers(srv, req, h + n, sizeof h - (size_t)n);
  sio__http_respond(c, 503, h, "Server shutting down", 20);
}

static int path_matches(eio_server_t *srv, const sio__http_req *req) {
  size_t ulen;
  const char *url = sio__http_req_url(req, &ulen);
  return ulen >= srv->path_len && memcmp(url, srv->opts.path, srv->path_len) == 0;
}

static int path_has_rest(eio_server_t *srv, const sio__http_req *req) {
  const char *path, *query;
  size_t plen, qlen;
  sio__http_req_path_query(req, &path, &plen, &query, &qlen);
  return plen > srv->path_len;
}

/* ---- HTTP entry points ---------------------------------------------------------- */

/* Offers the request to the application's HTTP handler; 1 if it answered. */
static int app_handler(eio_server_t *srv, sio__conn *c, sio__http_req *req, char *body, size_t len) {
  if (!srv->opts.http_handler) return 0;
  eio_http_request_t r = {c, req, body, len, 0, {0}};
  srv->opts.http_handler(&r, srv->opts.http_data);
  return r.responded;
}

static int user_handler(eio_server_t *srv, sio__conn *c, sio__http_req *req, char *body, size_t len) {
  if (!app_handler(srv, c, req, body, len))
    sio__http_respond(c, 404, "Content-Type: text/plain\r\n", "Not Found", 9);
  return SIO__HTTP_DONE;
}

static int eio_on_request(sio__http_server *hs, sio__conn *c, sio__http_req *req, char *body, size_t len) {
  eio_server_t *srv = sio__container_of(hs, eio_server_t, http);
  /* A POST tied to its session by eio_on_headers is untied whatever the
   * answer (an error, the app's handler): the session must not keep it. */
  eio_socket_t *tied = sio__http_conn_of(c)->owner;
  if (tied) {
    sio__http_conn_of(c)->owner = NULL;
    if (tied->post == c) tied->post = NULL;
  }
  if (!path_matches(srv, req)) return user_handler(srv, c, req, body, len);
  /* Something below the Engine.IO path (/socket.io/socket.io.js, as
   * Node's serveClient): the application may answer it first. */
  if (path_has_rest(srv, req) && app_handler(srv, c, req, body, len)) return SIO__HTTP_DONE;
  if (req->method == HTTP_OPTIONS && cors_enabled(srv)) {
    cors_preflight(srv, c, req);
    return SIO__HTTP_DONE;
  }
  eio_query q;
  parse_query(req, &q);
  eio_socket_t *s;
  const char *message = NULL;
  int err = verify(srv, c, req, &q, 0, &s, &message);
  if (err >= 0) {
    respond_error(srv, c, req, err, message);
    return SIO__HTTP_DONE;
  }
  if (!s && srv->draining) {
    respond_draining(srv, c, req);
    return SIO__HTTP_DONE;
  }
  if (!s) {
    /* Polling handshake: the open packet is the answer to this GET. */
    s = sio__eio_socket_new(srv, req, c, EIO_TRANSPORT_POLLING);
    if (!s) {
      sio__http_respond(c, 500, NULL, NULL, 0);
      return SIO__HTTP_DONE;
    }
    s->protocol = (uint8_t)protocol_of(&q);
    s->poll_b64 = (uint8_t)b64_of(&q);
    s->get = c;
    sio__http_conn_of(c)->owner = s;
    sio__eio_socket_open(s);
    return s->get == c ? SIO__HTTP_ASYNC : SIO__HTTP_DONE;
  }
  if (req->method == HTTP_GET) {
    if (s->get) {
      /* Two long-polls at once: the session fails (PROTOCOL.md 1.5). */
      SIO_LOGI("eio: session %s: overlapping GET requests", s->sid);
      char cors[1024];
      sio__eio_cors_headers(srv, req, cors, sizeof cors);
      sio__http_respond(c, 400, cors, NULL, 0);
      sio__eio_socket_close(s, EIO_CLOSE_TRANSPORT_ERROR);
      return SIO__HTTP_DONE;
    }
    return sio__eio_socket_on_get(s, c);
  }
  if (req->method == HTTP_POST) {
    char cors[1024];
    sio__eio_cors_headers(srv, req, cors, sizeof cors);
    size_t ctlen;
    const char *ct = sio__http_req_header(req, "content-type", &ctlen);
    if (tied != s) {
      SIO_LOGI("eio: session %s: overlapping POST requests", s->sid);
      sio__http_respond(c, 400, cors, NULL, 0);
      sio__eio_socket_close(s, EIO_CLOSE_TRANSPORT_ERROR);
      return SIO__HTTP_DONE;
    }
    int octets = ct && ctlen == 24 && memcmp(ct, "application/octet-stream", 24) == 0;
    if (octets && s->protocol != 3) {
      /* Binary POST bodies are an Engine.IO v3 thing. */
      sio__http_respond(c, 400, cors, NULL, 0);
      sio__eio_socket_close(s, EIO_CLOSE_TRANSPORT_ERROR);
      return SIO__HTTP_DONE;
    }
    sio__eio_socket_on_post(s, c, body, len, octets);
    return SIO__HTTP_DONE;
  }
  sio__http_respond(c, 500, NULL, NULL, 0);
  return SIO__HTTP_DONE;
}

/* A POST is tied to its session as soon as its headers arrive, so a second
 * one overlapping it, or its connection dropping mid-body, is noticed. */
static void eio_on_headers(sio__http_server *hs, sio__conn *c, sio__http_req *req) {
  eio_server_t *srv = sio__container_of(hs, eio_server_t, http);
  if (req->method != HTTP_POST || !path_matches(srv, req)) return;
  eio_query q;
  parse_query(req, &q);
  if (q.sid_len < 0) return;
  sio__hmap_node *n = sio__hmap_get(&srv->sessions, q.sid, (size_t)q.sid_len);
  if (!n) return;
  eio_socket_t *s = sio__container_of(n, eio_socket_t, node);
  if (s->post || s->state != EIO_STATE_OPEN) return;
  s->post = c;
  sio__http_conn_of(c)->owner = s;
}

static void eio_on_abort(sio__http_server *hs, sio__conn *c, void *owner) {
  sio__eio_socket_on_abort((eio_socket_t *)owner, c);
}

/* Refusals before the 101 are raw, as the reference writes them on the
 * socket: 400 with the plain message; 403 for a refused origin or request. */
static void upgrade_refuse(sio__conn *c, int status, const char *message) {
  char buf[512];
  sio__http_count_status(sio__container_of(c->net, sio__http_server, net), status);
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-type: text/html\r\n"
                   "Content-Length: %zu\r\n\r\n%.256s",
                   status, sio__http_status_text(status), strlen(message) < 256 ? strlen(message) : 256,
                   message);
  sio__conn_write_copy(c, buf, (size_t)n);
  sio__conn_close_after_write(c);
}

static void eio_on_upgrade(sio__http_server *hs, sio__conn *c, sio__http_req *req, char *rest, size_t len) {
  eio_server_t *srv = sio__container_of(hs, eio_server_t, http);
  if (!path_matches(srv, req)) {
    upgrade_refuse(c, 400, "Not Found");
    return;
  }
  eio_query q;
  parse_query(req, &q);
  eio_socket_t *s;
  const char *message = NULL;
  int err = verify(srv, c, req, &q, 1, &s, &message);
  if (err >= 0) {
    upgrade_refuse(c, err == ERR_FORBIDDEN ? 403 : 400, message ? message : error_messages[err]);
    return;
  }
  if (transport_of(srv, &q) != EIO_TRANSPORT_WEBSOCKET || sio__ws_check_request(req) != 0) {
    upgrade_refuse(c, 400, "Bad request");
    return;
  }
  /* permessage-deflate, as ws decides it (after the key and version). */
  sio__pmd_params pmd_params;
  int deflate = sio__ws_negotiate(srv->pmd, req, &pmd_params);
  if (deflate < 0) {
    upgrade_refuse(c, 400, "Invalid or unacceptable Sec-WebSocket-Extensions header");
    return;
  }
  const sio__pmd_params *pmd = deflate ? &pmd_params : NULL;
  char cors[1024];
  sio__eio_cors_headers(srv, req, cors, sizeof cors);
  if (!s && srv->draining) {
    upgrade_refuse(c, 503, "Server shutting down");
    return;
  }
  if (!s) {
    s = sio__eio_socket_new(srv, req, c, EIO_TRANSPORT_WEBSOCKET);
    if (!s) {
      upgrade_refuse(c, 500, "Server error");
      return;
    }
    /* The open packet must be the first frame: attach, then feed the rest. */
    if (sio__ws_accept(c, req, cors, srv->opts.max_payload, srv->pmd, pmd, NULL, NULL, NULL, 0) != 0) {
      sio__eio_socket_close(s, EIO_CLOSE_TRANSPORT_ERROR);
      sio__conn_close(c);
      return;
    }
    s->protocol = (uint8_t)protocol_of(&q);
    sio__eio_socket_attach_ws(s, c, b64_of(&q));
    sio__eio_socket_open(s);
    if (len && !sio__conn_closing(c)) c->proto->on_data(c, rest, len);
    return;
  }
  if (s->transport != EIO_TRANSPORT_POLLING || s->upgrading || s->state != EIO_STATE_OPEN ||
      !srv->opts.allow_upgrades) {
    /* Already upgraded (or upgrading): accept, then close at once. */
    if (sio__ws_accept(c, req, cors, srv->opts.max_payload, srv->pmd, pmd, NULL, NULL, NULL, 0) == 0)
      sio__ws_close(c, 0, NULL);
    else
      sio__conn_close(c);
    return;
  }
  if (sio__ws_accept(c, req, cors, srv->opts.max_payload, srv->pmd, pmd, NULL, NULL, NULL, 0) != 0) {
    sio__conn_close(c);
    return;
  }
  sio__eio_socket_attach_probe(s, c, b64_of(&q));
  if (len && !sio__conn_closing(c)) c->proto->on_data(c, rest, len);
}

/* ---- server life cycle ------------------------------------------------------------ */

/* The open-file limit, less a margin for listeners, the loop's own
 * descriptors and whatever else the process opens. */
/* A NULL-terminated string list copied into one allocation (NULL stays NULL). */
static const char *const *copy_strings(const char *const *list) {
  if (!list) return NULL;
  size_t n = 0, bytes = 0;
  for (; list[n]; n++) bytes += strlen(list[n]) + 1;
  char **out = malloc((n + 1) * sizeof *out + bytes);
  if (!out) return NULL;
  char *p = (char *)(out + n + 1);
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(list[i]) + 1;
    memcpy(p, list[i], l);
    out[i] = p;
    p += l;
  }
  out[n] = NULL;
  return (const char *const *)out;
}

static const char *copy_string(const char *s) { return s ? strdup(s) : NULL; }

/* The option strings are owned copies; a NULL copy of a non-NULL original
 * is a failure (returns -1; opts_free_strings cleans up either way). */
static int opts_copy_strings(eio_server_t *srv, const eio_options_t *o) {
  eio_options_t *c = &srv->opts;
  c->path = copy_string(o->path);
  c->cors_origin = copy_string(o->cors_origin);
  c->cors_methods = copy_string(o->cors_methods);
  c->cors_allowed_headers = copy_string(o->cors_allowed_headers);
  c->cors_exposed_headers = copy_string(o->cors_exposed_headers);
  c->cors_origins = copy_strings(o->cors_origins);
  c->allowed_origins = copy_strings(o->allowed_origins);
  return (!c->path || (o->cors_origin && !c->cors_origin) || (o->cors_methods && !c->cors_methods) ||
          (o->cors_allowed_headers && !c->cors_allowed_headers) ||
          (o->cors_exposed_headers && !c->cors_exposed_headers) ||
          (o->cors_origins && !c->cors_origins) || (o->allowed_origins && !c->allowed_origins))
             ? -1
             : 0;
}

static void opts_free_strings(eio_server_t *srv) {
  eio_options_t *c = &srv->opts;
  free((void *)c->path);
  free((void *)c->cors_origin);
  free((void *)c->cors_methods);
  free((void *)c->cors_allowed_headers);
  free((void *)c->cors_exposed_headers);
  free((void *)c->cors_origins);
  free((void *)c->allowed_origins);
}

static void pmd_config_of(const eio_options_t *o, sio__pmd_config *c) {
  sio__pmd_config_init(c);
  c->threshold = o->deflate_threshold;
  c->server_nct = o->deflate_server_no_context_takeover;
  c->client_nct = o->deflate_client_no_context_takeover;
  c->server_max_wbits = o->deflate_server_max_window_bits;
  c->client_max_wbits = o->deflate_client_max_window_bits;
  c->level = o->deflate_level;
  c->mem_level = o->deflate_mem_level;
}

static size_t default_max_connections(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur > 128 ? (size_t)rl.rlim_cur - 64 : (size_t)rl.rlim_cur / 2;
}

int eio_server_new(uv_loop_t *loop, const eio_options_t *opts, eio_server_t **out) {
  sio__log_init();
  if (sio__id_init() != 0) return EIO_EINVAL;
  if (!opts || !opts->path || opts->path[0] != '/' || !opts->ping_interval_ms || !opts->transports)
    return EIO_EINVAL;
  sio__pmd_config pmd_cfg;
  pmd_config_of(opts, &pmd_cfg);
  if (opts->per_message_deflate && sio__pmd_config_check(&pmd_cfg) != 0) return EIO_EINVAL;
  /* TLS first: a bad certificate or key fails here, before anything exists. */
  sio__tls_ctx *tls = NULL;
  if ((opts->tls_cert_file || opts->tls_key_file) &&
      sio__tls_ctx_new(opts->tls_cert_file, opts->tls_key_file, &tls) != 0)
    return EIO_ETLS;
  eio_server_t *srv = calloc(1, sizeof *srv);
  if (!srv) {
    sio__tls_ctx_free(tls);
    return EIO_ENOMEM;
  }
  srv->opts = *opts;
  if (opts_copy_strings(srv, opts) != 0) {
    opts_free_strings(srv);
    free(srv);
    sio__tls_ctx_free(tls);
    return EIO_ENOMEM; /* never silently widen an allow-list */
  }
  srv->path_len = strlen(srv->opts.path);
  sio__hmap_init(&srv->sessions);
  srv->http.max_header_bytes = opts->max_header_bytes;
  srv->http.max_body = opts->max_payload;
  srv->http.on_request = eio_on_request;
  srv->http.on_headers = eio_on_headers;
  srv->http.on_upgrade = eio_on_upgrade;
  srv->http.on_abort = eio_on_abort;
  srv->http.data = srv;
  srv->http.max_conns = opts->max_connections ? opts->max_connections : default_max_connections();
  int r = sio__http_server_init(&srv->http, loop, opts->header_timeout_ms, opts->body_timeout_ms,
                                opts->keepalive_timeout_ms);
  if (r) {
    opts_free_strings(srv);
    free(srv);
    sio__tls_ctx_free(tls);
    return r;
  }
  /* A queue must hold at least one largest message (framed), or big
   * messages could never be sent. */
  srv->opts.max_send_queue = opts->max_send_queue > opts->max_payload + 65536
                                 ? opts->max_send_queue
                                 : opts->max_payload + 65536;
  srv->http.net.max_send_queue = srv->opts.max_send_queue;
  /* Compression state is small (zlib streams come with their first use);
   * without memory for it the server just does not compress. */
  if (opts->per_message_deflate && !(srv->pmd = sio__pmd_ctx_new(&pmd_cfg, loop)))
    SIO_LOGW("eio: out of memory: permessage-deflate disabled");
  if (opts->http_compression &&
      !(srv->http.compress = sio__http_compress_new(opts->http_compression_threshold, -1)))
    SIO_LOGW("eio: out of memory: HTTP compression disabled");
  if (tls) sio__net_tls_attach(&srv->http.net, tls, opts->tls_handshake_timeout_ms);
  sio__tq_init(loop, &srv->q_ping_interval, opts->ping_interval_ms, sio__eio_ping_interval, srv);
  sio__tq_init(loop, &srv->q_ping_timeout, opts->ping_timeout_ms, sio__eio_ping_timeout, srv);
  sio__tq_init(loop, &srv->q_ping_v3, (uint64_t)opts->ping_interval_ms + opts->ping_timeout_ms,
               sio__eio_ping_timeout, srv);
  sio__tq_init(loop, &srv->q_upgrade, 100, sio__eio_tick, srv);
  sio__tq_init(loop, &srv->q_close, 30000, sio__eio_close_timeout, srv);
  sio__tq_init(loop, &srv->q_drain, 1000, sio__eio_close_timeout, srv);
  sio__tq_init(loop, &srv->q_fail, 0, sio__eio_fail_deferred, srv);
  *out = srv;
  return 0;
}

int eio_server_listen(eio_server_t *srv, const char *host, int port) {
  return sio__net_listen(&srv->http.net, host, port);
}

int eio_server_port(const eio_server_t *srv) { return sio__net_port(&srv->http.net); }
size_t eio_server_clients_count(const eio_server_t *srv) { return srv->nclients; }
size_t eio_server_connections_count(const eio_server_t *srv) { return srv->http.net.nconns; }
void *eio_server_data(const eio_server_t *srv) { return srv->opts.data; }

void eio_server_stats(const eio_server_t *srv, eio_stats_t *out) {
  const sio__net *net = &srv->http.net;
  const sio__http_server *h = &srv->http;
  memset(out, 0, sizeof *out);
  out->connections = net->nconns;
  out->sessions = srv->nclients;
  out->sessions_websocket = srv->stats.sessions_ws;
  out->sessions_polling = srv->nclients - srv->stats.sessions_ws;
  out->draining = srv->draining ? 1 : 0;
  out->connections_accepted = net->stats.accepted;
  out->handshakes_polling = srv->stats.handshakes_polling;
  out->handshakes_websocket = srv->stats.handshakes_ws;
  out->upgrades = srv->stats.upgrades;
  memcpy(out->closes, srv->stats.closes, sizeof out->closes);
  out->packets_in = srv->stats.packets_in;
  out->packets_out = srv->stats.packets_out;
  out->messages_in = srv->stats.messages_in;
  out->messages_out = srv->stats.messages_out;
  out->bytes_in = net->stats.bytes_in;
  out->bytes_out = net->stats.bytes_out;
  out->http_requests = h->stats.requests;
  out->http_400 = h->stats.s400;
  out->http_403 = h->stats.s403;
  out->http_404 = h->stats.s404;
  out->http_408 = h->stats.s408;
  out->http_413 = h->stats.s413;
  out->http_431 = h->stats.s431;
  out->http_500 = h->stats.s500;
  out->http_503 = h->stats.s503;
  out->http_other_errors = h->stats.other;
  out->tls_handshakes = net->stats.tls_handshakes;
  out->tls_errors = net->stats.tls_errors;
  out->tls_plain_http = net->stats.tls_plain_http;
}

int eio_server_draining(const eio_server_t *srv) { return srv->draining; }

/* Closes every session for a server shutdown (each close may remove it). */
static void close_sessions(eio_server_t *srv, void (*close_fn)(eio_socket_t *, eio_close_reason_t)) {
  uint32_t it;
  sio__hmap_node *n = sio__hmap_first(&srv->sessions, &it);
  while (n) {
    sio__hmap_node *next = sio__hmap_next(&srv->sessions, n, &it);
    close_fn(sio__container_of(n, eio_socket_t, node), EIO_CLOSE_SERVER_SHUTDOWN);
    n = next;
  }
}

void eio_server_drain(eio_server_t *srv) {
  if (srv->draining || srv->closing) return;
  srv->draining = 1;
  SIO_LOGI("eio: draining: closing %zu sessions, refusing new ones", srv->nclients);
  sio__http_server_drain(&srv->http);
  close_sessions(srv, sio__eio_socket_close_graceful);
}

/* ---- logging ---------------------------------------------------- */

int eio_log_level(void) {
  sio__log_init();
  return sio__log_level;
}


/* Ten timer handles and the net must all be released before the free:
 * srv->closing counts them, plus one while closing. */
static void server_maybe_free(eio_server_t *srv);

static void tq_closed(uv_handle_t *h) {
  sio__tq *q = h->data;
  eio_server_t *srv = q->data;
  srv->closing--;
  server_maybe_free(srv);
}

static void net_closed(sio__net *net) {
  eio_server_t *srv = sio__container_of(net, eio_server_t, http.net);
  srv->closing--;
  server_maybe_free(srv);
}

static void server_maybe_free(eio_server_t *srv) {
  if (srv->closing != 1) return; /* 1 = the base count while closing */
  void (*cb)(void *) = srv->on_closed;
  void *arg = srv->on_closed_arg;
  sio__hmap_free(&srv->sessions);
  sio__pmd_ctx_free(srv->pmd);
  sio__http_compress_free(srv->http.compress);
  opts_free_strings(srv);
  free(srv);
  if (cb) cb(arg);
}

void eio_server_close(eio_server_t *srv, void (*on_closed)(void *arg), void *arg) {
  if (srv->closing) return;
  srv->on_closed = on_closed;
  srv->on_closed_arg = arg;
  srv->closing = 1;
  /* Sessions first: pending polls get their close packet, WebSockets a close frame. */
  close_sessions(srv, sio__eio_socket_close);
  sio__tq *qs[] = {&srv->q_ping_interval, &srv->q_ping_timeout,  &srv->q_ping_v3,
                   &srv->q_upgrade,       &srv->q_close,         &srv->q_drain,
                   &srv->q_fail,          &srv->http.header_tq,  &srv->http.body_tq,
                   &srv->http.keepalive_tq};
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
    srv->closing++;
    qs[i]->data = srv; /* no more expiries: the queue now only needs its owner */
    qs[i]->timer.data = qs[i];
    sio__tq_close(qs[i], tq_closed);
  }
  sio__tq *idle = sio__pmd_ctx_idle_queue(srv->pmd); /* permessage-deflate's, if on */
  if (idle) {
    srv->closing++;
    idle->data = srv;
    idle->timer.data = idle;
    sio__tq_close(idle, tq_closed);
  }
  srv->closing++;
  sio__net_close(&srv->http.net, net_closed);
}

/* ---- eio_http_request_t ------------------------------------------------------------ */

const char *eio_http_request_method(const eio_http_request_t *r) {
  return llhttp_method_name((llhttp_method_t)r->req->method);
}

const char *eio_http_request_path(const eio_http_request_t *r, size_t *len) {
  const char *path, *query;
  size_t plen, qlen;
  sio__http_req_path_query(r->req, &path, &plen, &query, &qlen);
  if (len) *len = plen;
  return path;
}

const char *eio_http_request_query(const eio_http_request_t *r, size_t *len) {
  const char *path, *query;
  size_t plen, qlen;
  sio__http_req_path_query(r->req, &path, &plen, &query, &qlen);
  if (len) *len = qlen;
  return query;
}

const char *eio_http_request_header(const eio_http_request_t *r, const char *name) {
  size_t len;
  return sio__http_req_header(r->req, name, &len);
}

const char *eio_http_request_address(const eio_http_request_t *r) {
  eio_http_request_t *m = (eio_http_request_t *)r; /* the address is cached on first use */
  if (!m->addr[0]) sio__conn_peer(m->conn, m->addr, sizeof m->addr);
  return m->addr;
}

const char *eio_http_request_body(const eio_http_request_t *r, size_t *len) {
  if (len) *len = r->body_len;
  return r->body;
}

int eio_http_respond(eio_http_request_t *r, int status, const char *headers, const void *body, size_t len) {
  if (r->responded) return EIO_EINVAL;
  r->responded = 1;
  sio__http_respond(r->conn, status, headers, body, len);
  return 0;
}
