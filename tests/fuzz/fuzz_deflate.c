/* Fuzz target for permessage-deflate (lib/src/ws/ws_deflate.c) and the
 * frame parser's RSV1 path (lib/src/ws/ws_codec.c).
 *
 * Input layout: byte 0 picks the server configuration (bits 0-1 server
 * no-context-takeover as offered / always / refused, bit 2 client
 * no-context-takeover always, bits 3-4 our and the client's window limits,
 * bit 5 threshold 0, bit 6 hibernate every stream after each message of
 * the first run, to show it changes nothing). The bytes up to the first 0x00 (at most 512) are a
 * Sec-WebSocket-Extensions value; the rest is a client byte stream of
 * frames, with RSV1 allowed.
 *
 * Properties (abort() on violation):
 *  - negotiation: -1, 0 or 1; an accepted answer is well-formed and, given
 *    back as an offer to a default server, accepted as is (same answer);
 *  - the stream gives the same result and the same messages parsed whole
 *    and split at a point taken from the data; every compressed message
 *    inflates to at most FZ_MAX bytes (else 1009), bad data to 1007; what
 *    a connection would hand up as text is valid UTF-8;
 *  - every inflated message, compressed again by a server connection with
 *    the agreed parameters and inflated by an independent peer (a second
 *    sio__pmd playing the client), comes back identical; with context
 *    takeover the streams carry over between messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "ws/ws_codec.h"
#include "ws/ws_deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX 8192

static void fz_check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "fuzz_deflate: property violated: %s\n", what);
    abort();
  }
}

typedef struct {
  sio__pmd *in;         /* the server side: inflates what the client sent */
  sio__pmd *out, *peer; /* the round trip: our compressor, a peer's inflater */
  uint64_t hash;
  size_t events;
  int hibernate; /* free the streams after each message, keeping the windows */
} fz_rec;

static void fz_mix(fz_rec *r, unsigned type, const uint8_t *d, size_t n) {
  uint64_t h = r->hash ? r->hash : 1469598103934665603ull;
  h = (h ^ type) * 1099511628211ull;
  h = (h ^ n) * 1099511628211ull;
  for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
  r->hash = h;
  r->events++;
}

/* Compresses msg with our server side and inflates it as the peer would. */
static void fz_round_trip(fz_rec *r, const uint8_t *msg, size_t n, int binary) {
  sio__rbuf *z = NULL;
  int c = sio__pmd_compress(r->out, msg, n, binary, &z);
  fz_check(c >= 0, "compression failed");
  if (c == 0) return; /* below the threshold */
  uint8_t *back = NULL;
  size_t blen = 0;
  int rc = sio__pmd_inflate(r->peer, (const uint8_t *)z->data + SIO__RBUF_HEADROOM,
                            z->len - SIO__RBUF_HEADROOM, FZ_MAX, &back, &blen);
  fz_check(rc == 0, "our own compressed message does not inflate");
  fz_check(blen == n && (n == 0 || memcmp(back, msg, n) == 0), "round trip changed the message");
  free(back);
  sio__rbuf_unref(z);
  if (r->hibernate) {
    fz_check(sio__pmd_hibernate(r->out) == 0 && sio__pmd_hibernate(r->peer) == 0, "hibernate");
    fz_check(!sio__pmd_has_deflate(r->out) && !sio__pmd_has_inflate(r->peer), "streams kept");
  }
}

static int fz_msg(void *ud, int binary, uint8_t *d, size_t n) {
  fz_check(n <= FZ_MAX, "message above max");
  fz_mix(ud, binary ? 'B' : 'T', d, n);
  return 0;
}

static int fz_compressed(void *ud, int binary, uint8_t *d, size_t n) {
  fz_rec *r = ud;
  fz_check(n <= FZ_MAX, "compressed bytes above max");
  uint8_t *msg = NULL;
  size_t len = 0;
  int rc = sio__pmd_inflate(r->in, d, n, FZ_MAX, &msg, &len);
  fz_check(rc == 0 || rc == 1009 || rc == 1007 || rc == 1011, "unexpected inflate result");
  if (rc) return rc;
  fz_check(msg != NULL && len <= FZ_MAX, "inflated above max");
  if (!binary && !sio__utf8_valid(msg, len)) {
    free(msg);
    return 1007; /* what ws_conn.c does */
  }
  fz_mix(r, binary ? 'b' : 't', msg, len);
  if (r->hibernate) fz_check(sio__pmd_hibernate(r->in) == 0, "hibernate");
  if (r->out) fz_round_trip(r, msg, len, binary);
  free(msg);
  return 0;
}

static int fz_ctl(void *ud, uint8_t *d, size_t n) {
  fz_mix(ud, 'P', d, n);
  return 0;
}

static int fz_close(void *ud, unsigned code, const char *reason, size_t n) {
  fz_mix(ud, 'C', (const uint8_t *)reason, n);
  return 0;
}

static const sio__ws_parser_cbs fz_cbs = {fz_msg, fz_ctl, fz_ctl, fz_close, fz_compressed};

static void fz_config(uint8_t b, sio__pmd_config *c) {
  sio__pmd_config_init(c);
  c->server_nct = (b & 3) == 1 ? 1 : (b & 3) == 2 ? -1 : 0;
  c->client_nct = (b >> 2) & 1;
  c->server_max_wbits = (b >> 3) & 1 ? 10 : 0;
  c->client_max_wbits = (b >> 4) & 1 ? 11 : 0;
  c->threshold = (b >> 5) & 1 ? 0 : 64;
}

static int fz_stream(sio__pmd_ctx *ctx, const sio__pmd_params *p, const uint8_t *data, size_t size,
                     size_t cut, int round_trip, int hibernate, fz_rec *r) {
  sio__ws_parser ps;
  memset(r, 0, sizeof *r);
  r->hibernate = hibernate;
  r->in = sio__pmd_new(ctx, p);
  if (round_trip) {
    /* The peer inflates what the server compressed: its "client" side is
     * our server side (context takeover and window). */
    sio__pmd_params q = *p;
    q.client_nct = p->server_nct;
    q.client_wbits = p->server_wbits;
    r->out = sio__pmd_new(ctx, p);
    r->peer = sio__pmd_new(ctx, &q);
  }
  fz_check(r->in && (!round_trip || (r->out && r->peer)), "out of memory");
  sio__ws_parser_init(&ps, FZ_MAX);
  sio__ws_parser_allow_compressed(&ps);
  int result = 0;
  size_t from = 0;
  for (int k = 0; k < 2 && !result; k++) {
    size_t to = k == 0 ? cut : size, n = to - from;
    uint8_t *piece = n ? malloc(n) : NULL;
    if (n) memcpy(piece, data + from, n);
    result = sio__ws_parser_feed(&ps, piece, n, &fz_cbs, r);
    free(piece);
    from = to;
  }
  fz_check(result == 0 || result == 1002 || result == 1007 || result == 1009 || result == 1011,
           "unexpected feed result");
  sio__ws_parser_free(&ps);
  sio__pmd_free(r->in);
  sio__pmd_free(r->out);
  sio__pmd_free(r->peer);
  return result;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  sio__pmd_config cfg;
  uint8_t mode = data[0];
  fz_config(mode, &cfg);
  data++, size--;
  size_t hlen = 0;
  while (hlen < size && hlen < 512 && data[hlen]) hlen++;
  sio__pmd_params p;
  int neg = sio__pmd_negotiate(&cfg, (const char *)data, hlen, &p);
  fz_check(neg >= -1 && neg <= 1, "negotiation result");
  if (neg == 1) {
    char answer[128], again[128];
    size_t alen = sio__pmd_format(&p, answer, sizeof answer);
    fz_check(alen > 0 && alen < sizeof answer && strlen(answer) == alen, "answer formatted");
    fz_check(p.n <= 4, "parameter count");
    fz_check(!p.server_wbits || (p.server_wbits >= 8 && p.server_wbits <= 15), "server window");
    fz_check(!p.client_wbits || (p.client_wbits >= 8 && p.client_wbits <= 15), "client window");
    sio__pmd_config def;
    sio__pmd_config_init(&def);
    sio__pmd_params q;
    fz_check(sio__pmd_negotiate(&def, answer, alen, &q) == 1, "the answer, as an offer, is not accepted");
    sio__pmd_format(&q, again, sizeof again);
    fz_check(strcmp(answer, again) == 0, "the answer, as an offer, changes");
  } else {
    memset(&p, 0, sizeof p); /* the stream is still parsed, as if agreed by default */
  }
  const uint8_t *stream = data + hlen + (hlen < size);
  size_t slen = size - hlen - (hlen < size);
  sio__pmd_ctx *ctx = sio__pmd_ctx_new(&cfg, NULL);
  fz_check(ctx != NULL, "context");
  fz_rec one, two;
  size_t cut = slen ? (size_t)stream[0] * (slen + 1) / 256 : 0;
  int r1 = fz_stream(ctx, &p, stream, slen, slen, 1, (mode >> 6) & 1, &one);
  int r2 = fz_stream(ctx, &p, stream, slen, cut, 0, 0, &two);
  fz_check(r1 == r2, "split changed the result");
  fz_check(one.events == two.events && one.hash == two.hash, "split changed the messages");
  sio__pmd_ctx_free(ctx);
  return 0;
}
