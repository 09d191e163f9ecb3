/* Tests for the RFC 6455 codec (lib/src/ws/ws_codec.c).
 *
 * Frames are built here with a test-local encoder (masked with a key that
 * changes every frame, so mask-rotation bugs show). A recorder serialises
 * every callback into a byte log, so "same callbacks with the same payloads"
 * is one memcmp; that is how every split of a stream is compared with the
 * one-shot parse. */
#include "ws/ws_codec.h"

#include <stdlib.h>

#include "tap.h"

/* ---- byte buffers and the frame encoder ---------------------------------- */

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

static unsigned key_seq;

/* Appends a frame with raw first byte b0 (FIN|RSV|opcode). lenform forces the
 * length encoding: 0 minimal, 7, 16 or 64. */
static void put_frame_ex(buf_t *b, unsigned b0, int masked, const void *pl, size_t n, int lenform) {
  uint8_t h[14], key[4];
  size_t hl = 0, at;
  uint8_t mbit = masked ? 0x80 : 0;
  key_seq++;
  key[0] = (uint8_t)(0x37 ^ key_seq), key[1] = (uint8_t)(0xfa + key_seq * 3);
  key[2] = (uint8_t)(0x21 + key_seq * 7), key[3] = (uint8_t)(0x3d ^ (key_seq * 13));
  if (!lenform) lenform = n <= 125 ? 7 : n <= 0xffff ? 16 : 64;
  h[hl++] = (uint8_t)b0;
  if (lenform == 7) {
    h[hl++] = (uint8_t)(mbit | n);
  } else if (lenform == 16) {
    h[hl++] = mbit | 126, h[hl++] = (uint8_t)(n >> 8), h[hl++] = (uint8_t)n;
  } else {
    h[hl++] = mbit | 127;
    for (int i = 0; i < 8; i++) h[hl++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
  }
  if (masked) memcpy(h + hl, key, 4), hl += 4;
  b_put(b, h, hl);
  at = b->n;
  b_put(b, pl, n);
  if (masked)
    for (size_t i = 0; i < n; i++) b->p[at + i] ^= key[i & 3];
}

static void put_frame(buf_t *b, int fin, unsigned op, const void *pl, size_t n) {
  put_frame_ex(b, (fin ? 0x80u : 0) | op, 1, pl, n, 0);
}

static void put_str(buf_t *b, int fin, unsigned op, const char *s) {
  put_frame(b, fin, op, s, strlen(s));
}

static void put_close(buf_t *b, unsigned code, const char *reason) {
  uint8_t pl[200] = {(uint8_t)(code >> 8), (uint8_t)code};
  size_t n = strlen(reason);
  memcpy(pl + 2, reason, n);
  put_frame(b, 1, SIO__WS_OP_CLOSE, pl, n + 2);
}

/* Valid UTF-8 of exactly n bytes mixing 1- to 4-byte characters. */
static uint8_t *make_text(size_t n) {
  static const char *chars[] = {"a", "\xc3\xa9", "Z", "\xe2\x82\xac", "q", "\xf0\x9f\x98\x80"};
  uint8_t *t = malloc(n + 1);
  size_t i = 0, k = 0;
  while (n - i >= 4) {
    const char *c = chars[k++ % 6];
    memcpy(t + i, c, strlen(c));
    i += strlen(c);
  }
  for (; i < n; i++) t[i] = (uint8_t)('a' + i % 26);
  return t;
}

static uint8_t *make_bytes(size_t n, unsigned seed) {
  uint8_t *t = malloc(n + 1);
  for (size_t i = 0; i < n; i++) t[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 8)) ^ (i >> 3));
  return t;
}

/* ---- the recorder --------------------------------------------------------- */

typedef struct {
  buf_t log;
  int events, stop_at;                 /* return 1 from event number stop_at (1-based) */
  const uint8_t *chunk_lo, *chunk_hi;  /* the chunk being fed */
  int zero_copy;                       /* events whose pointer lay inside the chunk */
  sio__ws_parser *p;
  size_t heap_in_cb;                   /* max heap bytes seen inside callbacks */
} rec_t;

static void log_event(buf_t *log, char type, unsigned arg, const void *d, size_t n) {
  char h[48];
  int hl = snprintf(h, sizeof h, "%c%u:%zu:", type, arg, n);
  b_put(log, h, (size_t)hl);
  b_put(log, d, n);
  b_put(log, "|", 1);
}

static int rec_event(rec_t *r, char type, unsigned arg, const void *d, size_t n) {
  log_event(&r->log, type, arg, d, n);
  if ((const uint8_t *)d >= r->chunk_lo && (const uint8_t *)d + n <= r->chunk_hi) r->zero_copy++;
  if (r->p && sio__ws_parser_heap_bytes(r->p) > r->heap_in_cb)
    r->heap_in_cb = sio__ws_parser_heap_bytes(r->p);
  return ++r->events == r->stop_at;
}

static int null_messages;

static int cb_msg(void *ud, int binary, uint8_t *d, size_t n) {
  if (!d) null_messages++;
  return rec_event(ud, 'M', (unsigned)binary, d, n);
}
static int cb_ping(void *ud, uint8_t *d, size_t n) { return rec_event(ud, 'I', 0, d, n); }
static int cb_pong(void *ud, uint8_t *d, size_t n) { return rec_event(ud, 'O', 0, d, n); }
static int cb_close(void *ud, unsigned code, const char *reason, size_t n) {
  return rec_event(ud, 'C', code, reason, n);
}

static const sio__ws_parser_cbs cbs = {cb_msg, cb_ping, cb_pong, cb_close, NULL};

/* Event number at which run() makes the recorder stop (0: never). */
static int run_stop_at;

/* Feeds s cut at cuts[0..ncuts) (ascending), each piece in its own exact-size
 * allocation so overreads trip ASan. Returns the first nonzero result (and
 * checks later feeds repeat it, or return 0 after a close). If quiet is given,
 * checks heap is 0 after every feed ending at an offset marked quiet. */
static int run(const buf_t *s, size_t max, const size_t *cuts, size_t ncuts, rec_t *r,
               const uint8_t *quiet, int *heap_bad) {
  sio__ws_parser p;
  int result = 0, sticky_bad = 0;
  size_t from = 0;
  sio__ws_parser_init(&p, max);
  memset(r, 0, sizeof *r);
  r->stop_at = run_stop_at;
  r->p = &p;
  for (size_t c = 0; c <= ncuts; c++) {
    size_t to = c < ncuts ? cuts[c] : s->n, n = to - from;
    uint8_t *piece = malloc(n ? n : 1);
    memcpy(piece, s->p + from, n);
    r->chunk_lo = piece, r->chunk_hi = piece + n;
    int rc = sio__ws_parser_feed(&p, piece, n, &cbs, r);
    r->chunk_lo = r->chunk_hi = NULL;
    free(piece);
    if (!result) result = rc;
    else if (rc != result) sticky_bad = 1; /* errors and STOPPED are terminal */
    if (quiet && heap_bad && quiet[to] && result == 0 && sio__ws_parser_heap_bytes(&p) != 0)
      (*heap_bad)++;
    from = to;
  }
  if (result) {
    uint8_t more[] = "\x81\x80xxxx";
    int events = r->events;
    if (sio__ws_parser_feed(&p, more, 6, &cbs, r) != result || r->events != events) sticky_bad = 1;
    if (sio__ws_parser_heap_bytes(&p) != 0) sticky_bad = 1;
  }
  sio__ws_parser_free(&p);
  r->p = NULL;
  if (sticky_bad) result = 12345;
  return result;
}

static int run1(const buf_t *s, size_t max, rec_t *r) { return run(s, max, NULL, 0, r, NULL, NULL); }

/* ---- builders and handshake helpers ---------------------------------------- */

static void test_builders(void) {
  uint8_t h[10];
  is_int(sio__ws_frame_header(h, SIO__WS_OP_TEXT, 0), 2, "header len 0: 2 bytes");
  is_mem(h, 2, "\x81\x00", 2, "header len 0 bytes");
  is_int(sio__ws_frame_header(h, SIO__WS_OP_BINARY, 125), 2, "header len 125: 2 bytes");
  is_mem(h, 2, "\x82\x7d", 2, "header len 125 bytes");
  is_int(sio__ws_frame_header(h, SIO__WS_OP_TEXT, 126), 4, "header len 126: 4 bytes");
  is_mem(h, 4, "\x81\x7e\x00\x7e", 4, "header len 126 bytes");
  is_int(sio__ws_frame_header(h, SIO__WS_OP_TEXT, 65535), 4, "header len 65535: 4 bytes");
  is_mem(h, 4, "\x81\x7e\xff\xff", 4, "header len 65535 bytes");
  is_int(sio__ws_frame_header(h, SIO__WS_OP_BINARY, 65536), 10, "header len 65536: 10 bytes");
  is_mem(h, 10, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10, "header len 65536 bytes");
  is_int(sio__ws_frame_header(h, SIO__WS_OP_TEXT, 0x0102030405060708ull), 10, "header 64-bit");
  is_mem(h, 10, "\x81\x7f\x01\x02\x03\x04\x05\x06\x07\x08", 10, "header 64-bit bytes");
  sio__ws_frame_header(h, SIO__WS_OP_PING, 3);
  is_mem(h, 2, "\x89\x03", 2, "ping header");
  sio__ws_frame_header(h, SIO__WS_OP_PONG, 0);
  is_mem(h, 2, "\x8a\x00", 2, "pong header");
  sio__ws_frame_header(h, SIO__WS_OP_CLOSE, 2);
  is_mem(h, 2, "\x88\x02", 2, "close header");

  uint8_t c[125];
  char reason[300];
  is_int(sio__ws_close_payload(c, 0, "ignored"), 0, "close code 0: empty payload");
  is_int(sio__ws_close_payload(c, 1000, "bye"), 5, "close 1000 bye: length");
  is_mem(c, 5, "\x03\xe8" "bye", 5, "close 1000 bye: bytes");
  is_int(sio__ws_close_payload(c, 4999, NULL), 2, "close with NULL reason");
  is_mem(c, 2, "\x13\x87", 2, "close 4999 code bytes");
  memset(reason, 'a', 200), reason[200] = 0;
  is_int(sio__ws_close_payload(c, 1001, reason), 123, "long ASCII reason truncated to 123");
  memset(reason, 'a', 118), memcpy(reason + 118, "\xe2\x82\xac", 4);
  is_int(sio__ws_close_payload(c, 1001, reason), 123, "reason of exactly 121 bytes kept whole");
  memset(reason, 'a', 119), memcpy(reason + 119, "\xe2\x82\xac", 4);
  is_int(sio__ws_close_payload(c, 1001, reason), 121, "3-byte char across the limit dropped whole");
  memset(reason, 'a', 120), memcpy(reason + 120, "\xf0\x9f\x98\x80zz", 7);
  is_int(sio__ws_close_payload(c, 1001, reason), 122, "4-byte char across the limit dropped whole");
  is_mem(c + 2, 120, reason, 120, "truncated reason bytes");

  char acc[29];
  const char *k = "dGhlIHNhbXBsZSBub25jZQ==";
  is_int(sio__ws_accept_key(k, 24, acc), 0, "accept key computed");
  is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 sample accept key");
  is_int(sio__ws_accept_key("x", 1000, acc), -1, "over-long key refused");
  is_int(sio__ws_key_valid(k, 24), 1, "RFC sample key valid");
  is_int(sio__ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24), 1, "all-zero key valid");
  is_int(sio__ws_key_valid("ab+/0123456789ZZZZZZZw==", 24), 1, "+ and / allowed");
  is_int(sio__ws_key_valid(k, 23), 0, "23 chars invalid");
  is_int(sio__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ===", 25), 0, "25 chars invalid");
  is_int(sio__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=A", 24), 0, "missing == invalid");
  is_int(sio__ws_key_valid("dGhlIHNhbXBsZSBub25jZQAA", 24), 0, "no padding invalid");
  is_int(sio__ws_key_valid("dGhlIHNhbXBsZSBub2-jZQ==", 24), 0, "'-' (base64url) invalid");
  is_int(sio__ws_key_valid("dGhlIHNhbXBsZSBub2 jZQ==", 24), 0, "space invalid");
  is_int(sio__ws_key_valid("dGhlIHNhbXBsZSBub=5jZQ==", 24), 0, "inner '=' invalid");
  is_int(sio__ws_key_valid("", 0), 0, "empty invalid");
  is_int((long long)sizeof(sio__ws_parser) <= (sizeof(void *) == 8 ? 48 : 64), 1,
         "parser struct is small (%zu bytes)", sizeof(sio__ws_parser));
}

/* ---- single frames of every length form ------------------------------------ */

static void test_sizes(void) {
  static const size_t sizes[] = {0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 200000};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    for (int binary = 0; binary <= 1; binary++) {
      size_t n = sizes[i];
      uint8_t *pl = binary ? make_bytes(n, (unsigned)i) : make_text(n);
      buf_t s = {0}, want = {0};
      rec_t r;
      put_frame(&s, 1, binary ? SIO__WS_OP_BINARY : SIO__WS_OP_TEXT, pl, n);
      log_event(&want, 'M', (unsigned)binary, pl, n);
      size_t hl = s.n - n;
      is_int(hl, n <= 125 ? 6 : n <= 65535 ? 8 : 14, "%s %zu: header uses the expected form",
             binary ? "binary" : "text", n);
      is_int(run1(&s, (size_t)-1, &r), 0, "%s %zu one shot: result", binary ? "bin" : "text", n);
      is_mem(r.log.p, r.log.n, want.p, want.n, "%s %zu one shot: payload", binary ? "bin" : "text", n);
      is_int(r.zero_copy, 1, "%s %zu: delivered zero-copy", binary ? "bin" : "text", n);
      is_int(r.heap_in_cb, 0, "%s %zu: no heap used", binary ? "bin" : "text", n);
      b_free(&r.log);

      /* Cut inside the header and inside the payload. */
      size_t cuts[2] = {1, hl + n / 2};
      is_int(run(&s, (size_t)-1, cuts, n ? 2 : 1, &r, NULL, NULL), 0, "%s %zu split: result",
             binary ? "bin" : "text", n);
      is_mem(r.log.p, r.log.n, want.p, want.n, "%s %zu split: payload", binary ? "bin" : "text", n);
      if (n > 1)
        ok(r.heap_in_cb >= n && r.heap_in_cb <= 2 * n + 128, "%s %zu split: heap %zu while assembling",
           binary ? "bin" : "text", n, r.heap_in_cb);
      b_free(&r.log);

      /* The payload is unmasked in place in the caller's buffer. */
      sio__ws_parser p;
      sio__ws_parser_init(&p, (size_t)-1);
      memset(&r, 0, sizeof r);
      is_int(sio__ws_parser_feed(&p, s.p, s.n, &cbs, &r), 0, "%s %zu in place", binary ? "bin" : "text", n);
      is_mem(s.p + hl, n, pl, n, "%s %zu: data unmasked in place", binary ? "bin" : "text", n);
      is_int(sio__ws_parser_heap_bytes(&p), 0, "%s %zu: heap 0 after", binary ? "bin" : "text", n);
      sio__ws_parser_free(&p);
      b_free(&r.log), b_free(&s), b_free(&want), free(pl);
    }
  }

  /* Non-minimal length encodings are accepted, for data and control. */
  for (int form = 16; form <= 64; form += 48) {
    buf_t s = {0}, want = {0};
    rec_t r;
    put_frame_ex(&s, 0x81, 1, "hello", 5, form);
    put_frame_ex(&s, 0x89, 1, "pi", 2, form);
    log_event(&want, 'M', 0, "hello", 5);
    log_event(&want, 'I', 0, "pi", 2);
    is_int(run1(&s, 100, &r), 0, "non-minimal %d-bit lengths accepted", form);
    is_mem(r.log.p, r.log.n, want.p, want.n, "non-minimal %d-bit lengths: events", form);
    b_free(&r.log), b_free(&s), b_free(&want);
  }
}

/* ---- messages, control frames, close -------------------------------------- */

static void test_messages(void) {
  buf_t s = {0}, want = {0};
  rec_t r;
  /* Fragmented text in 3 parts, euro sign split across fragments 1/2, a ping
   * between fragments. */
  put_str(&s, 0, SIO__WS_OP_TEXT, "Hel\xe2");
  put_str(&s, 1, SIO__WS_OP_PING, "p1");
  put_str(&s, 0, SIO__WS_OP_CONT, "\x82\xaclo, ");
  put_str(&s, 1, SIO__WS_OP_CONT, "world");
  log_event(&want, 'I', 0, "p1", 2);
  log_event(&want, 'M', 0, "Hel\xe2\x82\xaclo, world", 15);
  is_int(run1(&s, 1000, &r), 0, "fragmented text with ping: result");
  is_mem(r.log.p, r.log.n, want.p, want.n, "fragmented text with ping: events");
  is_int(r.zero_copy, 1, "only the ping was zero-copy");
  b_free(&r.log), b_free(&s), b_free(&want);

  /* Fragmented binary with empty fragments, and an empty final fragment. */
  uint8_t *bin = make_bytes(300, 9);
  put_frame(&s, 0, SIO__WS_OP_BINARY, "", 0);
  put_frame(&s, 0, SIO__WS_OP_CONT, bin, 200);
  put_frame(&s, 0, SIO__WS_OP_CONT, "", 0);
  put_frame(&s, 1, SIO__WS_OP_CONT, bin + 200, 100);
  put_frame(&s, 0, SIO__WS_OP_TEXT, "", 0);
  put_frame(&s, 1, SIO__WS_OP_CONT, "", 0);
  put_frame(&s, 0, SIO__WS_OP_BINARY, "", 0);
  put_frame(&s, 1, SIO__WS_OP_CONT, "xyz", 3);
  log_event(&want, 'M', 1, bin, 300);
  log_event(&want, 'M', 0, "", 0);
  log_event(&want, 'M', 1, "xyz", 3);
  is_int(run1(&s, 300, &r), 0, "fragmented binary, empty fragments: result");
  is_mem(r.log.p, r.log.n, want.p, want.n, "fragmented binary, empty fragments: events");
  b_free(&r.log), b_free(&s), b_free(&want), free(bin);

  /* Pings and pongs with empty and maximal payloads. */
  uint8_t *big = make_bytes(125, 3);
  put_frame(&s, 1, SIO__WS_OP_PING, "", 0);
  put_frame(&s, 1, SIO__WS_OP_PING, big, 125);
  put_frame(&s, 1, SIO__WS_OP_PONG, "abc", 3);
  put_frame(&s, 1, SIO__WS_OP_PONG, big, 125);
  log_event(&want, 'I', 0, "", 0);
  log_event(&want, 'I', 0, big, 125);
  log_event(&want, 'O', 0, "abc", 3);
  log_event(&want, 'O', 0, big, 125);
  is_int(run1(&s, 0, &r), 0, "ping/pong: result (max_message 0 does not limit control)");
  is_mem(r.log.p, r.log.n, want.p, want.n, "ping/pong: events");
  b_free(&r.log), b_free(&s), b_free(&want);

  /* Close with code and reason; later frames, even in the same chunk, ignored. */
  put_close(&s, 1000, "bye \xc3\xa9");
  put_str(&s, 1, SIO__WS_OP_TEXT, "after close");
  log_event(&want, 'C', 1000, "bye \xc3\xa9", 6);
  is_int(run1(&s, 100, &r), 0, "close 1000: result");
  is_mem(r.log.p, r.log.n, want.p, want.n, "close 1000: event, nothing after");
  b_free(&r.log), b_free(&s), b_free(&want);

  put_frame(&s, 1, SIO__WS_OP_CLOSE, "", 0);
  log_event(&want, 'C', 1005, "", 0);
  is_int(run1(&s, 100, &r), 0, "close without payload: result");
  is_mem(r.log.p, r.log.n, want.p, want.n, "close without payload: code 1005");
  b_free(&r.log), b_free(&s), b_free(&want);

  memset(big, 'r', 123);
  big[123] = 0;
  put_close(&s, 4999, (char *)big);
  log_event(&want, 'C', 4999, big, 123);
  is_int(run1(&s, 100, &r), 0, "close with 123-byte reason: result");
  is_mem(r.log.p, r.log.n, want.p, want.n, "close with 123-byte reason: event");
  b_free(&r.log), b_free(&s), b_free(&want), free(big);

  static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    put_close(&s, good[i], "");
    log_event(&want, 'C', good[i], "", 0);
    is_int(run1(&s, 100, &r), 0, "close code %u accepted", good[i]);
    is_mem(r.log.p, r.log.n, want.p, want.n, "close code %u delivered", good[i]);
    b_free(&r.log), b_free(&s), b_free(&want);
  }
}

/* ---- protocol violations -------------------------------------------------- */

/* Checks result, that no callback fired beyond `want_events` (a log prefix),
 * and that byte-at-a-time feeding gives the same code. */
static void expect_error(const buf_t *s, size_t max, int code, const char *want_log, const char *what) {
  rec_t r;
  size_t *cuts = malloc((s->n + 1) * sizeof *cuts);
  is_int(run1(s, max, &r), code, "%s: one shot", what);
  is_str(r.log.n ? (b_put(&r.log, "", 1), (char *)r.log.p) : "", want_log, "%s: events", what);
  b_free(&r.log);
  for (size_t i = 0; i + 1 < s->n; i++) cuts[i] = i + 1;
  is_int(run(s, max, cuts, s->n ? s->n - 1 : 0, &r, NULL, NULL), code, "%s: byte at a time", what);
  b_free(&r.log);
  free(cuts);
}

static void test_violations(void) {
  buf_t s = {0};
  char what[96];
  uint8_t *big = make_text(1000);

#define BAD(code, log, ...) (snprintf(what, sizeof what, __VA_ARGS__), \
                             expect_error(&s, 100, code, log, what), b_free(&s))
  put_frame_ex(&s, 0x81, 0, "hi", 2, 0);
  BAD(1002, "", "unmasked text frame");
  put_frame_ex(&s, 0x89, 0, "", 0, 0);
  BAD(1002, "", "unmasked empty ping");
  for (unsigned rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
    put_frame_ex(&s, 0x80 | rsv | 1, 1, "hi", 2, 0);
    BAD(1002, "", "RSV bit 0x%x", rsv);
  }
  for (unsigned op = 3; op <= 15; op++) {
    if (op >= 8 && op <= 10) continue;
    put_frame_ex(&s, 0x80 | op, 1, "hi", 2, 0);
    BAD(1002, "", "unknown opcode %u", op);
  }
  for (unsigned op = 8; op <= 10; op++) {
    put_frame_ex(&s, op, 1, "", 0, 0);
    BAD(1002, "", "control opcode %u without FIN", op);
    put_frame_ex(&s, 0x80 | op, 1, big, 126, 16);
    BAD(1002, "", "control opcode %u with 126-byte payload", op);
    put_frame_ex(&s, 0x80 | op, 1, big, 200, 64);
    BAD(1002, "", "control opcode %u with 64-bit length 200", op);
  }
  put_str(&s, 1, SIO__WS_OP_CONT, "x");
  BAD(1002, "", "final continuation without a message");
  put_str(&s, 0, SIO__WS_OP_CONT, "x");
  BAD(1002, "", "continuation without a message");
  put_str(&s, 1, SIO__WS_OP_TEXT, "ok");
  put_str(&s, 1, SIO__WS_OP_CONT, "x");
  BAD(1002, "M0:2:ok|", "continuation after a complete message");
  static const unsigned starts[][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 2}};
  for (size_t i = 0; i < 4; i++) {
    put_str(&s, 0, starts[i][0], "ab");
    put_str(&s, 1, SIO__WS_OP_PING, "");
    put_str(&s, 1, starts[i][1], "cd");
    BAD(1002, "I0:0:|", "opcode %u while fragmented opcode %u in progress", starts[i][1], starts[i][0]);
  }
  s.n = 0, b_put(&s, "\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01\x11\x22\x33\x44", 14);
  BAD(1002, "", "64-bit length with the top bit set");
  s.n = 0, b_put(&s, "\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff\0\0\0\0", 14);
  BAD(1002, "", "64-bit length all ones (header only)");
  put_frame(&s, 1, SIO__WS_OP_CLOSE, "\x03", 1);
  BAD(1002, "", "close payload of 1 byte");
  static const unsigned badcodes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2000,
                                      2999, 5000, 65535};
  for (size_t i = 0; i < sizeof badcodes / sizeof *badcodes; i++) {
    put_close(&s, badcodes[i], "x");
    BAD(1002, "", "close code %u", badcodes[i]);
  }
  put_close(&s, 1000, "bad \xc3");
  BAD(1007, "", "close reason truncated UTF-8");
  put_close(&s, 1000, "\xed\xa0\x80");
  BAD(1007, "", "close reason with a surrogate");
  put_close(&s, 1004, "\xff");
  BAD(1002, "", "bad code is reported before a bad reason");

  /* UTF-8 in text messages. */
  put_str(&s, 1, SIO__WS_OP_TEXT, "a\xc0\x80");
  BAD(1007, "", "overlong in text");
  put_str(&s, 1, SIO__WS_OP_TEXT, "abc\xe2\x82");
  BAD(1007, "", "text ending inside a character");
  put_str(&s, 0, SIO__WS_OP_TEXT, "abc\xe2");
  put_str(&s, 1, SIO__WS_OP_CONT, "\x82");
  BAD(1007, "", "final fragment ends inside a character");
  put_str(&s, 0, SIO__WS_OP_TEXT, "abc\xe2");
  put_str(&s, 1, SIO__WS_OP_CONT, "(x");
  BAD(1007, "", "character broken across fragments");
  put_str(&s, 0, SIO__WS_OP_TEXT, "\xf4\x90");
  BAD(1007, "", "invalid first fragment fails before the message ends");
  put_str(&s, 1, SIO__WS_OP_BINARY, "\xff\xfe\xc0\x80");
  put_str(&s, 1, SIO__WS_OP_TEXT, "\xff");
  BAD(1007, "M1:4:\xff\xfe\xc0\x80|", "binary is not validated, text is");
  memcpy(big + 10, "\xc0", 1);
  put_frame(&s, 1, SIO__WS_OP_TEXT, big, 1000);
  s.n = 8 + 50; /* header and 50 bytes only: the bad byte is at 10 */
  expect_error(&s, 2000, 1007, "", "invalid UTF-8 detected before the frame is complete");
  b_free(&s);
  memcpy(big + 10, "a", 1);

  /* Message size. */
  put_str(&s, 1, SIO__WS_OP_TEXT, "ok");
  put_frame(&s, 1, SIO__WS_OP_BINARY, big, 101);
  BAD(1009, "M0:2:ok|", "101 bytes over max 100");
  put_str(&s, 0, SIO__WS_OP_BINARY, "");
  put_frame(&s, 0, SIO__WS_OP_CONT, big, 40);
  put_frame(&s, 0, SIO__WS_OP_CONT, big, 40);
  put_frame(&s, 1, SIO__WS_OP_CONT, big, 21);
  BAD(1009, "", "fragments 0+40+40+21 over max 100");
  put_frame(&s, 1, SIO__WS_OP_TEXT, big, 101);
  s.n = 6; /* only the header (with its key), no payload */
  BAD(1009, "", "oversize detected from the header alone");
  free(big);
#undef BAD
}

/* Exact-limit cases need a log with binary payloads, checked separately. */
static void test_limits(void) {
  uint8_t *pl = make_text(100);
  buf_t s = {0}, want = {0};
  rec_t r;
  put_frame(&s, 1, SIO__WS_OP_TEXT, pl, 100);
  put_frame(&s, 0, SIO__WS_OP_BINARY, pl, 50);
  put_frame(&s, 1, SIO__WS_OP_CONT, pl + 50, 50);
  log_event(&want, 'M', 0, pl, 100);
  log_event(&want, 'M', 1, pl, 100);
  is_int(run1(&s, 100, &r), 0, "exactly max_message, single and fragmented: result");
  is_mem(r.log.p, r.log.n, want.p, want.n, "exactly max_message: events");
  b_free(&r.log);
  is_int(run1(&s, 99, &r), 1009, "one over max_message: 1009");
  b_free(&r.log), b_free(&s), b_free(&want);

  put_frame(&s, 1, SIO__WS_OP_TEXT, "", 0);
  put_frame(&s, 1, SIO__WS_OP_PING, "p", 1);
  is_int(run1(&s, 0, &r), 0, "max 0 allows empty messages and control frames");
  b_free(&r.log), b_free(&s);
  put_frame(&s, 1, SIO__WS_OP_TEXT, "a", 1);
  is_int(run1(&s, 0, &r), 1009, "max 0 refuses a 1-byte message");
  b_free(&r.log), b_free(&s);

  /* A final frame never makes the buffer grow past the message's end. */
  uint8_t *kb = make_bytes(1000, 4);
  size_t cut = 8 + 600;
  put_frame(&s, 1, SIO__WS_OP_BINARY, kb, 1000);
  is_int(run(&s, 1000000, &cut, 1, &r, NULL, NULL), 0, "1000-byte frame fed as 600 + 400");
  is_int(r.heap_in_cb, 1000, "buffer sized to the frame end, not doubled past it");
  b_free(&r.log), b_free(&s), free(kb);

  /* Heap follows received bytes, not the announced length. */
  sio__ws_parser p;
  uint8_t *mb = make_bytes(5000000, 1);
  put_frame(&s, 1, SIO__WS_OP_BINARY, mb, 5000000);
  sio__ws_parser_init(&p, 10000000);
  memset(&r, 0, sizeof r);
  is_int(sio__ws_parser_feed(&p, s.p, 14 + 1000, &cbs, &r), 0, "5 MB frame: first 1000 bytes");
  ok(sio__ws_parser_heap_bytes(&p) >= 1000 && sio__ws_parser_heap_bytes(&p) <= 4096,
     "heap follows received bytes (%zu), not the 5 MB announced", sio__ws_parser_heap_bytes(&p));
  for (size_t at = 14 + 1000; at < s.n; at += 65536) {
    size_t n = s.n - at < 65536 ? s.n - at : 65536;
    if (sio__ws_parser_feed(&p, s.p + at, n, &cbs, &r) != 0) break;
  }
  is_int(r.events, 1, "5 MB frame delivered in 64 KB reads");
  is_int(sio__ws_parser_heap_bytes(&p), 0, "heap 0 after the big message");
  ok(r.log.n > 5000000 && memcmp(r.log.p + r.log.n - 5000001, mb, 5000000) == 0, "5 MB payload intact");
  sio__ws_parser_free(&p);
  b_free(&r.log), b_free(&s), free(mb), free(pl);
}

/* ---- every split of a realistic stream ------------------------------------ */

/* Builds the stream and marks offsets where the parser must hold no heap:
 * frame boundaries outside a fragmented message. */
static void build_stream(buf_t *s, uint8_t *quiet, int with_close) {
  uint8_t *bin = make_bytes(300, 5), *t130 = make_text(130);
#define Q() (quiet ? quiet[s->n] = 1 : 0)
  Q();
  put_str(s, 1, SIO__WS_OP_TEXT, ""), Q();
  put_str(s, 1, SIO__WS_OP_TEXT, "hello"), Q();
  put_frame(s, 1, SIO__WS_OP_BINARY, bin, 300), Q();
  put_str(s, 1, SIO__WS_OP_PING, "p"), Q();
  put_str(s, 0, SIO__WS_OP_TEXT, "Hel\xe2");
  put_str(s, 1, SIO__WS_OP_PING, "ping-in-fragmented-message");
  put_str(s, 0, SIO__WS_OP_CONT, "\x82\xaclo ");
  put_str(s, 1, SIO__WS_OP_PONG, "");
  put_str(s, 0, SIO__WS_OP_CONT, "w\xf0\x9f");
  put_str(s, 1, SIO__WS_OP_CONT, "\x98\x80!"), Q();
  put_frame(s, 0, SIO__WS_OP_BINARY, "", 0);
  put_frame(s, 0, SIO__WS_OP_CONT, bin, 20);
  put_frame(s, 1, SIO__WS_OP_PING, bin + 100, 125);
  put_frame(s, 1, SIO__WS_OP_CONT, "", 0), Q();
  put_frame_ex(s, 0x81, 1, t130, 130, 64), Q();
  put_frame(s, 1, SIO__WS_OP_PONG, bin, 10), Q();
  if (with_close) put_close(s, 1000, "bye"), Q();
#undef Q
  free(bin), free(t130);
}

static void test_every_split(void) {
  static const char *names[] = {"stream", "stream+close", "stream+error"};
  for (int variant = 0; variant < 3; variant++) {
    buf_t s = {0}, want;
    uint8_t *quiet = calloc(4096, 1);
    rec_t r;
    int want_rc = variant == 2 ? 1002 : 0, bad_log = 0, bad_rc = 0, heap_bad = 0;
    build_stream(&s, quiet, variant == 1);
    if (variant == 2) { /* a fragmented message interrupted by a new one */
      put_str(&s, 0, SIO__WS_OP_TEXT, "ab");
      put_str(&s, 1, SIO__WS_OP_TEXT, "cd");
    }
    is_int(run(&s, 1000, NULL, 0, &r, quiet, &heap_bad), want_rc, "%s one shot: result", names[variant]);
    want = r.log;
    is_int(r.events, variant == 1 ? 12 : 11, "%s one shot: event count", names[variant]);
    if (variant == 0) is_int(r.zero_copy, 9, "stream one shot: unfragmented frames were zero-copy");
    for (size_t cut = 0; cut <= s.n; cut++) {
      int rc = run(&s, 1000, &cut, 1, &r, quiet, &heap_bad);
      if (rc != want_rc) bad_rc++;
      if (r.log.n != want.n || memcmp(r.log.p, want.p, want.n)) bad_log++;
      b_free(&r.log);
    }
    is_int(bad_rc, 0, "%s: every 2-piece split gives the same result", names[variant]);
    is_int(bad_log, 0, "%s: every 2-piece split gives the same callbacks", names[variant]);
    size_t *cuts = malloc(s.n * sizeof *cuts);
    for (size_t i = 0; i + 1 < s.n; i++) cuts[i] = i + 1;
    is_int(run(&s, 1000, cuts, s.n - 1, &r, quiet, &heap_bad), want_rc, "%s byte at a time: result",
           names[variant]);
    is_mem(r.log.p, r.log.n, want.p, want.n, "%s byte at a time: callbacks", names[variant]);
    /* Empty payloads, and the 1-byte ping: its payload is whole in a chunk. */
    is_int(r.zero_copy, 3, "%s byte at a time: only 0/1-byte payloads in-chunk",
           names[variant]);
    b_free(&r.log);
    is_int(heap_bad, 0, "%s: heap 0 at every message boundary, under every split", names[variant]);

    /* Three pieces, pseudo-random cuts. */
    uint64_t x = 88172645463325252ull;
    bad_log = 0;
    for (int it = 0; it < 3000; it++) {
      size_t c3[2];
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      c3[0] = x % (s.n + 1), c3[1] = (x >> 32) % (s.n + 1);
      if (c3[0] > c3[1]) { size_t t = c3[0]; c3[0] = c3[1], c3[1] = t; }
      if (run(&s, 1000, c3, 2, &r, quiet, &heap_bad) != want_rc || r.log.n != want.n ||
          memcmp(r.log.p, want.p, want.n))
        bad_log++;
      b_free(&r.log);
    }
    is_int(bad_log, 0, "%s: 3000 random 3-piece splits match", names[variant]);
    free(cuts), free(quiet), b_free(&want), b_free(&s);
  }
}

/* Stopping from each callback in turn, under every split. */
static void test_stop(void) {
  buf_t s = {0};
  rec_t r;
  build_stream(&s, NULL, 1);
  for (int k = 1; k <= 12; k++) {
    int bad = 0;
    buf_t want;
    run_stop_at = k;
    is_int(run(&s, 1000, NULL, 0, &r, NULL, NULL), SIO__WS_STOPPED, "stop at event %d: STOPPED", k);
    is_int(r.events, k, "stop at event %d: no callback after it", k);
    want = r.log;
    for (size_t cut = 0; cut <= s.n; cut++) {
      if (run(&s, 1000, &cut, 1, &r, NULL, NULL) != SIO__WS_STOPPED || r.log.n != want.n ||
          memcmp(r.log.p, want.p, want.n))
        bad++;
      b_free(&r.log);
    }
    is_int(bad, 0, "stop at event %d: same under every split", k);
    b_free(&want);
  }
  run_stop_at = 0;
  b_free(&s);
}

static void test_lifecycle(void) {
  sio__ws_parser p;
  buf_t s = {0};
  rec_t r;
  uint8_t *pl = make_bytes(1000, 2);
  put_frame(&s, 1, SIO__WS_OP_BINARY, pl, 1000);
  sio__ws_parser_init(&p, 5000);
  memset(&r, 0, sizeof r);
  is_int(sio__ws_parser_feed(&p, s.p, 500, &cbs, &r), 0, "half a frame");
  ok(sio__ws_parser_heap_bytes(&p) >= 492, "heap held mid-frame (%zu)", sio__ws_parser_heap_bytes(&p));
  sio__ws_parser_free(&p);
  is_int(sio__ws_parser_heap_bytes(&p), 0, "free releases the heap");
  sio__ws_parser_free(&p);
  is_int(sio__ws_parser_feed(&p, s.p + 500, s.n - 500, &cbs, &r), SIO__WS_STOPPED,
         "feed after free is refused");
  is_int(r.events, 0, "no callback after free");
  b_free(&s);
  put_frame(&s, 1, SIO__WS_OP_BINARY, pl, 1000);
  sio__ws_parser_init(&p, 5000);
  is_int(sio__ws_parser_feed(&p, s.p, s.n, &cbs, &r), 0, "re-initialised parser works");
  is_int(r.events, 1, "re-initialised parser delivered");
  is_int(sio__ws_parser_feed(&p, NULL, 0, &cbs, &r), 0, "empty feed with NULL data");
  sio__ws_parser_free(&p);
  b_free(&r.log), b_free(&s);

  /* NULL callbacks behave as "go on"; close still ends parsing. */
  static const sio__ws_parser_cbs none = {0};
  build_stream(&s, NULL, 1);
  put_frame_ex(&s, 0x81, 0, "unmasked", 8, 0);
  sio__ws_parser_init(&p, 1000);
  is_int(sio__ws_parser_feed(&p, s.p, s.n, &none, NULL), 0, "NULL callbacks: parsed up to close");
  is_int(sio__ws_parser_feed(&p, s.p, s.n, NULL, NULL), 0, "after close, input ignored");
  is_int(sio__ws_parser_heap_bytes(&p), 0, "after close, no heap");
  sio__ws_parser_free(&p);
  b_free(&s), free(pl);
}

int main(void) {
  test_builders();
  test_sizes();
  test_messages();
  test_violations();
  test_limits();
  test_every_split();
  test_stop();
  test_lifecycle();
  is_int(null_messages, 0, "on_message never got a NULL pointer");
  return tap_done();
}
