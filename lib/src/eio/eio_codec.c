/* Engine.IO v4 packet / polling payload codec; see eio_codec.h.
 *
 * Everything works on the caller's buffer: text data is returned as a slice,
 * base64 is decoded over itself (decoded bytes are never longer than their
 * encoding, and util/base64 supports out <= in), and payload records are
 * found with memchr. A POST body is therefore decoded with no copy and no
 * allocation. */
#include "eio/eio_codec.h"

#include <string.h>

#include "util/base64.h"

int sio__eio_decode_packet(uint8_t *buf, size_t len, int is_binary_frame, sio__eio_packet *out) {
  if (is_binary_frame) {
    /* v4 binary frames carry no type byte (v3 prefixed 0x04): any frame,
     * even an empty one, is a whole binary message. */
    out->type = SIO__EIO_MESSAGE;
    out->binary = 1;
    out->data = buf;
    out->len = len;
    return 0;
  }
  if (len == 0) return -1;

  uint8_t c = buf[0];
  if (c == 'b') {
    /* No type digit: 'b' always means a binary *message*. */
    ptrdiff_t n = sio__base64_decode(buf + 1, (const char *)buf + 1, len - 1);
    if (n < 0) return -1;
    out->type = SIO__EIO_MESSAGE;
    out->binary = 1;
    out->data = buf + 1;
    out->len = (size_t)n;
    return 0;
  }
  if (c < '0' || c > '0' + SIO__EIO_NOOP) return -1;
  out->type = c - '0';
  out->binary = 0;
  out->data = buf + 1;
  out->len = len - 1;
  return 0;
}

int sio__eio_payload_decode(uint8_t *body, size_t len, sio__eio_packet_cb cb, void *ud) {
  /* Each record ends at the next separator or at the end of the body. The
   * loop runs once more after a trailing separator, on an empty record, which
   * then fails like the reference's split() would make it fail. The same goes
   * for an empty body: one empty record (tested up front so that a NULL body
   * with len 0 never meets pointer arithmetic). */
  if (len == 0) return -1;
  uint8_t *p = body, *end = body + len;
  for (;;) {
    uint8_t *sep = p < end ? memchr(p, SIO__EIO_SEPARATOR, (size_t)(end - p)) : NULL;
    uint8_t *rec_end = sep ? sep : end;
    sio__eio_packet pkt;
    if (sio__eio_decode_packet(p, (size_t)(rec_end - p), 0, &pkt) != 0) return -1;
    int rc = cb(ud, &pkt);
    if (rc != 0) return rc;
    if (!sep) return 0;
    p = sep + 1;
  }
}

size_t sio__eio_polling_record_len(const sio__eio_packet *pkt) {
  return 1 + (pkt->binary ? sio__base64_encoded_len(pkt->len) : pkt->len);
}

size_t sio__eio_polling_record_write(char *out, const sio__eio_packet *pkt) {
  if (pkt->binary) {
    /* v4 drops the type digit for binary ('b' + base64; v3 wrote "b4..."). */
    out[0] = 'b';
    return 1 + sio__base64_encode(out + 1, pkt->data, pkt->len);
  }
  out[0] = (char)('0' + pkt->type);
  if (pkt->len) memcpy(out + 1, pkt->data, pkt->len);
  return 1 + pkt->len;
}
