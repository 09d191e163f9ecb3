/* Wire codec for @socket.io/redis-adapter v8 messages: see redis_codec.h. */
#include "redis/redis_codec.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio.h"
#include "sio/sio_jparse.h"
#include "sio/sio_json.h"
#include "util/utf8.h"

#define TWO53 9007199254740992.0 /* 2^53 */

const char *sio__redis_strerror(int err) {
  switch (err) {
  case 0: return "ok";
  case SIO__REDIS_ETRUNCATED: return "truncated msgpack";
  case SIO__REDIS_EMSGPACK: return "invalid msgpack";
  case SIO__REDIS_EDEPTH: return "nested too deep";
  case SIO__REDIS_EKEY: return "map key not a string, or holding NUL";
  case SIO__REDIS_ESHAPE: return "unexpected message shape";
  case SIO__REDIS_EJSON: return "invalid JSON";
  case SIO__REDIS_ENOMEM: return "out of memory";
  case SIO__REDIS_EINVAL: return "invalid argument";
  }
  return "unknown error";
}

/* ---- input check ----------------------------------------------------------
 * One walk over the bytes before libmsgpack sees them: libmsgpack's
 * unpacker allocates an array's or map's slots from the declared count, so
 * a 5-byte "array of 2^32-1" would ask for ~100 GB; here every element must
 * actually be present, which bounds the slots by the input length. */

typedef struct {
  const uint8_t *p, *end;
} scan;

static uint32_t be(const uint8_t *p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

static int scan_value(scan *s, int depth);

static int scan_items(scan *s, uint64_t n, int depth) {
  if (depth >= SIO__REDIS_MAX_DEPTH) return SIO__REDIS_EDEPTH;
  for (uint64_t i = 0; i < n; i++) {
    int rc = scan_value(s, depth + 1);
    if (rc) return rc;
  }
  return 0;
}

/* Skips n bytes of payload. */
static int scan_skip(scan *s, uint64_t n) {
  if (n > (uint64_t)(s->end - s->p)) return SIO__REDIS_ETRUNCATED;
  s->p += n;
  return 0;
}

static int scan_value(scan *s, int depth) {
  if (s->p >= s->end) return SIO__REDIS_ETRUNCATED;
  uint8_t c = *s->p++;
  size_t left = (size_t)(s->end - s->p);
  if (c <= 0x7f || c >= 0xe0) return 0;
  if (c <= 0x8f) return scan_items(s, 2ull * (c & 0x0f), depth);
  if (c <= 0x9f) return scan_items(s, c & 0x0f, depth);
  if (c <= 0xbf) return scan_skip(s, c & 0x1f);
  /* Sizes of the length field for the c4..df forms (0: fixed payload). */
  switch (c) {
  case 0xc0: case 0xc2: case 0xc3: return 0;
  case 0xc1: return SIO__REDIS_EMSGPACK;
  case 0xc4: case 0xc5: case 0xc6: case 0xd9: case 0xda: case 0xdb: {
    int w = c == 0xc4 || c == 0xd9 ? 1 : c == 0xc5 || c == 0xda ? 2 : 4;
    if (left < (size_t)w) return SIO__REDIS_ETRUNCATED;
    uint32_t n = be(s->p, w);
    s->p += w;
    return scan_skip(s, n);
  }
  case 0xc7: case 0xc8: case 0xc9: {
    int w = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4;
    if (left < (size_t)w + 1) return SIO__REDIS_ETRUNCATED;
    uint32_t n = be(s->p, w);
    int8_t type = (int8_t)s->p[w];
    s->p += w + 1;
    /* A timestamp is 4, 8 or 12 bytes (notepack reads 12 for any ext-8
     * timestamp, and would lose its place on the others). */
    if (type == -1 && n != 4 && n != 8 && n != 12) return SIO__REDIS_EMSGPACK;
    if (type != -1 && type != 0 && depth >= SIO__REDIS_MAX_DEPTH) return SIO__REDIS_EDEPTH;
    return scan_skip(s, n);
  }
  case 0xca: return scan_skip(s, 4);
  case 0xcb: return scan_skip(s, 8);
  case 0xcc: case 0xd0: return scan_skip(s, 1);
  case 0xcd: case 0xd1: return scan_skip(s, 2);
  case 0xce: case 0xd2: return scan_skip(s, 4);
  case 0xcf: case 0xd3: return scan_skip(s, 8);
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: {
    uint32_t n = 1u << (c - 0xd4);
    if (left < 1) return SIO__REDIS_ETRUNCATED;
    int8_t type = (int8_t)*s->p++;
    if (type == -1 && n != 4 && n != 8) return SIO__REDIS_EMSGPACK;
    /* other types become [type, binary]: one more level */
    if (type != -1 && type != 0 && depth >= SIO__REDIS_MAX_DEPTH) return SIO__REDIS_EDEPTH;
    return scan_skip(s, n);
  }
  case 0xdc: case 0xdd: case 0xde: case 0xdf: {
    int w = c == 0xdc || c == 0xde ? 2 : 4;
    if (left < (size_t)w) return SIO__REDIS_ETRUNCATED;
    uint64_t n = be(s->p, w);
    s->p += w;
    return scan_items(s, c >= 0xde ? 2 * n : n, depth);
  }
  }
  return SIO__REDIS_EMSGPACK; /* unreachable */
}

/* ---- msgpack object → jansson -------------------------------------------- */

/* Appends U+FFFD. */
static void put_fffd(char *o, size_t *n) {
  o[(*n)++] = (char)0xef;
  o[(*n)++] = (char)0xbf;
  o[(*n)++] = (char)0xbd;
}

/* A string from UTF-8 that may be invalid: each maximal invalid subpart
 * becomes U+FFFD (the WHATWG decoder, which node's Buffer.toString is). */
static json_t *utf8_string(const char *s, size_t n) {
  if (sio__utf8_valid((const uint8_t *)s, n)) return json_stringn_nocheck(n ? s : "", n);
  char *o = malloc(n * 3 + 1); /* each byte makes at most one U+FFFD */
  if (!o) return NULL;
  size_t on = 0, i = 0;
  const uint8_t *u = (const uint8_t *)s;
  while (i < n) {
    uint8_t c = u[i];
    if (c < 0x80) {
      o[on++] = (char)c;
      i++;
      continue;
    }
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      put_fffd(o, &on);
      i++;
      continue;
    }
    size_t j = 1;
    for (; j <= need && i + j < n; j++) {
      uint8_t b = u[i + j];
      if (b < lo || b > hi) break;
      lo = 0x80, hi = 0xbf;
    }
    if (j == need + 1) {
      memcpy(o + on, u + i, j);
      on += j;
    } else {
      put_fffd(o, &on);
    }
    i += j;
  }
  json_t *r = json_stringn_nocheck(o, on);
  free(o);
  return r;
}

/* Howard Hinnant's civil_from_days. */
static void civil(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* What JSON.stringify makes of new Date(ms): Date.prototype.toISOString, or
 * null for an invalid date (TimeClip: beyond +-8.64e15 ms or not finite). */
static json_t *date_json(double ms) {
  if (!isfinite(ms) || fabs(ms) > 8.64e15) return json_null();
  int64_t t = (int64_t)trunc(ms);
  int64_t days = t / 86400000, rem = t % 86400000;
  if (rem < 0) rem += 86400000, days--;
  int64_t y;
  int mo, d;
  civil(days, &y, &mo, &d);
  char buf[64];
  char year[24];
  if (y >= 0 && y <= 9999) snprintf(year, sizeof year, "%04lld", (long long)y);
  else snprintf(year, sizeof year, "%c%06lld", y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y));
  snprintf(buf, sizeof buf, "%s-%02d-%02dT%02d:%02d:%02d.%03dZ", year, mo, d,
           (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
  return json_string(buf);
}

/* A timestamp ext as notepack turns it into a Date (same double arithmetic). */
static json_t *timestamp_json(const uint8_t *p, uint32_t n) {
  if (n == 4) return date_json((double)be(p, 4) * 1e3);
  if (n == 8) {
    uint32_t hi = be(p, 4), lo = be(p + 4, 4);
    double sec = (double)(hi & 3) * 4294967296.0 + lo;
    return date_json(sec * 1e3 + (double)(hi >> 2) / 1e6);
  }
  uint32_t ns = be(p, 4);
  int32_t hi = (int32_t)be(p + 4, 4);
  uint32_t lo = be(p + 8, 4);
  return date_json(((double)hi * 4294967296.0 + lo) * 1e3 + (double)ns / 1e6);
}

/* Marker for old notepack's `undefined` (ext 0 of one byte). */
static json_t undefined_marker;
#define UNDEFINED (&undefined_marker)

static int to_json(const msgpack_object *o, json_t **out);

static int ext_json(const msgpack_object_ext *e, json_t **out) {
  if (e->type == -1) *out = timestamp_json((const uint8_t *)e->ptr, e->size);
  else if (e->type == 0 && e->size == 1) {
    *out = UNDEFINED;
    return 0;
  } else if (e->type == 0) *out = sio_binary_new(e->ptr, e->size);
  else {
    json_t *a = json_array();
    if (a && (json_array_append_new(a, json_integer(e->type)) != 0 ||
              json_array_append_new(a, sio_binary_new(e->ptr, e->size)) != 0)) {
      json_decref(a);
      a = NULL;
    }
    *out = a;
  }
  return *out ? 0 : SIO__REDIS_ENOMEM;
}

static json_t *int_json(int neg, uint64_t u, int64_t i) {
  if (!neg) return u <= (uint64_t)TWO53 ? json_integer((json_int_t)u) : json_real((double)u);
  return i >= -(int64_t)TWO53 ? json_integer(i) : json_real((double)i);
}

static int to_json(const msgpack_object *o, json_t **out) {
  *out = NULL;
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: *out = json_null(); break;
  case MSGPACK_OBJECT_BOOLEAN: *out = json_boolean(o->via.boolean); break;
  case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = int_json(0, o->via.u64, 0); break;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = int_json(1, 0, o->via.i64); break;
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64:
    *out = isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
    break;
  case MSGPACK_OBJECT_STR: *out = utf8_string(o->via.str.ptr, o->via.str.size); break;
  case MSGPACK_OBJECT_BIN: *out = sio_binary_new(o->via.bin.ptr, o->via.bin.size); break;
  case MSGPACK_OBJECT_EXT: return ext_json(&o->via.ext, out);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    if (!a) return SIO__REDIS_ENOMEM;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      json_t *v;
      int rc = to_json(&o->via.array.ptr[i], &v);
      if (rc == 0 && v == UNDEFINED) v = json_null();
      if (rc == 0 && (!v || json_array_append_new(a, v) != 0)) rc = SIO__REDIS_ENOMEM;
      if (rc) {
        json_decref(a);
        return rc;
      }
    }
    *out = a;
    return 0;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    if (!m) return SIO__REDIS_ENOMEM;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      const msgpack_object_kv *kv = &o->via.map.ptr[i];
      int rc = 0;
      json_t *k = NULL, *v = NULL;
      if (kv->key.type != MSGPACK_OBJECT_STR ||
          (kv->key.via.str.size && memchr(kv->key.via.str.ptr, 0, kv->key.via.str.size)))
        rc = SIO__REDIS_EKEY;
      else if (!(k = utf8_string(kv->key.via.str.ptr, kv->key.via.str.size)))
        rc = SIO__REDIS_ENOMEM;
      else rc = to_json(&kv->val, &v);
      if (rc == 0 && !v) rc = SIO__REDIS_ENOMEM;
      if (rc == 0 && v != UNDEFINED &&
          !(json_string_length(k) == 9 && memcmp(json_string_value(k), "__proto__", 9) == 0)) {
        if (json_object_setn_new_nocheck(m, json_string_value(k), json_string_length(k), v) != 0)
          rc = SIO__REDIS_ENOMEM;
        v = NULL;
      }
      if (v != UNDEFINED) json_decref(v);
      json_decref(k);
      if (rc) {
        json_decref(m);
        return rc;
      }
    }
    *out = m;
    return 0;
  }
  default: return SIO__REDIS_EMSGPACK;
  }
  return *out ? 0 : SIO__REDIS_ENOMEM;
}

int sio__redis_unpack(const uint8_t *buf, size_t len, json_t **out) {
  *out = NULL;
  scan s = {buf, buf + len};
  if (!buf && len) return SIO__REDIS_EINVAL;
  int rc = scan_value(&s, 0);
  if (rc) return rc;
  if (s.p != s.end) return SIO__REDIS_EMSGPACK; /* trailing bytes */
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  msgpack_unpack_return r = msgpack_unpack_next(&u, (const char *)buf, len, &off);
  if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
    rc = r == MSGPACK_UNPACK_NOMEM_ERROR ? SIO__REDIS_ENOMEM : SIO__REDIS_EMSGPACK;
  } else {
    rc = to_json(&u.data, out);
    if (rc == 0 && *out == UNDEFINED) *out = json_null();
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ---- jansson → msgpack --------------------------------------------------- */

/* Whether a key is a JS array index (canonical decimal below 2^32 - 1). */
static int array_index(const char *k, size_t n, uint32_t *out) {
  if (n == 0 || n > 10 || (n > 1 && k[0] == '0')) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (k[i] < '0' || k[i] > '9') return 0;
    v = v * 10 + (uint64_t)(k[i] - '0');
  }
  if (v >= 4294967295u) return 0;
  *out = (uint32_t)v;
  return 1;
}

typedef struct {
  uint32_t idx;
  void *it;
} keyref;

static int cmp_keyref(const void *a, const void *b) {
  uint32_t x = ((const keyref *)a)->idx, y = ((const keyref *)b)->idx;
  return x < y ? -1 : x > y;
}

static int pack_value(msgpack_packer *pk, const json_t *v, int depth);

static int pack_number(msgpack_packer *pk, double d) {
  if (d == floor(d) && d >= -9223372036854775808.0 && d < 18446744073709551616.0) {
    if (d >= 0) return msgpack_pack_uint64(pk, (uint64_t)d);
    return msgpack_pack_int64(pk, (int64_t)d);
  }
  return msgpack_pack_double(pk, d);
}

static int pack_object(msgpack_packer *pk, json_t *obj, int depth) {
  size_t n = json_object_size(obj), nidx = 0;
  keyref *refs = n ? malloc(n * sizeof *refs) : NULL;
  if (n && !refs) return SIO__REDIS_ENOMEM;
  for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
    uint32_t idx;
    if (array_index(json_object_iter_key(it), json_object_iter_key_len(it), &idx))
      refs[nidx++] = (keyref){idx, it};
  }
  if (nidx > 1) qsort(refs, nidx, sizeof *refs, cmp_keyref);
  size_t k = nidx;
  for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
    uint32_t idx;
    const char *key = json_object_iter_key(it);
    size_t kl = json_object_iter_key_len(it);
    if (kl == 9 && memcmp(key, "__proto__", 9) == 0) continue; /* see the header */
    if (!array_index(key, kl, &idx)) refs[k++] = (keyref){0, it};
  }
  int rc = msgpack_pack_map(pk, k) ? SIO__REDIS_ENOMEM : 0;
  for (size_t i = 0; rc == 0 && i < k; i++) {
    const char *key = json_object_iter_key(refs[i].it);
    size_t kl = json_object_iter_key_len(refs[i].it);
    if (msgpack_pack_str_with_body(pk, key, kl)) rc = SIO__REDIS_ENOMEM;
    else rc = pack_value(pk, json_object_iter_value(refs[i].it), depth + 1);
  }
  free(refs);
  return rc;
}

static int pack_value(msgpack_packer *pk, const json_t *v, int depth) {
  int e = 0;
  switch (json_typeof(v)) {
  case JSON_NULL: e = msgpack_pack_nil(pk); break;
  case JSON_TRUE: e = msgpack_pack_true(pk); break;
  case JSON_FALSE: e = msgpack_pack_false(pk); break;
  case JSON_INTEGER: {
    json_int_t i = json_integer_value(v);
    if (i > (json_int_t)TWO53 || i < -(json_int_t)TWO53) return pack_number(pk, (double)i) ? SIO__REDIS_ENOMEM : 0;
    e = msgpack_pack_int64(pk, i);
    break;
  }
  case JSON_REAL: e = pack_number(pk, json_real_value(v)); break;
  case JSON_STRING: e = msgpack_pack_str_with_body(pk, json_string_value(v), json_string_length(v)); break;
  case JSON_ARRAY: {
    if (depth >= SIO__REDIS_MAX_DEPTH) return SIO__REDIS_EDEPTH;
    size_t n = json_array_size(v);
    if (msgpack_pack_array(pk, n)) return SIO__REDIS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
      int rc = pack_value(pk, json_array_get(v, i), depth + 1);
      if (rc) return rc;
    }
    return 0;
  }
  case JSON_OBJECT: {
    size_t bl;
    const void *b = sio_binary_data(v, &bl);
    if (b) {
      e = msgpack_pack_bin_with_body(pk, b, bl);
      break;
    }
    if (depth >= SIO__REDIS_MAX_DEPTH) return SIO__REDIS_EDEPTH;
    return pack_object(pk, (json_t *)v, depth);
  }
  default: return SIO__REDIS_EINVAL;
  }
  return e ? SIO__REDIS_ENOMEM : 0;
}

int sio__redis_pack(const json_t *v, uint8_t **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (!v) return SIO__REDIS_EINVAL;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  int rc = pack_value(&pk, v, 0);
  if (rc) {
    msgpack_sbuffer_destroy(&sb);
    return rc;
  }
  *outlen = sb.size;
  *out = (uint8_t *)msgpack_sbuffer_release(&sb);
  if (!*out) { /* empty cannot happen: every value is at least one byte */
    msgpack_sbuffer_destroy(&sb);
    return SIO__REDIS_ENOMEM;
  }
  return 0;
}

/* ---- JSON text ------------------------------------------------------------ */

/* A binary in a JSON message, as JSON.stringify writes a Buffer. */
static int buffer_json(void *ud, sio__buf *b, const void *bytes, size_t len) {
  (void)ud;
  if (sio__buf_append(b, "{\"type\":\"Buffer\",\"data\":[", 25)) return -1;
  const uint8_t *p = bytes;
  for (size_t i = 0; i < len; i++) {
    char t[5];
    int n = snprintf(t, sizeof t, i ? ",%u" : "%u", p[i]);
    if (sio__buf_append(b, t, (size_t)n)) return -1;
  }
  return sio__buf_append(b, "]}", 2);
}

static int json_text(const json_t *v, uint8_t **out, size_t *outlen) {
  sio__buf b = {0};
  if (sio__json_write_ex(&b, v, buffer_json, NULL) != 0) {
    sio__buf_free(&b);
    return SIO__REDIS_ENOMEM;
  }
  *out = (uint8_t *)b.p;
  *outlen = b.len;
  return 0;
}

/* Decodes a request/response: '{' → JSON, else msgpack; must be an object. */
static int decode_any(const uint8_t *buf, size_t len, json_t **out) {
  *out = NULL;
  if (len && buf[0] == '{') {
    *out = sio__json_parse((const char *)buf, len, NULL);
    if (!*out) return SIO__REDIS_EJSON;
  } else {
    int rc = sio__redis_unpack(buf, len, out);
    if (rc) return rc;
  }
  if (!json_is_object(*out) || sio_is_binary(*out)) {
    json_decref(*out);
    *out = NULL;
    return SIO__REDIS_ESHAPE;
  }
  return 0;
}

/* ---- channels ------------------------------------------------------------ */

char *sio__redis_channel(int kind, const char *prefix, const char *nsp, const char *arg) {
  if (!prefix) prefix = SIO__REDIS_DEFAULT_PREFIX;
  if (!nsp) return NULL;
  const char *mid = kind == SIO__REDIS_CH_BROADCAST ? "#"
                  : kind == SIO__REDIS_CH_REQUEST   ? "-request#"
                  : kind == SIO__REDIS_CH_RESPONSE  ? "-response#"
                                                    : NULL;
  if (!mid) return NULL;
  if (kind == SIO__REDIS_CH_REQUEST) arg = NULL;
  size_t n = strlen(prefix) + strlen(mid) + strlen(nsp) + 1 + (arg ? strlen(arg) + 1 : 0) + 1;
  char *s = malloc(n);
  if (!s) return NULL;
  snprintf(s, n, "%s%s%s#%s%s", prefix, mid, nsp, arg ? arg : "", arg ? "#" : "");
  return s;
}

int sio__redis_channel_parse(const char *prefix, const char *nsp, const char *ch, size_t len,
                             const char **room, size_t *room_len) {
  if (!prefix) prefix = SIO__REDIS_DEFAULT_PREFIX;
  size_t pl = strlen(prefix), nl = strlen(nsp), base = pl + 1 + nl + 1;
  *room = NULL;
  *room_len = 0;
  if (len < base || memcmp(ch, prefix, pl) != 0 || ch[pl] != '#' ||
      memcmp(ch + pl + 1, nsp, nl) != 0 || ch[base - 1] != '#')
    return -1;
  if (len == base) return 0;
  if (ch[len - 1] != '#') return -1;
  *room = ch + base;
  *room_len = len - base - 1;
  return 1;
}

/* ---- field helpers -------------------------------------------------------- */

/* A string member without NUL bytes (borrowed C string), NULL if absent;
 * -1 if present but something else. */
static int get_cstr(const json_t *o, const char *key, const char **out) {
  json_t *v = json_object_get(o, key);
  *out = NULL;
  if (!v) return 0;
  if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) return -1;
  *out = json_string_value(v);
  return 0;
}

/* Room list: absent/null → empty; else an array of NUL-free strings or
 * integers (replaced in place by their decimal text). Count in *n. */
static int check_rooms(json_t *a, size_t *n) {
  *n = 0;
  if (!a || json_is_null(a)) return 0;
  if (!json_is_array(a)) return -1;
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *r = json_array_get(a, i);
    if (json_is_integer(r)) {
      char t[24];
      snprintf(t, sizeof t, "%lld", (long long)json_integer_value(r));
      if (json_array_set_new(a, i, json_string(t)) != 0) return -1;
    } else if (!json_is_string(r) || strlen(json_string_value(r)) != json_string_length(r)) {
      return -1;
    }
  }
  *n = json_array_size(a);
  return 0;
}

static void fill_rooms(const json_t *a, const char **dst) {
  for (size_t i = 0; a && json_is_array(a) && i < json_array_size(a); i++)
    dst[i] = json_string_value(json_array_get(a, i));
}

/* JS truthiness of a flag value. */
static int truthy(const json_t *v) {
  if (!v) return 0;
  switch (json_typeof(v)) {
  case JSON_TRUE: return 1;
  case JSON_INTEGER: return json_integer_value(v) != 0;
  case JSON_REAL: return json_real_value(v) != 0;
  case JSON_STRING: return json_string_length(v) != 0;
  case JSON_ARRAY:
  case JSON_OBJECT: return 1;
  default: return 0;
  }
}

static void parse_flags(const json_t *fl, sio__redis_flags *f) {
  json_t *v;
  f->is_volatile = truthy(json_object_get(fl, "volatile"));
  v = json_object_get(fl, "compress");
  f->compress = v ? truthy(v) : -1;
  f->local = truthy(json_object_get(fl, "local"));
  f->broadcast = truthy(json_object_get(fl, "broadcast"));
  f->binary = truthy(json_object_get(fl, "binary"));
  f->expect_single = truthy(json_object_get(fl, "expectSingleResponse"));
  v = json_object_get(fl, "timeout");
  f->timeout = json_is_number(v) && json_number_value(v) >= 0 ? json_number_value(v) : -1;
}

/* Checks a packet map {type, data, nsp}. */
static int check_packet(json_t *p, const char **nsp, int *type, json_t **data) {
  if (!json_is_object(p) || sio_is_binary(p)) return -1;
  json_t *t = json_object_get(p, "type"), *d = json_object_get(p, "data");
  if (!json_is_integer(t) || (json_integer_value(t) != 2 && json_integer_value(t) != 5)) return -1;
  if (!json_is_array(d) || json_array_size(d) == 0) return -1;
  json_t *ev = json_array_get(d, 0);
  if (!json_is_string(ev) && !json_is_number(ev)) return -1;
  if (get_cstr(p, "nsp", nsp) != 0) return -1;
  if (!*nsp) *nsp = "/";
  *type = (int)json_integer_value(t);
  *data = d;
  return 0;
}

/* Validates opts {rooms, except, flags} and builds the room pointer block:
 * one malloc holding rooms then except. */
static int take_opts(json_t *opts, int want_flags, const char ***block, const char ***rooms,
                     size_t *nrooms, const char ***except, size_t *nexcept, json_t **flags) {
  if (!json_is_object(opts) || sio_is_binary(opts)) return -1;
  json_t *r = json_object_get(opts, "rooms"), *e = json_object_get(opts, "except");
  if (check_rooms(r, nrooms) != 0 || check_rooms(e, nexcept) != 0) return -1;
  if (want_flags) {
    json_t *f = json_object_get(opts, "flags");
    if (!f || json_is_null(f)) {
      f = json_object();
      if (!f || json_object_set_new(opts, "flags", f) != 0) return -1;
    }
    if (!json_is_object(f) || sio_is_binary(f)) return -1;
    *flags = f;
  }
  size_t n = *nrooms + *nexcept;
  *block = malloc((n ? n : 1) * sizeof **block);
  if (!*block) return -1;
  *rooms = *block;
  *except = *block + *nrooms;
  fill_rooms(r, *rooms);
  fill_rooms(e, *except);
  return 0;
}

/* ---- broadcasts ----------------------------------------------------------- */

static json_t *room_array(const char *const *rooms, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) {
    if (!rooms[i] || json_array_append_new(a, json_stringn_nocheck(rooms[i], strlen(rooms[i]))) != 0) {
      json_decref(a);
      return NULL;
    }
  }
  return a;
}

/* json_object_set_new that frees v on failure and fails on v NULL. */
static int put_new(json_t *o, const char *k, json_t *v) {
  if (!v) return -1;
  return json_object_set_new_nocheck(o, k, v);
}

static json_t *packet_json(const char *nsp, const json_t *data) {
  json_t *p = json_object();
  if (!p || put_new(p, "type", json_integer(2)) || put_new(p, "data", json_incref((json_t *)data)) ||
      put_new(p, "nsp", json_stringn_nocheck(nsp, strlen(nsp)))) {
    json_decref(p);
    return NULL;
  }
  return p;
}

static json_t *opts_json(const char *const *rooms, size_t nrooms, const char *const *except,
                         size_t nexcept, const json_t *flags, int with_flags) {
  json_t *o = json_object();
  if (!o || put_new(o, "rooms", room_array(rooms, nrooms)) ||
      put_new(o, "except", room_array(except, nexcept)) ||
      (with_flags && put_new(o, "flags", flags ? json_incref((json_t *)flags) : json_object()))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int sio__redis_encode_broadcast(const char *uid, const char *nsp, const json_t *data,
                                const char *const *rooms, size_t nrooms,
                                const char *const *except, size_t nexcept,
                                const json_t *flags, uint8_t **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (!uid || !nsp || !json_is_array(data) || (flags && !json_is_object(flags)) ||
      (nrooms && !rooms) || (nexcept && !except))
    return SIO__REDIS_EINVAL;
  json_t *msg = json_array();
  int rc = SIO__REDIS_ENOMEM;
  if (msg && json_array_append_new(msg, json_stringn_nocheck(uid, strlen(uid))) == 0 &&
      json_array_append_new(msg, packet_json(nsp, data)) == 0 &&
      json_array_append_new(msg, opts_json(rooms, nrooms, except, nexcept, flags, 1)) == 0)
    rc = sio__redis_pack(msg, out, outlen);
  json_decref(msg);
  return rc;
}

void sio__redis_broadcast_clear(sio__redis_broadcast *b) {
  json_decref(b->root);
  free(b->rooms);
  memset(b, 0, sizeof *b);
}

int sio__redis_decode_broadcast(const uint8_t *buf, size_t len, sio__redis_broadcast *out) {
  memset(out, 0, sizeof *out);
  json_t *root;
  int rc = sio__redis_unpack(buf, len, &root);
  if (rc) return rc;
  out->root = root;
  const char **block = NULL;
  json_t *uid = json_array_get(root, 0);
  if (!json_is_array(root) || json_array_size(root) != 3 || !json_is_string(uid) ||
      check_packet(json_array_get(root, 1), &out->nsp, &out->type, &out->data) != 0 ||
      take_opts(json_array_get(root, 2), 1, &block, &out->rooms, &out->nrooms, &out->except,
                &out->nexcept, &out->flags) != 0) {
    json_decref(root);
    memset(out, 0, sizeof *out);
    return SIO__REDIS_ESHAPE;
  }
  out->uid = json_string_value(uid);
  parse_flags(out->flags, &out->f);
  return 0;
}

/* ---- requests ------------------------------------------------------------- */

int sio__redis_encode_request(const sio__redis_request *r, uint8_t **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (r->type < SIO__REDIS_SOCKETS || r->type > SIO__REDIS_BROADCAST_ACK) return SIO__REDIS_EINVAL;
  int bc = r->type == SIO__REDIS_BROADCAST;
  if (bc && (!r->nsp || !json_is_array(r->packet_data))) return SIO__REDIS_EINVAL;
  json_t *o = json_object();
  int bad = !o;
  if (!bad && r->uid) bad = put_new(o, "uid", json_string_nocheck(r->uid));
  if (!bad && r->request_id) bad = put_new(o, "requestId", json_string_nocheck(r->request_id));
  if (!bad) bad = put_new(o, "type", json_integer(r->type));
  if (!bad && bc) bad = put_new(o, "packet", packet_json(r->nsp, r->packet_data));
  if (!bad && (r->has_opts || bc))
    bad = put_new(o, "opts", opts_json(r->opts_rooms, r->n_opts_rooms, r->opts_except,
                                       r->n_opts_except, r->flags, bc));
  if (!bad && r->has_rooms) bad = put_new(o, "rooms", room_array(r->rooms, r->nrooms));
  if (!bad && r->close >= 0) bad = put_new(o, "close", json_boolean(r->close));
  if (!bad && r->data) bad = put_new(o, "data", json_incref(r->data));
  if (!bad && r->sid) bad = put_new(o, "sid", json_string_nocheck(r->sid));
  if (!bad && r->room) bad = put_new(o, "room", json_string_nocheck(r->room));
  int rc = bad ? SIO__REDIS_ENOMEM : bc ? sio__redis_pack(o, out, outlen) : json_text(o, out, outlen);
  json_decref(o);
  return rc;
}

void sio__redis_request_clear(sio__redis_request *r) {
  json_decref(r->root);
  free(r->strings_);
  memset(r, 0, sizeof *r);
  r->close = -1;
}

int sio__redis_decode_request(const uint8_t *buf, size_t len, sio__redis_request *out) {
  memset(out, 0, sizeof *out);
  out->close = -1;
  json_t *o;
  int rc = decode_any(buf, len, &o);
  if (rc) return rc;
  out->root = o;
  json_t *t = json_object_get(o, "type"), *opts = json_object_get(o, "opts");
  json_t *rooms = json_object_get(o, "rooms"), *close = json_object_get(o, "close");
  int bad = !json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 9;
  if (!bad) out->type = (int)json_integer_value(t);
  bad = bad || get_cstr(o, "uid", &out->uid) || get_cstr(o, "requestId", &out->request_id) ||
        get_cstr(o, "sid", &out->sid) || get_cstr(o, "room", &out->room);
  int bc = !bad && out->type == SIO__REDIS_BROADCAST;
  size_t nrooms = 0;
  if (!bad && rooms) {
    bad = !json_is_array(rooms) || check_rooms(rooms, &nrooms) != 0;
    out->has_rooms = 1;
  }
  if (!bad && close) {
    bad = !json_is_boolean(close);
    out->close = json_is_true(close);
  }
  if (!bad && bc)
    bad = !out->request_id || check_packet(json_object_get(o, "packet"), &out->nsp,
                                           &out->packet_type, &out->packet_data) != 0;
  out->data = json_object_get(o, "data");
  if (!bad && out->type == SIO__REDIS_SERVER_SIDE_EMIT)
    bad = !json_is_array(out->data) || json_array_size(out->data) == 0;
  if (!bad && (opts || bc)) {
    /* the block holds opts.rooms, opts.except, then rooms */
    const char **blk = NULL;
    json_t *tmp = NULL;
    if (!opts) bad = 1;
    else bad = take_opts(opts, bc, &blk, &out->opts_rooms, &out->n_opts_rooms, &out->opts_except,
                         &out->n_opts_except, bc ? &out->flags : &tmp) != 0;
    out->strings_ = blk;
    out->has_opts = !bad;
  }
  if (!bad && out->has_rooms) {
    size_t k = out->n_opts_rooms + out->n_opts_except;
    const char **blk = realloc(out->strings_, (k + nrooms + 1) * sizeof *blk);
    if (!blk) bad = 1;
    else {
      out->strings_ = blk;
      out->opts_rooms = blk;
      out->opts_except = blk + out->n_opts_rooms;
      out->rooms = blk + k;
      out->nrooms = nrooms;
      fill_rooms(rooms, out->rooms);
    }
  }
  if (bad) {
    sio__redis_request_clear(out);
    return SIO__REDIS_ESHAPE;
  }
  return 0;
}

/* ---- responses ------------------------------------------------------------ */

int sio__redis_encode_response(const sio__redis_response *r, uint8_t **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (!r->request_id) return SIO__REDIS_EINVAL;
  json_t *o = json_object();
  int bad = !o;
  if (!bad && r->type >= 0) bad = put_new(o, "type", json_integer(r->type));
  if (!bad) bad = put_new(o, "requestId", json_string_nocheck(r->request_id));
  if (!bad && r->sockets) bad = put_new(o, "sockets", json_incref(r->sockets));
  if (!bad && r->rooms) bad = put_new(o, "rooms", json_incref(r->rooms));
  if (!bad && r->type == SIO__REDIS_BROADCAST_CLIENT_COUNT)
    bad = put_new(o, "clientCount", json_integer(r->client_count));
  if (!bad && r->data) bad = put_new(o, "data", json_incref(r->data));
  if (!bad && r->packet) bad = put_new(o, "packet", json_incref(r->packet));
  int rc = bad ? SIO__REDIS_ENOMEM
         : r->type == SIO__REDIS_BROADCAST_ACK ? sio__redis_pack(o, out, outlen)
                                               : json_text(o, out, outlen);
  json_decref(o);
  return rc;
}

void sio__redis_response_clear(sio__redis_response *r) {
  json_decref(r->root);
  memset(r, 0, sizeof *r);
  r->type = -1;
  r->client_count = -1;
}

int sio__redis_decode_response(const uint8_t *buf, size_t len, sio__redis_response *out) {
  memset(out, 0, sizeof *out);
  out->type = -1;
  out->client_count = -1;
  json_t *o;
  int rc = decode_any(buf, len, &o);
  if (rc) return rc;
  out->root = o;
  json_t *t = json_object_get(o, "type"), *cc = json_object_get(o, "clientCount");
  int bad = get_cstr(o, "requestId", &out->request_id) || !out->request_id;
  if (!bad && t) {
    bad = !json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > 9;
    out->type = bad ? -1 : (int)json_integer_value(t);
  }
  out->sockets = json_object_get(o, "sockets");
  out->rooms = json_object_get(o, "rooms");
  out->data = json_object_get(o, "data");
  out->packet = json_object_get(o, "packet");
  if (!bad) bad = (out->sockets && !json_is_array(out->sockets)) || (out->rooms && !json_is_array(out->rooms));
  if (!bad && out->type == SIO__REDIS_BROADCAST_CLIENT_COUNT) {
    bad = !json_is_integer(cc) || json_integer_value(cc) < 0;
    if (!bad) out->client_count = json_integer_value(cc);
  }
  if (bad) {
    sio__redis_response_clear(out);
    return SIO__REDIS_ESHAPE;
  }
  return 0;
}
