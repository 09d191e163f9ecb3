/* Engine.IO server internals shared by eio_server.c (HTTP routing, handshake,
 * request validation) and eio_socket.c (sessions: transports, heartbeat,
 * upgrade, close). */
#ifndef SIO_EIO_INTERNAL_H
#define SIO_EIO_INTERNAL_H

#include "eio.h"
#include "eio/eio_codec.h"
#include "http/http_server.h"
#include "util/hmap.h"
#include "util/rbuf.h"
#include "util/tq.h"

enum { EIO_STATE_OPEN = 0, EIO_STATE_CLOSING, EIO_STATE_CLOSED };

struct eio_server {
  sio__http_server http;
  eio_options_t opts;      /* strings below are owned copies */
  size_t path_len;
  sio__hmap sessions;      /* sid → eio_socket */
  size_t nclients;
  sio__tq q_ping_interval; /* next ping due */
  sio__tq q_ping_timeout;  /* pong due */
  sio__tq q_ping_v3;       /* Engine.IO v3: the client's next ping due
                              (pingInterval + pingTimeout after the last) */
  sio__tq q_upgrade;       /* 100 ms upgrade tick (noop to the pending GET, timeout) */
  sio__tq q_close;         /* a closing polling session waits this long for its last GET */
  sio__tq q_drain;         /* ... and this long when the server drains (a live client
                              polls again at once; a gone one must not hold the drain) */
  sio__tq q_fail;          /* sessions failed mid-send, closed on the next loop turn */
  struct sio__pmd_ctx *pmd; /* permessage-deflate (ws/ws_deflate.h), NULL: off */
  int closing;
  int draining;
  void (*on_closed)(void *arg);
  void *on_closed_arg;
  struct {                 /* see eio_stats_t */
    uint64_t sessions_ws;  /* gauge; the rest of nclients is on polling */
    uint64_t handshakes_polling, handshakes_ws, upgrades;
    uint64_t closes[EIO_CLOSE_REASON_COUNT];
    uint64_t packets_in, packets_out, messages_in, messages_out;
  } stats;
};

struct eio_socket {
  sio__hmap_node node;
  char sid[21];
  uint8_t state;
  uint8_t transport;     /* eio_transport_t */
  uint8_t upgrading;     /* a probe WebSocket is attached */
  uint8_t probed;        /* ... and has answered 2probe */
  uint8_t busy;          /* inside a user callback: defer the free */
  uint8_t dead;          /* closed; free when not busy */
  uint8_t close_pending; /* 1 + reason: a close asked for during a probed upgrade */
  uint8_t close_reason;  /* while CLOSING: the reason the final close will give */
  uint8_t protocol;      /* Engine.IO revision: 4, or 3 (allow_eio3) */
  uint8_t ws_wrap;       /* binary messages on s->ws need re-framing: v3 (type byte
                            0x04), or b64 (text "b"/"b4" + base64) */
  uint8_t poll_b64 : 1;  /* polling transport without binary (b64 in the handshake):
                            v3 payloads stay text */
  uint8_t probe_b64 : 1; /* the probe WebSocket's request had b64 */
  uint8_t hb_refreshed : 1; /* the ping timeout was restarted once for this ping */
  eio_server_t *srv;
  sio__conn *get;        /* pending long-poll GET */
  sio__conn *post;       /* POST whose body is arriving */
  sio__conn *ws;         /* WebSocket transport */
  sio__conn *probe;      /* WebSocket being probed for an upgrade */
  sio__rbuf **q;         /* packets waiting for a GET (polling) */
  uint32_t qlen, qcap;
  size_t qbytes;         /* ... their size, capped by opts.max_send_queue */
  sio__tq_node hb;       /* in q_ping_interval or q_ping_timeout */
  sio__tq_node tick;     /* in q_upgrade or q_close */
  uint64_t upgrade_started;
  void *data;
  char *hs;              /* handshake: query\0address\0(name\0value\0)* */
  uint32_t hs_len;
  uint16_t hs_nheaders;
};

struct eio_http_request {
  sio__conn *conn;
  sio__http_req *req;
  char *body;
  size_t body_len;
  int responded;
  char addr[64];         /* the peer's address, filled on first use */
};

/* Packets: [headroom][type digit][data] for text, [headroom][data] for binary. */
sio__rbuf *sio__eio_packet_new(int type, const void *data, size_t len, int binary);

/* eio_socket.c */
/* Queues a pre-encoded packet (takes its own reference): the encode-once
 * path for Socket.IO. Returns 0 or EIO_ECLOSED. */
int sio__eio_send_packet(eio_socket_t *s, sio__rbuf *rb);
/* Writes the WebSocket transport's queue now, alone (see
 * sio__conn_flush_alone). No-op on polling, where a response is one body. */
void sio__eio_flush_alone(eio_socket_t *s);
eio_socket_t *sio__eio_socket_new(eio_server_t *srv, const sio__http_req *req, sio__conn *c,
                                  eio_transport_t transport);
void sio__eio_socket_open(eio_socket_t *s);
/* b64: the WebSocket's request had a non-empty b64 query parameter. */
void sio__eio_socket_attach_ws(eio_socket_t *s, sio__conn *c, int b64);
void sio__eio_socket_attach_probe(eio_socket_t *s, sio__conn *c, int b64);
/* Takes a pending GET; returns SIO__HTTP_DONE if answered now. */
int sio__eio_socket_on_get(eio_socket_t *s, sio__conn *c);
/* A complete POST body; `octets`: Content-Type application/octet-stream
 * (a v3 binary payload; refused before this call for v4). */
void sio__eio_socket_on_post(eio_socket_t *s, sio__conn *c, char *body, size_t len, int octets);
void sio__eio_socket_on_abort(eio_socket_t *s, sio__conn *c);
void sio__eio_socket_close(eio_socket_t *s, eio_close_reason_t reason);
/* Closes as eio_socket_close does (queued packets leave first), with `reason`. */
void sio__eio_socket_close_graceful(eio_socket_t *s, eio_close_reason_t reason);
void sio__eio_tick(sio__tq *q, sio__tq_node *n);
void sio__eio_ping_interval(sio__tq *q, sio__tq_node *n);
void sio__eio_ping_timeout(sio__tq *q, sio__tq_node *n);
void sio__eio_close_timeout(sio__tq *q, sio__tq_node *n);
void sio__eio_fail_deferred(sio__tq *q, sio__tq_node *n);

/* eio_server.c: CORS header lines for this request (empty when off). */
void sio__eio_cors_headers(eio_server_t *srv, const sio__http_req *req, char *out, size_t cap);

#endif
