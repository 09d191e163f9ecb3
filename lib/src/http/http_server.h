/* HTTP/1.1 server protocol on sio__conn: parses requests (pipelined, with
 * bodies capped), hands complete ones to the application layer (Engine.IO),
 * writes responses in order, enforces the header timeout and closes idle
 * keep-alive connections. A request may be answered later (long-polling):
 * the parser pauses and the connection stops reading until the answer. */
#ifndef SIO_HTTP_SERVER_H
#define SIO_HTTP_SERVER_H

#include "http/http_parse.h"
#include "net/conn.h"

typedef struct sio__http_server sio__http_server;

enum { SIO__HTTP_DONE = 0, SIO__HTTP_ASYNC = 1 };

typedef struct sio__http_conn {
  sio__http_parser parser;
  char *body;
  size_t body_len, body_cap;
  uint8_t pending;    /* an answer is owed (SIO__HTTP_ASYNC) */
  uint8_t keep_alive; /* of the request being answered */
  uint8_t head;       /* ... and it is a HEAD request */
  uint8_t linger;     /* an error answer: close politely (the peer may still be sending) */
  void *owner;        /* the application object waiting to answer, if any */
} sio__http_conn;

struct sio__http_server {
  sio__net net;
  size_t max_header_bytes;
  size_t max_body;
  size_t max_conns;      /* past this many open connections, new ones get 503 */
  sio__tq header_tq;     /* headers must be complete within this delay */
  sio__tq body_tq;       /* ... and the body within this one after them */
  sio__tq keepalive_tq;  /* idle keep-alive connections closed after it */
  /* A complete request. Answer with sio__http_respond*() and return
   * SIO__HTTP_DONE, or keep it and return SIO__HTTP_ASYNC (set hc->owner). */
  int (*on_request)(sio__http_server *s, sio__conn *c, sio__http_req *req, char *body, size_t len);
  /* Headers of a request are in (before its body): may veto early. Optional. */
  void (*on_headers)(sio__http_server *s, sio__conn *c, sio__http_req *req);
  /* An Upgrade request; `rest` holds the bytes after it. The handler switches
   * c->proto or answers and closes. */
  void (*on_upgrade)(sio__http_server *s, sio__conn *c, sio__http_req *req, char *rest, size_t len);
  /* A connection that owed an answer (hc->owner set) is closing. */
  void (*on_abort)(sio__http_server *s, sio__conn *c, void *owner);
  void *data;
  /* Compression of long-polling bodies (http_compress.h), NULL: off. The
   * owner creates and frees it; sio__http_respond_segs_compressed reads it. */
  struct sio__http_compress *compress;
  uint8_t draining;      /* every answer closes its connection */
  struct {
    uint64_t requests;
    /* error answers by status (see eio_stats_t) */
    uint64_t s400, s403, s404, s408, s413, s431, s500, s503, other;
  } stats;
};

int sio__http_server_init(sio__http_server *s, uv_loop_t *loop, uint32_t header_timeout_ms,
                          uint32_t body_timeout_ms, uint32_t keepalive_timeout_ms);

static inline sio__http_conn *sio__http_conn_of(sio__conn *c) { return (sio__http_conn *)c->proto_data; }

/* Answers the current request. `headers` holds extra header lines each
 * ending in CRLF (may be NULL); Content-Length and Connection are added. */
void sio__http_respond(sio__conn *c, int status, const char *headers, const void *body, size_t len);
/* Same, with the body given as refcounted slices (not copied). */
void sio__http_respond_segs(sio__conn *c, int status, const char *headers, const sio__wseg *segs,
                            size_t nsegs);
/* Same, compressed (gzip or deflate, as the request's Accept-Encoding
 * prefers) when the server's `compress` is set and the body reaches its
 * threshold: long-polling responses, as engine.io's httpCompression.
 * Implemented in http_compress.c. */
void sio__http_respond_segs_compressed(sio__conn *c, int status, const char *headers,
                                       const sio__wseg *segs, size_t nsegs);
/* Counts an answer with this status in s->stats (errors only; cheap). */
static inline void sio__http_count_status(sio__http_server *s, int status) {
  if (status < 400) return;
  switch (status) {
  case 400: s->stats.s400++; break;
  case 403: s->stats.s403++; break;
  case 404: s->stats.s404++; break;
  case 408: s->stats.s408++; break;
  case 413: s->stats.s413++; break;
  case 431: s->stats.s431++; break;
  case 500: s->stats.s500++; break;
  case 503: s->stats.s503++; break;
  default: s->stats.other++; break;
  }
}
/* Draining: from now on every answer ends its connection, and idle
 * keep-alive connections are closed now. */
void sio__http_server_drain(sio__http_server *s);
/* Detaches the HTTP state from an upgraded connection (frees the parser). */
void sio__http_conn_release(sio__conn *c);

#endif
