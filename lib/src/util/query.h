/* URL query strings as Node's querystring.parse reads them, for the
 * handshake a socket shows (socket.handshake.query). */
#ifndef SIO_UTIL_QUERY_H
#define SIO_UTIL_QUERY_H

#include <jansson.h>
#include <stddef.h>

/* Percent-decodes s[0..n) ('+' is a space; a malformed escape stays as is,
 * as querystring.unescape). A new NUL-terminated string (it may hold NULs
 * before its end: *outlen says how long it is; outlen may be NULL), or NULL
 * when out of memory. */
char *sio__pct_decode(const char *s, size_t n, size_t *outlen);

/* "a=1&b=x%20y&a=2" → {"a": ["1", "2"], "b": "x y"}: pairs split on '&',
 * key and value on the first '=', both decoded; a key without '=' gets "";
 * empty pairs are skipped; a repeated key collects its values in an array.
 * Pairs whose key or value is not valid UTF-8 once decoded, or holds a NUL,
 * are left out (JSON cannot carry them as socket.io would). Returns a new
 * object, or NULL when out of memory. */
json_t *sio__query_object(const char *q, size_t len);

#endif
