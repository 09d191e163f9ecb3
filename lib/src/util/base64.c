/* Standard base64 codec; see base64.h for the contract.
 *
 * Both directions move 3 bytes <-> 4 chars per step through lookup tables. The
 * decode table marks invalid chars with bit 7 (valid sextets are 0..63), so a
 * whole 4-char group is validated with one OR and one test instead of four
 * branches. */
#include "util/base64.h"

static const char sio__b64_enc[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define X 0x80 /* not in the alphabet ('=' too: padding is stripped before lookup) */
static const uint8_t sio__b64_dec[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,  X,  63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
#undef X

size_t sio__base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

/* floor(3n/4), written so that 3*n cannot overflow for huge n. */
size_t sio__base64_decoded_max(size_t n) { return n / 4 * 3 + (n % 4) * 3 / 4; }

size_t sio__base64_encode(char *out, const uint8_t *in, size_t n) {
  char *o = out;
  for (; n >= 3; n -= 3, in += 3, o += 4) {
    uint32_t v = (uint32_t)in[0] << 16 | (uint32_t)in[1] << 8 | in[2];
    o[0] = sio__b64_enc[v >> 18];
    o[1] = sio__b64_enc[(v >> 12) & 63];
    o[2] = sio__b64_enc[(v >> 6) & 63];
    o[3] = sio__b64_enc[v & 63];
  }
  if (n) { /* 1 or 2 bytes left: 2 or 3 significant chars, then padding */
    uint32_t v = (uint32_t)in[0] << 16 | (n == 2 ? (uint32_t)in[1] << 8 : 0);
    o[0] = sio__b64_enc[v >> 18];
    o[1] = sio__b64_enc[(v >> 12) & 63];
    o[2] = n == 2 ? sio__b64_enc[(v >> 6) & 63] : '=';
    o[3] = '=';
    o += 4;
  }
  return (size_t)(o - out);
}

ptrdiff_t sio__base64_decode(uint8_t *out, const char *in, size_t n) {
  const unsigned char *s = (const unsigned char *)in;
  uint8_t *o = out;

  /* Padding may only be the last one or two chars of a length-4k input. Any
   * other '=' stays in the data and fails the table lookup below. */
  size_t pad = 0;
  if (n > 0 && s[n - 1] == '=') pad = (n > 1 && s[n - 2] == '=') ? 2 : 1;
  if (pad && n % 4 != 0) return -1;
  size_t m = n - pad;
  size_t rem = m % 4; /* chars in the final partial group: 0, 2 or 3 */
  if (rem == 1) return -1;
  const unsigned char *end = s + (m - rem);

  /* In-place safety: group k reads in[4k..4k+3] into locals before writing
   * out[3k..3k+2]; since out <= in, no write reaches an unread char. */
  for (; s < end; s += 4, o += 3) {
    uint32_t a = sio__b64_dec[s[0]], b = sio__b64_dec[s[1]];
    uint32_t c = sio__b64_dec[s[2]], d = sio__b64_dec[s[3]];
    if ((a | b | c | d) & 0x80) return -1;
    uint32_t v = a << 18 | b << 12 | c << 6 | d;
    o[0] = (uint8_t)(v >> 16);
    o[1] = (uint8_t)(v >> 8);
    o[2] = (uint8_t)v;
  }
  if (rem) {
    uint32_t a = sio__b64_dec[s[0]], b = sio__b64_dec[s[1]];
    uint32_t c = rem == 3 ? sio__b64_dec[s[2]] : 0;
    if ((a | b | c) & 0x80) return -1;
    uint32_t v = a << 18 | b << 12 | c << 6;
    *o++ = (uint8_t)(v >> 16);
    if (rem == 3) *o++ = (uint8_t)(v >> 8);
  }
  return o - out;
}
