/* Fuzz target for eio/eio_codec (and util/base64 through it).
 *
 * Each input is copied into an exact-size heap buffer (so ASan sees any read
 * past the end; the decoders also write in place, so every decoder gets its own
 * copy) and run through the payload decoder and the single-packet decoder in
 * text and binary-frame mode. Besides "no crash, no leak", it checks properties
 * and aborts when one fails:
 *   - decoded data lies inside the input buffer;
 *   - a decoded packet written back as a polling record has the announced
 *     length and decodes to the same packet (binary bytes compare equal even
 *     when the input base64 was non-canonical, e.g. "QR==");
 *   - payload text packets never contain the separator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio/eio_codec.h"
#include "util/base64.h"

#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) {                                                         \
      fprintf(stderr, "fuzz_eio: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                          \
    }                                                                   \
  } while (0)

typedef struct {
  const uint8_t *lo, *hi; /* bounds of the buffer under decode */
  int in_payload;
} ctx_t;

/* Re-encodes pkt as a record and decodes the record again. */
static void roundtrip(const sio__eio_packet *pkt) {
  size_t n = sio__eio_polling_record_len(pkt);
  char *rec = malloc(n);
  CHECK(rec != NULL);
  size_t w = sio__eio_polling_record_write(rec, pkt);
  CHECK(w == n);
  sio__eio_packet back;
  CHECK(sio__eio_decode_packet((uint8_t *)rec, n, 0, &back) == 0);
  CHECK(back.binary == pkt->binary);
  CHECK(back.type == pkt->type);
  CHECK(back.len == pkt->len);
  CHECK(back.len == 0 || memcmp(back.data, pkt->data, back.len) == 0);
  free(rec);
}

static void check_packet(const ctx_t *c, const sio__eio_packet *p) {
  CHECK(p->type >= SIO__EIO_OPEN && p->type <= SIO__EIO_NOOP);
  CHECK(!p->binary || p->type == SIO__EIO_MESSAGE);
  if (p->len) CHECK(p->data >= c->lo && p->data + p->len <= c->hi);
  if (c->in_payload && !p->binary && p->len)
    CHECK(memchr(p->data, SIO__EIO_SEPARATOR, p->len) == NULL);
  roundtrip(p);
}

static int on_packet(void *ud, const sio__eio_packet *p) {
  check_packet(ud, p);
  return 0;
}

static uint8_t *dup(const uint8_t *data, size_t size) {
  uint8_t *b = malloc(size ? size : 1);
  CHECK(b != NULL);
  if (size) memcpy(b, data, size);
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sio__eio_packet p;
  ctx_t c;

  uint8_t *b = dup(data, size);
  c = (ctx_t){b, b + size, 1};
  int rc = sio__eio_payload_decode(b, size, on_packet, &c);
  CHECK(rc == 0 || rc == -1);
  free(b);

  for (int binary_frame = 0; binary_frame <= 1; binary_frame++) {
    b = dup(data, size);
    c = (ctx_t){b, b + size, 0};
    if (sio__eio_decode_packet(b, size, binary_frame, &p) == 0) check_packet(&c, &p);
    else CHECK(!binary_frame);
    free(b);
  }

  /* Base64 alone, into a separate exactly-sized output, so an overrun past
   * decoded_max shows up even where in-place decoding would hide it. */
  uint8_t *out = malloc(sio__base64_decoded_max(size) + 1);
  CHECK(out != NULL);
  ptrdiff_t d = sio__base64_decode(out, (const char *)data, size);
  CHECK(d >= -1 && (d < 0 || (size_t)d <= sio__base64_decoded_max(size)));
  free(out);
  return 0;
}
