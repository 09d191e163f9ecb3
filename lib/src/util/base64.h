/* Standard base64 (RFC 4648 section 4: alphabet A-Z a-z 0-9 + /, '=' padding).
 *
 * Engine.IO v4 carries every binary message over HTTP long-polling as
 * 'b' + base64(data), so both directions run once per binary message on
 * polling sessions; the codec is table-driven and works 3 bytes / 4 chars per
 * step. No allocation, no I/O, no global state: safe from any thread.
 *
 * Ownership: callers own every buffer; nothing is retained after a call. */
#ifndef SIO_UTIL_BASE64_H
#define SIO_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Length of the padded encoding of n bytes: 4 * ceil(n / 3). */
size_t sio__base64_encoded_len(size_t n);

/* Upper bound on the decoded length of n base64 characters (floor(3n/4));
 * `out` of sio__base64_decode needs this much room. */
size_t sio__base64_decoded_max(size_t n);

/* Encodes n bytes of `in` into `out`, which must hold
 * sio__base64_encoded_len(n) chars. Standard alphabet, padded. Returns the
 * number of chars written; no NUL terminator. `out` and `in` must not overlap. */
size_t sio__base64_encode(char *out, const uint8_t *in, size_t n);

/* Decodes n chars of standard base64, padded or not, into `out` (room for
 * sio__base64_decoded_max(n) bytes). `out` may equal `in`, or point anywhere
 * at or before `in` inside the same buffer: every output byte is written only
 * after the input chars it replaces have been read (in-place decoding).
 *
 * Strict by design (Node's Buffer.from(s, "base64") silently skips junk; a
 * real client never sends any, and rejecting it is safer):
 *   - any char outside the alphabet, including whitespace, '-', '_', or '='
 *     anywhere but the last two positions  -> -1;
 *   - n % 4 == 1 after removing padding (no such encoding exists) -> -1;
 *   - padding present but the total length not a multiple of 4 -> -1.
 * Non-zero unused bits in the last char ("QR==") are ignored, as RFC 4648
 * permits and Node does.
 * Returns the decoded length, or -1. On -1 the contents of `out` are
 * unspecified (an in-place decode has clobbered its input). */
ptrdiff_t sio__base64_decode(uint8_t *out, const char *in, size_t n);

#endif
