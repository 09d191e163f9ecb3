/* Unit tests for util/base64 and util/id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util/base64.h"
#include "util/id.h"

static uint64_t rng = 0x243f6a8885a308d3ull; /* deterministic test data */
static uint64_t rnd(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return rng;
}

/* Independent bit-at-a-time encoder: the table-driven one must agree with it
 * on every length, which a round trip alone would not prove (a consistently
 * wrong alphabet round-trips fine). */
static size_t slow_encode(char *out, const uint8_t *in, size_t n) {
  static const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t bits = n * 8, o = 0;
  for (size_t b = 0; b < bits; b += 6) {
    unsigned v = 0;
    for (size_t k = 0; k < 6; k++) {
      size_t bit = b + k;
      unsigned x = bit < bits ? (in[bit / 8] >> (7 - bit % 8)) & 1 : 0;
      v = v << 1 | x;
    }
    out[o++] = A[v];
  }
  while (o % 4) out[o++] = '=';
  return o;
}

static void test_rfc4648(void) {
  static const struct { const char *plain, *enc; } v[] = {
    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char enc[16];
    uint8_t dec[16];
    size_t pl = strlen(v[i].plain), el = strlen(v[i].enc);
    is_int(sio__base64_encoded_len(pl), el, "encoded_len(\"%s\")", v[i].plain);
    size_t n = sio__base64_encode(enc, (const uint8_t *)v[i].plain, pl);
    is_mem(enc, n, v[i].enc, el, "encode(\"%s\")", v[i].plain);
    ptrdiff_t d = sio__base64_decode(dec, v[i].enc, el);
    is_mem(dec, d < 0 ? 0 : (size_t)d, v[i].plain, pl, "decode(\"%s\")", v[i].enc);
    is_int(d, pl, "decode(\"%s\") length", v[i].enc);
    /* the same without padding */
    size_t ul = el;
    while (ul && v[i].enc[ul - 1] == '=') ul--;
    d = sio__base64_decode(dec, v[i].enc, ul);
    is_int(d, pl, "unpadded decode(\"%.*s\") length", (int)ul, v[i].enc);
    is_mem(dec, d < 0 ? 0 : (size_t)d, v[i].plain, pl, "unpadded decode(\"%.*s\")", (int)ul, v[i].enc);
  }
}

static void test_decode_misc(void) {
  char buf[32];
  strcpy(buf, "Zm9vYmFy");
  ptrdiff_t d = sio__base64_decode((uint8_t *)buf, buf, 8);
  is_mem(buf, d < 0 ? 0 : (size_t)d, "foobar", 6, "in-place decode, out == in");
  strcpy(buf, "xZm9vYg==");
  d = sio__base64_decode((uint8_t *)buf, buf + 1, 8);
  is_mem(buf, d < 0 ? 0 : (size_t)d, "foob", 4, "in-place decode, out == in - 1");

  uint8_t all[3];
  d = sio__base64_decode(all, "+/+/", 4);
  is_mem(all, d < 0 ? 0 : (size_t)d, "\xfb\xff\xbf", 3, "'+' and '/' decode to 62 and 63");
  d = sio__base64_decode(all, "QR==", 4);
  is_mem(all, d < 0 ? 0 : (size_t)d, "A", 1, "non-zero unused bits are ignored");

  static const char *bad[] = {
    "Zm9*", "Zm 9v", "Zm9v ", " Zm9v", "Zm=v", "Zm9v=mFy", "Zg=a", "Z", "Zm9vY", "Zg=",
    "Z===", "====", "=", "==", "Zm9v\n", "Zm9v\r\nYmFy", "Zm-v", "Zm_v", "Zm9v\xc3\xa9", "Zm\0v",
  };
  static const size_t badlen[] = {4, 5, 5, 5, 4, 8, 4, 1, 5, 3, 4, 4, 1, 2, 5, 10, 4, 4, 6, 4};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    /* exact-size heap copy: ASan catches a decoder reading past n */
    char *in = malloc(badlen[i]);
    uint8_t out[16];
    memcpy(in, bad[i], badlen[i]);
    is_int(sio__base64_decode(out, in, badlen[i]), -1, "invalid input #%zu rejected", i);
    free(in);
  }

  int okmax = 1;
  for (size_t n = 0; n < 64; n++) okmax &= sio__base64_decoded_max(n) == n * 3 / 4;
  ok(okmax, "decoded_max(n) == floor(3n/4)");
}

static void test_roundtrip(void) {
  uint8_t in[300], dec[300];
  char enc[404], ref[404], work[404];
  int bad_len = -1, bad_ref = -1, bad_dec = -1, bad_unpad = -1, bad_inplace = -1;
  for (size_t n = 0; n <= 300; n++) {
    for (size_t i = 0; i < n; i++) in[i] = (uint8_t)rnd();
    size_t el = sio__base64_encode(enc, in, n);
    if (el != sio__base64_encoded_len(n) && bad_len < 0) bad_len = (int)n;
    size_t rl = slow_encode(ref, in, n);
    if ((rl != el || memcmp(ref, enc, el) != 0) && bad_ref < 0) bad_ref = (int)n;
    ptrdiff_t d = sio__base64_decode(dec, enc, el);
    if ((d != (ptrdiff_t)n || memcmp(dec, in, n) != 0) && bad_dec < 0) bad_dec = (int)n;
    size_t ul = el;
    while (ul && enc[ul - 1] == '=') ul--;
    d = sio__base64_decode(dec, enc, ul);
    if ((d != (ptrdiff_t)n || memcmp(dec, in, n) != 0) && bad_unpad < 0) bad_unpad = (int)n;
    memcpy(work, enc, el);
    d = sio__base64_decode((uint8_t *)work, work, el);
    if ((d != (ptrdiff_t)n || memcmp(work, in, n) != 0) && bad_inplace < 0) bad_inplace = (int)n;
  }
  is_int(bad_len, -1, "encode length == encoded_len for n = 0..300 (first bad n)");
  is_int(bad_ref, -1, "encode matches bitwise reference for n = 0..300");
  is_int(bad_dec, -1, "decode(encode(x)) == x for n = 0..300");
  is_int(bad_unpad, -1, "unpadded decode round-trips for n = 0..300");
  is_int(bad_inplace, -1, "in-place decode round-trips for n = 0..300");
}

/* --- ids ------------------------------------------------------------------ */

#define NIDS 100000
static char ids[NIDS][SIO__ID_LEN + 1];

/* Decodes an id (URL-safe alphabet) back into its 15 bytes. */
static int id_bytes(const char *id, uint8_t out[15]) {
  char tmp[SIO__ID_LEN];
  for (int i = 0; i < SIO__ID_LEN; i++) tmp[i] = id[i] == '-' ? '+' : id[i] == '_' ? '/' : id[i];
  return sio__base64_decode(out, tmp, SIO__ID_LEN) == 15 ? 0 : -1;
}

static uint32_t id_seq(const char *id) {
  uint8_t b[15];
  if (id_bytes(id, b) != 0) return 0xFFFFFFFFu;
  return (uint32_t)b[12] << 16 | (uint32_t)b[13] << 8 | b[14];
}

static int cmp_id(const void *a, const void *b) { return memcmp(a, b, SIO__ID_LEN); }
static int cmp_rand(const void *a, const void *b) { return memcmp(a, b, 16); }

static int valid_id(const char *s) {
  if (strlen(s) != SIO__ID_LEN) return 0;
  for (int i = 0; i < SIO__ID_LEN; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
      return 0;
  }
  return 1;
}

static void test_ids(void) {
  /* Before any sio__id_init: must self-initialise. */
  char first[SIO__ID_LEN + 1];
  sio__id_generate(first);
  ok(valid_id(first), "id generated before sio__id_init is valid: %s", first);
  is_int(id_seq(first), 1, "first id of the process carries sequence number 1");
  is_int(sio__id_init(), 0, "sio__id_init after self-init returns 0");
  is_int(sio__id_init(), 0, "sio__id_init is idempotent");

  for (int i = 0; i < NIDS; i++) sio__id_generate(ids[i]);

  int nvalid = 0;
  for (int i = 0; i < NIDS; i++) nvalid += valid_id(ids[i]);
  is_int(nvalid, NIDS, "every id is 20 chars of [A-Za-z0-9_-]");

  int seq_bad = -1;
  uint32_t prev = id_seq(first);
  for (int i = 0; i < NIDS; i++) {
    uint32_t s = id_seq(ids[i]);
    if (s != ((prev + 1) & 0xFFFFFF) && seq_bad < 0) seq_bad = i;
    prev = s;
  }
  is_int(seq_bad, -1, "sequence counter increments by 1 per id (first bad index)");

  /* Consecutive ids must not share random bytes (e.g. overlapping slices of
   * the batch): no 6-byte window of one random part may appear in the next.
   * By chance that happens with probability ~49 * 2^-48 per pair. */
  int overlap = 0;
  uint8_t pb[15], cb[15];
  id_bytes(first, pb);
  for (int i = 0; i < NIDS; i++) {
    id_bytes(ids[i], cb);
    for (int x = 0; x + 6 <= 12; x++)
      for (int y = 0; y + 6 <= 12; y++) overlap += memcmp(pb + x, cb + y, 6) == 0;
    memcpy(pb, cb, 15);
  }
  is_int(overlap, 0, "consecutive ids share no random bytes");

  /* Byte distribution of the random parts: 100000 * 12 = 1.2 M bytes, 4687.5
   * expected per value, sd ~68; +-25% is ~17 sd, so this cannot flake while a
   * constant, zero or badly biased source fails it. */
  static unsigned long counts[256];
  int dec_bad = 0;
  for (int i = 0; i < NIDS; i++) {
    uint8_t b[15];
    if (id_bytes(ids[i], b) != 0) { dec_bad++; continue; }
    for (int k = 0; k < 12; k++) counts[b[k]]++;
  }
  is_int(dec_bad, 0, "every id decodes to 15 bytes");
  double expect = NIDS * 12 / 256.0;
  int outliers = 0;
  unsigned long lo = ~0ul, hi = 0;
  for (int v = 0; v < 256; v++) {
    if (counts[v] < expect * 0.75 || counts[v] > expect * 1.25) outliers++;
    if (counts[v] < lo) lo = counts[v];
    if (counts[v] > hi) hi = counts[v];
  }
  is_int(outliers, 0, "random bytes roughly uniform (min %lu, max %lu, expected %.1f)", lo, hi, expect);

  /* Distinct ids, and distinct random parts (the first 16 chars encode the
   * 12 random bytes exactly): the counter alone would make the ids distinct. */
  qsort(ids, NIDS, sizeof ids[0], cmp_rand);
  int dup_rand = 0;
  for (int i = 1; i < NIDS; i++) dup_rand += memcmp(ids[i - 1], ids[i], 16) == 0;
  is_int(dup_rand, 0, "random parts of 100000 ids all distinct");
  qsort(ids, NIDS, sizeof ids[0], cmp_id);
  int dup = 0;
  for (int i = 1; i < NIDS; i++) dup += memcmp(ids[i - 1], ids[i], SIO__ID_LEN) == 0;
  is_int(dup, 0, "100000 ids all distinct");
}

static void test_random_bytes(void) {
  static uint8_t a[5000], b[5000];
  is_int(sio__random_bytes(a, 0), 0, "random_bytes(0)");
  is_int(sio__random_bytes(a, sizeof a), 0, "random_bytes(5000) (several DRBG requests)");
  is_int(sio__random_bytes(b, sizeof b), 0, "random_bytes(5000) again");
  ok(memcmp(a, b, sizeof a) != 0, "two draws differ");
  /* Every 1000-byte slice must be non-constant: catches a chunk loop that
   * leaves part of the buffer untouched. */
  static uint8_t z[5000];
  memset(z, 0, sizeof z);
  is_int(sio__random_bytes(z, sizeof z), 0, "random_bytes into zeroed buffer");
  int flat = 0;
  for (int s = 0; s < 5; s++) {
    int zeros = 0;
    for (int i = 0; i < 1000; i++) zeros += z[s * 1000 + i] == 0;
    if (zeros > 50) flat++; /* expected ~4 */
  }
  is_int(flat, 0, "no unfilled 1000-byte slice");
}

/* After fork the child must not repeat the parent's stream: without a reseed
 * both would hold identical DRBG state and pool and print identical ids. */
static void test_fork(void) {
  int fds[2];
  if (pipe(fds) != 0) { ok(0, "pipe"); return; }
  char mine[SIO__ID_LEN + 1], theirs[SIO__ID_LEN + 1 + 32] = {0};
  uint8_t rb_mine[32];
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    char buf[SIO__ID_LEN + 1 + 32];
    sio__id_generate(buf);
    if (sio__random_bytes(buf + SIO__ID_LEN + 1, 32) != 0) _exit(2);
    ssize_t w = write(fds[1], buf, sizeof buf);
    _exit(w == (ssize_t)sizeof buf ? 0 : 1);
  }
  sio__id_generate(mine);
  int rb_ok = sio__random_bytes(rb_mine, 32) == 0;
  close(fds[1]);
  size_t got = 0;
  while (got < sizeof theirs) {
    ssize_t r = read(fds[0], theirs + got, sizeof theirs - got);
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  ok(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && got == sizeof theirs, "fork child ran");
  ok(valid_id(theirs), "child id valid");
  ok(memcmp(mine, theirs, 16) != 0, "child id random part differs from parent's (%s vs %.20s)", mine, theirs);
  ok(rb_ok && memcmp(rb_mine, theirs + SIO__ID_LEN + 1, 32) != 0, "child random bytes differ from parent's");
}

int main(void) {
  test_ids(); /* first: checks self-initialisation and the first sequence number */
  test_rfc4648();
  test_decode_misc();
  test_roundtrip();
  test_random_bytes();
  test_fork();
  return tap_done();
}
