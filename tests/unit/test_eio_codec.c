/* Unit tests for eio/eio_codec: single packets, polling payloads, records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio/eio_codec.h"
#include "tap.h"

static uint64_t rng = 0x13198a2e03707344ull;
static uint64_t rnd(void) {
  rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
  return rng;
}

/* Decodes a copy held in an exact-size heap buffer, so ASan flags any read
 * past the input. The copy is returned through *keep for the caller to free
 * (packet data points into it). */
static int decode(const char *s, size_t n, int binary_frame, sio__eio_packet *p, uint8_t **keep) {
  uint8_t *b = malloc(n ? n : 1);
  memcpy(b, s, n);
  *keep = b;
  return sio__eio_decode_packet(b, n, binary_frame, p);
}

static void check_text(const char *in, int type, const char *data) {
  sio__eio_packet p;
  uint8_t *b;
  memset(&p, 0x55, sizeof p);
  int rc = decode(in, strlen(in), 0, &p, &b);
  is_int(rc, 0, "decode \"%s\" ok", in);
  if (rc == 0) {
    is_int(p.type, type, "\"%s\" type", in);
    is_int(p.binary, 0, "\"%s\" is text", in);
    is_mem(p.data, p.len, data, strlen(data), "\"%s\" data", in);
    ok(p.data == b + 1, "\"%s\" data points into the buffer after the digit", in);
  }
  free(b);
}

static void check_bad(const char *in, size_t n, const char *what) {
  sio__eio_packet p;
  uint8_t *b;
  is_int(decode(in, n, 0, &p, &b), -1, "%s rejected", what);
  free(b);
}

static void test_packets(void) {
  check_text("0{\"sid\":\"x\"}", SIO__EIO_OPEN, "{\"sid\":\"x\"}");
  check_text("1", SIO__EIO_CLOSE, "");
  check_text("2", SIO__EIO_PING, "");
  check_text("2probe", SIO__EIO_PING, "probe");
  check_text("3probe", SIO__EIO_PONG, "probe");
  check_text("4hello", SIO__EIO_MESSAGE, "hello");
  check_text("4", SIO__EIO_MESSAGE, "");
  check_text("42[\"a\",\"\xc3\xa9\"]", SIO__EIO_MESSAGE, "2[\"a\",\"\xc3\xa9\"]");
  check_text("5", SIO__EIO_UPGRADE, "");
  check_text("6", SIO__EIO_NOOP, "");
  check_text("4b", SIO__EIO_MESSAGE, "b");

  sio__eio_packet p;
  uint8_t *b;
  int rc = decode("bAQIDBA==", 9, 0, &p, &b);
  is_int(rc, 0, "decode bAQIDBA==");
  if (rc == 0) {
    is_int(p.type, SIO__EIO_MESSAGE, "b... is a message");
    is_int(p.binary, 1, "b... is binary");
    is_mem(p.data, p.len, "\x01\x02\x03\x04", 4, "b... decoded to 01 02 03 04");
    ok(p.data >= b && p.data + p.len <= b + 9, "binary data decoded inside the buffer");
  }
  free(b);
  rc = decode("bAQID", 5, 0, &p, &b);
  is_mem(rc == 0 ? p.data : NULL, rc == 0 ? p.len : 0, "\x01\x02\x03", 3, "unpadded base64 binary");
  free(b);
  rc = decode("b", 1, 0, &p, &b);
  ok(rc == 0 && p.binary == 1 && p.type == SIO__EIO_MESSAGE && p.len == 0, "\"b\" is an empty binary message");
  free(b);

  rc = decode("\x00\xff\x1e" "4x", 5, 1, &p, &b);
  ok(rc == 0 && p.binary == 1 && p.type == SIO__EIO_MESSAGE, "binary frame is a binary message");
  is_mem(rc == 0 ? p.data : NULL, rc == 0 ? p.len : 0, "\x00\xff\x1e" "4x", 5,
         "binary frame data is the whole frame, untouched");
  ok(rc == 0 && p.data == b, "binary frame data points at the buffer");
  free(b);
  rc = sio__eio_decode_packet(NULL, 0, 1, &p);
  ok(rc == 0 && p.binary == 1 && p.len == 0, "empty binary frame is an empty binary message");

  check_bad("", 0, "empty input");
  check_bad("abc", 3, "\"abc\"");
  check_bad("7", 1, "\"7\"");
  check_bad("/", 1, "\"/\" (just below '0')");
  check_bad(":", 1, "\":\"");
  check_bad("9hello", 6, "\"9hello\"");
  check_bad("b!!!", 4, "\"b!!!\"");
  check_bad("bAQIDB", 6, "\"bAQIDB\" (impossible base64 length)");
  check_bad("bAQ=DBA==", 9, "\"bAQ=DBA==\" ('=' inside)");
  check_bad("B", 1, "\"B\"");
  check_bad(" 4", 2, "leading space");
  check_bad("\x1e", 1, "lone separator");
  check_bad("\x04hi", 3, "v3-style raw type byte in a text frame");
  check_bad("\xff", 1, "byte 0xff");
  ok(sio__eio_decode_packet(NULL, 0, 0, &p) == -1, "empty text input with NULL buffer");
}

/* --- payloads ------------------------------------------------------------- */

#define MAXP 64
typedef struct {
  int n, stop_at, stop_rc;
  int type[MAXP], binary[MAXP];
  size_t len[MAXP];
  uint8_t *data[MAXP];
  uint8_t copy[MAXP][512];
} collect_t;

static int collect(void *ud, const sio__eio_packet *p) {
  collect_t *c = ud;
  if (c->n < MAXP) {
    c->type[c->n] = p->type;
    c->binary[c->n] = p->binary;
    c->len[c->n] = p->len;
    c->data[c->n] = p->data;
    memcpy(c->copy[c->n], p->data, p->len < 512 ? p->len : 512);
  }
  c->n++;
  if (c->stop_at && c->n == c->stop_at) return c->stop_rc;
  return 0;
}

static int payload(const char *s, size_t n, collect_t *c) {
  uint8_t *b = malloc(n ? n : 1);
  memcpy(b, s, n);
  int rc = sio__eio_payload_decode(b, n, collect, c);
  free(b);
  return rc;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_payloads(void) {
  collect_t c;
  memset(&c, 0, sizeof c);
  int rc = payload(S("4hello\x1e" "2\x1e" "4world"), &c);
  is_int(rc, 0, "3-record payload decodes");
  is_int(c.n, 3, "3 packets");
  ok(c.type[0] == 4 && !c.binary[0], "#1 message");
  is_mem(c.copy[0], c.len[0], "hello", 5, "#1 data");
  ok(c.type[1] == 2 && c.len[1] == 0, "#2 ping, empty");
  ok(c.type[2] == 4, "#3 message");
  is_mem(c.copy[2], c.len[2], "world", 5, "#3 data");

  memset(&c, 0, sizeof c);
  rc = payload(S("4hello\x1e" "bAQIDBA=="), &c);
  ok(rc == 0 && c.n == 2, "text + binary payload");
  is_mem(c.copy[0], c.len[0], "hello", 5, "text record");
  ok(c.binary[1] == 1 && c.type[1] == SIO__EIO_MESSAGE, "second record binary");
  is_mem(c.copy[1], c.len[1], "\x01\x02\x03\x04", 4, "binary record bytes");

  memset(&c, 0, sizeof c);
  rc = payload(S("4single"), &c);
  ok(rc == 0 && c.n == 1, "single record payload");
  is_mem(c.copy[0], c.len[0], "single", 6, "single record data");

  memset(&c, 0, sizeof c);
  rc = payload(S("6\x1e" "1"), &c);
  ok(rc == 0 && c.n == 2 && c.type[0] == 6 && c.type[1] == 1, "\"6\\x1e1\"");

  memset(&c, 0, sizeof c);
  rc = payload(S("4a\x1e\x1e" "4b"), &c);
  is_int(rc, -1, "empty record -> -1");
  is_int(c.n, 1, "record before the empty one delivered, none after");

  memset(&c, 0, sizeof c);
  rc = payload(S("4a\x1e"), &c);
  is_int(rc, -1, "trailing separator -> -1");
  is_int(c.n, 1, "first record delivered before the error");

  memset(&c, 0, sizeof c);
  rc = payload(S("\x1e" "4a"), &c);
  ok(rc == -1 && c.n == 0, "leading separator -> -1, nothing delivered");

  memset(&c, 0, sizeof c);
  rc = payload("", 0, &c);
  ok(rc == -1 && c.n == 0, "empty body -> -1");
  ok(sio__eio_payload_decode(NULL, 0, collect, &c) == -1, "NULL empty body -> -1");

  memset(&c, 0, sizeof c);
  rc = payload(S("4a\x1e" "abc\x1e" "4b"), &c);
  ok(rc == -1 && c.n == 1, "bad middle record: -1 after the first, the third not decoded");

  memset(&c, 0, sizeof c);
  rc = payload(S("4a\x1e" "b!!\x1e" "4b"), &c);
  ok(rc == -1 && c.n == 1, "bad base64 record: -1 after the first");

  memset(&c, 0, sizeof c);
  c.stop_at = 2;
  c.stop_rc = 42;
  rc = payload(S("4a\x1e" "4b\x1e" "4c"), &c);
  is_int(rc, 42, "callback stop value propagates");
  is_int(c.n, 2, "no packet delivered after the stop");

  memset(&c, 0, sizeof c);
  c.stop_at = 1;
  c.stop_rc = -7;
  rc = payload(S("4a\x1e" "zzz"), &c);
  is_int(rc, -7, "stop on the first record: the bad second record is never parsed");

  /* A text packet containing U+001E is split there, like the reference. */
  memset(&c, 0, sizeof c);
  rc = payload(S("4x\x1e" "4y"), &c);
  ok(rc == 0 && c.n == 2, "0x1E inside text data splits the record");

  /* Data pointers stay inside the body, in order, without overlap. */
  uint8_t body[] = "4ab\x1e" "bAQID\x1e" "3";
  memset(&c, 0, sizeof c);
  rc = sio__eio_payload_decode(body, sizeof body - 1, collect, &c);
  ok(rc == 0 && c.n == 3 && c.data[0] == body + 1 && c.data[1] == body + 5 && c.data[2] == body + 11,
     "packet data points into the body at the record offsets");
}

/* --- records -------------------------------------------------------------- */

static void test_records(void) {
  char out[64];
  sio__eio_packet p = {SIO__EIO_MESSAGE, 0, (uint8_t *)"hello", 5};
  is_int(sio__eio_polling_record_len(&p), 6, "text record len");
  size_t n = sio__eio_polling_record_write(out, &p);
  is_mem(out, n, "4hello", 6, "text record");

  sio__eio_packet q = {SIO__EIO_NOOP, 0, NULL, 0};
  is_int(sio__eio_polling_record_len(&q), 1, "noop record len");
  n = sio__eio_polling_record_write(out, &q);
  is_mem(out, n, "6", 1, "noop record");

  sio__eio_packet o = {SIO__EIO_OPEN, 0, (uint8_t *)"{}", 2};
  n = sio__eio_polling_record_write(out, &o);
  is_mem(out, n, "0{}", 3, "open record");

  sio__eio_packet b = {SIO__EIO_MESSAGE, 1, (uint8_t *)"\x01\x02\x03\x04", 4};
  is_int(sio__eio_polling_record_len(&b), 9, "binary record len");
  n = sio__eio_polling_record_write(out, &b);
  is_mem(out, n, "bAQIDBA==", 9, "binary record");

  sio__eio_packet e = {SIO__EIO_MESSAGE, 1, NULL, 0};
  is_int(sio__eio_polling_record_len(&e), 1, "empty binary record len");
  n = sio__eio_polling_record_write(out, &e);
  is_mem(out, n, "b", 1, "empty binary record");

  sio__eio_packet b3 = {SIO__EIO_MESSAGE, 1, (uint8_t *)"\xff\xfe\xfd", 3};
  n = sio__eio_polling_record_write(out, &b3);
  is_mem(out, n, "b//79", 5, "binary record, no padding needed");
  is_int(sio__eio_polling_record_len(&b3), 5, "its length");
}

/* decode(encode(packets)) == packets for random lists of text and binary
 * packets, including empty data, 0x1E inside binary data, and base64 of every
 * residue mod 3. */
static void test_roundtrip(void) {
  enum { ITER = 1000 };
  int bad = -1;
  static uint8_t data[MAXP][300];
  sio__eio_packet pk[MAXP];
  for (int it = 0; it < ITER && bad < 0; it++) {
    int np = 1 + (int)(rnd() % 20);
    size_t total = 0;
    for (int i = 0; i < np; i++) {
      pk[i].binary = rnd() % 3 == 0;
      pk[i].type = pk[i].binary ? SIO__EIO_MESSAGE : (int)(rnd() % 7);
      pk[i].len = rnd() % 4 == 0 ? 0 : rnd() % 300;
      for (size_t k = 0; k < pk[i].len; k++) {
        uint8_t v = (uint8_t)rnd();
        if (!pk[i].binary && v == SIO__EIO_SEPARATOR) v = 'x'; /* text cannot carry it */
        data[i][k] = v;
      }
      pk[i].data = data[i];
      total += sio__eio_polling_record_len(&pk[i]) + 1;
    }
    char *body = malloc(total);
    size_t off = 0;
    for (int i = 0; i < np; i++) {
      if (i) body[off++] = SIO__EIO_SEPARATOR;
      size_t w = sio__eio_polling_record_write(body + off, &pk[i]);
      if (w != sio__eio_polling_record_len(&pk[i])) bad = it;
      off += w;
    }
    collect_t *c = calloc(1, sizeof *c);
    int rc = sio__eio_payload_decode((uint8_t *)body, off, collect, c);
    if (rc != 0 || c->n != np) bad = it;
    for (int i = 0; i < np && bad < 0; i++) {
      if (c->type[i] != pk[i].type || c->binary[i] != pk[i].binary || c->len[i] != pk[i].len ||
          memcmp(c->copy[i], pk[i].data, pk[i].len) != 0)
        bad = it;
    }
    free(c);
    free(body);
  }
  is_int(bad, -1, "payload decode(encode(packets)) == packets, %d random lists (first bad iteration)", ITER);
}

int main(void) {
  test_packets();
  test_payloads();
  test_records();
  test_roundtrip();
  return tap_done();
}
