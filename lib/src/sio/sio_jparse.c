/* Fast JSON parser producing jansson values (see sio_jparse.h for the
 * contract and its two documented differences from json_loadb).
 *
 * Shape: one iterative loop with an explicit stack of open containers, so
 * the 2048 levels jansson allows cost heap, not C stack. A container is
 * attached to its parent (or becomes the root) as soon as it is opened and
 * filled afterwards; the root therefore owns everything built so far, and
 * any error just drops the root. That also means a pending object key only
 * has to survive the parse of a scalar value, never of a nested container.
 *
 * Strings: the body is scanned 8 bytes at a time for the three bytes that
 * end a plain run ('"', '\\', anything below 0x20); bytes with the high bit
 * set are noticed on the way and only then is the run handed to the UTF-8
 * validator, once. A string without escapes is copied once, by
 * json_stringn_nocheck, straight from the input; one with escapes is decoded
 * into a scratch buffer first. Runs end at ASCII bytes, so validating runs
 * separately is the same as validating the whole string.
 *
 * Numbers: integers are accumulated directly; reals with at most 19
 * significant digits whose value is m * 10^e with m <= 2^53 and |e| <= 22 are
 * computed with one correctly rounded multiplication or division of two
 * exact doubles (Clinger's fast path), which is what strtod returns too;
 * everything else goes through strtod_l in the C locale. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtod_l */
#endif
#include "sio/sio_jparse.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Scratch for decoded strings with escapes and for number text handed to
 * strtod. Starts inside the parser struct; moves to the heap if it grows. */
typedef struct {
  char *buf;
  size_t cap;
  int on_heap;
  const char *err;
  char inline_buf[256];
} parser;

/* Where a decoded string lives: in the input (no escapes) or in the scratch
 * at offset off (its address may change as the scratch grows). */
typedef struct {
  const char *p;
  size_t off, len;
  int in_scratch;
} str_ref;

typedef struct {
  json_t *v; /* borrowed: owned by its parent, or the root */
  int is_obj;
} frame;

static const char E_OOM[] = "out of memory";

static int fail(parser *ps, const char *why) {
  ps->err = why;
  return -1;
}

/* Makes the scratch at least `need` bytes, keeping its first `used`. */
static int scratch_reserve(parser *ps, size_t need, size_t used) {
  if (need <= ps->cap) return 0;
  size_t cap = ps->cap * 2;
  if (cap < need) cap = need;
  char *b;
  if (ps->on_heap) {
    b = realloc(ps->buf, cap);
    if (!b) return fail(ps, E_OOM);
  } else {
    b = malloc(cap);
    if (!b) return fail(ps, E_OOM);
    memcpy(b, ps->buf, used);
  }
  ps->buf = b;
  ps->cap = cap;
  ps->on_heap = 1;
  return 0;
}

static inline const char *ref_ptr(const parser *ps, const str_ref *r) {
  return r->in_scratch ? ps->buf + r->off : r->p;
}

static inline const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static inline int is_digit(unsigned c) { return c - '0' < 10u; }

/* A flag (0x80) in the byte of w that is '"', '\\' or below 0x20. Bytes
 * above the first flagged one may be flagged wrongly (borrows), never the
 * ones below it, so only the lowest flag is meaningful. */
static inline uint64_t special_mask(uint64_t w) {
  uint64_t q = w ^ (ONES * '"');
  uint64_t b = w ^ (ONES * '\\');
  return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - ONES * 0x20) & ~w)) & HIGHS;
}

/* Index of the lowest flagged byte of a special_mask result (m != 0), in
 * memory order. */
static inline unsigned first_flag(uint64_t m, const unsigned char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  (void)p;
  return (unsigned)__builtin_ctzll(m) >> 3;
#else
  (void)m;
  unsigned k = 0;
  while (p[k] != '"' && p[k] != '\\' && p[k] >= 0x20) k++;
  return k;
#endif
}

static inline int hex4(const unsigned char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if (c - '0' < 10u) {
      d = c - '0';
    } else {
      c |= 0x20; /* 'A'..'F' -> 'a'..'f'; nothing else lands in 'a'..'f' */
      if (c - 'a' >= 6u) return -1;
      d = c - 'a' + 10;
    }
    v = (v << 4) | (int)d;
  }
  return v;
}

/* Parses a string body; *pp points just after the opening quote and ends
 * just after the closing one. Decoded text (only needed when there are
 * escapes) goes to the scratch from offset base on. *nul is set when a
 * \u0000 escape was met (raw NULs are control characters, refused). */
static int parse_string(parser *ps, const unsigned char **pp, const unsigned char *end, size_t base,
                        str_ref *out, int *nul) {
  const unsigned char *p = *pp, *run = p;
  size_t olen = 0; /* decoded bytes at scratch + base */
  int escaped = 0;
  for (;;) {
    uint64_t hi = 0;
    for (;;) {
      if (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t m = special_mask(w);
        if (m) {
          unsigned k = first_flag(m, p);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
          hi |= w & ((1ull << (8 * k)) - 1); /* the k bytes before it */
#else
          for (unsigned i = 0; i < k; i++) hi |= p[i];
#endif
          p += k;
          break;
        }
        hi |= w;
        p += 8;
      } else {
        while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) hi |= *p++;
        if (p == end) return fail(ps, "unterminated string");
        break;
      }
    }
    size_t n = (size_t)(p - run);
    if ((hi & HIGHS) && !sio__utf8_valid(run, n)) return fail(ps, "invalid UTF-8 in string");
    unsigned c = *p;
    if (c == '"') {
      if (!escaped) {
        out->p = (const char *)run;
        out->in_scratch = 0;
        out->len = n;
      } else {
        if (scratch_reserve(ps, base + olen + n, base + olen)) return -1;
        memcpy(ps->buf + base + olen, run, n);
        olen += n;
        out->in_scratch = 1;
        out->off = base;
        out->len = olen;
      }
      *pp = p + 1;
      return 0;
    }
    if (c != '\\') return fail(ps, "control character in string");

    /* An escape: flush the run, then at most 4 bytes of output. */
    escaped = 1;
    if (scratch_reserve(ps, base + olen + n + 4, base + olen)) return -1;
    char *o = ps->buf + base + olen;
    memcpy(o, run, n);
    o += n;
    if (end - p < 2) return fail(ps, "unterminated string");
    switch (p[1]) {
    case '"': *o++ = '"'; p += 2; break;
    case '\\': *o++ = '\\'; p += 2; break;
    case '/': *o++ = '/'; p += 2; break;
    case 'b': *o++ = '\b'; p += 2; break;
    case 'f': *o++ = '\f'; p += 2; break;
    case 'n': *o++ = '\n'; p += 2; break;
    case 'r': *o++ = '\r'; p += 2; break;
    case 't': *o++ = '\t'; p += 2; break;
    case 'u': {
      int cp = end - p >= 6 ? hex4(p + 2) : -1;
      if (cp < 0) return fail(ps, "invalid \\u escape");
      p += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) return fail(ps, "lone surrogate escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(ps, "lone surrogate escape");
      }
      if (cp < 0x80) {
        if (cp == 0) *nul = 1;
        *o++ = (char)cp;
      } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
      } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
      }
      break;
    }
    default: return fail(ps, "invalid escape");
    }
    olen = (size_t)(o - (ps->buf + base));
    run = p;
  }
}

/* The C locale, created once: strtod must read '.' whatever setlocale the
 * application did (jansson converts the text to the locale's decimal point
 * for the same reason). */
static locale_t c_locale(void) {
  static locale_t cached;
  locale_t l = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
  if (l) return l;
  l = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  if (!l) return (locale_t)0;
  locale_t expected = (locale_t)0;
  if (!__atomic_compare_exchange_n(&cached, &expected, l, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    freelocale(l);
    l = expected;
  }
  return l;
}

/* The fast path needs doubles computed as doubles (one rounding per
 * operation), as on x86-64 and AArch64; x87 is left to strtod. */
#if FLT_EVAL_METHOD == 0
#define FAST_REALS 1
/* The powers of ten that doubles hold exactly (5^22 < 2^53). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#else
#define FAST_REALS 0
#endif

/* Parses a number at *pp (a '-' or a digit). The text is strtod'd from the
 * scratch at offset base when the fast paths do not apply. */
static json_t *parse_number(parser *ps, const unsigned char **pp, const unsigned char *end, size_t base) {
  const unsigned char *p = *pp, *start = p;
  int neg = 0, is_int = 1, exact = 1;
  uint64_t m = 0;  /* significant digits, while exact */
  int nd = 0;      /* digits in m, leading zeros excluded */
  int64_t e10 = 0; /* value = m * 10^e10 while exact */

  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (p == end || !is_digit(*p)) {
    fail(ps, "invalid number");
    return NULL;
  }
  if (*p == '0') {
    p++;
    if (p < end && is_digit(*p)) {
      fail(ps, "leading zero in number");
      return NULL;
    }
  } else {
    for (; p < end && is_digit(*p); p++) {
      if (nd < 19) m = m * 10 + (*p - '0');
      else exact = 0;
      nd++;
    }
  }
  if (p < end && *p == '.') {
    is_int = 0;
    p++;
    if (p == end || !is_digit(*p)) {
      fail(ps, "invalid number");
      return NULL;
    }
    for (; p < end && is_digit(*p); p++) {
      if (m == 0 && *p == '0') {
        e10--; /* 0.000ddd: leading zeros only scale */
      } else if (nd < 19) {
        m = m * 10 + (*p - '0');
        nd++;
        e10--;
      } else {
        exact = 0;
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    is_int = 0;
    p++;
    int eneg = 0;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p == end || !is_digit(*p)) {
      fail(ps, "invalid number");
      return NULL;
    }
    int64_t e = 0;
    for (; p < end && is_digit(*p); p++)
      if (e < 1000000) e = e * 10 + (*p - '0'); /* beyond that only strtod's answer matters */
    e10 += eneg ? -e : e;
    if (e >= 1000000) exact = 0;
  }
  *pp = p;

  json_t *v;
  if (is_int) {
    if (exact && m <= (uint64_t)INT64_MAX) {
      v = json_integer(neg ? -(json_int_t)m : (json_int_t)m);
      if (!v) fail(ps, E_OOM);
      return v;
    }
    if (exact && neg && m == (uint64_t)INT64_MAX + 1) {
      v = json_integer(INT64_MIN);
      if (!v) fail(ps, E_OOM);
      return v;
    }
    /* Beyond int64: a real (sio_jparse.h). Its m is then inexact (over 19
     * digits) or above 2^53, so strtod reads it. */
  }

  double d;
  if (exact && m == 0) {
    d = 0.0;
#if FAST_REALS
  } else if (exact && m <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
    d = (double)m;
    d = e10 >= 0 ? d * pow10_exact[e10] : d / pow10_exact[-e10];
#endif
  } else {
    size_t n = (size_t)(p - start);
    if (scratch_reserve(ps, base + n + 1, base)) return NULL;
    char *t = ps->buf + base;
    memcpy(t, start, n);
    t[n] = '\0';
    locale_t loc = c_locale();
    if (!loc) {
      fail(ps, E_OOM);
      return NULL;
    }
    d = strtod_l(t, NULL, loc);
    if (isinf(d)) {
      fail(ps, "number out of range");
      return NULL;
    }
    neg = 0; /* strtod saw the sign */
  }
  v = json_real(neg ? -d : d);
  if (!v) fail(ps, E_OOM);
  return v;
}

json_t *sio__json_parse(const char *s, size_t len, const char **err) {
  parser ps;
  ps.buf = ps.inline_buf;
  ps.cap = sizeof ps.inline_buf;
  ps.on_heap = 0;
  ps.err = NULL;

  frame inline_stk[32], *stk = inline_stk;
  size_t cap = sizeof inline_stk / sizeof inline_stk[0], d = 0;
  json_t *root = NULL, *v;
  str_ref key = {0};
  int nul, kind;
  const unsigned char *p, *end;

  if (!s) {
    fail(&ps, "no input");
    goto error;
  }
  p = (const unsigned char *)s;
  end = p + len;

value:
  p = skip_ws(p, end);
  if (p == end) {
    fail(&ps, "unexpected end of input");
    goto error;
  }
  /* The value about to be read sits at level d + 1. */
  if (d >= JSON_PARSER_MAX_DEPTH) {
    fail(&ps, "nesting too deep");
    goto error;
  }
  kind = 0; /* 1: object, 2: array, to be filled */
  switch (*p) {
  case '{':
    p++;
    kind = 1;
    if (!(v = json_object())) fail(&ps, E_OOM);
    break;
  case '[':
    p++;
    kind = 2;
    if (!(v = json_array())) fail(&ps, E_OOM);
    break;
  case '"': {
    /* Keep a pending key that lives in the scratch. */
    size_t base = d && stk[d - 1].is_obj && key.in_scratch ? key.off + key.len : 0;
    str_ref r;
    p++;
    nul = 0;
    if (parse_string(&ps, &p, end, base, &r, &nul)) goto error;
    if (!(v = json_stringn_nocheck(ref_ptr(&ps, &r), r.len))) fail(&ps, E_OOM);
    break;
  }
  case '-':
  case '0': case '1': case '2': case '3': case '4':
  case '5': case '6': case '7': case '8': case '9': {
    size_t base = d && stk[d - 1].is_obj && key.in_scratch ? key.off + key.len : 0;
    v = parse_number(&ps, &p, end, base);
    break;
  }
  case 't':
    if (end - p < 4 || memcmp(p, "true", 4) != 0) goto bad_char;
    p += 4;
    v = json_true();
    break;
  case 'f':
    if (end - p < 5 || memcmp(p, "false", 5) != 0) goto bad_char;
    p += 5;
    v = json_false();
    break;
  case 'n':
    if (end - p < 4 || memcmp(p, "null", 4) != 0) goto bad_char;
    p += 4;
    v = json_null();
    break;
  default:
  bad_char:
    fail(&ps, "unexpected character");
    goto error;
  }
  if (!v) goto error;

  /* Attach v: the set/append functions take the reference even when they
   * fail, so v needs no cleanup of its own past this point. */
  if (d == 0) {
    root = v;
  } else if (stk[d - 1].is_obj) {
    if (json_object_setn_new_nocheck(stk[d - 1].v, ref_ptr(&ps, &key), key.len, v) != 0) {
      fail(&ps, E_OOM);
      goto error;
    }
  } else if (json_array_append_new(stk[d - 1].v, v) != 0) {
    fail(&ps, E_OOM);
    goto error;
  }

  if (kind) {
    p = skip_ws(p, end);
    if (p < end && *p == (kind == 1 ? '}' : ']')) {
      p++; /* empty: nothing to push */
      goto next;
    }
    if (d == cap) {
      size_t ncap = cap * 2;
      frame *n;
      if (stk == inline_stk) {
        n = malloc(ncap * sizeof *n);
        if (n) memcpy(n, stk, d * sizeof *n);
      } else {
        n = realloc(stk, ncap * sizeof *n);
      }
      if (!n) {
        fail(&ps, E_OOM);
        goto error;
      }
      stk = n;
      cap = ncap;
    }
    stk[d].v = v;
    stk[d].is_obj = kind == 1;
    d++;
    if (kind == 1) goto member;
    goto value;
  }

next:
  /* A value just ended; what may follow depends on the open container. */
  p = skip_ws(p, end);
  if (d == 0) {
    if (p != end) {
      fail(&ps, "trailing characters after the value");
      goto error;
    }
    goto done;
  }
  if (p == end) {
    fail(&ps, "unexpected end of input");
    goto error;
  }
  if (*p == ',') {
    p++;
    if (stk[d - 1].is_obj) goto member;
    goto value;
  }
  if (*p == (stk[d - 1].is_obj ? '}' : ']')) {
    p++;
    d--;
    goto next;
  }
  fail(&ps, stk[d - 1].is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
  goto error;

member:
  p = skip_ws(p, end);
  if (p == end || *p != '"') {
    fail(&ps, "expected a string key");
    goto error;
  }
  p++;
  nul = 0;
  if (parse_string(&ps, &p, end, 0, &key, &nul)) goto error;
  if (nul) {
    fail(&ps, "NUL byte in object key");
    goto error;
  }
  p = skip_ws(p, end);
  if (p == end || *p != ':') {
    fail(&ps, "expected ':'");
    goto error;
  }
  p++;
  goto value;

error:
  json_decref(root);
  root = NULL;
  if (err) *err = ps.err ? ps.err : "invalid JSON";
done:
  if (stk != inline_stk) free(stk);
  if (ps.on_heap) free(ps.buf);
  return root;
}
