/* The Redis adapter, wire-compatible with @socket.io/redis-adapter v8
 * (PROTOCOL.md 8): broadcasts made on this node are published as msgpack
 * [uid, packet, opts] on "socket.io#<nsp>#" ("socket.io#<nsp>#<room>#" when
 * exactly one room is targeted); broadcasts published by other nodes (sio or
 * Node.js) are delivered to this node's sockets, with their rooms and except
 * lists. A node ignores its own messages by uid.
 *
 * Not yet: the request/response channels (fetchSockets, socketsJoin/Leave,
 * disconnectSockets, serverSideEmit, broadcasts with acks). This node does
 * not subscribe to the request channel, so Node.js nodes do not count it in
 * their server count and their requests do not wait for it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/redis_client.h"
#include "redis/redis_codec.h"
#include "sio.h"
#include "util/id.h"
#include "util/log.h"

struct sio_redis_adapter {
  sio_adapter_t base;   /* first: the server calls back with &base */
  sio_server_t *srv;
  sio__redis_client *rc;
  char uid[7];
  sio_redis_adapter_stats_t stats;
  uint64_t last_warn_ms;
  uv_loop_t *loop;
  void (*on_closed)(void *arg);
  void *on_closed_arg;
};

static void ra_broadcast(sio_adapter_t *base, const sio_broadcast_info_t *bc) {
  sio_redis_adapter_t *a = (sio_redis_adapter_t *)base;
  uint8_t *buf = NULL;
  size_t len = 0;
  int r = sio__redis_encode_broadcast(a->uid, bc->nsp, bc->data, bc->rooms, bc->nrooms, bc->except,
                                      bc->nexcept, NULL, &buf, &len);
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

static void ra_on_message(sio__redis_client *rc, const char *channel, const char *pattern,
                          const char *payload, size_t len, void *data) {
  sio_redis_adapter_t *a = data;
  sio__redis_broadcast b;
  int r = sio__redis_decode_broadcast((const uint8_t *)payload, len, &b);
  if (r != 0) {
    a->stats.invalid++;
    uint64_t now = uv_now(a->loop);
    if (!a->last_warn_ms || now - a->last_warn_ms >= 5000) {
      SIO_LOGW("redis: ignoring an undecodable message on %s: %s (%llu so far)", channel,
               sio__redis_strerror(r), (unsigned long long)a->stats.invalid);
      a->last_warn_ms = now;
    }
    return;
  }
  if (strcmp(b.uid, a->uid) != 0 && !b.f.local) {
    a->stats.received++;
    sio_broadcast_info_t info = {b.nsp,
                                 b.data,
                                 (const char *const *)b.rooms,
                                 b.nrooms,
                                 (const char *const *)b.except,
                                 b.nexcept};
    int n = sio_adapter_deliver(a->srv, &info);
    if (n > 0) a->stats.deliveries += (uint64_t)n;
  }
  sio__redis_broadcast_clear(&b);
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
  /* 6 characters as the reference's uid (only compared for equality). */
  static const char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  uint8_t rnd[6];
  if (sio__random_bytes(rnd, sizeof rnd) != 0) {
    free(a);
    return EIO_EINVAL;
  }
  for (int i = 0; i < 6; i++) a->uid[i] = alphabet[rnd[i] % 62];
  a->base.broadcast = ra_broadcast;
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
  a->on_closed = on_closed;
  a->on_closed_arg = arg;
  sio__redis_client_close(a->rc, ra_closed, a);
}
