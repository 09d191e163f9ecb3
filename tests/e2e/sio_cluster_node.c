/* sio-cluster-node: one node of a test cluster, the C twin of
 * tests/e2e/ref/ref-cluster-node.mjs (socket.io with @socket.io/redis-adapter),
 * for tests/e2e/cluster.test.mjs. Clients drive cluster operations through
 * events on namespace "/"; a selection `sel` is {rooms: [...], except: [...]}
 * (both optional: everyone).
 *
 *   sio-cluster-node --port N [--host H] [--redis redis://H:P] [--name NAME]
 *
 * On connection: socket.data = {node: NAME, user: auth.user}; joins
 * auth.room if given.
 *   "fetch" sel, ack         → io.in(rooms).except(except).fetchSockets():
 *                              ack({err, sockets: [{id, rooms, data, address}]}) sorted by id
 *   "join" sel, room, ack    → socketsJoin(room), ack("ok")
 *   "leave" sel, room, ack   → socketsLeave(room), ack("ok")
 *   "kick" sel, close, ack   → disconnectSockets(close), ack("ok")
 *   "emit" sel, payload      → io.to(rooms).except(except).emit("news", payload, NAME)
 *   "sse" payload            → io.serverSideEmit("hello", payload, NAME)
 *   "sse-ack" payload, ack   → io.serverSideEmitWithAck("hello-ack", payload):
 *                              ack({err, responses}) (responses sorted by node)
 *   "bc-ack" sel, ms, ack    → io.to(...).except(...).timeout(ms).emit("question", NAME,
 *                              (err, responses) => ack({err, responses})) (responses sorted)
 * Server-side events heard from other nodes:
 *   "hello" payload, from    → io.local.emit("heard", {node: NAME, payload, from})
 *   "hello-ack" payload, cb  → cb({node: NAME, payload}) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo_common.h"
#include "sio.h"

static const char *node_name = "sio";

/* sel → a broadcast operator on nsp. */
static sio_broadcast_t *selection(sio_namespace_t *nsp, json_t *sel) {
  sio_broadcast_t *b = sio_bc_new(nsp);
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(sel, "rooms"), i, v) sio_bc_to(b, json_string_value(v));
  json_array_foreach(json_object_get(sel, "except"), i, v) sio_bc_except(b, json_string_value(v));
  return b;
}

static int by_key(const void *x, const void *y, const char *key) {
  const char *a = json_string_value(json_object_get(*(json_t *const *)x, key));
  const char *b = json_string_value(json_object_get(*(json_t *const *)y, key));
  return strcmp(a ? a : "", b ? b : "");
}
static int by_id(const void *x, const void *y) { return by_key(x, y, "id"); }
static int by_node(const void *x, const void *y) { return by_key(x, y, "node"); }
static int by_string(const void *x, const void *y) {
  const char *a = json_string_value(*(json_t *const *)x), *b = json_string_value(*(json_t *const *)y);
  return strcmp(a ? a : "", b ? b : "");
}

/* A sorted copy of arr (a new reference). */
static json_t *sorted(json_t *arr, int (*cmp)(const void *, const void *)) {
  size_t n = json_array_size(arr);
  json_t **v = calloc(n ? n : 1, sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = json_array_get(arr, i);
  qsort(v, n, sizeof *v, cmp);
  json_t *out = json_array();
  for (size_t i = 0; i < n; i++) json_array_append(out, v[i]);
  free(v);
  return out;
}

static json_t *err_value(int err) { return err ? json_string(eio_strerror(err)) : json_null(); }

static void on_connection(sio_socket_t *s, void *data) {
  json_t *auth = sio_socket_auth(s);
  json_t *user = json_object_get(auth, "user");
  sio_socket_set_json(s, json_pack("{s:s, s:O}", "node", node_name, "user", user ? user : json_null()));
  const char *room = json_string_value(json_object_get(auth, "room"));
  if (room) sio_socket_join(s, room);
}

static void fetched(int err, json_t *sockets, void *data) {
  sio_ack_t *ack = data;
  json_t *list = json_array();
  size_t i;
  json_t *s;
  json_array_foreach(sockets, i, s) {
    json_t *hs = json_object_get(s, "handshake");
    json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(s, "id"), "rooms",
                                          json_object_get(s, "rooms"), "data", json_object_get(s, "data"),
                                          "address", json_object_get(hs, "address")));
  }
  json_t *sorted_list = sorted(list, by_id);
  json_decref(list);
  sio_ack(ack, json_pack("[{s:o, s:o}]", "err", err_value(err), "sockets", sorted_list));
}

static void on_fetch(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  if (!ack) return;
  sio_ack_keep(ack);
  if (sio_bc_fetch_sockets(selection(sio_socket_namespace(s), json_array_get(args, 0)), fetched, ack) != 0)
    sio_ack(ack, json_pack("[{s:s}]", "err", "fetchSockets failed"));
}

static void on_op(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_broadcast_t *b = selection(sio_socket_namespace(s), json_array_get(args, 0));
  int r;
  if (strcmp(event, "kick") == 0) {
    r = sio_bc_disconnect_sockets(b, json_is_true(json_array_get(args, 1)));
  } else {
    const char *room = json_string_value(json_array_get(args, 1));
    r = strcmp(event, "join") == 0 ? sio_bc_sockets_join(b, room) : sio_bc_sockets_leave(b, room);
  }
  if (ack && sio_socket_connected(s)) sio_ack(ack, json_pack("[s]", r >= 0 ? "ok" : eio_strerror(r)));
}

static void on_emit(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  sio_bc_emit(selection(sio_socket_namespace(s), json_array_get(args, 0)), "news",
              json_pack("[O, s]", json_array_get(args, 1), node_name));
  if (ack) sio_ack(ack, json_pack("[s]", "ok"));
}

static void on_sse(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  int r = sio_server_side_emit(sio_socket_namespace(s), "hello", json_pack("[O, s]", json_array_get(args, 0),
                                                                           node_name));
  if (ack) sio_ack(ack, json_pack("[s]", r == 0 ? "ok" : eio_strerror(r)));
}

static void answered(int err, json_t *responses, void *data) {
  sio_ack_t *ack = data;
  int (*cmp)(const void *, const void *) = by_node;
  if (json_array_size(responses) && json_is_string(json_array_get(responses, 0))) cmp = by_string;
  sio_ack(ack, json_pack("[{s:o, s:o}]", "err", err_value(err), "responses", sorted(responses, cmp)));
}

static void on_sse_ack(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  if (!ack) return;
  sio_ack_keep(ack);
  if (sio_server_side_emit_with_ack(sio_socket_namespace(s), "hello-ack", json_pack("[O]", json_array_get(args, 0)),
                                    0, answered, ack) != 0)
    sio_ack(ack, json_pack("[{s:s}]", "err", "serverSideEmitWithAck failed"));
}

static void on_bc_ack(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack, void *data) {
  if (!ack) return;
  sio_ack_keep(ack);
  json_int_t ms = json_integer_value(json_array_get(args, 1));
  if (sio_bc_emit_with_ack(selection(sio_socket_namespace(s), json_array_get(args, 0)), "question",
                           json_pack("[s]", node_name), ms > 0 ? (uint32_t)ms : 1000, answered, ack) != 0)
    sio_ack(ack, json_pack("[{s:s}]", "err", "emit with ack failed"));
}

static void on_hello(sio_namespace_t *nsp, const char *event, json_t *args, sio_server_ack_t *ack, void *data) {
  sio_bc_emit(sio_bc_local(sio_bc_new(nsp)), "heard",
              json_pack("[{s:s, s:O, s:O}]", "node", node_name, "payload", json_array_get(args, 0), "from",
                        json_array_get(args, 1)));
}

static void on_hello_ack(sio_namespace_t *nsp, const char *event, json_t *args, sio_server_ack_t *ack,
                         void *data) {
  if (ack) sio_server_ack(ack, json_pack("{s:s, s:O}", "node", node_name, "payload", json_array_get(args, 0)));
}

typedef struct app {
  sio_server_t *srv;
  sio_redis_adapter_t *redis;
} app;

static void app_close(void *arg) {
  app *a = arg;
  if (a->redis) sio_redis_adapter_close(a->redis, NULL, NULL);
  sio_server_close(a->srv, NULL, NULL);
}

int main(int argc, char **argv) {
  int port = 3000;
  const char *host = "127.0.0.1", *redis = NULL;
  char name[64];
  name[0] = '\0';
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--port") && v) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--host") && v) host = argv[++i];
    else if (!strcmp(argv[i], "--redis") && v) redis = argv[++i];
    else if (!strcmp(argv[i], "--name") && v) snprintf(name, sizeof name, "%s", argv[++i]);
    else {
      fprintf(stderr, "usage: sio-cluster-node --port N [--host H] [--redis URL] [--name NAME]\n");
      return 2;
    }
  }
  uv_loop_t *loop = uv_default_loop();
  sio_options_t opts;
  sio_options_init(&opts);
  app a = {0};
  if (sio_server_new(loop, &opts, &a.srv) != 0) return 1;
  sio_namespace_t *nsp = sio_of(a.srv, "/");
  sio_on_connection(nsp, on_connection, NULL);
  sio_on(nsp, "fetch", on_fetch, NULL);
  sio_on(nsp, "join", on_op, NULL);
  sio_on(nsp, "leave", on_op, NULL);
  sio_on(nsp, "kick", on_op, NULL);
  sio_on(nsp, "emit", on_emit, NULL);
  sio_on(nsp, "sse", on_sse, NULL);
  sio_on(nsp, "sse-ack", on_sse_ack, NULL);
  sio_on(nsp, "bc-ack", on_bc_ack, NULL);
  sio_on_server_event(nsp, "hello", on_hello, NULL);
  sio_on_server_event(nsp, "hello-ack", on_hello_ack, NULL);
  if (redis && sio_redis_adapter_new(loop, a.srv, redis, &a.redis) != 0) {
    fprintf(stderr, "bad --redis URL\n");
    return 2;
  }
  int r = sio_server_listen(a.srv, host, port);
  if (r != 0) {
    fprintf(stderr, "listen: %s\n", eio_strerror(r));
    return 1;
  }
  if (!name[0]) snprintf(name, sizeof name, "sio-%d", sio_server_port(a.srv));
  node_name = name;
  fprintf(stderr, "listening on %s:%d\n", host, sio_server_port(a.srv));
  echo_run(loop, app_close, &a);
  return 0;
}
