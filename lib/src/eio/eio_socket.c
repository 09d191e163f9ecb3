/* Engine.IO sessions: one per sid, on HTTP long-polling or WebSocket.
 *
 * Outgoing packets are refcounted rbufs with WebSocket headroom (see
 * util/rbuf.h). On WebSocket they go straight to the connection's write
 * queue; on polling they wait in s->q until a GET takes them all at once.
 * Heartbeat, upgrade and close timeouts are deadline-queue nodes.
 *
 * Engine.IO v3 sessions (allow_eio3) differ only at the edges: their polling
 * payloads are built by poll_segs_v3, binary messages on their WebSocket by
 * ws_send_wrapped, what they send is decoded by the codec's sio__eio3_*, and
 * the client pings (q_ping_v3). The application sees the same messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eio/eio_internal.h"
#include "util/base64.h"
#include "util/id.h"
#include "util/log.h"
#include "ws/ws_conn.h"

/* Constant packets, shared by every session and never freed. Their
 * WebSocket header is built in place the first time one is framed. */
#define STATIC_PKT(name, text)                                                         \
  static struct {                                                                      \
    sio__rbuf rb;                                                                      \
    char bytes[SIO__RBUF_HEADROOM + sizeof(text) - 1];                                 \
  } name = {{SIO__RBUF_STATIC, SIO__RBUF_HEADROOM + sizeof(text) - 1, 0, 0, 0, 0, {0}}, {0}}; \
  static void name##_init(void) { memcpy(name.bytes + SIO__RBUF_HEADROOM, text, sizeof(text) - 1); }

STATIC_PKT(pkt_ping, "2")
STATIC_PKT(pkt_noop, "6")
STATIC_PKT(pkt_close, "1")
STATIC_PKT(pkt_pong_probe, "3probe")
STATIC_PKT(pkt_pong, "3") /* v3: the answer to the client's ping */

static void static_packets_init(void) {
  static int done;
  if (done) return;
  done = 1;
  pkt_ping_init();
  pkt_noop_init();
  pkt_close_init();
  pkt_pong_probe_init();
  pkt_pong_init();
}

static struct {
  sio__rbuf rb;
  char bytes[1];
} separator_buf = {{SIO__RBUF_STATIC, 1, 0, 0, 0, 0, {0}}, {SIO__EIO_SEPARATOR}};
#define separator (separator_buf.rb)

sio__rbuf *sio__eio_packet_new(int type, const void *data, size_t len, int binary) {
  sio__rbuf *rb = sio__rbuf_new(SIO__RBUF_HEADROOM + 1 + len);
  if (!rb) return NULL;
  char *p = rb->data + SIO__RBUF_HEADROOM;
  if (!binary) *p++ = (char)('0' + type);
  if (len) memcpy(p, data, len);
  rb->binary = (uint8_t)binary;
  rb->len = (uint32_t)(p + len - rb->data);
  return rb;
}

/* ---- life cycle -------------------------------------------------------------- */

static void socket_free(eio_socket_t *s) {
  for (uint32_t i = 0; i < s->qlen; i++) sio__rbuf_unref(s->q[i]);
  free(s->q);
  free(s->hs);
  free(s);
}

/* Frees a closed socket unless a user callback for it is still running. */
static void socket_release(eio_socket_t *s) {
  if (s->dead && !s->busy) socket_free(s);
}

static void hs_append(char **buf, uint32_t *len, uint32_t *cap, const char *p, size_t n) {
  if (*len + n + 1 > *cap) {
    uint32_t ncap = *cap ? *cap : 256;
    while (ncap < *len + n + 1) ncap *= 2;
    char *nb = realloc(*buf, ncap);
    if (!nb) return;
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, p, n);
  (*buf)[*len + n] = 0;
  *len += (uint32_t)n + 1;
}

eio_socket_t *sio__eio_socket_new(eio_server_t *srv, const sio__http_req *req, sio__conn *c,
                                  eio_transport_t transport) {
  static_packets_init();
  eio_socket_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->srv = srv;
  s->transport = (uint8_t)transport;
  s->protocol = 4; /* the server sets 3 for an EIO=3 handshake, before the open */
  sio__id_generate(s->sid);
  s->node.key = s->sid;
  s->node.klen = 20;
  /* Keep what the application may ask about the handshake. */
  const char *path, *query;
  size_t plen, qlen;
  sio__http_req_path_query(req, &path, &plen, &query, &qlen);
  uint32_t cap = 0;
  hs_append(&s->hs, &s->hs_len, &cap, query, qlen);
  char peer[64];
  sio__conn_peer(c, peer, sizeof peer);
  hs_append(&s->hs, &s->hs_len, &cap, peer, strlen(peer));
  for (uint32_t i = 0; i < req->nheaders; i++) {
    const sio__http_header *h = &req->headers[i];
    hs_append(&s->hs, &s->hs_len, &cap, req->arena + h->name_off, h->name_len);
    hs_append(&s->hs, &s->hs_len, &cap, req->arena + h->value_off, h->value_len);
    s->hs_nheaders++;
  }
  if (!s->hs || sio__hmap_put(&srv->sessions, &s->node) != 0) {
    free(s->hs);
    free(s);
    return NULL;
  }
  srv->nclients++;
  if (transport == EIO_TRANSPORT_WEBSOCKET) {
    srv->stats.handshakes_ws++;
    srv->stats.sessions_ws++;
  } else {
    srv->stats.handshakes_polling++;
  }
  return s;
}

static void socket_abort_upgrade(eio_socket_t *s);
static void socket_finish(eio_socket_t *s, eio_close_reason_t reason);

/* A close deferred while an upgrade was in flight (see
 * sio__eio_socket_close_graceful) happens when it ends. */
static void close_if_pending(eio_socket_t *s) {
  if (!s->close_pending || s->state != EIO_STATE_OPEN || s->upgrading) return;
  eio_close_reason_t reason = (eio_close_reason_t)(s->close_pending - 1);
  s->close_pending = 0;
  sio__eio_socket_close_graceful(s, reason);
}

/* ---- sending ------------------------------------------------------------------ */

/* The Engine.IO v3 payload of the queued packets (PROTOCOL.md 2): each
 * packet behind its length head. The heads, and in the text form the
 * "b4" + base64 of binaries, go into one scratch buffer per response; the
 * packets' own bytes are sent from their shared buffers. The binary form
 * (application/octet-stream, *octets = 1) when a binary is queued and the
 * client takes binary (no b64 in its handshake), as the reference. Fills
 * segs (at most 2 per packet) and returns their count; 0 on OOM. */
static size_t poll_segs_v3(eio_socket_t *s, sio__wseg *segs, int *octets) {
  int bin = 0;
  for (uint32_t i = 0; i < s->qlen && !s->poll_b64; i++) bin |= s->q[i]->binary;
  size_t cap = 0;
  for (uint32_t i = 0; i < s->qlen; i++) {
    size_t len = s->q[i]->len - SIO__RBUF_HEADROOM;
    cap += SIO__EIO3_HEAD_MAX + (s->q[i]->binary && !bin ? 2 + sio__base64_encoded_len(len) : 0);
  }
  sio__rbuf *scratch = sio__rbuf_new(cap);
  if (!scratch) return 0;
  scratch->temp = 1; /* a temporary: each segment's reference is dropped once queued */
  uint8_t *out = (uint8_t *)scratch->data;
  size_t n = 0, off = 0;
  for (uint32_t i = 0; i < s->qlen; i++) {
    sio__rbuf *p = s->q[i];
    size_t len = p->len - SIO__RBUF_HEADROOM;
    uint8_t *bytes = (uint8_t *)p->data + SIO__RBUF_HEADROOM;
    sio__eio_packet pk = {SIO__EIO_MESSAGE, 1, bytes, len};
    if (!p->binary) pk = (sio__eio_packet){bytes[0] - '0', 0, bytes + 1, len - 1};
    int inline_b64 = pk.binary && !bin; /* the whole record is in the scratch */
    size_t h = inline_b64 ? sio__eio3_record_write(out + off, &pk, 0) : sio__eio3_record_head(out + off, &pk, bin);
    segs[n++] = (sio__wseg){sio__rbuf_ref(scratch), (uint32_t)off, (uint32_t)h};
    off += h;
    if (!inline_b64) segs[n++] = (sio__wseg){p, SIO__RBUF_HEADROOM, (uint32_t)len};
  }
  scratch->len = (uint32_t)off;
  sio__rbuf_unref(scratch); /* the segments hold it now */
  *octets = bin;
  return n;
}

/* Answers the pending GET with every queued packet, joined by 0x1E (v3:
 * see poll_segs_v3). */
static void socket_flush_poll(eio_socket_t *s) {
  if (!s->get || !s->qlen) return;
  sio__wseg stack[64], *segs = stack;
  size_t nsegs = 0, need = s->qlen * 2;
  if (need > 64 && !(segs = malloc(need * sizeof *segs))) {
    sio__eio_socket_close(s, EIO_CLOSE_TRANSPORT_ERROR);
    return;
  }
  int octets = 0;
  if (s->protocol == 3) {
    if (!(nsegs = poll_segs_v3(s, segs, &octets))) {
      if (segs != stack) free(segs);
      sio__eio_socket_close(s, EIO_CLOSE_TRANSPORT_ERROR);
      return;
    }
  } else {
    for (uint32_t i = 0; i < s->qlen; i++) {
      sio__rbuf *p = s->q[i];
      if (i) segs[nsegs++] = (sio__wseg){&separator, 0, 1};
      size_t len = p->len - SIO__RBUF_HEADROOM;
      if (!p->binary) {
        segs[nsegs++] = (sio__wseg){p, SIO__RBUF_HEADROOM, (uint32_t)len};
        continue;
      }
      /* Polling is text: binary goes as 'b' + base64, encoded per response. */
      sio__eio_packet pk = {SIO__EIO_MESSAGE, 1, (uint8_t *)p->data + SIO__RBUF_HEADROOM, len};
      sio__rbuf *b = sio__rbuf_new(sio__eio_polling_record_len(&pk));
      if (!b) continue;
      b->len = (uint32_t)sio__eio_polling_record_write(b->data, &pk);
      b->temp = 1; /* a temporary: our reference is dropped after the write is queued */
      segs[nsegs++] = (sio__wseg){b, 0, b->len};
    }
  }
  char headers[1400];
  char cors[1024];
  cors[0] = 0;
  sio__http_req *req = &sio__http_conn_of(s->get)->parser.req;
  sio__eio_cors_headers(s->srv, req, cors, sizeof cors);
  snprintf(headers, sizeof headers, "Content-Type: %s\r\ncache-control: no-store\r\n%s",
           octets ? "application/octet-stream" : "text/plain; charset=UTF-8", cors);
  /* As engine.io: the body is compressed unless every packet in it was
   * sent with compress(false). */
  int compress = 0;
  for (uint32_t i = 0; i < s->qlen && !compress; i++) compress = !s->q[i]->nocompress;
  sio__conn *get = s->get;
  s->get = NULL;
  if (compress) sio__http_respond_segs_compressed(get, 200, headers, segs, nsegs);
  else sio__http_respond_segs(get, 200, headers, segs, nsegs);
  for (size_t i = 0; i < nsegs; i++)
    if (segs[i].rb->temp) sio__rbuf_unref(segs[i].rb);
  for (uint32_t i = 0; i < s->qlen; i++) sio__rbuf_unref(s->q[i]);
  free(s->q);
  s->q = NULL;
  s->qlen = s->qcap = 0;
  s->qbytes = 0;
  if (segs != stack) free(segs);
}

static int socket_queue(eio_socket_t *s, sio__rbuf *rb) {
  size_t len = rb->len - SIO__RBUF_HEADROOM;
  if (rb->binary) len = len / 3 * 4 + 8; /* base64 on the wire */
  if (s->qbytes + len > s->srv->opts.max_send_queue) return EIO_EFULL;
  if (s->qlen == s->qcap) {
    uint32_t ncap = s->qcap ? s->qcap * 2 : 4;
    sio__rbuf **n = realloc(s->q, ncap * sizeof *n);
    if (!n) return EIO_ENOMEM;
    s->q = n;
    s->qcap = ncap;
  }
  s->q[s->qlen++] = sio__rbuf_ref(rb);
  s->qbytes += len;
  s->srv->stats.packets_out++;
  return 0;
}

/* A client that does not poll while packets pile up: the session fails, on
 * the next loop turn (the caller may be walking a broadcast's recipients). */
static void socket_fail_full(eio_socket_t *s) {
  SIO_LOGW("eio: session %s (%s): dropping it: over %zu bytes queued for a client not polling",
           s->sid, eio_socket_address(s), s->srv->opts.max_send_queue);
  s->state = EIO_STATE_CLOSING;
  socket_abort_upgrade(s);
  sio__tq_cancel(&s->tick);
  sio__tq_arm(&s->srv->q_fail, &s->hb);
}

void sio__eio_fail_deferred(sio__tq *q, sio__tq_node *n) {
  socket_finish(sio__container_of(n, eio_socket_t, hb), EIO_CLOSE_TRANSPORT_ERROR);
}

/* How binary messages leave on a session's WebSocket (s->ws_wrap). */
enum { WS_WRAP_NONE = 0, WS_WRAP_TYPE, WS_WRAP_B64 };

/* A binary message for a WebSocket client that wants it re-framed: a copy
 * per recipient, [headroom][0x04][data] (v3), or the text frame "b4" (v3) /
 * "b" (v4) + base64 for a client that asked for b64. Only such clients pay
 * for it: the others queue the shared frame. */
static int ws_send_wrapped(eio_socket_t *s, sio__conn *ws, const sio__rbuf *rb) {
  const uint8_t *data = (const uint8_t *)rb->data + SIO__RBUF_HEADROOM;
  size_t len = rb->len - SIO__RBUF_HEADROOM;
  size_t prefix = s->ws_wrap == WS_WRAP_TYPE ? 1 : s->protocol == 3 ? 2 : 1;
  size_t n = prefix + (s->ws_wrap == WS_WRAP_TYPE ? len : sio__base64_encoded_len(len));
  sio__rbuf *w = sio__rbuf_new(SIO__RBUF_HEADROOM + n);
  if (!w) return -1;
  char *p = w->data + SIO__RBUF_HEADROOM;
  if (s->ws_wrap == WS_WRAP_TYPE) {
    p[0] = SIO__EIO_MESSAGE;
    if (len) memcpy(p + 1, data, len);
    w->binary = 1;
  } else {
    p[0] = 'b';
    if (prefix == 2) p[1] = '0' + SIO__EIO_MESSAGE;
    sio__base64_encode(p + prefix, data, len);
  }
  w->len = (uint32_t)(SIO__RBUF_HEADROOM + n);
  int r = sio__ws_send_packet(ws, w);
  sio__rbuf_unref(w);
  return r;
}

static inline int ws_send(eio_socket_t *s, sio__conn *ws, sio__rbuf *rb) {
  if (s->ws_wrap && rb->binary) return ws_send_wrapped(s, ws, rb);
  return sio__ws_send_packet(ws, rb);
}

/* Sends one packet on the current transport. */
static inline int socket_send_packet(eio_socket_t *s, sio__rbuf *rb) {
  if (s->transport == EIO_TRANSPORT_WEBSOCKET && s->ws) {
    if (ws_send(s, s->ws, rb) != 0) return EIO_ECLOSED;
    s->srv->stats.packets_out++;
    return 0;
  }
  int r = socket_queue(s, rb);
  if (r == 0) socket_flush_poll(s);
  else if (r == EIO_EFULL) socket_fail_full(s);
  return r;
}

int sio__eio_send_packet(eio_socket_t *s, sio__rbuf *rb) {
  if (s->state != EIO_STATE_OPEN) return EIO_ECLOSED;
  int r = socket_send_packet(s, rb);
  if (r == 0) s->srv->stats.messages_out++;
  return r;
}

void sio__eio_flush_alone(eio_socket_t *s) {
  if (s->transport == EIO_TRANSPORT_WEBSOCKET && s->ws) sio__conn_flush_alone(s->ws);
}

int eio_socket_send(eio_socket_t *s, const void *msg, size_t len, int binary) {
  if (s->state != EIO_STATE_OPEN) return EIO_ECLOSED;
  if (len > s->srv->opts.max_payload) return EIO_ETOOBIG;
  sio__rbuf *rb = sio__eio_packet_new(SIO__EIO_MESSAGE, msg, len, binary);
  if (!rb) return EIO_ENOMEM;
  int r = socket_send_packet(s, rb);
  sio__rbuf_unref(rb);
  if (r == 0) s->srv->stats.messages_out++;
  return r;
}

/* ---- closing ------------------------------------------------------------------- */

static void socket_abort_upgrade(eio_socket_t *s) {
  if (!s->upgrading) return;
  s->upgrading = s->probed = 0;
  sio__tq_cancel(&s->tick);
  if (s->probe) {
    sio__conn *p = s->probe;
    s->probe = NULL;
    sio__ws_close(p, 0, NULL);
  }
  close_if_pending(s);
}

/* Ends the session now: detach transports, forget the sid, tell the app. */
static void socket_finish(eio_socket_t *s, eio_close_reason_t reason) {
  if (s->state == EIO_STATE_CLOSED) return;
  eio_server_t *srv = s->srv;
  s->state = EIO_STATE_CLOSED;
  sio__tq_cancel(&s->hb);
  sio__tq_cancel(&s->tick);
  socket_abort_upgrade(s);
  sio__hmap_del(&srv->sessions, &s->node);
  srv->nclients--;
  if (s->transport == EIO_TRANSPORT_WEBSOCKET) srv->stats.sessions_ws--;
  srv->stats.closes[reason]++;
  if (s->get) {
    /* A client-initiated close ends the poll with a noop, anything else
     * with a close packet (PROTOCOL.md 1.9). */
    sio__conn *get = s->get;
    s->get = NULL;
    for (uint32_t i = 0; i < s->qlen; i++) sio__rbuf_unref(s->q[i]);
    s->qlen = 0;
    socket_queue(s, reason == EIO_CLOSE_TRANSPORT_CLOSE ? &pkt_noop.rb : &pkt_close.rb);
    s->get = get;
    socket_flush_poll(s);
  }
  if (s->post) {
    sio__http_conn *hc = sio__http_conn_of(s->post);
    if (hc && hc->owner == s) hc->owner = NULL;
    s->post = NULL;
  }
  if (s->ws) {
    sio__conn *ws = s->ws;
    s->ws = NULL;
    sio__ws_close(ws, 0, NULL);
  }
  SIO_LOGD("eio: session %s closed (%s)", s->sid, eio_close_reason_str(reason));
  s->busy++;
  if (srv->opts.callbacks.on_close) srv->opts.callbacks.on_close(s, reason, srv->opts.data);
  s->busy--;
  s->dead = 1;
  socket_release(s);
}

void sio__eio_socket_close(eio_socket_t *s, eio_close_reason_t reason) { socket_finish(s, reason); }

void eio_socket_close(eio_socket_t *s) { sio__eio_socket_close_graceful(s, EIO_CLOSE_FORCED); }

void sio__eio_socket_close_graceful(eio_socket_t *s, eio_close_reason_t reason) {
  if (s->state != EIO_STATE_OPEN) return;
  if (s->upgrading && s->probed) {
    /* The client has paused polling to switch: a close packet queued for a
     * poll would never be fetched. As the reference, close once the upgrade
     * ends, on whichever transport wins. */
    if (!s->close_pending) s->close_pending = (uint8_t)(1 + reason);
    return;
  }
  socket_abort_upgrade(s);
  if (s->transport == EIO_TRANSPORT_WEBSOCKET) {
    socket_finish(s, reason); /* queued frames go before the close frame */
    return;
  }
  /* Polling, as the reference: what is queued leaves first, and the close
   * packet only in a later poll. Clients hand decoded packets to the app
   * asynchronously but act on a close at once, so a close in the same body
   * would overtake the packets before it. */
  s->state = EIO_STATE_CLOSING;
  s->close_reason = (uint8_t)reason;
  sio__tq_cancel(&s->hb);
  if (s->get && !s->qlen) {
    socket_queue(s, &pkt_close.rb);
    socket_flush_poll(s);
    socket_finish(s, reason);
    return;
  }
  socket_flush_poll(s);
  /* Give up on the last poll after a while. */
  sio__tq_arm(reason == EIO_CLOSE_SERVER_SHUTDOWN ? &s->srv->q_drain : &s->srv->q_close, &s->tick);
}

void sio__eio_close_timeout(sio__tq *q, sio__tq_node *n) {
  eio_socket_t *s = sio__container_of(n, eio_socket_t, tick);
  socket_finish(s, (eio_close_reason_t)s->close_reason);
}

/* ---- receiving ----------------------------------------------------------------- */

/* One decoded packet from the client, on the session's transport. */
static void socket_on_packet(eio_socket_t *s, const sio__eio_packet *p) {
  if (s->state != EIO_STATE_OPEN) return;
  eio_server_t *srv = s->srv;
  srv->stats.packets_in++;
  /* As engine.io 6.6: any other packet while a pong is awaited shows the
   * client alive (its pong may just be queued behind its traffic), so the
   * ping timeout starts again, once per ping. */
  if (s->hb.q == &srv->q_ping_timeout && !s->hb_refreshed && p->type != SIO__EIO_PONG) {
    sio__tq_arm(&srv->q_ping_timeout, &s->hb);
    s->hb_refreshed = 1;
  }
  switch (p->type) {
  case SIO__EIO_PONG:
    if (s->protocol == 3) {
      /* v3 clients ping and never answer one: as the reference, an error. */
      SIO_LOGI("eio: session %s: pong from a v3 client (invalid heartbeat direction)", s->sid);
      socket_finish(s, EIO_CLOSE_TRANSPORT_ERROR);
      break;
    }
    sio__tq_arm(&srv->q_ping_interval, &s->hb);
    break;
  case SIO__EIO_PING:
    if (s->protocol == 3) {
      /* v3 heartbeat: the client pings, the server answers "3" (without
       * the ping's data, as the reference) and expects the next ping within
       * pingInterval + pingTimeout. */
      sio__tq_arm(&srv->q_ping_v3, &s->hb);
      socket_send_packet(s, &pkt_pong.rb);
      break;
    }
    /* v4 clients never ping; the reference treats it as a transport error. */
    SIO_LOGI("eio: session %s: ping from a v4 client (invalid heartbeat direction)", s->sid);
    socket_finish(s, EIO_CLOSE_TRANSPORT_ERROR);
    break;
  case SIO__EIO_CLOSE:
    socket_finish(s, EIO_CLOSE_TRANSPORT_CLOSE);
    break;
  case SIO__EIO_MESSAGE:
    srv->stats.messages_in++;
    if (srv->opts.callbacks.on_message) {
      s->busy++;
      srv->opts.callbacks.on_message(s, (const char *)p->data, p->len, p->binary, srv->opts.data);
      s->busy--;
    }
    break;
  default:
    break; /* open, upgrade and noop carry nothing here */
  }
}

static int socket_payload_cb(void *ud, const sio__eio_packet *p) {
  eio_socket_t *s = ud;
  socket_on_packet(s, p);
  return s->state == EIO_STATE_OPEN ? 0 : 1;
}

void sio__eio_socket_on_post(eio_socket_t *s, sio__conn *c, char *body, size_t len, int octets) {
  char cors[1024];
  cors[0] = 0;
  sio__eio_cors_headers(s->srv, &sio__http_conn_of(c)->parser.req, cors, sizeof cors);
  s->busy++;
  int r = s->protocol != 3 ? sio__eio_payload_decode((uint8_t *)body, len, socket_payload_cb, s)
          : octets        ? sio__eio3_binary_payload_decode((uint8_t *)body, len, socket_payload_cb, s)
                          : sio__eio3_payload_decode((uint8_t *)body, len, socket_payload_cb, s);
  if (r == -1 && s->state == EIO_STATE_OPEN) {
    SIO_LOGI("eio: session %s: undecodable polling payload", s->sid);
    socket_finish(s, EIO_CLOSE_PARSE_ERROR);
    sio__http_conn_of(c)->keep_alive = 0;
    s->busy--;
    sio__http_respond(c, 400, cors, NULL, 0);
    socket_release(s);
    return;
  }
  s->busy--;
  char headers[1400];
  snprintf(headers, sizeof headers, "Content-Type: text/html\r\ncache-control: no-store\r\n%s", cors);
  sio__http_respond(c, 200, headers, "ok", 2);
  socket_release(s);
}

int sio__eio_socket_on_get(eio_socket_t *s, sio__conn *c) {
  s->get = c;
  sio__http_conn_of(c)->owner = s;
  if (s->qlen) {
    socket_flush_poll(s);
    return SIO__HTTP_DONE;
  }
  if (s->state == EIO_STATE_CLOSING) {
    /* The queue has drained: now the close (PROTOCOL.md 1.9: "6\x1e1"). */
    socket_queue(s, &pkt_noop.rb);
    socket_queue(s, &pkt_close.rb);
    socket_flush_poll(s);
    socket_finish(s, (eio_close_reason_t)s->close_reason);
    return SIO__HTTP_DONE;
  }
  if (s->probed) {
    /* The client is moving to WebSocket: end this poll at once. */
    socket_queue(s, &pkt_noop.rb);
    socket_flush_poll(s);
    return SIO__HTTP_DONE;
  }
  return SIO__HTTP_ASYNC;
}

void sio__eio_socket_on_abort(eio_socket_t *s, sio__conn *c) {
  if (s->get == c) {
    s->get = NULL;
    if (s->state != EIO_STATE_CLOSED) {
      SIO_LOGD("eio: session %s: long-poll connection closed prematurely", s->sid);
      socket_finish(s, EIO_CLOSE_TRANSPORT_ERROR);
    }
  } else if (s->post == c) {
    s->post = NULL;
    if (s->state != EIO_STATE_CLOSED) socket_finish(s, EIO_CLOSE_TRANSPORT_ERROR);
  }
}

/* ---- WebSocket transport -------------------------------------------------------- */

/* One WebSocket message as a packet of the session's protocol revision. */
static int ws_decode(const eio_socket_t *s, uint8_t *data, size_t len, int binary, sio__eio_packet *p) {
  return s->protocol == 3 ? sio__eio3_decode_packet(data, len, binary, p)
                          : sio__eio_decode_packet(data, len, binary, p);
}

static void ws_session_message(void *ud, sio__conn *c, int binary, uint8_t *data, size_t len) {
  eio_socket_t *s = ud;
  sio__eio_packet p;
  if (ws_decode(s, data, len, binary, &p) != 0) {
    SIO_LOGI("eio: session %s: undecodable WebSocket packet", s->sid);
    socket_finish(s, EIO_CLOSE_PARSE_ERROR);
    return;
  }
  s->busy++;
  socket_on_packet(s, &p);
  s->busy--;
  socket_release(s);
}

static void ws_session_close(void *ud, sio__conn *c, unsigned code) {
  eio_socket_t *s = ud;
  if (s->ws != c) return;
  s->ws = NULL;
  int error = code == 1002 || code == 1007 || code == 1009 || code == 1011;
  socket_finish(s, error ? EIO_CLOSE_TRANSPORT_ERROR : EIO_CLOSE_TRANSPORT_CLOSE);
}

static const sio__ws_handler ws_session_handler = {ws_session_message, ws_session_close};

void sio__eio_socket_attach_ws(eio_socket_t *s, sio__conn *c, int b64) {
  s->ws = c;
  s->ws_wrap = b64 ? WS_WRAP_B64 : s->protocol == 3 ? WS_WRAP_TYPE : WS_WRAP_NONE;
  s->transport = EIO_TRANSPORT_WEBSOCKET;
  sio__ws_set_handler(c, &ws_session_handler, s);
}

/* ---- upgrade ---------------------------------------------------------------------- */

static void socket_complete_upgrade(eio_socket_t *s) {
  sio__conn *ws = s->probe;
  s->probe = NULL;
  s->upgrading = s->probed = 0;
  sio__tq_cancel(&s->tick);
  if (s->get) {
    socket_queue(s, &pkt_noop.rb);
    socket_flush_poll(s);
  }
  sio__eio_socket_attach_ws(s, ws, s->probe_b64);
  s->srv->stats.upgrades++;
  s->srv->stats.sessions_ws++;
  /* Whatever waited for a GET now leaves over the WebSocket, in order. */
  for (uint32_t i = 0; i < s->qlen; i++) {
    ws_send(s, ws, s->q[i]);
    sio__rbuf_unref(s->q[i]);
  }
  free(s->q);
  s->q = NULL;
  s->qlen = s->qcap = 0;
  SIO_LOGD("eio: session %s upgraded to websocket", s->sid);
  if (s->srv->opts.callbacks.on_upgrade) {
    s->busy++;
    s->srv->opts.callbacks.on_upgrade(s, s->srv->opts.data);
    s->busy--;
  }
  close_if_pending(s);
}

static void ws_probe_message(void *ud, sio__conn *c, int binary, uint8_t *data, size_t len) {
  eio_socket_t *s = ud;
  sio__eio_packet p;
  if (s->probe != c) return;
  if (ws_decode(s, data, len, binary, &p) == 0) {
    s->srv->stats.packets_in++;
    if (p.type == SIO__EIO_PING && p.len == 5 && memcmp(p.data, "probe", 5) == 0) {
      if (sio__ws_send_packet(c, &pkt_pong_probe.rb) == 0) s->srv->stats.packets_out++;
      s->probed = 1;
      if (s->get && !s->qlen) {
        socket_queue(s, &pkt_noop.rb);
        socket_flush_poll(s);
      }
      return;
    }
    if (p.type == SIO__EIO_UPGRADE && s->state == EIO_STATE_OPEN) {
      s->busy++;
      socket_complete_upgrade(s);
      s->busy--;
      socket_release(s);
      return;
    }
  }
  /* Anything else on the probe aborts the upgrade; polling goes on. */
  socket_abort_upgrade(s);
}

static void ws_probe_close(void *ud, sio__conn *c, unsigned code) {
  eio_socket_t *s = ud;
  if (s->probe != c) return;
  s->probe = NULL;
  socket_abort_upgrade(s);
}

static const sio__ws_handler ws_probe_handler = {ws_probe_message, ws_probe_close};

void sio__eio_socket_attach_probe(eio_socket_t *s, sio__conn *c, int b64) {
  s->probe = c;
  s->probe_b64 = (uint8_t)(b64 != 0);
  s->upgrading = 1;
  s->probed = 0;
  s->upgrade_started = uv_now(s->srv->http.net.loop);
  sio__ws_set_handler(c, &ws_probe_handler, s);
  sio__tq_arm(&s->srv->q_upgrade, &s->tick);
}

void sio__eio_tick(sio__tq *q, sio__tq_node *n) {
  eio_socket_t *s = sio__container_of(n, eio_socket_t, tick);
  if (!s->upgrading) return;
  if (uv_now(q->timer.loop) - s->upgrade_started >= s->srv->opts.upgrade_timeout_ms) {
    SIO_LOGD("eio: session %s: upgrade not completed in time", s->sid);
    socket_abort_upgrade(s);
    return;
  }
  if (s->probed && s->get && !s->qlen) {
    socket_queue(s, &pkt_noop.rb);
    socket_flush_poll(s);
  }
  sio__tq_arm(q, n);
}

/* ---- heartbeat ------------------------------------------------------------------- */

void sio__eio_socket_open(eio_socket_t *s) {
  eio_server_t *srv = s->srv;
  char open[256];
  int n = snprintf(open, sizeof open,
                   "{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%u,\"pingTimeout\":%u,"
                   "\"maxPayload\":%zu}",
                   s->sid,
                   s->transport == EIO_TRANSPORT_POLLING && srv->opts.allow_upgrades &&
                           (srv->opts.transports & EIO_TRANSPORT_WEBSOCKET)
                       ? "[\"websocket\"]"
                       : "[]",
                   srv->opts.ping_interval_ms, srv->opts.ping_timeout_ms, srv->opts.max_payload);
  sio__rbuf *rb = sio__eio_packet_new(SIO__EIO_OPEN, open, (size_t)n, 0);
  if (rb) {
    socket_send_packet(s, rb);
    sio__rbuf_unref(rb);
  }
  /* v4: the server pings; v3: the client does (see socket_on_packet). */
  sio__tq_arm(s->protocol == 3 ? &srv->q_ping_v3 : &srv->q_ping_interval, &s->hb);
  if (srv->opts.callbacks.on_open) {
    s->busy++;
    srv->opts.callbacks.on_open(s, srv->opts.data);
    s->busy--;
    socket_release(s);
  }
}

void sio__eio_ping_interval(sio__tq *q, sio__tq_node *n) {
  eio_socket_t *s = sio__container_of(n, eio_socket_t, hb);
  sio__tq_arm(&s->srv->q_ping_timeout, &s->hb);
  s->hb_refreshed = 0;
  socket_send_packet(s, &pkt_ping.rb);
}

void sio__eio_ping_timeout(sio__tq *q, sio__tq_node *n) {
  eio_socket_t *s = sio__container_of(n, eio_socket_t, hb);
  SIO_LOGD("eio: session %s: ping timeout", s->sid);
  socket_finish(s, EIO_CLOSE_PING_TIMEOUT);
}

/* ---- accessors -------------------------------------------------------------------- */

const char *eio_socket_id(const eio_socket_t *s) { return s->sid; }
eio_transport_t eio_socket_transport(const eio_socket_t *s) { return (eio_transport_t)s->transport; }
int eio_socket_protocol(const eio_socket_t *s) { return s->protocol; }
int eio_socket_is_open(const eio_socket_t *s) { return s->state == EIO_STATE_OPEN; }
void eio_socket_set_data(eio_socket_t *s, void *data) { s->data = data; }
void *eio_socket_get_data(const eio_socket_t *s) { return s->data; }
eio_server_t *eio_socket_server(const eio_socket_t *s) { return s->srv; }
const char *eio_socket_query(const eio_socket_t *s) { return s->hs; }
const char *eio_socket_address(const eio_socket_t *s) { return s->hs + strlen(s->hs) + 1; }

void eio_socket_foreach_header(const eio_socket_t *s,
                               void (*fn)(const char *name, const char *value, void *arg), void *arg) {
  const char *p = eio_socket_address(s);
  p += strlen(p) + 1;
  for (uint16_t i = 0; i < s->hs_nheaders; i++) {
    const char *name = p;
    const char *value = name + strlen(name) + 1;
    fn(name, value, arg);
    p = value + strlen(value) + 1;
  }
}

const char *eio_socket_header(const eio_socket_t *s, const char *want) {
  const char *p = eio_socket_address(s), *found = NULL;
  p += strlen(p) + 1;
  for (uint16_t i = 0; i < s->hs_nheaders; i++) {
    const char *name = p;
    const char *value = name + strlen(name) + 1;
    if (strcasecmp(name, want) == 0) found = value;
    p = value + strlen(value) + 1;
  }
  return found;
}
