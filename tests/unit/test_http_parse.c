/* Unit tests for lib/src/http/http_parse.c (HTTP/1.1 request parsing glue).
 *
 * The core property: however the input is split into reads, and whether or
 * not on_complete pauses, the sequence of events (method, url, headers, body,
 * complete) is the same as for one-shot parsing, and the pause/upgrade
 * positions land exactly on request boundaries. The driver copies every read
 * into a scratch buffer and clobbers it after feed, as the server's shared
 * read buffer would be, so any pointer kept into the input shows up. */
#include "http/http_parse.h"

#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* ---- event recorder ---- */

typedef struct rec {
  sio__http_parser *p;
  char log[16384];
  size_t n;
  char body[8192];
  size_t blen;
  int ncomplete;
  int pause;              /* on_complete returns SIO__HTTP_CB_PAUSE */
  int headers_rc;         /* on_headers return value */
  size_t set_max_body;    /* nonzero: on_headers sets p->max_body to it */
  size_t max_body_at_complete;
  char last_url[256];
} rec;

static void logf_(rec *r, const char *s, size_t n) {
  if (r->n + n < sizeof r->log) {
    memcpy(r->log + r->n, s, n);
    r->n += n;
    r->log[r->n] = 0;
  }
}
static void logs(rec *r, const char *s) { logf_(r, s, strlen(s)); }

static int cb_headers(void *ud, sio__http_req *q) {
  rec *r = ud;
  char tmp[128];
  size_t ulen;
  const char *url = sio__http_req_url(q, &ulen);
  snprintf(tmp, sizeof tmp, "H %d %d.%d ka=%d up=%d cl=%llu ", q->method, q->http_major, q->http_minor,
           q->keep_alive, q->upgrade, (unsigned long long)q->content_length);
  logs(r, tmp);
  logf_(r, url, ulen);
  logs(r, "\n");
  for (uint32_t i = 0; i < q->nheaders; i++) {
    const sio__http_header *h = &q->headers[i];
    logf_(r, q->arena + h->name_off, h->name_len);
    logs(r, ": ");
    logf_(r, q->arena + h->value_off, h->value_len);
    logs(r, "\n");
  }
  r->blen = 0;
  if (r->set_max_body) r->p->max_body = r->set_max_body;
  return r->headers_rc;
}

static int cb_body(void *ud, sio__http_req *q, const char *data, size_t len) {
  rec *r = ud;
  (void)q;
  if (r->blen + len <= sizeof r->body) memcpy(r->body + r->blen, data, len);
  r->blen += len;
  return 0;
}

static int cb_complete(void *ud, sio__http_req *q) {
  rec *r = ud;
  char tmp[64];
  snprintf(tmp, sizeof tmp, "B %zu:", r->blen);
  logs(r, tmp);
  logf_(r, r->body, r->blen < sizeof r->body ? r->blen : sizeof r->body);
  logs(r, "\nC\n");
  r->ncomplete++;
  r->max_body_at_complete = r->p->max_body;
  size_t ulen;
  const char *u = sio__http_req_url(q, &ulen);
  snprintf(r->last_url, sizeof r->last_url, "%.*s", (int)ulen, u);
  return r->pause ? SIO__HTTP_CB_PAUSE : 0;
}

static const sio__http_parser_cbs cbs = {cb_headers, cb_body, cb_complete};

static void setup(sio__http_parser *p, rec *r) {
  memset(r, 0, sizeof *r);
  r->p = p;
  sio__http_parser_init(p, &cbs, r);
}

static int feed_str(sio__http_parser *p, const char *s, size_t *consumed) {
  return sio__http_parser_feed(p, s, strlen(s), consumed);
}

/* ---- split driver ---- */

typedef struct drive_out {
  int rc;
  size_t pause_at[8], npause; /* absolute offsets where PAUSED stopped */
  size_t upgrade_at;          /* absolute offset of SIO__HTTP_UPGRADE, or (size_t)-1 */
} drive_out;

/* Feeds buf as the reads [0,cuts[0]), [cuts[0],cuts[1]), ..., [last,n).
 * On PAUSED the driver keeps the leftover like the server does; `late`
 * chooses whether it answers (resumes) at once or only when the next read
 * arrives, so leftovers get fed alone and also concatenated with new data. */
static drive_out drive(sio__http_parser *p, const char *buf, size_t n, const size_t *cuts,
                       size_t ncuts, int late) {
  drive_out o = {0, {0}, 0, (size_t)-1};
  static char pend[4096], scratch[4096];
  size_t plen = 0, base = 0; /* base: absolute offset of pend[0] */
  int paused = 0;
  for (size_t k = 0; k <= ncuts; k++) {
    size_t from = k ? cuts[k - 1] : 0, to = k < ncuts ? cuts[k] : n;
    memcpy(pend + plen, buf + from, to - from);
    plen += to - from;
    for (;;) {
      if (paused) {
        sio__http_parser_resume(p);
        paused = 0;
      }
      size_t c = 0;
      memcpy(scratch, pend, plen);
      int rc = sio__http_parser_feed(p, scratch, plen, &c);
      memset(scratch, 0xAA, sizeof scratch);
      if (c > plen) { o.rc = -100; return o; }
      if (rc == SIO__HTTP_PAUSED) {
        if (o.npause < 8) o.pause_at[o.npause++] = base + c;
        memmove(pend, pend + c, plen - c);
        plen -= c;
        base += c;
        paused = 1;
        if (late) break;
        continue;
      }
      if (rc == SIO__HTTP_OK) {
        base += plen;
        plen = 0;
        break;
      }
      o.rc = rc;
      if (rc == SIO__HTTP_UPGRADE) o.upgrade_at = base + c;
      return o;
    }
  }
  while (paused) { /* answer the last held requests and drain */
    sio__http_parser_resume(p);
    paused = 0;
    size_t c = 0;
    memcpy(scratch, pend, plen);
    int rc = sio__http_parser_feed(p, scratch, plen, &c);
    if (rc == SIO__HTTP_PAUSED) {
      if (o.npause < 8) o.pause_at[o.npause++] = base + c;
      memmove(pend, pend + c, plen - c);
      plen -= c;
      base += c;
      paused = 1;
    } else if (rc != SIO__HTTP_OK) {
      o.rc = rc;
      if (rc == SIO__HTTP_UPGRADE) o.upgrade_at = base + c;
      return o;
    }
  }
  return o;
}

/* ---- the three pipelined requests ---- */

#define R1 "GET /eio/?EIO=4&transport=polling&t=abc HTTP/1.1\r\nHost: x\r\nX-Multi: a\r\n" \
           "x-multi: b\r\nAccept:  */*  \r\nX-Empty:\r\n\r\n"
#define R2 "POST /eio/?EIO=4&sid=S HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n" \
           "Content-Type: text/plain\r\n\r\nhello world"
#define R3 "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" \
           "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: t\r\n\r\n"

static const char expect3[] =
    "H 1 1.1 ka=1 up=0 cl=0 /eio/?EIO=4&transport=polling&t=abc\n"
    "Host: x\nX-Multi: a\nx-multi: b\nAccept: */*\nX-Empty: \n"
    "B 0:\nC\n"
    "H 3 1.1 ka=1 up=0 cl=11 /eio/?EIO=4&sid=S\n"
    "Host: x\nContent-Length: 11\nContent-Type: text/plain\n"
    "B 11:hello world\nC\n"
    "H 3 1.1 ka=1 up=0 cl=0 /c\n"
    "Host: x\nTransfer-Encoding: chunked\n"
    "B 12:hello world!\nC\n";

static void test_splits(void) {
  static const char buf[] = R1 R2 R3;
  const size_t n = sizeof buf - 1;
  const size_t ends[3] = {sizeof R1 - 1, sizeof R1 + sizeof R2 - 2, n};
  sio__http_parser p;
  rec r;

  setup(&p, &r);
  drive_out o = drive(&p, buf, n, NULL, 0, 0);
  is_int(o.rc, SIO__HTTP_OK, "3 pipelined one-shot: OK");
  is_str(r.log, expect3, "3 pipelined one-shot: events");
  ok(sio__http_parser_idle(&p), "idle after the third request");
  sio__http_parser_free(&p);

  for (int pause = 0; pause <= 1; pause++) {
    for (int late = 0; late <= pause; late++) {
      int bad = 0;
      size_t bad_at = 0;
      for (size_t cut = 0; cut <= n && !bad; cut++) {
        setup(&p, &r);
        r.pause = pause;
        o = drive(&p, buf, n, &cut, 1, late);
        int good = o.rc == SIO__HTTP_OK && strcmp(r.log, expect3) == 0;
        if (pause) good = good && o.npause == 3 && o.pause_at[0] == ends[0] &&
                          o.pause_at[1] == ends[1] && o.pause_at[2] == ends[2];
        if (!good) bad = 1, bad_at = cut;
        sio__http_parser_free(&p);
      }
      ok(!bad, "two pieces at every split (pause=%d late=%d)%s", pause, late, bad ? " FAILED" : "");
      if (bad) printf("#   first failing cut %zu\n", bad_at);

      /* Three pieces at every pair of cut points. */
      bad = 0;
      for (size_t a = 0; a <= n && !bad; a += 1) {
        for (size_t b = a; b <= n && !bad; b += 3) {
          size_t cuts[2] = {a, b};
          setup(&p, &r);
          r.pause = pause;
          o = drive(&p, buf, n, cuts, 2, late);
          int good = o.rc == SIO__HTTP_OK && strcmp(r.log, expect3) == 0;
          if (pause) good = good && o.npause == 3 && o.pause_at[2] == ends[2];
          if (!good) bad = 1, bad_at = a * 10000 + b;
          sio__http_parser_free(&p);
        }
      }
      ok(!bad, "three pieces at cut pairs (pause=%d late=%d)", pause, late);
      if (bad) printf("#   first failing cuts %zu,%zu\n", bad_at / 10000, bad_at % 10000);

      size_t cuts[sizeof buf];
      for (size_t i = 0; i < n - 1; i++) cuts[i] = i + 1;
      setup(&p, &r);
      r.pause = pause;
      o = drive(&p, buf, n, cuts, n - 1, late);
      is_int(o.rc, SIO__HTTP_OK, "one byte at a time (pause=%d late=%d): OK", pause, late);
      is_str(r.log, expect3, "one byte at a time (pause=%d late=%d): events", pause, late);
      if (pause) {
        is_int(o.npause, 3, "one byte at a time: 3 pauses");
        is_int(o.pause_at[0], ends[0], "pause 1 at end of R1");
        is_int(o.pause_at[1], ends[1], "pause 2 at end of R2");
        is_int(o.pause_at[2], ends[2], "pause 3 at end of R3");
      }
      sio__http_parser_free(&p);
    }
  }
}

/* ---- simple requests ---- */

static void test_get(void) {
  sio__http_parser p;
  rec r;
  setup(&p, &r);
  r.pause = 1;
  size_t c;
  const char *req = "GET /socket.io/?EIO=4&transport=polling&t=N8h HTTP/1.1\r\n"
                    "Host: localhost:3000\r\nX-Dup: first\r\nCONNECTION: keep-alive\r\nx-dup:  second \r\n"
                    "X-Fold: a\r\n  b\r\nX-Empty:\r\n\r\n";
  is_int(feed_str(&p, req, &c), SIO__HTTP_PAUSED, "GET: paused on complete");
  is_int(c, strlen(req), "GET: consumed everything");
  sio__http_req *q = &p.req;
  is_int(q->method, HTTP_GET, "method GET");
  is_int(q->http_major, 1, "major");
  is_int(q->http_minor, 1, "minor");
  is_int(q->keep_alive, 1, "keep-alive");
  is_int(q->upgrade, 0, "no upgrade");
  size_t len;
  const char *u = sio__http_req_url(q, &len);
  is_mem(u, len, "/socket.io/?EIO=4&transport=polling&t=N8h", 41, "url");
  is_int(u[len], 0, "url NUL-terminated");
  const char *path, *query;
  size_t plen, qlen;
  sio__http_req_path_query(q, &path, &plen, &query, &qlen);
  is_mem(path, plen, "/socket.io/", 11, "path");
  is_mem(query, qlen, "EIO=4&transport=polling&t=N8h", 29, "query");
  const char *v = sio__http_req_header(q, "host", &len);
  is_str(v, "localhost:3000", "host (lowercase lookup)");
  is_int(len, 14, "host len");
  is_str(sio__http_req_header(q, "X-DUP", NULL), "second", "last wins, trimmed");
  is_str(sio__http_req_header(q, "connection", NULL), "keep-alive", "mixed-case name");
  /* obs-fold: the CRLF goes, the folding whitespace stays (RFC 9112 5.2 allows
     replacing the fold by SP; keeping it is equivalent to that up to OWS). */
  is_str(sio__http_req_header(q, "x-fold", NULL), "a  b", "obs-fold joined");
  v = sio__http_req_header(q, "x-empty", &len);
  ok(v && len == 0 && *v == 0, "empty value present as \"\"");
  ok(sio__http_req_header(q, "x-missing", NULL) == NULL, "missing header -> NULL");
  ok(sio__http_req_header(q, "x-du", NULL) == NULL, "prefix is not a match");
  ok(sio__http_req_header(q, "x-dupe", NULL) == NULL, "longer name is not a match");
  is_int(q->nheaders, 6, "6 headers");
  /* Still valid while paused and after a feed that is refused. */
  is_int(feed_str(&p, "GET / HTTP/1.1\r\n\r\n", &c), SIO__HTTP_PAUSED, "feed while paused -> PAUSED");
  is_int(c, 0, "feed while paused consumes nothing");
  is_str(sio__http_req_header(q, "host", NULL), "localhost:3000", "req intact while paused");
  sio__http_parser_resume(&p);
  is_int(feed_str(&p, "GET /b HTTP/1.0\r\n\r\n", &c), SIO__HTTP_PAUSED, "next request after resume");
  is_str(r.last_url, "/b", "second url");
  is_int(p.req.keep_alive, 0, "HTTP/1.0 -> no keep-alive");
  is_int(p.req.http_minor, 0, "HTTP/1.0 minor");
  ok(sio__http_req_header(q, "host", NULL) == NULL, "headers reset per request");
  sio__http_parser_free(&p);

  setup(&p, &r);
  r.pause = 1;
  feed_str(&p, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &c);
  is_int(p.req.keep_alive, 1, "HTTP/1.0 + Connection: keep-alive");
  sio__http_parser_free(&p);
  setup(&p, &r);
  r.pause = 1;
  feed_str(&p, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &c);
  is_int(p.req.keep_alive, 0, "HTTP/1.1 + Connection: close");
  sio__http_parser_free(&p);
}

static void test_bodies(void) {
  sio__http_parser p;
  rec r;
  size_t c;
  setup(&p, &r);
  const char *post = "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nab";
  is_int(feed_str(&p, post, &c), SIO__HTTP_OK, "POST partial body");
  is_int(c, strlen(post), "partial consumed");
  ok(!sio__http_parser_idle(&p), "not idle mid-body");
  is_int(feed_str(&p, "cde", &c), SIO__HTTP_OK, "rest of body");
  is_str(r.log, "H 3 1.1 ka=1 up=0 cl=5 /x\nContent-Length: 5\nB 5:abcde\nC\n", "POST events");
  ok(sio__http_parser_idle(&p), "idle after body");
  sio__http_parser_free(&p);

  setup(&p, &r);
  const char *ch = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\nA\r\n0123456789\r\n0\r\n\r\n";
  is_int(feed_str(&p, ch, &c), SIO__HTTP_OK, "chunked POST");
  is_str(r.log, "H 3 1.1 ka=1 up=0 cl=0 /c\nTransfer-Encoding: chunked\nB 14:Wiki0123456789\nC\n",
         "chunked decoded");
  sio__http_parser_free(&p);

  /* Trailers: counted, not stored. */
  setup(&p, &r);
  r.pause = 1;
  ch = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Trailer: t\r\n\r\n";
  is_int(feed_str(&p, ch, &c), SIO__HTTP_PAUSED, "chunked with trailer");
  is_int(c, strlen(ch), "consumed through final CRLF");
  ok(sio__http_req_header(&p.req, "x-trailer", NULL) == NULL, "trailer not stored as header");
  is_int(p.req.nheaders, 1, "one header");
  sio__http_parser_free(&p);

  /* Smuggling-shaped input stays an error (no lenient flags). */
  setup(&p, &r);
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &c),
         SIO__HTTP_ERR_BAD, "CL + TE -> ERR_BAD");
  sio__http_parser_free(&p);
  setup(&p, &r);
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &c), SIO__HTTP_ERR_BAD,
         "chunked not last -> ERR_BAD");
  sio__http_parser_free(&p);
}

static void test_pipelined(void) {
  sio__http_parser p;
  rec r;
  size_t c;
  static const char two[] = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
  static const char three[] = "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\n\r\n";
  setup(&p, &r);
  is_int(feed_str(&p, two, &c), SIO__HTTP_OK, "two pipelined: OK");
  is_int(c, sizeof two - 1, "two pipelined: all consumed");
  is_int(r.ncomplete, 2, "two pipelined: both delivered");
  is_str(r.log, "H 1 1.1 ka=1 up=0 cl=0 /1\nHost: a\nB 0:\nC\nH 1 1.1 ka=1 up=0 cl=0 /2\nHost: b\nB 0:\nC\n",
         "two pipelined: events");
  sio__http_parser_free(&p);

  setup(&p, &r);
  is_int(feed_str(&p, three, &c), SIO__HTTP_OK, "three pipelined: OK");
  is_int(r.ncomplete, 3, "three pipelined: all delivered");
  is_str(r.last_url, "/3", "three pipelined: last url");
  sio__http_parser_free(&p);

  setup(&p, &r);
  r.pause = 1;
  size_t first = strlen("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
  is_int(feed_str(&p, two, &c), SIO__HTTP_PAUSED, "two pipelined + pause: PAUSED");
  is_int(c, first, "consumed points at the second request");
  is_int(r.ncomplete, 1, "only the first delivered");
  is_str(r.last_url, "/1", "first url");
  ok(sio__http_parser_idle(&p), "idle while paused between requests");
  sio__http_parser_resume(&p);
  is_int(sio__http_parser_feed(&p, two + c, sizeof two - 1 - c, &c), SIO__HTTP_PAUSED, "resume + rest: PAUSED");
  is_int(c, sizeof two - 1 - first, "second consumed exactly");
  is_int(r.ncomplete, 2, "second delivered");
  is_str(r.last_url, "/2", "second url");
  sio__http_parser_resume(&p);
  is_int(sio__http_parser_feed(&p, NULL, 0, &c), SIO__HTTP_OK, "empty feed after resume: OK");
  is_int(c, 0, "nothing consumed");
  sio__http_parser_free(&p);

  /* After Connection: close, llhttp (loose mode) swallows whatever follows:
     the caller answers and closes; nothing more is delivered. */
  setup(&p, &r);
  r.pause = 1;
  static const char cl[] = "GET /1 HTTP/1.1\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
  is_int(feed_str(&p, cl, &c), SIO__HTTP_PAUSED, "close: paused on first");
  is_int(p.req.keep_alive, 0, "close: keep_alive 0");
  size_t f1 = c;
  sio__http_parser_resume(&p);
  is_int(sio__http_parser_feed(&p, cl + f1, sizeof cl - 1 - f1, &c), SIO__HTTP_OK, "close: rest swallowed");
  is_int(c, sizeof cl - 1 - f1, "close: all consumed");
  is_int(r.ncomplete, 1, "close: second request not delivered");
  sio__http_parser_free(&p);

  /* Stray CRLF between requests (old clients add one after a POST body). */
  setup(&p, &r);
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\n", &c), SIO__HTTP_OK, "stray CRLF: OK");
  ok(sio__http_parser_idle(&p), "stray CRLF: still idle");
  is_int(feed_str(&p, "GET /n HTTP/1.1\r\n\r\n", &c), SIO__HTTP_OK, "stray CRLF: next request");
  is_int(r.ncomplete, 2, "stray CRLF: both delivered");
  sio__http_parser_free(&p);

  /* Pause on the second of three, then continue. */
  setup(&p, &r);
  r.pause = 1;
  size_t off = 0;
  int k = 0;
  for (; k < 5 && off < sizeof three - 1; k++) {
    int rc = sio__http_parser_feed(&p, three + off, sizeof three - 1 - off, &c);
    if (rc != SIO__HTTP_PAUSED) break;
    off += c;
    sio__http_parser_resume(&p);
  }
  is_int(off, sizeof three - 1, "three pipelined + pause: consumed in 3 steps");
  is_int(k, 3, "three pauses");
  is_int(r.ncomplete, 3, "three delivered");
  sio__http_parser_free(&p);
}

static void test_upgrade(void) {
  sio__http_parser p;
  rec r;
  size_t c;
  static const char hs[] = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                           "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  static const char ws[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
  char buf[512];
  size_t hl = sizeof hs - 1, n = hl + sizeof ws - 1;
  memcpy(buf, hs, hl);
  memcpy(buf + hl, ws, sizeof ws - 1);

  setup(&p, &r);
  is_int(sio__http_parser_feed(&p, buf, n, &c), SIO__HTTP_UPGRADE, "upgrade: UPGRADE");
  is_int(c, hl, "consumed = first WebSocket byte");
  is_int(r.ncomplete, 1, "on_complete called once");
  is_int(p.req.upgrade, 1, "req.upgrade");
  is_str(sio__http_req_header(&p.req, "sec-websocket-key", NULL), "dGhlIHNhbXBsZSBub25jZQ==", "ws key");
  is_int(sio__http_parser_feed(&p, buf + c, n - c, &c), SIO__HTTP_UPGRADE, "feed after upgrade: UPGRADE");
  is_int(c, 0, "feed after upgrade consumes nothing");
  sio__http_parser_free(&p);

  /* Headers only, no trailing bytes. */
  setup(&p, &r);
  is_int(sio__http_parser_feed(&p, hs, hl, &c), SIO__HTTP_UPGRADE, "upgrade without extra bytes");
  is_int(c, hl, "consumed all");
  sio__http_parser_free(&p);

  /* Every split. */
  int bad = 0;
  for (size_t cut = 0; cut <= n && !bad; cut++) {
    setup(&p, &r);
    drive_out o = drive(&p, buf, n, &cut, 1, 0);
    if (o.rc != SIO__HTTP_UPGRADE || o.upgrade_at != hl || r.ncomplete != 1) bad = 1, printf("# cut %zu\n", cut);
    sio__http_parser_free(&p);
  }
  ok(!bad, "upgrade split at every byte: consumed = end of headers");

  /* on_complete pausing an upgrade request: PAUSED first, then UPGRADE at 0. */
  setup(&p, &r);
  r.pause = 1;
  is_int(sio__http_parser_feed(&p, buf, n, &c), SIO__HTTP_PAUSED, "paused upgrade: PAUSED");
  is_int(c, hl, "paused upgrade: consumed = end of headers");
  sio__http_parser_resume(&p);
  is_int(sio__http_parser_feed(&p, buf + hl, n - hl, &c), SIO__HTTP_UPGRADE, "after resume: UPGRADE");
  is_int(c, 0, "after resume: consumed 0");
  sio__http_parser_free(&p);

  /* Declining: resume after UPGRADE continues as HTTP. */
  setup(&p, &r);
  const char *h2 = "GET /a HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  is_int(feed_str(&p, h2, &c), SIO__HTTP_UPGRADE, "h2c upgrade: UPGRADE");
  size_t first = c;
  sio__http_parser_resume(&p);
  is_int(sio__http_parser_feed(&p, h2 + first, strlen(h2) - first, &c), SIO__HTTP_OK, "declined: next request");
  is_str(r.last_url, "/b", "declined: second request parsed");
  sio__http_parser_free(&p);

  /* Upgrade: without Connection: upgrade is not an upgrade. */
  setup(&p, &r);
  is_int(feed_str(&p, "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &c), SIO__HTTP_OK, "Upgrade only: OK");
  ok(strstr(r.log, "up=0") != NULL, "Upgrade only: req.upgrade=0");
  sio__http_parser_free(&p);
}

static void test_limits(void) {
  sio__http_parser p;
  rec r;
  size_t c;
  char big[400];

  /* Exactly at the limit passes; one byte more fails. url "/" (1) + "A" (1) + value. */
  for (int extra = 0; extra <= 1; extra++) {
    setup(&p, &r);
    p.max_header_bytes = 100;
    int vlen = 98 + extra;
    int m = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nA: %.*s\r\n\r\n", vlen,
                     "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
    is_int(sio__http_parser_feed(&p, big, (size_t)m, &c), extra ? SIO__HTTP_ERR_HEADERS_TOO_LARGE : SIO__HTTP_OK,
           "header bytes %s limit", extra ? "over" : "at");
    sio__http_parser_free(&p);
  }

  /* Mid-header: no CRLF yet, still fails at once. */
  setup(&p, &r);
  p.max_header_bytes = 100;
  int m = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX-Long: %0150d", 0);
  is_int(sio__http_parser_feed(&p, big, (size_t)m, &c), SIO__HTTP_ERR_HEADERS_TOO_LARGE, "mid-header value too large");
  is_int(feed_str(&p, "\r\n\r\n", &c), SIO__HTTP_ERR_HEADERS_TOO_LARGE, "error is sticky");
  is_int(c, 0, "sticky error consumes nothing");
  sio__http_parser_free(&p);

  setup(&p, &r);
  p.max_header_bytes = 100;
  is_int(feed_str(&p, "GET / HTTP/1.1\r\nX-Long: 1234567890\r\n", &c), SIO__HTTP_OK, "small first");
  for (int i = 0; i < 20; i++) {
    int rc = feed_str(&p, "abcdefgh", &c); /* a header name growing across feeds */
    if (rc != SIO__HTTP_OK) {
      is_int(rc, SIO__HTTP_ERR_HEADERS_TOO_LARGE, "name across feeds too large");
      is_int(i, 10, "fails on the feed that crosses the limit");
      break;
    }
  }
  sio__http_parser_free(&p);

  setup(&p, &r);
  p.max_header_bytes = 64;
  m = snprintf(big, sizeof big, "GET /%0100d", 0);
  is_int(sio__http_parser_feed(&p, big, (size_t)m, &c), SIO__HTTP_ERR_HEADERS_TOO_LARGE, "url too large");
  sio__http_parser_free(&p);

  setup(&p, &r);
  p.max_headers = 3;
  is_int(feed_str(&p, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n", &c), SIO__HTTP_OK, "3 headers ok");
  is_int(feed_str(&p, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n", &c),
         SIO__HTTP_ERR_HEADERS_TOO_LARGE, "4 headers -> 431");
  sio__http_parser_free(&p);

  /* Body by Content-Length: fails at headers, before any body byte. */
  setup(&p, &r);
  p.max_body = 1000;
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", &c), SIO__HTTP_ERR_BODY_TOO_LARGE,
         "Content-Length over max_body");
  sio__http_parser_free(&p);
  setup(&p, &r);
  p.max_body = 1000;
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", &c), SIO__HTTP_OK,
         "Content-Length at max_body");
  sio__http_parser_free(&p);

  /* Chunked stream: fails the moment the count passes the limit. */
  setup(&p, &r);
  p.max_body = 10;
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n4\r\n7890\r\n", &c),
         SIO__HTTP_OK, "chunked at limit");
  is_int(feed_str(&p, "1\r\nx", &c), SIO__HTTP_ERR_BODY_TOO_LARGE, "chunked over limit");
  is_int(r.blen, 10, "on_body never saw bytes past the limit");
  sio__http_parser_free(&p);

  /* Per-request max_body from on_headers, restored afterwards. */
  setup(&p, &r);
  p.max_body = 10;
  r.set_max_body = 20;
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nContent-Length: 15\r\n\r\n123456789012345", &c), SIO__HTTP_OK,
         "raised max_body in on_headers");
  is_int(r.max_body_at_complete, 10, "max_body restored at complete");
  is_int(p.max_body, 10, "max_body restored");
  r.set_max_body = 0;
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nContent-Length: 15\r\n\r\n", &c), SIO__HTTP_ERR_BODY_TOO_LARGE,
         "next request uses the configured limit");
  sio__http_parser_free(&p);
  setup(&p, &r);
  r.set_max_body = 3;
  is_int(feed_str(&p, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n", &c),
         SIO__HTTP_ERR_BODY_TOO_LARGE, "lowered max_body in on_headers (chunked)");
  sio__http_parser_free(&p);
}

static void test_errors(void) {
  sio__http_parser p;
  rec r;
  size_t c;
  static const char *bad[] = {
      "GET\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
      "GET / HTTP/1.1\r\n: v\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", "GET / HTTP/1.1\r\nName : v\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\001b\r\n\r\n", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    setup(&p, &r);
    is_int(feed_str(&p, bad[i], &c), SIO__HTTP_ERR_BAD, "malformed #%zu -> ERR_BAD", i);
    sio__http_parser_free(&p);
  }
  setup(&p, &r);
  r.headers_rc = SIO__HTTP_CB_ERROR;
  is_int(feed_str(&p, "GET / HTTP/1.1\r\n\r\n", &c), SIO__HTTP_ERR_BAD, "on_headers error -> ERR_BAD");
  is_int(r.ncomplete, 0, "no complete after on_headers error");
  is_int(feed_str(&p, "GET / HTTP/1.1\r\n\r\n", &c), SIO__HTTP_ERR_BAD, "sticky");
  sio__http_parser_free(&p);

  /* An error after a good request in the same buffer: the good one still comes out. */
  setup(&p, &r);
  is_int(feed_str(&p, "GET /ok HTTP/1.1\r\n\r\nBAD REQUEST\r\n\r\n", &c), SIO__HTTP_ERR_BAD, "good then bad");
  is_int(r.ncomplete, 1, "good one delivered first");
  sio__http_parser_free(&p);
}

static void test_idle_release(void) {
  sio__http_parser p;
  rec r;
  size_t c;
  setup(&p, &r);
  ok(sio__http_parser_idle(&p), "idle at start");
  sio__http_parser_release(&p); /* no buffers yet: harmless */
  feed_str(&p, "GET /abc HTTP/1.1\r\nHost: h", &c);
  ok(!sio__http_parser_idle(&p), "not idle mid-headers");
  sio__http_parser_release(&p);
  ok(p.req.arena != NULL, "release is a no-op mid-request");
  is_int(feed_str(&p, "ost\r\n\r\n", &c), SIO__HTTP_OK, "finish after no-op release");
  ok(strstr(r.log, "/abc\nHost: host\n") != NULL, "headers intact across release attempt");
  ok(sio__http_parser_idle(&p), "idle after complete");
  sio__http_parser_release(&p);
  ok(p.req.arena == NULL && p.req.headers == NULL && p.req.arena_cap == 0 && p.req.headers_cap == 0,
     "release frees the buffers");
  size_t len = 9;
  is_str(sio__http_req_url(&p.req, &len), "", "url after release is empty");
  is_int(len, 0, "url len 0");
  r.n = 0;
  is_int(feed_str(&p, "GET /again HTTP/1.1\r\nA: b\r\n\r\n", &c), SIO__HTTP_OK, "works after release");
  is_str(r.log, "H 1 1.1 ka=1 up=0 cl=0 /again\nA: b\nB 0:\nC\n", "events after release");
  sio__http_parser_free(&p);
  sio__http_parser_free(&p); /* double free is safe */
}

static void test_query(void) {
  const char *q = "EIO=4&transport=polling&t=a%20b+c&sid=x&sid=y&e=&flag&%73id2=z%2&bad=%zz&pct=%41%4a%4A";
  char out[64];
  size_t ql = strlen(q);
  is_int(sio__http_query_get(q, ql, "EIO", out, sizeof out), 1, "EIO len");
  is_str(out, "4", "EIO");
  is_int(sio__http_query_get(q, ql, "transport", out, sizeof out), 7, "transport len");
  is_str(out, "polling", "transport");
  is_int(sio__http_query_get(q, ql, "t", out, sizeof out), 5, "t decoded len");
  is_str(out, "a b c", "percent and plus decoded");
  is_int(sio__http_query_get(q, ql, "sid", out, sizeof out), 1, "repeated name");
  is_str(out, "y", "last occurrence wins");
  is_int(sio__http_query_get(q, ql, "e", out, sizeof out), 0, "empty value");
  is_str(out, "", "empty value string");
  is_int(sio__http_query_get(q, ql, "flag", out, sizeof out), 0, "name only");
  is_str(out, "", "name only -> \"\"");
  is_int(sio__http_query_get(q, ql, "missing", out, sizeof out), -1, "missing -> -1");
  is_int(sio__http_query_get(q, ql, "si", out, sizeof out), -1, "prefix is not a match");
  is_int(sio__http_query_get(q, ql, "sid2", out, sizeof out), 3, "encoded key decoded");
  is_str(out, "z%2", "truncated escape kept literally");
  is_int(sio__http_query_get(q, ql, "bad", out, sizeof out), 3, "bad escape len");
  is_str(out, "%zz", "bad escape kept literally");
  is_int(sio__http_query_get(q, ql, "pct", out, sizeof out), 3, "hex case");
  is_str(out, "AJJ", "hex upper and lower");
  is_int(sio__http_query_get(q, ql, "transport", out, 4), 3, "truncated to outcap-1");
  is_str(out, "pol", "truncated value");
  is_int(sio__http_query_get(q, ql, "transport", NULL, 0), 0, "outcap 0 -> present, nothing written");
  is_int(sio__http_query_get("", 0, "a", out, sizeof out), -1, "empty query");
  is_int(sio__http_query_get("&&a=1&&", 7, "a", out, sizeof out), 1, "empty pairs skipped");
  is_int(sio__http_query_get("=v&a=1", 6, "", out, sizeof out), 1, "empty name matches '=v'");
  is_str(out, "v", "empty name value");
  /* qlen bounds the scan: "a=12" with qlen 3 is "a=1". */
  is_int(sio__http_query_get("a=12", 3, "a", out, sizeof out), 1, "qlen respected");
  is_int(sio__http_query_get("a=%4", 4, "a", out, sizeof out), 2, "escape cut by qlen kept");
  char nul[8];
  is_int(sio__http_query_get("a=x%00y", 7, "a", nul, sizeof nul), 3, "%%00 decodes to a NUL byte");
  is_mem(nul, 3, "x\0y", 3, "%%00 value bytes");
}

static void test_tokens(void) {
  const char *v = "keep-alive, Upgrade";
  ok(sio__http_header_has_token(v, strlen(v), "upgrade"), "has upgrade");
  ok(sio__http_header_has_token(v, strlen(v), "KEEP-ALIVE"), "has keep-alive (case)");
  ok(!sio__http_header_has_token(v, strlen(v), "close"), "no close");
  ok(!sio__http_header_has_token(v, strlen(v), "upgrad"), "no prefix match");
  ok(!sio__http_header_has_token(v, strlen(v), "keep"), "no prefix match 2");
  v = " \tUpgrade\t ,close";
  ok(sio__http_header_has_token(v, strlen(v), "upgrade"), "tabs and spaces trimmed");
  ok(sio__http_header_has_token(v, strlen(v), "close"), "last token");
  ok(!sio__http_header_has_token("", 0, "x"), "empty value");
  ok(!sio__http_header_has_token(",,", 2, ""), "empty token never matches");
  ok(sio__http_header_has_token("upgrade", 7, "upgrade"), "single token");
  ok(!sio__http_header_has_token("upgrade-x", 9, "upgrade"), "longer token");
  ok(!sio__http_header_has_token("up grade", 8, "upgrade"), "inner space");
  ok(sio__http_header_has_token("websocketX", 9, "websocket"), "len bounds the value");

  ok(!sio__http_header_value_invalid("text/plain; charset=UTF-8", 25), "content-type valid");
  ok(!sio__http_header_value_invalid("a\tb ~", 5), "tab, space, tilde valid");
  ok(!sio__http_header_value_invalid("\x80\xff\xc3\xa9", 4), "high bytes valid");
  ok(!sio__http_header_value_invalid("", 0), "empty valid");
  ok(sio__http_header_value_invalid("a\r\nb", 4), "CRLF invalid");
  ok(sio__http_header_value_invalid("a\nb", 3), "LF invalid");
  ok(sio__http_header_value_invalid("a\0b", 3), "NUL invalid");
  ok(sio__http_header_value_invalid("\x7f", 1), "DEL invalid");
  ok(sio__http_header_value_invalid("\x1f", 1), "0x1f invalid");
  ok(!sio__http_header_value_invalid("ab\n", 2), "len bounds the check");
}

static void test_status(void) {
  static const struct { int code; const char *text; } t[] = {
      {101, "Switching Protocols"}, {200, "OK"}, {204, "No Content"}, {304, "Not Modified"},
      {400, "Bad Request"}, {403, "Forbidden"}, {404, "Not Found"}, {413, "Payload Too Large"},
      {431, "Request Header Fields Too Large"}, {500, "Internal Server Error"}, {503, "Service Unavailable"},
  };
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) is_str(sio__http_status_text(t[i].code), t[i].text, "status %d", t[i].code);
  is_str(sio__http_status_text(299), "Unknown", "unknown status");
}

int main(void) {
  test_get();
  test_bodies();
  test_pipelined();
  test_upgrade();
  test_limits();
  test_errors();
  test_idle_release();
  test_query();
  test_tokens();
  test_status();
  test_splits();
  return tap_done();
}
