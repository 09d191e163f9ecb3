#include "net/conn.h"

#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "net/tls.h"
#include "util/log.h"

#define SIO__READ_BUF_SIZE (64 * 1024)
#define SIO__IOV_BATCH 256 /* iovecs per writev; IOV_MAX is 1024 */

/* ---- write queue ------------------------------------------------------- */

typedef struct conn_write_req {
  uv_write_t req;
  sio__conn *conn;
  uint32_t nsegs;
  uv_buf_t bufs[SIO__IOV_BATCH];
} conn_write_req;

/* The per-write helpers are static inline here, with exported wrappers for
 * net/tls.c: the library is position-independent, where an exported function
 * is not inlined (measured: the ring push as its own function was 5 % of the
 * server's CPU in a saturated fan-out). */
static inline void conn_mark_dirty(sio__conn *c) {
  if (c->flags & SIO__CONN_DIRTY) return;
  c->flags |= SIO__CONN_DIRTY;
  c->dirty_next = c->net->dirty;
  c->net->dirty = c;
}

void sio__conn_mark_dirty(sio__conn *c) { conn_mark_dirty(c); }

/* Write-side failures never call back into the protocol from inside a write
 * (a broadcast may be walking room lists when a recipient overflows); the
 * connection is failed from the loop-turn flush instead. */
void sio__conn_fail_later(sio__conn *c, int status) {
  if (c->flags & (SIO__CONN_FAILED | SIO__CONN_CLOSING)) return;
  c->flags |= SIO__CONN_FAILED;
  c->fail_status = status;
  conn_mark_dirty(c);
}

static void conn_fail_now(sio__conn *c) {
  c->flags &= ~SIO__CONN_FAILED;
  if (c->proto && c->proto->on_eof) c->proto->on_eof(c, c->fail_status);
  else sio__conn_close(c);
  if (!(c->flags & SIO__CONN_CLOSING)) sio__conn_close(c);
}

static inline int wring_push(sio__wring *w, sio__rbuf *rb, uint32_t off, uint32_t len) {
  if (w->count == w->cap) {
    uint32_t ncap = w->cap ? w->cap * 2 : 8;
    sio__wseg *n = malloc(ncap * sizeof *n);
    if (!n) return -1;
    for (uint32_t i = 0; i < w->count; i++) n[i] = *sio__wring_at(w, i);
    free(w->segs);
    w->segs = n;
    w->cap = ncap;
    w->head = 0;
  }
  /* The capacity is a power of two: masks, not divisions, on this hot path. */
  sio__wseg *s = sio__wring_at(w, w->count);
  s->rb = sio__rbuf_ref(rb);
  s->off = off;
  s->len = len;
  w->count++;
  w->bytes += len;
  return 0;
}

int sio__wring_push(sio__wring *w, sio__rbuf *rb, uint32_t off, uint32_t len) {
  return wring_push(w, rb, off, len);
}

static inline void wring_consume(sio__wring *w, size_t bytes) {
  w->bytes -= bytes;
  while (bytes && w->count) {
    sio__wseg *s = &w->segs[w->head];
    if (bytes < s->len) {
      s->off += (uint32_t)bytes;
      s->len -= (uint32_t)bytes;
      return;
    }
    bytes -= s->len;
    sio__rbuf_unref(s->rb);
    w->head = (w->head + 1) & (w->cap - 1);
    w->count--;
  }
  if (!w->count) {
    /* No queue memory at rest. */
    free(w->segs);
    w->segs = NULL;
    w->cap = w->head = 0;
  }
}

void sio__wring_consume(sio__wring *w, size_t bytes) { wring_consume(w, bytes); }

void sio__wring_clear(sio__wring *w) {
  for (uint32_t i = 0; i < w->count; i++) sio__rbuf_unref(sio__wring_at(w, i)->rb);
  free(w->segs);
  memset(w, 0, sizeof *w);
}

static uint32_t wq_fill(sio__conn *c, uv_buf_t *bufs, size_t *total) {
  uint32_t n = c->wq.count < SIO__IOV_BATCH ? c->wq.count : SIO__IOV_BATCH;
  *total = 0;
  for (uint32_t i = 0; i < n; i++) {
    sio__wseg *s = sio__wring_at(&c->wq, i);
    bufs[i] = uv_buf_init(s->rb->data + s->off, s->len);
    *total += s->len;
  }
  return n;
}

static void conn_flush(sio__conn *c);

static void conn_shutdown_cb(uv_shutdown_t *req, int status) { free(req); }

/* All our bytes are out: send FIN and wait (reading) for the peer's. */
static void conn_shutdown(sio__conn *c) {
  if (sio__tq_armed(&c->timer) && c->timer.q == &c->net->linger_tq) return; /* already sent */
  uv_shutdown_t *req = malloc(sizeof *req);
  if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, conn_shutdown_cb) != 0) {
    free(req);
    sio__conn_close(c);
    return;
  }
  sio__tq_arm(&c->net->linger_tq, &c->timer);
}

static void conn_linger_expired(sio__tq *q, sio__tq_node *n) {
  sio__conn_close(sio__container_of(n, sio__conn, timer));
}

static void conn_write_cb(uv_write_t *req, int status) {
  conn_write_req *wr = (conn_write_req *)req;
  sio__conn *c = wr->conn;
  size_t bytes = 0;
  for (uint32_t i = 0; i < wr->nsegs; i++) bytes += wr->bufs[i].len;
  free(wr);
  c->flags &= ~SIO__CONN_WRITING;
  if (status < 0) {
    /* Cancelled by a close, or the peer is gone: the queue is dropped. */
    if (!(c->flags & SIO__CONN_CLOSING)) {
      SIO_LOGD("write failed: %s", uv_strerror(status));
      sio__conn_fail_later(c, status);
    }
    return;
  }
  c->net->stats.bytes_out += bytes;
  wring_consume(&c->wq, bytes);
  conn_flush(c);
}

/* Writes synchronously as far as the socket takes it; whatever is left goes
 * out through one uv_write whose callback continues the flush. */
static void conn_flush(sio__conn *c) {
  if (c->flags & (SIO__CONN_WRITING | SIO__CONN_CLOSING | SIO__CONN_HOLD | SIO__CONN_FAILED)) return;
  /* TLS: what was queued since the last flush becomes records now, many
   * small writes sharing each record. */
  if (c->tls && sio__tls_seal(c) != 0) return;
  while (c->wq.count) {
    uv_buf_t bufs[SIO__IOV_BATCH];
    size_t total;
    uint32_t n = wq_fill(c, bufs, &total);
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
    if (r == UV_EAGAIN || r == UV_ENOSYS) r = 0;
    if (r < 0) {
      SIO_LOGD("write failed: %s", uv_strerror(r));
      sio__conn_fail_later(c, r);
      return;
    }
    c->net->stats.bytes_out += (size_t)r;
    wring_consume(&c->wq, (size_t)r);
    if ((size_t)r < total) break;
  }
  if (c->wq.count) {
    conn_write_req *wr = malloc(sizeof *wr);
    if (!wr) {
      sio__conn_fail_later(c, UV_ENOMEM);
      return;
    }
    size_t total;
    wr->conn = c;
    wr->nsegs = wq_fill(c, wr->bufs, &total);
    /* The segments stay in the queue (and referenced) until the callback. */
    int r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, wr->bufs, wr->nsegs, conn_write_cb);
    if (r < 0) {
      free(wr);
      sio__conn_fail_later(c, r);
      return;
    }
    c->flags |= SIO__CONN_WRITING;
    return;
  }
  if (c->flags & SIO__CONN_CLOSE_AFTER) {
    c->flags &= ~SIO__CONN_CLOSE_AFTER;
    sio__conn_close(c);
  } else if (c->flags & SIO__CONN_LINGER) {
    conn_shutdown(c);
  }
}

/* Some clients act on one message per socket read (the socket.io protocol
 * suite awaits each message in turn with a ws client that emits every frame
 * of a read synchronously). The reference writes one frame at a time and
 * waits for the write callback, so the CONNECT reply reaches such clients in
 * a read of its own; pausing this connection's next writes for a tick of the
 * hold queue (3 ms: the loop clock may lag by one) gives the same result here. Used once per namespace
 * join, never on the message path. */
void sio__conn_flush_alone(sio__conn *c) {
  conn_flush(c);
  if (c->flags & SIO__CONN_CLOSING) return;
  c->flags |= SIO__CONN_HOLD;
  sio__tq_arm(&c->net->hold_tq, &c->timer);
}

static void conn_hold_expired(sio__tq *q, sio__tq_node *n) {
  sio__conn *c = sio__container_of(n, sio__conn, timer);
  c->flags &= ~SIO__CONN_HOLD;
  conn_flush(c);
}

int sio__conn_write(sio__conn *c, sio__rbuf *rb, size_t off, size_t len) {
  /* Nothing may follow the last words queued before a (lingering) close. */
  if (c->flags & (SIO__CONN_CLOSING | SIO__CONN_CLOSE_AFTER | SIO__CONN_LINGER)) return -1;
  if (len == 0) return 0;
  if (c->flags & SIO__CONN_FAILED) return -1;
  size_t queued = c->wq.bytes + (c->tls ? sio__tls_pending(c) : 0);
  if (queued + len > c->net->max_send_queue) {
    char peer[64];
    sio__conn_peer(c, peer, sizeof peer);
    SIO_LOGW("dropping connection from %s: send queue over %zu bytes (client not reading)", peer,
             c->net->max_send_queue);
    sio__conn_fail_later(c, UV_ENOBUFS);
    return -1;
  }
  if ((c->tls ? sio__tls_queue(c, rb, (uint32_t)off, (uint32_t)len)
             : wring_push(&c->wq, rb, (uint32_t)off, (uint32_t)len)) != 0) {
    sio__conn_fail_later(c, UV_ENOMEM);
    return -1;
  }
  conn_mark_dirty(c);
  return 0;
}

int sio__conn_write_copy(sio__conn *c, const void *data, size_t len) {
  sio__rbuf *rb = sio__rbuf_new(len);
  if (!rb) {
    sio__conn_fail_later(c, UV_ENOMEM);
    return -1;
  }
  memcpy(rb->data, data, len);
  rb->len = (uint32_t)len;
  int r = sio__conn_write(c, rb, 0, len);
  sio__rbuf_unref(rb);
  return r;
}

/* ---- reading ------------------------------------------------------------ */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sio__conn *c = h->data;
  buf->base = c->net->rbuf;
  buf->len = SIO__READ_BUF_SIZE;
}

/* Offers `data` to the protocol, keeping the unconsumed tail. `data` is
 * either the shared buffer or the connection's own leftover buffer. */
static void conn_feed(sio__conn *c, char *data, size_t len) {
  size_t used = c->proto->on_data(c, data, len);
  if (c->flags & SIO__CONN_CLOSING) return;
  size_t rest = len - used;
  if (data == c->leftover) {
    if (rest == 0) {
      free(c->leftover);
      c->leftover = NULL;
    } else if (used) {
      memmove(c->leftover, c->leftover + used, rest);
    }
    c->leftover_len = (uint32_t)rest;
    return;
  }
  if (rest) {
    char *n = malloc(rest);
    if (!n) {
      sio__conn_close(c);
      return;
    }
    memcpy(n, data + used, rest);
    c->leftover = n;
    c->leftover_len = (uint32_t)rest;
  }
}

void sio__conn_eof(sio__conn *c, int status) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->flags |= SIO__CONN_EOF;
  if (c->proto && c->proto->on_eof) c->proto->on_eof(c, status);
  else sio__conn_close(c);
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sio__conn *c = s->data;
  if (c->flags & SIO__CONN_CLOSING) return;
  if (nread < 0) {
    sio__conn_eof(c, (int)nread);
    return;
  }
  if (nread == 0) return;
  c->net->stats.bytes_in += (size_t)nread;
  if (c->tls) sio__tls_read(c, buf->base, (size_t)nread); /* decrypts into sio__conn_deliver */
  else sio__conn_deliver(c, buf->base, (size_t)nread);
}

void sio__conn_deliver(sio__conn *c, char *data, size_t len) {
  if (c->leftover) {
    /* Rare: bytes were kept (a paused pipeline or a partial request); join. */
    char *n = realloc(c->leftover, c->leftover_len + len);
    if (!n) {
      sio__conn_close(c);
      return;
    }
    memcpy(n + c->leftover_len, data, len);
    c->leftover = n;
    c->leftover_len += (uint32_t)len;
    conn_feed(c, c->leftover, c->leftover_len);
  } else {
    conn_feed(c, data, len);
  }
}

void sio__conn_pause_read(sio__conn *c) {
  if (c->flags & SIO__CONN_PAUSED) return;
  c->flags |= SIO__CONN_PAUSED;
  uv_read_stop((uv_stream_t *)&c->tcp);
}

void sio__conn_resume_read(sio__conn *c) {
  if (c->flags & SIO__CONN_CLOSING) return;
  c->flags |= SIO__CONN_RESUME;
  conn_mark_dirty(c);
}

static void conn_resume_now(sio__conn *c) {
  c->flags &= ~SIO__CONN_RESUME;
  if (c->flags & SIO__CONN_CLOSING) return;
  int stopped = (c->flags & SIO__CONN_PAUSED) != 0;
  c->flags &= ~SIO__CONN_PAUSED;
  if (c->leftover) conn_feed(c, c->leftover, c->leftover_len);
  /* The protocol may have paused again while consuming the leftover. */
  if (c->flags & (SIO__CONN_CLOSING | SIO__CONN_PAUSED | SIO__CONN_EOF)) return;
  if (stopped) uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
}

/* ---- closing ------------------------------------------------------------ */

static void net_handle_released(sio__net *net) {
  if (--net->pending_handles == 0 && net->closing) {
    free(net->rbuf);
    net->rbuf = NULL;
    sio__tls_ctx_free(net->tls);
    net->tls = NULL;
    if (net->on_closed) net->on_closed(net);
  }
}

static void conn_free(sio__conn *c) {
  sio__net *net = c->net;
  sio__wring_clear(&c->wq);
  if (c->tls) sio__tls_conn_free(c);
  free(c->leftover);
  free(c);
  net_handle_released(net);
}

static void conn_close_cb(uv_handle_t *h) {
  sio__conn *c = h->data;
  sio__net *net = c->net;
  if (c->proto && c->proto->on_free) c->proto->on_free(c);
  c->proto = NULL;
  if (c->flags & SIO__CONN_DIRTY) {
    if (!net->closing) {
      /* Still linked on the dirty list (written to, then closed, in this
       * loop turn): the next flush unlinks and frees it. */
      c->flags |= SIO__CONN_FREED;
      return;
    }
    /* Shutting down: no flush will run again; unlink it here. */
    for (sio__conn **p = &net->dirty; *p; p = &(*p)->dirty_next)
      if (*p == c) {
        *p = c->dirty_next;
        break;
      }
  }
  conn_free(c);
}

void sio__conn_close(sio__conn *c) {
  if (c->flags & SIO__CONN_CLOSING) return;
  c->flags |= SIO__CONN_CLOSING;
  c->flags &= ~SIO__CONN_CLOSE_AFTER;
  sio__tq_cancel(&c->timer);
  if (c->proto && c->proto->on_close) c->proto->on_close(c);
  if (c->prev) c->prev->next = c->next; else c->net->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->net->nconns--;
  /* Queued segments are released in the close callback, after libuv has
   * cancelled any write still referencing them. */
  uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
}

void sio__conn_close_after_write(sio__conn *c) {
  if (c->flags & (SIO__CONN_CLOSING | SIO__CONN_CLOSE_AFTER)) return;
  if (c->tls && !(c->flags & SIO__CONN_LINGER)) sio__tls_close_notify(c);
  c->flags |= SIO__CONN_CLOSE_AFTER;
  sio__conn_pause_read(c);
  conn_mark_dirty(c);
}

void sio__conn_close_linger(sio__conn *c) {
  if (c->flags & (SIO__CONN_CLOSING | SIO__CONN_CLOSE_AFTER | SIO__CONN_LINGER)) return;
  if (c->tls) sio__tls_close_notify(c);
  c->flags |= SIO__CONN_LINGER;
  c->flags &= ~SIO__CONN_HOLD; /* the timer node is the linger's now */
  sio__tq_cancel(&c->timer);
  if (c->flags & SIO__CONN_EOF) {
    /* The peer is already gone: nothing to wait for. */
    sio__conn_close_after_write(c);
    return;
  }
  if (c->flags & SIO__CONN_PAUSED) {
    c->flags &= ~SIO__CONN_PAUSED;
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
  }
  conn_mark_dirty(c);
}

void sio__conn_peer(sio__conn *c, char *out, size_t cap) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  out[0] = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET6) uv_ip6_name((struct sockaddr_in6 *)&ss, out, cap);
  else uv_ip4_name((struct sockaddr_in *)&ss, out, cap);
}

/* ---- the loop-turn flush -------------------------------------------------- */

static void net_flush_cb(uv_prepare_t *p) {
  sio__net *net = p->data;
  /* Re-feeding leftovers can queue writes and mark more connections dirty;
   * loop until the list stays empty. */
  while (net->dirty) {
    sio__conn *list = net->dirty;
    net->dirty = NULL;
    while (list) {
      sio__conn *c = list;
      list = c->dirty_next;
      c->dirty_next = NULL;
      c->flags &= ~SIO__CONN_DIRTY;
      if (c->flags & SIO__CONN_FREED) {
        conn_free(c);
        continue;
      }
      if (c->flags & SIO__CONN_CLOSING) continue;
      if (c->flags & SIO__CONN_FAILED) {
        conn_fail_now(c);
        continue;
      }
      if (c->flags & SIO__CONN_RESUME) conn_resume_now(c);
      conn_flush(c);
    }
  }
}

/* ---- accepting ------------------------------------------------------------ */

static void net_on_connection(uv_stream_t *server, int status) {
  sio__net *net = server->data;
  if (status < 0) {
    /* Out of descriptors (EMFILE) repeats for every pending connection:
     * say it once a second. */
    static uint64_t last_log;
    uint64_t now = uv_now(net->loop);
    if (!last_log || now - last_log >= 1000) {
      SIO_LOGW("accept failed: %s (%zu connections open)", uv_strerror(status), net->nconns);
      last_log = now;
    }
    return;
  }
  sio__conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->net = net;
  uv_tcp_init(net->loop, &c->tcp);
  c->tcp.data = c;
  net->pending_handles++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    c->flags |= SIO__CONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, conn_close_cb);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->next = net->conns;
  if (net->conns) net->conns->prev = c;
  net->conns = c;
  net->nconns++;
  net->stats.accepted++;
  if (net->tls && sio__tls_conn_new(c) != 0) {
    sio__conn_close(c);
    return;
  }
  net->on_accept(net, c);
  if (c->flags & SIO__CONN_CLOSING) return;
  uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb);
}

int sio__net_init(sio__net *net, uv_loop_t *loop) {
  memset(net, 0, sizeof *net);
  net->loop = loop;
  net->max_send_queue = 64u << 20;
  net->rbuf = malloc(SIO__READ_BUF_SIZE);
  if (!net->rbuf) return UV_ENOMEM;
  uv_prepare_init(loop, &net->flusher);
  net->flusher.data = net;
  uv_prepare_start(&net->flusher, net_flush_cb);
  uv_unref((uv_handle_t *)&net->flusher);
  sio__tq_init(loop, &net->hold_tq, 3, conn_hold_expired, net);
  sio__tq_init(loop, &net->linger_tq, 2000, conn_linger_expired, net);
  net->pending_handles = 3; /* the flusher and two queues' timers */
  return 0;
}

void sio__net_tls_attach(sio__net *net, sio__tls_ctx *ctx, uint32_t handshake_timeout_ms) {
  net->tls = ctx;
  sio__tq_init(net->loop, &net->tls_hs_tq, handshake_timeout_ms, sio__tls_handshake_expired, net);
  net->pending_handles++;
}

int sio__net_listen(sio__net *net, const char *host, int port) {
  struct sockaddr_storage addr;
  int r;
  if (strchr(host, ':')) r = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
  else r = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
  if (r) return r;
  uv_tcp_t *l = malloc(sizeof *l);
  if (!l) return UV_ENOMEM;
  uv_tcp_init(net->loop, l);
  l->data = net;
  net->pending_handles++;
  if ((r = uv_tcp_bind(l, (struct sockaddr *)&addr, 0)) == 0)
    r = uv_listen((uv_stream_t *)l, 1024, net_on_connection);
  uv_tcp_t **nl = r == 0 ? realloc(net->listeners, (net->nlisteners + 1) * sizeof *nl) : NULL;
  if (r || !nl) {
    l->data = net;
    uv_close((uv_handle_t *)l, (uv_close_cb)free);
    net->pending_handles--;
    return r ? r : UV_ENOMEM;
  }
  net->listeners = nl;
  net->listeners[net->nlisteners++] = l;
  return 0;
}

int sio__net_port(const sio__net *net) {
  if (!net->nlisteners) return -1;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getsockname(net->listeners[0], (struct sockaddr *)&ss, &len) != 0) return -1;
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void listener_close_cb(uv_handle_t *h) {
  sio__net *net = h->data;
  free(h);
  net_handle_released(net);
}

static void flusher_close_cb(uv_handle_t *h) { net_handle_released(h->data); }

void sio__net_close(sio__net *net, void (*on_closed)(sio__net *net)) {
  net->closing = 1;
  net->on_closed = on_closed;
  for (size_t i = 0; i < net->nlisteners; i++)
    uv_close((uv_handle_t *)net->listeners[i], listener_close_cb);
  free(net->listeners);
  net->listeners = NULL;
  net->nlisteners = 0;
  /* Flush what the protocols queued on their way out (close frames, the
   * last long-poll answers), then close. */
  net_flush_cb(&net->flusher);
  while (net->conns) sio__conn_close(net->conns);
  uv_prepare_stop(&net->flusher);
  uv_close((uv_handle_t *)&net->flusher, flusher_close_cb);
  net->hold_tq.timer.data = net;
  sio__tq_close(&net->hold_tq, flusher_close_cb);
  if (net->tls) {
    net->tls_hs_tq.timer.data = net;
    sio__tq_close(&net->tls_hs_tq, flusher_close_cb);
  }
  net->linger_tq.timer.data = net;
  sio__tq_close(&net->linger_tq, flusher_close_cb);
}
