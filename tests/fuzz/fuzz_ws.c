/* Fuzz target for the WebSocket frame parser (lib/src/ws/ws_codec.c).
 *
 * The input is a raw client byte stream. It is parsed three ways: in one
 * piece, in two pieces cut at a point derived from the first byte, and (for
 * inputs up to 512 bytes) one byte at a time. Every piece lives in its own
 * exact-size allocation so ASan sees any read past a chunk, and the parser
 * must not keep pointers into it after feed returns.
 *
 * Besides "no crash, no leak", the target checks properties and abort()s on
 * violation: all three ways give the same result and the same callbacks with
 * the same payloads; text messages and close reasons are valid UTF-8; sizes
 * respect the limits; heap use stays within max_message + 125; errors and
 * STOPPED are sticky; heap is 0 once parsing ended.
 *
 * If the last input byte is 0xF0..0xFF, the callbacks stop parsing at event
 * number (byte & 7) + 1, to exercise the SIO__WS_STOPPED path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "ws/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_MESSAGE 1024

typedef struct {
  uint64_t hash;
  size_t events;
  size_t stop_at;
  const sio__ws_parser *p;
} fz_rec;

static void fz_check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "fuzz_ws: property violated: %s\n", what);
    abort();
  }
}

/* FNV-1a over a typed event record: order, types and payloads all count. */
static void fz_mix(fz_rec *r, unsigned type, unsigned arg, const void *d, size_t n) {
  const uint8_t *s = d;
  uint64_t h = r->hash ? r->hash : 1469598103934665603ull;
  uint8_t head[12] = {(uint8_t)type, (uint8_t)arg, (uint8_t)(arg >> 8), (uint8_t)n,
                      (uint8_t)(n >> 8), (uint8_t)(n >> 16)};
  for (size_t i = 0; i < sizeof head; i++) h = (h ^ head[i]) * 1099511628211ull;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
  r->hash = h;
}

static int fz_event(fz_rec *r, unsigned type, unsigned arg, const void *d, size_t n) {
  fz_check(d != NULL, "callback pointer is NULL");
  fz_check(sio__ws_parser_heap_bytes(r->p) <= FZ_MAX_MESSAGE + 125, "heap above bound in callback");
  fz_mix(r, type, arg, d, n);
  return ++r->events == r->stop_at;
}

static int fz_msg(void *ud, int binary, uint8_t *d, size_t n) {
  fz_check(n <= FZ_MAX_MESSAGE, "message above max_message");
  fz_check(binary || sio__utf8_valid(d, n), "text message not valid UTF-8");
  if (n) { /* must be writable: ASan flags a bad pointer here */
    volatile uint8_t *v = d;
    v[n - 1] = v[n - 1];
  }
  return fz_event(ud, 'M', (unsigned)binary, d, n);
}

static int fz_ping(void *ud, uint8_t *d, size_t n) {
  fz_check(n <= 125, "ping payload above 125");
  return fz_event(ud, 'I', 0, d, n);
}

static int fz_pong(void *ud, uint8_t *d, size_t n) {
  fz_check(n <= 125, "pong payload above 125");
  return fz_event(ud, 'O', 0, d, n);
}

static int fz_close(void *ud, unsigned code, const char *reason, size_t n) {
  fz_check(code == 1005 || (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
               (code >= 3000 && code <= 4999),
           "close code out of range");
  fz_check(n <= 123 && (code != 1005 || n == 0), "close reason length");
  fz_check(sio__utf8_valid((const uint8_t *)reason, n), "close reason not valid UTF-8");
  return fz_event(ud, 'C', code, reason, n);
}

static const sio__ws_parser_cbs fz_cbs = {fz_msg, fz_ping, fz_pong, fz_close, NULL};

/* Parses data cut at cuts[0..ncuts) (ascending). Returns the first nonzero
 * feed result, or 0. */
static int fz_run(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts,
                  size_t stop_at, fz_rec *r) {
  sio__ws_parser p;
  int result = 0;
  size_t from = 0;
  sio__ws_parser_init(&p, FZ_MAX_MESSAGE);
  memset(r, 0, sizeof *r);
  r->stop_at = stop_at;
  r->p = &p;
  for (size_t c = 0; c <= ncuts; c++) {
    size_t to = c < ncuts ? cuts[c] : size, n = to - from;
    uint8_t *piece = n ? malloc(n) : NULL;
    int rc;
    if (n) memcpy(piece, data + from, n);
    rc = sio__ws_parser_feed(&p, piece, n, &fz_cbs, r);
    free(piece);
    fz_check(rc == 0 || rc == SIO__WS_STOPPED || rc == 1002 || rc == 1007 || rc == 1009,
             "unexpected feed result");
    if (!result) result = rc;
    else fz_check(rc == result, "terminal result not sticky");
    fz_check(sio__ws_parser_heap_bytes(&p) <= FZ_MAX_MESSAGE + 125, "heap above bound");
    if (result) fz_check(sio__ws_parser_heap_bytes(&p) == 0, "heap kept after the end");
    from = to;
  }
  sio__ws_parser_free(&p);
  fz_check(sio__ws_parser_heap_bytes(&p) == 0, "heap kept after free");
  return result;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_rec one, two, bytes;
  size_t stop_at = 0, cut;
  int r1, r2;
  if (size && data[size - 1] >= 0xF0) stop_at = (data[size - 1] & 7u) + 1;

  r1 = fz_run(data, size, NULL, 0, stop_at, &one);

  cut = size ? (size_t)data[0] * (size + 1) / 256 : 0;
  r2 = fz_run(data, size, &cut, 1, stop_at, &two);
  fz_check(r1 == r2, "split changed the result");
  fz_check(one.events == two.events && one.hash == two.hash, "split changed the callbacks");

  if (size <= 512 && size > 1) {
    size_t *cuts = malloc((size - 1) * sizeof *cuts);
    for (size_t i = 0; i + 1 < size; i++) cuts[i] = i + 1;
    int r3 = fz_run(data, size, cuts, size - 1, stop_at, &bytes);
    free(cuts);
    fz_check(r1 == r3, "byte-at-a-time changed the result");
    fz_check(one.events == bytes.events && one.hash == bytes.hash,
             "byte-at-a-time changed the callbacks");
  }
  return 0;
}
