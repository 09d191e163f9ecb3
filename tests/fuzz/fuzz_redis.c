/* Fuzz target for redis/redis_codec (messages from Redis are untrusted).
 *
 * The input is one Redis message, decoded from an exact-size heap copy so
 * ASan sees any read past the end, as a plain value, a broadcast, a request
 * and a response. Besides "no crash, no leak", it checks and aborts when:
 *   - a failed decode does not leave its output cleared;
 *   - a decoded value does not pack again (the decoder refuses what the
 *     encoder would, e.g. depth), or packing, unpacking and packing again
 *     gives another value or other bytes (the encoding is canonical);
 *   - a decoded broadcast/request/response does not encode again, or that
 *     encoding does not decode to the same fields;
 *   - the input read as a channel name is classified with a room outside it. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis/redis_codec.h"
#include "sio.h"
#include "../unit/sio_value_same.h"

#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) {                                                         \
      fprintf(stderr, "fuzz_redis: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                          \
    }                                                                   \
  } while (0)

static int same(const json_t *a, const json_t *b) { return sio_value_same(a, b, 0); }

static int same_rooms(const char **a, size_t na, const char **b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i], b[i]) != 0) return 0;
  return 1;
}

static int same_str(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static void fuzz_value(const uint8_t *b, size_t n) {
  json_t *v;
  int rc = sio__redis_unpack(b, n, &v);
  CHECK(rc <= 0);
  if (rc != 0) {
    CHECK(v == NULL);
    return;
  }
  uint8_t *p1, *p2;
  size_t l1, l2;
  CHECK(sio__redis_pack(v, &p1, &l1) == 0);
  json_t *w;
  CHECK(sio__redis_unpack(p1, l1, &w) == 0);
  CHECK(same(v, w));
  CHECK(sio__redis_pack(w, &p2, &l2) == 0);
  CHECK(l1 == l2 && memcmp(p1, p2, l1) == 0);
  free(p1);
  free(p2);
  json_decref(v);
  json_decref(w);
}

static void fuzz_broadcast(const uint8_t *b, size_t n) {
  sio__redis_broadcast x, y;
  if (sio__redis_decode_broadcast(b, n, &x) != 0) {
    CHECK(!x.root && !x.rooms && !x.data && !x.uid);
    return;
  }
  CHECK(x.uid && x.nsp && json_is_array(x.data) && json_array_size(x.data) > 0);
  CHECK(json_is_object(x.flags) && (x.type == 2 || x.type == 5));
  uint8_t *p;
  size_t l;
  CHECK(sio__redis_encode_broadcast(x.uid, x.nsp, x.data, x.rooms, x.nrooms, x.except, x.nexcept,
                                    x.flags, &p, &l) == 0);
  CHECK(sio__redis_decode_broadcast(p, l, &y) == 0);
  CHECK(!strcmp(x.uid, y.uid) && !strcmp(x.nsp, y.nsp) && y.type == 2);
  CHECK(same(x.data, y.data) && same(x.flags, y.flags));
  CHECK(same_rooms(x.rooms, x.nrooms, y.rooms, y.nrooms));
  CHECK(same_rooms(x.except, x.nexcept, y.except, y.nexcept));
  CHECK(memcmp(&x.f, &y.f, sizeof x.f) == 0);
  free(p);
  sio__redis_broadcast_clear(&x);
  sio__redis_broadcast_clear(&y);
}

static void fuzz_request(const uint8_t *b, size_t n) {
  sio__redis_request x, y;
  if (sio__redis_decode_request(b, n, &x) != 0) {
    CHECK(!x.root && !x.strings_ && !x.uid && x.close == -1);
    return;
  }
  CHECK(x.type >= 0 && x.type <= 9);
  sio__redis_request e = x;
  e.root = NULL;
  uint8_t *p;
  size_t l;
  int rc = sio__redis_encode_request(&e, &p, &l);
  /* JSON text is limited by the JSON writer's depth (2048), never reached
   * from msgpack (32); a BROADCAST read from JSON may be too deep for
   * msgpack. */
  if (rc == SIO__REDIS_EDEPTH && x.type == SIO__REDIS_BROADCAST && b[0] == '{') {
    sio__redis_request_clear(&x);
    return;
  }
  CHECK(rc == 0);
  CHECK((x.type == SIO__REDIS_BROADCAST) == (p[0] != '{'));
  CHECK(sio__redis_decode_request(p, l, &y) == 0);
  CHECK(y.type == x.type && same_str(x.uid, y.uid) && same_str(x.request_id, y.request_id));
  CHECK(same_str(x.sid, y.sid) && same_str(x.room, y.room) && x.close == y.close);
  CHECK(y.has_rooms == x.has_rooms && same_rooms(x.rooms, x.nrooms, y.rooms, y.nrooms));
  CHECK(same_rooms(x.opts_rooms, x.n_opts_rooms, y.opts_rooms, y.n_opts_rooms));
  CHECK(same_rooms(x.opts_except, x.n_opts_except, y.opts_except, y.n_opts_except));
  if (x.type == SIO__REDIS_BROADCAST) {
    CHECK(same(x.packet_data, y.packet_data) && same(x.flags, y.flags) && !strcmp(x.nsp, y.nsp));
  } else if (x.data) {
    /* JSON carries binaries as {"type":"Buffer",...}, so only binary-free
     * data compares equal; at least it must be there */
    CHECK(y.data != NULL);
  }
  free(p);
  sio__redis_request_clear(&x);
  sio__redis_request_clear(&y);
}

static void fuzz_response(const uint8_t *b, size_t n) {
  sio__redis_response x, y;
  if (sio__redis_decode_response(b, n, &x) != 0) {
    CHECK(!x.root && !x.request_id && x.type == -1);
    return;
  }
  CHECK(x.request_id);
  uint8_t *p;
  size_t l;
  int rc = sio__redis_encode_response(&x, &p, &l);
  if (rc == SIO__REDIS_EDEPTH && x.type == SIO__REDIS_BROADCAST_ACK && b[0] == '{') {
    sio__redis_response_clear(&x);
    return;
  }
  CHECK(rc == 0);
  CHECK(sio__redis_decode_response(p, l, &y) == 0);
  CHECK(!strcmp(x.request_id, y.request_id) && x.type == y.type);
  CHECK(x.type != SIO__REDIS_BROADCAST_CLIENT_COUNT || x.client_count == y.client_count);
  if (x.type == SIO__REDIS_BROADCAST_ACK) CHECK(same(x.packet, y.packet));
  free(p);
  sio__redis_response_clear(&x);
  sio__redis_response_clear(&y);
}

static void fuzz_channel(const uint8_t *b, size_t n) {
  static const char *nsps[] = {"/", "/a", "/#"};
  for (size_t i = 0; i < 3; i++) {
    const char *room;
    size_t rl;
    int k = sio__redis_channel_parse(NULL, nsps[i], (const char *)b, n, &room, &rl);
    CHECK(k >= -1 && k <= 1);
    if (k == 1) CHECK(room >= (const char *)b && room + rl < (const char *)b + n && room[rl] == '#');
    else CHECK(room == NULL && rl == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *b = malloc(size ? size : 1);
  CHECK(b != NULL);
  if (size) memcpy(b, data, size);
  fuzz_value(b, size);
  fuzz_broadcast(b, size);
  fuzz_request(b, size);
  fuzz_response(b, size);
  fuzz_channel(b, size);
  free(b);
  return 0;
}
