/* TCP connections on libuv: one read buffer for the whole loop, leftovers
 * per connection, and a write queue of refcounted buffer slices flushed with
 * one writev per connection per loop turn.
 *
 * Reads land in the net's shared 64 KiB buffer; the protocol handler (HTTP,
 * then WebSocket after an upgrade) consumes what it can and only the rest is
 * copied to the connection. Writes are queued (a reference, never a copy) and
 * flushed from a uv_prepare handle, i.e. once after every callback of the
 * loop turn has run, so many small messages leave in one syscall. */
#ifndef SIO_NET_CONN_H
#define SIO_NET_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/rbuf.h"
#include "util/tq.h"

typedef struct sio__net sio__net;
typedef struct sio__conn sio__conn;

/* A protocol bound to a connection; swapped on upgrade (HTTP → WebSocket). */
typedef struct sio__conn_proto {
  /* Bytes arrived (writable, valid during the call). Returns how many were
   * consumed; the rest is kept and offered again, with anything newer, when
   * reading resumes. */
  size_t (*on_data)(sio__conn *c, char *data, size_t len);
  /* The peer closed its side or a read/write failed (status < 0). The
   * handler decides; usually it closes the connection. */
  void (*on_eof)(sio__conn *c, int status);
  /* The connection is closing: drop every reference to it. Called once. */
  void (*on_close)(sio__conn *c);
  /* Frees proto_data. Runs from libuv's close callback, never inside one of
   * this connection's own callbacks (a parser may be mid-feed at on_close). */
  void (*on_free)(sio__conn *c);
} sio__conn_proto;

typedef struct sio__wseg {
  sio__rbuf *rb;
  uint32_t off, len;
} sio__wseg;

enum {
  SIO__CONN_CLOSING = 1 << 0,     /* uv_close called */
  SIO__CONN_CLOSE_AFTER = 1 << 1, /* close once the write queue drains */
  SIO__CONN_WRITING = 1 << 2,     /* a uv_write is in flight */
  SIO__CONN_DIRTY = 1 << 3,       /* in net->dirty, waiting for the flush */
  SIO__CONN_PAUSED = 1 << 4,      /* reading stopped by the protocol */
  SIO__CONN_RESUME = 1 << 5,      /* in net->dirty to re-feed leftover bytes */
  SIO__CONN_EOF = 1 << 6,         /* the peer has closed its side */
  SIO__CONN_HOLD = 1 << 7,        /* writes held back by sio__conn_flush_alone */
  SIO__CONN_FAILED = 1 << 8,      /* a write failed or overflowed: fail it at the flush */
  SIO__CONN_LINGER = 1 << 9,      /* closing politely: flush, FIN, drain input until EOF */
  SIO__CONN_FREED = 1 << 10,      /* closed while on net->dirty: the flush frees it */
};

/* A ring of queued slices (capacity a power of two, allocated lazily). */
typedef struct sio__wring {
  sio__wseg *segs;
  uint32_t head, count, cap;
  size_t bytes;
} sio__wring;

typedef struct sio__tls_conn sio__tls_conn;
typedef struct sio__tls_ctx sio__tls_ctx;

struct sio__conn {
  uv_tcp_t tcp;
  sio__net *net;
  const sio__conn_proto *proto;
  void *proto_data;          /* the protocol's per-connection state */
  sio__conn *prev, *next;    /* net->conns */
  sio__conn *dirty_next;     /* net->dirty */
  char *leftover;            /* unconsumed input */
  uint32_t leftover_len;
  uint32_t flags;
  int fail_status;           /* with SIO__CONN_FAILED: the libuv error, or UV_ENOBUFS */
  sio__wring wq;             /* bytes for the socket (ciphertext under TLS) */
  sio__tls_conn *tls;        /* TLS state, NULL on plain TCP */
  sio__tq_node timer;        /* one protocol timeout at a time (header, keep-alive, linger) */
};

struct sio__net {
  uv_loop_t *loop;
  uv_prepare_t flusher;
  sio__conn *conns;          /* every open connection */
  sio__conn *dirty;          /* connections with something to flush or re-feed */
  size_t nconns;
  size_t max_send_queue;     /* a connection whose queue grows past this is dropped */
  char *rbuf;                /* the shared read buffer */
  sio__tq hold_tq;           /* sio__conn_flush_alone's pause */
  sio__tq linger_tq;         /* how long a lingering close waits for the peer */
  /* Called for each accepted connection: set c->proto (and proto_data). */
  void (*on_accept)(sio__net *net, sio__conn *c);
  void *data;
  uv_tcp_t **listeners;
  size_t nlisteners;
  int closing;
  void (*on_closed)(sio__net *net); /* all handles released */
  size_t pending_handles;
  sio__tls_ctx *tls;         /* set: every accepted connection speaks TLS */
  sio__tq tls_hs_tq;         /* TLS handshakes must finish within this delay */
  struct {
    uint64_t accepted, bytes_in, bytes_out; /* bytes on the wire (ciphertext under TLS) */
    uint64_t tls_handshakes, tls_errors, tls_plain_http;
  } stats;
};

int sio__net_init(sio__net *net, uv_loop_t *loop);
int sio__net_listen(sio__net *net, const char *host, int port);
int sio__net_port(const sio__net *net);
/* Closes listeners and every connection; on_closed runs when all are gone. */
void sio__net_close(sio__net *net, void (*on_closed)(sio__net *net));

/* Queues bytes [off, off+len) of rb (takes a new reference). Returns 0, or
 * -1 if the connection is closing or its queue went over max_send_queue (it
 * is then being closed). */
int sio__conn_write(sio__conn *c, sio__rbuf *rb, size_t off, size_t len);
/* Queues a copy of the bytes. */
int sio__conn_write_copy(sio__conn *c, const void *data, size_t len);
/* Writes what is queued now, on its own, then holds later writes for about
 * a millisecond (c->timer must be free: WebSocket connections only). */
void sio__conn_flush_alone(sio__conn *c);
/* Closes at once (queued writes are dropped). */
void sio__conn_close(sio__conn *c);
/* Closes after the queued writes are sent. */
void sio__conn_close_after_write(sio__conn *c);
/* Closes politely: sends what is queued, half-closes (FIN), then reads and
 * discards until the peer closes too, or 2 s pass. A peer still sending
 * (say, the rest of an oversized message) then sees our last words (a
 * WebSocket close frame) instead of a reset. */
void sio__conn_close_linger(sio__conn *c);
/* Stops reading; unconsumed bytes stay in the leftover buffer. */
void sio__conn_pause_read(sio__conn *c);
/* Re-delivers kept bytes (from the next flush, never re-entrantly) and reads again. */
void sio__conn_resume_read(sio__conn *c);
static inline int sio__conn_closing(const sio__conn *c) {
  return (c->flags & (SIO__CONN_CLOSING | SIO__CONN_CLOSE_AFTER)) != 0;
}
/* Serves TLS on every connection accepted from now on; the net owns ctx. */
void sio__net_tls_attach(sio__net *net, sio__tls_ctx *ctx, uint32_t handshake_timeout_ms);

/* For the TLS layer (net/tls.c): decrypted bytes in, as if read from the socket. */
void sio__conn_deliver(sio__conn *c, char *data, size_t len);
/* The peer is done sending (status UV_EOF) or reading failed: stop reading
 * and tell the protocol. */
void sio__conn_eof(sio__conn *c, int status);
/* Appends a slice to a ring (takes a reference); -1 if out of memory. */
int sio__wring_push(sio__wring *w, sio__rbuf *rb, uint32_t off, uint32_t len);
/* Drops `bytes` from the front of a ring. */
void sio__wring_consume(sio__wring *w, size_t bytes);
void sio__wring_clear(sio__wring *w);
static inline sio__wseg *sio__wring_at(sio__wring *w, uint32_t i) {
  return &w->segs[(w->head + i) & (w->cap - 1)];
}
/* Marks the connection for the loop-turn flush. */
void sio__conn_mark_dirty(sio__conn *c);
/* Fails the connection from the next flush (never re-entrantly). */
void sio__conn_fail_later(sio__conn *c, int status);

/* Peer address as text ("127.0.0.1", "::1"); out must hold 64 bytes. */
void sio__conn_peer(sio__conn *c, char *out, size_t cap);

#endif
