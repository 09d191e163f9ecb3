/* JSON.stringify-compatible serializer (see sio_json.h for the rules). */
#include "sio/sio_json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio.h"

/* ---- buffer --------------------------------------------------------------- */

int sio__buf_reserve(sio__buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  if (extra > SIZE_MAX / 2 - b->len) return -1;
  size_t need = b->len + extra;
  /* Doubling keeps appends amortized O(1); 256 avoids a string of tiny
   * reallocs for the short packets that make up most of the traffic. */
  size_t cap = b->cap ? b->cap * 2 : 256;
  if (cap < need) cap = need;
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int sio__buf_append(sio__buf *b, const void *p, size_t n) {
  if (sio__buf_reserve(b, n) != 0) return -1;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

void sio__buf_free(sio__buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- numbers -------------------------------------------------------------- */

/* Writes the decimal digits of v (no sign) ending just before `end`; returns
 * the first digit's position. */
static char *u64_digits(char *end, uint64_t v) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

static size_t format_i64(char *out, json_int_t i) {
  char tmp[24], *end = tmp + sizeof tmp;
  /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
  uint64_t mag = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
  char *s = u64_digits(end, mag);
  if (i < 0) *--s = '-';
  memcpy(out, s, (size_t)(end - s));
  return (size_t)(end - s);
}

/* Reads the "%.*e" output in tmp into its significant digits (trailing zeros
 * dropped) and the exponent n such that the value is 0.d1d2..dk × 10^n. */
static int parse_e(const char *tmp, char *digits, int *n) {
  int k = 0;
  const char *p = tmp;
  for (; *p && *p != 'e'; p++)
    if (*p >= '0' && *p <= '9') digits[k++] = *p;
  *n = atoi(p + 1) + 1;
  while (k > 1 && digits[k - 1] == '0') k--;
  return k;
}

/* Shortest round-trip digits of a finite x > 0, chosen as ECMAScript's
 * Number::toString specifies: the fewest digits k whose value reads back as
 * x, and of those the one nearest to x.
 *
 * printf's "%.{p-1}e" gives the p-digit decimal nearest to x, so the
 * question is only which p to use. For a normal double, any decimal of at
 * most 15 digits that reads back as x lies within one ulp (< 2.3e-16 x) of
 * it, which is less than half the spacing of 15-digit decimals: so if the
 * nearest 15-digit decimal does not read back, nothing shorter does either,
 * and if it does, it is the shortest one padded with zeros. That leaves 16 or
 * 17 digits, where again the nearest is the answer whenever it reads back,
 * except at a power of two: the gap to the next double below is half the gap
 * above, so the nearest 16-digit decimal may fall short below x while the
 * next one up still reads back. Subnormals have fewer significant bits than
 * the 15-digit argument needs, so they simply try every length.
 * This costs one to three snprintf/strtod pairs, paid only for non-integral
 * values (integers take a fast path in the caller). */
static int shortest_digits(double x, char *digits, int *n) {
  /* Fast path for values with few decimals (prices, coordinates, 3.14):
   * M = round(x * 10^k) for growing k. M and 10^k are exact doubles (M below
   * 10^15 < 2^53, k <= 22), so M / 10^k is the correctly rounded value of
   * the decimal M × 10^-k, and comparing it with x is exactly the "reads
   * back as x" test, without printf or strtod. M has at most 15 digits, so
   * by the argument above it is the shortest digits padded with zeros. */
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (x >= 1e-7 && x < 1e15) {
    for (int k = 1; k <= 22; k++) {
      double m = nearbyint(x * pow10[k]);
      if (m >= 1e15) break;
      if (m / pow10[k] != x) continue;
      uint64_t mi = (uint64_t)m;
      while (mi % 10 == 0) { /* fewer digits: "1.50" is "1.5" */
        mi /= 10;
        k--;
      }
      char tmp[24], *end = tmp + sizeof tmp;
      char *st = u64_digits(end, mi);
      int nd = (int)(end - st);
      memcpy(digits, st, (size_t)nd);
      *n = nd - k;
      return nd;
    }
  }

  char tmp[40];
  if (x < DBL_MIN) {
    for (int p = 1; p <= 17; p++) {
      snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
      if (p == 17 || strtod(tmp, NULL) == x) return parse_e(tmp, digits, n);
    }
  }
  snprintf(tmp, sizeof tmp, "%.14e", x);
  if (strtod(tmp, NULL) == x) return parse_e(tmp, digits, n);
  snprintf(tmp, sizeof tmp, "%.15e", x);
  if (strtod(tmp, NULL) == x) return parse_e(tmp, digits, n);

  int mant_zero = (frexp(x, &(int){0}) == 0.5);
  if (mant_zero) {
    /* Power of two: try the 16-digit decimal one step above the nearest. */
    char up[40];
    memcpy(up, tmp, sizeof up);
    char *e = strchr(up, 'e');
    char *d = e - 1;
    for (;; d--) {
      if (*d == '.') continue;
      if (*d != '9') {
        (*d)++;
        break;
      }
      *d = '0';
      if (d == up) break; /* 9.999...9 → would carry into a new digit */
    }
    if (!(d == up && *d == '0') && strtod(up, NULL) == x) return parse_e(up, digits, n);
  }
  snprintf(tmp, sizeof tmp, "%.16e", x);
  return parse_e(tmp, digits, n);
}

size_t sio__json_format_double(char *out, double d) {
  if (!isfinite(d)) {
    memcpy(out, "null", 4);
    return 4;
  }
  if (d == 0) { /* +0 and -0 */
    out[0] = '0';
    return 1;
  }
  char *o = out;
  if (d < 0) {
    *o++ = '-';
    d = -d;
  }
  /* Integral values below 2^53 print as the exact integer (its digits are
   * the shortest that read back), the common case and the cheap one. */
  if (d < 9007199254740992.0 && d == (double)(int64_t)d) {
    char tmp[24], *end = tmp + sizeof tmp;
    char *s = u64_digits(end, (uint64_t)d);
    memcpy(o, s, (size_t)(end - s));
    return (size_t)(o - out) + (size_t)(end - s);
  }
  char dg[20];
  int n;
  int k = shortest_digits(d, dg, &n);
  if (k <= n && n <= 21) { /* integer: digits then zeros */
    memcpy(o, dg, (size_t)k);
    o += k;
    memset(o, '0', (size_t)(n - k));
    o += n - k;
  } else if (0 < n && n <= 21) { /* decimal point inside the digits */
    memcpy(o, dg, (size_t)n);
    o += n;
    *o++ = '.';
    memcpy(o, dg + n, (size_t)(k - n));
    o += k - n;
  } else if (-6 < n && n <= 0) { /* 0.000ddd */
    *o++ = '0';
    *o++ = '.';
    memset(o, '0', (size_t)-n);
    o += -n;
    memcpy(o, dg, (size_t)k);
    o += k;
  } else { /* exponent form: d[.ddd]e±x */
    *o++ = dg[0];
    if (k > 1) {
      *o++ = '.';
      memcpy(o, dg + 1, (size_t)(k - 1));
      o += k - 1;
    }
    int e = n - 1;
    *o++ = 'e';
    *o++ = e < 0 ? '-' : '+';
    char tmp[8], *end = tmp + sizeof tmp;
    char *s = u64_digits(end, (uint64_t)(e < 0 ? -e : e));
    memcpy(o, s, (size_t)(end - s));
    o += end - s;
  }
  return (size_t)(o - out);
}

/* ---- strings -------------------------------------------------------------- */

/* For each byte: 0 = copied as is, else the letter after the backslash
 * ('u' for the \u00xx form). */
static const char esc_table[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
    ['"'] = '"',  ['\\'] = '\\',
    [0] = 'u', [1] = 'u', [2] = 'u', [3] = 'u', [4] = 'u', [5] = 'u', [6] = 'u',
    [7] = 'u', [11] = 'u', [14] = 'u', [15] = 'u', [16] = 'u', [17] = 'u', [18] = 'u',
    [19] = 'u', [20] = 'u', [21] = 'u', [22] = 'u', [23] = 'u', [24] = 'u', [25] = 'u',
    [26] = 'u', [27] = 'u', [28] = 'u', [29] = 'u', [30] = 'u', [31] = 'u',
};

static int write_string(sio__buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  /* Room for the common case (nothing to escape) up front; each escape
   * reserves its own few extra bytes, so a long string with rare escapes
   * does not reserve six times its length. */
  if (sio__buf_reserve(b, len + 2) != 0) return -1;
  b->p[b->len++] = '"';
  size_t run = 0; /* start of the pending unescaped run */
  for (size_t i = 0; i < len; i++) {
    char e = esc_table[(unsigned char)s[i]];
    if (!e) continue;
    size_t n = i - run;
    if (sio__buf_reserve(b, n + 6 + (len - i)) != 0) return -1;
    memcpy(b->p + b->len, s + run, n);
    b->len += n;
    char *o = b->p + b->len;
    o[0] = '\\';
    o[1] = e;
    if (e == 'u') {
      o[2] = '0';
      o[3] = '0';
      o[4] = hex[(unsigned char)s[i] >> 4];
      o[5] = hex[(unsigned char)s[i] & 15];
      b->len += 6;
    } else {
      b->len += 2;
    }
    run = i + 1;
  }
  size_t n = len - run;
  if (sio__buf_reserve(b, n + 1) != 0) return -1;
  memcpy(b->p + b->len, s + run, n);
  b->len += n;
  b->p[b->len++] = '"';
  return 0;
}

/* ---- values --------------------------------------------------------------- */

typedef struct {
  sio__json_binary_cb on_binary;
  void *ud;
} writer;

static int put(sio__buf *b, const char *s, size_t n) { return sio__buf_append(b, s, n); }

static int write_value(const writer *w, sio__buf *b, const json_t *v, int depth) {
  char num[SIO__JSON_NUMBER_MAX];
  switch (json_typeof(v)) {
  case JSON_NULL: return put(b, "null", 4);
  case JSON_TRUE: return put(b, "true", 4);
  case JSON_FALSE: return put(b, "false", 5);
  case JSON_INTEGER: return put(b, num, format_i64(num, json_integer_value(v)));
  case JSON_REAL: return put(b, num, sio__json_format_double(num, json_real_value(v)));
  case JSON_STRING: return write_string(b, json_string_value(v), json_string_length(v));
  case JSON_ARRAY: {
    if (depth >= SIO__JSON_MAX_DEPTH) return -1;
    if (put(b, "[", 1) != 0) return -1;
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
      if (i && put(b, ",", 1) != 0) return -1;
      if (write_value(w, b, json_array_get(v, i), depth + 1) != 0) return -1;
    }
    return put(b, "]", 1);
  }
  case JSON_OBJECT: {
    if (sio_is_binary(v)) {
      if (!w->on_binary) return -1;
      size_t len;
      const void *p = sio_binary_data(v, &len);
      return w->on_binary(w->ud, b, p, len);
    }
    if (depth >= SIO__JSON_MAX_DEPTH) return -1;
    if (put(b, "{", 1) != 0) return -1;
    /* The iterator API takes a non-const object but does not modify it. */
    json_t *obj = (json_t *)v;
    int first = 1;
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
      if (!first && put(b, ",", 1) != 0) return -1;
      first = 0;
      if (write_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) != 0 ||
          put(b, ":", 1) != 0 ||
          write_value(w, b, json_object_iter_value(it), depth + 1) != 0)
        return -1;
    }
    return put(b, "}", 1);
  }
  }
  return -1;
}

int sio__json_write_ex(sio__buf *b, const json_t *v, sio__json_binary_cb on_binary, void *ud) {
  if (!v) return -1;
  writer w = {on_binary, ud};
  return write_value(&w, b, v, 0);
}

int sio__json_write(sio__buf *b, const json_t *v) { return sio__json_write_ex(b, v, NULL, NULL); }
