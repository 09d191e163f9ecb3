/* The Redis adapter, wire-compatible with @socket.io/redis-adapter v8
 * (PROTOCOL.md 8).
 *
 * Broadcasts made on this node are published as msgpack [uid, packet, opts]
 * on "socket.io#<nsp>#" ("socket.io#<nsp>#<room>#" when exactly one room is
 * targeted); broadcasts published by other nodes (sio or Node.js) are
 * delivered to this node's sockets, with their rooms and except lists. A
 * node ignores its own messages by uid.
 *
 * Requests (fetchSockets, socketsJoin/Leave, disconnectSockets,
 * serverSideEmit, broadcasts with acks) go to "socket.io-request#<nsp>#",
 * which every node of the namespace SUBSCRIBEs to (so PUBSUB NUMSUB on it
 * counts the nodes); answers come back on "socket.io-response#<nsp>#", where
 * the requester matches them by requestId. A request is published first,
 * then the nodes are counted, and the server's sio_request_t collects the
 * answers until every other node has answered or its deadline passes.
 *
 * One difference from the reference: socketsJoin/Leave and
 * disconnectSockets apply to this node's sockets at once (sio does that
 * before calling sockets_op) and the adapter ignores its own request when
 * Redis echoes it, where a Node.js node applies its own request only when
 * it comes back from Redis. The result is the same, except that here it
 * also holds while Redis is away. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/redis_client.h"
#include "redis/redis_codec.h"
#include "sio.h"
#include "util/id.h"
#include "util/log.h"

/* A request this node made, waiting for answers. */
typedef struct ra_req {
  struct ra_req *next;
  sio_redis_adapter_t *a;
  sio_request_t *r;       /* NULL once the request ended */
  char id[7];
  uint8_t counting;       /* a NUMSUB is in flight for it */
} ra_req;

/* An answer this node owes another node's request (a server-side event's
 * ack, a broadcast's client acks): it may come after the adapter closed. */
typedef struct ra_reply {
  struct ra_reply *prev, *next;
  sio_redis_adapter_t *a; /* NULL once the adapter closed */
  char *channel;          /* the response channel */
  char *request_id;
} ra_reply;

struct sio_redis_adapter {
  sio_adapter_t base;   /* first: the server calls back with &base */
  sio_server_t *srv;
  sio__redis_client *rc;
  char uid[7];
  sio_redis_adapter_stats_t stats;
  uint64_t last_warn_ms, last_req_warn_ms;
  uv_loop_t *loop;
  ra_req *reqs;
  ra_reply *replies;
  void (*on_closed)(void *arg);
  void *on_closed_arg;
};

/* At most one warning every 5 s per kind. */
static int warn_due(sio_redis_adapter_t *a, uint64_t *last) {
  uint64_t now = uv_now(a->loop);
  if (*last && now - *last < 5000) return 0;
  *last = now;
  return 1;
}

/* Publishes buf on the channel of `kind` for nsp; counts a failure. */
static int publish(sio_redis_adapter_t *a, int kind, const char *nsp, const char *arg, const uint8_t *buf,
                   size_t len) {
  char *ch = sio__redis_channel(kind, NULL, nsp, arg);
  int r = ch ? sio__redis_client_publish(a->rc, ch, buf, len) : UV_ENOMEM;
  free(ch);
  if (r != 0) a->stats.publish_failed++;
  return r;
}

static void ra_broadcast(sio_adapter_t *base, const sio_broadcast_info_t *bc) {
  sio_redis_adapter_t *a = (sio_redis_adapter_t *)base;
  uint8_t *buf = NULL;
  size_t len = 0;
  json_t *flags = json_object();
  if (flags && (bc->flags & SIO_BC_VOLATILE)) json_object_set_new(flags, "volatile", json_true());
  if (flags && (bc->flags & SIO_BC_NO_COMPRESS)) json_object_set_new(flags, "compress", json_false());
  int r = sio__redis_encode_broadcast(a->uid, bc->nsp, bc->data, bc->rooms, bc->nrooms, bc->except,
                                      bc->nexcept, flags, &buf, &len);
  json_decref(flags);
  char *ch = r == 0 ? sio__redis_channel(SIO__REDIS_CH_BROADCAST, NULL, bc->nsp,
                                         bc->nrooms == 1 ? bc->rooms[0] : NULL)
                    : NULL;
  if (r != 0) {
    SIO_LOGW("redis: a broadcast on %s was not published: %s", bc->nsp, sio__redis_strerror(r));
    a->stats.publish_failed++;
  } else if (!ch || sio__redis_client_publish(a->rc, ch, buf, len) != 0) {
    /* The client logs (rate-limited) why; this counts it for the stats. */
    a->stats.publish_failed++;
  } else {
    a->stats.published++;
  }
  free(ch);
  free(buf);
}

static void ra_on_request(sio_redis_adapter_t *a, const char *nsp, const uint8_t *buf, size_t len);
static void ra_on_response(sio_redis_adapter_t *a, const uint8_t *buf, size_t len);

/* The namespace of "<prefix><sep><nsp>#..." channels we subscribed to:
 * copied into out (NUL-terminated), or -1. */
static int channel_nsp(const char *channel, const char *head, char *out, size_t cap) {
  size_t hl = strlen(head), cl = strlen(channel);
  if (cl < hl + 2 || memcmp(channel, head, hl) != 0) return -1;
  /* request: "<head><nsp>#"; response: "<head><nsp>#" or "<head><nsp>#<uid>#" */
  const char *nsp = channel + hl, *end = strchr(nsp, '#');
  if (!end || (size_t)(end - nsp) >= cap) return -1;
  memcpy(out, nsp, (size_t)(end - nsp));
  out[end - nsp] = '\0';
  return 0;
}

static void ra_on_message(sio__redis_client *rc, const char *channel, const char *pattern,
                          const char *payload, size_t len, void *data) {
  sio_redis_adapter_t *a = data;
  (void)rc;
  if (!pattern) {
    char nsp[512];
    if (channel_nsp(channel, SIO__REDIS_DEFAULT_PREFIX "-request#", nsp, sizeof nsp) == 0)
      ra_on_request(a, nsp, (const uint8_t *)payload, len);
    else if (strncmp(channel, SIO__REDIS_DEFAULT_PREFIX "-response#", 19) == 0)
      ra_on_response(a, (const uint8_t *)payload, len);
    return;
  }
  /* Our own broadcasts come back too (the pattern covers them): their uid
   * leads the message, [uid, ...] as fixarray 3 and fixstr 6, so they are
   * dropped before decoding. */
  if (len > 8 && (uint8_t)payload[0] == 0x93 && (uint8_t)payload[1] == 0xa6 && memcmp(payload + 2, a->uid, 6) == 0)
    return;
  sio__redis_broadcast b;
  int r = sio__redis_decode_broadcast((const uint8_t *)payload, len, &b);
  if (r != 0) {
    a->stats.invalid++;
    if (warn_due(a, &a->last_warn_ms))
      SIO_LOGW("redis: ignoring an undecodable message on %s: %s (%llu so far)", channel,
               sio__redis_strerror(r), (unsigned long long)a->stats.invalid);
    return;
  }
  if (strcmp(b.uid, a->uid) != 0 && !b.f.local) {
    a->stats.received++;
    sio_broadcast_info_t info = {b.nsp,
                                 b.data,
                                 (const char *const *)b.rooms,
                                 b.nrooms,
                                 (const char *const *)b.except,
                                 b.nexcept,
                                 (b.f.is_volatile ? SIO_BC_VOLATILE : 0u) |
                                     (b.f.compress == 0 ? SIO_BC_NO_COMPRESS : 0u)};
    int n = sio_adapter_deliver(a->srv, &info);
    if (n > 0) a->stats.deliveries += (uint64_t)n;
  }
  sio__redis_broadcast_clear(&b);
}

/* ---- answering other nodes' requests ------------------------------------------------ */

static void respond(sio_redis_adapter_t *a, const char *nsp, const sio__redis_response *resp) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int r = sio__redis_encode_response(resp, &buf, &len);
  if (r != 0) {
    a->stats.publish_failed++;
    SIO_LOGW("redis: an answer to request %s on %s was not published: %s", resp->request_id, nsp,
             sio__redis_strerror(r));
  } else if (publish(a, SIO__REDIS_CH_RESPONSE, nsp, NULL, buf, len) == 0) {
    a->stats.responses_sent++;
  }
  free(buf);
}

static sio__redis_response response_init(const char *request_id) {
  sio__redis_response resp;
  memset(&resp, 0, sizeof resp);
  resp.type = -1;
  resp.client_count = -1;
  resp.request_id = request_id;
  return resp;
}

static ra_reply *reply_new(sio_redis_adapter_t *a, const char *nsp, const char *request_id) {
  ra_reply *rp = calloc(1, sizeof *rp);
  if (!rp) return NULL;
  rp->a = a;
  rp->channel = strdup(nsp);
  rp->request_id = strdup(request_id);
  if (!rp->channel || !rp->request_id) {
    free(rp->channel);
    free(rp->request_id);
    free(rp);
    return NULL;
  }
  rp->next = a->replies;
  if (rp->next) rp->next->prev = rp;
  a->replies = rp;
  return rp;
}

static void reply_free(void *arg) {
  ra_reply *rp = arg;
  if (rp->a) {
    if (rp->prev) rp->prev->next = rp->next; else rp->a->replies = rp->next;
    if (rp->next) rp->next->prev = rp->prev;
  }
  free(rp->channel);
  free(rp->request_id);
  free(rp);
}

/* serverSideEmit with an ack: {type: 6, requestId, data}. */
static void reply_server_event(const json_t *value, void *arg) {
  ra_reply *rp = arg;
  if (!rp->a) return;
  sio__redis_response resp = response_init(rp->request_id);
  resp.type = SIO__REDIS_SERVER_SIDE_EMIT;
  resp.data = (json_t *)value;
  respond(rp->a, rp->channel, &resp);
}

/* A broadcast with acks: how many clients here, then each client's answer. */
static void reply_clients(size_t n, void *arg) {
  ra_reply *rp = arg;
  if (!rp->a) return;
  sio__redis_response resp = response_init(rp->request_id);
  resp.type = SIO__REDIS_BROADCAST_CLIENT_COUNT;
  resp.client_count = (int64_t)n;
  respond(rp->a, rp->channel, &resp);
}

static void reply_client_ack(const json_t *value, void *arg) {
  ra_reply *rp = arg;
  if (!rp->a) return;
  sio__redis_response resp = response_init(rp->request_id);
  resp.type = SIO__REDIS_BROADCAST_ACK;
  resp.packet = (json_t *)value;
  respond(rp->a, rp->channel, &resp);
}

static void ra_on_request(sio_redis_adapter_t *a, const char *nsp, const uint8_t *buf, size_t len) {
  sio__redis_request q;
  int rc = sio__redis_decode_request(buf, len, &q);
  if (rc != 0) {
    a->stats.invalid++;
    if (warn_due(a, &a->last_warn_ms))
      SIO_LOGW("redis: ignoring an undecodable request on %s: %s (%llu so far)", nsp, sio__redis_strerror(rc),
               (unsigned long long)a->stats.invalid);
    return;
  }
  /* Our own request, echoed by Redis: its local part is done already. */
  if (q.uid && strcmp(q.uid, a->uid) == 0) {
    sio__redis_request_clear(&q);
    return;
  }
  a->stats.requests_received++;
  sio_broadcast_info_t sel = {nsp, NULL, q.opts_rooms, q.n_opts_rooms, q.opts_except, q.n_opts_except, 0};
  sio__redis_response resp = response_init(q.request_id);
  switch (q.type) {
  case SIO__REDIS_SOCKETS:
    if (!q.request_id) break;
    sel.rooms = q.rooms;
    sel.nrooms = q.nrooms;
    sel.nexcept = 0;
    resp.sockets = sio_adapter_socket_ids(a->srv, &sel);
    respond(a, nsp, &resp);
    json_decref(resp.sockets);
    break;
  case SIO__REDIS_ALL_ROOMS:
    if (!q.request_id) break;
    resp.rooms = sio_adapter_all_rooms(a->srv, nsp);
    respond(a, nsp, &resp);
    json_decref(resp.rooms);
    break;
  case SIO__REDIS_REMOTE_JOIN:
  case SIO__REDIS_REMOTE_LEAVE:
  case SIO__REDIS_REMOTE_DISCONNECT: {
    int op = q.type == SIO__REDIS_REMOTE_JOIN    ? SIO_OP_JOIN
             : q.type == SIO__REDIS_REMOTE_LEAVE ? SIO_OP_LEAVE
                                                 : SIO_OP_DISCONNECT;
    if (q.has_opts) {
      if (op == SIO_OP_DISCONNECT) sio_adapter_sockets_op(a->srv, op, &sel, NULL, q.close == 1);
      else
        for (size_t i = 0; i < q.nrooms; i++) sio_adapter_sockets_op(a->srv, op, &sel, q.rooms[i], 0);
      break;
    }
    /* The single-socket form of older adapters: answered when the socket is here. */
    if (!q.sid || (op != SIO_OP_DISCONNECT && !q.room)) break;
    const char *one[1] = {q.sid};
    sio_broadcast_info_t s1 = {nsp, NULL, one, 1, NULL, 0, 0};
    json_t *ids = sio_adapter_socket_ids(a->srv, &s1);
    if (json_array_size(ids) > 0) {
      sio_adapter_sockets_op(a->srv, op, &s1, q.room, q.close == 1);
      if (q.request_id) respond(a, nsp, &resp);
    }
    json_decref(ids);
    break;
  }
  case SIO__REDIS_REMOTE_FETCH:
    if (!q.request_id) break;
    resp.sockets = sio_adapter_fetch_sockets(a->srv, &sel);
    respond(a, nsp, &resp);
    json_decref(resp.sockets);
    break;
  case SIO__REDIS_SERVER_SIDE_EMIT:
    if (!q.request_id) {
      sio_adapter_server_event(a->srv, nsp, q.data, NULL, NULL, NULL);
    } else {
      ra_reply *rp = reply_new(a, nsp, q.request_id);
      if (rp) sio_adapter_server_event(a->srv, nsp, q.data, reply_server_event, reply_free, rp);
    }
    break;
  case SIO__REDIS_BROADCAST: {
    /* The requester stops listening after its timeout: so do our clients' acks. */
    json_t *t = q.flags ? json_object_get(q.flags, "timeout") : NULL;
    double ms = json_is_number(t) ? json_number_value(t) : 0;
    uint32_t timeout = ms > 0 && ms < 4e9 ? (uint32_t)ms : 0;
    sio_broadcast_info_t bc = {nsp, q.packet_data, q.opts_rooms, q.n_opts_rooms, q.opts_except, q.n_opts_except, 0};
    ra_reply *rp = reply_new(a, nsp, q.request_id);
    if (rp && sio_adapter_broadcast_with_ack(a->srv, &bc, timeout, reply_clients, reply_client_ack, reply_free,
                                             rp) != 0) {
      /* Not deliverable here (a reserved event name...): no clients. */
      reply_clients(0, rp);
      reply_free(rp);
    }
    break;
  }
  default:
    break; /* responses' types, or unknown: nothing to do */
  }
  sio__redis_request_clear(&q);
}

/* ---- our requests and their answers -------------------------------------------------- */

/* A request from this node, of `type`, all else absent. */
static void request_init(sio_redis_adapter_t *a, sio__redis_request *m, int type) {
  memset(m, 0, sizeof *m);
  m->close = -1;
  m->uid = a->uid;
  m->type = type;
}

/* Encodes m and publishes it on nsp's request channel. Returns 0, a codec
 * error (SIO__REDIS_E*, counted in publish_failed) or the Redis client's
 * (counted by publish()). */
static int publish_request(sio_redis_adapter_t *a, const char *nsp, const sio__redis_request *m) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = sio__redis_encode_request(m, &buf, &len);
  if (rc != 0) a->stats.publish_failed++;
  else rc = publish(a, SIO__REDIS_CH_REQUEST, nsp, NULL, buf, len);
  free(buf);
  return rc;
}

/* What publish_request's error means, for a log line. */
static const char *request_error(int rc) {
  return rc >= SIO__REDIS_EINVAL ? sio__redis_strerror(rc) : "Redis is away";
}

static void req_free_if_done(ra_req *q) {
  if (!q->r && !q->counting) free(q);
}

static void req_unlink(ra_req *q) {
  if (!q->a) return;
  for (ra_req **p = &q->a->reqs; *p; p = &(*p)->next)
    if (*p == q) {
      *p = q->next;
      break;
    }
  q->a = NULL;
}

static void req_ended(sio_request_t *r, void *arg) {
  ra_req *q = arg;
  (void)r;
  req_unlink(q);
  q->r = NULL;
  req_free_if_done(q);
}

static void req_counted(sio__redis_client *rc, int status, long long count, void *data) {
  ra_req *q = data;
  (void)rc;
  q->counting = 0;
  if (q->r) {
    /* Every subscriber of the request channel but us answers. Without a
     * count (Redis lost meanwhile) nobody else is waited for. */
    if (status != 0 && q->a && warn_due(q->a, &q->a->last_req_warn_ms))
      SIO_LOGW("redis: could not count the nodes (%s): a request gets this node's answer only",
               uv_strerror(status));
    if (status == 0) sio_request_expect_nodes(q->r, count > 1 ? (size_t)(count - 1) : 0);
    else sio_request_no_more_nodes(q->r);
  }
  req_free_if_done(q);
}

static ra_req *req_find(sio_redis_adapter_t *a, const char *id) {
  for (ra_req *q = a->reqs; q; q = q->next)
    if (strcmp(q->id, id) == 0) return q;
  return NULL;
}

static void ra_on_response(sio_redis_adapter_t *a, const uint8_t *buf, size_t len) {
  sio__redis_response resp;
  int rc = sio__redis_decode_response(buf, len, &resp);
  if (rc != 0) {
    a->stats.invalid++;
    if (warn_due(a, &a->last_warn_ms))
      SIO_LOGW("redis: ignoring an undecodable response: %s (%llu so far)", sio__redis_strerror(rc),
               (unsigned long long)a->stats.invalid);
    return;
  }
  ra_req *q = req_find(a, resp.request_id);
  if (q && q->r) {
    a->stats.responses_received++;
    switch (sio_request_kind(q->r)) {
    case SIO_REQ_FETCH_SOCKETS:
      if (json_is_array(resp.sockets)) sio_request_add_sockets(q->r, resp.sockets);
      break;
    case SIO_REQ_SERVER_EMIT:
      sio_request_add_answer(q->r, resp.data);
      break;
    case SIO_REQ_BROADCAST_ACK:
      if (resp.type == SIO__REDIS_BROADCAST_CLIENT_COUNT) sio_request_add_clients(q->r, (size_t)resp.client_count);
      else if (resp.type == SIO__REDIS_BROADCAST_ACK) sio_request_add_answer(q->r, resp.packet);
      break;
    }
  }
  /* Answers to other nodes' requests (the response channel is shared) are not ours. */
  sio__redis_response_clear(&resp);
}

static int ra_request(sio_adapter_t *base, sio_request_t *r) {
  sio_redis_adapter_t *a = (sio_redis_adapter_t *)base;
  const sio_broadcast_info_t *in = sio_request_info(r);
  if (!sio__redis_client_up(a->rc)) {
    a->stats.requests_failed++;
    if (warn_due(a, &a->last_req_warn_ms))
      SIO_LOGW("redis: Redis is away: a request on %s gets this node's answer only", in->nsp);
    return -1;
  }
  ra_req *q = calloc(1, sizeof *q);
  if (!q || sio__random_alnum(q->id, 6) != 0) {
    free(q);
    return -1;
  }
  sio__redis_request m;
  json_t *flags = NULL;
  switch (sio_request_kind(r)) {
  case SIO_REQ_FETCH_SOCKETS:
    request_init(a, &m, SIO__REDIS_REMOTE_FETCH);
    m.has_opts = 1;
    break;
  case SIO_REQ_SERVER_EMIT:
    request_init(a, &m, SIO__REDIS_SERVER_SIDE_EMIT);
    m.data = (json_t *)in->data;
    break;
  default:
    request_init(a, &m, SIO__REDIS_BROADCAST);
    m.nsp = in->nsp;
    m.packet_data = (json_t *)in->data;
    m.flags = flags = json_pack("{s:I}", "timeout", (json_int_t)sio_request_timeout_ms(r));
    break;
  }
  m.request_id = q->id;
  m.opts_rooms = (const char **)in->rooms;
  m.n_opts_rooms = in->nrooms;
  m.opts_except = (const char **)in->except;
  m.n_opts_except = in->nexcept;
  int pr = publish_request(a, in->nsp, &m);
  json_decref(flags);
  if (pr != 0 && pr >= SIO__REDIS_EINVAL)
    SIO_LOGW("redis: a request on %s was not published: %s", in->nsp, request_error(pr));
  char *ch = pr == 0 ? sio__redis_channel(SIO__REDIS_CH_REQUEST, NULL, in->nsp, NULL) : NULL;
  if (!ch || sio__redis_client_numsub(a->rc, ch, req_counted, q) != 0) {
    free(ch);
    a->stats.requests_failed++;
    free(q);
    return -1;
  }
  free(ch);
  a->stats.requests_sent++;
  q->a = a;
  q->r = r;
  q->counting = 1;
  q->next = a->reqs;
  a->reqs = q;
  sio_request_on_end(r, req_ended, q);
  return 0;
}

/* socketsJoin/Leave, disconnectSockets: {uid, type, opts, rooms | close}. */
static void ra_sockets_op(sio_adapter_t *base, int op, const sio_broadcast_info_t *sel, const char *room,
                          int close) {
  sio_redis_adapter_t *a = (sio_redis_adapter_t *)base;
  sio__redis_request m;
  request_init(a, &m,
               op == SIO_OP_JOIN    ? SIO__REDIS_REMOTE_JOIN
               : op == SIO_OP_LEAVE ? SIO__REDIS_REMOTE_LEAVE
                                    : SIO__REDIS_REMOTE_DISCONNECT);
  m.has_opts = 1;
  m.opts_rooms = (const char **)sel->rooms;
  m.n_opts_rooms = sel->nrooms;
  m.opts_except = (const char **)sel->except;
  m.n_opts_except = sel->nexcept;
  const char *one[1] = {room};
  if (op == SIO_OP_DISCONNECT) {
    m.close = close ? 1 : 0;
  } else {
    m.has_rooms = 1;
    m.rooms = one;
    m.nrooms = 1;
  }
  if (publish_request(a, sel->nsp, &m) != 0) {
    a->stats.requests_failed++;
    if (warn_due(a, &a->last_req_warn_ms))
      SIO_LOGW("redis: a %s on %s reached this node's sockets only (not published)",
               op == SIO_OP_JOIN ? "socketsJoin" : op == SIO_OP_LEAVE ? "socketsLeave" : "disconnectSockets",
               sel->nsp);
  } else {
    a->stats.requests_sent++;
  }
}

/* serverSideEmit without an ack: {uid, type: 6, data}. */
static int ra_server_emit(sio_adapter_t *base, const char *nsp, const json_t *data) {
  sio_redis_adapter_t *a = (sio_redis_adapter_t *)base;
  sio__redis_request m;
  request_init(a, &m, SIO__REDIS_SERVER_SIDE_EMIT);
  m.data = (json_t *)data;
  int rc = publish_request(a, nsp, &m);
  if (rc != 0) {
    a->stats.requests_failed++;
    SIO_LOGW("redis: a server-side event on %s was not published (%s)", nsp, request_error(rc));
    return EIO_ECLOSED;
  }
  a->stats.requests_sent++;
  return 0;
}

/* Every namespace here answers requests: subscribe to its request and
 * response channels (and the uid-specific one, which the reference's
 * publishOnSpecificResponseChannel option answers on). */
static void ra_namespace_added(sio_adapter_t *base, const char *nsp) {
  sio_redis_adapter_t *a = (sio_redis_adapter_t *)base;
  char *chs[3] = {sio__redis_channel(SIO__REDIS_CH_REQUEST, NULL, nsp, NULL),
                  sio__redis_channel(SIO__REDIS_CH_RESPONSE, NULL, nsp, NULL),
                  sio__redis_channel(SIO__REDIS_CH_RESPONSE, NULL, nsp, a->uid)};
  for (int i = 0; i < 3; i++) {
    int r = chs[i] ? sio__redis_client_subscribe(a->rc, chs[i], NULL, NULL) : UV_ENOMEM;
    if (r != 0 && r != UV_EEXIST) SIO_LOGE("redis: could not subscribe for namespace %s: %s", nsp, uv_strerror(r));
    free(chs[i]);
  }
}

static void ra_on_state(sio__redis_client *rc, int up, void *data) {
  sio_redis_adapter_t *a = data;
  if (up) SIO_LOGI("redis: adapter %s connected: broadcasts flow across nodes", a->uid);
  else SIO_LOGW("redis: adapter %s lost Redis: broadcasts stay on this node until it is back", a->uid);
}

int sio_redis_adapter_new(uv_loop_t *loop, sio_server_t *srv, const char *url, sio_redis_adapter_t **out) {
  *out = NULL;
  sio_redis_adapter_t *a = calloc(1, sizeof *a);
  if (!a) return EIO_ENOMEM;
  if (sio__random_alnum(a->uid, 6) != 0) {
    free(a);
    return EIO_EINVAL;
  }
  a->base.broadcast = ra_broadcast;
  a->base.namespace_added = ra_namespace_added;
  a->base.sockets_op = ra_sockets_op;
  a->base.request = ra_request;
  a->base.server_emit = ra_server_emit;
  a->base.data = a;
  a->srv = srv;
  a->loop = loop;
  sio__redis_client_callbacks cb = {ra_on_message, ra_on_state, a};
  int r = sio__redis_client_create(loop, url, &cb, &a->rc);
  if (r != 0) {
    free(a);
    return r == UV_ENOMEM ? EIO_ENOMEM : EIO_EINVAL;
  }
  /* Every namespace's broadcast channels: "socket.io#<nsp>#" and its rooms. */
  if ((r = sio__redis_client_psubscribe(a->rc, SIO__REDIS_DEFAULT_PREFIX "#*", NULL, NULL)) != 0) {
    sio__redis_client_close(a->rc, NULL, NULL);
    free(a);
    return EIO_ENOMEM;
  }
  sio_server_set_adapter(srv, &a->base);
  *out = a;
  return 0;
}

const char *sio_redis_adapter_uid(const sio_redis_adapter_t *a) { return a->uid; }

void sio_redis_adapter_stats(const sio_redis_adapter_t *a, sio_redis_adapter_stats_t *out) {
  *out = a->stats;
  const sio__redis_client_stats *cs = sio__redis_client_stats_get(a->rc);
  out->reconnects = cs->reconnects;
  out->publish_lost = cs->publish_lost;
  out->connected = sio__redis_client_up(a->rc);
}

static void ra_closed(sio__redis_client *rc, void *data) {
  sio_redis_adapter_t *a = data;
  void (*cb)(void *) = a->on_closed;
  void *arg = a->on_closed_arg;
  free(a);
  if (cb) cb(arg);
}

void sio_redis_adapter_close(sio_redis_adapter_t *a, void (*on_closed)(void *arg), void *arg) {
  sio_server_set_adapter(a->srv, NULL);
  /* Requests in flight end with what they have: no other node is waited for. */
  while (a->reqs) {
    ra_req *q = a->reqs;
    a->reqs = q->next;
    q->a = NULL;
    sio_request_t *r = q->r;
    q->r = NULL;
    sio_request_on_end(r, NULL, NULL);
    sio_request_no_more_nodes(r);
    req_free_if_done(q);
  }
  /* Answers still owed go nowhere now. */
  for (ra_reply *rp = a->replies; rp; rp = rp->next) rp->a = NULL;
  a->replies = NULL;
  a->on_closed = on_closed;
  a->on_closed_arg = arg;
  sio__redis_client_close(a->rc, ra_closed, a);
}
