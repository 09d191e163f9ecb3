/* Socket.IO v5 packet codec (see sio_codec.h). */
#include "sio/sio_codec.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sio.h"
#include "sio/sio_jparse.h"
#include "sio/sio_json.h"

/* ---- decoding --------------------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Event names with a meaning of their own on one side or the other; a client
 * may not send them (socket.io-parser's RESERVED_EVENTS). */
static int is_reserved_event(const json_t *name) {
  static const struct { const char *s; size_t n; } reserved[] = {
      {"connect", 7},        {"connect_error", 13}, {"disconnect", 10},
      {"disconnecting", 13}, {"newListener", 11},   {"removeListener", 14},
  };
  const char *s = json_string_value(name);
  size_t n = json_string_length(name); /* may hold NUL bytes: compare lengths */
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (n == reserved[i].n && memcmp(s, reserved[i].s, n) == 0) return 1;
  return 0;
}

static int payload_valid(int type, const json_t *data) {
  switch (type) {
  case SIO__PKT_CONNECT: return data == NULL || json_is_object(data);
  case SIO__PKT_DISCONNECT: return data == NULL;
  case SIO__PKT_EVENT:
  case SIO__PKT_BINARY_EVENT: {
    if (!json_is_array(data) || json_array_size(data) == 0) return 0;
    const json_t *name = json_array_get(data, 0);
    return json_is_number(name) || (json_is_string(name) && !is_reserved_event(name));
  }
  case SIO__PKT_ACK:
  case SIO__PKT_BINARY_ACK: return json_is_array(data);
  case SIO__PKT_CONNECT_ERROR: return json_is_string(data) || json_is_object(data);
  }
  return 0;
}

/* sio__json_parse (sio_jparse.h) reads an integer beyond int64 as a real,
 * the rounded number JSON.parse makes of it (jansson refuses it), and it
 * prints back as JS would. It also builds the values several times faster
 * than json_loadb on large payloads. */
static json_t *parse_payload(const char *s, size_t len) { return sio__json_parse(s, len, NULL); }

int sio__packet_decode(const char *s, size_t len, sio__packet *out) {
  memset(out, 0, sizeof *out);
  out->id = -1;
  size_t i = 0;

  if (len == 0 || s[0] < '0' || s[0] > '6') return -1;
  int type = s[i++] - '0';

  uint32_t attachments = 0;
  if (type == SIO__PKT_BINARY_EVENT || type == SIO__PKT_BINARY_ACK) {
    size_t start = i;
    for (; i < len && is_digit(s[i]); i++) {
      attachments = attachments * 10 + (uint32_t)(s[i] - '0');
      if (attachments > SIO__MAX_ATTACHMENTS) return -1; /* also stops overflow */
    }
    if (i == start || i == len || s[i] != '-') return -1;
    i++;
  }

  const char *nsp = "/";
  size_t nsp_len = 1;
  if (i < len && s[i] == '/') {
    /* Up to the next ',' or the end ("40/random" is valid). */
    const char *comma = memchr(s + i, ',', len - i);
    nsp = s + i;
    nsp_len = comma ? (size_t)(comma - nsp) : len - i;
    if (memchr(nsp, '\0', nsp_len)) return -1;
    i += nsp_len + (comma != NULL);
  }

  int64_t id = -1;
  if (i < len && is_digit(s[i])) {
    id = 0;
    for (; i < len && is_digit(s[i]); i++) {
      id = id * 10 + (s[i] - '0');
      if (id > SIO__MAX_ACK_ID) return -1; /* checked each digit: no overflow */
    }
  }

  json_t *data = NULL;
  if (i < len) {
    /* Two differences from JSON.parse to close before the parser sees the
     * text: whitespace cannot start the payload because in JS it would have
     * been read as an ack id ("2 [..]" is id 0 there), so accepting it here
     * with no id would make the two disagree; and JSON never allows a raw
     * NUL byte (jansson let one through after a number or literal;
     * sio__json_parse refuses it too, so the memchr is belt and braces). */
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return -1;
    if (memchr(s + i, '\0', len - i)) return -1;
    data = parse_payload(s + i, len - i);
    if (!data) return -1;
  } else if (type != SIO__PKT_CONNECT && type != SIO__PKT_DISCONNECT) {
    return -1; /* every other type carries a payload */
  }
  if (!payload_valid(type, data)) {
    json_decref(data);
    return -1;
  }

  char *nsp_copy = malloc(nsp_len + 1);
  if (!nsp_copy) {
    json_decref(data);
    return -1;
  }
  memcpy(nsp_copy, nsp, nsp_len);
  nsp_copy[nsp_len] = '\0';

  out->type = type;
  out->nsp = nsp_copy;
  out->id = id;
  out->data = data;
  out->attachments = attachments;
  return 0;
}

void sio__packet_clear(sio__packet *p) {
  free(p->nsp);
  json_decref(p->data);
  memset(p, 0, sizeof *p);
  p->id = -1;
}

/* ---- reconstruction ------------------------------------------------------------ */

typedef struct {
  const uint8_t *const *bins;
  const size_t *lens;
  size_t n;
} recon_ctx;

/* Which attachment a placeholder names: its index, or -1 when num is missing,
 * not an integer, or out of range. */
static long placeholder_index(const recon_ctx *c, const json_t *ph) {
  const json_t *num = json_object_get(ph, "num");
  if (json_is_integer(num)) {
    json_int_t i = json_integer_value(num);
    return i >= 0 && (uint64_t)i < c->n ? (long)i : -1;
  }
  if (json_is_real(num)) {
    double d = json_real_value(num); /* JS has only doubles: 1.0 is 1 */
    if (d >= 0 && d < (double)c->n && d == (double)(long)d) return (long)d;
  }
  return -1;
}

/* Returns the value to put in v's place (a new reference) when v is a
 * placeholder, NULL with *err = 0 when v stays (its contents fixed in place),
 * NULL with *err = -1 on failure. */
static json_t *recon(const recon_ctx *c, json_t *v, int depth, int *err) {
  /* Decoded data is at most JSON_PARSER_MAX_DEPTH deep; the guard only
   * matters for a caller passing something built by hand. */
  if (depth > SIO__JSON_MAX_DEPTH) {
    *err = -1;
    return NULL;
  }
  if (json_is_array(v)) {
    size_t n = json_array_size(v);
    for (size_t i = 0; i < n; i++) {
      json_t *r = recon(c, json_array_get(v, i), depth + 1, err);
      if (*err) return NULL;
      if (r && json_array_set_new(v, i, r) != 0) {
        *err = -1;
        return NULL;
      }
    }
  } else if (json_is_object(v)) {
    if (json_is_true(json_object_get(v, "_placeholder"))) {
      long i = placeholder_index(c, v);
      json_t *bin = i < 0 ? NULL : sio_binary_new(c->bins[i], c->lens[i]);
      if (!bin) *err = -1;
      return bin;
    }
    for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
      json_t *r = recon(c, json_object_iter_value(it), depth + 1, err);
      if (*err) return NULL;
      /* Replacing the value keeps the key and the iteration intact. */
      if (r && json_object_iter_set_new(v, it, r) != 0) {
        *err = -1;
        return NULL;
      }
    }
  }
  return NULL;
}

int sio__packet_reconstruct(sio__packet *p, const uint8_t *const *bins, const size_t *lens, size_t n) {
  if (!p->data) return 0;
  recon_ctx c = {bins, lens, n};
  int err = 0;
  json_t *r = recon(&c, p->data, 0, &err);
  if (err) return -1;
  if (r) {
    json_decref(p->data);
    p->data = r;
  }
  return 0;
}

/* ---- encoding ------------------------------------------------------------------ */

/* The text rbuf is built in place: the sio__buf starts with room for the
 * rbuf header and the headroom, the packet is appended after them, and the
 * finished allocation is handed over as the rbuf itself. That is valid
 * because an rbuf is one malloc'd block (header + bytes) released with free()
 * (util/rbuf.h), and it saves copying every outgoing message once. */
#define TEXT_START (offsetof(sio__rbuf, data) + SIO__RBUF_HEADROOM)

typedef struct {
  sio__rbuf **v;
  size_t n, cap;
} att_list;

static void att_list_free(att_list *a) {
  for (size_t i = 0; i < a->n; i++) sio__rbuf_unref(a->v[i]);
  free(a->v);
  a->v = NULL;
  a->n = a->cap = 0;
}

static size_t write_u64(char *out, uint64_t v) {
  char tmp[24], *end = tmp + sizeof tmp, *s = end;
  do {
    *--s = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  memcpy(out, s, (size_t)(end - s));
  return (size_t)(end - s);
}

/* sio__json_binary_cb: writes the placeholder numbered in encounter order and
 * copies the bytes into their own rbuf. */
static int on_binary(void *ud, sio__buf *b, const void *bytes, size_t len) {
  att_list *a = ud;
  if (len > UINT32_MAX - SIO__RBUF_HEADROOM) return -1;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 4;
    sio__rbuf **v = realloc(a->v, cap * sizeof *v);
    if (!v) return -1;
    a->v = v;
    a->cap = cap;
  }
  sio__rbuf *rb = sio__rbuf_new(SIO__RBUF_HEADROOM + len);
  if (!rb) return -1;
  if (len) memcpy(rb->data + SIO__RBUF_HEADROOM, bytes, len);
  memset(rb->data, 0, SIO__RBUF_HEADROOM); /* the WebSocket layer fills it */
  rb->len = (uint32_t)(SIO__RBUF_HEADROOM + len);
  rb->binary = 1;
  a->v[a->n] = rb;

  static const char ph[] = "{\"_placeholder\":true,\"num\":";
  char num[24];
  size_t nl = write_u64(num, a->n);
  a->n++; /* owned by the list from here, whatever happens below */
  if (sio__buf_reserve(b, sizeof ph - 1 + nl + 1) != 0) return -1;
  memcpy(b->p + b->len, ph, sizeof ph - 1);
  b->len += sizeof ph - 1;
  memcpy(b->p + b->len, num, nl);
  b->len += nl;
  b->p[b->len++] = '}';
  return 0;
}

int sio__packet_encode(int type, const char *nsp, int64_t id, const json_t *data,
                       sio__rbuf **text, sio__rbuf ***atts, size_t *natts) {
  *text = NULL;
  *atts = NULL;
  *natts = 0;
  if (type == SIO__PKT_BINARY_EVENT) type = SIO__PKT_EVENT;
  if (type == SIO__PKT_BINARY_ACK) type = SIO__PKT_ACK;
  if (type < SIO__PKT_CONNECT || type > SIO__PKT_CONNECT_ERROR) return -1;
  if (nsp && strcmp(nsp, "/") == 0) nsp = NULL;
  if (json_is_null(data)) data = NULL;

  size_t nsp_len = nsp ? strlen(nsp) : 0;
  sio__buf b = {0};
  /* Header, headroom, "4", type, up to "NNN-", nsp + ',', 20 id digits,
   * and a guess at a small payload: one allocation for most packets. */
  if (sio__buf_reserve(&b, TEXT_START + 2 + 4 + nsp_len + 1 + 20 + 128) != 0) return -1;
  memset(b.p, 0, TEXT_START);
  b.len = TEXT_START;
  b.p[b.len++] = '4';
  size_t type_at = b.len;
  b.p[b.len++] = (char)('0' + type);
  if (nsp) {
    memcpy(b.p + b.len, nsp, nsp_len);
    b.len += nsp_len;
    b.p[b.len++] = ',';
  }
  if (id >= 0) b.len += write_u64(b.p + b.len, (uint64_t)id);

  att_list al = {0};
  if (data) {
    int can_bin = type == SIO__PKT_EVENT || type == SIO__PKT_ACK;
    if (sio__json_write_ex(&b, data, can_bin ? on_binary : NULL, &al) != 0) goto fail;
  }

  if (al.n) {
    /* The attachment count is known only now that the data is written:
     * open a gap after the type digit for "<n>-". Binary packets are the
     * rare ones, so they pay this memmove instead of every packet paying a
     * separate scan for binaries. */
    char cnt[24];
    size_t cl = write_u64(cnt, al.n);
    cnt[cl++] = '-';
    if (sio__buf_reserve(&b, cl) != 0) goto fail;
    memmove(b.p + type_at + 1 + cl, b.p + type_at + 1, b.len - type_at - 1);
    memcpy(b.p + type_at + 1, cnt, cl);
    b.len += cl;
    b.p[type_at] = (char)('0' + (type == SIO__PKT_EVENT ? SIO__PKT_BINARY_EVENT : SIO__PKT_BINARY_ACK));
  }

  size_t rlen = b.len - offsetof(sio__rbuf, data);
  if (rlen > UINT32_MAX) goto fail;
  /* Give back a large unused tail (a big payload may have doubled the
   * buffer); a shrinking realloc is cheap and this buffer may sit in send
   * queues for a while. */
  if (b.cap - b.len > 1024) {
    char *p = realloc(b.p, b.len);
    if (p) b.p = p;
  }
  sio__rbuf *rb = (sio__rbuf *)(void *)b.p;
  rb->refs = 1;
  rb->len = (uint32_t)rlen;
  rb->binary = 0;
  *text = rb;
  *atts = al.v;
  *natts = al.n;
  return 0;

fail:
  att_list_free(&al);
  sio__buf_free(&b);
  return -1;
}
