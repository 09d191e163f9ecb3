/* Tests for the fast JSON parser (lib/src/sio/sio_jparse.c).
 *
 * Each row of the table states whether the document must parse; the test
 * checks that, and checks the same acceptance and the same value against
 * json_loadb(JSON_DECODE_ANY | JSON_ALLOW_NUL) (strictly: integer vs real
 * matters, reals bit for bit, strings by bytes, object keys in order), except
 * where sio_jparse.h documents a difference: integers beyond int64 (compared
 * with jansson's JSON_DECODE_INT_AS_REAL re-read) and raw NUL bytes (refused
 * here, sometimes skipped by jansson). Then come exact values, strings with
 * a special byte at every position and alignment (the 8-byte scanner), every
 * kind of invalid UTF-8 at every position, nesting limits, and scratch
 * buffer growth while an object key is pending. */
#include "sio/sio_jparse.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "json_same.h"
#include "tap.h"

#define FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL)

enum { SAME = 0, BIGINT, RAWNUL };


/* Parses from an exact-size heap copy (so ASan builds catch over-reads). */
static json_t *ours(const char *s, size_t n, const char **why) {
  char *b = malloc(n ? n : 1);
  memcpy(b, s, n);
  *why = NULL;
  json_t *v = sio__json_parse(b, n, why);
  free(b);
  return v;
}

/* 0 when ours agrees with jansson as the kind says; else a reason. */
static const char *compare(const char *s, size_t n, int kind, json_t **out) {
  const char *why;
  json_t *a = ours(s, n, &why);
  json_error_t e;
  json_t *b = json_loadb(s, n, FLAGS, &e);
  int loose = 0;
  const char *bad = NULL;
  if (kind == BIGINT) {
    if (b) bad = "jansson accepted: not an int64 overflow case";
    else if (json_error_code(&e) != json_error_numeric_overflow) bad = "jansson failed otherwise";
    b = json_loadb(s, n, FLAGS | JSON_DECODE_INT_AS_REAL, &e);
    loose = 1;
  }
  if (!bad) {
    if (!a && !why) bad = "refused without a reason";
    else if (kind == RAWNUL) bad = a ? "accepted a raw NUL" : NULL;
    else if (!a != !b) bad = a ? "accepted what jansson refuses" : "refused what jansson accepts";
    else if (a && !same(a, b, loose)) bad = "values differ";
  }
  json_decref(b);
  if (out) *out = a;
  else json_decref(a);
  return bad;
}

typedef struct {
  const char *s;
  size_t len; /* 0: strlen(s) */
  int ok;     /* must parse */
  int kind;   /* SAME, BIGINT, RAWNUL */
} row;

static const row table[] = {
    /* whitespace, empty, trailing */
    {"", 0, 0, SAME},
    {" ", 0, 0, SAME},
    {" \t\r\n", 0, 0, SAME},
    {"1", 0, 1, SAME},
    {" \t\r\n1 \t\r\n", 0, 1, SAME},
    {"[1] x", 0, 0, SAME},
    {"[1],", 0, 0, SAME},
    {"[1]]", 0, 0, SAME},
    {"1 2", 0, 0, SAME},
    {"\"a\"\"b\"", 0, 0, SAME},
    {"{}{}", 0, 0, SAME},
    {"\f1", 0, 0, SAME}, /* form feed is not JSON whitespace */
    {"\v1", 0, 0, SAME},
    {"\xc2\xa0" "1", 0, 0, SAME},
    /* literals */
    {"true", 0, 1, SAME},
    {"false", 0, 1, SAME},
    {"null", 0, 1, SAME},
    {"[true,false,null]", 0, 1, SAME},
    {"tru", 0, 0, SAME},
    {"truex", 0, 0, SAME},
    {"true1", 0, 0, SAME},
    {"True", 0, 0, SAME},
    {"nul", 0, 0, SAME},
    {"NaN", 0, 0, SAME},
    {"Infinity", 0, 0, SAME},
    {"undefined", 0, 0, SAME},
    {"[truefalse]", 0, 0, SAME},
    /* numbers */
    {"0", 0, 1, SAME},
    {"-0", 0, 1, SAME},
    {"-0.0", 0, 1, SAME},
    {"0.0", 0, 1, SAME},
    {"0.1", 0, 1, SAME},
    {"-0.1", 0, 1, SAME},
    {"1e308", 0, 1, SAME},
    {"-1e308", 0, 1, SAME},
    {"1.7976931348623157e308", 0, 1, SAME},
    {"1.7976931348623159e308", 0, 0, SAME}, /* rounds to inf */
    {"1e309", 0, 0, SAME},
    {"-1e309", 0, 0, SAME},
    {"[1e999999999999]", 0, 0, SAME},
    {"1e-400", 0, 1, SAME}, /* underflow is 0, not an error */
    {"4.9e-324", 0, 1, SAME},
    {"2.2250738585072011e-308", 0, 1, SAME},
    {"0e999999999999", 0, 1, SAME},
    {"9223372036854775807", 0, 1, SAME},
    {"-9223372036854775808", 0, 1, SAME},
    {"9223372036854775806", 0, 1, SAME},
    {"1000000000000000000", 0, 1, SAME},
    {"9007199254740993", 0, 1, SAME},
    {"9007199254740993.0", 0, 1, SAME},
    {"9007199254740993e0", 0, 1, SAME},
    {"123456789012345678901234567890e-10", 0, 1, SAME},
    {"0.1234567890123456789012345", 0, 1, SAME},
    {"0.000000000000000000000000000001", 0, 1, SAME},
    {"1.5E3", 0, 1, SAME},
    {"1.5e+3", 0, 1, SAME},
    {"1.5e-3", 0, 1, SAME},
    {"1E22", 0, 1, SAME},
    {"1E23", 0, 1, SAME},
    {"1E-22", 0, 1, SAME},
    {"1E-23", 0, 1, SAME},
    {"9007199254740992e22", 0, 1, SAME},
    {"9007199254740993e-22", 0, 1, SAME},
    {"0.30000000000000004", 0, 1, SAME},
    {"5e-324", 0, 1, SAME},
    {"2e-324", 0, 1, SAME},
    {"01", 0, 0, SAME},
    {"-01", 0, 0, SAME},
    {"00", 0, 0, SAME},
    {"1.", 0, 0, SAME},
    {"1.e5", 0, 0, SAME},
    {".5", 0, 0, SAME},
    {"-.5", 0, 0, SAME},
    {"+1", 0, 0, SAME},
    {"-", 0, 0, SAME},
    {"--1", 0, 0, SAME},
    {"- 1", 0, 0, SAME},
    {"1e", 0, 0, SAME},
    {"1e+", 0, 0, SAME},
    {"1e-", 0, 0, SAME},
    {"1E+-1", 0, 0, SAME},
    {"0x10", 0, 0, SAME},
    {"1.5e3.2", 0, 0, SAME},
    {"[1,]", 0, 0, SAME},
    {"1_000", 0, 0, SAME},
    /* integers beyond int64: reals here, errors to plain jansson */
    {"9223372036854775808", 0, 1, BIGINT},
    {"-9223372036854775809", 0, 1, BIGINT},
    {"18446744073709551616", 0, 1, BIGINT},
    {"99999999999999999999", 0, 1, BIGINT},
    {"[\"x\",123456789012345678901234,7,-0]", 0, 1, BIGINT},
    {"{\"a\":[1,2,{\"b\":100000000000000000000000000000}]}", 0, 1, BIGINT},
    {"[99999999999999999999,1e309]", 0, 0, BIGINT},
    {"[99999999999999999999,x]", 0, 0, BIGINT},
    /* strings and escapes */
    {"\"\"", 0, 1, SAME},
    {"\"abc\"", 0, 1, SAME},
    {"\"\\\"\"", 0, 1, SAME},
    {"\"\\\\\"", 0, 1, SAME},
    {"\"\\/\"", 0, 1, SAME},
    {"\"\\b\\f\\n\\r\\t\"", 0, 1, SAME},
    {"\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", 0, 1, SAME},
    {"\"\\u0041\\u00e9\\u00E9\\u20AC\\uffff\\uFFFE\"", 0, 1, SAME},
    {"\"\\u0000\"", 0, 1, SAME},
    {"\"a\\u0000b\\u0000\"", 0, 1, SAME},
    {"\"\\u007f\\u0080\\u07ff\\u0800\\ud7ff\\ue000\"", 0, 1, SAME},
    {"\"\\ud83d\\ude00\"", 0, 1, SAME},
    {"\"\\uD83D\\uDE00\"", 0, 1, SAME},
    {"\"\\ud800\\udc00\\udbff\\udfff\"", 0, 1, SAME},
    {"\"\\ud800\"", 0, 0, SAME},
    {"\"\\udbff\"", 0, 0, SAME},
    {"\"\\udc00\"", 0, 0, SAME},
    {"\"\\udfff\"", 0, 0, SAME},
    {"\"\\ud800x\"", 0, 0, SAME},
    {"\"\\ud800\\n\"", 0, 0, SAME},
    {"\"\\ud800\\u0041\"", 0, 0, SAME},
    {"\"\\ud800\\ud800\"", 0, 0, SAME},
    {"\"\\ud800\\ue000\"", 0, 0, SAME},
    {"\"\\udc00\\ud800\"", 0, 0, SAME},
    {"\"\\ud800\\u\"", 0, 0, SAME},
    {"\"\\ud800\\udc0\"", 0, 0, SAME},
    {"\"\\ud800\\", 0, 0, SAME},
    {"\"\\u\"", 0, 0, SAME},
    {"\"\\u12\"", 0, 0, SAME},
    {"\"\\u123\"", 0, 0, SAME},
    {"\"\\u12g4\"", 0, 0, SAME},
    {"\"\\u 123\"", 0, 0, SAME},
    {"\"\\U0041\"", 0, 0, SAME},
    {"\"\\x41\"", 0, 0, SAME},
    {"\"\\a\"", 0, 0, SAME},
    {"\"\\0\"", 0, 0, SAME},
    {"\"\\'\"", 0, 0, SAME},
    {"\"\\\"", 0, 0, SAME},
    {"\"\\", 0, 0, SAME},
    {"\"abc", 0, 0, SAME},
    {"\"", 0, 0, SAME},
    {"'a'", 0, 0, SAME},
    {"\"\x01\"", 0, 0, SAME},
    {"\"\x1f\"", 0, 0, SAME},
    {"\"\n\"", 0, 0, SAME},
    {"\"\t\"", 0, 0, SAME},
    {"\"\x7f\"", 0, 1, SAME}, /* DEL is not a control character to JSON */
    {"\"\x20\"", 0, 1, SAME},
    /* raw UTF-8 */
    {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", 0, 1, SAME},
    {"\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", 0, 1, SAME},
    {"\"\x80\"", 0, 0, SAME},
    {"\"\xbf\"", 0, 0, SAME},
    {"\"\xc0\x80\"", 0, 0, SAME},
    {"\"\xc1\xbf\"", 0, 0, SAME},
    {"\"\xe0\x80\x80\"", 0, 0, SAME},
    {"\"\xe0\x9f\xbf\"", 0, 0, SAME},
    {"\"\xf0\x80\x80\x80\"", 0, 0, SAME},
    {"\"\xf0\x8f\xbf\xbf\"", 0, 0, SAME},
    {"\"\xed\xa0\x80\"", 0, 0, SAME},
    {"\"\xed\xbf\xbf\"", 0, 0, SAME},
    {"\"\xed\xa0\xbd\xed\xb8\x80\"", 0, 0, SAME}, /* CESU-8 surrogate pair */
    {"\"\xf4\x90\x80\x80\"", 0, 0, SAME},
    {"\"\xf5\x80\x80\x80\"", 0, 0, SAME},
    {"\"\xf8\x88\x80\x80\x80\"", 0, 0, SAME},
    {"\"\xfe\"", 0, 0, SAME},
    {"\"\xff\"", 0, 0, SAME},
    {"\"\xc3\"", 0, 0, SAME},
    {"\"\xe2\x82\"", 0, 0, SAME},
    {"\"\xf0\x9f\x98\"", 0, 0, SAME},
    {"\"\xc3", 0, 0, SAME},
    {"\"\xc3\x41\"", 0, 0, SAME},
    {"\"\xe2\x82\\n\"", 0, 0, SAME},
    {"\"\xc3\xa9\xc3\"", 0, 0, SAME},
    {"\xc3\xa9", 0, 0, SAME},
    {"[1,\xc3\xa9]", 0, 0, SAME},
    {"[\"a\"\xff]", 0, 0, SAME},
    /* raw NUL bytes: refused here; jansson skips one after a number or literal */
    {"1\0", 2, 0, RAWNUL},
    {"[1\0]", 4, 0, RAWNUL},
    {"[true\0]", 7, 0, RAWNUL},
    {"\0", 1, 0, RAWNUL},
    {"\"a\0b\"", 5, 0, RAWNUL},
    {"[1,\0 2]", 7, 0, RAWNUL},
    /* arrays and objects */
    {"[]", 0, 1, SAME},
    {"[ ]", 0, 1, SAME},
    {"{}", 0, 1, SAME},
    {"{ }", 0, 1, SAME},
    {"[[],{},[[]],{\"a\":{}}]", 0, 1, SAME},
    {" [ 1 , \"a\" , { \"k\" : [ ] } ] ", 0, 1, SAME},
    {"{\"a\":1,\"b\":[true,{\"c\":null}],\"\":\"\"}", 0, 1, SAME},
    {"{\"a\":1,\"b\":2,\"a\":3}", 0, 1, SAME},
    {"{\"a\":[1],\"a\":{\"x\":2},\"b\":0,\"a\":\"last\"}", 0, 1, SAME},
    {"{\"\\u00e9\":1,\"\xc3\xa9\":2}", 0, 1, SAME},
    {"{\"a\\nb\":\"c\\td\",\"e\":\"\\u0041\"}", 0, 1, SAME},
    {"{\"a\\u0000b\":1}", 0, 0, SAME},
    {"{\"\\u0000\":1}", 0, 0, SAME},
    {"[{\"\\u0000sio-bin\":\"x\"}]", 0, 0, SAME},
    {"{\"a\":\"\\u0000\"}", 0, 1, SAME},
    {"[", 0, 0, SAME},
    {"]", 0, 0, SAME},
    {"{", 0, 0, SAME},
    {"}", 0, 0, SAME},
    {"[1", 0, 0, SAME},
    {"[1,", 0, 0, SAME},
    {"[,1]", 0, 0, SAME},
    {"[1,,2]", 0, 0, SAME},
    {"[1 2]", 0, 0, SAME},
    {"[1:2]", 0, 0, SAME},
    {"{\"a\"}", 0, 0, SAME},
    {"{\"a\":}", 0, 0, SAME},
    {"{\"a\" 1}", 0, 0, SAME},
    {"{\"a\":1,}", 0, 0, SAME},
    {"{,\"a\":1}", 0, 0, SAME},
    {"{\"a\":1 \"b\":2}", 0, 0, SAME},
    {"{a:1}", 0, 0, SAME},
    {"{1:1}", 0, 0, SAME},
    {"{\"a\":1]", 0, 0, SAME},
    {"[1}", 0, 0, SAME},
    {"{\"a\":1", 0, 0, SAME},
    {"{\"a\"", 0, 0, SAME},
    {"{\"a\\ud800\":1}", 0, 0, SAME},
    {"[\"message\",1234,\"hello\"]", 0, 1, SAME},
};

static void test_table(void) {
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    const row *r = &table[i];
    size_t n = r->len ? r->len : strlen(r->s);
    const char *why;
    json_t *v = ours(r->s, n, &why);
    char label[80];
    size_t k = 0;
    for (size_t j = 0; j < n && k < 40; j++) {
      unsigned char c = (unsigned char)r->s[j];
      if (c >= 0x20 && c < 0x7f) label[k++] = (char)c;
      else k += (size_t)snprintf(label + k, sizeof label - k, "\\x%02x", c);
    }
    label[k] = '\0';
    ok(!!v == r->ok, "%s: %s (%s)", r->ok ? "parses" : "refused", label, v ? "parsed" : why);
    json_decref(v);
    const char *bad = compare(r->s, n, r->kind, NULL);
    ok(!bad, "same as jansson%s: %s%s%s", r->kind == BIGINT ? " with INT_AS_REAL" : r->kind == RAWNUL ? " (raw NUL)" : "",
       label, bad ? " -- " : "", bad ? bad : "");
  }
}

/* Exact values, independent of jansson. */
#define OURS(lit) ours(lit, sizeof lit - 1, &why)
static void test_values(void) {
  const char *why;
  json_t *v;

  v = OURS("-0");
  ok(json_is_integer(v) && json_integer_value(v) == 0, "-0 is the integer 0");
  json_decref(v);
  v = OURS("-0.0");
  ok(json_is_real(v) && json_real_value(v) == 0 && signbit(json_real_value(v)), "-0.0 is the real -0.0");
  json_decref(v);
  v = OURS("9223372036854775807");
  ok(json_is_integer(v) && json_integer_value(v) == INT64_MAX, "INT64_MAX is an integer");
  json_decref(v);
  v = OURS("-9223372036854775808");
  ok(json_is_integer(v) && json_integer_value(v) == INT64_MIN, "INT64_MIN is an integer");
  json_decref(v);
  v = OURS("9223372036854775808");
  ok(json_is_real(v) && json_real_value(v) == 9223372036854775808.0, "INT64_MAX + 1 is the real 2^63");
  json_decref(v);
  v = OURS("-9223372036854775809");
  ok(json_is_real(v) && json_real_value(v) == -9223372036854775808.0, "INT64_MIN - 1 is the real -2^63");
  json_decref(v);
  v = OURS("[\"x\",99999999999999999999,7]");
  ok(json_is_real(json_array_get(v, 1)) && json_real_value(json_array_get(v, 1)) == 1e20 &&
         json_is_integer(json_array_get(v, 2)) && json_integer_value(json_array_get(v, 2)) == 7,
     "only the out-of-range integer becomes a real");
  json_decref(v);
  v = OURS("0.1");
  ok(json_is_real(v) && json_real_value(v) == 0.1, "0.1");
  json_decref(v);
  v = OURS("1e308");
  ok(json_is_real(v) && json_real_value(v) == 1e308, "1e308");
  json_decref(v);
  v = OURS("1.0");
  ok(json_is_real(v) && json_real_value(v) == 1.0, "1.0 is a real");
  json_decref(v);
  v = OURS("1e309");
  ok(!v && why && strstr(why, "range"), "1e309 refused as out of range (%s)", why ? why : "none");
  json_decref(v);

  v = OURS("\"a\\u0000b\"");
  is_mem(json_string_value(v), json_string_length(v), "a\0b", 3, "\\u0000 is a NUL byte, length kept");
  json_decref(v);
  v = OURS("\"\\ud83d\\ude00\"");
  is_mem(json_string_value(v), json_string_length(v), "\xf0\x9f\x98\x80", 4, "surrogate pair is one 4-byte sequence");
  json_decref(v);
  v = OURS("\"\\u00e9\\u20ac\\u0041\"");
  is_mem(json_string_value(v), json_string_length(v), "\xc3\xa9\xe2\x82\xac" "A", 6, "2-, 3- and 1-byte escapes");
  json_decref(v);
  v = OURS("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
  is_mem(json_string_value(v), json_string_length(v), "\"\\/\b\f\n\r\t", 8, "short escapes");
  json_decref(v);

  static const char dup[] = "{\"a\":1,\"b\":2,\"a\":3}";
  v = OURS(dup);
  void *it = json_object_iter(v);
  ok(json_object_size(v) == 2 && json_integer_value(json_object_get(v, "a")) == 3 && it &&
         strcmp(json_object_iter_key(it), "a") == 0,
     "duplicate key: last value wins, first position kept");
  json_decref(v);

  v = OURS("{\"a\\u0000b\":1}");
  ok(!v, "NUL in an object key is refused (%s)", why ? why : "none");
  v = OURS("[1,2");
  ok(!v && why, "a refusal says why (%s)", why ? why : "none");
  why = NULL;
  v = sio__json_parse("[1]x", 4, NULL);
  ok(!v, "err may be NULL");
  v = sio__json_parse(NULL, 0, &why);
  ok(!v && why, "NULL input with length 0 is refused (%s)", why ? why : "none");
}

/* Strings of every length up to 40 with one special thing at every position:
 * checks the 8-byte scanner's edges against jansson. */
static void test_positions(void) {
  static const char *const inserts[] = {
      "\\n", "\\\"", "\\u0000", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
      "\x01", "\x1f", "\x7f", "\xc3", "\x80", "\xed\xa0\x80", "\xc0\xaf", "\\", "\\ud800", "\"",
  };
  char doc[128];
  int checked = 0, failed = 0;
  char first[160] = "";
  for (size_t ins = 0; ins < sizeof inserts / sizeof inserts[0]; ins++) {
    size_t il = strlen(inserts[ins]);
    for (size_t len = 0; len <= 40; len++) {
      for (size_t at = 0; at <= len; at++) {
        for (int prefix = 0; prefix < 2; prefix++) { /* shifts the alignment by 2 */
          size_t n = 0;
          if (prefix) doc[n++] = '[', doc[n++] = '1', doc[n++] = ',';
          doc[n++] = '"';
          for (size_t i = 0; i < at; i++) doc[n++] = (char)('a' + i % 26);
          memcpy(doc + n, inserts[ins], il);
          n += il;
          for (size_t i = at; i < len; i++) doc[n++] = (char)('A' + i % 26);
          doc[n++] = '"';
          if (prefix) doc[n++] = ']';
          checked++;
          const char *bad = compare(doc, n, SAME, NULL);
          if (bad && !failed++) snprintf(first, sizeof first, "insert %zu len %zu at %zu: %s", ins, len, at, bad);
        }
      }
    }
  }
  ok(failed == 0, "%d strings with a special byte at every position agree with jansson%s%s", checked,
     failed ? "; first: " : "", first);
  if (failed) printf("#   %d failed\n", failed);
}

/* Every 1- and 2-byte sequence and every 3-byte sequence with a lead from
 * E0..F4, inside a string, padded to land at different offsets. */
static void test_utf8_exhaustive(void) {
  int checked = 0, failed = 0;
  char first[120] = "";
  char doc[32];
  for (unsigned a = 0; a < 256; a++) {
    for (unsigned b = 0; b < 257; b++) {       /* 256: no second byte */
      for (unsigned c = 0; c < 257; c++) {     /* 256: no third byte */
        if (b == 256 && c != 256) continue;
        if (c != 256 && (a < 0xE0 || a > 0xF4)) continue;
        size_t n = 0;
        doc[n++] = '"';
        for (unsigned i = 0; i < (a + b) % 9; i++) doc[n++] = 'x';
        doc[n++] = (char)a;
        if (b < 256) doc[n++] = (char)b;
        if (c < 256) doc[n++] = (char)c;
        doc[n++] = 'y';
        doc[n++] = '"';
        /* raw NULs are a documented difference; jansson refuses them in a
         * string anyway, so SAME holds */
        checked++;
        const char *bad = compare(doc, n, SAME, NULL);
        if (bad && !failed++) snprintf(first, sizeof first, "%02x %02x %02x: %s", a, b & 0xff, c & 0xff, bad);
      }
    }
  }
  ok(failed == 0, "%d byte sequences in strings agree with jansson%s%s", checked, failed ? "; first: " : "", first);
}

static char *repeat_doc(const char *open, int n, const char *mid, const char *close, size_t *len) {
  size_t lo = strlen(open), lm = strlen(mid), lc = strlen(close);
  char *s = malloc((size_t)n * (lo + lc) + lm + 1), *p = s;
  for (int i = 0; i < n; i++, p += lo) memcpy(p, open, lo);
  memcpy(p, mid, lm);
  p += lm;
  for (int i = 0; i < n; i++, p += lc) memcpy(p, close, lc);
  *len = (size_t)(p - s);
  return s;
}

static void test_depth(void) {
  static const struct {
    const char *open, *mid, *close;
    int n, ok;
    const char *what;
  } cases[] = {
      {"[", "", "]", 2048, 1, "2048 nested arrays"},
      {"[", "", "]", 2049, 0, "2049 nested arrays"},
      {"[", "1", "]", 2047, 1, "a number inside 2047 arrays (level 2048)"},
      {"[", "1", "]", 2048, 0, "a number inside 2048 arrays (level 2049)"},
      {"[", "\"s\"", "]", 2048, 0, "a string inside 2048 arrays"},
      {"[", "[]", "]", 2047, 1, "an empty array inside 2047 arrays"},
      {"[", "{}", "]", 2047, 1, "an empty object inside 2047 arrays"},
      {"[", "{}", "]", 2048, 0, "an empty object inside 2048 arrays"},
      {"{\"a\":", "{}", "}", 2047, 1, "2048 nested objects"},
      {"{\"a\":", "{}", "}", 2048, 0, "2049 nested objects"},
      {"{\"a\":", "0", "}", 2047, 1, "a number inside 2047 objects"},
      {"{\"a\":", "0", "}", 2048, 0, "a number inside 2048 objects"},
      {"[{\"k\":", "[[]]", "}]", 1023, 1, "alternating arrays and objects, 2048 levels"},
      {"[{\"k\":", "[]", "}]", 1024, 0, "alternating arrays and objects, 2049 levels"},
      {"[", "", "]", 100000, 0, "100000 nested arrays (no stack overflow)"},
      {"[1,", "0", "]", 2047, 1, "2047 nested arrays with elements, a number at level 2048"},
      {"[1,", "0", "]", 2048, 0, "2048 nested arrays with elements, a number at level 2049"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n;
    char *s = repeat_doc(cases[i].open, cases[i].n, cases[i].mid, cases[i].close, &n);
    const char *why;
    json_t *v = ours(s, n, &why);
    ok(!!v == cases[i].ok, "%s: %s (%s)", cases[i].what, cases[i].ok ? "parses" : "refused", v ? "parsed" : why);
    json_decref(v);
    const char *bad = compare(s, n, SAME, NULL);
    ok(!bad, "%s: same as jansson%s%s", cases[i].what, bad ? " -- " : "", bad ? bad : "");
    free(s);
  }
}

/* The scratch buffer starts at 256 bytes: keys and values with escapes
 * beyond that, a pending escaped key while the value's escapes or a long
 * number grow the scratch, and a 64 KB payload. */
static void test_scratch(void) {
  size_t cap = 70000;
  char *s = malloc(cap);
  size_t n = 0;
  n += (size_t)sprintf(s + n, "{\"");
  for (int i = 0; i < 300; i++) n += (size_t)sprintf(s + n, "k\\n");
  n += (size_t)sprintf(s + n, "\":\"");
  for (int i = 0; i < 3000; i++) n += (size_t)sprintf(s + n, "\\u00e9v");
  n += (size_t)sprintf(s + n, "\",\"");
  for (int i = 0; i < 200; i++) n += (size_t)sprintf(s + n, "\\t");
  n += (size_t)sprintf(s + n, "\":0.");
  for (int i = 0; i < 2000; i++) s[n++] = (char)('0' + i % 10);
  n += (size_t)sprintf(s + n, "e-5,\"\\u0041\":123456789012345678901234567890}");
  json_t *v;
  const char *bad = compare(s, n, BIGINT, &v);
  ok(!bad, "long escaped keys and values, long number: same as jansson%s%s", bad ? " -- " : "", bad ? bad : "");
  void *it = json_object_iter(v);
  ok(it && json_object_iter_key_len(it) == 600 && memcmp(json_object_iter_key(it), "k\nk\n", 4) == 0 &&
         json_string_length(json_object_iter_value(it)) == 9000,
     "pending key survives the value's scratch growth");
  json_decref(v);

  n = (size_t)sprintf(s, "[\"message\",1234,\"");
  for (int i = 0; i < 65536; i++) s[n++] = (char)('a' + i % 26);
  n += (size_t)sprintf(s + n, "\"]");
  bad = compare(s, n, SAME, &v);
  ok(!bad && json_string_length(json_array_get(v, 2)) == 65536, "64 KB string payload%s%s", bad ? " -- " : "",
     bad ? bad : "");
  json_decref(v);
  free(s);
}

int main(void) {
  test_table();
  test_values();
  test_positions();
  test_utf8_exhaustive();
  test_depth();
  test_scratch();
  return tap_done();
}
