/* Unit tests for the Engine.IO v3 half of eio/eio_codec (Socket.IO v2
 * clients): UTF-16 lengths, single packets (WebSocket frames), text and
 * binary (octet-stream) polling payloads both ways, malformed framing.
 * Expected bytes are what the reference (engine.io 6 parser-v3) produces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eio/eio_codec.h"
#include "tap.h"

#define S(lit) lit, sizeof(lit) - 1

/* Decoders work in place: each gets its own exact-size heap copy (ASan
 * flags any read past the input). */
static uint8_t *dup(const void *s, size_t n) {
  uint8_t *b = malloc(n ? n : 1);
  if (n) memcpy(b, s, n);
  return b;
}

/* ---- UTF-16 lengths --------------------------------------------------------- */

static void test_utf16(void) {
  is_int(sio__eio3_utf16_len((const uint8_t *)"", 0), 0, "empty: 0 units");
  is_int(sio__eio3_utf16_len((const uint8_t *)S("hello")), 5, "ASCII: one unit per byte");
  is_int(sio__eio3_utf16_len((const uint8_t *)S("h\xc3\xa9llo")), 5, "é (2 bytes): 1 unit");
  is_int(sio__eio3_utf16_len((const uint8_t *)S("\xe2\x9c\x93")), 1, "✓ (3 bytes): 1 unit");
  is_int(sio__eio3_utf16_len((const uint8_t *)S("\xf0\x9f\x98\x80")), 2, "😀 (4 bytes): 2 units (a surrogate pair)");
  is_int(sio__eio3_utf16_len((const uint8_t *)S("h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80")), 16,
         "\"héllo wörld ✓ 😀\".length == 16 as in JavaScript");
}

/* ---- single packets (WebSocket frames, records) --------------------------------- */

static void check_packet(const char *in, size_t n, int binary_frame, int type, int binary, const char *data,
                         size_t dlen, const char *what) {
  uint8_t *b = dup(in, n);
  sio__eio_packet p;
  int rc = sio__eio3_decode_packet(b, n, binary_frame, &p);
  is_int(rc, 0, "%s: decodes", what);
  if (rc == 0) {
    is_int(p.type, type, "%s: type", what);
    is_int(p.binary, binary, "%s: binary flag", what);
    is_mem(p.data, p.len, data, dlen, "%s: data", what);
    ok(p.len == 0 || (p.data >= b && p.data + p.len <= b + n), "%s: data inside the buffer", what);
  }
  free(b);
}

static void check_packet_bad(const char *in, size_t n, int binary_frame, const char *what) {
  uint8_t *b = dup(in, n);
  sio__eio_packet p;
  is_int(sio__eio3_decode_packet(b, n, binary_frame, &p), -1, "%s: refused", what);
  free(b);
}

static void test_packets(void) {
  check_packet(S("\x04\x01\x02\x03"), 1, SIO__EIO_MESSAGE, 1, "\x01\x02\x03", 3, "binary frame 04 01 02 03");
  check_packet(S("\x04"), 1, SIO__EIO_MESSAGE, 1, "", 0, "binary frame 04 alone: empty binary message");
  check_packet(S("\x02" "abc"), 1, SIO__EIO_PING, 0, "abc", 3, "binary frame of a ping: not a binary message");
  check_packet(S("4hello"), 0, SIO__EIO_MESSAGE, 0, "hello", 5, "text frame 4hello (as v4)");
  check_packet(S("2probe"), 0, SIO__EIO_PING, 0, "probe", 5, "2probe");
  check_packet(S("2"), 0, SIO__EIO_PING, 0, "", 0, "v3 ping 2");
  check_packet(S("b4AQID"), 0, SIO__EIO_MESSAGE, 1, "\x01\x02\x03", 3, "b4AQID: base64 binary message");
  check_packet(S("b4"), 0, SIO__EIO_MESSAGE, 1, "", 0, "b4: empty binary message");
  check_packet(S("b2YWJj"), 0, SIO__EIO_PING, 0, "abc", 3, "b2 + base64: a ping with data, not binary");
  check_packet_bad("", 0, 1, "empty binary frame");
  check_packet_bad(S("\x07" "x"), 1, "binary frame with type 7");
  check_packet_bad(S("\xff"), 1, "binary frame with type 0xff");
  check_packet_bad(S("b"), 0, "\"b\" without a type digit");
  check_packet_bad(S("bAQID"), 0, "v4-style \"bAQID\" (A is no type digit)");
  check_packet_bad(S("b9AQID"), 0, "b9: unknown type digit");
  check_packet_bad(S("b4!!"), 0, "b4 + invalid base64");
  check_packet_bad(S("b4A"), 0, "b4 + impossible base64 length");
  check_packet_bad(S("9"), 0, "text type 9");
  check_packet_bad("", 0, 0, "empty text frame");
}

/* ---- payload decoding -------------------------------------------------------- */

#define MAXP 32
typedef struct {
  int n, stop_at, stop_rc;
  int type[MAXP], binary[MAXP];
  size_t len[MAXP];
  uint8_t copy[MAXP][256];
} collect_t;

static int collect(void *ud, const sio__eio_packet *p) {
  collect_t *c = ud;
  if (c->n < MAXP) {
    c->type[c->n] = p->type;
    c->binary[c->n] = p->binary;
    c->len[c->n] = p->len;
    memcpy(c->copy[c->n], p->data, p->len < 256 ? p->len : 256);
  }
  c->n++;
  return c->stop_at && c->n == c->stop_at ? c->stop_rc : 0;
}

static int text_payload(const char *s, size_t n, collect_t *c) {
  memset(c, 0, sizeof *c);
  uint8_t *b = dup(s, n);
  int rc = sio__eio3_payload_decode(b, n, collect, c);
  free(b);
  return rc;
}

static int binary_payload(const char *s, size_t n, collect_t *c) {
  memset(c, 0, sizeof *c);
  uint8_t *b = dup(s, n);
  int rc = sio__eio3_binary_payload_decode(b, n, collect, c);
  free(b);
  return rc;
}

static void test_text_payload_decode(void) {
  collect_t c;
  int rc = text_payload(S("6:4hello1:2" "2:4\xc3\xa9" "3:4\xf0\x9f\x98\x80" "6:b4AQID"), &c);
  is_int(rc, 0, "5-record text payload decodes");
  is_int(c.n, 5, "5 packets");
  ok(c.type[0] == SIO__EIO_MESSAGE && !c.binary[0], "#1 text message");
  is_mem(c.copy[0], c.len[0], "hello", 5, "#1 data");
  ok(c.type[1] == SIO__EIO_PING && c.len[1] == 0, "#2 ping");
  is_mem(c.copy[2], c.len[2], "\xc3\xa9", 2, "#3 é: length 2 = '4' + 1 unit");
  is_mem(c.copy[3], c.len[3], "\xf0\x9f\x98\x80", 4, "#4 😀: length 3 = '4' + 2 units");
  ok(c.type[4] == SIO__EIO_MESSAGE && c.binary[4], "#5 binary message");
  is_mem(c.copy[4], c.len[4], "\x01\x02\x03", 3, "#5 bytes");

  rc = text_payload(S("0:"), &c);
  ok(rc == 0 && c.n == 0, "\"0:\": the empty payload, no packet");
  rc = text_payload(S("0:4:4abc0:"), &c);
  ok(rc == 0 && c.n == 1, "\"0:\" records are skipped anywhere");
  rc = text_payload(S("006:4hello"), &c);
  ok(rc == 0 && c.n == 1, "leading zeros in a length (Number(\"006\") == 6 in the reference)");
  rc = text_payload(S("12:4\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93"),
                    &c);
  ok(rc == 0 && c.n == 1 && c.len[0] == 33, "two-digit length over multi-byte characters");

  /* Malformed framing: a parse error. */
  struct { const char *in; size_t n; int delivered; const char *what; } bad[] = {
      {S(""), 0, "empty body"},
      {S("6:4hell"), 0, "body ends inside the record"},
      {S("5:4hello"), 1, "length too short: the rest (\"o\") is no length"},
      {S("7:4hello"), 0, "length too long"},
      {S("6:4hello1"), 1, "trailing length without ':'"},
      {S("6:4hello:"), 1, "trailing ':' without a length"},
      {S(":4a"), 0, "empty length"},
      {S("x:4a"), 0, "non-digit length"},
      {S(" 2:4a"), 0, "space in a length"},
      {S("-2:4a"), 0, "negative length"},
      {S("1e1:4abcdefghi"), 0, "exponent in a length"},
      {S("99999999999999999999999:4a"), 0, "huge length"},
      {S("2:4\xf0\x9f\x98\x80"), 0, "length ends between the two halves of 😀"},
      {S("2:4\xff"), 0, "invalid UTF-8 (0xff)"},
      {S("3:4\xc0\x80"), 0, "invalid UTF-8 (overlong)"},
      {S("2:4\xc3"), 0, "UTF-8 sequence cut by the body's end"},
      {S("1:9"), 0, "unknown packet type"},
      {S("2:4a1:9"), 1, "bad second packet: the first is delivered"},
      {S("1:b"), 0, "\"b\" without type digit"},
      {S("4:b4!!"), 0, "bad base64"},
      {S("4hello"), 0, "a v4 payload"},
      {S("4a\x1e" "4b"), 0, "a v4 payload with a separator"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc = text_payload(bad[i].in, bad[i].n, &c);
    is_int(rc, -1, "text payload: %s -> parse error", bad[i].what);
    is_int(c.n, bad[i].delivered, "text payload: %s: packets delivered before the error", bad[i].what);
  }
  memset(&c, 0, sizeof c);
  ok(sio__eio3_payload_decode(NULL, 0, collect, &c) == -1, "NULL empty text body -> -1");

  memset(&c, 0, sizeof c);
  c.stop_at = 1;
  c.stop_rc = 42;
  uint8_t *b = dup(S("2:4a2:4b"));
  is_int(sio__eio3_payload_decode(b, 8, collect, &c), 42, "callback stop value propagates");
  is_int(c.n, 1, "nothing delivered after the stop");
  free(b);
}

static void test_binary_payload_decode(void) {
  collect_t c;
  int rc = binary_payload(S("\x00\x06\xff" "4hello" "\x01\x04\xff\x04\x01\x02\x03" "\x00\x01\xff" "2"
                            "\x00\x03\xff" "4\xc3\xa9"),
                          &c);
  is_int(rc, 0, "4-record binary payload decodes");
  is_int(c.n, 4, "4 packets");
  ok(c.type[0] == SIO__EIO_MESSAGE && !c.binary[0], "#1 text message");
  is_mem(c.copy[0], c.len[0], "hello", 5, "#1 data");
  ok(c.type[1] == SIO__EIO_MESSAGE && c.binary[1], "#2 binary message");
  is_mem(c.copy[1], c.len[1], "\x01\x02\x03", 3, "#2 bytes");
  ok(c.type[2] == SIO__EIO_PING, "#3 ping");
  is_mem(c.copy[3], c.len[3], "\xc3\xa9", 2, "#4 é: the binary form counts UTF-8 bytes");

  rc = binary_payload("", 0, &c);
  ok(rc == 0 && c.n == 0, "empty binary body: no packet, no error (as the reference)");
  memset(&c, 0, sizeof c);
  ok(sio__eio3_binary_payload_decode(NULL, 0, collect, &c) == 0, "NULL empty binary body");

  /* Ten-byte binary: a two-digit length (1 0 = 11 with the type byte). */
  rc = binary_payload(S("\x01\x01\x01\xff\x04" "0123456789"), &c);
  ok(rc == 0 && c.n == 1 && c.binary[0] && c.len[0] == 10, "two-digit length");
  rc = binary_payload(S("\x00\x04\xff" "b4AQ"), &c);
  ok(rc == 0 && c.n == 1 && c.binary[0] && c.len[0] == 1, "a base64 string record inside a binary payload");

  struct { const char *in; size_t n; int delivered; const char *what; } bad[] = {
      {S("\x02\x01\xff" "2"), 0, "flag byte 2"},
      {S("\x00\x0a\xff" "4"), 0, "digit byte 10"},
      {S("\x00\x01"), 0, "no 0xff"},
      {S("\x00\xff" "4"), 0, "no digit"},
      {S("\x00\x06\xff" "4hel"), 0, "record cut short"},
      {S("\x00\x02\xff" "4a" "\x00\x06\xff" "4hel"), 0, "framing error later: nothing delivered"},
      {S("\x00\x02\xff" "4a" "\x07"), 0, "junk after a record: nothing delivered"},
      {S("\x00\x00\xff"), 0, "empty string record"},
      {S("\x01\x00\xff"), 0, "empty binary record"},
      {S("\x00\x02\xff" "4\xff"), 0, "invalid UTF-8 in a string record"},
      {S("\x01\x02\xff\x09\x01"), 0, "binary record of type 9"},
      {S("\x00\x02\xff" "4a" "\x00\x01\xff" "9"), 1, "bad second packet: the first is delivered"},
      {S("\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff"), 0,
       "a 22-digit length"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc = binary_payload(bad[i].in, bad[i].n, &c);
    is_int(rc, -1, "binary payload: %s -> parse error", bad[i].what);
    is_int(c.n, bad[i].delivered, "binary payload: %s: packets delivered before the error", bad[i].what);
  }
}

/* ---- encoding ------------------------------------------------------------------ */

static void check_payload(const sio__eio_packet *pkts, size_t n, int binary_form, const char *want, size_t wlen,
                          const char *what) {
  size_t len = sio__eio3_payload_len(pkts, n, binary_form);
  is_int(len, wlen, "%s: length", what);
  uint8_t *out = malloc(len ? len : 1);
  size_t w = sio__eio3_payload_write(out, pkts, n, binary_form);
  is_mem(out, w, want, wlen, "%s: bytes", what);
  free(out);
}

static void test_encode(void) {
  sio__eio_packet hello = {SIO__EIO_MESSAGE, 0, (uint8_t *)"hello", 5};
  sio__eio_packet eacute = {SIO__EIO_MESSAGE, 0, (uint8_t *)"\xc3\xa9", 2};
  sio__eio_packet emoji = {SIO__EIO_MESSAGE, 0, (uint8_t *)"a\xf0\x9f\x98\x80", 5};
  sio__eio_packet bin = {SIO__EIO_MESSAGE, 1, (uint8_t *)"\x01\x02\x03", 3};
  sio__eio_packet pong = {SIO__EIO_PONG, 0, NULL, 0};
  sio__eio_packet open = {SIO__EIO_OPEN, 0, (uint8_t *)"{\"sid\":\"x\"}", 11};

  check_payload(NULL, 0, 0, S("0:"), "text form, no packet");
  check_payload(NULL, 0, 1, "", 0, "binary form, no packet");
  check_payload(&hello, 1, 0, S("6:4hello"), "text form, 4hello");
  check_payload(&pong, 1, 0, S("1:3"), "text form, the pong");
  check_payload(&open, 1, 0, S("12:0{\"sid\":\"x\"}"), "text form, an open packet (two digits)");
  check_payload(&eacute, 1, 0, S("2:4\xc3\xa9"), "text form, é counts 1 unit");
  check_payload(&emoji, 1, 0, S("4:4a\xf0\x9f\x98\x80"), "text form, 😀 counts 2 units");
  check_payload(&bin, 1, 0, S("6:b4AQID"), "text form, binary as b4 + base64");
  sio__eio_packet mix[] = {hello, bin, pong};
  check_payload(mix, 3, 0, S("6:4hello6:b4AQID1:3"), "text form, mixed");
  check_payload(mix, 3, 1, S("\x00\x06\xff" "4hello" "\x01\x04\xff\x04\x01\x02\x03" "\x00\x01\xff" "3"),
                "binary form, mixed");
  check_payload(&eacute, 1, 1, S("\x00\x03\xff" "4\xc3\xa9"), "binary form, é counts 2 bytes");

  /* Heads: what goes before the packet's own bytes. */
  uint8_t head[SIO__EIO3_HEAD_MAX];
  size_t h = sio__eio3_record_head(head, &hello, 0);
  is_mem(head, h, "6:", 2, "text head of 4hello");
  h = sio__eio3_record_head(head, &hello, 1);
  is_mem(head, h, "\x00\x06\xff", 3, "binary head of 4hello");
  h = sio__eio3_record_head(head, &bin, 1);
  is_mem(head, h, "\x01\x04\xff\x04", 4, "binary head of a binary message ends with its type byte");

  /* A 1,000,000-byte message: 7 digits in both forms. */
  size_t big = 1000000;
  uint8_t *data = malloc(big);
  memset(data, 'x', big);
  sio__eio_packet large = {SIO__EIO_MESSAGE, 0, data, big};
  h = sio__eio3_record_head(head, &large, 0);
  is_mem(head, h, "1000001:", 8, "text head of a 1 MB message");
  sio__eio_packet large_bin = {SIO__EIO_MESSAGE, 1, data, big};
  h = sio__eio3_record_head(head, &large_bin, 1);
  is_mem(head, h, "\x01\x01\x00\x00\x00\x00\x00\x01\xff\x04", 10, "binary head of a 1 MB binary");
  is_int(sio__eio3_record_len(&large_bin, 0), 8 + 2 + 1333336, "text record of a 1 MB binary: \"1333338:b4\" + base64");
  free(data);
}

/* ---- round trips --------------------------------------------------------------- */

/* Encodes pkts in a form, decodes the result, and compares. Then every
 * strict prefix of the encoding is decoded too: it must never crash, and is
 * either a parse error or (cut exactly between records) fewer packets. */
static void roundtrip(const sio__eio_packet *pkts, size_t n, int binary_form, const char *what) {
  size_t len = sio__eio3_payload_len(pkts, n, binary_form);
  uint8_t *enc = malloc(len ? len : 1);
  sio__eio3_payload_write(enc, pkts, n, binary_form);
  collect_t c;
  int rc = binary_form ? binary_payload((const char *)enc, len, &c) : text_payload((const char *)enc, len, &c);
  is_int(rc, 0, "%s (%s form): decodes", what, binary_form ? "binary" : "text");
  int same = c.n == (int)n;
  for (size_t i = 0; same && i < n; i++)
    same = c.type[i] == pkts[i].type && c.binary[i] == pkts[i].binary && c.len[i] == pkts[i].len &&
           (pkts[i].len == 0 || memcmp(c.copy[i], pkts[i].data, pkts[i].len) == 0);
  ok(same, "%s (%s form): decode(encode(x)) == x", what, binary_form ? "binary" : "text");
  int prefixes_ok = 1;
  for (size_t cut = 0; cut < len; cut++) {
    rc = binary_form ? binary_payload((const char *)enc, cut, &c) : text_payload((const char *)enc, cut, &c);
    if (rc != -1 && !(rc == 0 && c.n < (int)n)) prefixes_ok = 0;
  }
  ok(prefixes_ok, "%s (%s form): every prefix is refused or shorter", what, binary_form ? "binary" : "text");
  free(enc);
}

static void test_roundtrip(void) {
  uint8_t all[256];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  sio__eio_packet pkts[] = {
      {SIO__EIO_MESSAGE, 0, (uint8_t *)"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xf0\x9f\x98\x80", 22},
      {SIO__EIO_MESSAGE, 1, all, 250},
      {SIO__EIO_PING, 0, (uint8_t *)"probe", 5},
      {SIO__EIO_MESSAGE, 0, (uint8_t *)"", 0},
      {SIO__EIO_MESSAGE, 1, all, 0},
      {SIO__EIO_MESSAGE, 0, (uint8_t *)"0:1:\x1e", 5},
      {SIO__EIO_NOOP, 0, NULL, 0},
      {SIO__EIO_MESSAGE, 0, (uint8_t *)"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 12},
  };
  size_t n = sizeof pkts / sizeof pkts[0];
  for (int form = 0; form <= 1; form++) {
    roundtrip(pkts, n, form, "8 mixed packets");
    roundtrip(pkts, 1, form, "one text packet");
    roundtrip(pkts + 1, 1, form, "one binary packet");
    roundtrip(pkts + 4, 1, form, "an empty binary packet");
  }
}

int main(void) {
  test_utf16();
  test_packets();
  test_text_payload_decode();
  test_binary_payload_decode();
  test_encode();
  test_roundtrip();
  return tap_done();
}
