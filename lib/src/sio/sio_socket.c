/* Socket.IO sockets: one per (client, namespace). Events in, events out,
 * acknowledgements both ways, disconnection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio/sio_internal.h"
#include "util/id.h"
#include "util/log.h"

static const char *const reserved_events[] = {"connect",       "connect_error", "disconnect",
                                              "disconnecting", "newListener",   "removeListener"};

int sio__reserved_event(const char *event) {
  for (size_t i = 0; i < sizeof reserved_events / sizeof *reserved_events; i++)
    if (strcmp(event, reserved_events[i]) == 0) return 1;
  return 0;
}

json_t *sio__event_array(const char *event, json_t *args) {
  json_t *a = json_array();
  if (!a) {
    json_decref(args);
    return NULL;
  }
  json_array_append_new(a, json_string(event));
  if (json_is_array(args)) json_array_extend(a, args);
  else if (args) json_array_append(a, args); /* a lone value is one argument */
  json_decref(args);
  return a;
}

sio_socket_t *sio__socket_new(sio_namespace_t *nsp, sio__client *c, json_t *auth) {
  sio_socket_t *s = calloc(1, sizeof *s);
  if (!s) {
    json_decref(auth);
    return NULL;
  }
  s->id = s->id_buf;
  sio__id_generate(s->id_buf);
  s->node.key = s->id;
  s->node.klen = 20;
  s->nsp = nsp;
  s->client = c;
  s->auth = auth;
  s->issued_ms = sio__wall_ms();
  return s;
}

void sio__socket_free(sio_socket_t *s) {
  if (s->id != s->id_buf) free(s->id);
  json_decref(s->auth);
  json_decref(s->jdata);
  json_decref(s->refuse_data);
  free(s->refuse_message);
  free(s);
}


/* ---- acknowledgements -------------------------------------------------------------- */

static void pending_ack_timer_closed(uv_handle_t *h) { free(h); }

static void pending_ack_free(sio__pending_ack *a) {
  if (a->timer) {
    uv_timer_stop(a->timer);
    uv_close((uv_handle_t *)a->timer, pending_ack_timer_closed);
  }
  free(a);
}

static sio__pending_ack *pending_ack_take(sio_socket_t *s, int64_t id) {
  for (sio__pending_ack **p = &s->acks; *p; p = &(*p)->next) {
    if ((*p)->id != id) continue;
    sio__pending_ack *a = *p;
    *p = a->next;
    return a;
  }
  return NULL;
}

static void pending_ack_timeout(uv_timer_t *t) {
  sio__pending_ack *a = t->data;
  sio_socket_t *s = a->sock;
  pending_ack_take(s, a->id);
  s->busy++;
  a->cb(s, NULL, a->data);
  s->busy--;
  pending_ack_free(a);
  sio__socket_release(s);
}

/* Unlinks a kept ack from its socket and frees it. */
static void ack_release(sio_ack_t *ack) {
  if (ack->kept && ack->sock)
    for (sio_ack_t **p = &ack->sock->kept; *p; p = &(*p)->next)
      if (*p == ack) {
        *p = ack->next;
        break;
      }
  free(ack);
}

int sio_ack(sio_ack_t *ack, json_t *args) {
  if (!ack || ack->done) {
    json_decref(args);
    return EIO_EINVAL;
  }
  ack->done = 1;
  int r = EIO_ECLOSED;
  if (ack->sock && ack->sock->connected) {
    json_t *a = json_is_array(args) ? json_incref(args) : json_array();
    if (args && !json_is_array(args)) json_array_append(a, args);
    r = sio__socket_packet(ack->sock, SIO__PKT_ACK, ack->id, a);
    json_decref(a);
    if (r == 0) ack->sock->nsp->stats.acks_out++;
  }
  json_decref(args);
  /* Inside the handler, socket_onevent frees it on return. */
  if (ack->kept && !ack->in_handler) ack_release(ack);
  return r;
}

void sio_ack_keep(sio_ack_t *ack) {
  if (!ack || ack->kept || ack->done) return;
  ack->kept = 1;
  if (ack->sock) {
    ack->next = ack->sock->kept;
    ack->sock->kept = ack;
  }
}

/* ---- incoming -------------------------------------------------------------------------- */

static void socket_onevent(sio_socket_t *s, sio__packet *p) {
  json_t *data = p->data;
  json_t *ev = json_array_get(data, 0);
  char num[32];
  const char *event;
  if (json_is_string(ev)) {
    event = json_string_value(ev);
  } else {
    /* Numeric event names are allowed by the protocol. */
    if (json_is_integer(ev)) snprintf(num, sizeof num, "%lld", (long long)json_integer_value(ev));
    else snprintf(num, sizeof num, "%.17g", json_number_value(ev));
    event = num;
  }
  sio_namespace_t *nsp = s->nsp, *parent = nsp->parent;
  /* A namespace made from a pattern (sio_of_match) also takes its parent's handlers. */
  sio__handler *h = sio__find_handler(nsp, event);
  if (!h && parent) h = sio__find_handler(parent, event);
  sio_event_cb any = nsp->on_any ? nsp->on_any : parent ? parent->on_any : NULL;
  void *any_data = nsp->on_any ? nsp->on_any_data : parent ? parent->on_any_data : NULL;
  if (!h && !any && !nsp->npacket_mws && !(parent && parent->npacket_mws))
    return; /* no listener: dropped, as an unhandled event in socket.io */
  json_t *args = json_array();
  for (size_t i = 1; i < json_array_size(data); i++) json_array_append(args, json_array_get(data, i));
  sio_ack_t *ack = NULL;
  if (p->id >= 0) {
    ack = calloc(1, sizeof *ack);
    if (ack) {
      ack->sock = s;
      ack->id = p->id;
      ack->in_handler = 1;
    }
  }
  s->busy++;
  /* As socket.io: onAny listeners hear every event first, then the packet
   * middlewares (socket.use, the parent's first) run, one refusing drops
   * the event, then its listener. */
  if (any) any(s, event, args, ack, any_data);
  int refused = 0;
  for (int pass = 0; pass < 2 && !refused; pass++) {
    sio_namespace_t *m = pass == 0 ? parent : nsp;
    for (size_t i = 0; m && i < m->npacket_mws && !refused; i++)
      refused = m->packet_mws[i].cb(s, event, args, m->packet_mws[i].data) != 0 || !s->connected;
  }
  if (h && !refused && s->connected) h->cb(s, event, args, ack, h->data);
  s->busy--;
  json_decref(args);
  if (ack) {
    ack->in_handler = 0;
    if (!ack->kept || ack->done) ack_release(ack); /* answered, or dropped unanswered */
  }
  sio__socket_release(s);
}

static void socket_onack(sio_socket_t *s, sio__packet *p) {
  sio__pending_ack *a = pending_ack_take(s, p->id);
  if (!a) return; /* unknown or already answered: ignored */
  s->busy++;
  a->cb(s, p->data, a->data);
  s->busy--;
  pending_ack_free(a);
  sio__socket_release(s);
}

void sio__socket_onpacket(sio_socket_t *s, sio__packet *p) {
  switch (p->type) {
  case SIO__PKT_EVENT:
  case SIO__PKT_BINARY_EVENT:
    s->nsp->stats.events_in++;
    socket_onevent(s, p);
    break;
  case SIO__PKT_ACK:
  case SIO__PKT_BINARY_ACK:
    s->nsp->stats.acks_in++;
    socket_onack(s, p);
    break;
  case SIO__PKT_DISCONNECT:
    sio__socket_onclose(s, "client namespace disconnect");
    break;
  default:
    break;
  }
}

/* ---- disconnection ------------------------------------------------------------------------ */

void sio__socket_onclose(sio_socket_t *s, const char *reason) {
  if (!s->connected) return;
  s->connected = 0;
  sio_namespace_t *nsp = s->nsp;
  nsp->stats.disconnects++;
  sio__rec_persist(s, reason); /* before the rooms are left */
  sio__rooms_leave_all(s);
  sio__hmap_del(&nsp->sockets, &s->node);
  sio__client *c = s->client;
  for (sio_socket_t **p = &c->sockets; *p; p = &(*p)->client_next)
    if (*p == s) {
      *p = s->client_next;
      break;
    }
  s->client = NULL;
  /* Kept acks outlive the socket (the app still owns them). */
  for (sio_ack_t *a = s->kept; a; a = a->next) a->sock = NULL;
  s->kept = NULL;
  s->busy++;
  sio_namespace_t *hn = !nsp->on_disconnect && nsp->parent ? nsp->parent : nsp;
  if (hn->on_disconnect) hn->on_disconnect(s, reason, hn->on_disconnect_data);
  /* Acks still awaited will never come: their callbacks hear NULL. */
  while (s->acks) {
    sio__pending_ack *a = s->acks;
    s->acks = a->next;
    a->cb(s, NULL, a->data);
    pending_ack_free(a);
  }
  s->busy--;
  s->dead = 1;
  sio__socket_release(s);
}

void sio_socket_disconnect(sio_socket_t *s, int close_connection) {
  if (!s->connected) return;
  if (close_connection) {
    /* As socket.io: every namespace of the client gets its DISCONNECT
     * (queued before the close, so the client does not reconnect), then
     * the Engine.IO connection closes. */
    sio__client *c = s->client;
    while (c->sockets) sio_socket_disconnect(c->sockets, 0);
    eio_socket_close(c->eio);
    return;
  }
  sio__socket_packet(s, SIO__PKT_DISCONNECT, -1, NULL);
  sio__socket_onclose(s, "server namespace disconnect");
}

/* ---- emitting ---------------------------------------------------------------------------- */

static int emit(sio_socket_t *s, const char *event, json_t *args, int64_t id, unsigned flags) {
  if (!event || sio__reserved_event(event)) {
    SIO_LOGE("sio: emitting the reserved event name \"%s\" is not allowed", event ? event : "(null)");
    json_decref(args);
    return EIO_EINVAL;
  }
  if (!s->connected) {
    json_decref(args);
    return EIO_ECLOSED;
  }
  json_t *data = sio__event_array(event, args);
  if (!data) return EIO_ENOMEM;
  int r;
  if (id < 0 && (s->nsp->rec || flags)) {
    /* As socket.io: with recovery on, socket.emit is a broadcast to the
     * socket's own room, so that it gets an offset and is kept. */
    const char *room[1] = {s->id};
    r = sio__send_event(s->nsp, data, room, 1, NULL, 0, flags);
    r = r < 0 ? r : 0;
  } else {
    r = sio__socket_packet(s, SIO__PKT_EVENT, id, data);
    if (r == 0) s->nsp->stats.events_out++;
    if (r == 0) sio__tell_outgoing(s->nsp, &s, 1, data);
  }
  json_decref(data);
  return r;
}

int sio_emit(sio_socket_t *s, const char *event, json_t *args) { return emit(s, event, args, -1, 0); }
int sio_emit_volatile(sio_socket_t *s, const char *event, json_t *args) {
  return emit(s, event, args, -1, SIO_BC_VOLATILE);
}
int sio_emit_flags(sio_socket_t *s, const char *event, json_t *args, unsigned flags) {
  return emit(s, event, args, -1, flags & (SIO_BC_VOLATILE | SIO_BC_NO_COMPRESS));
}
int sio_socket_recovered(const sio_socket_t *s) { return s->recovered; }

int sio__socket_expect_ack(sio_socket_t *s, int64_t id, uint32_t timeout_ms, sio_ack_cb cb, void *data) {
  sio__pending_ack *a = calloc(1, sizeof *a);
  if (!a) return EIO_ENOMEM;
  a->id = id;
  a->cb = cb;
  a->data = data;
  a->sock = s;
  if (timeout_ms) {
    /* Rare compared to plain emits, so a timer each is acceptable here. */
    a->timer = malloc(sizeof *a->timer);
    if (a->timer) {
      uv_timer_init(s->client->eio->srv->http.net.loop, a->timer);
      a->timer->data = a;
      uv_timer_start(a->timer, pending_ack_timeout, timeout_ms, 0);
    }
  }
  a->next = s->acks;
  s->acks = a;
  return 0;
}

int sio_emit_with_ack(sio_socket_t *s, const char *event, json_t *args, uint32_t timeout_ms,
                      sio_ack_cb cb, void *data) {
  if (!cb) return emit(s, event, args, -1, 0);
  if (!s->connected) {
    json_decref(args);
    return EIO_ECLOSED;
  }
  int64_t id = s->nsp->next_ack_id++;
  int r = emit(s, event, args, id, 0);
  return r != 0 ? r : sio__socket_expect_ack(s, id, timeout_ms, cb, data);
}

/* ---- accessors ------------------------------------------------------------------------------ */

const char *sio_socket_id(const sio_socket_t *s) { return s->id; }
sio_namespace_t *sio_socket_namespace(const sio_socket_t *s) { return s->nsp; }
int sio_socket_connected(const sio_socket_t *s) { return s->connected; }
json_t *sio_socket_auth(const sio_socket_t *s) { return s->auth; }
void sio_socket_set_data(sio_socket_t *s, void *data) { s->data = data; }
void sio_socket_set_json(sio_socket_t *s, json_t *data) {
  json_decref(s->jdata);
  s->jdata = data;
}
json_t *sio_socket_json(const sio_socket_t *s) { return s->jdata; }
void *sio_socket_get_data(const sio_socket_t *s) { return s->data; }

eio_transport_t sio_socket_transport(const sio_socket_t *s) {
  return s->client ? eio_socket_transport(s->client->eio) : EIO_TRANSPORT_POLLING;
}
const char *sio_socket_query(const sio_socket_t *s) {
  return s->client ? eio_socket_query(s->client->eio) : "";
}
const char *sio_socket_header(const sio_socket_t *s, const char *name) {
  return s->client ? eio_socket_header(s->client->eio, name) : NULL;
}
const char *sio_socket_address(const sio_socket_t *s) {
  return s->client ? eio_socket_address(s->client->eio) : "";
}

void sio_socket_refuse(sio_socket_t *s, const char *message, json_t *data) {
  free(s->refuse_message);
  s->refuse_message = message ? strdup(message) : NULL;
  json_decref(s->refuse_data);
  s->refuse_data = data;
}
