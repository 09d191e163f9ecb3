/* WebSocket connections: the 101 handshake, then frames over sio__conn.
 * Messages go up through a small handler table; pings are answered here;
 * close frames are answered and the connection is closed once the answer is
 * written. permessage-deflate (ws_deflate.h) when the server enables it and
 * the client offers it: compressed messages are inflated here, under the
 * same max_message bound as uncompressed ones, before the handler sees
 * them; data frames at or above the threshold leave compressed. */
#ifndef SIO_WS_CONN_H
#define SIO_WS_CONN_H

#include "http/http_parse.h"
#include "net/conn.h"
#include "ws/ws_codec.h"
#include "ws/ws_deflate.h"

typedef struct sio__ws_handler {
  void (*on_message)(void *ud, sio__conn *c, int binary, uint8_t *data, size_t len);
  /* The WebSocket is gone: close frame, EOF, error or protocol violation
   * (code is the close code received or sent; 1006 for an abrupt end). */
  void (*on_close)(void *ud, sio__conn *c, unsigned code);
} sio__ws_handler;

typedef struct sio__ws_conn {
  sio__ws_parser parser;
  const sio__ws_handler *h;
  void *ud;
  sio__pmd *pmd;        /* permessage-deflate, NULL when not negotiated */
  uint8_t close_sent;
  uint8_t notified;
} sio__ws_conn;

/* Validates the upgrade request headers (version 13, a well-formed key).
 * Returns 0, or -1 (then answer 400). */
int sio__ws_check_request(const sio__http_req *req);
/* Negotiates permessage-deflate from the request's Sec-WebSocket-Extensions
 * (see sio__pmd_negotiate): 1 agreed (*out set), 0 none (or ctx NULL:
 * compression off, the header is not even read, as ws), -1 refuse the
 * upgrade with 400 "Invalid or unacceptable Sec-WebSocket-Extensions header". */
int sio__ws_negotiate(sio__pmd_ctx *ctx, const sio__http_req *req, sio__pmd_params *out);
/* Writes the 101 answer (with Sec-WebSocket-Extensions when `pmd` is set,
 * then `extra_headers`, CRLF-terminated lines, may be NULL), switches `c` to
 * the WebSocket protocol and feeds `rest`. pmd: the parameters agreed by
 * sio__ws_negotiate with ctx, or NULL. */
int sio__ws_accept(sio__conn *c, const sio__http_req *req, const char *extra_headers,
                   size_t max_message, sio__pmd_ctx *ctx, const sio__pmd_params *pmd,
                   const sio__ws_handler *h, void *ud, char *rest, size_t len);
/* Rebinds the handler (upgrade: the probe becomes the session's transport). */
void sio__ws_set_handler(sio__conn *c, const sio__ws_handler *h, void *ud);
/* Queues a data frame holding bytes [SIO__RBUF_HEADROOM, +len) of packet rb:
 * the frame header is built once in the headroom, so the same rbuf serves
 * every recipient. With permessage-deflate a packet at or above the
 * threshold is compressed for this connection instead (a new frame per
 * recipient with context takeover, one shared frame without). */
int sio__ws_send_packet(sio__conn *c, sio__rbuf *rb);
/* Queues a text or binary frame with a copy of the bytes. */
int sio__ws_send(sio__conn *c, int binary, const void *data, size_t len);
/* Sends a close frame (code 0: no status code) and closes once the peer has
 * answered or closed (sio__conn_close_linger).
 * The handler's on_close is not called for a close started here. */
void sio__ws_close(sio__conn *c, unsigned code, const char *reason);

#endif
