/* Operations that span the nodes of a cluster, as socket.io names them:
 * io.fetchSockets(), socketsJoin(), socketsLeave(), disconnectSockets(),
 * serverSideEmit() (with or without acks) and broadcasts with acks.
 *
 * Each has a local part, done here on this node's sockets, and a remote
 * part the cluster adapter carries (sio.h, "cluster adapters"). Operations
 * that wait for answers are sio_request_t objects owned by the server: the
 * adapter reports how many nodes will answer and each answer; the request
 * ends when all are in, or at its deadline, always from its own timer so
 * that no callback runs inside the call that started it.
 *
 * Broadcasts with acks share one ack id across their recipients (as
 * socket.io's in-memory adapter): each recipient gets a pending ack on its
 * socket pointing at one ack_group, which counts the answers still
 * possible and tells its owner (a request here, or the adapter for another
 * node's request) about each answer and about the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sio/sio_internal.h"
#include "util/log.h"
#include "util/query.h"

/* ---- handshake ---------------------------------------------------------------------- */

/* Header names in lower case, repeated headers joined with ", " (as Node's
 * IncomingMessage.headers for most names). */
static void add_header(const char *name, const char *value, void *arg) {
  json_t *headers = arg;
  char key[128];
  size_t n = strlen(name);
  if (n >= sizeof key) return;
  for (size_t i = 0; i <= n; i++) key[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
  json_t *old = json_object_get(headers, key);
  if (!old) {
    json_t *v = json_string(value);
    if (v) json_object_set_new(headers, key, v);
    return;
  }
  const char *prev = json_string_value(old);
  size_t plen = strlen(prev), vlen = strlen(value);
  char *joined = malloc(plen + vlen + 3);
  if (!joined) return;
  memcpy(joined, prev, plen);
  memcpy(joined + plen, ", ", 2);
  memcpy(joined + plen + 2, value, vlen + 1);
  json_t *v = json_string(joined);
  if (v) json_object_set_new(headers, key, v);
  free(joined);
}

json_t *sio_socket_handshake(const sio_socket_t *s) {
  json_t *headers = json_object();
  eio_socket_t *es = s->client ? s->client->eio : NULL;
  if (es) eio_socket_foreach_header(es, add_header, headers);
  /* Date.prototype.toString's form, in the server's time zone. */
  char when[96] = "";
  time_t t = (time_t)(s->issued_ms / 1000.0);
  struct tm tm;
  if (localtime_r(&t, &tm)) strftime(when, sizeof when, "%a %b %d %Y %H:%M:%S GMT%z (%Z)", &tm);
  const char *query = es ? eio_socket_query(es) : "";
  size_t qlen = strlen(query);
  const char *path = s->nsp->srv->eio->opts.path;
  size_t ulen = strlen(path) + qlen + 2;
  char *url = malloc(ulen);
  if (url) snprintf(url, ulen, "%s%s%s", path, *query ? "?" : "", query);
  int secure = es && es->srv->http.net.tls != NULL;
  json_t *hs = json_pack("{s:o, s:s, s:s, s:b, s:b, s:I, s:s, s:o, s:o}", "headers", headers, "time", when,
                         "address", es ? eio_socket_address(es) : "", "xdomain",
                         json_object_get(headers, "origin") != NULL, "secure", secure, "issued",
                         (json_int_t)s->issued_ms, "url", url ? url : path, "query", sio__query_object(query, qlen),
                         "auth", s->auth ? json_incref(s->auth) : json_object());
  free(url);
  return hs;
}

/* ---- selections ---------------------------------------------------------------------- */

static json_t *remote_socket(const sio_socket_t *s) {
  return json_pack("{s:s, s:o, s:o, s:O}", "id", s->id, "handshake", sio_socket_handshake(s), "rooms",
                   sio__socket_rooms(s), "data", s->jdata ? s->jdata : json_null());
}

static json_t *fetch_local(sio_namespace_t *nsp, const sio_broadcast_info_t *sel, int ids_only) {
  sio_socket_t **v;
  ptrdiff_t n = sio__select(nsp, sel->rooms, sel->nrooms, sel->except, sel->nexcept, &v);
  json_t *out = n < 0 ? NULL : json_array();
  if (!out) {
    if (n >= 0) free(v);
    return NULL;
  }
  for (ptrdiff_t i = 0; i < n; i++)
    json_array_append_new(out, ids_only ? json_string(v[i]->id) : remote_socket(v[i]));
  free(v);
  return out;
}

json_t *sio_adapter_fetch_sockets(sio_server_t *srv, const sio_broadcast_info_t *sel) {
  sio_namespace_t *nsp = sio__nsp_find(srv, sel->nsp);
  return nsp ? fetch_local(nsp, sel, 0) : json_array();
}

json_t *sio_adapter_socket_ids(sio_server_t *srv, const sio_broadcast_info_t *sel) {
  sio_namespace_t *nsp = sio__nsp_find(srv, sel->nsp);
  return nsp ? fetch_local(nsp, sel, 1) : json_array();
}

json_t *sio_adapter_all_rooms(sio_server_t *srv, const char *name) {
  sio_namespace_t *nsp = sio__nsp_find(srv, name);
  return nsp ? sio__all_rooms(nsp) : json_array();
}

/* socketsJoin / socketsLeave / disconnectSockets on this node. */
static int apply_op(sio_namespace_t *nsp, int op, const char *const *rooms, size_t nrooms,
                    const char *const *except, size_t nexcept, const char *room, int close) {
  sio_socket_t **v;
  ptrdiff_t n = sio__select(nsp, rooms, nrooms, except, nexcept, &v);
  if (n < 0) return EIO_ENOMEM;
  /* A disconnect handler may disconnect others of the selection: hold
   * them all until the walk is over. */
  for (ptrdiff_t i = 0; i < n; i++) v[i]->busy++;
  int done = 0;
  for (ptrdiff_t i = 0; i < n; i++) {
    sio_socket_t *s = v[i];
    if (!s->connected) continue;
    if (op == SIO_OP_JOIN) done += sio_socket_join(s, room) == 0;
    else if (op == SIO_OP_LEAVE) done += sio_socket_leave(s, room) == 0;
    else if (op == SIO_OP_DISCONNECT) sio_socket_disconnect(s, close), done++;
  }
  for (ptrdiff_t i = 0; i < n; i++) {
    v[i]->busy--;
    sio__socket_release(v[i]);
  }
  free(v);
  return done;
}

int sio_adapter_sockets_op(sio_server_t *srv, int op, const sio_broadcast_info_t *sel, const char *room,
                           int close) {
  sio_namespace_t *nsp = sio__nsp_find(srv, sel->nsp);
  if (!nsp) return 0;
  if ((op == SIO_OP_JOIN || op == SIO_OP_LEAVE) && !room) return EIO_EINVAL;
  return apply_op(nsp, op, sel->rooms, sel->nrooms, sel->except, sel->nexcept, room, close);
}

static int bc_op(sio_broadcast_t *b, int op, const char *room, int close) {
  if (!b) return EIO_ENOMEM;
  if (op != SIO_OP_DISCONNECT && !room) {
    sio_bc_free(b);
    return EIO_EINVAL;
  }
  sio_namespace_t *nsp = b->nsp;
  const char *const *rooms = (const char *const *)b->rooms, *const *except = (const char *const *)b->except;
  int n = apply_op(nsp, op, rooms, b->nrooms, except, b->nexcept, room, close);
  sio_adapter_t *a = nsp->srv->adapter;
  if (n >= 0 && a && a->sockets_op && !b->local) {
    sio_broadcast_info_t sel = {nsp->name, NULL, rooms, b->nrooms, except, b->nexcept, 0};
    a->sockets_op(a, op, &sel, room, close);
  }
  sio_bc_free(b);
  return n;
}

int sio_bc_sockets_join(sio_broadcast_t *b, const char *room) { return bc_op(b, SIO_OP_JOIN, room, 0); }
int sio_bc_sockets_leave(sio_broadcast_t *b, const char *room) { return bc_op(b, SIO_OP_LEAVE, room, 0); }
int sio_bc_disconnect_sockets(sio_broadcast_t *b, int close_connection) {
  return bc_op(b, SIO_OP_DISCONNECT, NULL, close_connection);
}

/* ---- broadcasts with acks ------------------------------------------------------------ */

typedef struct ack_group {
  size_t refs;             /* pending acks on sockets, plus one while sending */
  int64_t id;
  uint32_t timeout_ms;
  void (*answer)(const json_t *value, void *arg);
  void (*done)(void *arg);
  void *arg;
} ack_group;

static void group_unref(ack_group *g) {
  if (--g->refs > 0) return;
  if (g->done) g->done(g->arg);
  free(g);
}

static void group_ack(sio_socket_t *s, json_t *args, void *data) {
  ack_group *g = data;
  (void)s;
  /* NULL: timed out or disconnected, no answer. Otherwise socket.io keeps
   * the first argument of each client's answer. */
  if (args && g->answer) {
    json_t *v = json_array_get(args, 0);
    g->answer(v ? v : json_null(), g->arg);
  }
  group_unref(g);
}

static void group_sent(sio_socket_t *s, void *arg) {
  ack_group *g = arg;
  if (sio__socket_expect_ack(s, g->id, g->timeout_ms, group_ack, g) == 0) g->refs++;
}

/* Sends data to the selection with one ack id. Returns the recipients or a
 * negative error; g keeps its sending reference (drop it with group_unref). */
static int group_deliver(sio_namespace_t *nsp, const sio_broadcast_info_t *bc, ack_group *g) {
  g->refs = 1;
  g->id = nsp->next_ack_id++;
  return sio__deliver(nsp, bc->data, bc->rooms, bc->nrooms, bc->except, bc->nexcept, g->id, group_sent, g, NULL, 0);
}

int sio_adapter_broadcast_with_ack(sio_server_t *srv, const sio_broadcast_info_t *bc, uint32_t timeout_ms,
                                   void (*clients)(size_t n, void *arg),
                                   void (*answer)(const json_t *value, void *arg), void (*done)(void *arg),
                                   void *arg) {
  if (!sio__event_data_ok(bc->data)) return EIO_EINVAL;
  ack_group *g = calloc(1, sizeof *g);
  if (!g) return EIO_ENOMEM;
  g->timeout_ms = timeout_ms;
  g->answer = answer;
  g->done = done;
  g->arg = arg;
  sio_namespace_t *nsp = sio__nsp_find(srv, bc->nsp);
  int n = 0;
  if (nsp) {
    n = group_deliver(nsp, bc, g);
    if (n < 0) {
      free(g);
      return n;
    }
  } else {
    g->refs = 1;
  }
  if (clients) clients((size_t)n, arg);
  group_unref(g);
  return 0;
}

/* ---- requests ------------------------------------------------------------------------ */

struct sio_request {
  sio_request_t *prev, *next; /* srv->requests */
  sio_server_t *srv;
  int kind;
  sio_broadcast_info_t info;  /* views of the owned copies below */
  sio_broadcast_t *sel;       /* the selection (rooms, except), owned */
  json_t *data;
  uint32_t timeout_ms;
  uv_timer_t timer;
  json_t *results;
  size_t nodes_expected, nodes_answered, clients_expected;
  size_t local_clients, local_answers; /* BROADCAST_ACK: this node's part of the above */
  uint8_t nodes_known, complete, ended;
  sio_fetch_cb fetch_cb;
  sio_responses_cb responses_cb;
  void *cb_data;
  void (*on_end)(sio_request_t *r, void *arg);
  void *on_end_arg;
  ack_group *group;           /* BROADCAST_ACK: this node's recipients */
};

static void request_closed(uv_handle_t *h) {
  sio_request_t *r = h->data;
  json_decref(r->results);
  json_decref(r->data);
  sio_bc_free(r->sel);
  free(r);
}

static void request_end(sio_request_t *r, int err) {
  if (r->ended) return;
  r->ended = 1;
  if (r->prev) r->prev->next = r->next; else r->srv->requests = r->next;
  if (r->next) r->next->prev = r->prev;
  if (r->group) {
    r->group->answer = NULL;
    r->group->done = NULL;
    r->group = NULL;
  }
  uv_timer_stop(&r->timer);
  if (r->kind == SIO_REQ_FETCH_SOCKETS) r->fetch_cb(err, r->results, r->cb_data);
  else r->responses_cb(err, r->results, r->cb_data);
  if (r->on_end) r->on_end(r, r->on_end_arg);
  uv_close((uv_handle_t *)&r->timer, request_closed);
}

static void request_timer(uv_timer_t *t) {
  sio_request_t *r = t->data;
  request_end(r, r->complete ? 0 : EIO_ETIMEDOUT);
}

/* Ends r on its next loop turn if everything it waits for is in. */
static void request_check(sio_request_t *r) {
  if (r->ended || r->complete || !r->nodes_known || r->nodes_answered < r->nodes_expected) return;
  if (r->kind == SIO_REQ_BROADCAST_ACK && json_array_size(r->results) < r->clients_expected) return;
  r->complete = 1;
  uv_timer_start(&r->timer, request_timer, 0, 0);
}

/* Takes b (its rooms and except become the request's selection) and data. */
static sio_request_t *request_new(sio_namespace_t *nsp, int kind, sio_broadcast_t *b, json_t *data,
                                  uint32_t timeout_ms) {
  sio_request_t *r = calloc(1, sizeof *r);
  json_t *results = json_array();
  if (!r || !results || (!b && !(b = sio_bc_new(nsp)))) {
    free(r);
    json_decref(results);
    json_decref(data);
    sio_bc_free(b);
    return NULL;
  }
  sio_server_t *srv = nsp->srv;
  r->srv = srv;
  r->kind = kind;
  r->sel = b;
  r->data = data;
  r->results = results;
  r->timeout_ms = timeout_ms;
  r->info = (sio_broadcast_info_t){nsp->name, data, (const char *const *)b->rooms, b->nrooms,
                                   (const char *const *)b->except, b->nexcept, 0};
  uv_timer_init(srv->eio->http.net.loop, &r->timer);
  r->timer.data = r;
  uv_timer_start(&r->timer, request_timer, timeout_ms, 0);
  r->next = srv->requests;
  if (r->next) r->next->prev = r;
  srv->requests = r;
  return r;
}

/* Hands r to the adapter (unless local-only) or settles for no other node. */
static void request_start(sio_request_t *r, int local) {
  sio_adapter_t *a = r->srv->adapter;
  if (local || !a || !a->request || a->request(a, r) != 0) sio_request_no_more_nodes(r);
  request_check(r);
}

void sio__requests_abort(sio_server_t *srv) {
  while (srv->requests) request_end(srv->requests, EIO_ECLOSED);
}

int sio_request_kind(const sio_request_t *r) { return r->kind; }
const sio_broadcast_info_t *sio_request_info(const sio_request_t *r) { return &r->info; }
uint32_t sio_request_timeout_ms(const sio_request_t *r) { return r->timeout_ms; }

void sio_request_expect_nodes(sio_request_t *r, size_t n) {
  if (r->ended || r->nodes_known) return;
  r->nodes_known = 1;
  r->nodes_expected = n;
  request_check(r);
}

void sio_request_no_more_nodes(sio_request_t *r) {
  if (r->ended || r->complete) return;
  r->nodes_known = 1;
  r->nodes_expected = r->nodes_answered;
  /* Other nodes' clients that have not answered yet never will. */
  if (r->kind == SIO_REQ_BROADCAST_ACK)
    r->clients_expected = r->local_clients + (json_array_size(r->results) - r->local_answers);
  request_check(r);
}

void sio_request_add_sockets(sio_request_t *r, const json_t *sockets) {
  if (r->ended || r->complete) return;
  size_t i;
  json_t *s;
  json_array_foreach(sockets, i, s) json_array_append(r->results, s);
  r->nodes_answered++;
  request_check(r);
}

void sio_request_add_answer(sio_request_t *r, const json_t *value) {
  if (r->ended || r->complete) return;
  json_array_append_new(r->results, json_deep_copy(value ? value : json_null()));
  if (r->kind == SIO_REQ_SERVER_EMIT) r->nodes_answered++;
  request_check(r);
}

void sio_request_add_clients(sio_request_t *r, size_t clients) {
  if (r->ended || r->complete) return;
  r->clients_expected += clients;
  r->nodes_answered++;
  request_check(r);
}

void sio_request_on_end(sio_request_t *r, void (*fn)(sio_request_t *r, void *arg), void *arg) {
  r->on_end = fn;
  r->on_end_arg = arg;
}

int sio_bc_fetch_sockets(sio_broadcast_t *b, sio_fetch_cb cb, void *data) {
  if (!b) return EIO_ENOMEM;
  if (!cb) {
    sio_bc_free(b);
    return EIO_EINVAL;
  }
  sio_namespace_t *nsp = b->nsp;
  int local = b->local;
  sio_request_t *r = request_new(nsp, SIO_REQ_FETCH_SOCKETS, b, NULL, 5000);
  if (!r) return EIO_ENOMEM;
  r->fetch_cb = cb;
  r->cb_data = data;
  json_t *mine = fetch_local(nsp, &r->info, 0);
  if (mine) json_array_extend(r->results, mine);
  json_decref(mine);
  request_start(r, local);
  return 0;
}

static void req_group_answer(const json_t *value, void *arg) {
  sio_request_t *r = arg;
  if (r->ended || r->complete) return;
  r->local_answers++;
  sio_request_add_answer(r, value);
}
static void req_group_done(void *arg) { ((sio_request_t *)arg)->group = NULL; }

int sio_bc_emit_with_ack(sio_broadcast_t *b, const char *event, json_t *args, uint32_t timeout_ms,
                         sio_responses_cb cb, void *data) {
  if (!b) {
    json_decref(args);
    return EIO_ENOMEM;
  }
  if (!event || sio__reserved_event(event) || !cb || !timeout_ms) {
    json_decref(args);
    sio_bc_free(b);
    return EIO_EINVAL;
  }
  sio_namespace_t *nsp = b->nsp;
  int local = b->local;
  json_t *arr = sio__event_array(event, args);
  sio_request_t *r = arr ? request_new(nsp, SIO_REQ_BROADCAST_ACK, b, arr, timeout_ms) : NULL;
  if (!r) {
    if (!arr) sio_bc_free(b);
    return EIO_ENOMEM;
  }
  r->responses_cb = cb;
  r->cb_data = data;
  ack_group *g = calloc(1, sizeof *g);
  int n = g ? 0 : EIO_ENOMEM;
  if (g) {
    g->timeout_ms = timeout_ms;
    g->answer = req_group_answer;
    g->done = req_group_done;
    g->arg = r;
    r->group = g;
    n = group_deliver(nsp, &r->info, g);
  }
  if (n < 0) {
    /* Nothing was sent: forget the request without calling back. */
    if (g) free(g);
    r->group = NULL;
    r->responses_cb = NULL;
    r->ended = 1;
    if (r->prev) r->prev->next = r->next; else r->srv->requests = r->next;
    if (r->next) r->next->prev = r->prev;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, request_closed);
    return n;
  }
  r->clients_expected = r->local_clients = (size_t)n;
  nsp->stats.broadcasts++;
  nsp->stats.broadcast_deliveries += (uint64_t)n;
  group_unref(g);
  request_start(r, local);
  return 0;
}

/* ---- server-side events ------------------------------------------------------------- */

struct sio_server_ack {
  void (*reply)(const json_t *value, void *arg);
  void (*done)(void *arg);
  void *arg;
  uint8_t answered, kept, in_handler;
};

static void server_ack_finish(sio_server_ack_t *ack) {
  if (ack->done) ack->done(ack->arg);
  free(ack);
}

int sio_server_ack(sio_server_ack_t *ack, json_t *value) {
  if (!ack || ack->answered) {
    json_decref(value);
    return EIO_EINVAL;
  }
  ack->answered = 1;
  if (ack->reply) ack->reply(value ? value : json_null(), ack->arg);
  json_decref(value);
  if (ack->kept && !ack->in_handler) server_ack_finish(ack);
  return 0;
}

void sio_server_ack_keep(sio_server_ack_t *ack) {
  if (ack && !ack->answered) ack->kept = 1;
}

void sio_on_server_event(sio_namespace_t *nsp, const char *event, sio_server_event_cb cb, void *data) {
  for (size_t i = 0; i < nsp->nsv_handlers; i++) {
    if (strcmp(nsp->sv_handlers[i].event, event) != 0) continue;
    if (cb) {
      nsp->sv_handlers[i].cb = cb;
      nsp->sv_handlers[i].data = data;
    } else {
      free(nsp->sv_handlers[i].event);
      nsp->sv_handlers[i] = nsp->sv_handlers[--nsp->nsv_handlers];
    }
    return;
  }
  if (!cb) return;
  sio__sv_handler *h = realloc(nsp->sv_handlers, (nsp->nsv_handlers + 1) * sizeof *h);
  if (!h) return;
  nsp->sv_handlers = h;
  char *ev = strdup(event);
  if (!ev) return;
  h[nsp->nsv_handlers++] = (sio__sv_handler){ev, cb, data};
}

int sio_adapter_server_event(sio_server_t *srv, const char *name, const json_t *data,
                             void (*reply)(const json_t *value, void *arg), void (*done)(void *arg),
                             void *arg) {
  sio_namespace_t *nsp = sio__nsp_find(srv, name);
  const char *event = json_string_value(json_array_get(data, 0));
  sio__sv_handler *h = NULL;
  if (nsp && event)
    for (size_t i = 0; i < nsp->nsv_handlers; i++)
      if (strcmp(nsp->sv_handlers[i].event, event) == 0) h = &nsp->sv_handlers[i];
  sio_server_ack_t *ack = h && reply ? calloc(1, sizeof *ack) : NULL;
  if (!h || (reply && !ack)) {
    if (done) done(arg);
    return 0;
  }
  json_t *args = json_array();
  for (size_t i = 1; i < json_array_size(data); i++) json_array_append(args, json_array_get(data, i));
  if (ack) {
    ack->reply = reply;
    ack->done = done;
    ack->arg = arg;
    ack->in_handler = 1;
  }
  h->cb(nsp, event, args, ack, h->data);
  json_decref(args);
  if (ack) {
    ack->in_handler = 0;
    if (!ack->kept || ack->answered) server_ack_finish(ack);
  } else if (done) {
    done(arg);
  }
  return 1;
}

/* socket.io refuses these as server-side event names. */
static int sv_event_ok(const char *event) {
  return event && !sio__reserved_event(event) && strcmp(event, "connection") != 0;
}

int sio_server_side_emit(sio_namespace_t *nsp, const char *event, json_t *args) {
  if (!sv_event_ok(event)) {
    json_decref(args);
    return EIO_EINVAL;
  }
  sio_adapter_t *a = nsp->srv->adapter;
  if (!a || !a->server_emit) {
    json_decref(args);
    return EIO_ECLOSED;
  }
  json_t *data = sio__event_array(event, args);
  if (!data) return EIO_ENOMEM;
  int r = a->server_emit(a, nsp->name, data);
  json_decref(data);
  return r;
}

int sio_server_side_emit_with_ack(sio_namespace_t *nsp, const char *event, json_t *args,
                                  uint32_t timeout_ms, sio_responses_cb cb, void *data) {
  if (!sv_event_ok(event) || !cb) {
    json_decref(args);
    return EIO_EINVAL;
  }
  json_t *arr = sio__event_array(event, args);
  if (!arr) return EIO_ENOMEM;
  sio_request_t *r = request_new(nsp, SIO_REQ_SERVER_EMIT, NULL, arr, timeout_ms ? timeout_ms : 5000);
  if (!r) return EIO_ENOMEM;
  r->responses_cb = cb;
  r->cb_data = data;
  request_start(r, 0);
  return 0;
}
