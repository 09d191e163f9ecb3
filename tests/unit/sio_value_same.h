/* Equality of two Socket.IO values (jansson, binaries as sio_binary
 * objects), for the Redis codec's unit test and fuzz target: numbers by
 * value (an integer beyond 2^53 comes back as a real), binaries by bytes,
 * strings byte for byte; object keys in the same order when `ordered`, else
 * as a set (the encoder puts keys in JavaScript property order, so a
 * decode-encode-decode of arbitrary input may reorder them). */
#ifndef SIO_TEST_SIO_VALUE_SAME_H
#define SIO_TEST_SIO_VALUE_SAME_H

#include <jansson.h>
#include <string.h>

#include "sio.h"

static int sio_value_same(const json_t *a, const json_t *b, int ordered) {
  if (!a || !b) return a == b;
  if (sio_is_binary(a) || sio_is_binary(b)) {
    size_t la, lb;
    const void *pa = sio_binary_data(a, &la), *pb = sio_binary_data(b, &lb);
    return pa && pb && la == lb && memcmp(pa, pb, la) == 0;
  }
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  if (json_typeof(a) != json_typeof(b)) return 0;
  switch (json_typeof(a)) {
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  case JSON_ARRAY:
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!sio_value_same(json_array_get(a, i), json_array_get(b, i), ordered)) return 0;
    return 1;
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return 0;
    void *ib = json_object_iter((json_t *)b);
    for (void *ia = json_object_iter((json_t *)a); ia; ia = json_object_iter_next((json_t *)a, ia)) {
      const char *k = json_object_iter_key(ia);
      size_t klen = json_object_iter_key_len(ia);
      json_t *vb;
      if (ordered) {
        if (!ib || json_object_iter_key_len(ib) != klen || memcmp(json_object_iter_key(ib), k, klen) != 0)
          return 0;
        vb = json_object_iter_value(ib);
        ib = json_object_iter_next((json_t *)b, ib);
      } else {
        vb = json_object_getn(b, k, klen);
      }
      if (!vb || !sio_value_same(json_object_iter_value(ia), vb, ordered)) return 0;
    }
    return 1;
  }
  default: return json_equal(a, b);
  }
}

#endif
