/* Cluster operations (lib/src/sio/sio_cluster.c): fetchSockets, socketsJoin/
 * Leave, disconnectSockets, serverSideEmit with acks, broadcasts with acks,
 * the requests a cluster adapter answers, and socket.handshake. Without a
 * network: sio_rooms.c and sio_cluster.c are included, what they call from
 * other files is replaced by recorders, and a fake cluster adapter stands
 * for the other nodes. The requests' timers run on uv_default_loop(). */
#include "../../lib/src/sio/sio_rooms.c"
#include "../../lib/src/sio/sio_cluster.c"
#include "tap.h"
#include "tap_json.h"

/* Connection state recovery (sio_recovery.c) stays off here: nsp.rec is NULL. */
json_t *sio__rec_offset_data(sio_namespace_t *nsp, const json_t *data, uint64_t *seq) { abort(); }
void sio__rec_store(sio_namespace_t *nsp, uint64_t seq, sio__encoded *enc, const char *const *rooms,
                    size_t nrooms, const char *const *except, size_t nexcept) { abort(); }

static uv_loop_t *loop;
static int seq; /* orders callbacks */

/* ---- JSON helpers ---- */



/* ---- stand-ins for sio_server.c / sio_codec.c ---- */

static sio__client *sent_to[64];
static size_t nsent;

void sio__client_send(sio__client *c, sio__rbuf *text, sio__rbuf **atts, size_t natts) {
  (void)text, (void)atts, (void)natts;
  if (nsent < 64) sent_to[nsent++] = c;
}

static int nencoded, enc_type;
static int64_t enc_id;
static char enc_data[256];

int sio__packet_encode(int type, const char *nsp, int64_t id, const json_t *data, sio__rbuf **text,
                       sio__rbuf ***atts, size_t *natts) {
  nencoded++;
  enc_type = type;
  enc_id = id;
  char *d = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
  snprintf(enc_data, sizeof enc_data, "%s%s", nsp, d ? d : "?");
  free(d);
  *text = sio__rbuf_new(16);
  *atts = NULL;
  *natts = 0;
  return 0;
}

/* ---- stand-ins for sio_socket.c (the real behaviour where it matters) ---- */

static const char *const reserved[] = {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                                       "removeListener"};
int sio__reserved_event(const char *event) {
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
    if (strcmp(event, reserved[i]) == 0) return 1;
  return 0;
}

json_t *sio__event_array(const char *event, json_t *args) {
  json_t *a = json_array();
  json_array_append_new(a, json_string(event));
  if (json_is_array(args)) json_array_extend(a, args);
  else if (args) json_array_append(a, args);
  json_decref(args);
  return a;
}

void sio_socket_set_json(sio_socket_t *s, json_t *data) {
  json_decref(s->jdata);
  s->jdata = data;
}

/* id.c: hmap.c seeds its hash with it. */
#include "util/id.h"
int sio__random_bytes(void *out, size_t n) {
  memset(out, 0x5a, n);
  return 0;
}

/* Pending acks: the test answers them (cb(s, args)) or times them out (cb(s, NULL)). */
typedef struct xack {
  sio_socket_t *s;
  int64_t id;
  uint32_t timeout;
  sio_ack_cb cb;
  void *data;
  int live;
} xack;
static xack xacks[64];
static size_t nxacks;

int sio__socket_expect_ack(sio_socket_t *s, int64_t id, uint32_t timeout_ms, sio_ack_cb cb, void *data) {
  if (nxacks == 64) return EIO_ENOMEM;
  xacks[nxacks++] = (xack){s, id, timeout_ms, cb, data, 1};
  return 0;
}

/* Answers (args stolen, a JSON array) or, with NULL, times out. */
static void xack_fire(xack *a, json_t *args) {
  if (!a->live) {
    printf("# xack_fire on a settled ack\n");
    json_decref(args);
    return;
  }
  a->live = 0;
  a->s->busy++;
  a->cb(a->s, args, a->data);
  a->s->busy--;
  json_decref(args);
}

#define N 6
static eio_server_t eio;
static sio_server_t srv;
static sio_namespace_t nsp, chat;
static sio_socket_t socks[N];
static sio__client clients[N];
static eio_socket_t esocks[N];

static int sidx(const sio_socket_t *s) { return (int)(s - socks); }

/* sio_socket_disconnect as sio_socket.c does it for the parts that matter
 * here: leaves rooms and the namespace, settles pending acks with NULL,
 * frees the socket unless it is held (busy). chain_a/chain_b: disconnecting
 * one also disconnects the other, as a disconnect handler could. */
static int disconnects[N], disc_close[N], disc_seq[N], frees[N], free_seq[N];
static int chain_a = -1, chain_b = -1;

void sio__socket_free(sio_socket_t *s) {
  frees[sidx(s)]++;
  free_seq[sidx(s)] = ++seq;
}

void sio_socket_disconnect(sio_socket_t *s, int close_connection) {
  if (!s->connected) return;
  int i = sidx(s);
  disconnects[i]++;
  disc_close[i] = close_connection;
  disc_seq[i] = ++seq;
  s->connected = 0;
  sio__rooms_leave_all(s);
  sio__hmap_del(&s->nsp->sockets, &s->node);
  s->client = NULL;
  s->busy++;
  if (i == chain_a) sio_socket_disconnect(&socks[chain_b], close_connection);
  else if (i == chain_b) sio_socket_disconnect(&socks[chain_a], close_connection);
  for (size_t k = 0; k < nxacks; k++)
    if (xacks[k].live && xacks[k].s == s) xack_fire(&xacks[k], NULL);
  s->busy--;
  s->dead = 1;
  if (s->busy == 0) sio__socket_free(s);
}

/* ---- stand-ins for eio_socket.c: the same accessors over the same
 * handshake layout, query\0address\0(name\0value\0)* ---- */

const char *eio_socket_query(const eio_socket_t *s) { return s->hs; }
const char *eio_socket_address(const eio_socket_t *s) { return s->hs + strlen(s->hs) + 1; }
void eio_socket_foreach_header(const eio_socket_t *s, void (*fn)(const char *name, const char *value, void *arg),
                               void *arg) {
  const char *p = eio_socket_address(s);
  p += strlen(p) + 1;
  for (uint16_t i = 0; i < s->hs_nheaders; i++) {
    const char *name = p;
    const char *value = name + strlen(name) + 1;
    fn(name, value, arg);
    p = value + strlen(value) + 1;
  }
}

/* hdrs: name, value, ..., NULL */
static void set_hs(eio_socket_t *es, const char *query, const char *addr, const char *const *hdrs) {
  size_t len = strlen(query) + 1 + strlen(addr) + 1, nh = 0;
  for (size_t i = 0; hdrs && hdrs[i]; i += 2, nh++) len += strlen(hdrs[i]) + 1 + strlen(hdrs[i + 1]) + 1;
  free(es->hs);
  char *p = es->hs = malloc(len);
  p = stpcpy(p, query) + 1;
  p = stpcpy(p, addr) + 1;
  for (size_t i = 0; hdrs && hdrs[i]; i += 2) {
    p = stpcpy(p, hdrs[i]) + 1;
    p = stpcpy(p, hdrs[i + 1]) + 1;
  }
  es->hs_len = (uint32_t)len;
  es->hs_nheaders = (uint16_t)nh;
}

/* ---- fixture ---- */

static void add_nsp(sio_namespace_t *n, const char *name) {
  memset(n, 0, sizeof *n);
  n->name = (char *)name;
  n->srv = &srv;
  n->node.key = n->name;
  n->node.klen = (uint32_t)strlen(name);
  sio__hmap_init(&n->sockets);
  sio__hmap_init(&n->rooms);
  sio__hmap_put(&srv.nsps, &n->node);
}

/* Every socket connected to "/", in no room, nothing pending. */
static void reset(void) {
  for (int i = 0; i < N; i++) {
    sio__rooms_leave_all(&socks[i]);
    socks[i].connected = 1;
    socks[i].dead = 0;
    socks[i].busy = 0;
    socks[i].client = &clients[i];
    disconnects[i] = disc_close[i] = disc_seq[i] = frees[i] = free_seq[i] = 0;
  }
  sio__hmap_free(&nsp.sockets);
  sio__hmap_init(&nsp.sockets);
  for (int i = 0; i < N; i++) sio__hmap_put(&nsp.sockets, &socks[i].node);
  nxacks = nsent = 0;
  nencoded = 0;
  chain_a = chain_b = -1;
  sio_server_set_adapter(&srv, NULL);
}

static void setup(void) {
  loop = uv_default_loop();
  eio.http.net.loop = loop;
  eio.opts.path = "/socket.io/";
  srv.eio = &eio;
  sio__hmap_init(&srv.nsps);
  add_nsp(&nsp, "/");
  add_nsp(&chat, "/chat");
  for (int i = 0; i < N; i++) {
    esocks[i].srv = &eio;
    set_hs(&esocks[i], "EIO=4&transport=websocket", "127.0.0.1", NULL);
    clients[i].eio = &esocks[i];
    clients[i].srv = &srv;
    memset(&socks[i], 0, sizeof socks[i]);
    socks[i].id = socks[i].id_buf;
    snprintf(socks[i].id_buf, sizeof socks[i].id_buf, "socket-%013d", i);
    socks[i].node.key = socks[i].id;
    socks[i].node.klen = 20;
    socks[i].nsp = &nsp;
    socks[i].issued_ms = 1700000000000.0 + i * 1000;
  }
  reset();
}

/* Runs the loop until *flag reaches want (bounded). */
static void run_until(const int *flag, int want) {
  for (int i = 0; i < 2000 && *flag < want; i++) uv_run(loop, UV_RUN_ONCE);
}

/* ---- what the application and the adapter hear ---- */

typedef struct cb_ctx {
  int calls, err, seq;
  json_t *res;             /* a copy of the last result */
  sio_request_t *poke;     /* answered inside the callback: must be ignored */
  int poke_changed;
} cb_ctx;

static void result_cb(int err, json_t *res, void *data) {
  cb_ctx *c = data;
  c->calls++;
  c->err = err;
  c->seq = ++seq;
  json_decref(c->res);
  c->res = json_deep_copy(res);
  if (c->poke) {
    size_t before = json_array_size(res);
    json_t *x = J("[{\"id\":\"poke\"}]");
    sio_request_add_sockets(c->poke, x);
    sio_request_add_answer(c->poke, x);
    sio_request_add_clients(c->poke, 3);
    json_decref(x);
    c->poke_changed = json_array_size(res) != before;
  }
}

/* Frees the copy and clears the record for the next case. */
static void ctx_free(cb_ctx *c) {
  json_decref(c->res);
  memset(c, 0, sizeof *c);
}

/* The fake cluster adapter. */
static struct {
  int requests, ret, hook;
  sio_request_t *r;
  int kind;
  uint32_t timeout;
  json_t *data;
  char sel[160];
  int on_end_calls, on_end_seq;
  sio_request_t *ended;
  int ops, op, close;
  char op_sel[160], op_room[32];
  int op_data_null;
  int emits, emit_ret;
  char emit_nsp[16];
  json_t *emit_data;
  int broadcasts;
} fa;

static void sel_str(const sio_broadcast_info_t *in, char *out, size_t cap) {
  size_t n = (size_t)snprintf(out, cap, "%s|", in->nsp);
  for (size_t i = 0; i < in->nrooms && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", in->rooms[i]);
  if (n < cap) n += (size_t)snprintf(out + n, cap - n, "|");
  for (size_t i = 0; i < in->nexcept && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", in->except[i]);
}

static void fa_on_end(sio_request_t *r, void *arg) {
  fa.on_end_calls++;
  fa.on_end_seq = ++seq;
  fa.ended = arg == &fa ? r : NULL;
}

static int fa_request(sio_adapter_t *a, sio_request_t *r) {
  (void)a;
  fa.requests++;
  fa.r = r;
  fa.kind = sio_request_kind(r);
  fa.timeout = sio_request_timeout_ms(r);
  const sio_broadcast_info_t *in = sio_request_info(r);
  sel_str(in, fa.sel, sizeof fa.sel);
  json_decref(fa.data);
  fa.data = in->data ? json_deep_copy(in->data) : NULL;
  if (fa.hook) sio_request_on_end(r, fa_on_end, &fa);
  return fa.ret;
}

static void fa_sockets_op(sio_adapter_t *a, int op, const sio_broadcast_info_t *sel, const char *room, int close) {
  (void)a;
  fa.ops++;
  fa.op = op;
  fa.close = close;
  fa.op_data_null = sel->data == NULL;
  sel_str(sel, fa.op_sel, sizeof fa.op_sel);
  snprintf(fa.op_room, sizeof fa.op_room, "%s", room ? room : "(null)");
}

static int fa_server_emit(sio_adapter_t *a, const char *name, const json_t *data) {
  (void)a;
  fa.emits++;
  snprintf(fa.emit_nsp, sizeof fa.emit_nsp, "%s", name);
  json_decref(fa.emit_data);
  fa.emit_data = json_deep_copy(data);
  return fa.emit_ret;
}

static void fa_broadcast(sio_adapter_t *a, const sio_broadcast_info_t *bc) {
  (void)a, (void)bc;
  fa.broadcasts++;
}

static sio_adapter_t adapter = {.broadcast = fa_broadcast,
                                .sockets_op = fa_sockets_op,
                                .request = fa_request,
                                .server_emit = fa_server_emit};

static void use_adapter(int ret, int hook) {
  json_decref(fa.data);
  json_decref(fa.emit_data);
  memset(&fa, 0, sizeof fa);
  fa.ret = ret;
  fa.hook = hook;
  sio_server_set_adapter(&srv, &adapter);
}

static json_t *entry_by_id(const json_t *arr, const char *id) {
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    const char *eid = json_string_value(json_object_get(e, "id"));
    if (eid && strcmp(eid, id) == 0) return e;
  }
  return NULL;
}

/* ---- 1. fetchSockets without an adapter ---- */

static void test_fetch_local(void) {
  reset();
  sio_socket_join(&socks[0], "b");
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  sio_socket_join(&socks[2], "a");
  sio_socket_join(&socks[2], "c");
  sio_socket_join(&socks[3], "b");
  sio_socket_set_json(&socks[0], J("{\"score\":7}"));

  cb_ctx c = {0};
  uv_update_time(loop);
  sio_broadcast_t *b = sio_bc_new(&nsp);
  sio_bc_except(sio_bc_except(sio_bc_to(sio_bc_to(b, "a"), "b"), socks[1].id), "c");
  is_int(sio_bc_fetch_sockets(b, result_cb, &c), 0, "fetchSockets: returns 0");
  is_int(c.calls, 0, "... the callback does not run inside the call");
  ok(srv.requests != NULL, "... a request is in flight");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... it runs on the next loop turn");
  is_int(c.err, 0, "... with err 0");
  is_int(json_array_size(c.res), 2, "... two sockets: to(a).to(b) minus socket 1 and room c");
  json_t *e0 = entry_by_id(c.res, socks[0].id), *e3 = entry_by_id(c.res, socks[3].id);
  ok(e0 && e3, "... sockets 0 and 3");
  is_int(json_object_size(e0), 4, "an entry has four members");
  ok(json_is_object(json_object_get(e0, "handshake")), "... {id, handshake, rooms, data}");
  is_jv(json_object_get(e0, "rooms"), json_pack("[s,s,s]", socks[0].id, "b", "a"),
        "rooms: the socket's id first, then its rooms in join order");
  is_jv(json_object_get(e3, "rooms"), json_pack("[s,s]", socks[3].id, "b"), "... for socket 3 too");
  is_json(json_object_get(e0, "data"), "{\"score\":7}", "data: sio_socket_json");
  ok(json_is_null(json_object_get(e3, "data")), "data: null when none was set");
  is_jv(json_object_get(e0, "handshake"), sio_socket_handshake(&socks[0]), "handshake: sio_socket_handshake's");
  ok(srv.requests == NULL, "no request left in flight");
  ctx_free(&c);

  /* The whole namespace; io.local gives the same without an adapter. */
  sio_socket_leave(&socks[0], "a");
  uv_update_time(loop);
  is_int(sio_bc_fetch_sockets(sio_bc_local(sio_bc_new(&nsp)), result_cb, &c), 0, "local fetchSockets of everyone");
  is_int(c.calls, 0, "... not inside the call");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... called back once");
  is_int(json_array_size(c.res), N, "... with every socket");
  is_jv(json_object_get(entry_by_id(c.res, socks[0].id), "rooms"), json_pack("[s,s]", socks[0].id, "b"),
        "... a room left is no longer listed");
  ctx_free(&c);

  /* Nobody selected: [] (still not inside the call). */
  is_int(sio_bc_fetch_sockets(sio_bc_to(sio_bc_new(&nsp), "nobody"), result_cb, &c), 0, "fetch of an empty room");
  is_int(c.calls, 0, "... not inside the call");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... called back");
  is_json(c.res, "[]", "... with []");
  ctx_free(&c);

  is_int(sio_bc_fetch_sockets(sio_bc_new(&nsp), NULL, NULL), EIO_EINVAL, "no callback: EIO_EINVAL");
  is_int(sio_bc_fetch_sockets(NULL, result_cb, &c), EIO_ENOMEM, "no broadcast: EIO_ENOMEM");
  ok(srv.requests == NULL, "... and no request started");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "... and no callback");
  sio_socket_set_json(&socks[0], NULL);
}

/* ---- 2, 3. fetchSockets across nodes ---- */

static void test_fetch_remote(void) {
  reset();
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  use_adapter(0, 1);
  cb_ctx c = {0};
  uv_update_time(loop);
  is_int(sio_bc_fetch_sockets(sio_bc_except(sio_bc_to(sio_bc_new(&nsp), "a"), "z"), result_cb, &c), 0,
         "fetchSockets with an adapter");
  is_int(fa.requests, 1, "... handed to the adapter once");
  is_int(fa.kind, SIO_REQ_FETCH_SOCKETS, "... as SIO_REQ_FETCH_SOCKETS");
  is_str(fa.sel, "/|a|z", "... with the namespace, rooms and except");
  is_int(fa.timeout, 5000, "... and a 5 s deadline");
  ok(fa.data == NULL, "... and no data");
  sio_request_t *r = fa.r;
  json_t *node_a = J("[{\"id\":\"remote-a\"}]");
  json_t *node_b = J("[{\"id\":\"remote-b1\"},{\"id\":\"remote-b2\"}]");
  json_t *late = J("[{\"id\":\"late\"}]");
  sio_request_add_sockets(r, node_a);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "one node answered, node count unknown: waits");
  sio_request_expect_nodes(r, 2);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "one of two nodes answered: waits");
  sio_request_add_sockets(r, node_b);
  is_int(c.calls, 0, "both answered: not called back inside add_sockets");
  sio_request_add_sockets(r, late);
  sio_request_expect_nodes(r, 3);
  c.poke = r;
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... but on the next loop turn");
  is_int(c.err, 0, "... with err 0");
  is_int(json_array_size(c.res), 5, "local two + remote one + remote two");
  ok(entry_by_id(c.res, socks[0].id) && entry_by_id(c.res, socks[1].id), "... local sockets 0 and 1");
  is_json(json_array_get(c.res, 2), "{\"id\":\"remote-a\"}", "... then node A's");
  is_json(json_array_get(c.res, 3), "{\"id\":\"remote-b1\"}", "... then node B's");
  is_json(json_array_get(c.res, 4), "{\"id\":\"remote-b2\"}", "... in order");
  ok(!entry_by_id(c.res, "late"), "an answer after completion is ignored");
  ok(!c.poke_changed, "answers inside the callback are ignored");
  is_int(fa.on_end_calls, 1, "the adapter's on_end runs once");
  ok(fa.on_end_seq > c.seq, "... after the application's callback");
  ok(fa.ended == r, "... with the request and its argument");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(json_array_get(node_b, 0)->refcount, 1, "answers' elements released with the request");
  is_int(node_b->refcount, 1, "... and the answer itself untouched (borrowed)");
  json_decref(node_a);
  json_decref(node_b);
  json_decref(late);
  ctx_free(&c);

  /* Answers first, node count after: complete when the count arrives. */
  use_adapter(0, 0);
  is_int(sio_bc_fetch_sockets(sio_bc_to(sio_bc_new(&nsp), "nobody"), result_cb, &c), 0, "fetch, answers first");
  node_a = J("[{\"id\":\"x\"}]");
  sio_request_add_sockets(fa.r, node_a);
  sio_request_add_sockets(fa.r, node_a);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "... two answers without a count: waits");
  sio_request_expect_nodes(fa.r, 2);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... the count arrives: done");
  is_json(c.res, "[{\"id\":\"x\"},{\"id\":\"x\"}]", "... with both answers");
  json_decref(node_a);
  ctx_free(&c);

  /* 3. The adapter fails: this node's part alone, err 0. */
  use_adapter(-1, 0);
  is_int(sio_bc_fetch_sockets(sio_bc_to(sio_bc_new(&nsp), "a"), result_cb, &c), 0, "fetch, adapter fails");
  is_int(fa.requests, 1, "... the adapter was asked");
  is_int(c.calls, 0, "... not called back inside the call");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... called back on the next turn");
  is_int(c.err, 0, "... with err 0");
  is_int(json_array_size(c.res), 2, "... and the local part only");
  ctx_free(&c);

  /* io.local: the adapter is not asked. */
  use_adapter(0, 1);
  is_int(sio_bc_fetch_sockets(sio_bc_local(sio_bc_to(sio_bc_new(&nsp), "a")), result_cb, &c), 0, "local fetch");
  is_int(fa.requests, 0, "... not handed to the adapter");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... called back");
  is_int(json_array_size(c.res), 2, "... with the local part");
  ctx_free(&c);

  /* An adapter going away (sio_redis_adapter_close): after a count was
   * reported, sio_request_no_more_nodes ends the request now with what it
   * has, instead of at its deadline. */
  use_adapter(0, 1);
  is_int(sio_bc_fetch_sockets(sio_bc_to(sio_bc_new(&nsp), "a"), result_cb, &c), 0, "fetch, adapter closes");
  r = fa.r;
  sio_request_expect_nodes(r, 2);
  sio_request_on_end(r, NULL, NULL);
  sio_request_no_more_nodes(r);
  uv_run(loop, UV_RUN_NOWAIT);
  ok(c.calls == 1 && c.err == 0, "no_more_nodes after expect_nodes(2): the request ends now with the local part");
  sio__requests_abort(&srv); /* end it either way */
  is_int(c.calls, 1, "... (ended by abort otherwise)");
  is_int(fa.on_end_calls, 0, "... an on_end hook cleared does not run");
  uv_run(loop, UV_RUN_NOWAIT);
  ctx_free(&c);
  sio_server_set_adapter(&srv, NULL);
}

/* ---- 4. serverSideEmit ---- */

static void test_server_emit(void) {
  reset();
  use_adapter(0, 1);
  cb_ctx c = {0};
  uv_update_time(loop);
  uint64_t t0 = uv_now(loop);
  is_int(sio_server_side_emit_with_ack(&nsp, "ping", J("[1]"), 30, result_cb, &c), 0, "serverSideEmitWithAck");
  is_int(fa.kind, SIO_REQ_SERVER_EMIT, "... SIO_REQ_SERVER_EMIT");
  is_int(fa.timeout, 30, "... with its timeout");
  is_json(fa.data, "[\"ping\",1]", "... and [event, ...args]");
  is_str(fa.sel, "/||", "... in the namespace, no rooms");
  sio_request_t *r = fa.r;
  sio_request_expect_nodes(r, 2);
  json_t *pa = json_string("pong-a");
  sio_request_add_answer(r, pa);
  is_int(pa->refcount, 1, "an answer is borrowed");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "one of two nodes answered: waits");
  run_until(&c.calls, 1);
  is_int(c.calls, 1, "... until the deadline");
  is_int(c.err, EIO_ETIMEDOUT, "... EIO_ETIMEDOUT");
  is_json(c.res, "[\"pong-a\"]", "... with the answer received");
  ok(uv_now(loop) - t0 >= 30, "... not before 30 ms (%llu)", (unsigned long long)(uv_now(loop) - t0));
  is_int(fa.on_end_calls, 1, "... on_end once");
  json_decref(pa);
  ctx_free(&c);

  /* Every node answers: err 0. */
  use_adapter(0, 1);
  is_int(sio_server_side_emit_with_ack(&nsp, "ping", NULL, 0, result_cb, &c), 0, "serverSideEmitWithAck, timeout 0");
  is_int(fa.timeout, 5000, "... means 5000 ms");
  r = fa.r;
  json_t *x = json_string("x"), *y = J("{\"y\":[1]}");
  sio_request_add_answer(r, x);
  sio_request_expect_nodes(r, 2);
  sio_request_add_answer(r, y);
  sio_request_add_answer(r, x); /* a third: ignored */
  is_int(c.calls, 0, "... all answered: not inside add_answer");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... on the next turn");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[\"x\",{\"y\":[1]}]", "... one answer per node, in arrival order");
  json_decref(x);
  json_decref(y);
  ctx_free(&c);

  /* The adapter fails: no other node, 0 and []. */
  use_adapter(-1, 0);
  is_int(sio_server_side_emit_with_ack(&nsp, "ping", NULL, 1000, result_cb, &c), 0, "adapter fails");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... called back");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[]", "... and []");
  ctx_free(&c);

  /* No adapter: 0 and [], not inside the call. */
  sio_server_set_adapter(&srv, NULL);
  is_int(sio_server_side_emit_with_ack(&nsp, "ping", J("[2]"), 30, result_cb, &c), 0, "without an adapter");
  is_int(c.calls, 0, "... not inside the call");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... on the next turn");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[]", "... and []");
  ctx_free(&c);

  json_t *args = J("[1]");
  json_incref(args);
  is_int(sio_server_side_emit_with_ack(&nsp, "connect", args, 30, result_cb, &c), EIO_EINVAL, "reserved: EINVAL");
  is_int(args->refcount, 1, "... args stolen");
  json_incref(args);
  is_int(sio_server_side_emit_with_ack(&nsp, "connection", args, 30, result_cb, &c), EIO_EINVAL,
         "\"connection\": EINVAL");
  json_incref(args);
  is_int(sio_server_side_emit_with_ack(&nsp, "ping", args, 30, NULL, NULL), EIO_EINVAL, "no callback: EINVAL");
  is_int(args->refcount, 1, "... args stolen");
  ok(srv.requests == NULL, "... and no request started");

  /* Without an ack. */
  json_incref(args);
  is_int(sio_server_side_emit(&nsp, "hello", args), EIO_ECLOSED, "serverSideEmit without an adapter: ECLOSED");
  is_int(args->refcount, 1, "... args stolen");
  use_adapter(0, 0);
  fa.emit_ret = 0;
  json_incref(args);
  is_int(sio_server_side_emit(&chat, "hello", args), 0, "serverSideEmit through the adapter");
  is_int(fa.emits, 1, "... handed over once");
  is_str(fa.emit_nsp, "/chat", "... with the namespace");
  is_json(fa.emit_data, "[\"hello\",1]", "... and [event, ...args]");
  is_int(args->refcount, 1, "... args stolen");
  fa.emit_ret = EIO_ECLOSED;
  is_int(sio_server_side_emit(&nsp, "hello", NULL), EIO_ECLOSED, "... the adapter's error returned");
  is_int(sio_server_side_emit(&nsp, "disconnect", NULL), EIO_EINVAL, "... a reserved name refused");
  is_int(fa.emits, 2, "... and not handed over");
  json_decref(args);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "no callback for refused calls");
  sio_server_set_adapter(&srv, NULL);
}

/* ---- 5. broadcasts with acks ---- */

static void test_emit_with_ack(void) {
  reset();
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  sio_socket_join(&socks[2], "b");
  use_adapter(0, 1);
  cb_ctx c = {0};
  int64_t id0 = nsp.next_ack_id;
  uv_update_time(loop);
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "a"), "ev", J("[1]"), 1000, result_cb, &c), 0,
         "emitWithAck to(a)");
  is_int(nencoded, 1, "... encoded once");
  is_int(enc_id, id0, "... with the namespace's next ack id");
  is_int(nsp.next_ack_id, id0 + 1, "... which is used up");
  is_str(enc_data, "/[\"ev\",1]", "... [event, ...args]");
  is_int(nsent, 2, "... sent to the two members of a");
  is_int(nxacks, 2, "... each with a pending ack");
  ok(xacks[0].id == id0 && xacks[1].id == id0, "... both with the same id");
  ok(xacks[0].timeout == 1000 && xacks[1].timeout == 1000, "... and the timeout");
  ok((1 << sidx(xacks[0].s) | 1 << sidx(xacks[1].s)) == 0x3, "... on sockets 0 and 1");
  is_int(fa.kind, SIO_REQ_BROADCAST_ACK, "handed to the adapter as SIO_REQ_BROADCAST_ACK");
  is_str(fa.sel, "/|a|", "... with the selection");
  is_json(fa.data, "[\"ev\",1]", "... and the data");
  is_int(fa.timeout, 1000, "... and the timeout");
  sio_request_t *r = fa.r;
  xack_fire(&xacks[0], J("[\"x\",\"extra\"]"));
  xack_fire(&xacks[1], J("[\"z\"]"));
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "local recipients answered, node count unknown: waits");
  sio_request_expect_nodes(r, 2);
  sio_request_add_clients(r, 1);
  json_t *y = json_string("y"), *w = J("{\"w\":1}");
  sio_request_add_answer(r, y);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "one node has not told its recipients: waits");
  sio_request_add_clients(r, 1);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "3 answers of 2 local + 1 + 1: waits");
  sio_request_add_answer(r, w);
  sio_request_add_answer(r, y); /* one too many: ignored */
  is_int(c.calls, 0, "all in: not inside add_answer");
  c.poke = r;
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... called back on the next turn");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[\"x\",\"z\",\"y\",{\"w\":1}]", "... first argument of each answer, in arrival order");
  ok(!c.poke_changed, "answers inside the callback are ignored");
  is_int(fa.on_end_calls, 1, "on_end once");
  ok(fa.on_end_seq > c.seq, "... after the callback");
  is_int(y->refcount, 1, "answers are borrowed");
  json_decref(y);
  json_decref(w);
  uv_run(loop, UV_RUN_NOWAIT);
  ctx_free(&c);

  /* The adapter gives up on the other nodes (its link is gone): the request
   * ends once the local recipients have answered, with the remote answers
   * received so far, not at its deadline. */
  use_adapter(0, 1);
  size_t x0 = nxacks;
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "a"), "ev", NULL, 1000, result_cb, &c), 0,
         "emitWithAck, then no more nodes");
  r = fa.r;
  sio_request_expect_nodes(r, 2);
  sio_request_add_clients(r, 3);
  y = json_string("remote");
  sio_request_add_answer(r, y);
  json_decref(y);
  xack_fire(&xacks[x0], J("[\"l1\"]"));
  sio_request_no_more_nodes(r);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "... a local recipient has not answered: waits");
  xack_fire(&xacks[x0 + 1], J("[\"l2\"]"));
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... ends once it has");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[\"remote\",\"l1\",\"l2\"]", "... with the answers received");
  ctx_free(&c);

  /* Answers ahead of a node's count: complete when the count arrives. */
  use_adapter(0, 0);
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "nobody"), "ev", NULL, 1000, result_cb, &c), 0,
         "emitWithAck, no local recipient");
  sio_request_expect_nodes(fa.r, 1);
  y = json_string("early");
  sio_request_add_answer(fa.r, y);
  json_decref(y);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "... an answer before its node's count: waits");
  sio_request_add_clients(fa.r, 1);
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... the count arrives: done");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[\"early\"]", "... with the answer");
  ctx_free(&c);

  /* A local recipient that disconnects does not answer: timeout. */
  reset();
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  uv_update_time(loop);
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "a"), "ev", NULL, 40, result_cb, &c), 0,
         "emitWithAck, no adapter");
  is_int(nxacks, 2, "... two pending acks");
  xack_fire(&xacks[0], J("[\"first\",2]"));
  sio_socket_disconnect(xacks[1].s, 0);
  ok(!xacks[1].live, "... the other recipient disconnects (its ack hears NULL)");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "... still waiting, as socket.io");
  run_until(&c.calls, 1);
  is_int(c.calls, 1, "... until the deadline");
  is_int(c.err, EIO_ETIMEDOUT, "... EIO_ETIMEDOUT");
  is_json(c.res, "[\"first\"]", "... with the answer received");
  ctx_free(&c);

  /* An ack after the request ended is ignored (and touches nothing freed). */
  reset();
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  uv_update_time(loop);
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "a"), "ev", NULL, 30, result_cb, &c), 0,
         "emitWithAck, one late answer");
  xack_fire(&xacks[0], J("[\"a\"]"));
  run_until(&c.calls, 1);
  is_int(c.err, EIO_ETIMEDOUT, "... times out");
  is_json(c.res, "[\"a\"]", "... with the first answer");
  uv_run(loop, UV_RUN_NOWAIT); /* the request is freed */
  xack_fire(&xacks[1], J("[\"late\"]"));
  is_int(c.calls, 1, "... the late answer is ignored");
  ctx_free(&c);

  /* No recipient anywhere: 0 and [], not inside the call. */
  reset();
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "nobody"), "ev", NULL, 1000, result_cb, &c), 0,
         "emitWithAck to nobody");
  is_int(c.calls, 0, "... not inside the call");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... on the next turn");
  is_int(c.err, 0, "... err 0");
  is_json(c.res, "[]", "... and []");
  ctx_free(&c);

  /* io.local with an adapter: not handed over. */
  use_adapter(0, 0);
  sio_socket_join(&socks[3], "d");
  is_int(sio_bc_emit_with_ack(sio_bc_local(sio_bc_to(sio_bc_new(&nsp), "d")), "ev", NULL, 1000, result_cb, &c),
         0, "local emitWithAck");
  is_int(fa.requests, 0, "... not handed to the adapter");
  xack_fire(&xacks[0], J("[true]"));
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 1, "... done when the local recipient answers");
  is_json(c.res, "[true]", "... with its answer");
  ctx_free(&c);
  sio_server_set_adapter(&srv, NULL);

  json_t *args = J("[1]");
  int encoded_before = nencoded;
  json_incref(args);
  is_int(sio_bc_emit_with_ack(sio_bc_new(&nsp), "disconnect", args, 1000, result_cb, &c), EIO_EINVAL,
         "reserved name: EINVAL");
  json_incref(args);
  is_int(sio_bc_emit_with_ack(sio_bc_new(&nsp), "ev", args, 0, result_cb, &c), EIO_EINVAL, "timeout 0: EINVAL");
  json_incref(args);
  is_int(sio_bc_emit_with_ack(sio_bc_new(&nsp), "ev", args, 1000, NULL, NULL), EIO_EINVAL, "no callback: EINVAL");
  is_int(args->refcount, 1, "... args stolen each time");
  json_decref(args);
  ok(srv.requests == NULL && nencoded == encoded_before, "... nothing started or sent");
  uv_run(loop, UV_RUN_NOWAIT);
  is_int(c.calls, 0, "... no callback");
}

/* ---- 6. socketsJoin / socketsLeave / disconnectSockets ---- */

static void test_sockets_ops(void) {
  reset();
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  sio_socket_join(&socks[2], "a");
  sio_socket_join(&socks[2], "b");
  use_adapter(0, 0);
  is_int(sio_bc_sockets_join(sio_bc_except(sio_bc_to(sio_bc_new(&nsp), "a"), "b"), "j"), 2,
         "socketsJoin on to(a).except(b): 2");
  ok(sio_socket_in_room(&socks[0], "j") && sio_socket_in_room(&socks[1], "j"), "... sockets 0 and 1 joined");
  ok(!sio_socket_in_room(&socks[2], "j") && !sio_socket_in_room(&socks[3], "j"), "... not the others");
  is_int(fa.ops, 1, "... forwarded once");
  is_int(fa.op, SIO_OP_JOIN, "... as SIO_OP_JOIN");
  is_str(fa.op_sel, "/|a|b", "... with the selection");
  is_str(fa.op_room, "j", "... and the room");
  ok(fa.op_data_null && fa.close == 0, "... no data, no close");

  is_int(sio_bc_sockets_leave(sio_bc_to(sio_bc_new(&nsp), "j"), "j"), 2, "socketsLeave of j: 2");
  ok(!sio_socket_in_room(&socks[0], "j") && !sio_socket_in_room(&socks[1], "j"), "... they left");
  is_int(fa.ops, 2, "... forwarded");
  is_int(fa.op, SIO_OP_LEAVE, "... as SIO_OP_LEAVE");
  is_str(fa.op_sel, "/|j|", "... with the selection");
  is_str(fa.op_room, "j", "... and the room");

  is_int(sio_bc_sockets_join(sio_bc_local(sio_bc_new(&nsp)), "all"), N, "local socketsJoin: everyone");
  ok(sio_socket_in_room(&socks[5], "all"), "... joined");
  is_int(sio_bc_sockets_leave(sio_bc_local(sio_bc_new(&nsp)), "all"), N, "local socketsLeave");
  ok(!sio_socket_in_room(&socks[5], "all"), "... left");
  is_int(sio_bc_disconnect_sockets(sio_bc_local(sio_bc_to(sio_bc_new(&nsp), "nobody")), 0), 0,
         "local disconnectSockets of nobody");
  is_int(fa.ops, 2, "... none of the io.local ones forwarded");
  is_int(sio_bc_sockets_join(sio_bc_new(&nsp), NULL), EIO_EINVAL, "socketsJoin without a room: EINVAL");
  is_int(sio_bc_sockets_leave(sio_bc_new(&nsp), NULL), EIO_EINVAL, "socketsLeave without a room: EINVAL");
  is_int(fa.ops, 2, "... not forwarded");

  /* disconnectSockets(close) of except(a): sockets 3, 4 and 5. */
  is_int(sio_bc_disconnect_sockets(sio_bc_except(sio_bc_new(&nsp), "a"), 1), 3, "disconnectSockets except(a): 3");
  int last_disc = 0, first_free = 1 << 30, ok_each = 1;
  for (int i = 0; i < N; i++) {
    int want = i >= 3;
    if (disconnects[i] != want || frees[i] != want || (want && !disc_close[i])) ok_each = 0;
    if (want && disc_seq[i] > last_disc) last_disc = disc_seq[i];
    if (want && free_seq[i] < first_free) first_free = free_seq[i];
  }
  ok(ok_each, "... each of 3, 4, 5 disconnected with close and freed once; 0, 1, 2 untouched");
  ok(first_free > last_disc, "... freed only after the walk");
  is_int(fa.ops, 3, "... forwarded");
  is_int(fa.op, SIO_OP_DISCONNECT, "... as SIO_OP_DISCONNECT");
  is_str(fa.op_sel, "/||a", "... with the selection");
  is_str(fa.op_room, "(null)", "... no room");
  is_int(fa.close, 1, "... and close");

  /* A disconnect that takes another selected socket with it. */
  chain_a = 0, chain_b = 1;
  int n = sio_bc_disconnect_sockets(sio_bc_local(sio_bc_to(sio_bc_new(&nsp), "a")), 0);
  ok(n >= 1 && n <= 3, "disconnectSockets where one disconnect causes another (%d)", n);
  ok(disconnects[0] == 1 && disconnects[1] == 1 && disconnects[2] == 1, "... each disconnected once");
  ok(frees[0] == 1 && frees[1] == 1 && frees[2] == 1, "... and freed once");
  is_int(fa.ops, 3, "... io.local: not forwarded");

  /* From another node: applied here, never forwarded (an adapter is installed). */
  reset();
  use_adapter(0, 0);
  sio_socket_join(&socks[4], "r");
  const char *rooms[] = {"r"}, *except[] = {socks[0].id};
  sio_broadcast_info_t sel = {"/", NULL, rooms, 1, NULL, 0, 0}, all = {"/", NULL, NULL, 0, except, 1, 0};
  is_int(sio_adapter_sockets_op(&srv, SIO_OP_JOIN, &all, "k", 0), N - 1, "a node's socketsJoin except socket 0");
  ok(sio_socket_in_room(&socks[5], "k") && !sio_socket_in_room(&socks[0], "k"), "... applied here");
  is_int(sio_adapter_sockets_op(&srv, SIO_OP_DISCONNECT, &sel, NULL, 0), 1, "a node's disconnectSockets of r");
  ok(disconnects[4] == 1 && frees[4] == 1 && !disc_close[4], "... socket 4 disconnected and freed");
  is_int(sio_adapter_sockets_op(&srv, SIO_OP_LEAVE, &all, NULL, 0), EIO_EINVAL, "... leave without a room: EINVAL");
  sio_broadcast_info_t other = {"/nope", NULL, NULL, 0, NULL, 0, 0};
  is_int(sio_adapter_sockets_op(&srv, SIO_OP_JOIN, &other, "k", 0), 0, "... unknown namespace: 0");
  is_int(fa.ops, 0, "... never forwarded");

  json_t *ids = sio_adapter_socket_ids(&srv, &all);
  is_int(json_array_size(ids), N - 2, "a node's socket ids: all but 0 and the gone 4");
  json_decref(ids);
  json_t *none = sio_adapter_fetch_sockets(&srv, &other);
  is_json(none, "[]", "fetch in an unknown namespace: []");
  json_decref(none);
  json_t *one = sio_adapter_fetch_sockets(&srv, &(sio_broadcast_info_t){"/", NULL, (const char *[]){socks[1].id}, 1,
                                                                      NULL, 0, 0});
  ok(json_array_size(one) == 1 && entry_by_id(one, socks[1].id), "a node's fetch of one socket id");
  json_decref(one);
  sio_server_set_adapter(&srv, NULL);
}

/* ---- 7. server-side events on this node ---- */

enum { H_ANSWER, H_DROP, H_KEEP };
static struct {
  int mode, calls, second, reply_calls, reply_seq, done_calls, done_seq, done_in_handler, in_handler;
  json_t *args, *reply;
  char event[16];
  sio_server_ack_t *ack, *kept;
  sio_namespace_t *nsp;
} hs;

static void sv_handler(sio_namespace_t *n, const char *event, json_t *args, sio_server_ack_t *ack, void *data) {
  (void)data;
  hs.calls++;
  hs.nsp = n;
  hs.in_handler = 1;
  snprintf(hs.event, sizeof hs.event, "%s", event);
  json_decref(hs.args);
  hs.args = json_deep_copy(args);
  hs.ack = ack;
  if (hs.mode == H_ANSWER) {
    sio_server_ack(ack, J("{\"ok\":1}"));
    hs.second = sio_server_ack(ack, json_string("again"));
  } else if (hs.mode == H_KEEP) {
    sio_server_ack_keep(ack);
    hs.kept = ack;
  }
  hs.in_handler = 0;
}

static void sv_reply(const json_t *value, void *arg) {
  (void)arg;
  hs.reply_calls++;
  hs.reply_seq = ++seq;
  json_decref(hs.reply);
  hs.reply = json_deep_copy(value);
}

static void sv_done(void *arg) {
  hs.done_calls++;
  hs.done_seq = ++seq;
  hs.done_in_handler = hs.in_handler;
  ok(arg == &hs, "done gets its argument");
}

static void hs_reset(int mode) {
  json_decref(hs.args);
  json_decref(hs.reply);
  memset(&hs, 0, sizeof hs);
  hs.mode = mode;
}

static void test_server_events(void) {
  reset();
  sio_on_server_event(&nsp, "hello", sv_handler, NULL);
  sio_on_server_event(&nsp, "other", sv_handler, NULL);
  json_t *data = J("[\"hello\",1,{\"two\":2}]");

  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/", data, sv_reply, sv_done, &hs), 1, "a server event: handled");
  is_int(hs.calls, 1, "... the handler ran once");
  is_str(hs.event, "hello", "... found by event name");
  is_json(hs.args, "[1,{\"two\":2}]", "... args without the event");
  ok(hs.nsp == &nsp && hs.ack, "... in its namespace, with an ack");
  is_int(hs.reply_calls, 1, "answered: reply once");
  is_json(hs.reply, "{\"ok\":1}", "... with the value");
  is_int(hs.second, EIO_EINVAL, "... a second sio_server_ack: EIO_EINVAL");
  is_int(hs.done_calls, 1, "... done once");
  ok(hs.done_seq > hs.reply_seq && !hs.done_in_handler, "... after reply, once the handler returned");
  is_int(data->refcount, 1, "... data borrowed");

  hs_reset(H_DROP);
  is_int(sio_adapter_server_event(&srv, "/", data, sv_reply, sv_done, &hs), 1, "an ack not answered");
  is_int(hs.reply_calls, 0, "... dropped: no reply");
  is_int(hs.done_calls, 1, "... done once");

  hs_reset(H_KEEP);
  is_int(sio_adapter_server_event(&srv, "/", data, sv_reply, sv_done, &hs), 1, "an ack kept");
  is_int(hs.reply_calls + hs.done_calls, 0, "... neither reply nor done yet");
  is_int(sio_server_ack(hs.kept, json_string("later")), 0, "... answered later");
  is_int(hs.reply_calls, 1, "... reply once");
  is_json(hs.reply, "\"later\"", "... with the value");
  is_int(hs.done_calls, 1, "... then done");
  ok(hs.done_seq > hs.reply_seq, "... after reply");

  hs_reset(H_KEEP);
  sio_adapter_server_event(&srv, "/", data, sv_reply, sv_done, &hs);
  is_int(sio_server_ack(hs.kept, NULL), 0, "a kept ack answered with NULL");
  is_json(hs.reply, "null", "... replies null");
  is_int(hs.done_calls, 1, "... done");

  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/", data, NULL, sv_done, &hs), 1, "no reply wanted");
  ok(hs.ack == NULL, "... the handler gets no ack");
  is_int(hs.second, EIO_EINVAL, "... sio_server_ack(NULL): EIO_EINVAL");
  is_int(hs.done_calls, 1, "... done once");

  json_t *nobody = J("[\"nobody\",1]");
  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/", nobody, sv_reply, sv_done, &hs), 0, "no handler: 0");
  ok(hs.calls == 0 && hs.reply_calls == 0 && hs.done_calls == 1, "... done still runs, once");
  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/chat", data, sv_reply, sv_done, &hs), 0, "other namespace's handlers: 0");
  ok(hs.calls == 0 && hs.done_calls == 1, "... done runs");
  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/nope", data, sv_reply, sv_done, &hs), 0, "unknown namespace: 0");
  ok(hs.calls == 0 && hs.done_calls == 1, "... done runs");
  json_t *bad = J("[1,2]");
  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/", bad, sv_reply, sv_done, &hs), 0, "no event name: 0");
  ok(hs.calls == 0 && hs.done_calls == 1, "... done runs");
  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/", nobody, sv_reply, NULL, &hs), 0, "no handler, no done: 0");

  /* Replacing and removing handlers. */
  sio_on_server_event(&nsp, "hello", NULL, NULL);
  hs_reset(H_ANSWER);
  is_int(sio_adapter_server_event(&srv, "/", data, sv_reply, sv_done, &hs), 0, "a removed handler: 0");
  json_t *other = J("[\"other\"]");
  hs_reset(H_DROP);
  is_int(sio_adapter_server_event(&srv, "/", other, sv_reply, sv_done, &hs), 1, "... the other one stays");
  is_json(hs.args, "[]", "... args [] without arguments");
  sio_on_server_event(&nsp, "other", NULL, NULL);
  sio_on_server_event(&nsp, "never", NULL, NULL);
  is_int(nsp.nsv_handlers, 0, "all handlers removed");
  free(nsp.sv_handlers);
  nsp.sv_handlers = NULL;
  json_decref(other);
  json_decref(bad);
  json_decref(nobody);
  json_decref(data);
  hs_reset(H_DROP);
}

/* ---- 8. a broadcast with acks asked by another node ---- */

static struct {
  int clients_calls, done_calls, done_seq, answer_seq;
  size_t n;
  json_t *answers;
} bw;

static void bw_clients(size_t n, void *arg) {
  (void)arg;
  bw.clients_calls++;
  bw.n = n;
}
static void bw_answer(const json_t *v, void *arg) {
  (void)arg;
  json_array_append_new(bw.answers, json_deep_copy(v));
  bw.answer_seq = ++seq;
}
static void bw_done(void *arg) {
  (void)arg;
  bw.done_calls++;
  bw.done_seq = ++seq;
}
static void bw_reset(void) {
  json_decref(bw.answers);
  memset(&bw, 0, sizeof bw);
  bw.answers = json_array();
}

static void test_adapter_broadcast_with_ack(void) {
  reset();
  for (int i = 0; i < 4; i++) sio_socket_join(&socks[i], "a");
  bw_reset();
  json_t *data = J("[\"ev\",{\"k\":1}]");
  const char *rooms[] = {"a"}, *except[] = {socks[3].id};
  sio_broadcast_info_t bc = {"/", data, rooms, 1, except, 1, 0};
  int64_t id0 = nsp.next_ack_id;
  is_int(sio_adapter_broadcast_with_ack(&srv, &bc, 100, bw_clients, bw_answer, bw_done, &bw), 0,
         "a node's broadcast with acks");
  is_int(bw.clients_calls, 1, "... clients() at once");
  is_int(bw.n, 3, "... with the recipients here (a minus socket 3)");
  is_int(bw.done_calls, 0, "... done not yet");
  is_int(nxacks, 3, "... three pending acks");
  ok(xacks[0].id == id0 && xacks[1].id == id0 && xacks[2].id == id0 && enc_id == id0, "... one ack id");
  ok(xacks[0].timeout == 100, "... with the timeout");
  is_str(enc_data, "/[\"ev\",{\"k\":1}]", "... the data sent");
  xack_fire(&xacks[0], J("[\"v1\",\"dropped\"]"));
  xack_fire(&xacks[1], J("[]"));
  is_json(bw.answers, "[\"v1\",null]", "answers: each one's first argument (null for none)");
  is_int(bw.done_calls, 0, "... done not yet");
  xack_fire(&xacks[2], NULL);
  is_json(bw.answers, "[\"v1\",null]", "a recipient timed out: no answer");
  is_int(bw.done_calls, 1, "... done once every recipient answered or timed out");
  ok(bw.done_seq > bw.answer_seq, "... after the answers");
  is_int(data->refcount, 1, "... data borrowed");

  bw_reset();
  bc.nsp = "/nope";
  is_int(sio_adapter_broadcast_with_ack(&srv, &bc, 100, bw_clients, bw_answer, bw_done, &bw), 0,
         "unknown namespace: 0");
  ok(bw.clients_calls == 1 && bw.n == 0 && bw.done_calls == 1, "... clients(0) then done");
  bw_reset();
  bc.nsp = "/";
  rooms[0] = "nobody";
  nxacks = 0;
  is_int(sio_adapter_broadcast_with_ack(&srv, &bc, 100, bw_clients, bw_answer, bw_done, &bw), 0, "nobody selected");
  ok(bw.clients_calls == 1 && bw.n == 0 && bw.done_calls == 1 && nxacks == 0, "... clients(0) then done");
  bw_reset();
  json_t *reserved_data = J("[\"connect\"]");
  bc.data = reserved_data;
  is_int(sio_adapter_broadcast_with_ack(&srv, &bc, 100, bw_clients, bw_answer, bw_done, &bw), EIO_EINVAL,
         "a reserved event: EINVAL");
  json_t *not_array = J("{\"ev\":1}");
  bc.data = not_array;
  is_int(sio_adapter_broadcast_with_ack(&srv, &bc, 100, bw_clients, bw_answer, bw_done, &bw), EIO_EINVAL,
         "not [event, ...]: EINVAL");
  ok(bw.clients_calls == 0 && bw.done_calls == 0, "... no callback");
  json_decref(reserved_data);
  json_decref(not_array);
  json_decref(data);
  json_decref(bw.answers);
  bw.answers = NULL;
}

/* ---- 9. server close ---- */

static void test_abort(void) {
  reset();
  sio_socket_join(&socks[0], "a");
  sio_socket_join(&socks[1], "a");
  use_adapter(0, 1);
  cb_ctx f = {0}, s = {0}, b = {0};
  is_int(sio_bc_fetch_sockets(sio_bc_new(&nsp), result_cb, &f), 0, "a fetch in flight");
  sio_request_expect_nodes(fa.r, 1);
  is_int(sio_server_side_emit_with_ack(&nsp, "q", NULL, 0, result_cb, &s), 0, "a serverSideEmit in flight");
  is_int(sio_bc_emit_with_ack(sio_bc_to(sio_bc_new(&nsp), "a"), "ev", NULL, 1000, result_cb, &b), 0,
         "a broadcast with acks in flight");
  xack_fire(&xacks[0], J("[\"before\"]"));
  sio__requests_abort(&srv);
  ok(f.calls == 1 && f.err == EIO_ECLOSED, "abort: the fetch ends with EIO_ECLOSED");
  is_int(json_array_size(f.res), N, "... and what it had");
  ok(s.calls == 1 && s.err == EIO_ECLOSED, "... the serverSideEmit too");
  is_json(s.res, "[]", "... with []");
  ok(b.calls == 1 && b.err == EIO_ECLOSED, "... the broadcast with acks too");
  is_json(b.res, "[\"before\"]", "... with the answer received");
  is_int(fa.on_end_calls, 3, "... each on_end ran");
  ok(srv.requests == NULL, "... none left");
  uv_run(loop, UV_RUN_NOWAIT);
  xack_fire(&xacks[1], J("[\"after\"]"));
  is_int(b.calls, 1, "an ack after the abort is ignored");
  sio__requests_abort(&srv);
  ok(f.calls == 1 && s.calls == 1 && b.calls == 1, "a second abort: nothing");
  ctx_free(&f);
  ctx_free(&s);
  ctx_free(&b);
  sio_server_set_adapter(&srv, NULL);
}

/* ---- 10. socket.handshake ---- */

static void test_handshake(void) {
  reset();
  const char *hdrs[] = {"Host", "example.org", "Origin", "http://o.example", "X-Multi", "1", "x-multi", "2", NULL};
  set_hs(&esocks[4],
         "EIO=4&transport=polling&name=J%C3%A9r%C3%B4me&q=a+b%20c&tag=x&tag=y&tag=z&flag&bad=%zz&end=%4&"
         "a%20b=%41&bin=%FF&&",
         "10.0.0.7", hdrs);
  socks[4].auth = J("{\"token\":\"t\"}");
  socks[4].issued_ms = 1700000000123.0;
  json_t *h = sio_socket_handshake(&socks[4]);
  ok(json_is_object(h) && json_object_size(h) == 9, "handshake: nine members");
  is_json(json_object_get(h, "headers"), "{\"host\":\"example.org\",\"origin\":\"http://o.example\",\"x-multi\":\"1, 2\"}",
          "headers: names lower-cased, repeats joined");
  ok(json_is_true(json_object_get(h, "xdomain")), "xdomain: true with an Origin header");
  ok(json_is_false(json_object_get(h, "secure")), "secure: false without TLS");
  ok(json_is_integer(json_object_get(h, "issued")) &&
         json_integer_value(json_object_get(h, "issued")) == 1700000000123LL,
     "issued: ms since the epoch");
  const char *when = json_string_value(json_object_get(h, "time"));
  ok(when && strstr(when, "2023") && strstr(when, "GMT"), "time: a date string (%s)", when ? when : "-");
  is_str(json_string_value(json_object_get(h, "address")), "10.0.0.7", "address");
  is_str(json_string_value(json_object_get(h, "url")),
         "/socket.io/?EIO=4&transport=polling&name=J%C3%A9r%C3%B4me&q=a+b%20c&tag=x&tag=y&tag=z&flag&bad=%zz&end=%4&"
         "a%20b=%41&bin=%FF&&",
         "url: path ? query");
  is_json(json_object_get(h, "query"),
          "{\"EIO\":\"4\",\"transport\":\"polling\",\"name\":\"J\\u00e9r\\u00f4me\",\"q\":\"a b c\","
          "\"tag\":[\"x\",\"y\",\"z\"],\"flag\":\"\",\"bad\":\"%zz\",\"end\":\"%4\",\"a b\":\"A\"}",
          "query: percent-decoded, + as space, repeats as an array, bad escapes kept, invalid UTF-8 skipped");
  is_json(json_object_get(h, "auth"), "{\"token\":\"t\"}", "auth");
  is_int(socks[4].auth->refcount, 2, "... shared with the socket");
  json_decref(h);
  is_int(socks[4].auth->refcount, 1, "... and released with the handshake");

  const char *no_origin[] = {"Host", "h", NULL};
  set_hs(&esocks[4], "", "::1", no_origin);
  eio.http.net.tls = (sio__tls_ctx *)&eio; /* only compared with NULL */
  h = sio_socket_handshake(&socks[4]);
  ok(json_is_false(json_object_get(h, "xdomain")), "xdomain: false without Origin");
  ok(json_is_true(json_object_get(h, "secure")), "secure: true on TLS");
  is_str(json_string_value(json_object_get(h, "url")), "/socket.io/", "url: the path alone without a query");
  is_json(json_object_get(h, "query"), "{}", "query: {}");
  json_decref(h);
  eio.http.net.tls = NULL;

  json_decref(socks[4].auth);
  socks[4].auth = NULL;
  socks[4].client = NULL;
  h = sio_socket_handshake(&socks[4]);
  is_json(json_object_get(h, "headers"), "{}", "without a client: headers {}");
  is_str(json_string_value(json_object_get(h, "address")), "", "... address \"\"");
  is_str(json_string_value(json_object_get(h, "url")), "/socket.io/", "... url the path");
  is_json(json_object_get(h, "auth"), "{}", "... auth {} when none");
  json_decref(h);
  set_hs(&esocks[4], "EIO=4&transport=websocket", "127.0.0.1", NULL);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  setup();
  test_fetch_local();
  test_fetch_remote();
  test_server_emit();
  test_emit_with_ack();
  test_sockets_ops();
  test_server_events();
  test_adapter_broadcast_with_ack();
  test_abort();
  test_handshake();

  /* Nothing left: every timer closed, every room and buffer freed. */
  ok(srv.requests == NULL, "no request in flight at the end");
  uv_run(loop, UV_RUN_DEFAULT);
  reset();
  is_int(nsp.rooms.count, 0, "no room left");
  for (int i = 0; i < N; i++) {
    json_decref(socks[i].auth);
    json_decref(socks[i].jdata);
    free(esocks[i].hs);
  }
  json_decref(fa.data);
  json_decref(fa.emit_data);
  sio__hmap_free(&nsp.sockets);
  sio__hmap_free(&nsp.rooms);
  sio__hmap_free(&chat.sockets);
  sio__hmap_free(&chat.rooms);
  sio__hmap_free(&srv.nsps);
  is_int(uv_loop_close(loop), 0, "the loop closes: no handle left");
  return tap_done();
}
