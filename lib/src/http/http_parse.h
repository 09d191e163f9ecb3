/* HTTP/1.1 request parsing: glue over llhttp, plus small request helpers.
 *
 * The server reads every connection into one large buffer shared by the whole
 * event loop, so nothing here may point into the input once
 * sio__http_parser_feed returns: the URL and header fields are copied into a
 * per-parser arena; body bytes are handed to on_body while still in the input
 * (the callback copies what it keeps).
 *
 * Requests may be pipelined. The server cannot always answer at once (a
 * long-polling GET is held open for seconds), so on_complete may pause the
 * parser: feed then returns SIO__HTTP_PAUSED with *consumed = the first byte
 * after that request, and the caller keeps the rest of the input itself,
 * calls sio__http_parser_resume once it has answered, and feeds the leftover.
 * A WebSocket upgrade request ends the HTTP part of the connection: feed
 * returns SIO__HTTP_UPGRADE and the bytes from *consumed on belong to the
 * new protocol.
 *
 * No I/O, no global mutable state. One parser per connection; not
 * thread-safe.
 *
 * Ownership: the parser owns req.arena and req.headers (heap). They are
 * valid from on_headers until the next request starts inside a later feed
 * (so a paused request stays readable until the caller resumes and feeds
 * again), or until sio__http_parser_release / sio__http_parser_free. */
#ifndef SIO_HTTP_PARSE_H
#define SIO_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

typedef struct sio__http_header {
  uint32_t name_off, name_len, value_off, value_len; /* into req.arena */
} sio__http_header;

typedef struct sio__http_req {
  int method;              /* llhttp_method_t (HTTP_GET, HTTP_POST, HTTP_OPTIONS, ...) */
  uint8_t http_major, http_minor;
  uint8_t keep_alive;      /* llhttp_should_keep_alive at headers-complete */
  uint8_t upgrade;         /* the request asks for a protocol upgrade (or is CONNECT) */
  uint64_t content_length; /* 0 if absent (and for chunked bodies) */
  char *arena;             /* url, header names and values, NUL-terminated each, heap, owned by the parser */
  uint32_t arena_len, arena_cap;
  uint32_t url_off, url_len;
  sio__http_header *headers; /* heap, owned by the parser; trailers are not stored */
  uint32_t nheaders, headers_cap;
} sio__http_req;

typedef struct sio__http_parser_cbs {
  /* Headers are complete: req is fully populated (url, headers). Return 0 to
     go on; any other value (SIO__HTTP_CB_ERROR) fails the request (feed
     returns SIO__HTTP_ERR_BAD). The callback may set p->max_body for this
     request's body only; the previous value comes back when it completes. */
  int (*on_headers)(void *ud, sio__http_req *req);
  /* A body chunk (data points into the caller's input; copy it). Chunked
     bodies arrive decoded. Nonzero fails the request (SIO__HTTP_ERR_BAD). */
  int (*on_body)(void *ud, sio__http_req *req, const char *data, size_t len);
  /* The request is complete. Return 0 to continue with the next pipelined
     request, or SIO__HTTP_CB_PAUSE to stop here (the caller will answer
     later, then call sio__http_parser_resume and feed the leftover). Any
     other value fails the request (SIO__HTTP_ERR_BAD). */
  int (*on_complete)(void *ud, sio__http_req *req);
} sio__http_parser_cbs;

typedef struct sio__http_parser {
  llhttp_t llhttp;
  const llhttp_settings_t *settings; /* static table shared by all parsers */
  sio__http_req req;
  size_t max_header_bytes;  /* url + all header names and values; default 16384 */
  size_t max_headers;       /* header lines per request; default 256 (-> 431) */
  size_t max_body;          /* default 1000000; may be changed per request in on_headers */
  uint64_t body_seen;       /* body bytes of the current request so far */
  const sio__http_parser_cbs *cbs;
  void *ud;
  /* --- private --- */
  size_t hdr_bytes;         /* counted against max_header_bytes (trailers too) */
  size_t saved_max_body;    /* max_body before on_headers could change it */
  uint32_t cur_off;         /* arena offset where the field being appended starts */
  size_t cur_len;           /* bytes of that field so far (also for unstored trailers) */
  uint8_t field_state;      /* SIO__HTTP_FS_* (in http_parse.c) */
  uint8_t in_message;       /* a request has begun and not completed */
  uint8_t in_body;          /* headers done: further fields are trailers */
  uint8_t state;            /* SIO__HTTP_ST_* (in http_parse.c) */
  int err;                  /* sticky error (SIO__HTTP_ERR_*) once failed */
} sio__http_parser;

enum {
  SIO__HTTP_OK = 0,            /* all input consumed */
  SIO__HTTP_PAUSED = 1,        /* on_complete paused; *consumed tells how far; keep the rest */
  SIO__HTTP_UPGRADE = 2,       /* upgrade request complete; *consumed = end of the request, the rest is the new protocol's */
  SIO__HTTP_ERR_BAD = -1,      /* malformed request -> 400 and close */
  SIO__HTTP_ERR_HEADERS_TOO_LARGE = -2, /* -> 431 and close */
  SIO__HTTP_ERR_BODY_TOO_LARGE = -3,    /* body bytes exceeded max_body -> 413 and close */
  SIO__HTTP_ERR_NOMEM = -4,    /* allocation failed -> 500 (or just close) */
};
#define SIO__HTTP_CB_PAUSE 1
#define SIO__HTTP_CB_ERROR 2

#define SIO__HTTP_MAX_HEADER_BYTES_DEFAULT 16384
#define SIO__HTTP_MAX_HEADERS_DEFAULT 256
#define SIO__HTTP_MAX_BODY_DEFAULT 1000000

/* cbs must outlive the parser; any callback may be NULL. Allocates nothing. */
void sio__http_parser_init(sio__http_parser *p, const sio__http_parser_cbs *cbs, void *ud);

/* Parses len bytes (data may be NULL when len is 0). *consumed (required) is
 * set to how many bytes were used:
 *   SIO__HTTP_OK       all of them (a partial request is remembered);
 *   SIO__HTTP_PAUSED   up to and including the last byte of the request whose
 *                      on_complete paused; the rest must be fed again after
 *                      sio__http_parser_resume;
 *   SIO__HTTP_UPGRADE  up to and including the last byte of the upgrade
 *                      request; data + *consumed onwards is the new protocol;
 *   errors             where the error was detected (informational).
 * Once paused, upgraded or failed, further feeds return the same code with
 * *consumed = 0 (until resume for the first two).
 * An upgrade request whose on_complete paused gives SIO__HTTP_PAUSED first;
 * after resume the next feed returns SIO__HTTP_UPGRADE with *consumed = 0.
 * After a request that does not keep the connection alive (Connection: close,
 * HTTP/1.0 without keep-alive) llhttp discards all further bytes: feeds
 * return SIO__HTTP_OK and deliver nothing; the caller answers and closes. */
int sio__http_parser_feed(sio__http_parser *p, const char *data, size_t len, size_t *consumed);

/* After SIO__HTTP_PAUSED: lets the next feed go on. After SIO__HTTP_UPGRADE it
 * declines the upgrade: parsing continues as HTTP with the next request.
 * No effect otherwise. */
void sio__http_parser_resume(sio__http_parser *p);

/* Frees arena and headers; the parser may be re-initialized afterwards. */
void sio__http_parser_free(sio__http_parser *p);

/* Drops the request buffers between requests so an idle keep-alive
 * connection holds no heap. No-op while a request is partially parsed. */
void sio__http_parser_release(sio__http_parser *p);

/* True when the parser is between requests (no partial request buffered). */
int sio__http_parser_idle(const sio__http_parser *p);

/* ---- Request helpers (pure; pointers returned point into req.arena) ---- */

/* NUL-terminated URL ("" when none); *len may be NULL. */
const char *sio__http_req_url(const sio__http_req *r, size_t *len);

/* Path part of the URL (before '?'), and the raw query (after '?', may be
 * empty). The path is not NUL-terminated at plen (it runs on into "?...");
 * the query is, being the end of the URL. */
void sio__http_req_path_query(const sio__http_req *r, const char **path, size_t *plen,
                              const char **query, size_t *qlen);

/* Case-insensitive header lookup; returns the LAST value with that name
 * (NUL-terminated, surrounding spaces/tabs trimmed) or NULL. *len may be NULL. */
const char *sio__http_req_header(const sio__http_req *r, const char *name, size_t *len);

/* Every value of a header, joined with ", " in arrival order, as Node
 * joins repeated headers (Sec-WebSocket-Extensions, Accept-Encoding).
 * NULL if absent. One occurrence: its value in req.arena, *to_free = NULL.
 * Several: a malloc'd NUL-terminated copy that *to_free owns (NULL and
 * *to_free NULL when out of memory: treat as absent). */
const char *sio__http_req_header_joined(const sio__http_req *r, const char *name, size_t *len,
                                        char **to_free);

/* Query parameter: percent-decodes ('+' -> space too) the value of the LAST
 * occurrence of name (names are compared after decoding too) into out
 * (NUL-terminated, truncated to outcap-1). Returns the length written to out
 * (so truncation shows as outcap-1), or -1 if absent. A name without '=' has
 * value "". A malformed %-escape is kept literally, as Node's querystring does. */
ptrdiff_t sio__http_query_get(const char *query, size_t qlen, const char *name, char *out, size_t outcap);

/* True if a comma-separated header value contains token (case-insensitive,
 * spaces/tabs trimmed), e.g. Connection: keep-alive, Upgrade */
int sio__http_header_has_token(const char *value, size_t len, const char *token);

/* True if the value has characters invalid in a header value (as Node's
 * checkInvalidHeaderChar: anything outside \t, 0x20-0x7E and 0x80-0xFF). */
int sio__http_header_value_invalid(const char *value, size_t len);

/* Reason phrase for a status code ("OK", "Bad Request", "Request Header
 * Fields Too Large", ...); "Unknown" for codes it does not know. */
const char *sio__http_status_text(int status);

#endif
