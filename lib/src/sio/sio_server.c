/* Socket.IO server: namespaces, and one client per Engine.IO session that
 * decodes packets (reassembling binary attachments) and routes them to the
 * socket of their namespace (PROTOCOL.md 4.3, 4.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio/sio_internal.h"
#include "util/id.h"
#include "util/log.h"
#include "util/query.h"

void sio_options_init(sio_options_t *o) {
  memset(o, 0, sizeof *o);
  eio_options_init(&o->eio);
  o->eio.path = "/socket.io/";
  o->connect_timeout_ms = 45000;
  o->recovery_max_disconnection_ms = 120000;
  o->recovery_skip_middlewares = 1;
  o->recovery_max_bytes = 64u << 20;
}

/* ---- sending ----------------------------------------------------------------- */

void sio__client_send(sio__client *c, sio__rbuf *text, sio__rbuf **atts, size_t natts) {
  if (c->closed) return;
  if (sio__eio_send_packet(c->eio, text) != 0) return;
  for (size_t i = 0; i < natts; i++) sio__eio_send_packet(c->eio, atts[i]);
}

static int client_packet(sio__client *c, int type, const char *nsp, int64_t id, const json_t *data) {
  sio__rbuf *text, **atts;
  size_t natts;
  if (sio__packet_encode(type, nsp, id, data, &text, &atts, &natts) != 0) return EIO_ENOMEM;
  sio__client_send(c, text, atts, natts);
  sio__rbuf_unref(text);
  for (size_t i = 0; i < natts; i++) sio__rbuf_unref(atts[i]);
  free(atts);
  return c->closed ? EIO_ECLOSED : 0;
}

int sio__socket_packet(sio_socket_t *s, int type, int64_t id, const json_t *data) {
  if (!s->client) return EIO_ECLOSED;
  return client_packet(s->client, type, s->nsp->name, id, data);
}

/* ---- clients ------------------------------------------------------------------ */

static void client_drop_pending(sio__client *c) {
  for (uint32_t i = 0; i < c->nbins; i++) free(c->bins[i]);
  free(c->bins);
  free(c->lens);
  c->bins = NULL;
  c->lens = NULL;
  c->nbins = 0;
  if (c->has_pending) sio__packet_clear(&c->pending);
  c->has_pending = 0;
}

/* Closes the whole Engine.IO connection (its sockets learn it through
 * on_close with the engine's reason). */
static void client_fail(sio__client *c, const char *why) {
  c->srv->protocol_errors++;
  SIO_LOGI("sio: closing connection %s: %s", eio_socket_id(c->eio), why);
  eio_socket_close(c->eio);
}

/* A Socket.IO v2 client (Engine.IO v3, accepted with allow_eio3). */
static int client_v2(const sio__client *c) { return eio_socket_protocol(c->eio) == 3; }

/* v2 CONNECTs name the namespace as a URL, "/chat?token=1": the path is the
 * namespace, the query (decoded, the last of repeated keys) the auth, as
 * socket.io's allowEIO3 reads them. */
static int v2_connect_target(sio__packet *p) {
  char *q = strchr(p->nsp, '?');
  json_t *auth = q ? sio__query_object(q + 1, strlen(q + 1)) : json_object();
  if (!auth) return -1;
  const char *k;
  json_t *v;
  json_object_foreach(auth, k, v) {
    if (json_is_array(v)) json_object_set(auth, k, json_array_get(v, json_array_size(v) - 1));
  }
  if (q) *q = '\0';
  json_decref(p->data);
  p->data = auth;
  return 0;
}

static sio_socket_t *client_socket(sio__client *c, const char *nsp) {
  for (sio_socket_t *s = c->sockets; s; s = s->client_next)
    if (strcmp(s->nsp->name, nsp) == 0) return s;
  return NULL;
}

static void client_connect(sio__client *c, sio__packet *p) {
  sio_server_t *srv = c->srv;
  sio__hmap_node *n = sio__hmap_get(&srv->nsps, p->nsp, strlen(p->nsp));
  if (!n) {
    /* A dynamic namespace: the first parent whose match() takes the name. */
    json_t *auth = p->data ? p->data : json_object();
    for (sio_namespace_t *par = srv->parents; par && !n; par = par->next_child) {
      if (!par->match(p->nsp, auth, par->match_data)) continue;
      sio_namespace_t *child = sio_of(srv, p->nsp);
      if (!child) break;
      child->parent = par;
      child->next_child = par->children;
      par->children = child;
      n = &child->node;
    }
    if (!p->data) json_decref(auth);
    if (c->closed) return;
  }
  if (!n) {
    srv->invalid_namespace++;
    json_t *err = json_pack("{s:s}", "message", "Invalid namespace");
    client_packet(c, SIO__PKT_CONNECT_ERROR, p->nsp, -1, err);
    json_decref(err);
    return;
  }
  sio_namespace_t *nsp = sio__container_of(n, sio_namespace_t, node);
  json_t *auth = p->data ? json_incref(p->data) : json_object();
  sio_socket_t *s = sio__socket_new(nsp, c, auth);
  if (!s) {
    client_fail(c, "out of memory");
    return;
  }
  int v2 = client_v2(c);
  if (v2) {
    /* Socket.IO v2's ids, which its client computes itself: the Engine.IO
     * id on "/", "<nsp>#<engine id>" elsewhere. */
    const char *eid = eio_socket_id(c->eio);
    if (strcmp(nsp->name, "/") == 0) {
      snprintf(s->id_buf, sizeof s->id_buf, "%s", eid);
    } else {
      size_t idlen = strlen(nsp->name) + 1 + strlen(eid) + 1;
      char *id = malloc(idlen);
      if (!id) {
        sio__socket_free(s);
        client_fail(c, "out of memory");
        return;
      }
      snprintf(id, idlen, "%s#%s", nsp->name, eid);
      s->id = id;
    }
    s->node.key = s->id;
    s->node.klen = (uint32_t)strlen(s->id);
  }
  /* Connection state recovery: a CONNECT with {pid, offset} of a session
   * this node kept gets that socket back (its id, rooms and data, and the
   * packets it missed); otherwise a new socket with a new private pid. */
  sio__restored restored = {0};
  if (nsp->rec) {
    if (sio__rec_restore(s, auth, &restored)) s->recovered = 1;
    else sio__id_generate(s->pid);
  }
  /* Middlewares run before the socket is admitted (a recovered one skips
   * them, by default, as socket.io's skipMiddlewares). */
  int skip = s->recovered && srv->opts.recovery_skip_middlewares;
  size_t npar = skip || !nsp->parent ? 0 : nsp->parent->nmws, nmws = skip ? 0 : npar + nsp->nmws;
  for (size_t i = 0; i < nmws; i++) {
    sio__middleware *mw = i < npar ? &nsp->parent->mws[i] : &nsp->mws[i - npar];
    s->busy++;
    int r = mw->cb(s, mw->data);
    s->busy--;
    if (c->closed) {
      sio__restored_clear(&restored);
      sio__socket_free(s);
      return;
    }
    if (r != 0) {
      sio__restored_clear(&restored);
      nsp->stats.connect_errors++;
      const char *msg = s->refuse_message ? s->refuse_message : "Not authorized";
      json_t *err;
      if (v2) {
        /* socket.io v2's form: err.data || err.message. */
        err = s->refuse_data ? json_incref(s->refuse_data) : json_string(msg);
      } else {
        err = json_object();
        json_object_set_new(err, "message", json_string(msg));
        if (s->refuse_data) json_object_set(err, "data", s->refuse_data);
      }
      client_packet(c, SIO__PKT_CONNECT_ERROR, nsp->name, -1, err);
      json_decref(err);
      sio__socket_free(s);
      return;
    }
  }
  if (sio__hmap_get(&nsp->sockets, s->id, strlen(s->id)) || sio__hmap_put(&nsp->sockets, &s->node) != 0) {
    /* (a recovered id still in use: the old socket is connected again) */
    int dup = s->recovered;
    sio__restored_clear(&restored);
    sio__socket_free(s);
    client_fail(c, dup ? "recovered session already connected" : "out of memory");
    return;
  }
  s->connected = 1;
  nsp->stats.connects++;
  s->client_next = c->sockets;
  c->sockets = s;
  sio__tq_cancel(&c->connect_timer);
  if (s->recovered) {
    /* Rooms and data back, then the missed packets, before the CONNECT reply. */
    size_t i;
    json_t *room;
    json_array_foreach(restored.rooms, i, room) {
      const char *name = json_string_value(room);
      if (name && strcmp(name, s->id) != 0) sio_socket_join(s, name);
    }
    s->jdata = restored.data;
    restored.data = NULL;
    for (i = 0; i < restored.n; i++)
      sio__client_send(c, restored.packets[i].text, restored.packets[i].atts, restored.packets[i].natts);
    nsp->stats.recovered++;
    nsp->stats.events_out += restored.n;
    sio__restored_clear(&restored);
  }
  /* The CONNECT reply goes out before anything the handler emits. */
  json_t *reply = v2          ? NULL /* v2: a bare CONNECT */
                 : s->pid[0] ? json_pack("{s:s, s:s}", "sid", s->id, "pid", s->pid)
                             : json_pack("{s:s}", "sid", s->id);
  client_packet(c, SIO__PKT_CONNECT, nsp->name, -1, reply);
  json_decref(reply);
  /* The reply leaves in a read of its own, as with the reference's paced
   * writes; what the handler emits follows (sio__conn_flush_alone). */
  sio__eio_flush_alone(c->eio);
  sio_namespace_t *hn = !nsp->on_connection && nsp->parent ? nsp->parent : nsp;
  if (hn->on_connection) {
    s->busy++;
    hn->on_connection(s, hn->on_connection_data);
    s->busy--;
    if (s->dead) sio__socket_free(s);
  }
}

static void client_dispatch(sio__client *c, sio__packet *p) {
  if (p->type == SIO__PKT_CONNECT && client_v2(c) && v2_connect_target(p) != 0) {
    client_fail(c, "out of memory");
    return;
  }
  sio_socket_t *s = client_socket(c, p->nsp);
  if (!s && p->type == SIO__PKT_CONNECT) {
    client_connect(c, p);
  } else if (s && p->type != SIO__PKT_CONNECT && p->type != SIO__PKT_CONNECT_ERROR) {
    sio__socket_onpacket(s, p);
  } else {
    client_fail(c, "packet in an invalid state for its namespace");
  }
}

static void sio_on_eio_message(eio_socket_t *e, const char *msg, size_t len, int binary, void *data) {
  sio__client *c = eio_socket_get_data(e);
  if (!c || c->closed) return;
  if (binary) {
    if (!c->has_pending) {
      client_fail(c, "binary message with no attachment expected");
      return;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
      client_fail(c, "out of memory");
      return;
    }
    if (len) memcpy(copy, msg, len);
    c->bins[c->nbins] = copy;
    c->lens[c->nbins++] = len;
    if (c->nbins < c->pending.attachments) return;
    sio__packet p = c->pending;
    c->has_pending = 0;
    int r = sio__packet_reconstruct(&p, (const uint8_t *const *)c->bins, c->lens, c->nbins);
    for (uint32_t i = 0; i < c->nbins; i++) free(c->bins[i]);
    c->nbins = 0;
    if (r != 0) {
      sio__packet_clear(&p);
      client_fail(c, "invalid attachment placeholder");
      return;
    }
    client_dispatch(c, &p);
    sio__packet_clear(&p);
    return;
  }
  if (c->has_pending) {
    client_fail(c, "text message while binary attachments were expected");
    return;
  }
  sio__packet p;
  if (sio__packet_decode(msg, len, &p) != 0) {
    client_fail(c, "undecodable Socket.IO packet");
    return;
  }
  if ((p.type == SIO__PKT_BINARY_EVENT || p.type == SIO__PKT_BINARY_ACK) && p.attachments > 0) {
    uint8_t **bins = realloc(c->bins, p.attachments * sizeof *bins);
    if (bins) c->bins = bins;
    size_t *lens = realloc(c->lens, p.attachments * sizeof *lens);
    if (lens) c->lens = lens;
    if (!bins || !lens) {
      sio__packet_clear(&p);
      client_fail(c, "out of memory");
      return;
    }
    c->pending = p;
    c->has_pending = 1;
    c->nbins = 0;
    return;
  }
  client_dispatch(c, &p);
  sio__packet_clear(&p);
}

static void sio_on_eio_open(eio_socket_t *e, void *data) {
  sio_server_t *srv = data;
  sio__client *c = calloc(1, sizeof *c);
  if (!c) {
    eio_socket_close(e);
    return;
  }
  c->eio = e;
  c->srv = srv;
  eio_socket_set_data(e, c);
  sio__tq_arm(&srv->q_connect, &c->connect_timer);
  if (client_v2(c)) {
    /* Socket.IO v2 clients are connected to "/" by the server, unasked. */
    sio__packet p = {SIO__PKT_CONNECT, "/", -1, NULL, 0};
    client_connect(c, &p);
  }
}

static const char *disconnect_reason(eio_close_reason_t r) {
  return r == EIO_CLOSE_SERVER_SHUTDOWN ? "server shutting down" : eio_close_reason_str(r);
}

static void sio_on_eio_close(eio_socket_t *e, eio_close_reason_t reason, void *data) {
  sio__client *c = eio_socket_get_data(e);
  if (!c) return;
  c->closed = 1;
  sio__tq_cancel(&c->connect_timer);
  while (c->sockets) sio__socket_onclose(c->sockets, disconnect_reason(reason));
  client_drop_pending(c);
  eio_socket_set_data(e, NULL);
  free(c);
}

static void sio_connect_timeout(sio__tq *q, sio__tq_node *n) {
  sio__client *c = sio__container_of(n, sio__client, connect_timer);
  if (c->sockets) return;
  c->srv->connect_timeouts++;
  SIO_LOGI("sio: closing connection %s: no namespace joined in time", eio_socket_id(c->eio));
  eio_socket_close(c->eio);
}

/* ---- server -------------------------------------------------------------------- */

/* Recovery: sessions and packets older than max_disconnection_ms go. */
static void rec_sweep(uv_timer_t *t) {
  sio_server_t *srv = t->data;
  double now = sio__wall_ms();
  uint32_t it;
  for (sio__hmap_node *n = sio__hmap_first(&srv->nsps, &it); n; n = sio__hmap_next(&srv->nsps, n, &it))
    sio__rec_sweep(sio__container_of(n, sio_namespace_t, node), now);
}

int sio_server_new(uv_loop_t *loop, const sio_options_t *opts, sio_server_t **out) {
  if (!opts || opts->eio.callbacks.on_open || opts->eio.callbacks.on_message ||
      opts->eio.callbacks.on_close)
    return EIO_EINVAL;
  sio_server_t *srv = calloc(1, sizeof *srv);
  if (!srv) return EIO_ENOMEM;
  srv->opts = *opts;
  eio_options_t eo = opts->eio;
  eo.callbacks.on_open = sio_on_eio_open;
  eo.callbacks.on_message = sio_on_eio_message;
  eo.callbacks.on_close = sio_on_eio_close;
  eo.data = srv; /* the application's HTTP handler keeps eo.http_data */
  sio__hmap_init(&srv->nsps);
  int r = eio_server_new(loop, &eo, &srv->eio);
  if (r) {
    free(srv);
    return r;
  }
  sio__tq_init(loop, &srv->q_connect, opts->connect_timeout_ms ? opts->connect_timeout_ms : 45000,
               sio_connect_timeout, srv);
  if (opts->recovery) {
    /* Offsets carry a random prefix: one from an earlier run of this
     * server never names a packet of this one. */
    if (sio__random_alnum(srv->rec_prefix, 4) != 0) memcpy(srv->rec_prefix, "0000", 5);
    if (!srv->opts.recovery_max_disconnection_ms) srv->opts.recovery_max_disconnection_ms = 120000;
    srv->rec_sweep = malloc(sizeof *srv->rec_sweep);
    if (srv->rec_sweep) {
      uv_timer_init(loop, srv->rec_sweep);
      srv->rec_sweep->data = srv;
      uv_timer_start(srv->rec_sweep, rec_sweep, 60000, 60000);
      uv_unref((uv_handle_t *)srv->rec_sweep);
    }
  }
  *out = srv;
  return 0;
}

int sio_server_listen(sio_server_t *srv, const char *host, int port) {
  return eio_server_listen(srv->eio, host, port);
}

int sio_server_port(const sio_server_t *srv) { return eio_server_port(srv->eio); }
eio_server_t *sio_server_engine(sio_server_t *srv) { return srv->eio; }

void sio_server_drain(sio_server_t *srv) {
  if (srv->closing) return;
  eio_server_drain(srv->eio);
}

void sio_namespace_stats(const sio_namespace_t *nsp, sio_namespace_stats_t *out) {
  *out = nsp->stats;
  out->sockets = nsp->sockets.count;
  out->rooms = nsp->rooms.count;
  out->recovery_sessions = sio__rec_sessions(nsp);
  out->recovery_packets = sio__rec_packets(nsp);
  out->recovery_bytes = sio__rec_bytes(nsp);
}

void sio_server_stats(const sio_server_t *srv, sio_stats_t *out) {
  memset(out, 0, sizeof *out);
  eio_server_stats(srv->eio, &out->eio);
  out->namespaces = srv->nsps.count;
  out->invalid_namespace = srv->invalid_namespace;
  out->protocol_errors = srv->protocol_errors;
  out->connect_timeouts = srv->connect_timeouts;
  uint32_t it;
  for (sio__hmap_node *n = sio__hmap_first(&srv->nsps, &it); n; n = sio__hmap_next(&srv->nsps, n, &it)) {
    sio_namespace_stats_t ns;
    sio_namespace_stats(sio__container_of(n, sio_namespace_t, node), &ns);
    sio_namespace_stats_t *t = &out->total;
    t->sockets += ns.sockets;
    t->rooms += ns.rooms;
    t->connects += ns.connects;
    t->disconnects += ns.disconnects;
    t->connect_errors += ns.connect_errors;
    t->events_in += ns.events_in;
    t->events_out += ns.events_out;
    t->acks_in += ns.acks_in;
    t->acks_out += ns.acks_out;
    t->broadcasts += ns.broadcasts;
    t->broadcast_deliveries += ns.broadcast_deliveries;
    t->recovered += ns.recovered;
    t->recovery_evicted += ns.recovery_evicted;
    t->recovery_sessions += ns.recovery_sessions;
    t->recovery_packets += ns.recovery_packets;
    t->recovery_bytes += ns.recovery_bytes;
  }
}

static void namespace_free(sio_namespace_t *nsp) {
  sio__rec_free(nsp->rec);
  free(nsp->packet_mws);
  for (size_t i = 0; i < nsp->nhandlers; i++) free(nsp->handlers[i].event);
  free(nsp->handlers);
  for (size_t i = 0; i < nsp->nsv_handlers; i++) free(nsp->sv_handlers[i].event);
  free(nsp->sv_handlers);
  free(nsp->mws);
  sio__hmap_free(&nsp->sockets);
  sio__hmap_free(&nsp->rooms);
  free(nsp->name);
  free(nsp);
}

static void server_engine_closed(void *arg) {
  sio_server_t *srv = arg;
  uint32_t it;
  sio__hmap_node *n = sio__hmap_first(&srv->nsps, &it);
  while (n) {
    sio__hmap_node *next = sio__hmap_next(&srv->nsps, n, &it);
    namespace_free(sio__container_of(n, sio_namespace_t, node));
    n = next;
  }
  sio__hmap_free(&srv->nsps);
  while (srv->parents) {
    sio_namespace_t *par = srv->parents;
    srv->parents = par->next_child;
    namespace_free(par);
  }
  void (*cb)(void *) = srv->on_closed;
  void *cb_arg = srv->on_closed_arg;
  free(srv);
  if (cb) cb(cb_arg);
}

static void connect_tq_closed(uv_handle_t *h) {
  sio_server_t *srv = ((sio__tq *)h->data)->data;
  eio_server_close(srv->eio, server_engine_closed, srv);
}

void sio_server_close(sio_server_t *srv, void (*on_closed)(void *arg), void *arg) {
  if (srv->closing) return;
  srv->closing = 1;
  srv->on_closed = on_closed;
  srv->on_closed_arg = arg;
  sio__requests_abort(srv);
  if (srv->rec_sweep) {
    uv_timer_stop(srv->rec_sweep);
    uv_close((uv_handle_t *)srv->rec_sweep, (uv_close_cb)free);
    srv->rec_sweep = NULL;
  }
  /* Engine.IO closes every session (reason "server shutdown" → each socket
   * hears "server shutting down"), then the listener. */
  srv->q_connect.timer.data = &srv->q_connect;
  sio__tq_close(&srv->q_connect, connect_tq_closed);
}

/* ---- namespaces ------------------------------------------------------------------ */

sio_namespace_t *sio_of(sio_server_t *srv, const char *name) {
  if (!name || !*name) name = "/";
  sio__hmap_node *n = sio__hmap_get(&srv->nsps, name, strlen(name));
  if (n) return sio__container_of(n, sio_namespace_t, node);
  sio_namespace_t *nsp = calloc(1, sizeof *nsp);
  if (!nsp) return NULL;
  /* "chat" and "/chat" name the same namespace, as in socket.io. */
  size_t len = strlen(name);
  nsp->name = malloc(len + 2);
  if (!nsp->name) {
    free(nsp);
    return NULL;
  }
  if (name[0] != '/') {
    nsp->name[0] = '/';
    memcpy(nsp->name + 1, name, len + 1);
    sio__hmap_node *m = sio__hmap_get(&srv->nsps, nsp->name, len + 1);
    if (m) {
      free(nsp->name);
      free(nsp);
      return sio__container_of(m, sio_namespace_t, node);
    }
  } else {
    memcpy(nsp->name, name, len + 1);
  }
  nsp->srv = srv;
  if (srv->opts.recovery && !(nsp->rec = sio__rec_new())) {
    free(nsp->name);
    free(nsp);
    return NULL;
  }
  sio__hmap_init(&nsp->sockets);
  sio__hmap_init(&nsp->rooms);
  nsp->node.key = nsp->name;
  nsp->node.klen = (uint32_t)strlen(nsp->name);
  if (sio__hmap_put(&srv->nsps, &nsp->node) != 0) {
    sio__rec_free(nsp->rec);
    free(nsp->name);
    free(nsp);
    return NULL;
  }
  if (srv->adapter && srv->adapter->namespace_added) srv->adapter->namespace_added(srv->adapter, nsp->name);
  return nsp;
}

sio_namespace_t *sio_of_match(sio_server_t *srv, sio_namespace_match_cb match, void *data) {
  if (!match) return NULL;
  sio_namespace_t *par = calloc(1, sizeof *par);
  char name[32];
  /* A name no client can ask for (not "/..."), for logs and stats. */
  snprintf(name, sizeof name, "(dynamic %p)", (void *)par);
  if (!par || !(par->name = strdup(name))) {
    free(par);
    return NULL;
  }
  par->srv = srv;
  par->match = match;
  par->match_data = data;
  sio__hmap_init(&par->sockets);
  sio__hmap_init(&par->rooms);
  /* Appended: parents are tried in creation order. */
  sio_namespace_t **tail = &srv->parents;
  while (*tail) tail = &(*tail)->next_child;
  *tail = par;
  return par;
}

sio__handler *sio__find_handler(sio_namespace_t *nsp, const char *event) {
  for (size_t i = 0; i < nsp->nhandlers; i++)
    if (strcmp(nsp->handlers[i].event, event) == 0) return &nsp->handlers[i];
  return NULL;
}

void sio_on_any(sio_namespace_t *nsp, sio_event_cb cb, void *data) {
  nsp->on_any = cb;
  nsp->on_any_data = data;
}

void sio_on_any_outgoing(sio_namespace_t *nsp, sio_outgoing_cb cb, void *data) {
  nsp->on_any_outgoing = cb;
  nsp->on_any_outgoing_data = data;
}

void sio_use_packet(sio_namespace_t *nsp, sio_packet_middleware_cb cb, void *data) {
  sio__packet_mw *m = realloc(nsp->packet_mws, (nsp->npacket_mws + 1) * sizeof *m);
  if (!m) return;
  nsp->packet_mws = m;
  m[nsp->npacket_mws++] = (sio__packet_mw){cb, data};
}

const char *sio_namespace_name(const sio_namespace_t *nsp) { return nsp->name; }
size_t sio_namespace_count(const sio_namespace_t *nsp) { return nsp->sockets.count; }
sio_server_t *sio_namespace_server(const sio_namespace_t *nsp) { return nsp->srv; }

void sio_use(sio_namespace_t *nsp, sio_middleware_cb cb, void *data) {
  sio__middleware *m = realloc(nsp->mws, (nsp->nmws + 1) * sizeof *m);
  if (!m) return;
  nsp->mws = m;
  m[nsp->nmws++] = (sio__middleware){cb, data};
}

void sio_on_connection(sio_namespace_t *nsp, sio_connection_cb cb, void *data) {
  nsp->on_connection = cb;
  nsp->on_connection_data = data;
}

void sio_on_disconnect(sio_namespace_t *nsp, sio_disconnect_cb cb, void *data) {
  nsp->on_disconnect = cb;
  nsp->on_disconnect_data = data;
}

void sio_on(sio_namespace_t *nsp, const char *event, sio_event_cb cb, void *data) {
  for (size_t i = 0; i < nsp->nhandlers; i++) {
    if (strcmp(nsp->handlers[i].event, event) != 0) continue;
    if (cb) {
      nsp->handlers[i].cb = cb;
      nsp->handlers[i].data = data;
    } else {
      free(nsp->handlers[i].event);
      nsp->handlers[i] = nsp->handlers[--nsp->nhandlers];
    }
    return;
  }
  if (!cb) return;
  sio__handler *h = realloc(nsp->handlers, (nsp->nhandlers + 1) * sizeof *h);
  if (!h) return;
  nsp->handlers = h;
  char *ev = strdup(event);
  if (!ev) return;
  h[nsp->nhandlers++] = (sio__handler){ev, cb, data};
}
