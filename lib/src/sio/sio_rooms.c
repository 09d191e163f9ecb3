/* Rooms and broadcasting (the in-memory adapter, PROTOCOL.md 5).
 *
 * Every socket is in the room named by its own id; that room is not stored:
 * a room name that matches a connected socket's id also targets that socket,
 * which saves a room and a membership per connection. Explicit rooms are
 * hash-map entries holding a doubly linked list of memberships; each
 * membership is also on its socket's list, so leaving everything on
 * disconnect is linear in the socket's rooms.
 *
 * A broadcast is encoded once (text packet plus attachments, as refcounted
 * buffers); each recipient's transport queues references. Recipients are
 * de-duplicated with per-namespace epochs instead of a temporary set. */
#include <stdlib.h>
#include <string.h>

#include "sio/sio_internal.h"

typedef struct sio__room {
  sio__hmap_node node;
  sio__member *head;
  size_t count;
  char name[];
} sio__room;

struct sio__member {
  sio__room *room;
  sio_socket_t *sock;
  sio__member *rprev, *rnext; /* in the room */
  sio__member *snext;         /* in the socket's list */
};

static sio__room *room_get(sio_namespace_t *nsp, const char *name) {
  sio__hmap_node *n = sio__hmap_get(&nsp->rooms, name, strlen(name));
  return n ? sio__container_of(n, sio__room, node) : NULL;
}

static sio_socket_t *socket_by_id(sio_namespace_t *nsp, const char *id) {
  size_t len = strlen(id);
  if (len < 20) return NULL; /* ids: 20 characters, or "<nsp>#<20>" for Socket.IO v2 clients */
  sio__hmap_node *n = sio__hmap_get(&nsp->sockets, id, len);
  return n ? sio__container_of(n, sio_socket_t, node) : NULL;
}

int sio_socket_in_room(const sio_socket_t *s, const char *room) {
  if (strcmp(room, s->id) == 0) return 1;
  for (sio__member *m = s->rooms; m; m = m->snext)
    if (strcmp(m->room->name, room) == 0) return 1;
  return 0;
}

int sio_socket_join(sio_socket_t *s, const char *name) {
  if (!s->connected) return EIO_ECLOSED;
  if (sio_socket_in_room(s, name)) return 0;
  sio_namespace_t *nsp = s->nsp;
  sio__room *r = room_get(nsp, name);
  if (!r) {
    size_t len = strlen(name);
    r = calloc(1, sizeof *r + len + 1);
    if (!r) return EIO_ENOMEM;
    memcpy(r->name, name, len + 1);
    r->node.key = r->name;
    r->node.klen = (uint32_t)len;
    if (sio__hmap_put(&nsp->rooms, &r->node) != 0) {
      free(r);
      return EIO_ENOMEM;
    }
  }
  sio__member *m = calloc(1, sizeof *m);
  if (!m) return EIO_ENOMEM;
  m->room = r;
  m->sock = s;
  m->rnext = r->head;
  if (r->head) r->head->rprev = m;
  r->head = m;
  r->count++;
  m->snext = s->rooms;
  s->rooms = m;
  return 0;
}

static void member_unlink(sio_namespace_t *nsp, sio__member *m) {
  sio__room *r = m->room;
  if (m->rprev) m->rprev->rnext = m->rnext; else r->head = m->rnext;
  if (m->rnext) m->rnext->rprev = m->rprev;
  if (--r->count == 0) {
    sio__hmap_del(&nsp->rooms, &r->node);
    free(r);
  }
  free(m);
}

int sio_socket_leave(sio_socket_t *s, const char *name) {
  for (sio__member **p = &s->rooms; *p; p = &(*p)->snext) {
    if (strcmp((*p)->room->name, name) != 0) continue;
    sio__member *m = *p;
    *p = m->snext;
    member_unlink(s->nsp, m);
    return 0;
  }
  return 0;
}

void sio__rooms_leave_all(sio_socket_t *s) {
  while (s->rooms) {
    sio__member *m = s->rooms;
    s->rooms = m->snext;
    member_unlink(s->nsp, m);
  }
}

/* ---- broadcast ------------------------------------------------------------------------ */

static void mark_except(sio_namespace_t *nsp, const char *name, uint32_t epoch) {
  sio_socket_t *s = socket_by_id(nsp, name);
  if (s) s->except_epoch = epoch;
  sio__room *r = room_get(nsp, name);
  if (r)
    for (sio__member *m = r->head; m; m = m->rnext) m->sock->except_epoch = epoch;
}

typedef struct bc_packet {
  sio__rbuf *text;
  sio__rbuf **atts;
  size_t natts;
  int sent;
  void (*on_sent)(sio_socket_t *s, void *arg); /* broadcasts with acks; also selection */
  void *arg;
  int select_only;         /* sio__select: collect, send nothing */
  int is_volatile;         /* skip clients whose transport is not ready to write */
  struct select_acc *tell; /* recipients to tell the onAnyOutgoing listener about */
} bc_packet;

static void select_push(sio_socket_t *s, void *arg);

int sio__client_writable(const sio__client *c) {
  const eio_socket_t *e = c->eio;
  if (c->closed || e->upgrading) return 0;
  if (e->transport == EIO_TRANSPORT_WEBSOCKET) return e->ws && e->ws->wq.bytes == 0;
  return e->get != NULL && e->qlen == 0;
}

static void bc_send(sio_socket_t *s, bc_packet *p, uint32_t epoch) {
  if (!s->connected || s->sent_epoch == epoch || s->except_epoch == epoch) return;
  if (p->is_volatile && !sio__client_writable(s->client)) return;
  s->sent_epoch = epoch;
  if (!p->select_only) sio__client_send(s->client, p->text, p->atts, p->natts);
  p->sent++;
  if (p->on_sent) p->on_sent(s, p->arg);
  if (p->tell) select_push(s, p->tell);
}

static void bc_room(sio_namespace_t *nsp, const char *name, bc_packet *p, uint32_t epoch) {
  sio_socket_t *s = socket_by_id(nsp, name);
  if (s) bc_send(s, p, epoch);
  sio__room *r = room_get(nsp, name);
  if (!r) return;
  /* Sending cannot change room membership (no callbacks run), so the walk is safe. */
  for (sio__member *m = r->head; m; m = m->rnext) bc_send(m->sock, p, epoch);
}

sio_broadcast_t *sio_bc_new(sio_namespace_t *nsp) {
  sio_broadcast_t *b = calloc(1, sizeof *b);
  if (b) b->nsp = nsp;
  return b;
}

static int push_name(char ***arr, size_t *n, const char *name) {
  char **a = realloc(*arr, (*n + 1) * sizeof *a);
  if (!a) return -1;
  *arr = a;
  if (!(a[*n] = strdup(name))) return -1;
  (*n)++;
  return 0;
}

sio_broadcast_t *sio_bc_to(sio_broadcast_t *b, const char *room) {
  if (b && room) push_name(&b->rooms, &b->nrooms, room);
  return b;
}

sio_broadcast_t *sio_bc_except(sio_broadcast_t *b, const char *room) {
  if (b && room) push_name(&b->except, &b->nexcept, room);
  return b;
}

sio_broadcast_t *sio_broadcast_to(sio_socket_t *s, const char *room) {
  return sio_bc_except(sio_bc_to(sio_bc_new(s->nsp), room), s->id);
}

void sio_bc_free(sio_broadcast_t *b) {
  if (!b) return;
  for (size_t i = 0; i < b->nrooms; i++) free(b->rooms[i]);
  for (size_t i = 0; i < b->nexcept; i++) free(b->except[i]);
  free(b->rooms);
  free(b->except);
  free(b);
}

/* Walks this node's sockets in `rooms` (all of nsp when none) minus
 * `except`, each once, through bc_send. */
static void bc_walk(sio_namespace_t *nsp, const char *const *rooms, size_t nrooms, const char *const *except,
                    size_t nexcept, bc_packet *p) {
  uint32_t epoch = ++nsp->epoch;
  if (epoch == 0) epoch = ++nsp->epoch; /* 0 is every socket's initial mark */
  for (size_t i = 0; i < nexcept; i++) mark_except(nsp, except[i], epoch);
  if (nrooms == 0) {
    uint32_t it;
    for (sio__hmap_node *n = sio__hmap_first(&nsp->sockets, &it); n; n = sio__hmap_next(&nsp->sockets, n, &it))
      bc_send(sio__container_of(n, sio_socket_t, node), p, epoch);
  } else {
    for (size_t i = 0; i < nrooms; i++) bc_room(nsp, rooms[i], p, epoch);
  }
}

typedef struct select_acc {
  sio_socket_t **v;
  size_t n, cap;
  int oom;
} select_acc;

void sio__tell_outgoing(sio_namespace_t *nsp, sio_socket_t *const *v, size_t n, const json_t *data) {
  sio_namespace_t *hn = !nsp->on_any_outgoing && nsp->parent ? nsp->parent : nsp;
  sio_outgoing_cb cb = hn->on_any_outgoing;
  if (!cb || !n) return;
  const char *event = json_string_value(json_array_get(data, 0));
  json_t *args = json_array();
  for (size_t i = 1; i < json_array_size(data); i++) json_array_append(args, json_array_get(data, i));
  /* The listener may disconnect sockets: hold them all first. */
  for (size_t i = 0; i < n; i++) v[i]->busy++;
  for (size_t i = 0; i < n; i++)
    if (v[i]->connected) cb(v[i], event ? event : "", args, hn->on_any_outgoing_data);
  for (size_t i = 0; i < n; i++) {
    v[i]->busy--;
    sio__socket_release(v[i]);
  }
  json_decref(args);
}

static void select_push(sio_socket_t *s, void *arg) {
  select_acc *a = arg;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 16;
    sio_socket_t **v = realloc(a->v, cap * sizeof *v);
    if (!v) {
      a->oom = 1;
      return;
    }
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = s;
}

ptrdiff_t sio__select(sio_namespace_t *nsp, const char *const *rooms, size_t nrooms,
                      const char *const *except, size_t nexcept, sio_socket_t ***out) {
  select_acc acc = {0};
  bc_packet p = {.on_sent = select_push, .arg = &acc, .select_only = 1};
  bc_walk(nsp, rooms, nrooms, except, nexcept, &p);
  if (acc.oom) {
    free(acc.v);
    *out = NULL;
    return -1;
  }
  *out = acc.v;
  return (ptrdiff_t)acc.n;
}

json_t *sio__socket_rooms(const sio_socket_t *s) {
  json_t *a = json_array();
  if (!a) return NULL;
  json_array_append_new(a, json_string(s->id));
  /* The socket's list is newest first: each goes in right after the id. */
  for (sio__member *m = s->rooms; m; m = m->snext) json_array_insert_new(a, 1, json_string(m->room->name));
  return a;
}

json_t *sio__all_rooms(sio_namespace_t *nsp) {
  json_t *a = json_array();
  if (!a) return NULL;
  uint32_t it;
  for (sio__hmap_node *n = sio__hmap_first(&nsp->rooms, &it); n; n = sio__hmap_next(&nsp->rooms, n, &it))
    json_array_append_new(a, json_string(sio__container_of(n, sio__room, node)->name));
  for (sio__hmap_node *n = sio__hmap_first(&nsp->sockets, &it); n; n = sio__hmap_next(&nsp->sockets, n, &it))
    json_array_append_new(a, json_string(sio__container_of(n, sio_socket_t, node)->id));
  return a;
}

int sio__deliver(sio_namespace_t *nsp, const json_t *data, const char *const *rooms, size_t nrooms,
                 const char *const *except, size_t nexcept, int64_t id,
                 void (*on_sent)(sio_socket_t *s, void *arg), void *arg, sio__encoded *keep, unsigned flags) {
  select_acc tell = {0};
  int telling = nsp->on_any_outgoing || (nsp->parent && nsp->parent->on_any_outgoing);
  bc_packet p = {.on_sent = on_sent, .arg = arg, .is_volatile = (flags & SIO_BC_VOLATILE) != 0,
                 .tell = telling ? &tell : NULL};
  if (sio__packet_encode(SIO__PKT_EVENT, nsp->name, id, data, &p.text, &p.atts, &p.natts) != 0)
    return EIO_ENOMEM;
  if (flags & SIO_BC_NO_COMPRESS) {
    p.text->nocompress = 1;
    for (size_t i = 0; i < p.natts; i++) p.atts[i]->nocompress = 1;
  }
  bc_walk(nsp, rooms, nrooms, except, nexcept, &p);
  if (telling) {
    sio__tell_outgoing(nsp, tell.v, tell.n, data);
    free(tell.v);
  }
  nsp->stats.events_out += (uint64_t)p.sent;
  if (keep) {
    *keep = (sio__encoded){p.text, p.atts, p.natts};
    return p.sent;
  }
  sio__rbuf_unref(p.text);
  for (size_t i = 0; i < p.natts; i++) sio__rbuf_unref(p.atts[i]);
  free(p.atts);
  return p.sent;
}

int sio__send_event(sio_namespace_t *nsp, const json_t *data, const char *const *rooms, size_t nrooms,
                    const char *const *except, size_t nexcept, unsigned flags) {
  if (!nsp->rec || (flags & SIO_BC_VOLATILE))
    return sio__deliver(nsp, data, rooms, nrooms, except, nexcept, -1, NULL, NULL, NULL, flags);
  uint64_t seq;
  json_t *d = sio__rec_offset_data(nsp, data, &seq);
  if (!d) return EIO_ENOMEM;
  sio__encoded enc = {0};
  int n = sio__deliver(nsp, d, rooms, nrooms, except, nexcept, -1, NULL, NULL, &enc, flags);
  json_decref(d);
  /* Kept even with no recipient here: the client away may come back for it. */
  if (n >= 0) sio__rec_store(nsp, seq, &enc, rooms, nrooms, except, nexcept);
  return n;
}

/* b's rooms, except and flags on another namespace. */
static sio_broadcast_t *bc_clone(const sio_broadcast_t *b, sio_namespace_t *nsp) {
  sio_broadcast_t *c = sio_bc_new(nsp);
  for (size_t i = 0; c && i < b->nrooms; i++) sio_bc_to(c, b->rooms[i]);
  for (size_t i = 0; c && i < b->nexcept; i++) sio_bc_except(c, b->except[i]);
  if (c) {
    c->local = b->local;
    c->flags = b->flags;
  }
  return c;
}

int sio_bc_emit(sio_broadcast_t *b, const char *event, json_t *args) {
  if (!b) {
    json_decref(args);
    return EIO_ENOMEM;
  }
  sio_namespace_t *nsp = b->nsp;
  if (nsp->match) {
    /* A dynamic namespaces' parent: every child. */
    int total = 0;
    for (sio_namespace_t *ch = nsp->children; ch; ch = ch->next_child) {
      int r = sio_bc_emit(bc_clone(b, ch), event, json_incref(args));
      if (r < 0) {
        total = r;
        break;
      }
      total += r;
    }
    json_decref(args);
    sio_bc_free(b);
    return total;
  }
  if (!event || sio__reserved_event(event)) {
    json_decref(args);
    sio_bc_free(b);
    return EIO_EINVAL;
  }
  json_t *data = sio__event_array(event, args);
  const char *const *rooms = (const char *const *)b->rooms, *const *except = (const char *const *)b->except;
  int r = data ? sio__send_event(nsp, data, rooms, b->nrooms, except, b->nexcept, b->flags) : EIO_ENOMEM;
  if (r >= 0) {
    nsp->stats.broadcasts++;
    nsp->stats.broadcast_deliveries += (uint64_t)r;
  }
  sio_adapter_t *a = nsp->srv->adapter;
  if (r >= 0 && a && !b->local) {
    sio_broadcast_info_t info = {nsp->name, data, rooms, b->nrooms, except, b->nexcept, b->flags};
    a->broadcast(a, &info);
  }
  json_decref(data);
  sio_bc_free(b);
  return r;
}

sio_broadcast_t *sio_bc_local(sio_broadcast_t *b) {
  if (b) b->local = 1;
  return b;
}

sio_broadcast_t *sio_bc_volatile(sio_broadcast_t *b) {
  if (b) b->flags |= SIO_BC_VOLATILE;
  return b;
}

sio_broadcast_t *sio_bc_compress(sio_broadcast_t *b, int compress) {
  if (b) b->flags = compress ? b->flags & ~(unsigned)SIO_BC_NO_COMPRESS : b->flags | SIO_BC_NO_COMPRESS;
  return b;
}

void sio_server_set_adapter(sio_server_t *srv, sio_adapter_t *adapter) {
  srv->adapter = adapter;
  if (!adapter || !adapter->namespace_added) return;
  uint32_t it;
  for (sio__hmap_node *n = sio__hmap_first(&srv->nsps, &it); n; n = sio__hmap_next(&srv->nsps, n, &it))
    adapter->namespace_added(adapter, sio__container_of(n, sio_namespace_t, node)->name);
}

int sio_adapter_deliver(sio_server_t *srv, const sio_broadcast_info_t *bc) {
  /* As a local emit: an event name first, not a reserved one. */
  if (!sio__event_data_ok(bc->data)) return EIO_EINVAL;
  sio_namespace_t *nsp = sio__nsp_find(srv, bc->nsp);
  return nsp ? sio__send_event(nsp, bc->data, bc->rooms, bc->nrooms, bc->except, bc->nexcept, bc->flags) : 0;
}

int sio_emit_all(sio_namespace_t *nsp, const char *event, json_t *args) {
  return sio_bc_emit(sio_bc_new(nsp), event, args);
}

int sio_emit_to(sio_namespace_t *nsp, const char *room, const char *event, json_t *args) {
  return sio_bc_emit(sio_bc_to(sio_bc_new(nsp), room), event, args);
}

int sio_broadcast_emit(sio_socket_t *s, const char *event, json_t *args) {
  return sio_bc_emit(sio_bc_except(sio_bc_new(s->nsp), s->id), event, args);
}
