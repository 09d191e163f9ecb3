/* Tests for the strict incremental UTF-8 validator (lib/src/util/utf8.c).
 *
 * Besides hand-picked samples, the validator is compared exhaustively with an
 * independent reference (decode the code point, then check range) over every
 * 1-, 2- and 3-byte string and every 4-byte string with an F0..F4 lead, and
 * its "reject as early as possible" promise is checked over all 2-byte
 * prefixes. */
#include "util/utf8.h"

#include <stdlib.h>

#include "tap.h"

/* Reference validator written the "obvious" way, to catch table mistakes. */
static int ref_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t k;
    uint32_t cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      k = 1, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      k = 2, cp = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      k = 3, cp = c & 0x07u, min = 0x10000;
    } else {
      return 0;
    }
    if (n - i - 1 < k) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xC0) != 0x80) return 0;
      cp = cp << 6 | (s[i + j] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    i += k + 1;
  }
  return 1;
}

/* Continuation bytes representing every interval the rules distinguish. */
static const uint8_t reps[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF};

/* 1 if some string starting with s[0..n) is valid (tries completions of up
 * to 3 bytes drawn from reps, which suffices). */
static int ref_completable(const uint8_t *s, size_t n) {
  uint8_t b[8];
  size_t nr = sizeof reps;
  memcpy(b, s, n);
  if (ref_valid(b, n)) return 1;
  for (size_t a = 0; a < nr; a++) {
    b[n] = reps[a];
    if (ref_valid(b, n + 1)) return 1;
    for (size_t c = 0; c < nr; c++) {
      b[n + 1] = reps[c];
      if (ref_valid(b, n + 2)) return 1;
      for (size_t d = 0; d < nr; d++) {
        b[n + 2] = reps[d];
        if (ref_valid(b, n + 3)) return 1;
      }
    }
  }
  return 0;
}

/* Feeds s in pieces cut at a and b (a <= b <= n). */
static uint32_t feed3(const uint8_t *s, size_t n, size_t a, size_t b) {
  uint32_t st = sio__utf8_feed(SIO__UTF8_ACCEPT, s, a);
  st = sio__utf8_feed(st, s + a, b - a);
  return sio__utf8_feed(st, s + b, n - b);
}

/* Every one- and two-cut split must give the one-shot state. */
static int splits_agree(const uint8_t *s, size_t n) {
  uint32_t want = sio__utf8_feed(SIO__UTF8_ACCEPT, s, n);
  for (size_t a = 0; a <= n; a++)
    for (size_t b = a; b <= n; b++)
      if (feed3(s, n, a, b) != want) return 0;
  /* byte at a time */
  uint32_t st = SIO__UTF8_ACCEPT;
  for (size_t i = 0; i < n; i++) st = sio__utf8_feed(st, s + i, 1);
  return st == want;
}

typedef struct {
  const char *s;
  const char *what;
} sample;

static const sample valid_samples[] = {
    {"", "empty"},
    {"hello, world", "ascii"},
    {"h\xc3\xa9llo", "2-byte e-acute"},
    {"\xe2\x82\xac", "3-byte euro"},
    {"\xf0\x9d\x84\x9e", "4-byte G clef"},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "CJK"},
    {"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", "mixed 1-4 bytes"},
    {"\x7f", "U+007F"},
    {"\xc2\x80", "U+0080"},
    {"\xdf\xbf", "U+07FF"},
    {"\xe0\xa0\x80", "U+0800"},
    {"\xed\x9f\xbf", "U+D7FF (below surrogates)"},
    {"\xee\x80\x80", "U+E000 (above surrogates)"},
    {"\xef\xbf\xbf", "U+FFFF"},
    {"\xf0\x90\x80\x80", "U+10000"},
    {"\xf4\x8f\xbf\xbf", "U+10FFFF"},
};

static const sample invalid_samples[] = {
    {"\xc0\x80", "overlong NUL C0 80"},
    {"\xc1\xbf", "overlong C1 BF"},
    {"\xe0\x80\x80", "overlong E0 80 80"},
    {"\xe0\x9f\xbf", "overlong E0 9F BF"},
    {"\xf0\x80\x80\x80", "overlong F0 80 80 80"},
    {"\xf0\x8f\xbf\xbf", "overlong F0 8F BF BF"},
    {"\xed\xa0\x80", "surrogate U+D800"},
    {"\xed\xbf\xbf", "surrogate U+DFFF"},
    {"\xf4\x90\x80\x80", "U+110000"},
    {"\xf5\x80\x80\x80", "lead F5"},
    {"\xfe", "byte FE"},
    {"\xff", "byte FF"},
    {"\x80", "stray continuation 80"},
    {"a\xbf" "b", "stray continuation inside ascii"},
    {"\xc3\xa9\xa9", "extra continuation"},
    {"\xc2", "truncated 2-byte"},
    {"\xe2\x82", "truncated 3-byte"},
    {"\xf0\x9f\x98", "truncated 4-byte"},
    {"abcdefghij\xe2\x82", "truncated after ascii run"},
    {"\xe2\x82" "a", "ascii inside sequence"},
};

static void test_samples(void) {
  for (size_t i = 0; i < sizeof valid_samples / sizeof *valid_samples; i++) {
    const uint8_t *s = (const uint8_t *)valid_samples[i].s;
    size_t n = strlen(valid_samples[i].s);
    is_int(sio__utf8_valid(s, n), 1, "valid: %s", valid_samples[i].what);
    ok(splits_agree(s, n), "valid, every split: %s", valid_samples[i].what);
  }
  for (size_t i = 0; i < sizeof invalid_samples / sizeof *invalid_samples; i++) {
    const uint8_t *s = (const uint8_t *)invalid_samples[i].s;
    size_t n = strlen(invalid_samples[i].s);
    is_int(sio__utf8_valid(s, n), 0, "invalid: %s", invalid_samples[i].what);
    ok(splits_agree(s, n), "invalid, every split: %s", invalid_samples[i].what);
  }
  is_int(sio__utf8_valid((const uint8_t *)"a\0b", 3), 1, "NUL is a valid character");
  is_int(sio__utf8_valid(NULL, 0), 1, "NULL with length 0");
}

static void test_states(void) {
  const uint8_t *e0 = (const uint8_t *)"\xe0\x80", *ed = (const uint8_t *)"\xed\xa0",
                *f4 = (const uint8_t *)"\xf4\x90", *f0 = (const uint8_t *)"\xf0\x8f";
  is_int(sio__utf8_feed(0, e0, 2), SIO__UTF8_REJECT, "E0 80 rejected before its third byte");
  is_int(sio__utf8_feed(0, ed, 2), SIO__UTF8_REJECT, "ED A0 rejected before its third byte");
  is_int(sio__utf8_feed(0, f4, 2), SIO__UTF8_REJECT, "F4 90 rejected at once");
  is_int(sio__utf8_feed(0, f0, 2), SIO__UTF8_REJECT, "F0 8F rejected at once");
  is_int(sio__utf8_feed(0, (const uint8_t *)"\xc0", 1), SIO__UTF8_REJECT, "C0 rejected at once");
  uint32_t st = sio__utf8_feed(0, (const uint8_t *)"\xe2\x82", 2);
  ok(st != SIO__UTF8_ACCEPT && st != SIO__UTF8_REJECT, "E2 82 is pending (state %u)", st);
  is_int(sio__utf8_feed(st, (const uint8_t *)"\xac", 1), SIO__UTF8_ACCEPT, "... and AC completes it");
  is_int(sio__utf8_feed(SIO__UTF8_REJECT, (const uint8_t *)"abc", 3), SIO__UTF8_REJECT,
         "REJECT is sticky");
  is_int(sio__utf8_feed(SIO__UTF8_ACCEPT, NULL, 0), SIO__UTF8_ACCEPT, "empty feed keeps state");
}

/* The 8-byte ASCII skip must not hide a bad byte at any offset or alignment. */
static void test_ascii_fast_path(void) {
  uint8_t buf[80];
  int bad = 0;
  for (size_t align = 0; align < 8; align++) {
    for (size_t n = 0; n <= 40; n++) {
      uint8_t *s = buf + align;
      memset(s, 'x', n);
      if (sio__utf8_valid(s, n) != 1) bad++;
      for (size_t at = 0; at < n; at++) {
        static const uint8_t badbytes[] = {0x80, 0xbf, 0xc0, 0xf5, 0xff, 0xe2};
        for (size_t b = 0; b < sizeof badbytes; b++) {
          s[at] = badbytes[b];
          if (sio__utf8_valid(s, n) != 0) bad++;
        }
        s[at] = 'x';
        if (at + 2 <= n) { /* a valid 2-byte char at every position */
          s[at] = 0xc3, s[at + 1] = 0xa9;
          if (sio__utf8_valid(s, n) != 1) bad++;
          s[at] = 'x', s[at + 1] = 'x';
        }
        if (at + 4 <= n) { /* and a 4-byte one */
          memcpy(s + at, "\xf0\x9f\x98\x80", 4);
          if (sio__utf8_valid(s, n) != 1) bad++;
          memset(s + at, 'x', 4);
        }
      }
    }
  }
  is_int(bad, 0, "ASCII runs with a bad/good multibyte char at every offset and alignment");
}

static void test_exhaustive(void) {
  uint8_t s[4];
  long bad = 0, splitbad = 0, early = 0;
  for (unsigned a = 0; a < 256; a++) {
    s[0] = (uint8_t)a;
    if (sio__utf8_valid(s, 1) != ref_valid(s, 1)) bad++;
    for (unsigned b = 0; b < 256; b++) {
      s[1] = (uint8_t)b;
      if (sio__utf8_valid(s, 2) != ref_valid(s, 2)) bad++;
      if (sio__utf8_feed(sio__utf8_feed(0, s, 1), s + 1, 1) != sio__utf8_feed(0, s, 2)) splitbad++;
      /* REJECT exactly when no continuation can make the prefix valid. */
      if ((sio__utf8_feed(0, s, 2) == SIO__UTF8_REJECT) == ref_completable(s, 2)) early++;
      for (unsigned c = 0; c < 256; c++) {
        s[2] = (uint8_t)c;
        if (sio__utf8_valid(s, 3) != ref_valid(s, 3)) {
          if (!bad) printf("# first mismatch: %02x %02x %02x\n", a, b, c);
          bad++;
        }
      }
    }
  }
  is_int(bad, 0, "all 1-, 2- and 3-byte strings agree with the reference");
  is_int(splitbad, 0, "2-byte strings fed byte by byte agree with one shot");
  is_int(early, 0, "every 2-byte prefix is REJECTed iff it cannot be completed");

  bad = 0;
  for (unsigned a = 0xf0; a <= 0xf4; a++)
    for (unsigned b = 0x80; b < 0xc0; b++)
      for (unsigned c = 0x80; c < 0xc0; c++)
        for (unsigned d = 0x80; d < 0xc0; d++) {
          s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = (uint8_t)c, s[3] = (uint8_t)d;
          if (sio__utf8_valid(s, 4) != ref_valid(s, 4)) bad++;
        }
  is_int(bad, 0, "all 4-byte strings F0..F4 + continuations agree with the reference");

  bad = 0;
  static const uint8_t edge[] = {0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
  for (unsigned a = 0xe0; a <= 0xff; a++)
    for (unsigned b = 0; b < 256; b++)
      for (size_t c = 0; c < sizeof edge; c++)
        for (size_t d = 0; d < sizeof edge; d++) {
          s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = edge[c], s[3] = edge[d];
          if (sio__utf8_valid(s, 4) != ref_valid(s, 4)) bad++;
          if (feed3(s, 4, 1, 3) != sio__utf8_feed(0, s, 4)) bad++;
        }
  is_int(bad, 0, "4-byte strings with E0..FF leads and edge continuations agree");
}

/* A long mixed text checked at every two-cut split. */
static void test_long_splits(void) {
  const char *t = "The quick \xc3\xa9 brown \xe2\x82\xac fox \xf0\x9f\xa6\x8a jumps over "
                  "\xe6\x97\xa5\xe6\x9c\xac the lazy dog \xf4\x8f\xbf\xbf!";
  size_t n = strlen(t);
  ok(splits_agree((const uint8_t *)t, n), "mixed text: every 2-cut split equals one-shot");
  is_int(sio__utf8_valid((const uint8_t *)t, n), 1, "mixed text is valid");
  uint8_t *c = malloc(n);
  memcpy(c, t, n);
  c[n - 3] = 0xc0; /* break the last 4-byte char */
  ok(splits_agree(c, n), "broken text: every 2-cut split equals one-shot");
  is_int(sio__utf8_valid(c, n), 0, "broken text is invalid");
  free(c);
}

int main(void) {
  test_samples();
  test_states();
  test_ascii_fast_path();
  test_exhaustive();
  test_long_splits();
  return tap_done();
}
