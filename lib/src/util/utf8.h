/* Strict UTF-8 validation (RFC 3629), usable incrementally.
 *
 * WebSocket text frames and close reasons must be valid UTF-8 (RFC 6455
 * section 8.1), and a text message may be split across fragments and TCP
 * reads at any byte, so the validator is a small state machine whose whole
 * state fits in one integer the caller keeps between calls.
 *
 * Accepted: exactly the shortest-form encodings of U+0000..U+D7FF and
 * U+E000..U+10FFFF. Rejected: overlong forms (C0 80, E0 80 80, ...), UTF-16
 * surrogates (ED A0 80 .. ED BF BF), anything above U+10FFFF (F4 90 .. and
 * F5..FF), stray continuation bytes and truncated sequences.
 *
 * No allocation, no I/O; all functions are pure and thread-safe.
 */
#ifndef SIO_UTIL_UTF8_H
#define SIO_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* State between two sio__utf8_feed calls. ACCEPT means "at a character
 * boundary"; any other value except REJECT means "inside a sequence". */
#define SIO__UTF8_ACCEPT 0u
/* Sticky failure state: once returned, feeding more bytes keeps it. */
#define SIO__UTF8_REJECT 8u

/* Validates n more bytes of a stream. state starts at SIO__UTF8_ACCEPT and is
 * the value returned by the previous call. Returns the new state; the stream
 * so far is a complete valid text iff the result is SIO__UTF8_ACCEPT, and can
 * never become valid once the result is SIO__UTF8_REJECT (the function then
 * returns early without looking at the rest). s may be NULL when n is 0. */
uint32_t sio__utf8_feed(uint32_t state, const uint8_t *s, size_t n);

/* 1 if s[0..n) is valid and ends on a character boundary, else 0. */
int sio__utf8_valid(const uint8_t *s, size_t n);

#endif
