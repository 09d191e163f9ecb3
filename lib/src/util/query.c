#include "util/query.h"

#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *sio__pct_decode(const char *s, size_t n, size_t *outlen) {
  char *out = malloc(n + 1), *o = out;
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    int hi, lo;
    if (s[i] == '+') {
      *o++ = ' ';
    } else if (s[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
               (lo = hexval((unsigned char)s[i + 2])) >= 0) {
      *o++ = (char)(hi * 16 + lo);
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = '\0';
  if (outlen) *outlen = (size_t)(o - out);
  return out;
}

/* Adds key=val (both decoded) to obj; 0, or -1 when out of memory. */
static int add_pair(json_t *obj, const char *k, size_t klen, const char *v, size_t vlen) {
  size_t kn, vn;
  char *key = sio__pct_decode(k, klen, &kn), *val = sio__pct_decode(v, vlen, &vn);
  int rc = key && val ? 0 : -1;
  /* NULs inside, or bytes that are not UTF-8: no JSON string for them. */
  int ok = rc == 0 && strlen(key) == kn && strlen(val) == vn && sio__utf8_valid((const uint8_t *)key, kn) &&
           sio__utf8_valid((const uint8_t *)val, vn);
  json_t *jv = ok ? json_stringn_nocheck(val, vn) : NULL;
  if (ok && !jv) rc = -1;
  if (jv) {
    json_t *old = json_object_get(obj, key);
    if (!old) {
      rc = json_object_set_new(obj, key, jv);
    } else if (json_is_array(old)) {
      rc = json_array_append_new(old, jv);
    } else {
      json_t *arr = json_array();
      rc = !arr || json_array_append(arr, old) || json_array_append_new(arr, jv) ||
                   json_object_set_new(obj, key, arr)
               ? -1
               : 0;
    }
  }
  free(key);
  free(val);
  return rc;
}

json_t *sio__query_object(const char *q, size_t len) {
  json_t *obj = json_object();
  if (!obj) return NULL;
  size_t i = 0;
  while (i < len) {
    const char *amp = memchr(q + i, '&', len - i);
    size_t end = amp ? (size_t)(amp - q) : len;
    if (end > i) {
      const char *eq = memchr(q + i, '=', end - i);
      size_t klen = eq ? (size_t)(eq - (q + i)) : end - i;
      const char *v = eq ? eq + 1 : q + end;
      if (add_pair(obj, q + i, klen, v, (size_t)(q + end - v)) != 0) {
        json_decref(obj);
        return NULL;
      }
    }
    i = end + 1;
  }
  return obj;
}
