/* Binary values: how Buffer/ArrayBuffer arguments are represented in jansson.
 *
 * JSON has no binary type, so a binary value is an object with exactly one
 * key, "\0sio-bin" (8 bytes, the first a NUL), whose value is a string
 * holding the raw bytes (jansson strings carry a length and may hold any
 * bytes when made with the *_nocheck constructors).
 *
 * Why this cannot be forged by a peer: jansson's parser rejects a NUL byte in
 * an object key ("NUL byte in object key not supported") even with
 * JSON_ALLOW_NUL, so no JSON text a client sends can produce this key; the
 * only ways in are sio_binary_new() and the attachment reconstruction of the
 * packet decoder. The key starts with NUL rather than being merely unusual
 * so that this holds by construction, not by convention. */
#include <jansson.h>
#include <string.h>

#include "sio.h"

#define BIN_KEY "\0sio-bin"
#define BIN_KEY_LEN 8

json_t *sio_binary_new(const void *data, size_t len) {
  if (!data && len) return NULL;
  /* json_stringn_nocheck(NULL, 0) would be refused; an empty binary is
   * legitimate (an empty Buffer). */
  json_t *s = json_stringn_nocheck(len ? (const char *)data : "", len);
  if (!s) return NULL;
  json_t *o = json_object();
  if (!o) {
    json_decref(s);
    return NULL;
  }
  if (json_object_setn_new_nocheck(o, BIN_KEY, BIN_KEY_LEN, s) != 0) {
    json_decref(o); /* setn_new steals s, even when it fails */
    return NULL;
  }
  return o;
}

/* The string holding a binary value's bytes (borrowed), or NULL. */
static json_t *binary_string(const json_t *v) {
  if (!json_is_object(v) || json_object_size(v) != 1) return NULL;
  /* The lone key is read through the iterator instead of hashed through
   * json_object_getn: this runs on every one-key object the encoder meets. */
  void *it = json_object_iter((json_t *)v);
  if (!it || json_object_iter_key_len(it) != BIN_KEY_LEN ||
      memcmp(json_object_iter_key(it), BIN_KEY, BIN_KEY_LEN) != 0)
    return NULL;
  json_t *s = json_object_iter_value(it);
  return json_is_string(s) ? s : NULL;
}

int sio_is_binary(const json_t *v) { return binary_string(v) != NULL; }

const void *sio_binary_data(const json_t *v, size_t *len) {
  json_t *s = binary_string(v);
  if (!s) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = json_string_length(s);
  return json_string_value(s);
}
