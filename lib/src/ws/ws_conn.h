/* WebSocket connections: the 101 handshake, then frames over sio__conn.
 * Messages go up through a small handler table; pings are answered here;
 * close frames are answered and the connection is closed once the answer is
 * written. Permessage-deflate offers are declined (no extension is sent). */
#ifndef SIO_WS_CONN_H
#define SIO_WS_CONN_H

#include "http/http_parse.h"
#include "net/conn.h"
#include "ws/ws_codec.h"

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
  uint8_t close_sent;
  uint8_t notified;
} sio__ws_conn;

/* Validates the upgrade request headers (version 13, a well-formed key).
 * Returns 0, or -1 (then answer 400). */
int sio__ws_check_request(const sio__http_req *req);
/* Writes the 101 answer (with `extra_headers`, CRLF-terminated lines, may be
 * NULL), switches `c` to the WebSocket protocol and feeds `rest`. */
int sio__ws_accept(sio__conn *c, const sio__http_req *req, const char *extra_headers,
                   size_t max_message, const sio__ws_handler *h, void *ud, char *rest, size_t len);
/* Rebinds the handler (upgrade: the probe becomes the session's transport). */
void sio__ws_set_handler(sio__conn *c, const sio__ws_handler *h, void *ud);
/* Queues a data frame holding bytes [SIO__RBUF_HEADROOM, +len) of packet rb:
 * the frame header is built once in the headroom, so the same rbuf serves
 * every recipient. */
int sio__ws_send_packet(sio__conn *c, sio__rbuf *rb);
/* Queues a text or binary frame with a copy of the bytes. */
int sio__ws_send(sio__conn *c, int binary, const void *data, size_t len);
/* Sends a close frame (code 0: no status code) and closes once the peer has
 * answered or closed (sio__conn_close_linger).
 * The handler's on_close is not called for a close started here. */
void sio__ws_close(sio__conn *c, unsigned code, const char *reason);

#endif
