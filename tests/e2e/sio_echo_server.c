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
  setup_namespace(sio_of(server, "/"));
  setup_namespace(sio_of(server, "/custom"));
  sio_namespace_t *refuse = sio_of(server, "/refuse");
  setup_namespace(refuse);
  sio_use(refuse, refuse_mw, NULL);
  fprintf(stderr, "sio-echo-server listening on %s:%d\n", host, sio_server_port(server));
  echo_run(loop, close_server, NULL);
  return 0;
}
