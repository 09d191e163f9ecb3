/* metrics.c: see metrics.h. */
#include "metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- a growing text buffer ---------------------------------------------------- */

typedef struct text {
  char *p;
  size_t len, cap;
  int failed;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
  if (t->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if (t->p && (size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t ncap = t->cap ? t->cap * 2 : 8192;
    while (ncap < t->len + (size_t)n + 1) ncap *= 2;
    char *np = realloc(t->p, ncap);
    if (!np) {
      t->failed = 1;
      return;
    }
    t->p = np;
    t->cap = ncap;
  }
}

/* ---- exposition format ---------------------------------------------------------- */

static void family(text *t, const char *name, const char *type, const char *help) {
  put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(text *t, const char *name, uint64_t v) { put(t, "%s %" PRIu64 "\n", name, v); }

/* One sample with one label; the value of the label is escaped as the
 * format requires (backslash, double quote, newline). */
static void sample1(text *t, const char *name, const char *label, const char *value, uint64_t v) {
  put(t, "%s{%s=\"", name, label);
  for (const char *p = value; *p; p++) {
    if (*p == '\\' || *p == '"') put(t, "\\%c", *p);
    else if (*p == '\n') put(t, "\\n");
    else put(t, "%c", *p);
  }
  put(t, "\"} %" PRIu64 "\n", v);
}

static uint64_t resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size, rss;
  if (f) {
    int ok = fscanf(f, "%lu %lu", &size, &rss) == 2;
    fclose(f);
    if (ok) return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
  }
  struct rusage ru; /* no /proc: the peak is the best we have */
  return getrusage(RUSAGE_SELF, &ru) == 0 ? (uint64_t)ru.ru_maxrss * 1024 : 0;
}

/* The Redis adapter's counters (sio-chat --redis). One row per field of
 * sio_redis_adapter_stats_t: a field added there is one row here (a counter
 * in `counters`, named sio_redis_<what>_total; a gauge next to `connected`). */
static void render_redis(const sio_redis_adapter_t *a, text *t) {
  sio_redis_adapter_stats_t rs;
  sio_redis_adapter_stats(a, &rs);
  const struct {
    const char *name, *help;
    uint64_t v;
  } counters[] = {
      {"sio_redis_published_total", "Broadcasts handed to Redis (PUBLISH queued on a live link).",
       rs.published},
      {"sio_redis_publish_failed_total",
       "Broadcasts not published (Redis down, encoding error): they reached this node's clients only.",
       rs.publish_failed},
      {"sio_redis_publish_lost_total",
       "Broadcasts handed to Redis whose link died before Redis acknowledged them.", rs.publish_lost},
      {"sio_redis_received_total", "Broadcasts received from other nodes through Redis.", rs.received},
      {"sio_redis_deliveries_total", "Sockets of this node reached by broadcasts from other nodes.",
       rs.deliveries},
      {"sio_redis_invalid_total", "Messages from Redis that could not be decoded (ignored).", rs.invalid},
      {"sio_redis_reconnects_total", "Redis links re-established after a loss or a failed attempt.",
       rs.reconnects},
      {"sio_redis_requests_sent_total",
       "Requests sent to the other nodes (fetchSockets, socketsJoin/Leave, disconnectSockets, serverSideEmit, "
       "broadcasts with acks).",
       rs.requests_sent},
      {"sio_redis_requests_failed_total", "Requests that could not be published: only this node's part was done.",
       rs.requests_failed},
      {"sio_redis_requests_received_total", "Requests from other nodes handled.", rs.requests_received},
      {"sio_redis_responses_sent_total", "Answers to other nodes' requests published.", rs.responses_sent},
      {"sio_redis_responses_received_total", "Answers to this node's requests received.", rs.responses_received},
  };
  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++) {
    family(t, counters[i].name, "counter", counters[i].help);
    sample(t, counters[i].name, counters[i].v);
  }
  family(t, "sio_redis_connected", "gauge",
         "1 while both Redis links are up and the subscriptions confirmed, else 0.");
  sample(t, "sio_redis_connected", rs.connected ? 1 : 0);
}

static void render(chat_metrics *m, text *t) {
  sio_stats_t st;
  sio_namespace_stats_t ns;
  sio_server_stats(m->srv, &st);
  sio_namespace_stats(m->nsp, &ns);
  const eio_stats_t *e = &st.eio;
  const char *nsp = sio_namespace_name(m->nsp);

  /* Gauges. */
  family(t, "sio_connections", "gauge", "Open TCP connections (HTTP requests, long-polls, WebSockets).");
  sample(t, "sio_connections", e->connections);
  family(t, "sio_sessions", "gauge", "Open Engine.IO sessions by transport.");
  sample1(t, "sio_sessions", "transport", "polling", e->sessions_polling);
  sample1(t, "sio_sessions", "transport", "websocket", e->sessions_websocket);
  family(t, "sio_namespaces", "gauge", "Socket.IO namespaces.");
  sample(t, "sio_namespaces", st.namespaces);
  family(t, "sio_sockets", "gauge", "Connected Socket.IO sockets by namespace.");
  sample1(t, "sio_sockets", "namespace", nsp, ns.sockets);
  family(t, "sio_rooms", "gauge", "Rooms with members (not counting each socket's own room).");
  sample(t, "sio_rooms", st.total.rooms);
  family(t, "sio_draining", "gauge", "1 while the server drains before exiting.");
  sample(t, "sio_draining", e->draining);

  /* Engine.IO counters. */
  family(t, "sio_connections_accepted_total", "counter", "TCP connections accepted.");
  sample(t, "sio_connections_accepted_total", e->connections_accepted);
  family(t, "sio_handshakes_total", "counter", "Engine.IO sessions opened, by first transport.");
  sample1(t, "sio_handshakes_total", "transport", "polling", e->handshakes_polling);
  sample1(t, "sio_handshakes_total", "transport", "websocket", e->handshakes_websocket);
  family(t, "sio_upgrades_total", "counter", "Sessions upgraded from polling to WebSocket.");
  sample(t, "sio_upgrades_total", e->upgrades);
  family(t, "sio_sessions_closed_total", "counter", "Engine.IO sessions closed, by reason.");
  static const char *const reasons[EIO_CLOSE_REASON_COUNT] = {
      "transport_close", "transport_error", "ping_timeout", "parse_error", "forced_close", "server_shutdown"};
  for (int r = 0; r < EIO_CLOSE_REASON_COUNT; r++)
    sample1(t, "sio_sessions_closed_total", "reason", reasons[r], e->closes[r]);
  family(t, "sio_packets_received_total", "counter", "Engine.IO packets received.");
  sample(t, "sio_packets_received_total", e->packets_in);
  family(t, "sio_packets_sent_total", "counter", "Engine.IO packets sent (queued to a transport).");
  sample(t, "sio_packets_sent_total", e->packets_out);
  family(t, "sio_messages_received_total", "counter", "Engine.IO message packets received.");
  sample(t, "sio_messages_received_total", e->messages_in);
  family(t, "sio_messages_sent_total", "counter", "Engine.IO message packets sent.");
  sample(t, "sio_messages_sent_total", e->messages_out);
  family(t, "sio_bytes_received_total", "counter", "Bytes read from clients (ciphertext under TLS).");
  sample(t, "sio_bytes_received_total", e->bytes_in);
  family(t, "sio_bytes_sent_total", "counter", "Bytes written to clients (ciphertext under TLS).");
  sample(t, "sio_bytes_sent_total", e->bytes_out);
  family(t, "sio_http_requests_total", "counter", "HTTP requests received (upgrades included).");
  sample(t, "sio_http_requests_total", e->http_requests);
  family(t, "sio_http_errors_total", "counter", "HTTP error answers, by status.");
  const struct { const char *status; uint64_t v; } http[] = {
      {"400", e->http_400}, {"403", e->http_403}, {"404", e->http_404}, {"408", e->http_408},
      {"413", e->http_413}, {"431", e->http_431}, {"500", e->http_500}, {"503", e->http_503},
      {"other", e->http_other_errors}};
  for (size_t i = 0; i < sizeof http / sizeof http[0]; i++)
    sample1(t, "sio_http_errors_total", "status", http[i].status, http[i].v);

  /* Socket.IO, per namespace; the recovery rows are zeros without --recovery. */
  const struct {
    const char *name, *type, *help;
    uint64_t v;
  } per_nsp[] = {
      {"sio_socket_connects_total", "counter", "Sockets admitted to a namespace.", ns.connects},
      {"sio_socket_disconnects_total", "counter", "Sockets gone from a namespace, any reason.", ns.disconnects},
      {"sio_events_received_total", "counter", "Socket.IO events received from clients.", ns.events_in},
      {"sio_events_sent_total", "counter", "Socket.IO events sent, one per recipient.", ns.events_out},
      {"sio_acks_received_total", "counter", "Acknowledgements received from clients.", ns.acks_in},
      {"sio_acks_sent_total", "counter", "Acknowledgements sent to clients.", ns.acks_out},
      {"sio_broadcasts_total", "counter",
       "Broadcasts made on this node (io.emit, to(room).emit, broadcast.emit); from other nodes: "
       "sio_redis_received_total.",
       ns.broadcasts},
      {"sio_broadcast_deliveries_total", "counter", "Sockets reached by broadcasts made on this node.",
       ns.broadcast_deliveries},
      {"sio_recovered_total", "counter", "Sockets restored by connection state recovery.", ns.recovered},
      {"sio_recovery_evicted_total", "counter",
       "Events dropped from the recovery store before their time (its byte cap).", ns.recovery_evicted},
      {"sio_recovery_sessions", "gauge", "Sessions kept for clients that may come back.", ns.recovery_sessions},
      {"sio_recovery_events", "gauge", "Events kept for recovery.", ns.recovery_packets},
      {"sio_recovery_bytes", "gauge", "Approximate bytes of the events kept for recovery.", ns.recovery_bytes},
  };
  for (size_t i = 0; i < sizeof per_nsp / sizeof per_nsp[0]; i++) {
    family(t, per_nsp[i].name, per_nsp[i].type, per_nsp[i].help);
    sample1(t, per_nsp[i].name, "namespace", nsp, per_nsp[i].v);
  }
  family(t, "sio_errors_total", "counter",
         "Socket.IO errors by kind: CONNECTs refused by a middleware or for an unknown namespace, "
         "connections closed for a protocol violation or for joining no namespace in time.");
  sample1(t, "sio_errors_total", "kind", "connect_refused", st.total.connect_errors);
  sample1(t, "sio_errors_total", "kind", "invalid_namespace", st.invalid_namespace);
  sample1(t, "sio_errors_total", "kind", "protocol", st.protocol_errors);
  sample1(t, "sio_errors_total", "kind", "connect_timeout", st.connect_timeouts);

  /* TLS. */
  family(t, "sio_tls_handshakes_total", "counter", "TLS handshakes completed.");
  sample(t, "sio_tls_handshakes_total", e->tls_handshakes);
  family(t, "sio_tls_errors_total", "counter",
         "TLS failures by kind: failed handshakes and other TLS errors, plain HTTP sent to the TLS port.");
  sample1(t, "sio_tls_errors_total", "kind", "tls", e->tls_errors);
  sample1(t, "sio_tls_errors_total", "kind", "plain_http", e->tls_plain_http);

  /* Scale-out (--redis): nothing without it. */
  if (m->redis) render_redis(m->redis, t);

  /* The application and the process. */
  family(t, "sio_chat_messages_total", "counter", "Chat lines relayed by sio-chat.");
  sample(t, "sio_chat_messages_total", m->chat_lines);
  family(t, "sio_process_resident_memory_bytes", "gauge", "Resident memory of the process.");
  sample(t, "sio_process_resident_memory_bytes", resident_bytes());
  family(t, "sio_process_start_time_seconds", "gauge", "Start time of the process, Unix seconds.");
  put(t, "sio_process_start_time_seconds %.3f\n", (double)m->start_unix_ms / 1000.0);
  family(t, "sio_uptime_seconds", "gauge", "Seconds since the process started.");
  put(t, "sio_uptime_seconds %.3f\n", (double)(uv_hrtime() / 1000000 - m->start_ms) / 1000.0);
}

/* ---- endpoints --------------------------------------------------------------------- */

static int is_get(eio_http_request_t *req) {
  const char *m = eio_http_request_method(req);
  return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

int chat_metrics_serve(chat_metrics *m, eio_http_request_t *req) {
  size_t len;
  const char *path = eio_http_request_path(req, &len);
  int health = len == 8 && !memcmp(path, "/healthz", 8);
  int metrics = len == 8 && !memcmp(path, "/metrics", 8);
  if (!health && !metrics) return 0;
  if (!is_get(req)) {
    eio_http_respond(req, 405, "Allow: GET, HEAD\r\nContent-Type: text/plain; charset=utf-8\r\n",
                     "Method Not Allowed", 18);
    return 1;
  }
  if (health) {
    static const char h[] = "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
    if (m->draining) eio_http_respond(req, 503, h, "draining", 8);
    else eio_http_respond(req, 200, h, "ok", 2);
    return 1;
  }
  text t = {0};
  render(m, &t);
  if (t.failed) {
    free(t.p);
    eio_http_respond(req, 500, "Content-Type: text/plain\r\n", "out of memory", 13);
    return 1;
  }
  eio_http_respond(req, 200,
                   "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nCache-Control: no-store\r\n",
                   t.p, t.len);
  free(t.p);
  return 1;
}
