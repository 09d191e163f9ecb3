/* Tests for permessage-deflate (lib/src/ws/ws_deflate.c) and its use by the
 * frame parser (RSV1, lib/src/ws/ws_codec.c):
 *  - negotiation: every offer of deflate_vectors.h gets the answer the Node
 *    `ws` server gives (generated from ws itself), under seven option sets;
 *    repeated header lines are joined as Node joins them;
 *  - round trips against an independent zlib on the other side: our
 *    compressed frames inflate with a plain raw inflater, frames from a
 *    plain raw deflater (sync-flushed, as clients send them; with a final
 *    block too) inflate with ours; context takeover carries the window over,
 *    no context takeover does not (and shares one frame between recipients);
 *  - fragmented compressed messages through the parser, the stream split at
 *    every byte; RSV1 only where RFC 7692 allows it;
 *  - the inflate bound: a zip bomb stops at max + 1 bytes with 1009, bad
 *    data gives 1007. */
#include "ws/ws_deflate.h"

#include <stdlib.h>
#include <zlib.h>

#include "http/http_parse.h"
#include "tap.h"
#include "ws/ws_codec.h"

#include "deflate_vectors.h"

/* ---- helpers ------------------------------------------------------------------ */

typedef struct {
  uint8_t *p;
  size_t n, cap;
} buf_t;

static void b_put(buf_t *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void b_free(buf_t *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static void config_named(const char *name, sio__pmd_config *c) {
  sio__pmd_config_init(c);
  if (!strcmp(name, "snct_always")) c->server_nct = c->client_nct = 1;
  else if (!strcmp(name, "snct_refuse")) c->server_nct = -1;
  else if (!strcmp(name, "smwb12")) c->server_max_wbits = 12;
  else if (!strcmp(name, "smwb_refuse")) c->server_max_wbits = -1;
  else if (!strcmp(name, "cmwb10")) c->client_max_wbits = 10;
  else if (!strcmp(name, "cmwb_never")) c->client_max_wbits = -1;
}

/* Text that compresses (repeats) with some variety. */
static uint8_t *make_text(size_t n, unsigned seed) {
  static const char *words[] = {"hello ", "world ", "socket ", "\xc3\xa9t\xc3\xa9 ", "deflate ", "42 "};
  uint8_t *t = malloc(n + 1);
  size_t i = 0;
  unsigned k = seed;
  while (i < n) {
    const char *w = words[(k = k * 1103515245u + 12345u) >> 16 & 3 ? (k >> 8) % 6 : 0];
    size_t l = strlen(w);
    if (i + l > n) break;
    memcpy(t + i, w, l);
    i += l;
  }
  for (; i < n; i++) t[i] = 'x';
  t[n] = 0;
  return t;
}

static uint8_t *make_noise(size_t n, unsigned seed) {
  uint8_t *t = malloc(n + 1);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    t[i] = (uint8_t)x;
  }
  return t;
}

/* A packet rbuf as Engine.IO makes them: headroom, then the payload. */
__attribute__((noinline)) static sio__rbuf *packet(const void *d, size_t n, int binary) {
  sio__rbuf *rb = sio__rbuf_new(SIO__RBUF_HEADROOM + n);
  char *at = rb->data + SIO__RBUF_HEADROOM;
  if (n) memcpy(at, d, n);
  rb->len = (uint32_t)(SIO__RBUF_HEADROOM + n);
  rb->binary = (uint8_t)binary;
  return rb;
}

/* The client side, with zlib alone: a raw deflater and inflater. */
static void client_init(z_stream *d, z_stream *i, int wbits) {
  memset(d, 0, sizeof *d);
  memset(i, 0, sizeof *i);
  deflateInit2(d, 6, Z_DEFLATED, -wbits, 8, Z_DEFAULT_STRATEGY);
  inflateInit2(i, -15);
}

/* A message as a client deflates it: sync flush, tail stripped; or with
 * Z_FINISH (a final block, which RFC 7692 also allows). */
static void client_deflate(z_stream *z, const uint8_t *d, size_t n, int finish, buf_t *out) {
  uint8_t chunk[4096];
  out->n = 0;
  if (!n && !finish) { /* zlib emits nothing for an empty sync flush; ws sends 0x00 */
    b_put(out, "", 1);
    return;
  }
  z->next_in = (Bytef *)d;
  z->avail_in = (uInt)n;
  int r;
  do {
    z->next_out = chunk;
    z->avail_out = sizeof chunk;
    r = deflate(z, finish ? Z_FINISH : Z_SYNC_FLUSH);
    b_put(out, chunk, sizeof chunk - z->avail_out);
  } while (finish ? r != Z_STREAM_END : z->avail_out == 0);
  if (!finish) out->n -= 4; /* 00 00 ff ff */
  else deflateReset(z);
}

/* Inflates one of our messages the way a client does: tail appended. */
static int client_inflate(z_stream *z, const uint8_t *d, size_t n, buf_t *out) {
  uint8_t chunk[4096];
  buf_t in = {0};
  b_put(&in, d, n);
  b_put(&in, "\0\0\xff\xff", 4);
  out->n = 0;
  z->next_in = in.p;
  z->avail_in = (uInt)in.n;
  int r;
  do {
    z->next_out = chunk;
    z->avail_out = sizeof chunk;
    r = inflate(z, Z_SYNC_FLUSH);
    b_put(out, chunk, sizeof chunk - z->avail_out);
  } while (r == Z_OK && (z->avail_in || z->avail_out == 0));
  b_free(&in);
  return r == Z_OK || r == Z_BUF_ERROR ? 0 : -1;
}

static sio__pmd_params params(int snct, int cnct, int swb, int cwb) {
  sio__pmd_params p = {0};
  p.server_nct = (uint8_t)snct;
  p.client_nct = (uint8_t)cnct;
  p.server_wbits = (uint8_t)swb;
  p.client_wbits = (uint8_t)cwb;
  return p;
}

/* ---- negotiation ------------------------------------------------------------ */

static void test_vectors(void) {
  size_t n = sizeof ext_vectors / sizeof ext_vectors[0];
  for (size_t i = 0; i < n; i++) {
    const struct ext_vector *v = &ext_vectors[i];
    sio__pmd_config c;
    config_named(v->config, &c);
    sio__pmd_params p;
    int r = sio__pmd_negotiate(&c, v->offer, strlen(v->offer), &p);
    char got[160];
    if (r == 1) sio__pmd_format(&p, got, sizeof got);
    else snprintf(got, sizeof got, "%d", r);
    is_str(got, v->answer, "[%s] %s", v->config, v->offer);
  }
}

static void test_negotiate_params(void) {
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  sio__pmd_params p;
  const char *h = "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12; "
                  "server_no_context_takeover; client_no_context_takeover";
  is_int(sio__pmd_negotiate(&c, h, strlen(h), &p), 1, "all four parameters accepted");
  is_int(p.server_nct, 1, "server_no_context_takeover agreed");
  is_int(p.client_nct, 1, "client_no_context_takeover agreed");
  is_int(p.server_wbits, 10, "server_max_window_bits=10 agreed");
  is_int(p.client_wbits, 12, "client_max_window_bits=12 agreed");
  is_int(sio__pmd_negotiate(&c, NULL, 0, &p), -1, "an empty header is a syntax error, as ws");
  /* Length, not NUL, ends the header. */
  is_int(sio__pmd_negotiate(&c, "permessage-deflate; foo", 18, &p), 1, "header taken by length");
  char small[8];
  sio__pmd_params q = params(1, 1, 10, 12);
  q.order[0] = SIO__PMD_SERVER_NCT, q.n = 1;
  is_int(sio__pmd_format(&q, small, sizeof small), 0, "format: nothing when the answer does not fit");
  is_str(small, "", "... an empty string");
  /* A long offer (many parameters of another extension, long values). */
  buf_t big = {0};
  b_put(&big, "x-foo", 5);
  for (int i = 0; i < 2000; i++) b_put(&big, "; a=bcdefghij", 13);
  const char *tail = ", permessage-deflate; client_max_window_bits=";
  b_put(&big, tail, strlen(tail));
  for (int i = 0; i < 200; i++) b_put(&big, "0", 1);
  b_put(&big, "9", 1);
  is_int(sio__pmd_negotiate(&c, (char *)big.p, big.n, &p), 1, "a 26 KB header with 200 leading zeros");
  is_int(p.client_wbits, 9, "... client_max_window_bits=000...9 is 9, as Number() says");
  b_free(&big);
  sio__pmd_config bad;
  sio__pmd_config_init(&bad);
  is_int(sio__pmd_config_check(&bad), 0, "defaults are valid");
  bad.server_max_wbits = 8;
  is_int(sio__pmd_config_check(&bad), -1, "our own window of 8 bits is refused (zlib cannot)");
  bad.server_max_wbits = 0, bad.mem_level = 0;
  is_int(sio__pmd_config_check(&bad), -1, "memLevel 0 refused");
  bad.mem_level = 8, bad.level = 10;
  is_int(sio__pmd_config_check(&bad), -1, "level 10 refused");
  ok(sio__pmd_ctx_new(&bad, NULL) == NULL, "no context for an invalid configuration");
}

/* Several Sec-WebSocket-Extensions lines count as one, joined with ", ". */
static void test_joined_header(void) {
  static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n"
                            "Sec-WebSocket-Extensions: foo\r\n"
                            "Accept-Encoding: gzip\r\n"
                            "sec-websocket-extensions: permessage-deflate; client_max_window_bits=11\r\n\r\n";
  sio__http_parser hp;
  sio__http_parser_init(&hp, NULL, NULL);
  size_t used;
  sio__http_parser_feed(&hp, req, sizeof req - 1, &used);
  size_t len = 0;
  char *joined;
  const char *v = sio__http_req_header_joined(&hp.req, "sec-websocket-extensions", &len, &joined);
  is_str(v, "foo, permessage-deflate; client_max_window_bits=11", "two lines joined");
  ok(joined == v, "the joined copy is owned by the caller");
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  sio__pmd_params p;
  is_int(sio__pmd_negotiate(&c, v, len, &p), 1, "the joined value negotiates");
  is_int(p.client_wbits, 11, "... with the second line's parameter");
  free(joined);
  v = sio__http_req_header_joined(&hp.req, "accept-encoding", &len, &joined);
  ok(v && joined == NULL && len == 4, "one line: no copy");
  ok(sio__http_req_header_joined(&hp.req, "x-none", &len, &joined) == NULL && !joined, "absent: NULL");
  sio__http_parser_free(&hp);
}

/* ---- compression --------------------------------------------------------------- */

static void test_round_trip_context_takeover(void) {
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&c, NULL);
  sio__pmd_params p = params(0, 0, 0, 0);
  sio__pmd *s = sio__pmd_new(ctx, &p);
  ok(!sio__pmd_has_deflate(s) && !sio__pmd_has_inflate(s), "no stream before use");
  z_stream cd, ci;
  client_init(&cd, &ci, 15);
  buf_t got = {0}, wire = {0};
  size_t sizes[] = {1024, 5000, 1024, 70000, 1500};
  size_t first_len = 0;
  for (int k = 0; k < 5; k++) {
    uint8_t *t = make_text(sizes[k], k == 2 ? 0 : (unsigned)k); /* message 2 repeats message 0's start */
    sio__rbuf *rb = packet(t, sizes[k], 0), *z = NULL;
    is_int(sio__pmd_compress_packet(s, rb, &z), 1, "message %d (%zu B) compressed", k, sizes[k]);
    size_t zl = z->len - SIO__RBUF_HEADROOM;
    if (k == 0) first_len = zl;
    if (k == 2) ok(zl < first_len / 2, "context takeover: a repeat costs %zu B, the first %zu B", zl, first_len);
    ok(zl < sizes[k], "message %d shrank to %zu B", k, zl);
    ok(client_inflate(&ci, (uint8_t *)z->data + SIO__RBUF_HEADROOM, zl, &got) == 0, "client inflates %d", k);
    is_mem(got.p, got.n, t, sizes[k], "message %d round trip (ours -> zlib)", k);
    sio__rbuf_unref(z);
    sio__rbuf_unref(rb);
    /* And the other way, through our inflater. */
    client_deflate(&cd, t, sizes[k], 0, &wire);
    uint8_t *out = NULL;
    size_t outlen = 0;
    is_int(sio__pmd_inflate(s, wire.p, wire.n, 1000000, &out, &outlen), 0, "we inflate message %d", k);
    is_mem(out, outlen, t, sizes[k], "message %d round trip (zlib -> ours)", k);
    free(out);
    free(t);
  }
  ok(sio__pmd_has_deflate(s) && sio__pmd_has_inflate(s), "context takeover: own streams kept");
  is_int(sio__pmd_ctx_heap_bytes(ctx), 0, "nothing shared");
  /* Below the threshold: sent as is, no stream touched. */
  sio__rbuf *small = packet("4hi", 3, 0), *z = NULL;
  is_int(sio__pmd_compress_packet(s, small, &z), 0, "below the threshold: uncompressed");
  sio__rbuf_unref(small);
  /* A final block from the client, then more messages: a fresh stream. */
  uint8_t *t = make_text(3000, 9);
  client_deflate(&cd, t, 3000, 1, &wire);
  uint8_t *out = NULL;
  size_t outlen = 0;
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 1000000, &out, &outlen), 0, "a BFINAL message inflates");
  is_mem(out, outlen, t, 3000, "... to the right bytes");
  free(out);
  client_deflate(&cd, t, 3000, 0, &wire); /* cd was reset by the finish: a new stream */
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 1000000, &out, &outlen), 0, "the next message after BFINAL");
  is_mem(out, outlen, t, 3000, "... inflates with a fresh window");
  free(out);
  free(t);
  /* Empty message, and binary. */
  client_deflate(&cd, (const uint8_t *)"", 0, 0, &wire);
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 10, &out, &outlen), 0, "an empty compressed message");
  ok(out != NULL && outlen == 0, "... is empty, with a buffer");
  free(out);
  uint8_t *noise = make_noise(4096, 3);
  client_deflate(&cd, noise, 4096, 0, &wire);
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 4096, &out, &outlen), 0, "incompressible data, exactly max");
  is_mem(out, outlen, noise, 4096, "... round trip");
  free(out);
  sio__rbuf *nb = packet(noise, 4096, 1);
  is_int(sio__pmd_compress_packet(s, nb, &z), 1, "binary compressed");
  is_int(z->binary, 1, "... stays binary");
  ok(client_inflate(&ci, (uint8_t *)z->data + SIO__RBUF_HEADROOM, z->len - SIO__RBUF_HEADROOM, &got) == 0 &&
         got.n == 4096 && memcmp(got.p, noise, 4096) == 0,
     "... and inflates back (grown output buffer)");
  sio__rbuf_unref(z);
  sio__rbuf_unref(nb);
  free(noise);
  b_free(&got);
  b_free(&wire);
  deflateEnd(&cd);
  inflateEnd(&ci);
  sio__pmd_free(s);
  sio__pmd_ctx_free(ctx);
}

/* Threshold 0: everything is compressed, empty messages included, in the
 * middle of a context-takeover stream. */
static void test_threshold_zero(void) {
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  c.threshold = 0;
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&c, NULL);
  sio__pmd_params p = params(0, 0, 0, 0);
  sio__pmd *s = sio__pmd_new(ctx, &p);
  z_stream cd, ci;
  client_init(&cd, &ci, 15);
  buf_t got = {0};
  const char *msgs[] = {"2", "", "", "hello hello hello", "", "3"};
  for (int k = 0; k < 6; k++) {
    sio__rbuf *rb = packet(msgs[k], strlen(msgs[k]), 0), *z = NULL;
    is_int(sio__pmd_compress_packet(s, rb, &z), 1, "threshold 0: %s compressed", msgs[k][0] ? msgs[k] : "(empty)");
    ok(z && client_inflate(&ci, (uint8_t *)z->data + SIO__RBUF_HEADROOM, z->len - SIO__RBUF_HEADROOM, &got) == 0,
       "... inflates");
    is_mem(got.p, got.n, msgs[k], strlen(msgs[k]), "... to the message");
    sio__rbuf_unref(z);
    sio__rbuf_unref(rb);
  }
  b_free(&got);
  deflateEnd(&cd);
  inflateEnd(&ci);
  sio__pmd_free(s);
  sio__pmd_ctx_free(ctx);
}

static void test_no_context_takeover(void) {
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  c.threshold = 100;
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&c, NULL);
  sio__pmd_params p = params(1, 1, 0, 0), p10 = params(1, 1, 10, 10);
  sio__pmd *a = sio__pmd_new(ctx, &p), *b = sio__pmd_new(ctx, &p), *w10 = sio__pmd_new(ctx, &p10);
  uint8_t *t = make_text(2000, 1);
  sio__rbuf *rb = packet(t, 2000, 0), *za = NULL, *zb = NULL, *z10 = NULL;
  is_int(sio__pmd_compress_packet(a, rb, &za), 1, "a compresses");
  is_int(sio__pmd_compress_packet(b, rb, &zb), 1, "b compresses");
  ok(za == zb, "no context takeover: one compressed frame shared by both recipients");
  is_int(sio__pmd_compress_packet(w10, rb, &z10), 1, "window 10 compresses");
  ok(z10 != za, "another window: its own frame");
  ok(!sio__pmd_has_deflate(a) && !sio__pmd_has_deflate(b), "no deflate stream per connection");
  /* Every message inflates with a fresh inflater: nothing carried over. */
  buf_t got = {0};
  for (int k = 0; k < 3; k++) {
    sio__rbuf *m = packet(t, 2000, 0), *zm = NULL;
    is_int(sio__pmd_compress_packet(a, m, &zm), 1, "message %d", k);
    z_stream fresh;
    memset(&fresh, 0, sizeof fresh);
    inflateInit2(&fresh, -15);
    ok(client_inflate(&fresh, (uint8_t *)zm->data + SIO__RBUF_HEADROOM, zm->len - SIO__RBUF_HEADROOM, &got) == 0 &&
           got.n == 2000 && memcmp(got.p, t, 2000) == 0,
       "message %d inflates alone", k);
    ok(zm->len == za->len, "the same message compresses to the same size each time");
    inflateEnd(&fresh);
    sio__rbuf_unref(zm);
    sio__rbuf_unref(m);
  }
  /* Client messages: each from a fresh client stream, through the shared inflater. */
  z_stream cd, ci;
  for (int k = 0; k < 3; k++) {
    client_init(&cd, &ci, 15);
    buf_t wire = {0};
    client_deflate(&cd, t, 2000, 0, &wire);
    uint8_t *out;
    size_t outlen;
    is_int(sio__pmd_inflate(k & 1 ? a : b, wire.p, wire.n, 5000, &out, &outlen), 0, "client message %d", k);
    is_mem(out, outlen, t, 2000, "... inflated by the shared stream");
    free(out);
    b_free(&wire);
    deflateEnd(&cd);
    inflateEnd(&ci);
  }
  ok(!sio__pmd_has_inflate(a) && !sio__pmd_has_inflate(b), "no inflate stream per connection");
  ok(sio__pmd_ctx_heap_bytes(ctx) > 0, "the shared streams: %zu B", sio__pmd_ctx_heap_bytes(ctx));
  sio__rbuf_unref(za);
  sio__rbuf_unref(zb);
  sio__rbuf_unref(z10);
  sio__rbuf_unref(rb);
  /* server_max_window_bits=8 (a client may ask it): zlib cannot, so uncompressed. */
  sio__pmd_params p8 = params(0, 0, 8, 0);
  sio__pmd *w8 = sio__pmd_new(ctx, &p8);
  sio__rbuf *m = packet(t, 2000, 0), *zm = NULL;
  is_int(sio__pmd_compress_packet(w8, m, &zm), 0, "a window of 8 bits: sent uncompressed");
  is_int(sio__pmd_compress(w8, t, 2000, 0, &zm), 0, "... also for plain bytes");
  sio__rbuf_unref(m);
  /* client_max_window_bits=8: inflated with 9 (what zlib clients really use). */
  sio__pmd_params c8 = params(0, 0, 0, 8);
  sio__pmd *r8 = sio__pmd_new(ctx, &c8);
  client_init(&cd, &ci, 9);
  buf_t wire = {0};
  client_deflate(&cd, t, 2000, 0, &wire);
  uint8_t *out;
  size_t outlen;
  is_int(sio__pmd_inflate(r8, wire.p, wire.n, 5000, &out, &outlen), 0, "window 8 agreed, 9 used by the client");
  is_mem(out, outlen, t, 2000, "... inflates");
  free(out);
  b_free(&wire);
  deflateEnd(&cd);
  inflateEnd(&ci);
  b_free(&got);
  free(t);
  sio__pmd_free(a);
  sio__pmd_free(b);
  sio__pmd_free(w10);
  sio__pmd_free(w8);
  sio__pmd_free(r8);
  sio__pmd_ctx_free(ctx); /* drops the cached frame */
}

/* ---- idle connections --------------------------------------------------------------- */

/* Hibernation keeps only the windows; the peer must not notice. */
static void test_hibernate(void) {
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&c, NULL);
  sio__pmd_params p = params(0, 0, 0, 0);
  sio__pmd *s = sio__pmd_new(ctx, &p);
  z_stream cd, ci;
  client_init(&cd, &ci, 15);
  buf_t got = {0}, wire = {0};
  uint8_t *t = make_text(6000, 11);
  size_t first = 0;
  for (int k = 0; k < 4; k++) {
    /* Our way: compress, (hibernate), compress the same again. */
    sio__rbuf *rb = packet(t, 6000, 0), *z = NULL;
    is_int(sio__pmd_compress_packet(s, rb, &z), 1, "round %d: compressed", k);
    size_t zl = z->len - SIO__RBUF_HEADROOM;
    if (k == 0) first = zl;
    else ok(zl < first / 4, "round %d: the window survived (%zu B, first %zu B)", k, zl, first);
    ok(client_inflate(&ci, (uint8_t *)z->data + SIO__RBUF_HEADROOM, zl, &got) == 0 && got.n == 6000 &&
           memcmp(got.p, t, 6000) == 0,
       "round %d: the client's inflater follows", k);
    sio__rbuf_unref(z);
    sio__rbuf_unref(rb);
    /* Their way: the client refers back to what it sent before. */
    client_deflate(&cd, t, 6000, 0, &wire);
    if (k) ok(wire.n < first / 4, "round %d: the client's repeat is a back-reference", k);
    uint8_t *out = NULL;
    size_t outlen = 0;
    is_int(sio__pmd_inflate(s, wire.p, wire.n, 100000, &out, &outlen), 0, "round %d: inflated", k);
    is_mem(out, outlen, t, 6000, "round %d: ... right", k);
    free(out);
    ok(sio__pmd_has_deflate(s) && sio__pmd_has_inflate(s), "round %d: streams live", k);
    is_int(sio__pmd_ctx_live(ctx), 1, "round %d: one live connection", k);
    size_t live = sio__pmd_heap_bytes(s);
    is_int(sio__pmd_hibernate(s), 0, "round %d: hibernated", k);
    ok(!sio__pmd_has_deflate(s) && !sio__pmd_has_inflate(s), "round %d: streams freed", k);
    is_int(sio__pmd_ctx_live(ctx), 0, "round %d: none live", k);
    size_t idle = sio__pmd_heap_bytes(s);
    size_t window = 6000 * (size_t)(k + 1) < 32768 ? 6000 * (size_t)(k + 1) : 32768; /* seen so far */
    is_int(idle, 80 + 2 * window, "round %d: idle, only the windows: %zu B (live: %zu B)", k, idle, live);
  }
  is_int(sio__pmd_hibernate(s), 0, "hibernating twice is fine");
  free(t);
  b_free(&got);
  b_free(&wire);
  deflateEnd(&cd);
  inflateEnd(&ci);
  sio__pmd_free(s);
  sio__pmd_ctx_free(ctx);
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }
static void closed_cb(uv_handle_t *h) {}

/* On a loop: the idle queue frees the streams after idle_ms. */
static void test_idle_queue(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  c.idle_ms = 30;
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&c, &loop);
  ok(sio__pmd_ctx_idle_queue(ctx) != NULL, "an idle queue with a loop");
  sio__pmd_params p = params(0, 0, 0, 0), nct = params(1, 1, 0, 0);
  sio__pmd *a = sio__pmd_new(ctx, &p), *b = sio__pmd_new(ctx, &p), *n = sio__pmd_new(ctx, &nct);
  uint8_t *t = make_text(3000, 12);
  sio__rbuf *z;
  sio__pmd_compress(a, t, 3000, 0, &z);
  sio__rbuf_unref(z);
  sio__pmd_compress(b, t, 3000, 0, &z);
  sio__rbuf_unref(z);
  sio__pmd_compress(n, t, 3000, 0, &z);
  sio__rbuf_unref(z);
  is_int(sio__pmd_ctx_live(ctx), 2, "two connections with streams of their own (not the shared one)");
  uv_timer_t stop;
  uv_timer_init(&loop, &stop);
  uv_timer_start(&stop, stop_loop, 15, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  sio__pmd_compress(b, t, 3000, 0, &z); /* b stays busy */
  sio__rbuf_unref(z);
  uv_timer_start(&stop, stop_loop, 25, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  ok(!sio__pmd_has_deflate(a), "a: idle 40 ms, stream freed");
  ok(sio__pmd_has_deflate(b), "b: used 25 ms ago, stream kept");
  is_int(sio__pmd_ctx_live(ctx), 1, "one live");
  uv_timer_start(&stop, stop_loop, 40, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  is_int(sio__pmd_ctx_live(ctx), 0, "then none");
  sio__pmd_free(a);
  sio__pmd_free(b);
  sio__pmd_free(n);
  free(t);
  uv_close((uv_handle_t *)&stop, closed_cb);
  sio__tq_close(sio__pmd_ctx_idle_queue(ctx), closed_cb);
  uv_run(&loop, UV_RUN_DEFAULT);
  sio__pmd_ctx_free(ctx);
  is_int(uv_loop_close(&loop), 0, "every handle closed");
}

/* ---- the inflate bound ------------------------------------------------------------ */

static void test_inflate_bound(void) {
  sio__pmd_config c;
  sio__pmd_config_init(&c);
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&c, NULL);
  sio__pmd_params p = params(0, 0, 0, 0);
  z_stream cd, ci;
  client_init(&cd, &ci, 15);
  /* 64 MB of zeros deflates to ~64 KB. */
  size_t bomb = 64u << 20;
  uint8_t *zeros = calloc(1, bomb);
  buf_t wire = {0};
  client_deflate(&cd, zeros, bomb, 0, &wire);
  free(zeros);
  ok(wire.n < 100000, "the bomb: %zu B on the wire", wire.n);
  sio__pmd *s = sio__pmd_new(ctx, &p);
  uint8_t *out = (uint8_t *)1;
  size_t outlen = 7;
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 1000000, &out, &outlen), 1009, "inflated past max: 1009");
  ok(out == (uint8_t *)1 && outlen == 7, "... nothing returned");
  sio__pmd_free(s);
  /* Exactly max is fine, max + 1 is not. */
  uint8_t *t = make_text(5000, 2);
  for (size_t max = 4998; max <= 5001; max++) {
    s = sio__pmd_new(ctx, &p);
    z_stream d2, i2;
    client_init(&d2, &i2, 15);
    client_deflate(&d2, t, 5000, 0, &wire);
    int r = sio__pmd_inflate(s, wire.p, wire.n, max, &out, &outlen);
    is_int(r, max >= 5000 ? 0 : 1009, "5000 B message, max %zu", max);
    if (!r) free(out);
    deflateEnd(&d2);
    inflateEnd(&i2);
    sio__pmd_free(s);
  }
  /* Not deflate data. */
  s = sio__pmd_new(ctx, &p);
  static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x34};
  is_int(sio__pmd_inflate(s, junk, sizeof junk, 1000, &out, &outlen), 1007, "invalid deflate data: 1007");
  sio__pmd_free(s);
  /* A client outside its agreed window: the second message refers 20000
   * bytes back, into the first, which a 512-byte window no longer holds
   * ("invalid distance too far back"). Within one message zlib may look
   * back into the output itself, so only the carried-over window shows it. */
  sio__pmd_params p9 = params(0, 0, 0, 9);
  s = sio__pmd_new(ctx, &p9);
  uint8_t *noise = make_noise(20000, 5);
  z_stream d3, i3;
  client_init(&d3, &i3, 15);
  client_deflate(&d3, noise, 20000, 0, &wire);
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 100000, &out, &outlen), 0, "window 9: a first message");
  free(out);
  client_deflate(&d3, noise, 20000, 0, &wire);
  ok(wire.n < 1000, "the repeat is a back-reference (%zu B)", wire.n);
  is_int(sio__pmd_inflate(s, wire.p, wire.n, 100000, &out, &outlen), 1007, "a client outside its agreed window: 1007");
  deflateEnd(&d3);
  inflateEnd(&i3);
  sio__pmd_free(s);
  free(noise);
  free(t);
  b_free(&wire);
  deflateEnd(&cd);
  inflateEnd(&ci);
  sio__pmd_ctx_free(ctx);
}

/* ---- through the frame parser ---------------------------------------------------------- */

static unsigned key_seq;

static void put_frame(buf_t *b, unsigned b0, const void *pl, size_t n) {
  uint8_t h[14], key[4];
  size_t hl = 0;
  key_seq++;
  key[0] = (uint8_t)(0x5a ^ key_seq), key[1] = (uint8_t)(key_seq * 3), key[2] = 0x77, key[3] = (uint8_t)(key_seq * 11);
  h[hl++] = (uint8_t)b0;
  if (n <= 125) h[hl++] = (uint8_t)(0x80 | n);
  else if (n <= 0xffff) h[hl++] = 0x80 | 126, h[hl++] = (uint8_t)(n >> 8), h[hl++] = (uint8_t)n;
  else {
    h[hl++] = 0x80 | 127;
    for (int i = 0; i < 8; i++) h[hl++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
  }
  memcpy(h + hl, key, 4);
  hl += 4;
  b_put(b, h, hl);
  size_t at = b->n;
  b_put(b, pl, n);
  for (size_t i = 0; i < n; i++) b->p[at + i] ^= key[i & 3];
}

typedef struct {
  sio__pmd *pmd;
  buf_t log;
  size_t max;
} prec_t;

static void log_msg(prec_t *r, char type, int binary, const void *d, size_t n) {
  char h[32];
  int hl = snprintf(h, sizeof h, "%c%d:%zu:", type, binary, n);
  b_put(&r->log, h, (size_t)hl);
  b_put(&r->log, d, n);
}

static int p_msg(void *ud, int binary, uint8_t *d, size_t n) {
  log_msg(ud, 'M', binary, d, n);
  return 0;
}

static int p_compressed(void *ud, int binary, uint8_t *d, size_t n) {
  prec_t *r = ud;
  uint8_t *out;
  size_t outlen;
  int rc = sio__pmd_inflate(r->pmd, d, n, r->max, &out, &outlen);
  if (rc) return rc;
  log_msg(r, 'Z', binary, out, outlen);
  free(out);
  return 0;
}

static int p_ping(void *ud, uint8_t *d, size_t n) {
  log_msg(ud, 'I', 0, d, n);
  return 0;
}

static const sio__ws_parser_cbs pcbs = {p_msg, p_ping, NULL, NULL, p_compressed};

/* Feeds stream in pieces of `step` bytes (0: whole); returns the feed
 * result and leaves the log in r. */
static int run(const buf_t *stream, size_t step, int allow, size_t max, prec_t *r) {
  static sio__pmd_ctx *ctx;
  if (!ctx) {
    sio__pmd_config c;
    sio__pmd_config_init(&c);
    ctx = sio__pmd_ctx_new(&c, NULL);
  }
  sio__pmd_params p = params(0, 0, 0, 0);
  memset(r, 0, sizeof *r);
  r->pmd = sio__pmd_new(ctx, &p);
  r->max = max;
  sio__ws_parser ps;
  sio__ws_parser_init(&ps, max);
  if (allow) sio__ws_parser_allow_compressed(&ps);
  int rc = 0;
  size_t pos = 0;
  while (pos < stream->n && !rc) {
    size_t n = step && stream->n - pos > step ? step : stream->n - pos;
    uint8_t *piece = malloc(n);
    memcpy(piece, stream->p + pos, n);
    rc = sio__ws_parser_feed(&ps, piece, n, &pcbs, r);
    free(piece);
    pos += n;
  }
  sio__ws_parser_free(&ps);
  sio__pmd_free(r->pmd);
  return rc;
}

static void test_parser(void) {
  z_stream cd, ci;
  client_init(&cd, &ci, 15);
  uint8_t *t1 = make_text(3000, 4), *t2 = make_text(900, 6);
  buf_t z1 = {0}, z2 = {0}, stream = {0};
  client_deflate(&cd, t1, 3000, 0, &z1);
  client_deflate(&cd, t2, 900, 0, &z2); /* refers back to message 1: order matters */
  /* Message 1 fragmented in three, a ping in between; then an uncompressed
   * text message; then message 2 in one frame; then a compressed binary
   * message fragmented with an empty last fragment. */
  size_t a = z1.n / 3, b = 2 * z1.n / 3;
  put_frame(&stream, 0x40 | SIO__WS_OP_TEXT, z1.p, a);
  put_frame(&stream, SIO__WS_OP_CONT, z1.p + a, b - a);
  put_frame(&stream, 0x80 | SIO__WS_OP_PING, "p", 1);
  put_frame(&stream, 0x80 | SIO__WS_OP_CONT, z1.p + b, z1.n - b);
  put_frame(&stream, 0x80 | SIO__WS_OP_TEXT, "plain", 5);
  put_frame(&stream, 0xC0 | SIO__WS_OP_TEXT, z2.p, z2.n);
  buf_t z3 = {0};
  uint8_t *noise = make_noise(1500, 8);
  client_deflate(&cd, noise, 1500, 0, &z3);
  put_frame(&stream, 0x40 | SIO__WS_OP_BINARY, z3.p, z3.n);
  put_frame(&stream, 0x80 | SIO__WS_OP_CONT, "", 0);
  prec_t r;
  prec_t w = {0};
  log_msg(&w, 'I', 0, "p", 1); /* the ping comes between the fragments: first */
  log_msg(&w, 'Z', 0, t1, 3000);
  log_msg(&w, 'M', 0, "plain", 5);
  log_msg(&w, 'Z', 0, t2, 900);
  log_msg(&w, 'Z', 1, noise, 1500);
  is_int(run(&stream, 0, 1, 100000, &r), 0, "the stream parses whole");
  is_mem(r.log.p, r.log.n, w.log.p, w.log.n, "fragmented compressed messages, in order");
  b_free(&r.log);
  int all = 1;
  for (size_t step = 1; step <= 64 && all; step++) {
    int rc = run(&stream, step, 1, 100000, &r);
    all = rc == 0 && r.log.n == w.log.n && memcmp(r.log.p, w.log.p, w.log.n) == 0;
    if (!all) printf("# step %zu: rc %d\n", step, rc);
    b_free(&r.log);
  }
  ok(all, "the same split every 1..64 bytes");
  /* Without negotiation, RSV1 is a protocol error at the first frame. */
  is_int(run(&stream, 0, 0, 100000, &r), 1002, "RSV1 without permessage-deflate: 1002");
  is_int((int)r.log.n, 0, "... nothing delivered");
  b_free(&r.log);
  /* The wire bytes count against max too, and the inflated size. */
  is_int(run(&stream, 0, 1, z1.n - 1, &r), 1009, "compressed bytes over max: 1009");
  b_free(&r.log);
  is_int(run(&stream, 0, 1, 2999, &r), 1009, "inflated bytes over max: 1009 (on_compressed's code)");
  b_free(&r.log);
  /* Where RSV1 may not be. */
  struct {
    unsigned b0;
    const char *what;
  } bad[] = {
      {0x80 | 0x40 | SIO__WS_OP_PING, "RSV1 on a ping"},
      {0x80 | 0x40 | SIO__WS_OP_CLOSE, "RSV1 on a close"},
      {0x80 | 0x20 | SIO__WS_OP_TEXT, "RSV2"},
      {0x80 | 0x10 | SIO__WS_OP_BINARY, "RSV3"},
      {0xC0 | 0x20 | SIO__WS_OP_TEXT, "RSV1 and RSV2"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    buf_t s1 = {0};
    put_frame(&s1, bad[i].b0, z2.p, z2.n < 100 ? z2.n : 100);
    is_int(run(&s1, 0, 1, 100000, &r), 1002, "%s: 1002", bad[i].what);
    b_free(&r.log);
    b_free(&s1);
  }
  buf_t s2 = {0};
  put_frame(&s2, 0x40 | SIO__WS_OP_TEXT, z2.p, 10);
  put_frame(&s2, 0x80 | 0x40 | SIO__WS_OP_CONT, z2.p + 10, z2.n - 10);
  is_int(run(&s2, 0, 1, 100000, &r), 1002, "RSV1 on a continuation frame: 1002");
  b_free(&r.log);
  b_free(&s2);
  /* A compressed text message is UTF-8 checked after inflation, not before. */
  static const uint8_t bad_utf8[] = {'a', 0xff, 'b'};
  buf_t zb = {0}, s3 = {0};
  z_stream d4, i4;
  client_init(&d4, &i4, 15);
  client_deflate(&d4, bad_utf8, 3, 0, &zb);
  put_frame(&s3, 0xC0 | SIO__WS_OP_TEXT, zb.p, zb.n);
  is_int(run(&s3, 0, 1, 100, &r), 0, "the parser passes compressed text through");
  is_mem(r.log.p, r.log.n, "Z0:3:a\xff" "b", 8, "... (the connection checks it inflated)");
  b_free(&r.log);
  deflateEnd(&d4);
  inflateEnd(&i4);
  b_free(&zb);
  b_free(&s3);
  b_free(&w.log);
  b_free(&z1);
  b_free(&z2);
  b_free(&z3);
  b_free(&stream);
  free(t1);
  free(t2);
  free(noise);
  deflateEnd(&cd);
  inflateEnd(&ci);
}

int main(void) {
  test_vectors();
  test_negotiate_params();
  test_joined_header();
  test_round_trip_context_takeover();
  test_threshold_zero();
  test_no_context_takeover();
  test_hibernate();
  test_idle_queue();
  test_inflate_bound();
  test_parser();
  return tap_done();
}
