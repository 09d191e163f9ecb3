/* sio-bench worker threads: one epoll loop per thread over its share of
 * the clients; sockets and buffers; Engine.IO / Socket.IO packet handling
 * common to both transports; the traffic of each mode; the histogram. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define HS_WINDOW 256          /* handshakes under way per thread while connecting */
#define WBUF_MAX (8u << 20)    /* a socket's unsent bytes beyond this are dropped */
#define READ_MIN 16384         /* free room for a read into a socket's own buffer */
#define MAX_EVENTS 512

/* ---- histogram --------------------------------------------------------- */

static inline unsigned h_index(uint64_t v) {
  if (v < 2 * H_HALF) return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = e - (H_SUB_BITS - 1);
  return shift * H_HALF + (unsigned)(v >> shift);
}

/* The middle of bucket i. */
static uint64_t h_value(unsigned i) {
  if (i < 2 * H_HALF) return i;
  unsigned shift = i / H_HALF - 1;
  uint64_t m = i - shift * H_HALF;
  return (m << shift) + ((1ull << shift) >> 1);
}

void hist_add(hist_t *h, uint64_t v) {
  h->b[h_index(v)]++;
  h->count++;
  if (v > h->max) h->max = v;
}

void hist_merge(hist_t *dst, const hist_t *src) {
  for (unsigned i = 0; i < H_N; i++) dst->b[i] += src->b[i];
  dst->count += src->count;
  if (src->max > dst->max) dst->max = src->max;
}

uint64_t hist_pct(const hist_t *h, double p) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)(p * (double)h->count);
  if ((double)rank < p * (double)h->count) rank++;
  if (rank < 1) rank = 1;
  uint64_t cum = 0;
  for (unsigned i = 0; i < H_N; i++) {
    cum += h->b[i];
    if (cum >= rank) {
      uint64_t v = h_value(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

/* ---- sockets ------------------------------------------------------------ */

static void ep_set(bthread_t *th, bsock_t *s, int op, int out) {
  struct epoll_event ev;
  ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
  ev.data.ptr = s;
  epoll_ctl(th->ep, op, s->fd, &ev);
  s->want_out = (uint8_t)(out != 0);
}

static int is_loopback(uint32_t addr) { return (ntohl(addr) >> 24) == 127; }

bsock_t *sock_open(bthread_t *th, bconn_t *c, int which) {
  bsock_t *s = &c->s[which];
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return NULL;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const bench_target_t *tg = &g_cfg.targets[c->tgt];
  if (g_cfg.sources > 0 && is_loopback(tg->addr)) {
    /* Port chosen at connect(), by 4-tuple: each source address has its
     * own ~28k ports, and TIME_WAIT ones can be reused on loopback. */
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    uint32_t k = (c->gidx + c->attempt * 7u) % (uint32_t)g_cfg.sources;
    src.sin_addr.s_addr = htonl(0x7f000001u + k);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
      close(fd);
      return NULL;
    }
  }
  struct sockaddr_in dst;
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)tg->port);
  dst.sin_addr.s_addr = tg->addr;
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    close(fd);
    return NULL;
  }
  s->fd = fd;
  s->gen++;
  if (g_cfg.tls && tls_sock_open(s) < 0) {
    close(fd);
    s->fd = -1;
    return NULL;
  }
  s->conn = c;
  s->which = (uint8_t)which;
  s->st = SK_CONNECTING;
  s->rlen = s->wlen = s->woff = 0;
  s->busy = 0;
  s->last_used = th->now;
  ep_set(th, s, EPOLL_CTL_ADD, 1);
  return s;
}

void sock_close(bthread_t *th, bsock_t *s) {
  if (s->fd >= 0) close(s->fd); /* also leaves the epoll set */
  if (s->tls) tls_sock_reset(s);
  s->fd = -1;
  s->st = SK_CLOSED;
  s->rlen = s->wlen = s->woff = 0;
  s->busy = 0;
  s->want_out = 0;
  if (s->rcap > (256u << 10)) {
    free(s->rbuf);
    s->rbuf = NULL;
    s->rcap = 0;
  }
  if (s->wcap > (256u << 10)) {
    free(s->wbuf);
    s->wbuf = NULL;
    s->wcap = 0;
  }
}

uint8_t *sock_wreserve(bsock_t *s, size_t len) {
  if (s->woff == s->wlen) s->woff = s->wlen = 0;
  if ((size_t)(s->wlen - s->woff) + len > WBUF_MAX) return NULL;
  if ((size_t)s->wlen + len > s->wcap) {
    if (s->woff) {
      memmove(s->wbuf, s->wbuf + s->woff, s->wlen - s->woff);
      s->wlen -= s->woff;
      s->woff = 0;
    }
    if ((size_t)s->wlen + len > s->wcap) {
      size_t cap = s->wcap ? s->wcap : 512;
      while (cap < (size_t)s->wlen + len) cap *= 2;
      uint8_t *nb = realloc(s->wbuf, cap);
      if (!nb) return NULL;
      s->wbuf = nb;
      s->wcap = (uint32_t)cap;
    }
  }
  return s->wbuf + s->wlen;
}

void sock_mark_dirty(bthread_t *th, bsock_t *s) {
  if (s->dirty) return;
  s->dirty = 1;
  s->next_dirty = th->dirty;
  th->dirty = s;
}

void sock_write(bthread_t *th, bsock_t *s, const void *data, size_t len) {
  uint8_t *p = sock_wreserve(s, len);
  if (!p) {
    th->dropped++;
    return;
  }
  memcpy(p, data, len);
  s->wlen += (uint32_t)len;
  sock_mark_dirty(th, s);
}

/* 0, or -1 on a write error (the caller fails the client). */
static int sock_flush(bthread_t *th, bsock_t *s) {
  if (s->fd < 0 || s->st != SK_OPEN) return 0;
  if (s->tls) {
    while (s->woff < s->wlen) {
      long n = tls_write(s, s->wbuf + s->woff, s->wlen - s->woff);
      if (n < 0) return -1;
      if (n == 0) break;
      s->woff += (uint32_t)n;
    }
  }
  while (s->woff < s->wlen && !s->tls) {
    ssize_t n = send(s->fd, s->wbuf + s->woff, s->wlen - s->woff, MSG_NOSIGNAL);
    if (n > 0) {
      s->woff += (uint32_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return -1;
  }
  if (s->woff == s->wlen) {
    s->woff = s->wlen = 0;
    if (s->want_out) ep_set(th, s, EPOLL_CTL_MOD, 0);
  } else if (!s->want_out) {
    ep_set(th, s, EPOLL_CTL_MOD, 1);
  }
  return 0;
}

static void flush_dirty(bthread_t *th) {
  while (th->dirty) {
    bsock_t *s = th->dirty;
    th->dirty = s->next_dirty;
    s->dirty = 0;
    if (sock_flush(th, s) < 0) conn_fail(th, s->conn, ERR_CLOSED);
  }
}

/* ---- clients --------------------------------------------------------------- */

int bench_in_window(int64_t t) {
  return t >= g_ctl.win_start && t < atomic_load_explicit(&g_ctl.win_end, memory_order_relaxed);
}

static void push_restart(bthread_t *th, bconn_t *c) {
  if (c->in_restart) return;
  c->in_restart = 1;
  th->restart[th->nrestart++] = c->idx;
}

void conn_fail(bthread_t *th, bconn_t *c, int why) {
  if (c->st == C_DEAD || c->st == C_IDLE) return;
  int was_up = c->st == C_UP;
  sock_close(th, &c->s[0]);
  sock_close(th, &c->s[1]);
  c->plen = 0;
  c->inflight = 0;
  if (was_up) {
    th->up--;
    th->closed++;
  } else {
    th->failed++;
    if (th->pending_hs) th->pending_hs--;
  }
  th->errors++;
  switch (why) {
  case ERR_REFUSED: th->err_refused++; break;
  case ERR_HTTP: th->err_http++; break;
  case ERR_PROTO: th->err_proto++; break;
  case ERR_TLS: th->err_tls++; break;
  default: th->err_closed++; break;
  }
  c->st = C_DEAD;
  if (g_cfg.mode == MODE_CONNECT) push_restart(th, c);
}

static void conn_start(bthread_t *th, bconn_t *c) {
  c->st = C_HTTP;
  c->t_start = th->now;
  c->attempt++;
  c->inflight = 0;
  c->plen = 0;
  c->sidlen = 0;
  th->pending_hs++;
  int r = c->tr == TR_WS ? ws_start(th, c) : poll_start(th, c);
  if (r < 0) conn_fail(th, c, ERR_REFUSED);
}

void conn_send(bthread_t *th, bconn_t *c, const char *pkt, size_t len) {
  if (c->tr == TR_WS) ws_send(th, c, pkt, len);
  else poll_send(th, c, pkt, len);
}

char *bench_put_u64(char *p, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

/* Sends pre + <send time> + sep + payload + "\"]": the echo message
 * 42["message",<ts>,"xx..."] and the chat line 42["message","<ts> xx...."].
 * -1 if the message was dropped (the socket's buffer is full). */
static int send_stamped(bthread_t *th, bconn_t *c, const char *pre, size_t prelen, const char *sep,
                        size_t seplen) {
  char *b = (char *)th->scratch, *p = b;
  memcpy(p, pre, prelen);
  p += prelen;
  p = bench_put_u64(p, (uint64_t)th->now);
  memcpy(p, sep, seplen);
  p += seplen;
  memcpy(p, g_payload, (size_t)g_cfg.payload);
  p += g_cfg.payload;
  *p++ = '"';
  *p++ = ']';
  uint64_t dropped = th->dropped;
  conn_send(th, c, b, (size_t)(p - b));
  if (th->dropped != dropped) return -1;
  th->sent++;
  if (bench_in_window(th->now)) th->sent_win++;
  return 0;
}

static int send_echo(bthread_t *th, bconn_t *c) {
  static const char pre[] = "42[\"message\",", sep[] = ",\"";
  if (send_stamped(th, c, pre, sizeof pre - 1, sep, sizeof sep - 1) != 0) return -1;
  c->inflight++;
  return 0;
}

static void send_fanout(bthread_t *th, bconn_t *c) {
  static const char pre[] = "42[\"message\",\"", sep[] = " ";
  send_stamped(th, c, pre, sizeof pre - 1, sep, sizeof sep - 1);
}

static void begin_traffic(bthread_t *th, bconn_t *c) {
  if (g_cfg.mode == MODE_ECHO)
    while (c->inflight < (uint32_t)g_cfg.inflight)
      if (send_echo(th, c) < 0) break;
}

/* The Socket.IO CONNECT reply arrived. Returns -1 if c was closed. */
static int conn_up(bthread_t *th, bconn_t *c) {
  if (th->pending_hs) th->pending_hs--;
  if (g_cfg.mode == MODE_CONNECT) {
    th->connected++;
    if (bench_in_window(th->now)) {
      th->connects++;
      hist_add(&th->lat, (uint64_t)(th->now - c->t_start));
    }
    if (c->tr == TR_WS) ws_close(th, c);
    else poll_close(th, c);
    c->st = C_DEAD;
    push_restart(th, c);
    return -1;
  }
  c->st = C_UP;
  th->connected++;
  th->up++;
  if (th->phase == PH_RUN) begin_traffic(th, c);
  return 0;
}

void conn_opened(bthread_t *th, bconn_t *c, int64_t now) {
  c->last_ping = now;
  c->st = C_SIO;
  if (c->tr == TR_WS) ws_send(th, c, "40", 2);
  else poll_opened(th, c);
}

/* A decimal number at p (at most 19 digits); *ok = 0 if none. */
static uint64_t parse_u64(const char *p, const char *end, int *ok) {
  uint64_t v = 0;
  int n = 0;
  while (p < end && n < 19 && *p >= '0' && *p <= '9') {
    v = v * 10 + (uint64_t)(*p++ - '0');
    n++;
  }
  *ok = n > 0;
  return v;
}

static const char *find_key(const char *p, size_t n, const char *key) {
  size_t kl = strlen(key);
  const char *k = memmem(p, n, key, kl);
  return k ? k + kl : NULL;
}

/* EVENT: p at "2[...". */
static int on_event(bthread_t *th, bconn_t *c, const char *p, size_t n) {
  const char *end = p + n;
  int ok;
  if (g_cfg.mode == MODE_ECHO) {
    static const char pre[] = "2[\"message-back\",";
    if (n > sizeof pre - 1 && memcmp(p, pre, sizeof pre - 1) == 0) {
      uint64_t ts = parse_u64(p + sizeof pre - 1, end, &ok);
      if (!ok) {
        th->other++;
        return 0;
      }
      if (bench_in_window(th->now)) {
        th->events++;
        hist_add(&th->lat, (uint64_t)(th->now - (int64_t)ts));
      }
      if (c->inflight) c->inflight--;
      if (th->phase == PH_RUN) begin_traffic(th, c);
      return 0;
    }
  } else if (g_cfg.mode == MODE_SOAK) {
    if (soak_on_event(th, c, p, n)) return 0;
  } else if (g_cfg.mode == MODE_FANOUT) {
    static const char pre[] = "2[\"message\",\"";
    if (n > sizeof pre - 1 && memcmp(p, pre, sizeof pre - 1) == 0) {
      /* "<socket id>: <ts> <payload>"; other lines ("<id> connected") have
       * no ": " after the id. */
      const char *q = p + sizeof pre - 1;
      const char *lim = q + 64 < end ? q + 64 : end;
      while (q < lim && *q != ':' && *q != '"') q++;
      if (q + 2 < end && q[0] == ':' && q[1] == ' ') {
        uint64_t ts = parse_u64(q + 2, end, &ok);
        if (ok) {
          if (bench_in_window((int64_t)ts)) {
            th->received++;
            hist_add(&th->lat, (uint64_t)(th->now - (int64_t)ts));
          }
          if (bench_in_window(th->now)) th->deliveries++;
          return 0;
        }
      }
    }
  }
  th->other++;
  return 0;
}

static int sio_packet(bthread_t *th, bconn_t *c, const char *p, size_t n) {
  if (!n) return 0;
  switch (p[0]) {
  case '0':
    if (c->st == C_SIO && n > 1 && p[1] == '{') {
      if (g_cfg.mode == MODE_SOAK) soak_joined(th, c, p, n);
      return conn_up(th, c);
    }
    return 0;
  case '1': conn_fail(th, c, ERR_CLOSED); return -1;
  case '4': conn_fail(th, c, ERR_PROTO); return -1;
  case '2':
    if (c->st == C_UP) return on_event(th, c, p, n);
    return 0;
  default: return 0;
  }
}

int eio_packet(bthread_t *th, bconn_t *c, const char *p, size_t n, int64_t now) {
  if (!n) return 0;
  switch (p[0]) {
  case '0': {
    if (c->st != C_EIO) return 0;
    int ok;
    const char *v = find_key(p, n, "\"pingInterval\":");
    if (v) {
      uint64_t pi = parse_u64(v, p + n, &ok);
      if (ok) th->ping_interval = (int64_t)pi;
    }
    if (c->tr == TR_POLL) {
      const char *sid = find_key(p, n, "\"sid\":\"");
      const char *e = sid ? memchr(sid, '"', (size_t)(p + n - sid)) : NULL;
      if (!e || e - sid >= (long)sizeof c->sid || e == sid) {
        conn_fail(th, c, ERR_PROTO);
        return -1;
      }
      memcpy(c->sid, sid, (size_t)(e - sid));
      c->sidlen = (uint8_t)(e - sid);
    }
    conn_opened(th, c, now);
    return c->st == C_DEAD ? -1 : 0;
  }
  case '2': {
    th->pings++;
    if (th->phase >= PH_RUN && c->st == C_UP) {
      int64_t gap = now - c->last_ping;
      if (gap > th->ping_gap_max) th->ping_gap_max = gap;
    }
    c->last_ping = now;
    conn_send(th, c, "3", 1);
    return 0;
  }
  case '1': conn_fail(th, c, ERR_CLOSED); return -1;
  case '4': return sio_packet(th, c, p + 1, n - 1);
  default: return 0; /* 6 noop, 3 */
  }
}

/* ---- the loop ---------------------------------------------------------- */

/* Grows a socket's own read buffer to ncap bytes (keeping its content). */
static int rbuf_grow(bsock_t *s, size_t ncap) {
  uint8_t *nb = realloc(s->rbuf, ncap);
  if (!nb) return -1;
  s->rbuf = nb;
  s->rcap = (uint32_t)ncap;
  return 0;
}

/* Hands total bytes at base (the first off of them kept from before) to the
 * transport and keeps what it leaves. 0, or -1 if s was closed meanwhile. */
static int sock_consume(bthread_t *th, bsock_t *s, uint8_t *base, size_t total) {
  bconn_t *c = s->conn;
  uint32_t gen = s->gen;
  long used = c->tr == TR_WS ? ws_on_data(th, c, base, total, th->now)
                             : poll_on_data(th, c, s->which, base, total, th->now);
  if (used < 0 || s->fd < 0 || s->gen != gen) return -1;
  size_t rem = total - (size_t)used;
  if (rem == 0) {
    s->rlen = 0;
  } else if (base == th->rscratch) {
    if (s->rcap < rem && rbuf_grow(s, rem < 4096 ? 4096 : rem) != 0) {
      conn_fail(th, c, ERR_PROTO);
      return -1;
    }
    memcpy(s->rbuf, base + used, rem);
    s->rlen = (uint32_t)rem;
  } else {
    if (used) memmove(s->rbuf, s->rbuf + used, rem);
    s->rlen = (uint32_t)rem;
  }
  return 0;
}

/* Where the next read goes: the thread's scratch buffer when nothing is
 * kept, else after what the socket keeps (with READ_MIN free). */
static int read_target(bthread_t *th, bsock_t *s, uint8_t **base, size_t *off, size_t *cap) {
  if (s->rlen == 0) {
    *base = th->rscratch;
    *off = 0;
    *cap = th->rscratch_cap;
    return 0;
  }
  if (s->rcap - s->rlen < READ_MIN) {
    size_t ncap = s->rcap * 2;
    if (ncap < (size_t)s->rlen + READ_MIN) ncap = (size_t)s->rlen + READ_MIN;
    if (rbuf_grow(s, ncap) != 0) return -1;
  }
  *base = s->rbuf;
  *off = s->rlen;
  *cap = s->rcap;
  return 0;
}

/* TLS: decrypted records are gathered into the buffer until mbedTLS wants
 * more from the socket (or the buffer is full), then handed over at once. */
static void sock_read_tls(bthread_t *th, bsock_t *s) {
  bconn_t *c = s->conn;
  uint32_t gen = s->gen;
  for (;;) {
    uint8_t *base;
    size_t off, cap, got = 0;
    if (read_target(th, s, &base, &off, &cap) != 0) {
      conn_fail(th, c, ERR_PROTO);
      return;
    }
    long r = 0;
    while (off + got < cap) {
      r = tls_read(s, base + off + got, cap - off - got);
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (got) {
      th->now = now_ns();
      if (sock_consume(th, s, base, off + got) < 0) return;
    }
    if (r == TLS_AGAIN) return;
    if (r > 0) continue; /* the buffer filled up */
    if (s->fd < 0 || s->gen != gen) return;
    if (c->tr == TR_POLL && r == 0) poll_on_eof(th, c, s->which);
    else conn_fail(th, c, r == 0 ? ERR_CLOSED : ERR_TLS);
    return;
  }
}

static void sock_read(bthread_t *th, bsock_t *s) {
  bconn_t *c = s->conn;
  uint32_t gen = s->gen;
  if (s->tls) {
    sock_read_tls(th, s);
    return;
  }
  for (int iter = 0; iter < 8; iter++) {
    uint8_t *base;
    size_t off, cap;
    if (s->rlen == 0) {
      base = th->rscratch;
      off = 0;
      cap = th->rscratch_cap;
    } else {
      if (s->rcap - s->rlen < READ_MIN) {
        size_t ncap = s->rcap * 2;
        if (ncap < (size_t)s->rlen + READ_MIN) ncap = (size_t)s->rlen + READ_MIN;
        if (rbuf_grow(s, ncap) != 0) {
          conn_fail(th, c, ERR_PROTO);
          return;
        }
      }
      base = s->rbuf;
      off = s->rlen;
      cap = s->rcap;
    }
    ssize_t n = recv(s->fd, base + off, cap - off, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    }
    if (n <= 0) {
      if (c->tr == TR_POLL) poll_on_eof(th, c, s->which);
      else conn_fail(th, c, ERR_CLOSED);
      return;
    }
    th->now = now_ns();
    if (sock_consume(th, s, base, off + (size_t)n) < 0) return;
    (void)gen;
    if ((size_t)n < cap - off) return; /* drained */
  }
}

/* A step of the TLS handshake; once done, the socket is open: what the
 * transport queued meanwhile goes out. */
static void tls_step(bthread_t *th, bsock_t *s) {
  switch (tls_handshake(th, s)) {
  case TLS_WANT_READ:
    if (s->want_out) ep_set(th, s, EPOLL_CTL_MOD, 0);
    return;
  case TLS_WANT_WRITE:
    if (!s->want_out) ep_set(th, s, EPOLL_CTL_MOD, 1);
    return;
  case TLS_FAIL: conn_fail(th, s->conn, ERR_TLS); return;
  default: break;
  }
  s->st = SK_OPEN;
  if (sock_flush(th, s) < 0) {
    conn_fail(th, s->conn, ERR_CLOSED);
    return;
  }
  if (tls_ra_pending(s)) sock_read(th, s);
}

static void on_sock_event(bthread_t *th, bsock_t *s, uint32_t evs) {
  if (s->fd < 0) return;
  if (s->tls) tls_begin();
  if (s->st == SK_TLS) {
    tls_step(th, s);
    return;
  }
  if (s->st == SK_CONNECTING) {
    if (!(evs & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
      bconn_t *c = s->conn;
      if (c->tr == TR_POLL && c->st == C_UP) {
        /* a re-opened keep-alive connection */
        conn_fail(th, c, ERR_CLOSED);
      } else {
        conn_fail(th, c, ERR_REFUSED);
      }
      return;
    }
    /* An event left in this batch by the fd this socket had before a
     * re-open (polling) must not pass for the new connection's. */
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    if (getpeername(s->fd, (struct sockaddr *)&peer, &pl) < 0) return;
    if (s->tls) {
      s->st = SK_TLS;
      tls_step(th, s);
      return;
    }
    s->st = SK_OPEN;
    if (sock_flush(th, s) < 0) conn_fail(th, s->conn, ERR_CLOSED);
    return;
  }
  if (evs & EPOLLOUT) {
    if (sock_flush(th, s) < 0) {
      conn_fail(th, s->conn, ERR_CLOSED);
      return;
    }
  }
  if (evs & (EPOLLIN | EPOLLHUP | EPOLLERR)) sock_read(th, s);
}

static bconn_t *next_sender(bthread_t *th) {
  for (uint32_t k = 0; k < th->nsnd; k++) {
    bconn_t *c = &th->conns[th->snd[th->snd_rr++ % th->nsnd]];
    if (c->st == C_UP) return c;
  }
  return NULL;
}

static void on_timer(bthread_t *th) {
  uint64_t exp;
  if (read(th->tfd, &exp, sizeof exp) < 0) { /* nothing */
  }
  if (th->phase != PH_RUN) return;
  th->now = now_ns();
  uint64_t due = (uint64_t)((double)(th->now - th->pace_start) * th->rate / 1e9);
  while (th->paced < due) {
    bconn_t *c = next_sender(th);
    if (!c) {
      th->paced = due;
      break;
    }
    if (g_cfg.mode == MODE_SOAK) soak_send(th, c);
    else send_fanout(th, c);
    th->paced++;
  }
}

static void arm_timer(bthread_t *th, int on) {
  if (th->tfd < 0) return;
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  if (on) {
    double iv = 1e9 / th->rate;
    if (iv < 20000) iv = 20000; /* at most 50k wake-ups/s, several sends each */
    if (iv > 1e8) iv = 1e8;
    its.it_interval.tv_sec = (time_t)(iv / 1e9);
    its.it_interval.tv_nsec = (long)((int64_t)iv % 1000000000);
    its.it_value = its.it_interval;
  }
  timerfd_settime(th->tfd, 0, &its, NULL);
}

static void on_phase(bthread_t *th, int ph) {
  th->phase = ph;
  th->phase_start = th->now;
  if (ph == PH_RUN) {
    th->up_at_run = th->up;
    if (g_cfg.mode == MODE_ECHO)
      for (uint32_t i = 0; i < th->n; i++)
        if (th->conns[i].st == C_UP) begin_traffic(th, &th->conns[i]);
    if (g_cfg.mode == MODE_SOAK)
      for (uint32_t i = 0; i < th->n; i++) th->conns[i].up_at_run = th->conns[i].st == C_UP;
    if ((g_cfg.mode == MODE_FANOUT || g_cfg.mode == MODE_SOAK) && th->nsnd && th->rate > 0) {
      th->pace_start = th->now;
      th->paced = 0;
      arm_timer(th, 1);
    }
  } else if (ph >= PH_DRAIN) {
    arm_timer(th, 0);
  }
}

static void start_more(bthread_t *th) {
  int connect_mode = g_cfg.mode == MODE_CONNECT;
  if (th->phase != (connect_mode ? PH_RUN : PH_CONNECT)) return;
  uint32_t limit = th->n;
  if (!connect_mode && g_cfg.ramp > 0) {
    double share = g_cfg.ramp / g_cfg.threads;
    double allowed = (double)(th->now - th->phase_start) / 1e9 * share + 1;
    if (allowed < limit) limit = (uint32_t)allowed;
  }
  while (th->next_start < limit && (connect_mode || th->pending_hs < HS_WINDOW)) {
    conn_start(th, &th->conns[th->next_start++]);
  }
}

static void do_restarts(bthread_t *th) {
  uint32_t n = th->nrestart;
  th->nrestart = 0;
  for (uint32_t i = 0; i < n; i++) {
    bconn_t *c = &th->conns[th->restart[i]];
    c->in_restart = 0;
    if (th->phase == PH_RUN && c->st == C_DEAD) conn_start(th, c);
  }
}

static void publish(bthread_t *th) {
  /* release: the soak's ids (g_soak_sids) written before a client counts
   * as connected are visible to whoever sees the count */
  atomic_store_explicit(&th->pub_connected, th->connected, memory_order_release);
  atomic_store_explicit(&th->pub_failed, th->failed, memory_order_relaxed);
  atomic_store_explicit(&th->pub_received, th->received, memory_order_relaxed);
  atomic_store_explicit(&th->pub_sent_win, th->sent_win, memory_order_relaxed);
  atomic_store_explicit(&th->pub_up, th->up, memory_order_relaxed);
  atomic_store_explicit(&th->pub_sent, th->sent, memory_order_relaxed);
  atomic_store_explicit(&th->pub_uniq, th->soak_uniq, memory_order_relaxed);
  atomic_store_explicit(&th->pub_phase, th->phase, memory_order_release);
}

void *bench_thread_main(void *arg) {
  bthread_t *th = arg;
  sigset_t set;
  sigfillset(&set);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  struct epoll_event evs[MAX_EVENTS];
  th->phase = -1;
  for (;;) {
    int ph = atomic_load_explicit(&g_ctl.phase, memory_order_acquire);
    th->now = now_ns();
    if (ph != th->phase) {
      on_phase(th, ph);
      if (ph == PH_STOP) break;
    }
    start_more(th);
    flush_dirty(th);
    int n = epoll_wait(th->ep, evs, MAX_EVENTS, 5);
    th->now = now_ns();
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr) on_timer(th);
      else on_sock_event(th, evs[i].data.ptr, evs[i].events);
    }
    flush_dirty(th);
    do_restarts(th);
    publish(th);
  }
  publish(th);
  for (uint32_t i = 0; i < th->n; i++) {
    bconn_t *c = &th->conns[i];
    for (int k = 0; k < 2; k++) {
      if (c->s[k].fd >= 0) close(c->s[k].fd);
      c->s[k].fd = -1;
      tls_sock_free(&c->s[k]);
      free(c->s[k].rbuf);
      free(c->s[k].wbuf);
      c->s[k].rbuf = c->s[k].wbuf = NULL;
    }
    free(c->pbuf);
    c->pbuf = NULL;
  }
  if (g_cfg.tls) tls_thread_done();
  return NULL;
}
