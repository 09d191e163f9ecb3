/* sio-bench WebSocket transport: the HTTP upgrade, then frames parsed
 * straight from the read buffer (the server may coalesce many per read);
 * client frames are masked, as RFC 6455 requires. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* The upgrade request of each target (its Host header differs). */
static char *upgrade_req[BENCH_MAX_TARGETS];
static size_t upgrade_len[BENCH_MAX_TARGETS];
static pthread_once_t upgrade_once = PTHREAD_ONCE_INIT;

static void build_upgrade(void) {
  for (int t = 0; t < g_cfg.ntargets; t++) {
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "GET %s?EIO=4&transport=websocket HTTP/1.1\r\n"
                     "Host: %s:%d\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "\r\n",
                     g_cfg.path, g_cfg.targets[t].host, g_cfg.targets[t].port);
    if (n < 0 || (size_t)n >= sizeof buf) n = 0;
    upgrade_req[t] = strndup(buf, (size_t)n);
    upgrade_len[t] = upgrade_req[t] ? (size_t)n : 0;
  }
}

int ws_start(bthread_t *th, bconn_t *c) {
  pthread_once(&upgrade_once, build_upgrade);
  bsock_t *s = sock_open(th, c, 0);
  if (!s) return -1;
  sock_write(th, s, upgrade_req[c->tgt], upgrade_len[c->tgt]); /* sent once connected */
  return 0;
}

static uint32_t xorshift(uint32_t *st) {
  uint32_t x = *st;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *st = x;
}

static void mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4]) {
  uint64_t k8;
  uint8_t kb[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
  memcpy(&k8, kb, 8);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= k8;
    memcpy(dst + i, &v, 8);
  }
  for (; i < n; i++) dst[i] = src[i] ^ key[i & 3];
}

static void ws_frame(bthread_t *th, bconn_t *c, uint8_t opcode, const void *data, size_t len) {
  bsock_t *s = &c->s[0];
  if (s->fd < 0) return;
  size_t hl = len < 126 ? 2 : len < 65536 ? 4 : 10;
  uint8_t *p = sock_wreserve(s, hl + 4 + len);
  if (!p) {
    th->dropped++;
    return;
  }
  p[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    p[1] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    p[1] = 0x80 | 126;
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
  } else {
    p[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) p[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  uint32_t k = xorshift(&th->rng);
  memcpy(p + hl, &k, 4);
  mask_copy(p + hl + 4, data, len, p + hl);
  s->wlen += (uint32_t)(hl + 4 + len);
  sock_mark_dirty(th, s);
}

void ws_send(bthread_t *th, bconn_t *c, const char *pkt, size_t len) { ws_frame(th, c, 0x1, pkt, len); }

/* A close frame (1000), written now, then the socket is closed. */
void ws_close(bthread_t *th, bconn_t *c) {
  bsock_t *s = &c->s[0];
  static const uint8_t code[2] = {0x03, 0xE8};
  ws_frame(th, c, 0x8, code, 2);
  if (s->tls) tls_shutdown(s);
  else if (s->fd >= 0 && s->st == SK_OPEN && s->wlen > s->woff) {
    ssize_t n = send(s->fd, s->wbuf + s->woff, s->wlen - s->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
  }
  sock_close(th, s);
}

long ws_on_data(bthread_t *th, bconn_t *c, uint8_t *buf, size_t len, int64_t now) {
  size_t pos = 0;
  if (c->st == C_HTTP) {
    uint8_t *e = memmem(buf, len, "\r\n\r\n", 4);
    if (!e) {
      if (len > 16384) {
        conn_fail(th, c, ERR_HTTP);
        return -1;
      }
      return 0;
    }
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
      conn_fail(th, c, ERR_HTTP);
      return -1;
    }
    pos = (size_t)(e - buf) + 4;
    c->st = C_EIO;
  }
  while (len - pos >= 2) {
    uint8_t b0 = buf[pos], b1 = buf[pos + 1];
    size_t hl = 2;
    uint64_t pl = b1 & 0x7f;
    if (pl == 126) {
      if (len - pos < 4) break;
      pl = ((uint64_t)buf[pos + 2] << 8) | buf[pos + 3];
      hl = 4;
    } else if (pl == 127) {
      if (len - pos < 10) break;
      pl = 0;
      for (int i = 0; i < 8; i++) pl = (pl << 8) | buf[pos + 2 + i];
      hl = 10;
    }
    if (b1 & 0x80) hl += 4;
    if (pl > (64u << 20)) {
      conn_fail(th, c, ERR_PROTO);
      return -1;
    }
    if (len - pos < hl + pl) break;
    uint8_t *pp = buf + pos + hl;
    if (b1 & 0x80) mask_copy(pp, pp, (size_t)pl, pp - 4); /* servers should not mask */
    pos += hl + (size_t)pl;
    switch (b0 & 0x0f) {
    case 0x1:
      if (!(b0 & 0x80)) { /* fragmented text: not used by the servers */
        conn_fail(th, c, ERR_PROTO);
        return -1;
      }
      if (eio_packet(th, c, (const char *)pp, (size_t)pl, now) < 0) return -1;
      break;
    case 0x8: conn_fail(th, c, ERR_CLOSED); return -1;
    case 0x9: ws_frame(th, c, 0xA, pp, (size_t)pl); break;
    default: break; /* binary, pong, continuation: ignored */
    }
  }
  return (long)pos;
}
