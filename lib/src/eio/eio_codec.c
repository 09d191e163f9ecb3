/* Engine.IO v4 and v3 packet / polling payload codecs; see eio_codec.h.
 *
 * Everything works on the caller's buffer: text data is returned as a slice,
 * base64 is decoded over itself (decoded bytes are never longer than their
 * encoding, and util/base64 supports out <= in), and payload records are
 * found with memchr (v3: by their length prefixes). A POST body is therefore
 * decoded with no copy and no allocation. */
#include "eio/eio_codec.h"

#include <string.h>

#include "util/base64.h"
#include "util/utf8.h"

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

/* ---- Engine.IO v3 ------------------------------------------------------------ */

size_t sio__eio3_utf16_len(const uint8_t *s, size_t n) {
  /* Every byte but a continuation byte starts a character (one unit); a
   * four-byte lead adds the second half of a surrogate pair. */
  size_t units = 0;
  for (size_t i = 0; i < n; i++) units += (s[i] & 0xC0) != 0x80 ? 1u + (s[i] >= 0xF0) : 0u;
  return units;
}

int sio__eio3_decode_packet(uint8_t *buf, size_t len, int is_binary_frame, sio__eio_packet *out) {
  if (len == 0) return -1;
  uint8_t c = buf[0];
  if (is_binary_frame) {
    if (c > SIO__EIO_NOOP) return -1;
    out->type = c;
    out->binary = c == SIO__EIO_MESSAGE;
    out->data = buf + 1;
    out->len = len - 1;
    return 0;
  }
  if (c == 'b') {
    /* v3 keeps the type digit: "b4" + base64. */
    if (len < 2 || buf[1] < '0' || buf[1] > '0' + SIO__EIO_NOOP) return -1;
    ptrdiff_t n = sio__base64_decode(buf + 2, (const char *)buf + 2, len - 2);
    if (n < 0) return -1;
    out->type = buf[1] - '0';
    out->binary = out->type == SIO__EIO_MESSAGE;
    out->data = buf + 2;
    out->len = (size_t)n;
    return 0;
  }
  return sio__eio_decode_packet(buf, len, 0, out);
}

/* Bytes of UTF-8 text at p (before end) that make exactly `units` UTF-16
 * code units, or -1: the text ends first, a lead byte is invalid, or the
 * count ends between the two halves of a surrogate pair. Lead bytes only;
 * the caller validates the slice. */
static ptrdiff_t utf16_span(const uint8_t *p, const uint8_t *end, size_t units) {
  const uint8_t *q = p;
  while (units) {
    if (q >= end) return -1;
    uint8_t b = *q;
    size_t bytes, u = 1;
    if (b < 0x80) bytes = 1;
    else if (b >= 0xC2 && b <= 0xDF) bytes = 2;
    else if (b >= 0xE0 && b <= 0xEF) bytes = 3;
    else if (b >= 0xF0 && b <= 0xF4) bytes = 4, u = 2;
    else return -1;
    if (u > units || (size_t)(end - q) < bytes) return -1;
    q += bytes;
    units -= u;
  }
  return q - p;
}

/* Reads decimal digits ending at `stop` (a ':' in text, 0xFF in binary
 * form; digits are chars or byte values per `digit_base`) starting at *pp.
 * At least one digit, value at most `max`. Returns the value or -1; *pp is
 * left on the stop byte. */
static int64_t read_length(const uint8_t **pp, const uint8_t *end, uint8_t stop, uint8_t digit_base,
                           size_t max) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  size_t digits = 0;
  for (; p < end && *p != stop; p++, digits++) {
    unsigned d = (unsigned)(uint8_t)(*p - digit_base);
    if (d > 9) return -1;
    v = v * 10 + d;
    if (v > max) return -1; /* also bounds v far below overflow */
  }
  if (p == end || digits == 0) return -1;
  *pp = p;
  return (int64_t)v;
}

int sio__eio3_payload_decode(uint8_t *body, size_t len, sio__eio_packet_cb cb, void *ud) {
  if (len == 0) return -1;
  uint8_t *p = body, *end = body + len;
  while (p < end) {
    const uint8_t *q = p;
    /* A record of n units holds at least n bytes. */
    int64_t n = read_length(&q, end, ':', '0', (size_t)(end - p));
    if (n < 0) return -1;
    uint8_t *rec = (uint8_t *)q + 1;
    ptrdiff_t bytes = utf16_span(rec, end, (size_t)n);
    if (bytes < 0 || !sio__utf8_valid(rec, (size_t)bytes)) return -1;
    p = rec + bytes;
    if (bytes == 0) continue; /* "0:": nothing (the empty payload) */
    sio__eio_packet pkt;
    if (sio__eio3_decode_packet(rec, (size_t)bytes, 0, &pkt) != 0) return -1;
    int rc = cb(ud, &pkt);
    if (rc != 0) return rc;
  }
  return 0;
}

/* One record of a binary payload at p: its flag (0 text, 1 binary), where
 * its packet starts and its length. Returns the end of the record or NULL. */
static const uint8_t *binary_record(const uint8_t *p, const uint8_t *end, int *is_text,
                                    const uint8_t **data, size_t *len) {
  if (*p > 1) return NULL;
  *is_text = *p == 0;
  const uint8_t *q = p + 1;
  int64_t n = read_length(&q, end, 0xFF, 0, (size_t)(end - p));
  if (n < 0 || (size_t)(end - (q + 1)) < (size_t)n) return NULL;
  *data = q + 1;
  *len = (size_t)n;
  return q + 1 + n;
}

int sio__eio3_binary_payload_decode(uint8_t *body, size_t len, sio__eio_packet_cb cb, void *ud) {
  if (len == 0) return 0; /* (body may then be NULL) */
  const uint8_t *end = body + len, *data;
  size_t n;
  int is_text;
  /* Framing first: the reference splits the whole body before decoding. */
  for (const uint8_t *p = body; p < end;)
    if (!(p = binary_record(p, end, &is_text, &data, &n))) return -1;
  for (const uint8_t *p = body; p < end;) {
    p = binary_record(p, end, &is_text, &data, &n);
    sio__eio_packet pkt;
    if (is_text && !sio__utf8_valid(data, n)) return -1;
    if (sio__eio3_decode_packet((uint8_t *)data, n, !is_text, &pkt) != 0) return -1;
    int rc = cb(ud, &pkt);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Decimal digits of v into out (as chars, or byte values 0..9 when
 * `digit_base` is 0). Returns the count. */
static size_t write_digits(uint8_t *out, size_t v, uint8_t digit_base) {
  uint8_t tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (uint8_t)(digit_base + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

/* The value of a record's length prefix: bytes in the binary form, UTF-16
 * units in the text form (where a binary packet is "b4" + base64, ASCII). */
static size_t record_count(const sio__eio_packet *pkt, int binary_form) {
  if (binary_form) return 1 + pkt->len; /* type digit or type byte, then data */
  if (pkt->binary) return 2 + sio__base64_encoded_len(pkt->len);
  return 1 + sio__eio3_utf16_len(pkt->data, pkt->len);
}

size_t sio__eio3_record_head(uint8_t *out, const sio__eio_packet *pkt, int binary_form) {
  size_t n = 0, count = record_count(pkt, binary_form);
  if (!binary_form) {
    n = write_digits(out, count, '0');
    out[n++] = ':';
    return n;
  }
  out[n++] = pkt->binary ? 1 : 0;
  n += write_digits(out + n, count, 0);
  out[n++] = 0xFF;
  if (pkt->binary) out[n++] = (uint8_t)pkt->type;
  return n;
}

size_t sio__eio3_record_len(const sio__eio_packet *pkt, int binary_form) {
  uint8_t head[SIO__EIO3_HEAD_MAX];
  if (!binary_form && pkt->binary) {
    size_t count = record_count(pkt, 0);
    return write_digits(head, count, '0') + 1 + count;
  }
  /* What follows the head: type digit + data, or (binary) the data. */
  return sio__eio3_record_head(head, pkt, binary_form) + (pkt->binary ? 0 : 1) + pkt->len;
}

size_t sio__eio3_record_write(uint8_t *out, const sio__eio_packet *pkt, int binary_form) {
  size_t n;
  if (!binary_form && pkt->binary) {
    n = write_digits(out, record_count(pkt, 0), '0');
    out[n++] = ':';
    out[n++] = 'b';
    out[n++] = (uint8_t)('0' + pkt->type);
    return n + sio__base64_encode((char *)out + n, pkt->data, pkt->len);
  }
  n = sio__eio3_record_head(out, pkt, binary_form);
  if (!pkt->binary) out[n++] = (uint8_t)('0' + pkt->type);
  if (pkt->len) memcpy(out + n, pkt->data, pkt->len);
  return n + pkt->len;
}

size_t sio__eio3_payload_len(const sio__eio_packet *pkts, size_t n, int binary_form) {
  if (n == 0) return binary_form ? 0 : 2;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += sio__eio3_record_len(&pkts[i], binary_form);
  return total;
}

size_t sio__eio3_payload_write(uint8_t *out, const sio__eio_packet *pkts, size_t n, int binary_form) {
  if (n == 0) {
    if (binary_form) return 0;
    memcpy(out, "0:", 2);
    return 2;
  }
  size_t w = 0;
  for (size_t i = 0; i < n; i++) w += sio__eio3_record_write(out + w, &pkts[i], binary_form);
  return w;
}
