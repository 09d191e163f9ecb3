/* sio-bench long-polling transport, as engine.io-client does it: one GET
 * outstanding at all times on one keep-alive connection (s[0]); packets to
 * send are joined by 0x1E and POSTed one request at a time on a second
 * keep-alive connection (s[1]), whatever queued meanwhile going in the
 * next POST. Responses need Content-Length (no chunked bodies). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PBUF_MAX (512u << 10) /* under the default maxPayload (1e6) */
#define KEEPALIVE_STALE_NS 3000000000LL /* servers drop idle keep-alives after 5 s */

static void req_head(bthread_t *th, bconn_t *c, bsock_t *s, const char *method, size_t body) {
  char buf[1024];
  int n;
  const bench_target_t *tg = &g_cfg.targets[c->tgt];
  if (!c->sidlen)
    n = snprintf(buf, sizeof buf, "%s %s?EIO=4&transport=polling HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                 method, g_cfg.path, tg->host, tg->port);
  else if (body == (size_t)-1)
    n = snprintf(buf, sizeof buf,
                 "%s %s?EIO=4&transport=polling&sid=%.*s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", method,
                 g_cfg.path, (int)c->sidlen, c->sid, tg->host, tg->port);
  else
    n = snprintf(buf, sizeof buf,
                 "%s %s?EIO=4&transport=polling&sid=%.*s HTTP/1.1\r\nHost: %s:%d\r\n"
                 "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n",
                 method, g_cfg.path, (int)c->sidlen, c->sid, tg->host, tg->port, body);
  if (n > 0 && (size_t)n < sizeof buf) sock_write(th, s, buf, (size_t)n);
}

int poll_start(bthread_t *th, bconn_t *c) {
  bsock_t *s = sock_open(th, c, 0);
  if (!s) return -1;
  req_head(th, c, s, "GET", (size_t)-1);
  s->busy = 1;
  return 0;
}

static void poll_get(bthread_t *th, bconn_t *c) {
  bsock_t *s = &c->s[0];
  if (s->busy || c->st == C_DEAD) return;
  if (s->fd < 0 && !sock_open(th, c, 0)) {
    conn_fail(th, c, ERR_CLOSED);
    return;
  }
  req_head(th, c, s, "GET", (size_t)-1);
  s->busy = 1;
}

static void flush_post(bthread_t *th, bconn_t *c) {
  bsock_t *s = &c->s[1];
  if (!c->plen || s->busy || !c->sidlen || c->st == C_DEAD) return;
  if (s->fd >= 0 && s->st == SK_OPEN && th->now - s->last_used > KEEPALIVE_STALE_NS)
    sock_close(th, s); /* the server may be closing it right now */
  if (s->fd < 0 && !sock_open(th, c, 1)) {
    conn_fail(th, c, ERR_CLOSED);
    return;
  }
  req_head(th, c, s, "POST", c->plen);
  sock_write(th, s, c->pbuf, c->plen);
  c->plen = 0;
  s->busy = 1;
}

void poll_send(bthread_t *th, bconn_t *c, const char *pkt, size_t len) {
  size_t need = c->plen + len + 1;
  if (need > PBUF_MAX) {
    th->dropped++;
    return;
  }
  if (need > c->pcap) {
    size_t cap = c->pcap ? c->pcap : 256;
    while (cap < need) cap *= 2;
    uint8_t *nb = realloc(c->pbuf, cap);
    if (!nb) {
      th->dropped++;
      return;
    }
    c->pbuf = nb;
    c->pcap = (uint32_t)cap;
  }
  if (c->plen) c->pbuf[c->plen++] = 0x1e;
  memcpy(c->pbuf + c->plen, pkt, len);
  c->plen += (uint32_t)len;
  flush_post(th, c);
}

void poll_opened(bthread_t *th, bconn_t *c) {
  poll_send(th, c, "40", 2);
  poll_get(th, c);
}

void poll_close(bthread_t *th, bconn_t *c) {
  sock_close(th, &c->s[0]);
  sock_close(th, &c->s[1]);
  c->plen = 0;
}

/* The server closed a keep-alive connection: fine between requests. */
void poll_on_eof(bthread_t *th, bconn_t *c, int which) {
  bsock_t *s = &c->s[which];
  if (!s->busy && c->st == C_UP) {
    sock_close(th, s);
    if (which == 1) flush_post(th, c);
    else poll_get(th, c);
    return;
  }
  conn_fail(th, c, ERR_CLOSED);
}

static int get_body(bthread_t *th, bconn_t *c, const uint8_t *b, size_t n, int64_t now) {
  if (c->st == C_HTTP) c->st = C_EIO; /* the handshake response */
  const uint8_t *end = b + n;
  while (b < end) {
    const uint8_t *e = memchr(b, 0x1e, (size_t)(end - b));
    if (!e) e = end;
    if (eio_packet(th, c, (const char *)b, (size_t)(e - b), now) < 0) return -1;
    b = e + 1;
  }
  return 0;
}

static int header_is(const uint8_t *line, const uint8_t *eol, const char *name, size_t nl) {
  return (size_t)(eol - line) > nl && strncasecmp((const char *)line, name, nl) == 0;
}

long poll_on_data(bthread_t *th, bconn_t *c, int which, uint8_t *buf, size_t len, int64_t now) {
  size_t pos = 0;
  bsock_t *s = &c->s[which];
  while (pos < len) {
    uint8_t *h = buf + pos;
    size_t avail = len - pos;
    uint8_t *e = memmem(h, avail, "\r\n\r\n", 4);
    if (!e) {
      if (avail > 65536) {
        conn_fail(th, c, ERR_HTTP);
        return -1;
      }
      break;
    }
    size_t hlen = (size_t)(e - h) + 4;
    if (hlen < 12 || memcmp(h, "HTTP/1.", 7) != 0) {
      conn_fail(th, c, ERR_PROTO);
      return -1;
    }
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    size_t clen = 0;
    int closeit = 0, chunked = 0;
    const uint8_t *line = memchr(h, '\n', hlen);
    while (line && line + 1 < e) {
      line++;
      const uint8_t *eol = memchr(line, '\r', (size_t)(e + 2 - line));
      if (!eol) break;
      if (header_is(line, eol, "content-length:", 15)) {
        clen = (size_t)strtoul((const char *)line + 15, NULL, 10);
      } else if (header_is(line, eol, "connection:", 11)) {
        const uint8_t *v = line + 11;
        while (v < eol && *v == ' ') v++;
        if ((size_t)(eol - v) >= 5 && strncasecmp((const char *)v, "close", 5) == 0) closeit = 1;
      } else if (header_is(line, eol, "transfer-encoding:", 18)) {
        chunked = 1;
      }
      line = eol + 1;
    }
    if (chunked) {
      conn_fail(th, c, ERR_PROTO);
      return -1;
    }
    if (avail < hlen + clen) break;
    pos += hlen + clen;
    if (!s->busy) { /* a response to nothing */
      conn_fail(th, c, ERR_PROTO);
      return -1;
    }
    s->busy = 0;
    s->last_used = now;
    if (status != 200) {
      conn_fail(th, c, ERR_HTTP);
      return -1;
    }
    if (closeit) sock_close(th, s);
    if (which == 0) {
      if (get_body(th, c, h + hlen, clen, now) < 0) return -1;
      if (c->st == C_DEAD) return -1;
      if (th->phase < PH_STOP) poll_get(th, c);
    } else {
      flush_post(th, c);
    }
    if (closeit || s->fd < 0) return (long)len;
  }
  return (long)pos;
}
