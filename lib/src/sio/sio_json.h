/* JSON serializer that writes what JavaScript's JSON.stringify writes, byte
 * for byte, for every value jansson can hold (PROTOCOL.md 4.2: the payload of
 * a Socket.IO packet is JSON.stringify of the data).
 *
 * Why not json_dumps: it formats reals with "%.17g" (1.0 becomes "1.0", 0.1
 * becomes "0.10000000000000001"), escapes control characters in upper case
 * and "/" optionally, and allocates a fresh string per call, while a packet
 * wants its JSON appended right after the packet header in the one buffer
 * that becomes the refcounted send buffer.
 *
 * Output rules (those of JSON.stringify):
 *  - compact, no whitespace; object keys in jansson's (insertion) order.
 *    (JS itself lists integer-like keys such as "2" first, in numeric order;
 *    this writer keeps the order the object was built in.)
 *  - integers (json_integer_t) in plain decimal, all 64 bits exact;
 *  - reals as Number.prototype.toString: the shortest digit string that reads
 *    back as the same double, exponent form below 1e-6 or from 1e21 up
 *    ("1e+21", "1.5e-7", "0.000001", "123"), -0 as "0", NaN and ±Infinity as
 *    "null";
 *  - strings: \" \\ \b \f \n \r \t, other bytes below 0x20 as \u00xx (lower
 *    case hex), everything else (DEL, UTF-8 sequences, even invalid ones that
 *    only *_nocheck can create) copied unchanged.
 *
 * Binary values (sio_binary_new) have no JSON form: sio__json_write refuses
 * them; sio__json_write_ex hands each one to a callback, which is how the
 * packet encoder turns them into attachment placeholders.
 *
 * Recursion is bounded by SIO__JSON_MAX_DEPTH nested arrays/objects (the
 * depth jansson's parser accepts), which also stops a cyclic value, which
 * jansson lets an application build, from overflowing the stack. */
#ifndef SIO_SIO_JSON_H
#define SIO_SIO_JSON_H

#include <jansson.h>
#include <stddef.h>

#define SIO__JSON_MAX_DEPTH JSON_PARSER_MAX_DEPTH

/* Growable heap byte buffer. Zero-initialize ({0}) before first use; p is
 * NULL until something is reserved; the bytes are not NUL-terminated. */
typedef struct sio__buf {
  char *p;
  size_t len, cap;
} sio__buf;

/* Makes room for `extra` more bytes after len (geometric growth).
 * Returns 0 or -1 (OOM or size overflow; b is unchanged then). */
int sio__buf_reserve(sio__buf *b, size_t extra);
/* Appends n bytes. Returns 0 or -1 (OOM). */
int sio__buf_append(sio__buf *b, const void *p, size_t n);
/* Frees the bytes and zeroes b. */
void sio__buf_free(sio__buf *b);

/* Appends v (borrowed, not modified) serialized as JSON.stringify(v) would.
 * Returns 0, or -1 on OOM, on a binary value anywhere in v, on a value nested
 * deeper than SIO__JSON_MAX_DEPTH, or on v == NULL. On -1, bytes up to the
 * failure may have been appended (b->len is not rolled back). */
int sio__json_write(sio__buf *b, const json_t *v);

/* Called for each binary value met, in depth-first (serialization) order,
 * with its bytes (borrowed, valid during the call). It appends whatever
 * should stand in the binary's place to b and returns 0, or -1 to abort. */
typedef int (*sio__json_binary_cb)(void *ud, sio__buf *b, const void *bytes, size_t len);
/* sio__json_write with binaries handed to on_binary (NULL: refuse them). */
int sio__json_write_ex(sio__buf *b, const json_t *v, sio__json_binary_cb on_binary, void *ud);

/* Formats a double as Number.prototype.toString does ("null" for NaN and
 * ±Infinity, as JSON.stringify writes them) into out, which must hold
 * SIO__JSON_NUMBER_MAX bytes; not NUL-terminated. Returns the length. */
#define SIO__JSON_NUMBER_MAX 32
size_t sio__json_format_double(char *out, double d);

#endif
