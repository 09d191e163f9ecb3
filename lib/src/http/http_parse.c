/* HTTP/1.1 request parser glue over llhttp (see http_parse.h).
 *
 * llhttp is a push parser that reports the URL and header fields as spans of
 * the input, possibly in several pieces when the input is split, and flushes
 * an unfinished span at the end of every llhttp_execute. Because the input
 * buffer is shared and reused by the event loop, every piece is copied into
 * req.arena at once; the *_complete callbacks then NUL-terminate it and
 * record offsets (offsets, not pointers, because the arena is realloc'ed).
 *
 * Pausing relies on llhttp's own mechanism: on_message_complete returning
 * HPE_PAUSED makes llhttp_execute stop with error_pos just past the last byte
 * of that request (the byte after the final LF of the headers, of the body, or
 * of the terminating chunk), which is exactly what *consumed must say. The
 * upgrade pause (HPE_PAUSED_UPGRADE) points at the same place.
 *
 * No lenient flags are set: smuggling-relevant checks (Content-Length with
 * Transfer-Encoding, chunked not last, ...) stay on. */
#include "http/http_parse.h"

#include <stdlib.h>
#include <string.h>

/* field_state: which arena field the next span piece extends. */
enum { SIO__HTTP_FS_NONE = 0, SIO__HTTP_FS_URL, SIO__HTTP_FS_FIELD, SIO__HTTP_FS_VALUE };
/* state: why feed is refusing to run llhttp. */
enum { SIO__HTTP_ST_RUN = 0, SIO__HTTP_ST_PAUSED, SIO__HTTP_ST_UPGRADED, SIO__HTTP_ST_FAILED };

#define SIO__HTTP_PARSER_OF(lp) \
  ((sio__http_parser *)(void *)((char *)(lp) - offsetof(sio__http_parser, llhttp)))

/* Arena and header array sizes grow geometrically; the limits above bound
 * them, so no explicit shrink is needed while a request is in flight. */
#define SIO__HTTP_ARENA_MIN 256u
#define SIO__HTTP_HEADERS_MIN 16u

/* Records the first failure (later ones are consequences) and returns the
 * value that makes llhttp stop: -1 is an error for every callback kind (for
 * on_headers_complete, 1 and 2 would mean "no body"/"upgrade"). */
static int sio__http_fail(sio__http_parser *p, int err) {
  if (!p->err) p->err = err;
  return -1;
}

static int sio__http_reserve(sio__http_parser *p, size_t extra) {
  sio__http_req *r = &p->req;
  size_t need = (size_t)r->arena_len + extra;
  if (need <= r->arena_cap) return 0;
  /* Keep offsets comfortably inside uint32_t whatever max_header_bytes says. */
  if (need > (size_t)UINT32_MAX / 2) return SIO__HTTP_ERR_HEADERS_TOO_LARGE;
  size_t cap = r->arena_cap ? r->arena_cap : SIO__HTTP_ARENA_MIN;
  while (cap < need) cap *= 2;
  char *a = realloc(r->arena, cap);
  if (!a) return SIO__HTTP_ERR_NOMEM;
  r->arena = a;
  r->arena_cap = (uint32_t)cap;
  return 0;
}

/* Appends a piece of the URL or of a header field. Trailer pieces (after the
 * body) are counted against the limit but not stored: on_headers has already
 * run, and letting trailers rewrite headers it acted on would be a trap. */
static int sio__http_append(sio__http_parser *p, const char *at, size_t len) {
  if (len > p->max_header_bytes - p->hdr_bytes)
    return sio__http_fail(p, SIO__HTTP_ERR_HEADERS_TOO_LARGE);
  p->hdr_bytes += len;
  p->cur_len += len;
  if (p->in_body || len == 0) return 0;
  int rc = sio__http_reserve(p, len + 1); /* +1: room for the terminator */
  if (rc) return sio__http_fail(p, rc);
  memcpy(p->req.arena + p->req.arena_len, at, len);
  p->req.arena_len += (uint32_t)len;
  return 0;
}

/* NUL-terminates the field that started at cur_off. */
static int sio__http_terminate(sio__http_parser *p) {
  int rc = sio__http_reserve(p, 1);
  if (rc) return sio__http_fail(p, rc);
  p->req.arena[p->req.arena_len++] = '\0';
  return 0;
}

/* ---- llhttp callbacks ---- */

static int sio__http_on_message_begin(llhttp_t *lp) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  sio__http_req *r = &p->req;
  /* The previous request's data dies here: the caller had it from on_headers
     through on_complete (and through a pause, until it resumed and fed). */
  r->method = 0;
  r->http_major = r->http_minor = 0;
  r->keep_alive = r->upgrade = 0;
  r->content_length = 0;
  r->arena_len = 0;
  r->url_off = r->url_len = 0;
  r->nheaders = 0;
  p->hdr_bytes = 0;
  p->body_seen = 0;
  p->saved_max_body = p->max_body;
  p->cur_off = 0;
  p->cur_len = 0;
  p->field_state = SIO__HTTP_FS_URL;
  p->in_message = 1;
  p->in_body = 0;
  return 0;
}

static int sio__http_on_url(llhttp_t *lp, const char *at, size_t len) {
  return sio__http_append(SIO__HTTP_PARSER_OF(lp), at, len);
}

static int sio__http_on_url_complete(llhttp_t *lp) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  p->req.url_off = p->cur_off;
  p->req.url_len = (uint32_t)p->cur_len;
  p->field_state = SIO__HTTP_FS_NONE;
  return sio__http_terminate(p);
}

/* RFC 9110 5.6.2 tchar. */
static int sio__http_is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int sio__http_on_header_field(llhttp_t *lp, const char *at, size_t len) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  /* llhttp 8 in loose mode lets spaces into names ("Bad Name: v", and
     "Name : v", which RFC 9112 5.1 says a server MUST reject with 400 since
     intermediaries disagree about it). Check every piece as it arrives. */
  for (size_t i = 0; i < len; i++)
    if (!sio__http_is_tchar((unsigned char)at[i])) return sio__http_fail(p, SIO__HTTP_ERR_BAD);
  if (p->field_state != SIO__HTTP_FS_FIELD) {
    /* First piece of a new header line. */
    if (!p->in_body) {
      sio__http_req *r = &p->req;
      if (r->nheaders >= p->max_headers) return sio__http_fail(p, SIO__HTTP_ERR_HEADERS_TOO_LARGE);
      if (r->nheaders == r->headers_cap) {
        uint32_t cap = r->headers_cap ? r->headers_cap * 2 : SIO__HTTP_HEADERS_MIN;
        sio__http_header *h = realloc(r->headers, (size_t)cap * sizeof *h);
        if (!h) return sio__http_fail(p, SIO__HTTP_ERR_NOMEM);
        r->headers = h;
        r->headers_cap = cap;
      }
    }
    p->field_state = SIO__HTTP_FS_FIELD;
    p->cur_off = p->req.arena_len;
    p->cur_len = 0;
  }
  return sio__http_append(p, at, len);
}

static int sio__http_on_header_field_complete(llhttp_t *lp) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  /* llhttp (loose mode) accepts ": v" with an empty name; no client sends
     that, and refusing it also bounds the header count by the byte limit. */
  if (p->field_state != SIO__HTTP_FS_FIELD || p->cur_len == 0)
    return sio__http_fail(p, SIO__HTTP_ERR_BAD);
  if (!p->in_body) {
    sio__http_header *h = &p->req.headers[p->req.nheaders];
    h->name_off = p->cur_off;
    h->name_len = (uint32_t)p->cur_len;
    if (sio__http_terminate(p)) return -1;
  }
  p->field_state = SIO__HTTP_FS_VALUE;
  p->cur_off = p->req.arena_len;
  p->cur_len = 0;
  return 0;
}

static int sio__http_on_header_value(llhttp_t *lp, const char *at, size_t len) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  if (p->field_state != SIO__HTTP_FS_VALUE) return sio__http_fail(p, SIO__HTTP_ERR_BAD);
  return sio__http_append(p, at, len);
}

static int sio__http_on_header_value_complete(llhttp_t *lp) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  if (p->field_state != SIO__HTTP_FS_VALUE) return sio__http_fail(p, SIO__HTTP_ERR_BAD);
  p->field_state = SIO__HTTP_FS_NONE;
  if (p->in_body) return 0;
  sio__http_req *r = &p->req;
  /* llhttp skips leading whitespace but hands trailing whitespace through
     ("a b  " for "X: a b  "); RFC 9110 5.5 says OWS is not part of the value. */
  uint32_t off = p->cur_off, len = (uint32_t)p->cur_len;
  while (len && (r->arena[off] == ' ' || r->arena[off] == '\t')) off++, len--;
  while (len && (r->arena[off + len - 1] == ' ' || r->arena[off + len - 1] == '\t')) len--;
  r->arena_len = off + len; /* drop the trimmed tail before terminating */
  if (sio__http_terminate(p)) return -1;
  sio__http_header *h = &r->headers[r->nheaders++];
  h->value_off = off;
  h->value_len = len;
  return 0;
}

static int sio__http_on_headers_complete(llhttp_t *lp) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  sio__http_req *r = &p->req;
  if (!r->arena && sio__http_terminate(p)) return -1; /* helpers expect an arena */
  r->method = lp->method;
  r->http_major = lp->http_major;
  r->http_minor = lp->http_minor;
  r->keep_alive = (uint8_t)(llhttp_should_keep_alive(lp) != 0);
  r->upgrade = lp->upgrade; /* set by llhttp just before this callback */
  r->content_length = (lp->flags & F_CONTENT_LENGTH) ? lp->content_length : 0;
  p->in_body = 1;
  if (p->cbs && p->cbs->on_headers && p->cbs->on_headers(p->ud, r) != 0)
    return sio__http_fail(p, SIO__HTTP_ERR_BAD);
  /* After on_headers, which may have set this request's max_body. Chunked
     bodies have no announced size and are checked as they stream in. */
  if ((lp->flags & F_CONTENT_LENGTH) && !(lp->flags & F_CHUNKED) && r->content_length > p->max_body)
    return sio__http_fail(p, SIO__HTTP_ERR_BODY_TOO_LARGE);
  return 0;
}

static int sio__http_on_body(llhttp_t *lp, const char *at, size_t len) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  /* Checked before delivering, so on_body never sees bytes past the limit. */
  if (len > p->max_body || p->body_seen > p->max_body - len)
    return sio__http_fail(p, SIO__HTTP_ERR_BODY_TOO_LARGE);
  p->body_seen += len;
  if (len && p->cbs && p->cbs->on_body && p->cbs->on_body(p->ud, &p->req, at, len) != 0)
    return sio__http_fail(p, SIO__HTTP_ERR_BAD);
  return 0;
}

static int sio__http_on_message_complete(llhttp_t *lp) {
  sio__http_parser *p = SIO__HTTP_PARSER_OF(lp);
  p->in_message = 0;
  p->field_state = SIO__HTTP_FS_NONE;
  /* A per-request max_body set in on_headers ends with its request. */
  p->max_body = p->saved_max_body;
  int rc = (p->cbs && p->cbs->on_complete) ? p->cbs->on_complete(p->ud, &p->req) : 0;
  if (rc == 0) return 0;
  if (rc == SIO__HTTP_CB_PAUSE) return HPE_PAUSED;
  return sio__http_fail(p, SIO__HTTP_ERR_BAD);
}

/* Shared by every parser: llhttp only reads it. */
static const llhttp_settings_t sio__http_settings = {
  .on_message_begin = sio__http_on_message_begin,
  .on_url = sio__http_on_url,
  .on_url_complete = sio__http_on_url_complete,
  .on_header_field = sio__http_on_header_field,
  .on_header_field_complete = sio__http_on_header_field_complete,
  .on_header_value = sio__http_on_header_value,
  .on_header_value_complete = sio__http_on_header_value_complete,
  .on_headers_complete = sio__http_on_headers_complete,
  .on_body = sio__http_on_body,
  .on_message_complete = sio__http_on_message_complete,
};

/* ---- public API ---- */

void sio__http_parser_init(sio__http_parser *p, const sio__http_parser_cbs *cbs, void *ud) {
  memset(p, 0, sizeof *p);
  p->settings = &sio__http_settings;
  llhttp_init(&p->llhttp, HTTP_REQUEST, &sio__http_settings);
  p->max_header_bytes = SIO__HTTP_MAX_HEADER_BYTES_DEFAULT;
  p->max_headers = SIO__HTTP_MAX_HEADERS_DEFAULT;
  p->max_body = SIO__HTTP_MAX_BODY_DEFAULT;
  p->cbs = cbs;
  p->ud = ud;
}

int sio__http_parser_feed(sio__http_parser *p, const char *data, size_t len, size_t *consumed) {
  *consumed = 0;
  switch (p->state) {
  case SIO__HTTP_ST_FAILED: return p->err;
  /* llhttp would return the pause again but with a stale error_pos into the
     previous input, so answer without calling it. */
  case SIO__HTTP_ST_PAUSED: return SIO__HTTP_PAUSED;
  case SIO__HTTP_ST_UPGRADED: return SIO__HTTP_UPGRADE;
  default: break;
  }
  if (!data) {
    if (len) {
      p->err = SIO__HTTP_ERR_BAD;
      p->state = SIO__HTTP_ST_FAILED;
      return p->err;
    }
    data = ""; /* llhttp does pointer arithmetic on it */
  }
  llhttp_errno_t e = llhttp_execute(&p->llhttp, data, len);
  const char *pos = llhttp_get_error_pos(&p->llhttp);
  size_t at = (pos && pos >= data && pos <= data + len) ? (size_t)(pos - data) : 0;
  switch (e) {
  case HPE_OK:
    *consumed = len;
    return SIO__HTTP_OK;
  case HPE_PAUSED:
    /* Only on_message_complete pauses, and error_pos is just past the
       request's last byte. */
    *consumed = at;
    p->state = SIO__HTTP_ST_PAUSED;
    return SIO__HTTP_PAUSED;
  case HPE_PAUSED_UPGRADE:
    *consumed = at;
    p->state = SIO__HTTP_ST_UPGRADED;
    return SIO__HTTP_UPGRADE;
  default:
    /* Includes HPE_PAUSED_H2_UPGRADE ("PRI * HTTP/2.0"): not served here. */
    *consumed = at;
    if (!p->err) p->err = SIO__HTTP_ERR_BAD;
    p->state = SIO__HTTP_ST_FAILED;
    return p->err;
  }
}

void sio__http_parser_resume(sio__http_parser *p) {
  if (p->state == SIO__HTTP_ST_PAUSED) {
    llhttp_resume(&p->llhttp);
    p->state = SIO__HTTP_ST_RUN;
  } else if (p->state == SIO__HTTP_ST_UPGRADED) {
    llhttp_resume_after_upgrade(&p->llhttp);
    p->state = SIO__HTTP_ST_RUN;
  }
}

static void sio__http_drop_buffers(sio__http_req *r) {
  free(r->arena);
  free(r->headers);
  r->arena = NULL;
  r->headers = NULL;
  r->arena_len = r->arena_cap = 0;
  r->url_off = r->url_len = 0;
  r->nheaders = r->headers_cap = 0;
}

void sio__http_parser_free(sio__http_parser *p) {
  sio__http_drop_buffers(&p->req);
}

void sio__http_parser_release(sio__http_parser *p) {
  /* Offsets of a half-parsed request live in the arena; keep it. */
  if (p->in_message) return;
  sio__http_drop_buffers(&p->req);
}

int sio__http_parser_idle(const sio__http_parser *p) {
  return !p->in_message;
}

/* ---- request helpers ---- */

static int sio__http_lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive equality of a[0..alen) and the NUL-terminated b, ASCII
 * only: header names and tokens are ASCII, and locale must not matter. */
static int sio__http_eq_nocase(const char *a, size_t alen, const char *b) {
  size_t i = 0;
  for (; i < alen; i++) {
    if (!b[i] || sio__http_lower((unsigned char)a[i]) != sio__http_lower((unsigned char)b[i])) return 0;
  }
  return b[i] == '\0';
}

const char *sio__http_req_url(const sio__http_req *r, size_t *len) {
  if (!r->arena) {
    if (len) *len = 0;
    return "";
  }
  if (len) *len = r->url_len;
  return r->arena + r->url_off;
}

void sio__http_req_path_query(const sio__http_req *r, const char **path, size_t *plen,
                              const char **query, size_t *qlen) {
  size_t n;
  const char *u = sio__http_req_url(r, &n);
  const char *q = memchr(u, '?', n);
  *path = u;
  *plen = q ? (size_t)(q - u) : n;
  *query = q ? q + 1 : u + n;
  *qlen = q ? n - (size_t)(q + 1 - u) : 0;
}

const char *sio__http_req_header(const sio__http_req *r, const char *name, size_t *len) {
  for (uint32_t i = r->nheaders; i-- > 0;) {
    const sio__http_header *h = &r->headers[i];
    if (sio__http_eq_nocase(r->arena + h->name_off, h->name_len, name)) {
      if (len) *len = h->value_len;
      return r->arena + h->value_off;
    }
  }
  return NULL;
}

const char *sio__http_req_header_joined(const sio__http_req *r, const char *name, size_t *len,
                                        char **to_free) {
  size_t total = 0, count = 0;
  const sio__http_header *one = NULL;
  *to_free = NULL;
  for (uint32_t i = 0; i < r->nheaders; i++) {
    const sio__http_header *h = &r->headers[i];
    if (!sio__http_eq_nocase(r->arena + h->name_off, h->name_len, name)) continue;
    total += (count ? 2 : 0) + h->value_len;
    count++;
    one = h;
  }
  if (!count) return NULL;
  if (count == 1) {
    *len = one->value_len;
    return r->arena + one->value_off;
  }
  char *out = malloc(total + 1);
  if (!out) return NULL;
  size_t n = 0;
  for (uint32_t i = 0; i < r->nheaders; i++) {
    const sio__http_header *h = &r->headers[i];
    if (!sio__http_eq_nocase(r->arena + h->name_off, h->name_len, name)) continue;
    if (n) memcpy(out + n, ", ", 2), n += 2;
    memcpy(out + n, r->arena + h->value_off, h->value_len);
    n += h->value_len;
  }
  out[n] = 0;
  *len = n;
  *to_free = out;
  return out;
}

static int sio__http_hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = sio__http_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Decodes the query-component byte at s[*i] (*i < n) and advances *i. */
static unsigned char sio__http_qdecode(const char *s, size_t n, size_t *i) {
  unsigned char c = (unsigned char)s[*i];
  if (c == '+') {
    (*i)++;
    return ' ';
  }
  if (c == '%' && *i + 2 < n) {
    int hi = sio__http_hexval((unsigned char)s[*i + 1]), lo = sio__http_hexval((unsigned char)s[*i + 2]);
    if (hi >= 0 && lo >= 0) {
      *i += 3;
      return (unsigned char)(hi * 16 + lo);
    }
  }
  (*i)++;
  return c;
}

/* Whether the encoded key s[0..n) decodes to exactly name. */
static int sio__http_qkey_is(const char *s, size_t n, const char *name) {
  size_t i = 0, j = 0;
  while (i < n) {
    if (!name[j] || sio__http_qdecode(s, n, &i) != (unsigned char)name[j]) return 0;
    j++;
  }
  return name[j] == '\0';
}

ptrdiff_t sio__http_query_get(const char *query, size_t qlen, const char *name, char *out, size_t outcap) {
  const char *val = NULL;
  size_t vlen = 0;
  size_t i = 0;
  while (i < qlen) {
    const char *pair = query + i;
    const char *amp = memchr(pair, '&', qlen - i);
    size_t plen = amp ? (size_t)(amp - pair) : qlen - i;
    i += plen + 1;
    if (plen == 0) continue;
    const char *eq = memchr(pair, '=', plen);
    size_t klen = eq ? (size_t)(eq - pair) : plen;
    if (sio__http_qkey_is(pair, klen, name)) {
      val = eq ? eq + 1 : pair + plen;
      vlen = eq ? plen - klen - 1 : 0;
    }
  }
  if (!val) return -1;
  size_t w = 0;
  if (outcap == 0) return 0;
  for (size_t k = 0; k < vlen && w + 1 < outcap;) out[w++] = (char)sio__http_qdecode(val, vlen, &k);
  out[w] = '\0';
  return (ptrdiff_t)w;
}

int sio__http_header_has_token(const char *value, size_t len, const char *token) {
  size_t i = 0;
  while (i <= len) {
    const char *seg = value + i;
    const char *comma = memchr(seg, ',', len - i);
    size_t slen = comma ? (size_t)(comma - seg) : len - i;
    i += slen + 1;
    while (slen && (*seg == ' ' || *seg == '\t')) seg++, slen--;
    while (slen && (seg[slen - 1] == ' ' || seg[slen - 1] == '\t')) slen--;
    if (slen && sio__http_eq_nocase(seg, slen, token)) return 1;
  }
  return 0;
}

int sio__http_header_value_invalid(const char *value, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)value[i];
    if (c != '\t' && (c < 0x20 || c == 0x7f)) return 1;
  }
  return 0;
}

const char *sio__http_status_text(int status) {
  /* The phrases Node's http.STATUS_CODES uses, for the codes a Socket.IO
     server can plausibly send. */
  switch (status) {
  case 100: return "Continue";
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}
