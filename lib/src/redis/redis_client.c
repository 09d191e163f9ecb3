/* Redis client for the scale-out adapter: two hiredis async links (commands,
 * subscriber) on libuv, reconnecting with backoff. See redis_client.h.
 *
 * hiredis 0.14 async semantics this file relies on (async.c):
 *   - a context that fails to connect calls onConnect(REDIS_ERR) and is then
 *     freed by hiredis; onDisconnect is NOT called for it;
 *   - a connected context that dies (EOF, read/write error) runs every pending
 *     reply callback with a NULL reply, then every subscription callback with
 *     NULL, then onDisconnect, then frees itself;
 *   - redisAsyncFree() does the same synchronously, unless called from a reply
 *     callback (it is then deferred until the callback returns); called from
 *     onConnect/onDisconnect it would free the context under hiredis' feet,
 *     which is why our teardown runs from its own timer callback;
 *   - redisAsyncDisconnect() waits for pending replies, then frees.
 * hiredis' own libuv adapter (adapters/libuv.h) is not used: it drops poll
 * callbacks with an error status, and libuv reports POLLERR (a refused
 * connect, a reset) exactly that way, after stopping the handle; the link
 * would then hang until a timeout. Ours hands such events to hiredis, whose
 * read or write finds the error itself, and counts its handles so close can
 * report when everything is released.
 *
 * So a link's `ac` is cleared in onConnect(ERR), onDisconnect, or right after
 * we free it ourselves; reply callbacks compare their context with the link's
 * to ignore the NULL replies of a context being torn down. */
#include "redis/redis_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 3000 /* a SYN to a black hole would take minutes */
#define CLOSE_FLUSH_MS 1000     /* how long close waits for queued PUBLISHes */
#define WARN_EVERY_MS 5000      /* publish failure warnings, at most this often */

enum { LINK_DOWN, LINK_RESOLVING, LINK_CONNECTING, LINK_UP };

typedef struct rlink {
  sio__redis_client *rc;
  const char *name;       /* "command" or "subscriber", for logs */
  redisAsyncContext *ac;  /* NULL when no context exists */
  int state;
  uv_timer_t timer;       /* backoff wait, then the connect timeout */
  uv_getaddrinfo_t gai;
  int resolving;          /* gai is in flight (it must finish before freeing) */
  uint32_t backoff_ms;    /* the next wait's upper bound */
  uint32_t failures;      /* failed attempts since the link was last up */
  uint64_t down_since;    /* loop time the outage began */
  int ever_up;
  /* subscriber link only */
  uint32_t unconfirmed;   /* (P)SUBSCRIBEs sent on this context, not yet confirmed */
  int synced;             /* every subscription made at connect time is confirmed */
} rlink;

typedef struct sub {
  struct sub *next;
  int pattern;
  sio__redis_client_sub_cb done; /* NULL once called */
  void *done_data;
  char name[];
} sub;

typedef struct numsub_req {
  sio__redis_client *rc;
  sio__redis_client_numsub_cb cb;
  void *data;
} numsub_req;

struct sio__redis_client {
  uv_loop_t *loop;
  sio__redis_url url;
  int host_numeric;
  sio__redis_client_callbacks cb;
  rlink cmd, sub;
  sub *subs;
  int up;
  int closing, torn_down, finishing;
  uv_timer_t close_timer; /* deferred teardown, then the flush guard */
  int open_handles;
  int polls;              /* poll handles of hiredis contexts not yet closed */
  void (*on_closed)(sio__redis_client *rc, void *data);
  void *closed_data;
  sio__redis_client_stats stats;
  uint64_t next_warn; /* loop time before which publish warnings are suppressed */
  uint64_t unwarned;  /* failures since the last warning */
  uint32_t rng;
};

static void link_connect(rlink *l);
static void maybe_finish(sio__redis_client *rc);

/* ---- URL ---------------------------------------------------------------- */

static int parse_uint(const char *s, size_t n, long max, long *out) {
  if (n == 0 || n > 10) return -1;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  if (v > max) return -1;
  *out = v;
  return 0;
}

int sio__redis_url_parse(const char *url, sio__redis_url *out, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = NULL;
  if (!url || !out) return (*why = "no URL given"), UV_EINVAL;
  memset(out, 0, sizeof *out);
  out->port = 6379;
  if (strncasecmp(url, "rediss://", 9) == 0)
    return (*why = "TLS (rediss://) is not supported"), UV_EINVAL;
  if (strncasecmp(url, "redis://", 8) != 0)
    return (*why = "only redis://HOST[:PORT][/DB] URLs are supported"), UV_EINVAL;
  const char *p = url + 8;
  const char *auth_end = strpbrk(p, "@/");
  if (auth_end && *auth_end == '@')
    return (*why = "credentials in the URL are not supported"), UV_EINVAL;

  const char *h = p, *he;
  if (*p == '[') { /* IPv6 literal */
    h = ++p;
    he = strchr(p, ']');
    if (!he) return (*why = "unterminated [IPv6] host"), UV_EINVAL;
    for (const char *q = h; q < he; q++)
      if (!strchr("0123456789abcdefABCDEF:.%", *q))
        return (*why = "bad character in [IPv6] host"), UV_EINVAL;
    p = he + 1;
  } else {
    while (*p && *p != ':' && *p != '/') {
      char ch = *p;
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '.' || ch == '-' || ch == '_'))
        return (*why = "bad character in host (query strings are not supported)"), UV_EINVAL;
      p++;
    }
    he = p;
  }
  if (he == h) return (*why = "missing host"), UV_EINVAL;
  if ((size_t)(he - h) >= sizeof out->host) return (*why = "host name too long"), UV_EINVAL;
  memcpy(out->host, h, (size_t)(he - h));
  out->host[he - h] = '\0';

  long v;
  if (*p == ':') {
    const char *ps = ++p;
    while (*p && *p != '/') p++;
    if (parse_uint(ps, (size_t)(p - ps), 65535, &v) != 0 || v == 0)
      return (*why = "port is not a number in 1..65535"), UV_EINVAL;
    out->port = (int)v;
  }
  if (*p == '/') {
    const char *ds = ++p;
    p += strlen(p);
    if (p > ds) {
      if (strpbrk(ds, "?#")) return (*why = "query strings are not supported"), UV_EINVAL;
      if (parse_uint(ds, (size_t)(p - ds), 0x7fffffff, &v) != 0)
        return (*why = "database is not a decimal number"), UV_EINVAL;
      out->db = (int)v;
    }
  }
  if (*p) return (*why = "unexpected text after the host"), UV_EINVAL;
  return 0;
}

/* ---- state and logging --------------------------------------------------- */

static void set_up(sio__redis_client *rc) {
  int up = rc->cmd.state == LINK_UP && rc->sub.state == LINK_UP && rc->sub.synced;
  if (up == rc->up) return;
  rc->up = up;
  if (rc->closing) return;
  SIO_LOGD("redis: %s:%d %s", rc->url.host, rc->url.port, up ? "ready" : "not ready");
  if (rc->cb.on_state) rc->cb.on_state(rc, up, rc->cb.data);
}

/* A publish that did not make it: log at warn, at most every WARN_EVERY_MS,
 * with how many failed since the last line. */
static void warn_publish(sio__redis_client *rc, const char *what) {
  rc->unwarned++;
  uint64_t now = uv_now(rc->loop);
  if (now < rc->next_warn) return;
  SIO_LOGW("redis: %s (%llu since the last warning; %llu refused, %llu lost in total)", what,
           (unsigned long long)rc->unwarned, (unsigned long long)rc->stats.publish_failed,
           (unsigned long long)rc->stats.publish_lost);
  rc->unwarned = 0;
  rc->next_warn = now + WARN_EVERY_MS;
}

static uint32_t next_rand(sio__redis_client *rc) {
  /* xorshift32: only spreads reconnect attempts, needs no quality. */
  uint32_t x = rc->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return rc->rng = x;
}

/* ---- hiredis event hooks on libuv ------------------------------------------ */

typedef struct poller {
  uv_poll_t poll;
  redisAsyncContext *ac; /* NULL once hiredis let go of us */
  sio__redis_client *rc;
  int events;            /* what hiredis wants: UV_READABLE | UV_WRITABLE */
} poller;

static void on_poll(uv_poll_t *h, int status, int events) {
  poller *p = h->data;
  /* An error (POLLERR: refused, reset): libuv has stopped the handle. Let
   * hiredis do the I/O it was waiting for; it meets the error and fails the
   * connect or drops the connection (or re-arms us if all is well). */
  if (status < 0) events = p->events;
  if (p->ac && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
  if (p->ac && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
}

static void poll_update(poller *p, int add, int del) {
  p->events = (p->events | add) & ~del;
  if (uv_is_closing((uv_handle_t *)&p->poll)) return;
  if (p->events) uv_poll_start(&p->poll, p->events, on_poll);
  else uv_poll_stop(&p->poll);
}

static void ev_add_read(void *pd) { poll_update(pd, UV_READABLE, 0); }
static void ev_del_read(void *pd) { poll_update(pd, 0, UV_READABLE); }
static void ev_add_write(void *pd) { poll_update(pd, UV_WRITABLE, 0); }
static void ev_del_write(void *pd) { poll_update(pd, 0, UV_WRITABLE); }

static void on_poll_closed(uv_handle_t *h) {
  poller *p = h->data;
  sio__redis_client *rc = p->rc;
  free(p);
  rc->polls--;
  maybe_finish(rc);
}

/* hiredis frees the context: it closes the socket right after this returns,
 * and uv_close stops polling first, as libuv requires. */
static void ev_cleanup(void *pd) {
  poller *p = pd;
  p->ac = NULL;
  if (!uv_is_closing((uv_handle_t *)&p->poll)) uv_close((uv_handle_t *)&p->poll, on_poll_closed);
}

static int attach(sio__redis_client *rc, redisAsyncContext *ac) {
  poller *p = calloc(1, sizeof *p);
  if (!p) return -1;
  if (uv_poll_init(rc->loop, &p->poll, ac->c.fd) != 0) {
    free(p);
    return -1;
  }
  p->poll.data = p;
  p->ac = ac;
  p->rc = rc;
  rc->polls++;
  ac->ev.data = p;
  ac->ev.addRead = ev_add_read;
  ac->ev.delRead = ev_del_read;
  ac->ev.addWrite = ev_add_write;
  ac->ev.delWrite = ev_del_write;
  ac->ev.cleanup = ev_cleanup;
  return 0;
}

/* ---- reconnection --------------------------------------------------------- */

static void on_retry_timer(uv_timer_t *t) { link_connect((rlink *)t->data); }

/* Arms the wait before the next attempt: uniform in [d/2, d], d doubling. */
static void link_schedule(rlink *l) {
  sio__redis_client *rc = l->rc;
  l->state = LINK_DOWN;
  if (rc->closing) return;
  uint32_t d = l->backoff_ms;
  uint32_t wait = d / 2 + next_rand(rc) % (d / 2 + 1);
  l->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
  uv_timer_start(&l->timer, on_retry_timer, wait, 0);
}

/* An attempt failed (no context left): log, wait, try again. Only the first
 * failure of an initial connect is a warning; a lost link was warned about
 * already, and repeating it every few seconds would flood the log. */
static void link_retry(rlink *l, const char *why) {
  sio__redis_client *rc = l->rc;
  if (!rc->closing) {
    if (l->failures == 0 && !l->ever_up) {
      l->down_since = uv_now(rc->loop);
      SIO_LOGW("redis: cannot connect the %s link to %s:%d: %s; retrying", l->name,
               rc->url.host, rc->url.port, why);
    } else {
      SIO_LOGD("redis: %s link to %s:%d, attempt %u failed: %s", l->name, rc->url.host,
               rc->url.port, l->failures + 1, why);
    }
    l->failures++;
  }
  link_schedule(l);
}

static void on_connect_timeout(uv_timer_t *t) {
  rlink *l = t->data;
  redisAsyncContext *ac = l->ac;
  if (!ac || l->state != LINK_CONNECTING) return;
  /* Clear first: the NULL replies hiredis hands our callbacks while freeing
   * must find a stale context. Not connected, so no onDisconnect. */
  l->ac = NULL;
  redisAsyncFree(ac);
  link_retry(l, "connect timed out");
}

static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata);
static void on_select_reply(redisAsyncContext *ac, void *r, void *privdata);

static int send_sub(rlink *l, sub *s) {
  int rv = s->pattern ? redisAsyncCommand(l->ac, on_sub_reply, l->rc, "PSUBSCRIBE %s", s->name)
                      : redisAsyncCommand(l->ac, on_sub_reply, l->rc, "SUBSCRIBE %s", s->name);
  if (rv != REDIS_OK) return -1;
  l->unconfirmed++;
  return 0;
}

static void on_connect(const redisAsyncContext *cac, int status) {
  rlink *l = cac->data;
  sio__redis_client *rc = l->rc;
  if (l->ac != cac) return;
  uv_timer_stop(&l->timer);
  if (status != REDIS_OK) {
    char why[128];
    snprintf(why, sizeof why, "%s", cac->errstr ? cac->errstr : "connection failed");
    l->ac = NULL; /* hiredis frees it when we return */
    if (rc->closing) return;
    link_retry(l, why);
    return;
  }
  l->state = LINK_UP;
  redisEnableKeepAlive((redisContext *)&cac->c); /* notices a peer gone silent */
  double secs = (double)(uv_now(rc->loop) - l->down_since) / 1000.0;
  if (l->ever_up) {
    rc->stats.reconnects++;
    SIO_LOGI("redis: %s link to %s:%d restored after %.1f s (%u failed attempt%s)", l->name,
             rc->url.host, rc->url.port, secs, l->failures, l->failures == 1 ? "" : "s");
  } else if (l->failures) {
    SIO_LOGI("redis: %s link to %s:%d connected after %.1f s", l->name, rc->url.host,
             rc->url.port, secs);
  } else {
    SIO_LOGD("redis: %s link to %s:%d connected", l->name, rc->url.host, rc->url.port);
  }
  l->ever_up = 1;
  l->failures = 0;
  l->backoff_ms = BACKOFF_MIN_MS;
  if (l == &rc->sub && l->unconfirmed == 0) l->synced = 1;
  set_up(rc);
}

static void on_disconnect(const redisAsyncContext *cac, int status) {
  rlink *l = cac->data;
  sio__redis_client *rc = l->rc;
  if (l->ac != cac) return;
  char why[128];
  snprintf(why, sizeof why, "%s", cac->err && cac->errstr ? cac->errstr : "closed by the server");
  l->ac = NULL;
  l->state = LINK_DOWN;
  l->synced = 0;
  l->unconfirmed = 0;
  if (rc->closing) {
    maybe_finish(rc);
    return;
  }
  SIO_LOGW("redis: %s link to %s:%d lost: %s; reconnecting", l->name, rc->url.host, rc->url.port,
           why);
  l->failures = 0;
  l->down_since = uv_now(rc->loop);
  l->backoff_ms = BACKOFF_MIN_MS;
  link_schedule(l);
  set_up(rc);
}

static void link_connect_ip(rlink *l, const char *ip) {
  sio__redis_client *rc = l->rc;
  redisAsyncContext *ac = redisAsyncConnect(ip, rc->url.port);
  if (!ac) {
    link_retry(l, "out of memory");
    return;
  }
  if (ac->err) {
    /* Failed at once (loopback refusals usually do); no event hooks yet. */
    char why[128];
    snprintf(why, sizeof why, "%s", ac->errstr ? ac->errstr : "connect failed");
    redisAsyncFree(ac);
    link_retry(l, why);
    return;
  }
  ac->data = l;
  if (attach(rc, ac) != 0) {
    redisAsyncFree(ac);
    link_retry(l, "cannot attach to the loop");
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  l->ac = ac;
  l->state = LINK_CONNECTING;
  uv_timer_start(&l->timer, on_connect_timeout, CONNECT_TIMEOUT_MS, 0);
  /* hiredis buffers commands until the socket is writable, so the link's
   * set-up goes out first, before anything the user queues once it is up. */
  if (l == &rc->cmd && rc->url.db != 0)
    redisAsyncCommand(ac, on_select_reply, rc, "SELECT %d", rc->url.db);
  if (l == &rc->sub) {
    l->unconfirmed = 0;
    l->synced = 0;
    for (sub *s = rc->subs; s; s = s->next) send_sub(l, s);
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  rlink *l = req->data;
  l->resolving = 0;
  if (l->rc->closing) {
    uv_freeaddrinfo(res);
    maybe_finish(l->rc);
    return;
  }
  if (status < 0) {
    link_retry(l, uv_strerror(status));
    return;
  }
  /* IPv4 first, as hiredis does with names; then whatever came. */
  struct addrinfo *pick = NULL;
  for (struct addrinfo *a = res; a && !pick; a = a->ai_next)
    if (a->ai_family == AF_INET) pick = a;
  for (struct addrinfo *a = res; a && !pick; a = a->ai_next)
    if (a->ai_family == AF_INET6) pick = a;
  char ip[64] = "";
  if (pick && pick->ai_family == AF_INET)
    uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof ip);
  else if (pick)
    uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof ip);
  uv_freeaddrinfo(res);
  if (!ip[0]) {
    link_retry(l, "no IPv4 or IPv6 address");
    return;
  }
  link_connect_ip(l, ip);
}

static void link_connect(rlink *l) {
  sio__redis_client *rc = l->rc;
  if (rc->closing) return;
  if (rc->host_numeric) {
    link_connect_ip(l, rc->url.host);
    return;
  }
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  l->gai.data = l;
  int rv = uv_getaddrinfo(rc->loop, &l->gai, on_resolved, rc->url.host, NULL, &hints);
  if (rv < 0) {
    link_retry(l, uv_strerror(rv));
    return;
  }
  l->resolving = 1;
  l->state = LINK_RESOLVING;
}

/* ---- replies ---------------------------------------------------------------- */

static void on_select_reply(redisAsyncContext *ac, void *r, void *privdata) {
  sio__redis_client *rc = privdata;
  redisReply *reply = r;
  if (reply && reply->type == REDIS_REPLY_ERROR)
    SIO_LOGE("redis: SELECT %d failed: %s (the command link stays on db 0)", rc->url.db,
             reply->str);
}

static sub *find_sub(sio__redis_client *rc, const char *name, size_t len, int pattern) {
  for (sub *s = rc->subs; s; s = s->next)
    if (s->pattern == pattern && strlen(s->name) == len && memcmp(s->name, name, len) == 0)
      return s;
  return NULL;
}

static int is_str(const redisReply *e) { return e && e->type == REDIS_REPLY_STRING; }

/* Every subscription's callback: confirmations and deliveries. */
static void on_sub_reply(redisAsyncContext *ac, void *r, void *privdata) {
  sio__redis_client *rc = privdata;
  redisReply *reply = r;
  rlink *l = &rc->sub;
  if (!reply || rc->closing || ac != l->ac) return; /* a context going away */
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3) return;
  redisReply **e = reply->element;
  if (!is_str(e[0]) || !is_str(e[1])) return;
  const char *kind = e[0]->str;
  if (strcasecmp(kind, "message") == 0 && is_str(e[2])) {
    rc->stats.messages_in++;
    if (rc->cb.on_message)
      rc->cb.on_message(rc, e[1]->str, NULL, e[2]->str, e[2]->len, rc->cb.data);
  } else if (strcasecmp(kind, "pmessage") == 0 && reply->elements >= 4 && is_str(e[2]) &&
             is_str(e[3])) {
    rc->stats.messages_in++;
    if (rc->cb.on_message)
      rc->cb.on_message(rc, e[2]->str, e[1]->str, e[3]->str, e[3]->len, rc->cb.data);
  } else if (strcasecmp(kind, "subscribe") == 0 || strcasecmp(kind, "psubscribe") == 0) {
    if (l->unconfirmed) l->unconfirmed--;
    sub *s = find_sub(rc, e[1]->str, e[1]->len, kind[0] == 'p' || kind[0] == 'P');
    if (s && s->done) {
      sio__redis_client_sub_cb done = s->done;
      s->done = NULL;
      done(rc, 0, s->done_data);
      if (rc->closing || ac != l->ac) return;
    }
    if (!l->synced && l->unconfirmed == 0 && l->state == LINK_UP) {
      l->synced = 1;
      set_up(rc);
    }
  }
}

static void on_publish_reply(redisAsyncContext *ac, void *r, void *privdata) {
  sio__redis_client *rc = privdata;
  redisReply *reply = r;
  if (reply && reply->type != REDIS_REPLY_ERROR) return;
  rc->stats.publish_lost++;
  if (reply) {
    char what[160];
    snprintf(what, sizeof what, "PUBLISH refused by Redis: %s", reply->str);
    warn_publish(rc, what);
  } else {
    warn_publish(rc, "PUBLISH lost: the command link died before Redis acknowledged it");
  }
}

static void on_numsub_reply(redisAsyncContext *ac, void *r, void *privdata) {
  numsub_req *req = privdata;
  redisReply *reply = r;
  int status = 0;
  long long count = 0;
  if (!reply)
    status = req->rc->closing ? UV_ECANCELED : UV_ECONNRESET;
  else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
           reply->element[1]->type == REDIS_REPLY_INTEGER)
    count = reply->element[1]->integer;
  else
    status = UV_EPROTO;
  req->cb(req->rc, status, count, req->data);
  free(req);
}

/* ---- API ---------------------------------------------------------------------- */

static void link_init(sio__redis_client *rc, rlink *l, const char *name) {
  l->rc = rc;
  l->name = name;
  l->state = LINK_DOWN;
  l->backoff_ms = BACKOFF_MIN_MS;
  uv_timer_init(rc->loop, &l->timer);
  l->timer.data = l;
}

int sio__redis_client_create(uv_loop_t *loop, const char *url,
                             const sio__redis_client_callbacks *cb, sio__redis_client **out) {
  *out = NULL;
  sio__redis_url u;
  const char *why;
  if (sio__redis_url_parse(url, &u, &why) != 0) {
    SIO_LOGE("redis: bad URL \"%s\": %s", url ? url : "(null)", why);
    return UV_EINVAL;
  }
  sio__redis_client *rc = calloc(1, sizeof *rc);
  if (!rc) return UV_ENOMEM;
  rc->loop = loop;
  rc->url = u;
  unsigned char buf[16];
  rc->host_numeric = uv_inet_pton(AF_INET, u.host, buf) == 0 ||
                     uv_inet_pton(AF_INET6, u.host, buf) == 0;
  if (cb) rc->cb = *cb;
  rc->rng = (uint32_t)uv_hrtime() ^ (uint32_t)(uintptr_t)rc;
  if (!rc->rng) rc->rng = 0x9e3779b9u;
  link_init(rc, &rc->cmd, "command");
  link_init(rc, &rc->sub, "subscriber");
  uv_timer_init(loop, &rc->close_timer);
  rc->close_timer.data = rc;
  link_connect(&rc->cmd);
  link_connect(&rc->sub);
  *out = rc;
  return 0;
}

static int add_sub(sio__redis_client *rc, const char *name, int pattern,
                   sio__redis_client_sub_cb done, void *data) {
  if (!name) return UV_EINVAL;
  if (rc->closing) return UV_ECANCELED;
  size_t n = strlen(name);
  if (find_sub(rc, name, n, pattern)) return UV_EEXIST;
  sub *s = malloc(sizeof *s + n + 1);
  if (!s) return UV_ENOMEM;
  s->pattern = pattern;
  s->done = done;
  s->done_data = data;
  memcpy(s->name, name, n + 1);
  /* Append: confirmations arrive in the order subscriptions were made. */
  sub **tail = &rc->subs;
  while (*tail) tail = &(*tail)->next;
  s->next = NULL;
  *tail = s;
  /* A context being set up (or up) takes it now; otherwise the next one. */
  if (rc->sub.ac && send_sub(&rc->sub, s) != 0)
    SIO_LOGW("redis: cannot queue %sSUBSCRIBE %s; it is made on the next link",
             pattern ? "P" : "", name);
  return 0;
}

int sio__redis_client_subscribe(sio__redis_client *rc, const char *channel,
                                sio__redis_client_sub_cb done, void *data) {
  return add_sub(rc, channel, 0, done, data);
}

int sio__redis_client_psubscribe(sio__redis_client *rc, const char *pattern,
                                 sio__redis_client_sub_cb done, void *data) {
  return add_sub(rc, pattern, 1, done, data);
}

int sio__redis_client_publish(sio__redis_client *rc, const char *channel, const void *payload,
                              size_t len) {
  int err;
  if (!channel || (!payload && len)) return UV_EINVAL;
  if (rc->closing) {
    err = UV_ECANCELED;
  } else if (rc->cmd.state != LINK_UP ||
             redisAsyncCommand(rc->cmd.ac, on_publish_reply, rc, "PUBLISH %s %b", channel,
                               payload ? payload : "", len) != REDIS_OK) {
    /* REDIS_ERR from a live link: it is going down (or out of memory). */
    err = UV_ENOTCONN;
  } else {
    rc->stats.publish_ok++;
    return 0;
  }
  rc->stats.publish_failed++;
  warn_publish(rc, err == UV_ECANCELED ? "PUBLISH refused: the client is closing"
                                       : "PUBLISH refused: the command link is down");
  return err;
}

int sio__redis_client_numsub(sio__redis_client *rc, const char *channel,
                             sio__redis_client_numsub_cb cb, void *data) {
  if (!channel || !cb) return UV_EINVAL;
  if (rc->closing) return UV_ECANCELED;
  if (rc->cmd.state != LINK_UP) return UV_ENOTCONN;
  numsub_req *req = malloc(sizeof *req);
  if (!req) return UV_ENOMEM;
  req->rc = rc;
  req->cb = cb;
  req->data = data;
  if (redisAsyncCommand(rc->cmd.ac, on_numsub_reply, req, "PUBSUB NUMSUB %s", channel) !=
      REDIS_OK) {
    free(req);
    return UV_ENOTCONN;
  }
  return 0;
}

int sio__redis_client_up(const sio__redis_client *rc) { return rc->up; }

const sio__redis_client_stats *sio__redis_client_stats_get(const sio__redis_client *rc) {
  return &rc->stats;
}

/* ---- close ------------------------------------------------------------------- */

static void handle_released(sio__redis_client *rc) {
  if (--rc->open_handles > 0) return;
  if (rc->on_closed) rc->on_closed(rc, rc->closed_data);
  free(rc);
}

static void on_link_timer_closed(uv_handle_t *h) { handle_released(((rlink *)h->data)->rc); }
static void on_close_timer_closed(uv_handle_t *h) { handle_released(h->data); }

/* Frees once nothing refers to rc any more: both contexts gone (their
 * callbacks carry rc), their poll handles closed, no getaddrinfo in flight. */
static void maybe_finish(sio__redis_client *rc) {
  if (!rc->torn_down || rc->finishing) return;
  if (rc->cmd.ac || rc->sub.ac || rc->polls || rc->cmd.resolving || rc->sub.resolving) return;
  rc->finishing = 1;
  rc->open_handles = 3;
  uv_close((uv_handle_t *)&rc->cmd.timer, on_link_timer_closed);
  uv_close((uv_handle_t *)&rc->sub.timer, on_link_timer_closed);
  uv_close((uv_handle_t *)&rc->close_timer, on_close_timer_closed);
}

static void free_link_ctx(rlink *l) {
  redisAsyncContext *ac = l->ac;
  if (!ac) return;
  l->ac = NULL; /* before: onDisconnect and the NULL replies must see it gone */
  redisAsyncFree(ac);
}

static void on_flush_timeout(uv_timer_t *t) {
  sio__redis_client *rc = t->data;
  if (rc->cmd.ac)
    SIO_LOGW("redis: close: Redis did not acknowledge queued commands within %d ms",
             CLOSE_FLUSH_MS);
  free_link_ctx(&rc->cmd);
  maybe_finish(rc);
}

/* Runs from its own timer: never inside a hiredis callback, so freeing a
 * context here is synchronous and safe. */
static void on_teardown(uv_timer_t *t) {
  sio__redis_client *rc = t->data;
  rc->torn_down = 1;
  uv_timer_stop(&rc->cmd.timer);
  uv_timer_stop(&rc->sub.timer);
  free_link_ctx(&rc->sub);
  if (rc->cmd.ac && rc->cmd.state == LINK_UP && rc->cmd.ac->replies.head) {
    /* PUBLISHes are queued: let them go out and be acknowledged. hiredis
     * frees the context (onDisconnect) after the last reply. */
    uv_timer_start(&rc->close_timer, on_flush_timeout, CLOSE_FLUSH_MS, 0);
    redisAsyncDisconnect(rc->cmd.ac);
  } else {
    free_link_ctx(&rc->cmd);
  }
  while (rc->subs) {
    sub *s = rc->subs;
    rc->subs = s->next;
    if (s->done) s->done(rc, UV_ECANCELED, s->done_data);
    free(s);
  }
  maybe_finish(rc);
}

void sio__redis_client_close(sio__redis_client *rc,
                             void (*on_closed)(sio__redis_client *rc, void *data), void *data) {
  if (!rc || rc->closing) return;
  rc->closing = 1;
  rc->on_closed = on_closed;
  rc->closed_data = data;
  uv_timer_stop(&rc->cmd.timer);
  uv_timer_stop(&rc->sub.timer);
  if (rc->cmd.resolving) uv_cancel((uv_req_t *)&rc->cmd.gai);
  if (rc->sub.resolving) uv_cancel((uv_req_t *)&rc->sub.gai);
  uv_timer_start(&rc->close_timer, on_teardown, 0, 0);
}
