/* Differential fuzz target: sio__json_parse (sio/sio_jparse) against jansson.
 *
 * Every input is parsed from an exact-size heap copy (ASan sees any read past
 * the end, which matters for the 8-byte string scanner) by both
 * sio__json_parse and json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL), and the
 * two must agree, with the differences sio_jparse.h documents:
 *   - when jansson fails with json_error_numeric_overflow (an integer beyond
 *     int64), the reference is jansson again with JSON_DECODE_INT_AS_REAL
 *     (what the packet decoder used to do); acceptance must match it, and
 *     an integer of ours may then stand for a real of jansson's when the
 *     integer converts to exactly that double;
 *   - an input with a raw NUL byte must be refused by us (jansson drops a
 *     NUL after a number or literal, so it may accept; that is not compared).
 * Otherwise: same acceptance, and values equal in the strictest sense: same
 * types (integer vs real), integers equal, reals bit for bit (so -0.0 is not
 * 0.0), strings by length and bytes, arrays elementwise, objects with the
 * same keys in the same iteration order. A refusal must come with a reason.
 * Any disagreement prints both sides and aborts. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio/sio_jparse.h"
#include "../unit/json_same.h"

#define FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

static void dump_input(const char *what, const uint8_t *p, size_t n) {
  fprintf(stderr, "fuzz_jparse: %s\ninput (%zu bytes): \"", what, n);
  for (size_t i = 0; i < n && i < 400; i++) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') fputc(p[i], stderr);
    else fprintf(stderr, "\\x%02x", p[i]);
  }
  fprintf(stderr, "%s\"\n", n > 400 ? "..." : "");
}

static void dump_value(const char *label, const json_t *v) {
  char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17)) : NULL;
  fprintf(stderr, "%s: %s\n", label, s ? s : "(null)");
  free(s);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  if (size) memcpy(buf, data, size);

  const char *why = NULL;
  json_t *ours = sio__json_parse(buf, size, &why);

  json_error_t e;
  int loose = 0;
  json_t *ref = json_loadb(buf, size, FLAGS, &e);
  if (!ref && json_error_code(&e) == json_error_numeric_overflow) {
    ref = json_loadb(buf, size, FLAGS | JSON_DECODE_INT_AS_REAL, &e);
    loose = 1;
  }

  const char *bad = NULL;
  if (!ours && !why) bad = "refused without a reason";
  else if (memchr(buf, 0, size)) {
    if (ours) bad = "accepted a raw NUL byte";
  } else if (!ours != !ref) {
    bad = ours ? "accepted what jansson refuses" : "refused what jansson accepts";
  } else if (ours && !same(ours, ref, loose)) {
    bad = "values differ";
  }
  if (bad) {
    dump_input(bad, data, size);
    fprintf(stderr, "ours refused: %s\njansson: %s (code %d)%s\n", ours ? "-" : why, ref ? "-" : e.text,
            ref ? -1 : (int)json_error_code(&e), loose ? " [retried with INT_AS_REAL]" : "");
    dump_value("ours", ours);
    dump_value("jansson", ref);
    abort();
  }
  json_decref(ours);
  json_decref(ref);
  free(buf);
  return 0;
}
