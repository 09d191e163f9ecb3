#include "ws/ws_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_server.h"
#include "util/log.h"
#include "util/utf8.h"

static size_t ws_on_data(sio__conn *c, char *data, size_t len);
static void ws_on_eof(sio__conn *c, int status);
static void ws_on_close(sio__conn *c);
static void ws_on_free(sio__conn *c);

static const sio__conn_proto ws_proto = {ws_on_data, ws_on_eof, ws_on_close, ws_on_free};
/* The same protocol on a connection that negotiated permessage-deflate: the
 * send path tells the two apart from c->proto alone, so the uncompressed
 * broadcast fast path reads nothing more than it did. */
static const sio__conn_proto ws_pmd_proto = {ws_on_data, ws_on_eof, ws_on_close, ws_on_free};

static sio__ws_conn *ws_of(sio__conn *c) { return (sio__ws_conn *)c->proto_data; }

static void ws_notify(sio__conn *c, unsigned code) {
  sio__ws_conn *w = ws_of(c);
  if (!w || w->notified) return;
  w->notified = 1;
  if (w->h && w->h->on_close) w->h->on_close(w->ud, c, code);
}

int sio__ws_check_request(const sio__http_req *req) {
  size_t n;
  const char *v = sio__http_req_header(req, "upgrade", &n);
  if (!v || !sio__http_header_has_token(v, n, "websocket")) return -1;
  v = sio__http_req_header(req, "sec-websocket-version", &n);
  if (!v || n != 2 || memcmp(v, "13", 2) != 0) return -1;
  v = sio__http_req_header(req, "sec-websocket-key", &n);
  if (!v || !sio__ws_key_valid(v, n)) return -1;
  return 0;
}

int sio__ws_negotiate(sio__pmd_ctx *ctx, const sio__http_req *req, sio__pmd_params *out) {
  if (!ctx) return 0;
  size_t len = 0;
  char *joined;
  const char *v = sio__http_req_header_joined(req, "sec-websocket-extensions", &len, &joined);
  if (!v) return 0;
  int r = sio__pmd_negotiate(sio__pmd_ctx_config(ctx), v, len, out);
  free(joined);
  return r;
}

int sio__ws_accept(sio__conn *c, const sio__http_req *req, const char *extra_headers,
                   size_t max_message, sio__pmd_ctx *ctx, const sio__pmd_params *pmd,
                   const sio__ws_handler *h, void *ud, char *rest, size_t len) {
  size_t klen;
  const char *key = sio__http_req_header(req, "sec-websocket-key", &klen);
  char accept[29];
  if (!key || sio__ws_accept_key(key, klen, accept) != 0) return -1;
  sio__ws_conn *w = calloc(1, sizeof *w);
  if (!w) return -1;
  char ext[160] = "";
  if (pmd && ctx) {
    if (!(w->pmd = sio__pmd_new(ctx, pmd))) {
      free(w);
      return -1;
    }
    char value[128];
    sio__pmd_format(pmd, value, sizeof value);
    snprintf(ext, sizeof ext, "Sec-WebSocket-Extensions: %s\r\n", value);
  }
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s\r\n",
                   accept, ext, extra_headers ? extra_headers : "");
  if (n < 0 || (size_t)n >= sizeof head) {
    sio__pmd_free(w->pmd);
    free(w);
    return -1;
  }
  sio__http_conn_release(c);
  sio__ws_parser_init(&w->parser, max_message);
  if (w->pmd) sio__ws_parser_allow_compressed(&w->parser);
  w->h = h;
  w->ud = ud;
  c->proto = w->pmd ? &ws_pmd_proto : &ws_proto;
  c->proto_data = w;
  sio__conn_write_copy(c, head, (size_t)n);
  if (len) ws_on_data(c, rest, len);
  return 0;
}

void sio__ws_set_handler(sio__conn *c, const sio__ws_handler *h, void *ud) {
  sio__ws_conn *w = ws_of(c);
  if (!w) return;
  w->h = h;
  w->ud = ud;
}

/* Queues packet rb as one frame, its header built in the headroom by the
 * first recipient. rsv1: the payload is deflated (every frame made from
 * such an rbuf is, so the header stays right for the next recipient). */
static inline int ws_send_framed(sio__conn *c, sio__rbuf *rb, int rsv1) {
  size_t len = rb->len - SIO__RBUF_HEADROOM;
  if (!rb->hlen) {
    uint8_t hdr[10];
    size_t hl = sio__ws_frame_header(hdr, rb->binary ? SIO__WS_OP_BINARY : SIO__WS_OP_TEXT, len);
    if (rsv1) hdr[0] |= 0x40;
    memcpy(rb->data + SIO__RBUF_HEADROOM - hl, hdr, hl);
    rb->hlen = (uint8_t)hl;
  }
  return sio__conn_write(c, rb, SIO__RBUF_HEADROOM - rb->hlen, rb->hlen + len);
}

/* A connection with permessage-deflate: small packets share the common
 * frame, larger ones are compressed for this connection. The cost is a
 * deflate per recipient with context takeover (each connection's window
 * differs), one per packet without (see ws_deflate.h). */
static int ws_send_packet_pmd(sio__conn *c, sio__rbuf *rb) {
  sio__ws_conn *w = ws_of(c);
  /* Compressing for a connection that takes no more would be wasted (and
   * would advance its stream past what the peer will see). */
  if (w->close_sent || (c->flags & (SIO__CONN_CLOSING | SIO__CONN_CLOSE_AFTER | SIO__CONN_LINGER)))
    return -1;
  sio__rbuf *z;
  int r = sio__pmd_compress_packet(w->pmd, rb, &z);
  if (r == 0) return ws_send_framed(c, rb, 0);
  if (r < 0) {
    sio__conn_fail_later(c, UV_ENOMEM);
    return -1;
  }
  r = ws_send_framed(c, z, 1);
  sio__rbuf_unref(z);
  return r;
}

int sio__ws_send_packet(sio__conn *c, sio__rbuf *rb) {
  /* Hot path of every broadcast: decide from the connection alone. Once our
   * close frame is queued the connection is closing or lingering, and
   * sio__conn_write refuses more; proto_data is not touched (a cache miss
   * per recipient). */
  if (c->proto != &ws_proto) return c->proto == &ws_pmd_proto ? ws_send_packet_pmd(c, rb) : -1;
  return ws_send_framed(c, rb, 0);
}

static int ws_send_op(sio__conn *c, unsigned op, const void *data, size_t len) {
  sio__rbuf *rb = sio__rbuf_new(10 + len);
  if (!rb) return -1;
  size_t hl = sio__ws_frame_header((uint8_t *)rb->data, op, len);
  if (len) memcpy(rb->data + hl, data, len);
  rb->len = (uint32_t)(hl + len);
  int r = sio__conn_write(c, rb, 0, rb->len);
  sio__rbuf_unref(rb);
  return r;
}

int sio__ws_send(sio__conn *c, int binary, const void *data, size_t len) {
  sio__ws_conn *w = ws_of(c);
  if (!w || w->close_sent) return -1;
  if (w->pmd && !sio__conn_closing(c)) {
    sio__rbuf *z;
    int r = sio__pmd_compress(w->pmd, data, len, binary, &z);
    if (r < 0) {
      sio__conn_fail_later(c, UV_ENOMEM);
      return -1;
    }
    if (r > 0) {
      r = ws_send_framed(c, z, 1);
      sio__rbuf_unref(z);
      return r;
    }
  }
  return ws_send_op(c, binary ? SIO__WS_OP_BINARY : SIO__WS_OP_TEXT, data, len);
}

void sio__ws_close(sio__conn *c, unsigned code, const char *reason) {
  sio__ws_conn *w = ws_of(c);
  if (!w) {
    sio__conn_close(c);
    return;
  }
  w->notified = 1; /* the owner started this close; no callback */
  if (!w->close_sent) {
    uint8_t payload[125];
    size_t n = sio__ws_close_payload(payload, (uint16_t)code, reason ? reason : "");
    ws_send_op(c, SIO__WS_OP_CLOSE, payload, n);
    w->close_sent = 1;
  }
  /* Wait for the peer's close (RFC 6455 7.1.1) while discarding its data. */
  sio__conn_close_linger(c);
}

/* ---- parser callbacks ------------------------------------------------------ */

static int ws_cb_message(void *ud, int binary, uint8_t *data, size_t len) {
  sio__conn *c = ud;
  sio__ws_conn *w = ws_of(c);
  if (w->h && w->h->on_message) w->h->on_message(w->ud, c, binary, data, len);
  /* Stop parsing once the connection is closing (its state stays allocated
   * until libuv's close callback, so w is still valid here). */
  return sio__conn_closing(c) || w->close_sent;
}

static int ws_cb_ping(void *ud, uint8_t *data, size_t len) {
  sio__conn *c = ud;
  ws_send_op(c, SIO__WS_OP_PONG, data, len);
  return 0;
}

static int ws_cb_pong(void *ud, uint8_t *data, size_t len) { return 0; }

static int ws_cb_close(void *ud, unsigned code, const char *reason, size_t len) {
  sio__conn *c = ud;
  sio__ws_conn *w = ws_of(c);
  /* Echo the status code, as ws does, then let the owner know. */
  if (!w->close_sent) {
    uint8_t payload[125];
    size_t n = sio__ws_close_payload(payload, code == 1005 ? 0 : (uint16_t)code, "");
    ws_send_op(c, SIO__WS_OP_CLOSE, payload, n);
    w->close_sent = 1;
  }
  sio__conn_close_after_write(c);
  ws_notify(c, code);
  return 1;
}

/* A compressed message: inflated under the same bound as any message
 * (zip bombs stop at max_message + 1 bytes), checked as UTF-8 if text,
 * then handed up like the others. A code returned here closes the
 * connection with it (1009 too big, 1007 bad data or text, 1011 OOM). */
static int ws_cb_compressed(void *ud, int binary, uint8_t *data, size_t len) {
  sio__conn *c = ud;
  sio__ws_conn *w = ws_of(c);
  uint8_t *msg;
  size_t n;
  int rc = sio__pmd_inflate(w->pmd, data, len, sio__ws_parser_max(&w->parser), &msg, &n);
  if (rc) return rc;
  if (!binary && !sio__utf8_valid(msg, n)) {
    free(msg);
    return 1007;
  }
  if (w->h && w->h->on_message) w->h->on_message(w->ud, c, binary, msg, n);
  free(msg);
  return sio__conn_closing(c) || w->close_sent;
}

static const sio__ws_parser_cbs ws_cbs = {ws_cb_message, ws_cb_ping, ws_cb_pong, ws_cb_close,
                                          ws_cb_compressed};

static size_t ws_on_data(sio__conn *c, char *data, size_t len) {
  sio__ws_conn *w = ws_of(c);
  if (w->close_sent) return len; /* draining after our close frame */
  int r = sio__ws_parser_feed(&w->parser, (uint8_t *)data, len, &ws_cbs, c);
  if (r >= 1000 && !sio__conn_closing(c)) {
    char peer[64];
    sio__conn_peer(c, peer, sizeof peer);
    SIO_LOGI("websocket: closing connection from %s with code %d (protocol violation)", peer, r);
    uint8_t payload[125];
    size_t n = sio__ws_close_payload(payload, (uint16_t)r, "");
    ws_send_op(c, SIO__WS_OP_CLOSE, payload, n);
    w->close_sent = 1;
    sio__conn_close_linger(c);
    ws_notify(c, (unsigned)r);
  }
  return len;
}

static void ws_on_eof(sio__conn *c, int status) {
  ws_notify(c, 1006);
  sio__conn_close(c);
}

static void ws_on_close(sio__conn *c) {
  if (ws_of(c)) ws_notify(c, 1006);
}

static void ws_on_free(sio__conn *c) {
  sio__ws_conn *w = ws_of(c);
  if (!w) return;
  sio__ws_parser_free(&w->parser);
  sio__pmd_free(w->pmd);
  free(w);
  c->proto_data = NULL;
}
