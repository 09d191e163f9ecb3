/* JSON checks for TAP tests (tap.h): J() parses a test's JSON literal
 * (aborting on a typo), is_jv() compares a value with an expected one and
 * prints both on a mismatch, is_json() with a literal. */
#ifndef SIO_TESTS_TAP_JSON_H
#define SIO_TESTS_TAP_JSON_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

static json_t *J(const char *text) {
  json_error_t e;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
  if (!v) {
    printf("# bad JSON in the test: %s (%s)\n", text, e.text);
    abort();
  }
  return v;
}

/* got equals want (stolen); both printed on mismatch. */
#define is_jv(got, want, ...)                                                      \
  do {                                                                             \
    const json_t *jv_g = (got);                                                    \
    json_t *jv_w = (want);                                                         \
    int jv_ok = jv_g && jv_w && json_equal((json_t *)jv_g, jv_w);                  \
    char jv_m[256];                                                                \
    snprintf(jv_m, sizeof jv_m, __VA_ARGS__);                                      \
    tap__result(jv_ok, __FILE__, __LINE__, jv_m);                                  \
    if (!jv_ok) {                                                                  \
      char *jv_gs = jv_g ? json_dumps(jv_g, JSON_COMPACT | JSON_ENCODE_ANY) : NULL; \
      char *jv_ws = jv_w ? json_dumps(jv_w, JSON_COMPACT | JSON_ENCODE_ANY) : NULL; \
      printf("#   got  %s\n#   want %s\n", jv_gs ? jv_gs : "(null)", jv_ws ? jv_ws : "(null)"); \
      free(jv_gs);                                                                 \
      free(jv_ws);                                                                 \
    }                                                                              \
    json_decref(jv_w);                                                             \
  } while (0)
#define is_json(got, text, ...) is_jv(got, J(text), __VA_ARGS__)

#endif
