/* Tests for HTTP response compression (lib/src/http/http_compress.c): the
 * Accept-Encoding choice against negotiator's own answers
 * (deflate_vectors.h, generated from the npm package engine.io uses), and
 * gzip / deflate bodies built from several segments, decoded by plain zlib;
 * the shared stream is reset between responses. */
#include "http/http_compress.h"

#include <stdlib.h>
#include <zlib.h>

#include "tap.h"

#include "deflate_vectors.h"

static void test_vectors(void) {
  for (size_t i = 0; i < sizeof enc_vectors / sizeof enc_vectors[0]; i++) {
    const struct enc_vector *v = &enc_vectors[i];
    int enc = sio__http_pick_encoding(v->accept, strlen(v->accept));
    const char *name = sio__http_encoding_name(enc);
    is_str(name ? name : "identity", v->encoding, "Accept-Encoding: %s", v->accept);
  }
  is_int(sio__http_pick_encoding(NULL, 0), SIO__HTTP_ENC_IDENTITY, "no Accept-Encoding: identity");
  is_int(sio__http_pick_encoding("gzip, deflate", 4), SIO__HTTP_ENC_GZIP, "taken by length");
  is_int(sio__http_pick_encoding("deflate;q=0.1, gzip;q=0.0001", 28), SIO__HTTP_ENC_DEFLATE,
         "q compared as numbers");
}

static sio__rbuf *seg_buf(const char *s) {
  size_t n = strlen(s);
  sio__rbuf *rb = sio__rbuf_new(n + 8);
  memcpy(rb->data + 3, s, n); /* at an offset, as Engine.IO packets are */
  rb->len = (uint32_t)(n + 3);
  return rb;
}

static int decode(int enc, const sio__rbuf *z, char *out, size_t cap, size_t *outlen) {
  z_stream s;
  memset(&s, 0, sizeof s);
  inflateInit2(&s, enc == SIO__HTTP_ENC_GZIP ? 31 : 15); /* exactly the format announced */
  s.next_in = (Bytef *)z->data;
  s.avail_in = z->len;
  s.next_out = (Bytef *)out;
  s.avail_out = (uInt)cap;
  int r = inflate(&s, Z_FINISH);
  *outlen = cap - s.avail_out;
  int trailing = s.avail_in;
  inflateEnd(&s);
  return r == Z_STREAM_END && !trailing ? 0 : -1;
}

static void test_bodies(void) {
  sio__http_compress *z = sio__http_compress_new(1024, -1);
  ok(z != NULL, "compressor");
  is_int(sio__http_compress_threshold(z), 1024, "threshold kept");
  ok(sio__http_compress_new(0, 10) == NULL, "level 10 refused");
  /* A polling payload: records and separators, as eio_socket.c lays them out. */
  const char *parts[] = {"4hello world, hello world, hello world", "\x1e",
                         "42[\"chat\",\"the same words again and again and again\"]", "\x1e", "2"};
  sio__rbuf *rbs[5];
  sio__wseg segs[5];
  char want[4096];
  size_t wlen = 0;
  for (int i = 0; i < 5; i++) {
    rbs[i] = seg_buf(parts[i]);
    segs[i] = (sio__wseg){rbs[i], 3, (uint32_t)strlen(parts[i])};
    memcpy(want + wlen, parts[i], strlen(parts[i]));
    wlen += strlen(parts[i]);
  }
  for (int round = 0; round < 3; round++) {
    for (int enc = SIO__HTTP_ENC_GZIP; enc <= SIO__HTTP_ENC_DEFLATE; enc++) {
      sio__rbuf *out = sio__http_compress_body(z, enc, segs, 5);
      ok(out != NULL, "%s body, round %d", sio__http_encoding_name(enc), round);
      char got[4096];
      size_t glen = 0;
      is_int(decode(enc, out, got, sizeof got, &glen), 0, "... decodes as %s", sio__http_encoding_name(enc));
      is_mem(got, glen, want, wlen, "... to the payload");
      if (enc == SIO__HTTP_ENC_GZIP)
        ok(out->len > 10 && (uint8_t)out->data[0] == 0x1f && (uint8_t)out->data[1] == 0x8b, "gzip magic");
      else
        ok(out->len > 2 && (((uint8_t)out->data[0] << 8) | (uint8_t)out->data[1]) % 31 == 0 &&
               (out->data[0] & 0x0f) == 8,
           "zlib header (RFC 1950)");
      sio__rbuf_unref(out);
    }
  }
  ok(sio__http_compress_body(z, SIO__HTTP_ENC_IDENTITY, segs, 5) == NULL, "identity is not an encoding");
  /* Large and incompressible: the output buffer grows past deflateBound's guess if needed. */
  size_t big = 300000;
  sio__rbuf *nb = sio__rbuf_new(big);
  uint32_t x = 12345;
  for (size_t i = 0; i < big; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    nb->data[i] = (char)x;
  }
  nb->len = (uint32_t)big;
  sio__wseg one = {nb, 0, (uint32_t)big};
  sio__rbuf *out = sio__http_compress_body(z, SIO__HTTP_ENC_GZIP, &one, 1);
  char *got = malloc(big + 16);
  size_t glen = 0;
  ok(out && decode(SIO__HTTP_ENC_GZIP, out, got, big + 16, &glen) == 0 && glen == big &&
         memcmp(got, nb->data, big) == 0,
     "300 KB of noise round-trips through gzip");
  sio__rbuf_unref(out);
  /* Empty body. */
  out = sio__http_compress_body(z, SIO__HTTP_ENC_DEFLATE, NULL, 0);
  ok(out && decode(SIO__HTTP_ENC_DEFLATE, out, got, 16, &glen) == 0 && glen == 0, "an empty body");
  sio__rbuf_unref(out);
  free(got);
  sio__rbuf_unref(nb);
  for (int i = 0; i < 5; i++) sio__rbuf_unref(rbs[i]);
  sio__http_compress_free(z);
  sio__http_compress_free(NULL);
}

int main(void) {
  test_vectors();
  test_bodies();
  return tap_done();
}
