#include "http/http_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/log.h"

/* While an answer is owed, later pipelined bytes are kept unparsed; past
 * this many the connection stops reading until the answer is written. */
#define SIO__HTTP_MAX_KEPT (256 * 1024)

static size_t http_on_data(sio__conn *c, char *data, size_t len);
static void http_on_eof(sio__conn *c, int status);
static void http_on_close(sio__conn *c);

static const sio__conn_proto http_proto = {http_on_data, http_on_eof, http_on_close,
                                           sio__http_conn_release};

/* A refused connection has no HTTP state: input is drained by the linger. */
static size_t refused_on_data(sio__conn *c, char *data, size_t len) { return len; }
static void refused_on_eof(sio__conn *c, int status) { sio__conn_close(c); }
static void refused_on_close(sio__conn *c) {}
static const sio__conn_proto refused_proto = {refused_on_data, refused_on_eof, refused_on_close, NULL};

static sio__http_server *server_of(sio__conn *c) {
  return sio__container_of(c->net, sio__http_server, net);
}

/* ---- responses ---------------------------------------------------------- */

static sio__rbuf *http_head(int status, const char *headers, size_t body_len, int keep_alive,
                            size_t body_room, size_t *head_len) {
  size_t hl = headers ? strlen(headers) : 0;
  sio__rbuf *rb = sio__rbuf_new(128 + hl + body_room);
  if (!rb) return NULL;
  int n = snprintf(rb->data, 128, "HTTP/1.1 %d %s\r\n", status, sio__http_status_text(status));
  if (hl) memcpy(rb->data + n, headers, hl);
  n += (int)hl;
  /* A 304 carries no body and must not claim a length other than the
   * resource's: say nothing. */
  if (status != 304) n += snprintf(rb->data + n, 48, "Content-Length: %zu\r\n", body_len);
  n += snprintf(rb->data + n, 48, "Connection: %s\r\n\r\n", keep_alive ? "keep-alive" : "close");
  rb->len = (uint32_t)n;
  *head_len = (size_t)n;
  return rb;
}

/* The answer is queued: close, or get ready for the next request. */
static void http_finish(sio__conn *c) {
  sio__http_conn *hc = sio__http_conn_of(c);
  if (!hc) return;
  hc->owner = NULL;
  if (!hc->keep_alive) {
    if (hc->linger) sio__conn_close_linger(c);
    else sio__conn_close_after_write(c);
    return;
  }
  if (hc->pending) {
    hc->pending = 0;
    sio__conn_resume_read(c);
  }
  if (!c->leftover && sio__http_parser_idle(&hc->parser))
    sio__tq_arm(&server_of(c)->keepalive_tq, &c->timer);
}

void sio__http_respond(sio__conn *c, int status, const char *headers, const void *body, size_t len) {
  sio__http_conn *hc = sio__http_conn_of(c);
  if (sio__conn_closing(c)) return;
  sio__http_server *s = server_of(c);
  sio__http_count_status(s, status);
  if (hc && s->draining) hc->keep_alive = 0;
  size_t hl;
  int ka = hc ? hc->keep_alive : 0;
  sio__rbuf *rb = http_head(status, headers, len, ka, len, &hl);
  if (!rb) {
    sio__conn_close(c);
    return;
  }
  /* HEAD: the length of what a GET would get, and no body. */
  if (status == 304 || (hc && hc->head)) len = 0;
  if (len) memcpy(rb->data + hl, body, len);
  rb->len = (uint32_t)(hl + len);
  sio__conn_write(c, rb, 0, rb->len);
  sio__rbuf_unref(rb);
  if (hc) http_finish(c);
  else sio__conn_close_after_write(c);
}

void sio__http_respond_segs(sio__conn *c, int status, const char *headers, const sio__wseg *segs,
                            size_t nsegs) {
  sio__http_conn *hc = sio__http_conn_of(c);
  if (sio__conn_closing(c)) return;
  size_t total = 0, hl;
  sio__http_count_status(server_of(c), status);
  if (hc && server_of(c)->draining) hc->keep_alive = 0;
  for (size_t i = 0; i < nsegs; i++) total += segs[i].len;
  sio__rbuf *rb = http_head(status, headers, total, hc ? hc->keep_alive : 0, 0, &hl);
  if (!rb) {
    sio__conn_close(c);
    return;
  }
  sio__conn_write(c, rb, 0, hl);
  sio__rbuf_unref(rb);
  for (size_t i = 0; i < nsegs; i++) sio__conn_write(c, segs[i].rb, segs[i].off, segs[i].len);
  if (hc) http_finish(c);
  else sio__conn_close_after_write(c);
}

/* An error answer that ends the connection (malformed or oversized input). */
static void http_fail(sio__conn *c, int status) {
  sio__http_conn *hc = sio__http_conn_of(c);
  if (hc) {
    hc->keep_alive = 0;
    /* A client still sending (the rest of an oversized body) would get a
     * reset before reading our answer if we closed at once: linger. */
    hc->linger = 1;
    if (hc->owner) {
      /* The application was waiting on this request (a POST body): it fails. */
      sio__http_server *s = server_of(c);
      void *owner = hc->owner;
      hc->owner = NULL;
      if (s->on_abort) s->on_abort(s, c, owner);
    }
  }
  char peer[64];
  sio__conn_peer(c, peer, sizeof peer);
  SIO_LOGI("http: %d %s to %s", status, sio__http_status_text(status), peer);
  sio__http_respond(c, status, NULL, NULL, 0); /* then a lingering close (http_finish) */
}

/* ---- parser callbacks ----------------------------------------------------- */

static int http_cb_headers(void *ud, sio__http_req *req) {
  sio__conn *c = ud;
  sio__http_server *s = server_of(c);
  /* The header deadline ends here; the body's starts (a request without
   * a body completes right after this callback, which cancels it). */
  sio__tq_arm(&s->body_tq, &c->timer);
  sio__http_conn_of(c)->parser.max_body = s->max_body;
  if (s->on_headers) s->on_headers(s, c, req);
  return 0;
}

static int http_cb_body(void *ud, sio__http_req *req, const char *data, size_t len) {
  sio__conn *c = ud;
  sio__http_conn *hc = sio__http_conn_of(c);
  if (hc->body_len + len > hc->body_cap) {
    size_t ncap = hc->body_cap ? hc->body_cap : 1024;
    while (ncap < hc->body_len + len) ncap *= 2;
    char *n = realloc(hc->body, ncap);
    if (!n) return SIO__HTTP_CB_ERROR;
    hc->body = n;
    hc->body_cap = ncap;
  }
  memcpy(hc->body + hc->body_len, data, len);
  hc->body_len += len;
  return 0;
}

static int http_cb_complete(void *ud, sio__http_req *req) {
  sio__conn *c = ud;
  sio__http_server *s = server_of(c);
  sio__http_conn *hc = sio__http_conn_of(c);
  sio__tq_cancel(&c->timer);
  s->stats.requests++;
  if (req->upgrade) return 0; /* the feed returns SIO__HTTP_UPGRADE */
  hc->keep_alive = req->keep_alive;
  hc->head = req->method == HTTP_HEAD;
  hc->pending = 1; /* until answered; http_finish clears it */
  int r = s->on_request(s, c, req, hc->body, hc->body_len);
  free(hc->body);
  hc->body = NULL;
  hc->body_len = hc->body_cap = 0;
  if (sio__conn_closing(c)) return SIO__HTTP_CB_PAUSE;
  if (r == SIO__HTTP_ASYNC && hc->pending) return SIO__HTTP_CB_PAUSE;
  hc->pending = 0;
  return 0;
}

static const sio__http_parser_cbs http_cbs = {http_cb_headers, http_cb_body, http_cb_complete};

/* ---- connection protocol ------------------------------------------------- */

static size_t http_on_data(sio__conn *c, char *data, size_t len) {
  sio__http_conn *hc = sio__http_conn_of(c);
  sio__http_server *s = server_of(c);
  if (c->flags & SIO__CONN_LINGER) return len; /* answered and closing: the rest is discarded */
  if (hc->pending) {
    /* Keep reading (to notice the peer leaving) but parse nothing until the
     * owed answer is written: responses must leave in request order. */
    if (len > SIO__HTTP_MAX_KEPT) sio__conn_pause_read(c);
    return 0;
  }
  if (sio__http_parser_idle(&hc->parser)) sio__tq_arm(&s->header_tq, &c->timer);
  size_t used = 0;
  int r = sio__http_parser_feed(&hc->parser, data, len, &used);
  if (sio__conn_closing(c)) return len;
  switch (r) {
  case SIO__HTTP_OK:
    if (sio__http_parser_idle(&hc->parser)) {
      sio__http_parser_release(&hc->parser);
      if (!hc->pending) sio__tq_arm(&s->keepalive_tq, &c->timer);
    }
    return len;
  case SIO__HTTP_PAUSED:
    sio__http_parser_resume(&hc->parser);
    return used;
  case SIO__HTTP_UPGRADE: {
    sio__tq_cancel(&c->timer);
    s->on_upgrade(s, c, &hc->parser.req, data + used, len - used);
    /* The upgrade handler consumed the rest (or closed the connection). */
    return len;
  }
  case SIO__HTTP_ERR_HEADERS_TOO_LARGE:
    http_fail(c, 431);
    return len;
  case SIO__HTTP_ERR_BODY_TOO_LARGE:
    http_fail(c, 413);
    return len;
  default:
    http_fail(c, 400);
    return len;
  }
}

static void http_on_eof(sio__conn *c, int status) {
  /* The peer left (or the socket failed): nothing more can be answered. */
  sio__conn_close(c);
}

static void http_on_close(sio__conn *c) {
  sio__http_conn *hc = sio__http_conn_of(c);
  if (!hc) return;
  sio__http_server *s = server_of(c);
  if (hc->owner && s->on_abort) {
    void *owner = hc->owner;
    hc->owner = NULL;
    s->on_abort(s, c, owner);
  }
}

void sio__http_conn_release(sio__conn *c) {
  sio__http_conn *hc = sio__http_conn_of(c);
  if (!hc) return;
  sio__http_parser_free(&hc->parser);
  free(hc->body);
  free(hc);
  c->proto_data = NULL;
}

/* Over the connection cap: a fixed 503 and a polite close. The client may
 * be sending its request; lingering lets it read the answer, not a reset. */
static void http_refuse_busy(sio__conn *c) {
  static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                             "Content-Length: 19\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                             "Service Unavailable";
  static uint64_t last_log, refused;
  refused++;
  sio__http_count_status(server_of(c), 503);
  uint64_t now = uv_now(c->net->loop);
  if (!last_log || now - last_log >= 1000) {
    SIO_LOGW("http: %zu connections open (the maximum): refusing new ones with 503 (%llu so far)",
             c->net->nconns - 1, (unsigned long long)refused);
    last_log = now;
  }
  sio__conn_write_copy(c, resp, sizeof resp - 1);
  sio__conn_close_linger(c);
}

static void http_on_accept(sio__net *net, sio__conn *c) {
  sio__http_server *s = sio__container_of(net, sio__http_server, net);
  if (s->max_conns && net->nconns > s->max_conns) {
    c->proto = &refused_proto;
    http_refuse_busy(c);
    return;
  }
  sio__http_conn *hc = calloc(1, sizeof *hc);
  if (!hc) {
    sio__conn_close(c);
    return;
  }
  sio__http_parser_init(&hc->parser, &http_cbs, c);
  hc->parser.max_header_bytes = s->max_header_bytes;
  hc->parser.max_body = s->max_body;
  c->proto = &http_proto;
  c->proto_data = hc;
  sio__tq_arm(&s->header_tq, &c->timer);
}

/* ---- timeouts ---------------------------------------------------------- */

static void http_header_timeout(sio__tq *q, sio__tq_node *n) {
  sio__conn *c = sio__container_of(n, sio__conn, timer);
  char peer[64];
  sio__conn_peer(c, peer, sizeof peer);
  SIO_LOGI("http: closing connection from %s: request headers not received in time", peer);
  if (sio__http_conn_of(c)) sio__http_conn_of(c)->keep_alive = 0;
  sio__http_respond(c, 408, NULL, NULL, 0);
}

static void http_body_timeout(sio__tq *q, sio__tq_node *n) {
  /* http_fail logs the 408 with the peer. */
  http_fail(sio__container_of(n, sio__conn, timer), 408);
}

static void http_keepalive_timeout(sio__tq *q, sio__tq_node *n) {
  sio__conn_close(sio__container_of(n, sio__conn, timer));
}

void sio__http_server_drain(sio__http_server *s) {
  s->draining = 1;
  sio__conn *next;
  for (sio__conn *c = s->net.conns; c; c = next) {
    next = c->next;
    sio__http_conn *hc = c->proto == &http_proto ? sio__http_conn_of(c) : NULL;
    /* Idle: between requests, nothing owed, nothing half-read. A request
     * already on its way may meet the close; clients retry those. */
    if (!hc || hc->pending || hc->owner || c->leftover || sio__conn_closing(c) ||
        !sio__http_parser_idle(&hc->parser))
      continue;
    sio__conn_close(c);
  }
}

int sio__http_server_init(sio__http_server *s, uv_loop_t *loop, uint32_t header_timeout_ms,
                          uint32_t body_timeout_ms, uint32_t keepalive_timeout_ms) {
  int r = sio__net_init(&s->net, loop);
  if (r) return r;
  s->net.on_accept = http_on_accept;
  if (!s->max_header_bytes) s->max_header_bytes = 16384;
  if (!s->max_body) s->max_body = 1000000;
  sio__tq_init(loop, &s->header_tq, header_timeout_ms, http_header_timeout, s);
  sio__tq_init(loop, &s->body_tq, body_timeout_ms, http_body_timeout, s);
  sio__tq_init(loop, &s->keepalive_tq, keepalive_timeout_ms, http_keepalive_timeout, s);
  return 0;
}
