/* HTTP response compression; see http_compress.h.
 *
 * The Accept-Encoding choice reproduces negotiator 0.6 (used by engine.io
 * through `accepts`): the header is split on commas; each entry must look
 * like `token [; params]`, and its q is parseFloat() of the first `q=`
 * parameter (1 without one); an entry that does not parse is skipped. For
 * each of gzip and deflate the best matching entry counts (an exact name
 * beats "*", then the higher q, then the later entry); those with q > 0
 * are ranked by q, then exactness, then the entry's position, then
 * gzip before deflate. */
#include "http/http_compress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http/http_server.h"
#include "util/hmap.h"

/* ---- Accept-Encoding ----------------------------------------------------------- */

/* JavaScript's whitespace within Latin-1 (Node decodes header bytes as
 * Latin-1): what trim(), \s and parseFloat skip. */
static int js_space(unsigned char c) { return (c >= 9 && c <= 13) || c == ' ' || c == 0xA0; }

/* parseFloat() of s[0, n): NAN when no number starts it. */
static double js_parse_float(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && js_space((unsigned char)s[i])) i++;
  size_t from = i;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  if (n - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) return s[from] == '-' ? -INFINITY : INFINITY;
  size_t digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (i < n && s[i] == '.') {
    size_t j = i + 1, frac = 0;
    while (j < n && s[j] >= '0' && s[j] <= '9') j++, frac++;
    if (digits || frac) i = j, digits += frac;
  }
  if (!digits) return NAN;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) j++;
    size_t e = j;
    while (j < n && s[j] >= '0' && s[j] <= '9') j++;
    if (j > e) i = j; /* "1e" is 1: the exponent needs digits */
  }
  char buf[64], *p = buf;
  size_t len = i - from;
  if (len + 1 > sizeof buf && !(p = malloc(len + 1))) return NAN;
  memcpy(p, s + from, len);
  p[len] = 0;
  double d = strtod(p, NULL); /* correctly rounded, like JavaScript */
  if (p != buf) free(p);
  return d;
}

/* The first value of a JavaScript `a || b || c` chain of differences that
 * is truthy (nonzero, not NaN), else the last. */
static double js_or3(double a, double b, double c) {
  if (a != 0 && !isnan(a)) return a;
  if (b != 0 && !isnan(b)) return b;
  return c;
}

typedef struct enc_prio {
  int s;    /* 1 exact name, 0 "*" */
  double q;
  long o;   /* the entry's position in the header (-1: none matched) */
  int i;    /* 0 gzip, 1 deflate */
} enc_prio;

static int eq_nocase(const char *a, size_t n, const char *b) {
  if (strlen(b) != n) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != b[i]) return 0;
  }
  return 1;
}

/* Parses entry e[0, n) (entry number idx); 1 and its name and q if it is
 * well-formed, 0 if negotiator skips it. */
static int parse_entry(const char *e, size_t n, const char **name, size_t *nlen, double *q) {
  size_t i = 0;
  while (i < n && js_space((unsigned char)e[i])) i++;
  while (n > i && js_space((unsigned char)e[n - 1])) n--;
  size_t t = i;
  while (i < n && !js_space((unsigned char)e[i]) && e[i] != ';') i++;
  if (i == t) return 0;
  *name = e + t;
  *nlen = i - t;
  while (i < n && js_space((unsigned char)e[i])) i++;
  *q = 1;
  if (i == n) return 1;
  if (e[i] != ';') return 0; /* the regex wants ";params" or the end */
  i++;
  /* params.split(';'): the first whose trimmed text splits on '=' into "q" */
  while (i <= n) {
    size_t ps = i;
    while (i < n && e[i] != ';') i++;
    size_t a = ps, b = i;
    while (a < b && js_space((unsigned char)e[a])) a++;
    while (b > a && js_space((unsigned char)e[b - 1])) b--;
    const char *eq = memchr(e + a, '=', b - a);
    size_t klen = eq ? (size_t)(eq - (e + a)) : b - a;
    if (klen == 1 && e[a] == 'q') {
      if (!eq) *q = NAN; /* parseFloat(undefined) */
      else {
        const char *v = eq + 1;
        const char *vend = memchr(v, '=', (size_t)(e + b - v));
        *q = js_parse_float(v, (size_t)((vend ? vend : e + b) - v));
      }
      break;
    }
    i++;
  }
  return 1;
}

int sio__http_pick_encoding(const char *accept, size_t len) {
  static const char *const provided[2] = {"gzip", "deflate"};
  enc_prio pr[2] = {{0, 0, -1, 0}, {0, 0, -1, 1}};
  if (!accept) return SIO__HTTP_ENC_IDENTITY;
  size_t i = 0;
  long idx = 0;
  while (i <= len) {
    size_t s = i;
    while (i < len && accept[i] != ',') i++;
    const char *name;
    size_t nlen;
    double q;
    if (parse_entry(accept + s, i - s, &name, &nlen, &q)) {
      for (int k = 0; k < 2; k++) {
        int sp;
        if (eq_nocase(name, nlen, provided[k])) sp = 1;
        else if (nlen == 1 && name[0] == '*') sp = 0;
        else continue;
        enc_prio c = {sp, q, idx, k};
        if (js_or3(pr[k].s - c.s, pr[k].q - c.q, (double)(pr[k].o - c.o)) < 0) pr[k] = c;
      }
    }
    idx++;
    i++;
  }
  int ok0 = pr[0].q > 0, ok1 = pr[1].q > 0; /* NaN fails too */
  if (!ok0 && !ok1) return SIO__HTTP_ENC_IDENTITY;
  if (ok0 != ok1) return ok0 ? SIO__HTTP_ENC_GZIP : SIO__HTTP_ENC_DEFLATE;
  /* compareSpecs(deflate, gzip) < 0 puts deflate first (a stable sort). */
  const enc_prio *a = &pr[1], *b = &pr[0];
  double c = js_or3(b->q - a->q, b->s - a->s, js_or3((double)(a->o - b->o), a->i - b->i, 0));
  return c < 0 ? SIO__HTTP_ENC_DEFLATE : SIO__HTTP_ENC_GZIP;
}

const char *sio__http_encoding_name(int enc) {
  return enc == SIO__HTTP_ENC_GZIP ? "gzip" : enc == SIO__HTTP_ENC_DEFLATE ? "deflate" : NULL;
}

/* ---- compression ----------------------------------------------------------------- */

struct sio__http_compress {
  size_t threshold;
  int level;
  z_stream *z[3]; /* by encoding; [0] unused */
};

sio__http_compress *sio__http_compress_new(size_t threshold, int level) {
  if (level < -1 || level > 9) return NULL;
  sio__http_compress *z = calloc(1, sizeof *z);
  if (!z) return NULL;
  z->threshold = threshold;
  z->level = level;
  return z;
}

void sio__http_compress_free(sio__http_compress *z) {
  if (!z) return;
  for (int i = 1; i < 3; i++) {
    if (!z->z[i]) continue;
    deflateEnd(z->z[i]);
    free(z->z[i]);
  }
  free(z);
}

size_t sio__http_compress_threshold(const sio__http_compress *z) { return z->threshold; }

static z_stream *stream_for(sio__http_compress *z, int enc) {
  if (z->z[enc]) return z->z[enc];
  z_stream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  /* windowBits 15 (+16: a gzip header and trailer instead of zlib's). */
  if (deflateInit2(s, z->level, Z_DEFLATED, enc == SIO__HTTP_ENC_GZIP ? 31 : 15, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    free(s);
    return NULL;
  }
  return z->z[enc] = s;
}

sio__rbuf *sio__http_compress_body(sio__http_compress *z, int enc, const sio__wseg *segs,
                                   size_t nsegs) {
  if (enc != SIO__HTTP_ENC_GZIP && enc != SIO__HTTP_ENC_DEFLATE) return NULL;
  z_stream *s = stream_for(z, enc);
  if (!s) return NULL;
  size_t total = 0;
  for (size_t i = 0; i < nsegs; i++) total += segs[i].len;
  size_t cap = deflateBound(s, (uLong)total) + 64, out = 0;
  sio__rbuf *rb = sio__rbuf_new(cap);
  if (!rb) return NULL;
  int r = Z_OK;
  for (size_t i = 0; i <= nsegs && r != Z_STREAM_END; i++) {
    int last = i == nsegs;
    s->next_in = last ? (Bytef *)"" : (Bytef *)segs[i].rb->data + segs[i].off;
    s->avail_in = last ? 0 : segs[i].len;
    do {
      if (out == cap) {
        sio__rbuf *nb = realloc(rb, sizeof *rb + cap * 2);
        if (!nb) goto fail;
        rb = nb;
        cap *= 2;
      }
      s->next_out = (Bytef *)rb->data + out;
      s->avail_out = (uInt)(cap - out);
      r = deflate(s, last ? Z_FINISH : Z_NO_FLUSH);
      out = cap - s->avail_out;
      if (r == Z_STREAM_ERROR) goto fail;
    } while (last ? r != Z_STREAM_END : s->avail_in > 0 || s->avail_out == 0);
  }
  deflateReset(s);
  rb->len = (uint32_t)out;
  return rb;
fail:
  deflateReset(s);
  free(rb);
  return NULL;
}

void sio__http_respond_segs_compressed(sio__conn *c, int status, const char *headers,
                                       const sio__wseg *segs, size_t nsegs) {
  sio__http_server *srv = sio__container_of(c->net, sio__http_server, net);
  sio__http_conn *hc = sio__http_conn_of(c);
  sio__http_compress *z = srv->compress;
  size_t total = 0;
  for (size_t i = 0; i < nsegs; i++) total += segs[i].len;
  if (!z || !hc || hc->head || total < z->threshold || sio__conn_closing(c)) {
    sio__http_respond_segs(c, status, headers, segs, nsegs);
    return;
  }
  size_t alen = 0;
  char *joined;
  const char *accept = sio__http_req_header_joined(&hc->parser.req, "accept-encoding", &alen, &joined);
  int enc = sio__http_pick_encoding(accept, alen);
  free(joined);
  sio__rbuf *body = enc ? sio__http_compress_body(z, enc, segs, nsegs) : NULL;
  if (!body) {
    sio__http_respond_segs(c, status, headers, segs, nsegs);
    return;
  }
  /* engine.io sets Content-Encoding, and neither it nor Node adds Vary. */
  size_t hl = headers ? strlen(headers) : 0;
  char stack[2048], *h = stack;
  if (hl + 64 > sizeof stack && !(h = malloc(hl + 64))) {
    sio__rbuf_unref(body);
    sio__http_respond_segs(c, status, headers, segs, nsegs);
    return;
  }
  snprintf(h, hl + 64, "%sContent-Encoding: %s\r\n", headers ? headers : "", sio__http_encoding_name(enc));
  sio__wseg seg = {body, 0, body->len};
  sio__http_respond_segs(c, status, h, &seg, 1);
  sio__rbuf_unref(body);
  if (h != stack) free(h);
}
