/* Minimal TAP producer for the C unit tests (meson `test(..., protocol: 'tap')`).
 * Assertions print both operands on failure, and keep going so one run shows
 * every broken case. main() ends with `return tap_done();`. */
#ifndef SIO_TAP_H
#define SIO_TAP_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int tap__n, tap__failed;

static inline void tap__result(int ok, const char *file, int line, const char *what) {
  ++tap__n;
  if (!ok) ++tap__failed;
  /* A description is one line: test inputs with line breaks are flattened. */
  printf("%sok %d - ", ok ? "" : "not ", tap__n);
  for (const char *p = what; *p; p++) putchar(*p == '\n' || *p == '\r' ? ' ' : *p);
  putchar('\n');
  if (!ok) printf("#   at %s:%d\n", file, line);
}

#define ok(cond, ...)                                                   \
  do {                                                                  \
    char tap__m[256];                                                   \
    snprintf(tap__m, sizeof tap__m, __VA_ARGS__);                       \
    tap__result(!!(cond), __FILE__, __LINE__, tap__m);                  \
  } while (0)

#define is_int(got, want, ...)                                          \
  do {                                                                  \
    long long tap__g = (long long)(got), tap__w = (long long)(want);    \
    char tap__m[256];                                                   \
    snprintf(tap__m, sizeof tap__m, __VA_ARGS__);                       \
    tap__result(tap__g == tap__w, __FILE__, __LINE__, tap__m);          \
    if (tap__g != tap__w) printf("#   got %lld, want %lld\n", tap__g, tap__w); \
  } while (0)

/* Compares byte strings of explicit length; prints both (escaped) on mismatch. */
static inline void tap__print_bytes(const char *label, const void *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p;
  printf("#   %s (%zu): \"", label, n);
  for (size_t i = 0; i < n && i < 200; i++) {
    if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') putchar(s[i]);
    else printf("\\x%02x", s[i]);
  }
  printf("%s\"\n", n > 200 ? "..." : "");
}

#define is_mem(got, glen, want, wlen, ...)                              \
  do {                                                                  \
    size_t tap__gl = (glen), tap__wl = (wlen);                          \
    const void *tap__gp = (got), *tap__wp = (want);                     \
    int tap__ok = tap__gl == tap__wl &&                                 \
                  (tap__gl == 0 || memcmp(tap__gp, tap__wp, tap__gl) == 0); \
    char tap__m[256];                                                   \
    snprintf(tap__m, sizeof tap__m, __VA_ARGS__);                       \
    tap__result(tap__ok, __FILE__, __LINE__, tap__m);                   \
    if (!tap__ok) {                                                     \
      tap__print_bytes("got ", tap__gp, tap__gl);                       \
      tap__print_bytes("want", tap__wp, tap__wl);                       \
    }                                                                   \
  } while (0)

#define is_str(got, want, ...)                                          \
  do {                                                                  \
    const char *tap__gs = (got), *tap__ws = (want);                     \
    is_mem(tap__gs ? tap__gs : "(null)", strlen(tap__gs ? tap__gs : "(null)"), \
           tap__ws, strlen(tap__ws), __VA_ARGS__);                      \
  } while (0)

static inline int tap_done(void) {
  printf("1..%d\n", tap__n);
  if (tap__failed) printf("# %d of %d failed\n", tap__failed, tap__n);
  return tap__failed ? 1 : 0;
}

#endif
