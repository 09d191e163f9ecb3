/* Fuzz target for sio/sio_codec, sio/sio_json and sio/sio_binary.
 *
 * The input is a Socket.IO packet text (what follows the Engine.IO '4'),
 * decoded from an exact-size heap copy so ASan sees any read past the end.
 * Besides "no crash, no leak", it checks properties and aborts when one fails:
 *   - a decoded packet obeys the decoder's contract (type, namespace, id and
 *     attachment ranges, payload shape per type);
 *   - BINARY_* packets are reconstructed from attachments cut from the input
 *     itself; a failure there must come from a bad placeholder num;
 *   - encode(decoded) succeeds, its rbufs are laid out as util/rbuf.h says,
 *     and decoding + reconstructing it gives an equal packet (numbers equal
 *     by value, binaries by bytes), whose encoding is the same bytes again;
 *   - a failed decode leaves the packet cleared;
 *   - every 8 input bytes read as a double format to text that reads back as
 *     the same double, with as few digits as a brute-force search finds. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio.h"
#include "sio/sio_codec.h"
#include "sio/sio_json.h"

#define CHECK(c)                                                        \
  do {                                                                  \
    if (!(c)) {                                                         \
      fprintf(stderr, "fuzz_sio: check failed at line %d: %s\n", __LINE__, #c); \
      abort();                                                          \
    }                                                                   \
  } while (0)

/* Equality as the protocol sees it: numbers by value (an integral real
 * prints as an integer and comes back as one), binaries by bytes, object
 * keys looked up with their length (json_equal would miss "\0sio-bin"). */
static int same(const json_t *a, const json_t *b) {
  if (sio_is_binary(a) || sio_is_binary(b)) {
    size_t la, lb;
    const void *pa = sio_binary_data(a, &la), *pb = sio_binary_data(b, &lb);
    return pa && pb && la == lb && memcmp(pa, pb, la) == 0;
  }
  if (json_is_number(a) && json_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b)) return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
  }
  if (json_typeof(a) != json_typeof(b)) return 0;
  switch (json_typeof(a)) {
  case JSON_ARRAY:
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!same(json_array_get(a, i), json_array_get(b, i))) return 0;
    return 1;
  case JSON_OBJECT:
    if (json_object_size(a) != json_object_size(b)) return 0;
    for (void *it = json_object_iter((json_t *)a); it; it = json_object_iter_next((json_t *)a, it)) {
      json_t *v = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
      if (!v || !same(json_object_iter_value(it), v)) return 0;
    }
    return 1;
  default:
    return json_equal(a, b);
  }
}

static int has_binary(const json_t *v) {
  if (sio_is_binary(v)) return 1;
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (has_binary(json_array_get(v, i))) return 1;
  } else if (json_is_object(v)) {
    for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it))
      if (has_binary(json_object_iter_value(it))) return 1;
  }
  return 0;
}

static int decode_copy(const char *s, size_t n, sio__packet *p) {
  char *b = malloc(n ? n : 1);
  CHECK(b != NULL);
  if (n) memcpy(b, s, n);
  int rc = sio__packet_decode(b, n, p);
  free(b);
  if (rc != 0) CHECK(p->nsp == NULL && p->data == NULL && p->id == -1 && p->attachments == 0);
  return rc;
}

static void check_contract(const sio__packet *p) {
  CHECK(p->type >= SIO__PKT_CONNECT && p->type <= SIO__PKT_BINARY_ACK);
  CHECK(p->nsp && p->nsp[0] == '/' && !strchr(p->nsp, ','));
  CHECK(p->id >= -1 && p->id <= SIO__MAX_ACK_ID);
  int bin = p->type == SIO__PKT_BINARY_EVENT || p->type == SIO__PKT_BINARY_ACK;
  CHECK(p->attachments <= (bin ? SIO__MAX_ATTACHMENTS : 0));
  switch (p->type) {
  case SIO__PKT_CONNECT: CHECK(!p->data || json_is_object(p->data)); break;
  case SIO__PKT_DISCONNECT: CHECK(!p->data); break;
  case SIO__PKT_EVENT:
  case SIO__PKT_BINARY_EVENT:
    CHECK(json_array_size(p->data) > 0);
    CHECK(json_is_string(json_array_get(p->data, 0)) || json_is_number(json_array_get(p->data, 0)));
    break;
  case SIO__PKT_ACK:
  case SIO__PKT_BINARY_ACK: CHECK(json_is_array(p->data)); break;
  case SIO__PKT_CONNECT_ERROR: CHECK(json_is_string(p->data) || json_is_object(p->data)); break;
  }
}

static void free_encoded(sio__rbuf *text, sio__rbuf **atts, size_t natts) {
  sio__rbuf_unref(text);
  for (size_t i = 0; i < natts; i++) sio__rbuf_unref(atts[i]);
  free(atts);
}

/* Attachment views into the encoded buffers. */
static void att_views(sio__rbuf **atts, size_t natts, const uint8_t **bins, size_t *lens) {
  for (size_t i = 0; i < natts; i++) {
    CHECK(atts[i]->binary == 1 && atts[i]->refs == 1 && atts[i]->len >= SIO__RBUF_HEADROOM);
    bins[i] = (const uint8_t *)atts[i]->data + SIO__RBUF_HEADROOM;
    lens[i] = atts[i]->len - SIO__RBUF_HEADROOM;
  }
}

/* Whether v holds an integer that a double cannot represent exactly. */
static int has_unsafe_int(const json_t *v) {
  if (json_is_integer(v)) {
    json_int_t i = json_integer_value(v);
    return i > SIO__MAX_ACK_ID || i < -SIO__MAX_ACK_ID;
  }
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (has_unsafe_int(json_array_get(v, i))) return 1;
  } else if (json_is_object(v)) {
    for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it))
      if (has_unsafe_int(json_object_iter_value(it))) return 1;
  }
  return 0;
}

/* Encodes p, decodes and reconstructs the result, and compares. */
static void roundtrip(const sio__packet *p) {
  sio__rbuf *text, **atts;
  size_t natts;
  int rc = sio__packet_encode(p->type, p->nsp, p->id, p->data, &text, &atts, &natts);
  CHECK(rc == 0);
  CHECK(text->refs == 1 && text->binary == 0 && text->len >= SIO__RBUF_HEADROOM + 2);
  CHECK(text->data[SIO__RBUF_HEADROOM] == '4');
  CHECK((natts == 0) == (atts == NULL));

  int plain = p->type == SIO__PKT_BINARY_EVENT ? SIO__PKT_EVENT
            : p->type == SIO__PKT_BINARY_ACK   ? SIO__PKT_ACK
                                               : p->type;
  int bin = p->data && has_binary(p->data);
  int want_type = !bin ? plain : plain == SIO__PKT_EVENT ? SIO__PKT_BINARY_EVENT : SIO__PKT_BINARY_ACK;

  sio__packet q;
  const char *t = text->data + SIO__RBUF_HEADROOM + 1;
  size_t tlen = text->len - SIO__RBUF_HEADROOM - 1;
  if (natts > SIO__MAX_ATTACHMENTS) {
    /* Possible when placeholders reuse one attachment: the encoder writes
     * each occurrence as its own attachment, and the decoder's cap refuses
     * the result. */
    CHECK(decode_copy(t, tlen, &q) == -1);
    free_encoded(text, atts, natts);
    return;
  }
  CHECK(decode_copy(t, tlen, &q) == 0);
  CHECK(q.type == want_type);
  CHECK(q.attachments == natts);
  const uint8_t *bins[SIO__MAX_ATTACHMENTS];
  size_t lens[SIO__MAX_ATTACHMENTS];
  att_views(atts, natts, bins, lens);
  /* Only a binary packet is reconstructed: in a plain one, an object that
   * looks like a placeholder is ordinary data (as in socket.io-parser). */
  if (natts) CHECK(sio__packet_reconstruct(&q, bins, lens, natts) == 0);
  CHECK(strcmp(q.nsp, p->nsp) == 0);
  CHECK(q.id == p->id);
  if (p->data && !json_is_null(p->data)) CHECK(q.data && same(p->data, q.data));
  else CHECK(!q.data);

  /* The second encoding is byte for byte the first. */
  sio__rbuf *text2, **atts2;
  size_t natts2;
  CHECK(sio__packet_encode(q.type, q.nsp, q.id, q.data, &text2, &atts2, &natts2) == 0);
  /* The one exception: an integer beyond 2^53, exact in jansson's int64 but
   * rounded once the payload it came back in was read as reals (because it
   * also holds an integer beyond int64, see parse_payload), as JS rounds
   * every number. */
  if (!has_unsafe_int(p->data))
    CHECK(text2->len == text->len && memcmp(text2->data, text->data, text->len) == 0);
  CHECK(natts2 == natts);
  for (size_t i = 0; i < natts; i++)
    CHECK(atts2[i]->len == atts[i]->len && memcmp(atts2[i]->data, atts[i]->data, atts[i]->len) == 0);
  free_encoded(text2, atts2, natts2);
  sio__packet_clear(&q);
  free_encoded(text, atts, natts);
}

/* Whether a reconstruct failure is explained by a bad placeholder num. */
static int has_bad_placeholder(const json_t *v, size_t n) {
  if (json_is_array(v)) {
    for (size_t i = 0; i < json_array_size(v); i++)
      if (has_bad_placeholder(json_array_get(v, i), n)) return 1;
  } else if (json_is_object(v)) {
    if (json_is_true(json_object_get(v, "_placeholder"))) {
      const json_t *num = json_object_get(v, "num");
      double d = json_number_value(num);
      return !json_is_number(num) || !(d >= 0 && d < (double)n && d == floor(d));
    }
    for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it))
      if (has_bad_placeholder(json_object_iter_value(it), n)) return 1;
  }
  return 0;
}

/* Adds (+1) or subtracts (-1) one unit in the last digit of the mantissa of
 * a "%.*e" string in place; returns 0 when the digit count would change. */
static int step_last_digit(char *s, int dir) {
  char *d = strchr(s, 'e') - 1;
  for (;; d--) {
    if (d < s) return 0; /* carried past the first digit */
    if (*d == '.') continue;
    if (*d < '0' || *d > '9') return 0;
    if (dir > 0 ? *d != '9' : *d != '0') {
      *d = (char)(*d + dir);
      break;
    }
    *d = dir > 0 ? '0' : '9';
  }
  return !(s[0] == '0' || (s[0] == '-' && s[1] == '0'));
}

/* Reference for the number of significant digits of the shortest decimal
 * that reads back as d (finite, non-zero), by brute force: for each length,
 * the nearest decimal and both its neighbours. */
static int ref_digits(double d) {
  char t[64], u[64];
  for (int p = 1; p <= 17; p++) {
    snprintf(t, sizeof t, "%.*e", p - 1, d);
    if (strtod(t, NULL) == d) return p;
    for (int dir = -1; dir <= 1; dir += 2) {
      memcpy(u, t, sizeof u);
      if (step_last_digit(u, dir) && strtod(u, NULL) == d) return p;
    }
  }
  return 17;
}

/* Significant digits in a JS number string: mantissa digits without the
 * leading zeros of "0.000123" or the trailing zeros of "123000". */
static int sig_digits(const char *s) {
  char dg[40];
  int n = 0;
  for (; *s && *s != 'e'; s++)
    if (*s >= '0' && *s <= '9' && (n || *s != '0')) dg[n++] = *s;
  while (n > 1 && dg[n - 1] == '0') n--;
  return n;
}

static void check_doubles(const uint8_t *data, size_t size) {
  for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
    double d;
    memcpy(&d, data + i, 8);
    char out[SIO__JSON_NUMBER_MAX + 1];
    size_t l = sio__json_format_double(out, d);
    CHECK(l > 0 && l <= SIO__JSON_NUMBER_MAX);
    out[l] = '\0';
    if (!isfinite(d)) {
      CHECK(strcmp(out, "null") == 0);
    } else {
      CHECK(strtod(out, NULL) == d || (d == 0 && strcmp(out, "0") == 0));
      CHECK(strlen(out) == l && !strchr(out, ' '));
      if (d != 0) CHECK(sig_digits(out) == ref_digits(d));
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_doubles(data, size);

  sio__packet p;
  if (decode_copy((const char *)data, size, &p) != 0) return 0;
  check_contract(&p);

  if (p.type == SIO__PKT_BINARY_EVENT || p.type == SIO__PKT_BINARY_ACK) {
    /* Attachment i: the input bytes from i to the end, each a heap copy of
     * exact size so over-reads show up. */
    const uint8_t *bins[SIO__MAX_ATTACHMENTS];
    size_t lens[SIO__MAX_ATTACHMENTS];
    uint8_t *copies[SIO__MAX_ATTACHMENTS];
    for (uint32_t i = 0; i < p.attachments; i++) {
      size_t off = i < size ? i : size;
      lens[i] = size - off;
      copies[i] = malloc(lens[i] ? lens[i] : 1);
      CHECK(copies[i] != NULL);
      if (lens[i]) memcpy(copies[i], data + off, lens[i]);
      bins[i] = copies[i];
    }
    int bad = has_bad_placeholder(p.data, p.attachments);
    int rc = sio__packet_reconstruct(&p, bins, lens, p.attachments);
    for (uint32_t i = 0; i < p.attachments; i++) free(copies[i]);
    CHECK(rc == (bad ? -1 : 0));
    if (rc != 0) {
      sio__packet_clear(&p);
      return 0;
    }
    CHECK(!has_bad_placeholder(p.data, p.attachments));
  }

  roundtrip(&p);
  sio__packet_clear(&p);
  return 0;
}
