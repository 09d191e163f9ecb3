/* Strict incremental UTF-8 validator; see utf8.h for the contract.
 *
 * The state is "what the next byte must look like". RFC 3629 section 4 gives
 * the well-formed sequences as byte ranges; the only irregular ranges are
 * the second byte after E0 (A0..BF, else overlong), ED (80..9F, else a
 * surrogate), F0 (90..BF, else overlong) and F4 (80..8F, else > U+10FFFF).
 * Every other continuation byte is 80..BF. So eight states suffice:
 *
 *   0 ACCEPT   at a character boundary
 *   1 C1       one more 80..BF, then ACCEPT
 *   2 C2       80..BF, then C1
 *   3 C3       80..BF, then C2
 *   4 E0       A0..BF, then C1
 *   5 ED       80..9F, then C1
 *   6 F0       90..BF, then C2
 *   7 F4       80..8F, then C2
 *   8 REJECT   sticky
 *
 * Lead bytes C0, C1 (always overlong) and F5..FF (beyond U+10FFFF) are never
 * valid, nor is a continuation byte at a boundary.
 */
#include "util/utf8.h"

#include <string.h>

enum { S_ACCEPT = 0, S_C1, S_C2, S_C3, S_E0, S_ED, S_F0, S_F4, S_REJECT };

_Static_assert(S_REJECT == SIO__UTF8_REJECT, "header constant out of sync");

/* Indexed by state (1..7): allowed byte range and the state that follows. */
static const uint8_t sio__utf8_lo[8] = {0, 0x80, 0x80, 0x80, 0xA0, 0x80, 0x90, 0x80};
static const uint8_t sio__utf8_hi[8] = {0, 0xBF, 0xBF, 0xBF, 0xBF, 0x9F, 0xBF, 0x8F};
static const uint8_t sio__utf8_next[8] = {0, S_ACCEPT, S_C1, S_C2, S_C1, S_C1, S_C2, S_C2};

/* State after a non-ASCII byte seen at a character boundary. */
static inline uint32_t sio__utf8_lead(uint8_t c) {
  if (c < 0xC2) return S_REJECT; /* 80..BF stray continuation, C0/C1 overlong */
  if (c < 0xE0) return S_C1;
  if (c == 0xE0) return S_E0;
  if (c == 0xED) return S_ED;
  if (c < 0xF0) return S_C2;
  if (c == 0xF0) return S_F0;
  if (c < 0xF4) return S_C3;
  if (c == 0xF4) return S_F4;
  return S_REJECT;
}

uint32_t sio__utf8_feed(uint32_t state, const uint8_t *s, size_t n) {
  /* Socket.IO payloads are mostly JSON, i.e. mostly ASCII: skip 8 bytes per
   * iteration while no byte has its top bit set. memcpy keeps the load legal
   * at any alignment; compilers turn it into a single unaligned load. */
  const uint64_t high = 0x8080808080808080ull;
  size_t i = 0;
  if (state >= S_REJECT) return S_REJECT; /* also tolerates garbage states */
  while (i < n) {
    if (state == S_ACCEPT) {
      while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & high) break;
        i += 8;
      }
      /* At most 7 ASCII bytes before the high byte (or the buffer's tail). */
      while (i < n && s[i] < 0x80) i++;
      if (i == n) break;
      state = sio__utf8_lead(s[i++]);
      if (state == S_REJECT) return S_REJECT;
    } else {
      uint8_t c = s[i++];
      if (c < sio__utf8_lo[state] || c > sio__utf8_hi[state]) return S_REJECT;
      state = sio__utf8_next[state];
    }
  }
  return state;
}

int sio__utf8_valid(const uint8_t *s, size_t n) {
  return sio__utf8_feed(SIO__UTF8_ACCEPT, s, n) == SIO__UTF8_ACCEPT;
}
