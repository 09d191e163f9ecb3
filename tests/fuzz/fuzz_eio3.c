/* Fuzz target for the Engine.IO v3 codec (eio/eio_codec.h, sio__eio3_*).
 *
 * Each input goes, in its own exact-size heap copy (the decoders write in
 * place; ASan sees any read past the end), through the text payload decoder,
 * the binary (octet-stream) payload decoder and the single-packet decoder in
 * text and binary-frame mode. Besides "no crash, no leak", it aborts when a
 * property fails:
 *   - decoded data lies inside the input buffer, types are 0..6, and a
 *     binary packet is a message;
 *   - text messages out of a payload are valid UTF-8 (both forms check it);
 *   - decode(encode(x)) == x: the packets decoded (all of them, or those
 *     before a parse error) are encoded as a payload in the text form and in
 *     the binary form, both decode back to the same list, and the encoded
 *     length is the announced one; single packets likewise (those whose text
 *     is valid UTF-8, the only text a payload carries);
 *   - sio__eio3_record_head is a prefix of sio__eio3_record_write. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio/eio_codec.h"
#include "util/utf8.h"

#define CHECK(c)                                                                   \
  do {                                                                             \
    if (!(c)) {                                                                    \
      fprintf(stderr, "fuzz_eio3: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                                     \
    }                                                                              \
  } while (0)

/* Decoded packets, each with its own copy of the data. */
typedef struct {
  sio__eio_packet *v;
  size_t n, cap;
  const uint8_t *lo, *hi; /* bounds of the buffer under decode */
} list_t;

static void list_free(list_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].data);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static void check_packet(const list_t *l, const sio__eio_packet *p) {
  CHECK(p->type >= SIO__EIO_OPEN && p->type <= SIO__EIO_NOOP);
  CHECK(!p->binary || p->type == SIO__EIO_MESSAGE);
  if (p->len) CHECK(p->data >= l->lo && p->data + p->len <= l->hi);
}

static int on_packet(void *ud, const sio__eio_packet *p) {
  list_t *l = ud;
  check_packet(l, p);
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 8;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    CHECK(l->v != NULL);
  }
  sio__eio_packet c = *p;
  c.data = malloc(p->len ? p->len : 1);
  CHECK(c.data != NULL);
  if (p->len) memcpy(c.data, p->data, p->len);
  l->v[l->n++] = c;
  return 0;
}

static uint8_t *dup(const uint8_t *data, size_t size) {
  uint8_t *b = malloc(size ? size : 1);
  CHECK(b != NULL);
  if (size) memcpy(b, data, size);
  return b;
}

static int same_list(const list_t *a, const sio__eio_packet *v, size_t n) {
  if (a->n != n) return 0;
  for (size_t i = 0; i < n; i++) {
    const sio__eio_packet *x = &a->v[i], *y = &v[i];
    if (x->type != y->type || x->binary != y->binary || x->len != y->len) return 0;
    if (x->len && memcmp(x->data, y->data, x->len) != 0) return 0;
  }
  return 1;
}

/* Encodes n packets in both forms and checks that each decodes back. */
static void roundtrip(const sio__eio_packet *v, size_t n) {
  for (int form = 0; form <= 1; form++) {
    size_t len = sio__eio3_payload_len(v, n, form);
    uint8_t *enc = malloc(len ? len : 1);
    CHECK(enc != NULL);
    CHECK(sio__eio3_payload_write(enc, v, n, form) == len);
    list_t back = {0};
    back.lo = enc;
    back.hi = enc + len;
    int rc = form ? sio__eio3_binary_payload_decode(enc, len, on_packet, &back)
                  : sio__eio3_payload_decode(enc, len, on_packet, &back);
    CHECK(rc == 0);
    CHECK(same_list(&back, v, n));
    list_free(&back);
    free(enc);
  }
  for (size_t i = 0; i < n; i++) {
    for (int form = 0; form <= 1; form++) {
      if (!form && v[i].binary) continue; /* no head: base64 */
      uint8_t head[SIO__EIO3_HEAD_MAX];
      size_t h = sio__eio3_record_head(head, &v[i], form);
      CHECK(h <= SIO__EIO3_HEAD_MAX);
      size_t len = sio__eio3_record_len(&v[i], form);
      uint8_t *rec = malloc(len);
      CHECK(rec != NULL);
      CHECK(sio__eio3_record_write(rec, &v[i], form) == len);
      CHECK(h <= len && memcmp(rec, head, h) == 0);
      free(rec);
    }
  }
}

static void payload(const uint8_t *data, size_t size, int binary_form) {
  uint8_t *b = dup(data, size);
  list_t l = {0};
  l.lo = b;
  l.hi = b + size;
  int rc = binary_form ? sio__eio3_binary_payload_decode(b, size, on_packet, &l)
                       : sio__eio3_payload_decode(b, size, on_packet, &l);
  CHECK(rc == 0 || rc == -1);
  /* Text messages were validated. Other types may hold any bytes when they
   * came in binary form ("b2...", a 0x02 record): those are left out of
   * the round trip, as text cannot carry them. */
  size_t keep = 0;
  for (size_t i = 0; i < l.n; i++) {
    if (!l.v[i].binary && l.v[i].type == SIO__EIO_MESSAGE) CHECK(sio__utf8_valid(l.v[i].data, l.v[i].len));
    if (l.v[i].binary || sio__utf8_valid(l.v[i].data, l.v[i].len)) l.v[keep++] = l.v[i];
    else free(l.v[i].data);
  }
  l.n = keep;
  roundtrip(l.v, l.n);
  list_free(&l);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  payload(data, size, 0);
  payload(data, size, 1);
  for (int binary_frame = 0; binary_frame <= 1; binary_frame++) {
    uint8_t *b = dup(data, size);
    list_t l = {0};
    l.lo = b;
    l.hi = b + size;
    sio__eio_packet p;
    if (sio__eio3_decode_packet(b, size, binary_frame, &p) == 0) {
      on_packet(&l, &p);
      /* Text that is not UTF-8 cannot travel in a payload (the WebSocket
       * layer refuses it in text frames before this decoder sees it). */
      if (p.binary || sio__utf8_valid(p.data, p.len)) roundtrip(l.v, l.n);
    } else {
      CHECK(size == 0 || !binary_frame || data[0] > SIO__EIO_NOOP);
    }
    list_free(&l);
    free(b);
  }
  /* The UTF-16 length of UTF-8 text never exceeds its byte length. */
  if (sio__utf8_valid(data, size)) CHECK(sio__eio3_utf16_len(data, size) <= size);
  return 0;
}
