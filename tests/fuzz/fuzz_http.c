/* Fuzz target for lib/src/http/http_parse.c.
 *
 * Input: one control byte, then raw bytes from a "client". The bytes are
 * parsed twice, as one read and as two reads split at a point taken from the
 * control byte; callbacks pause, fail or lower max_body depending on the
 * control byte and the request index, and exercise the request helpers.
 *
 * Every read is copied into its own exactly-sized heap block that is freed
 * right after feed, so a pointer kept into the input becomes a use-after-free
 * that ASan reports. When neither run fails, both must produce the same
 * events (hashed) and the same upgrade position: splitting must not change
 * what the parser sees. Invariants that would otherwise go unnoticed abort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

#define CHECK(c)                                                      \
  do {                                                                \
    if (!(c)) {                                                       \
      fprintf(stderr, "fuzz_http: CHECK(%s) failed at line %d\n", #c, __LINE__); \
      abort();                                                        \
    }                                                                 \
  } while (0)

typedef struct fz {
  sio__http_parser *p;
  uint8_t ctl;
  unsigned nreq;
  uint64_t hash;
} fz;

static void mix(fz *f, const void *data, size_t n) {
  const unsigned char *s = data;
  for (size_t i = 0; i < n; i++) f->hash = (f->hash ^ s[i]) * 0x100000001b3ull;
}

static void check_req(const sio__http_req *r) {
  size_t ulen;
  const char *u = sio__http_req_url(r, &ulen);
  CHECK(u[ulen] == '\0');
  CHECK(r->nheaders <= r->headers_cap);
  for (uint32_t i = 0; i < r->nheaders; i++) {
    const sio__http_header *h = &r->headers[i];
    CHECK((size_t)h->name_off + h->name_len < r->arena_len);
    CHECK((size_t)h->value_off + h->value_len < r->arena_len);
    CHECK(r->arena[h->name_off + h->name_len] == '\0');
    CHECK(r->arena[h->value_off + h->value_len] == '\0');
    CHECK(h->name_len > 0);
  }
}

static int on_headers(void *ud, sio__http_req *r) {
  fz *f = ud;
  check_req(r);
  size_t ulen, plen, qlen, vlen;
  const char *u = sio__http_req_url(r, &ulen), *path, *q;
  int flags[4] = {r->method, r->keep_alive, r->upgrade, (int)r->content_length};
  mix(f, "H", 1);
  mix(f, flags, sizeof flags);
  mix(f, u, ulen);
  for (uint32_t i = 0; i < r->nheaders; i++) {
    mix(f, r->arena + r->headers[i].name_off, r->headers[i].name_len + 1);
    mix(f, r->arena + r->headers[i].value_off, r->headers[i].value_len + 1);
  }
  sio__http_req_path_query(r, &path, &plen, &q, &qlen);
  CHECK(plen <= ulen && qlen <= ulen);
  char out[8];
  static const char *names[] = {"EIO", "transport", "sid", "t", "", "b64"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    ptrdiff_t n = sio__http_query_get(q, qlen, names[i], out, (f->ctl & 1) ? sizeof out : 1);
    CHECK(n < (ptrdiff_t)sizeof out);
    if (n >= 0) CHECK(out[n] == '\0');
  }
  const char *v = sio__http_req_header(r, "connection", &vlen);
  if (v) {
    CHECK(v[vlen] == '\0');
    (void)sio__http_header_has_token(v, vlen, "upgrade");
    (void)sio__http_header_value_invalid(v, vlen);
  }
  (void)sio__http_status_text((int)vlen);
  f->nreq++;
  if ((f->ctl & 0x40) && f->nreq == 3) return SIO__HTTP_CB_ERROR;
  if (f->ctl & 0x20) f->p->max_body = f->nreq * 7u;
  return 0;
}

static int on_body(void *ud, sio__http_req *r, const char *data, size_t len) {
  fz *f = ud;
  (void)r;
  CHECK(f->p->body_seen <= f->p->max_body);
  mix(f, data, len);
  return 0;
}

static int on_complete(void *ud, sio__http_req *r) {
  fz *f = ud;
  check_req(r);
  mix(f, "C", 1);
  /* Pause on a pattern of requests picked by the control byte. */
  return ((f->ctl >> 2) & (1u << (f->nreq % 3))) ? SIO__HTTP_CB_PAUSE : 0;
}

static const sio__http_parser_cbs cbs = {on_headers, on_body, on_complete};

/* Feeds one read (plus any leftover held back by a pause) the way the server
 * does, resuming at once after each pause. Returns the last feed status;
 * *upgrade_at gets the absolute position of an upgrade. */
static int feed_read(sio__http_parser *p, char **pend, size_t *plen, size_t *base, const uint8_t *d, size_t n,
                     size_t *upgrade_at) {
  char *np = realloc(*pend, *plen + n + 1);
  CHECK(np);
  *pend = np;
  if (n) memcpy(*pend + *plen, d, n);
  *plen += n;
  for (;;) {
    size_t c = 0;
    char *scratch = malloc(*plen ? *plen : 1);
    CHECK(scratch);
    if (*plen) memcpy(scratch, *pend, *plen);
    int rc = sio__http_parser_feed(p, scratch, *plen, &c);
    free(scratch); /* the shared buffer gets reused: nothing may point into it */
    CHECK(c <= *plen);
    if (rc == SIO__HTTP_PAUSED) {
      CHECK(sio__http_parser_idle(p));
      size_t again = 0;
      CHECK(sio__http_parser_feed(p, "x", 1, &again) == SIO__HTTP_PAUSED && again == 0);
      memmove(*pend, *pend + c, *plen - c);
      *plen -= c;
      *base += c;
      sio__http_parser_resume(p);
      continue;
    }
    if (rc == SIO__HTTP_OK) {
      CHECK(c == *plen);
      *base += *plen;
      *plen = 0;
      return rc;
    }
    if (rc == SIO__HTTP_UPGRADE) *upgrade_at = *base + c;
    else CHECK(rc < 0);
    return rc;
  }
}

static int run(const uint8_t *d, size_t n, size_t cut, uint8_t ctl, uint64_t *hash, size_t *upgrade_at) {
  sio__http_parser p;
  fz f = {&p, ctl, 0, 1469598103934665603ull};
  sio__http_parser_init(&p, &cbs, &f);
  if (ctl & 0x80) p.max_header_bytes = 64 + (ctl & 0x1f) * 8;
  if (ctl & 0x02) p.max_headers = 4;
  char *pend = NULL;
  size_t plen = 0, base = 0;
  *upgrade_at = (size_t)-1;
  int rc = feed_read(&p, &pend, &plen, &base, d, cut, upgrade_at);
  if (rc == SIO__HTTP_OK) rc = feed_read(&p, &pend, &plen, &base, d + cut, n - cut, upgrade_at);
  if (rc == SIO__HTTP_OK && sio__http_parser_idle(&p)) {
    sio__http_parser_release(&p);
    CHECK(p.req.arena == NULL && p.req.headers == NULL);
  }
  free(pend);
  sio__http_parser_free(&p);
  *hash = f.hash;
  return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  uint8_t ctl = data[0];
  data++, size--;
  uint64_t h1, h2;
  size_t u1, u2;
  int r1 = run(data, size, size, ctl, &h1, &u1);
  size_t cut = size ? (size_t)ctl * size / 255 : 0;
  if (cut > size) cut = size;
  int r2 = run(data, size, cut, ctl, &h2, &u2);
  if (r1 >= 0 && r2 >= 0) {
    CHECK(r1 == r2);
    CHECK(h1 == h2);
    CHECK(u1 == u2);
  }
  return 0;
}
