/* Strict equality of two jansson values, for the JSON parser's tests (the
 * unit test and the differential fuzz target): types must match (integer is
 * not real), reals bit for bit (-0.0 is not 0.0), strings byte for byte,
 * object keys in the same order. json_equal is looser on all three. */
#ifndef SIO_TEST_JSON_SAME_H
#define SIO_TEST_JSON_SAME_H

#include <jansson.h>
#include <string.h>

/* a: ours, b: jansson's; loose: b was read with JSON_DECODE_INT_AS_REAL, so an
 * integer of ours may stand for a real of the same value there. */
static int same(const json_t *a, const json_t *b, int loose) {
  if (loose && json_is_integer(a) && json_is_real(b))
    return (double)json_integer_value(a) == json_real_value(b);
  if (json_typeof(a) != json_typeof(b)) return 0;
  switch (json_typeof(a)) {
  case JSON_INTEGER: return json_integer_value(a) == json_integer_value(b);
  case JSON_REAL: {
    double x = json_real_value(a), y = json_real_value(b);
    return memcmp(&x, &y, sizeof x) == 0;
  }
  case JSON_STRING:
    return json_string_length(a) == json_string_length(b) &&
           memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
  case JSON_ARRAY:
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!same(json_array_get(a, i), json_array_get(b, i), loose)) return 0;
    return 1;
  case JSON_OBJECT: {
    if (json_object_size(a) != json_object_size(b)) return 0;
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
      size_t ka = json_object_iter_key_len(ia), kb = json_object_iter_key_len(ib);
      if (ka != kb || memcmp(json_object_iter_key(ia), json_object_iter_key(ib), ka) != 0) return 0;
      if (!same(json_object_iter_value(ia), json_object_iter_value(ib), loose)) return 0;
    }
    return !ia && !ib;
  }
  default: return 1; /* true, false, null */
  }
}

#endif
