/* Fuzz target: URL query strings as the handshake shows them
 * (util/query.c: sio__pct_decode, sio__query_object). The input is one query
 * string, from an exact-size heap copy. Checks:
 *   - the result is an object whose values are strings, or arrays of at least
 *     two strings (repeated keys), and there are no more values than
 *     non-empty '&'-separated pairs;
 *   - sio__pct_decode never grows its input, and is the identity on input
 *     without '%' or '+';
 *   - on input with no '%', '+' or NUL that is valid UTF-8, nothing is left
 *     out: every pair's value is found under its key, and the number of
 *     values equals the number of non-empty pairs. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/query.h"
#include "util/utf8.h"

#define CHECK(c)                                                         \
  do {                                                                   \
    if (!(c)) {                                                          \
      fprintf(stderr, "fuzz_query: check failed: %s (line %d)\n", #c, __LINE__); \
      abort();                                                           \
    }                                                                    \
  } while (0)

static int has_value(json_t *v, const char *want, size_t n) {
  if (json_is_string(v))
    return json_string_length(v) == n && memcmp(json_string_value(v), want, n) == 0;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) if (has_value(e, want, n)) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *q = malloc(size ? size : 1);
  if (!q) return 0;
  memcpy(q, data, size);

  size_t dlen;
  char *d = sio__pct_decode(q, size, &dlen);
  CHECK(d);
  CHECK(dlen <= size);
  int plain = !memchr(q, '%', size) && !memchr(q, '+', size);
  if (plain) CHECK(dlen == size && memcmp(d, q, size) == 0);
  free(d);

  json_t *obj = sio__query_object(q, size);
  CHECK(obj && json_is_object(obj));
  size_t pairs = 0, values = 0;
  for (size_t i = 0; i < size;) {
    const char *amp = memchr(q + i, '&', size - i);
    size_t end = amp ? (size_t)(amp - q) : size;
    if (end > i) pairs++;
    i = end + 1;
  }
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    if (json_is_string(v)) {
      values++;
    } else {
      CHECK(json_is_array(v) && json_array_size(v) >= 2);
      size_t i;
      json_t *e;
      json_array_foreach(v, i, e) CHECK(json_is_string(e));
      values += json_array_size(v);
    }
  }
  CHECK(values <= pairs);
  if (plain && !memchr(q, '\0', size) && sio__utf8_valid((const uint8_t *)q, size)) {
    CHECK(values == pairs);
    for (size_t i = 0; i < size;) {
      const char *amp = memchr(q + i, '&', size - i);
      size_t end = amp ? (size_t)(amp - q) : size;
      if (end > i) {
        const char *eq = memchr(q + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (q + i)) : end - i;
        char key[4096];
        if (klen < sizeof key) {
          memcpy(key, q + i, klen);
          key[klen] = '\0';
          const char *val = eq ? eq + 1 : q + end;
          CHECK(has_value(json_object_get(obj, key), val, (size_t)(q + end - val)));
        }
      }
      i = end + 1;
    }
  }
  json_decref(obj);
  free(q);
  return 0;
}
