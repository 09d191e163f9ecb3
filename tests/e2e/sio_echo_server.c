/* sio-echo-server: the app the official socket.io-protocol test suite and our
 * end-to-end tests expect.
 *   sio-echo-server --port N [--host H] [--ping-interval 300] [--ping-timeout 200]
 *                   [--connect-timeout 1000] [--recovery MAX_DISCONNECTION_MS]
 *                   (and the flags of echo_common.h)
 * Namespaces "/" and "/custom": on connect emit "auth" with the handshake
 * auth; "message" → emit "message-back" with the same args;
 * "message-with-ack" → ack with the same args. CORS "*", maxPayload 1e6.
 * Test hooks (both namespaces): "ping-me" [timeoutMs] emits "ping-back"
 * asking for an ack, then "pinged" with the ack's args (or "ping-timeout");
 * "join" [room]; "to-room" [room, ...args] → io.to(room).emit("message-back");
 * "broadcast" [...args] → socket.broadcast.emit("message-back");
 * "disconnect-me" [close] → socket.disconnect(close);
 * "disconnect-reason" [id] → ack with the reason this app was given when
 * socket id disconnected (null if unknown; the last 64 are kept).
 * Namespace "/refuse" admits only auth {"token":"ok"}; others get
 * CONNECT_ERROR "Not authorized" with data {"reason":"test"}.
 * Server API hooks, on "/": onAny and onAnyOutgoing log event names per
 * socket ("any-log" / "outgoing-log" ack with them); a packet middleware
 * (socket.use) drops events named "forbidden" (whose handler would emit
 * "should-not-happen"); "volatile-burst" [n] emits n volatile "v" events at
 * once; "uncompressed" ...args emits "message-back" with compress(false).
 * Dynamic namespaces "/dyn-<digits>" (io.of(regex)) behave as "/custom";
 * "dyn-emit" there emits "dyn-news" [its namespace] to every such namespace.
 * GET /stats: live sessions, connections and RSS (leak and churn tests). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo_common.h"
#include "sio.h"

static void on_connection(sio_socket_t *s, void *data) {
  sio_emit(s, "auth", json_pack("[O]", sio_socket_auth(s)));
}

static void on_message(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_emit(s, "message-back", json_incref(args));
}

static void on_message_with_ack(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack,
                                void *data) {
  if (ack) sio_ack(ack, json_incref(args));
}

static void on_pinged(sio_socket_t *s, json_t *args, void *data) {
  if (!sio_socket_connected(s)) return;
  if (args) sio_emit(s, "pinged", json_incref(args));
  else sio_emit(s, "ping-timeout", NULL);
}

static void on_ping_me(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  json_int_t timeout = json_integer_value(json_array_get(args, 0));
  sio_emit_with_ack(s, "ping-back", json_pack("[s]", "please ack"),
                    timeout > 0 ? (uint32_t)timeout : 0, on_pinged, NULL);
}

static void on_join(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  const char *room = json_string_value(json_array_get(args, 0));
  if (room) sio_socket_join(s, room);
  if (ack) sio_ack(ack, NULL);
}

static void on_to_room(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  const char *room = json_string_value(json_array_get(args, 0));
  if (!room) return;
  json_t *rest = json_array();
  for (size_t i = 1; i < json_array_size(args); i++) json_array_append(rest, json_array_get(args, i));
  sio_emit_to(sio_socket_namespace(s), room, "message-back", rest);
}

static void on_broadcast(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_broadcast_emit(s, "message-back", json_incref(args));
}

static void on_disconnect_me(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_socket_disconnect(s, json_is_true(json_array_get(args, 0)));
}

static struct {
  char id[21];
  char reason[40];
} reasons[64];
static unsigned nreasons;

static void on_disconnect(sio_socket_t *s, const char *reason, void *data) {
  json_decref(sio_socket_get_data(s)); /* the API hooks' logs ("/") */
  sio_socket_set_data(s, NULL);
  unsigned i = nreasons++ % 64;
  snprintf(reasons[i].id, sizeof reasons[i].id, "%s", sio_socket_id(s));
  snprintf(reasons[i].reason, sizeof reasons[i].reason, "%s", reason);
}

static void on_disconnect_reason(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack,
                                 void *data) {
  const char *id = json_string_value(json_array_get(args, 0));
  const char *found = NULL;
  for (unsigned i = 0; id && i < 64 && i < nreasons; i++)
    if (strcmp(reasons[i].id, id) == 0) found = reasons[i].reason;
  if (ack) sio_ack(ack, json_pack("[s?]", found));
}

static int refuse_mw(sio_socket_t *s, void *data) {
  const char *token = json_string_value(json_object_get(sio_socket_auth(s), "token"));
  if (token && strcmp(token, "ok") == 0) return 0;
  sio_socket_refuse(s, "Not authorized", json_pack("{s:s}", "reason", "test"));
  return -1;
}

/* ---- the server API hooks of namespace "/" (tests/e2e/api.test.mjs) ---- */

/* The socket's {any: [...], out: [...]} logs of event names. */
static json_t *logs_of(sio_socket_t *s) {
  json_t *l = sio_socket_get_data(s);
  if (!l) {
    l = json_pack("{s:[], s:[]}", "any", "out");
    sio_socket_set_data(s, l);
  }
  return l;
}

static void on_any(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  json_array_append_new(json_object_get(logs_of(s), "any"), json_string(event));
}

static void on_any_outgoing(sio_socket_t *s, const char *event, const json_t *args, void *data) {
  json_array_append_new(json_object_get(logs_of(s), "out"), json_string(event));
}

static int forbid_mw(sio_socket_t *s, const char *event, json_t *args, void *data) {
  return strcmp(event, "forbidden") == 0 ? -1 : 0;
}

static void on_log(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  json_t *list = json_object_get(logs_of(s), strcmp(event, "any-log") == 0 ? "any" : "out");
  if (ack) sio_ack(ack, json_pack("[O]", list));
}

static void on_forbidden(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_emit(s, "should-not-happen", NULL);
}

static void on_uncompressed(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_emit_flags(s, "message-back", json_incref(args), SIO_BC_NO_COMPRESS);
}

static void on_volatile_burst(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  json_int_t n = json_integer_value(json_array_get(args, 0));
  for (json_int_t i = 0; i < n && i < 10000; i++) sio_emit_volatile(s, "v", json_pack("[I]", i));
}

/* Dynamic namespaces: "/dyn-<digits>". */
static int match_dyn(const char *name, const json_t *auth, void *data) {
  if (strncmp(name, "/dyn-", 5) != 0 || !name[5]) return 0;
  for (const char *p = name + 5; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

static void on_dyn_emit(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  /* io.of(pattern).emit: every child namespace's sockets. */
  sio_emit_all(data, "dyn-news", json_pack("[s]", sio_namespace_name(sio_socket_namespace(s))));
}

static void setup_namespace(sio_namespace_t *nsp) {
  sio_on_connection(nsp, on_connection, NULL);
  sio_on(nsp, "message", on_message, NULL);
  sio_on(nsp, "message-with-ack", on_message_with_ack, NULL);
  sio_on(nsp, "ping-me", on_ping_me, NULL);
  sio_on(nsp, "join", on_join, NULL);
  sio_on(nsp, "to-room", on_to_room, NULL);
  sio_on(nsp, "broadcast", on_broadcast, NULL);
  sio_on(nsp, "disconnect-me", on_disconnect_me, NULL);
  sio_on(nsp, "disconnect-reason", on_disconnect_reason, NULL);
  sio_on(nsp, "uncompressed", on_uncompressed, NULL);
  sio_on_disconnect(nsp, on_disconnect, NULL);
}

static sio_server_t *server;
static eio_server_t *engine;

static void close_server(void *arg) { sio_server_close(server, NULL, NULL); }

int main(int argc, char **argv) {
  sio_options_t opts;
  sio_options_init(&opts);
  int port = 3000;
  const char *host = "127.0.0.1";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has = i + 1 < argc;
    int k = echo_eio_flag(&opts.eio, argc, argv, &i);
    if (k == 1) continue;
    if (k == 0 && !strcmp(a, "--port") && has) port = atoi(argv[++i]);
    else if (k == 0 && !strcmp(a, "--host") && has) host = argv[++i];
    else if (k == 0 && !strcmp(a, "--connect-timeout") && has) opts.connect_timeout_ms = (uint32_t)atoi(argv[++i]);
    else if (k == 0 && !strcmp(a, "--recovery") && has) {
      opts.recovery = 1;
      opts.recovery_max_disconnection_ms = (uint32_t)atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: %s --port N [--host H] [--connect-timeout MS] [--recovery MAX_DISCONNECTION_MS] %s\n",
              argv[0], echo_eio_usage);
      return 2;
    }
  }
  opts.eio.cors_origin = "*";
  opts.eio.http_handler = echo_stats_handler;
  opts.eio.http_data = &engine;
  echo_raise_nofile();
  uv_loop_t *loop = uv_default_loop();
  int r = sio_server_new(loop, &opts, &server);
  if (!r) r = sio_server_listen(server, host, port);
  if (r) {
    fprintf(stderr, "sio-echo-server: cannot listen on %s:%d: %s\n", host, port, eio_strerror(r));
    return 1;
  }
  engine = sio_server_engine(server);
  sio_namespace_t *root = sio_of(server, "/");
  setup_namespace(root);
  sio_on_any(root, on_any, NULL);
  sio_on_any_outgoing(root, on_any_outgoing, NULL);
  sio_use_packet(root, forbid_mw, NULL);
  sio_on(root, "any-log", on_log, NULL);
  sio_on(root, "outgoing-log", on_log, NULL);
  sio_on(root, "forbidden", on_forbidden, NULL);
  sio_on(root, "volatile-burst", on_volatile_burst, NULL);
  sio_namespace_t *dyn = sio_of_match(server, match_dyn, NULL);
  setup_namespace(dyn);
  sio_on(dyn, "dyn-emit", on_dyn_emit, dyn);
  setup_namespace(sio_of(server, "/custom"));
  sio_namespace_t *refuse = sio_of(server, "/refuse");
  setup_namespace(refuse);
  sio_use(refuse, refuse_mw, NULL);
  fprintf(stderr, "sio-echo-server listening on %s:%d\n", host, sio_server_port(server));
  echo_run(loop, close_server, NULL);
  return 0;
}
