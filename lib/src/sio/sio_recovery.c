/* Connection state recovery (socket.io's connectionStateRecovery,
 * PROTOCOL.md 6), per namespace, with the packets kept on this node.
 *
 * Every event sent without an ack id and not volatile, broadcast or
 * socket.emit, gets an offset appended as the last element of its data
 * ("42["hello","Ab3x-1f"]"); the client remembers the last one it saw. The
 * encoded packet (the very buffers the recipients were sent) is kept with
 * its rooms and except lists. When a socket goes away for a reason the
 * client recovers from (transport close or error, ping timeout, forced or
 * server close), its session {sid, pid, rooms, data} is kept under its
 * private pid. A CONNECT carrying {pid, offset} within
 * max_disconnection_ms gets the old socket back: same id, rooms and data,
 * every kept packet after the offset that its rooms would have received
 * sent before the CONNECT reply, middlewares skipped (by default).
 *
 * Kept packets live in a ring ordered by offset; an offset is the server's
 * random prefix and the packet's sequence number in base 36, so finding it
 * is arithmetic. Packets and sessions older than max_disconnection_ms are
 * swept every 60 s; past max_bytes, the oldest packets go early (counted and
 * logged): a client whose offset is gone then gets a new session, which it
 * sees as recovered == false, never a silent gap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio/sio_internal.h"
#include "util/id.h"
#include "util/log.h"

typedef struct stored {
  uint64_t seq;
  double at_ms;
  size_t bytes;
  sio__rbuf *text;
  sio__rbuf **atts;
  size_t natts;
  char **rooms;            /* rooms and except: one block with the strings */
  size_t nrooms;
  char **except;
  size_t nexcept;
} stored;

typedef struct session {
  sio__hmap_node node;
  char pid[21];
  char sid[21];
  double at_ms;
  json_t *rooms;           /* array of strings, the socket's own id included */
  json_t *data;
} session;

struct sio__recovery {
  stored **ring;
  size_t cap, head, count; /* oldest at ring[head] */
  uint64_t first_seq;      /* seq of the oldest kept packet */
  uint64_t next_seq;
  size_t bytes;
  sio__hmap sessions;      /* pid → session */
};


/* ---- packets --------------------------------------------------------------------------- */

static void stored_free(stored *p) {
  sio__rbuf_unref(p->text);
  for (size_t i = 0; i < p->natts; i++) sio__rbuf_unref(p->atts[i]);
  free(p->atts);
  free(p->rooms);
  free(p);
}

static void drop_oldest(sio__recovery *rec) {
  stored *p = rec->ring[rec->head];
  rec->bytes -= p->bytes;
  stored_free(p);
  rec->head = (rec->head + 1) % rec->cap;
  rec->count--;
  rec->first_seq++;
}

static stored *ring_at(sio__recovery *rec, size_t i) { return rec->ring[(rec->head + i) % rec->cap]; }

static int ring_push(sio__recovery *rec, stored *p) {
  if (rec->count == rec->cap) {
    size_t cap = rec->cap ? rec->cap * 2 : 64;
    stored **ring = malloc(cap * sizeof *ring);
    if (!ring) return -1;
    for (size_t i = 0; i < rec->count; i++) ring[i] = ring_at(rec, i);
    free(rec->ring);
    rec->ring = ring;
    rec->cap = cap;
    rec->head = 0;
  }
  if (rec->count == 0) rec->first_seq = p->seq;
  rec->ring[(rec->head + rec->count) % rec->cap] = p;
  rec->count++;
  return 0;
}

static void offset_text(const sio_server_t *srv, uint64_t seq, char out[SIO__OFFSET_MAX]) {
  char digits[16];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[seq % 36];
    seq /= 36;
  } while (seq);
  memcpy(out, srv->rec_prefix, 4);
  out[4] = '-';
  for (int i = 0; i < n; i++) out[5 + i] = digits[n - 1 - i];
  out[5 + n] = '\0';
}

/* The seq an offset names, or -1 when it is not one of this server's. */
static int parse_offset(const sio_server_t *srv, const char *s, uint64_t *seq) {
  if (strncmp(s, srv->rec_prefix, 4) != 0 || s[4] != '-' || !s[5] || strlen(s + 5) > 12) return -1;
  uint64_t v = 0;
  for (const char *p = s + 5; *p; p++) {
    int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'z' ? *p - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 36 + (uint64_t)d;
  }
  *seq = v;
  return 0;
}

json_t *sio__rec_offset_data(sio_namespace_t *nsp, const json_t *data, uint64_t *seq) {
  sio__recovery *rec = nsp->rec;
  char off[SIO__OFFSET_MAX];
  *seq = rec->next_seq++;
  offset_text(nsp->srv, *seq, off);
  json_t *d = json_array();
  if (!d || json_array_extend(d, (json_t *)data) != 0 || json_array_append_new(d, json_string(off)) != 0) {
    json_decref(d);
    return NULL;
  }
  return d;
}

static char **copy_names(const char *const *a, size_t na, const char *const *b, size_t nb, char ***b_out) {
  size_t bytes = (na + nb) * sizeof(char *);
  for (size_t i = 0; i < na; i++) bytes += strlen(a[i]) + 1;
  for (size_t i = 0; i < nb; i++) bytes += strlen(b[i]) + 1;
  char **v = malloc(bytes ? bytes : 1);
  if (!v) return NULL;
  char *s = (char *)(v + na + nb);
  for (size_t i = 0; i < na + nb; i++) {
    const char *src = i < na ? a[i] : b[i - na];
    size_t n = strlen(src) + 1;
    memcpy(s, src, n);
    v[i] = s;
    s += n;
  }
  *b_out = v + na;
  return v;
}

void sio__rec_store(sio_namespace_t *nsp, uint64_t seq, sio__encoded *enc, const char *const *rooms,
                    size_t nrooms, const char *const *except, size_t nexcept) {
  sio__recovery *rec = nsp->rec;
  stored *p = calloc(1, sizeof *p);
  char **ex = NULL;
  char **names = p ? copy_names(rooms, nrooms, except, nexcept, &ex) : NULL;
  if (!p || !names) {
    free(p);
    free(names);
    sio__encoded_release(enc);
    SIO_LOGW("sio: recovery: out of memory, a packet of %s was not kept", nsp->name);
    return;
  }
  /* Sequence numbers must stay contiguous in the ring: after a packet that
   * could not be kept, the ones before it cannot be found across the gap,
   * so they go (clients away since then get a new session); this one starts
   * the ring again. */
  if (rec->count && seq != rec->first_seq + rec->count)
    while (rec->count) drop_oldest(rec);
  p->seq = seq;
  p->at_ms = sio__wall_ms();
  p->text = enc->text;
  p->atts = enc->atts;
  p->natts = enc->natts;
  p->rooms = names;
  p->nrooms = nrooms;
  p->except = ex;
  p->nexcept = nexcept;
  p->bytes = sizeof *p + p->text->len + 64 * (nrooms + nexcept);
  for (size_t i = 0; i < p->natts; i++) p->bytes += p->atts[i]->len;
  memset(enc, 0, sizeof *enc);
  if (ring_push(rec, p) != 0) {
    stored_free(p);
    while (rec->count) drop_oldest(rec);
    rec->first_seq = rec->next_seq;
    SIO_LOGW("sio: recovery: out of memory, packets of %s dropped", nsp->name);
    return;
  }
  rec->bytes += p->bytes;
  sio_server_t *srv = nsp->srv;
  size_t cap = srv->opts.recovery_max_bytes;
  uint64_t evicted = 0;
  while (cap && rec->bytes > cap && rec->count > 1) {
    drop_oldest(rec);
    evicted++;
  }
  if (evicted) {
    nsp->stats.recovery_evicted += evicted;
    uint64_t now = uv_now(srv->eio->http.net.loop);
    if (!srv->rec_warned_ms || now - srv->rec_warned_ms >= 5000) {
      srv->rec_warned_ms = now;
      SIO_LOGW("sio: recovery: %s keeps over %zu bytes of packets: the oldest go before their time "
               "(%llu so far); clients away since then will get a new session",
               nsp->name, cap, (unsigned long long)nsp->stats.recovery_evicted);
    }
  }
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void session_free(session *ss) {
  json_decref(ss->rooms);
  json_decref(ss->data);
  free(ss);
}

static int recoverable(const char *reason) {
  static const char *const reasons[] = {"transport error", "transport close", "forced close",
                                        "ping timeout",    "server shutting down", "forced server close"};
  for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
    if (strcmp(reason, reasons[i]) == 0) return 1;
  return 0;
}

void sio__rec_persist(sio_socket_t *s, const char *reason) {
  sio__recovery *rec = s->nsp->rec;
  /* (Socket.IO v2 clients send no pid back: their sessions are not kept.) */
  if (!rec || !s->pid[0] || !recoverable(reason) || strlen(s->id) != 20 ||
      (s->client && eio_socket_protocol(s->client->eio) == 3))
    return;
  session *ss = calloc(1, sizeof *ss);
  json_t *rooms = sio__socket_rooms(s);
  if (!ss || !rooms) {
    free(ss);
    json_decref(rooms);
    return;
  }
  memcpy(ss->pid, s->pid, sizeof ss->pid);
  memcpy(ss->sid, s->id, sizeof ss->sid);
  ss->at_ms = sio__wall_ms();
  ss->rooms = rooms;
  ss->data = s->jdata ? json_incref(s->jdata) : NULL;
  ss->node.key = ss->pid;
  ss->node.klen = 20;
  sio__hmap_node *old = sio__hmap_get(&rec->sessions, ss->pid, 20);
  if (old) {
    sio__hmap_del(&rec->sessions, old);
    session_free(sio__container_of(old, session, node));
  }
  if (sio__hmap_put(&rec->sessions, &ss->node) != 0) session_free(ss);
}

static int in_names(char *const *names, size_t n, const json_t *rooms) {
  size_t i;
  json_t *r;
  json_array_foreach(rooms, i, r) {
    for (size_t k = 0; k < n; k++)
      if (strcmp(names[k], json_string_value(r)) == 0) return 1;
  }
  return 0;
}

int sio__rec_restore(sio_socket_t *s, const json_t *auth, sio__restored *out) {
  memset(out, 0, sizeof *out);
  sio_namespace_t *nsp = s->nsp;
  sio__recovery *rec = nsp->rec;
  const char *pid = json_string_value(json_object_get(auth, "pid"));
  const char *off = json_string_value(json_object_get(auth, "offset"));
  if (!rec || !pid || !off) return 0;
  sio__hmap_node *n = strlen(pid) == 20 ? sio__hmap_get(&rec->sessions, pid, 20) : NULL;
  if (!n) return 0; /* unknown, or swept */
  session *ss = sio__container_of(n, session, node);
  double now = sio__wall_ms();
  if (ss->at_ms + (double)nsp->srv->opts.recovery_max_disconnection_ms < now) {
    sio__hmap_del(&rec->sessions, n);
    session_free(ss);
    return 0;
  }
  uint64_t seq;
  if (parse_offset(nsp->srv, off, &seq) != 0 || !rec->count || seq < rec->first_seq ||
      seq >= rec->first_seq + rec->count)
    return 0; /* too old (or not ours): a new session, the old one stays until swept */
  /* The packets after the offset that the session's rooms would have received. */
  size_t cap = 0;
  for (uint64_t q = seq + 1; q < rec->first_seq + rec->count; q++) {
    stored *p = ring_at(rec, (size_t)(q - rec->first_seq));
    int included = p->nrooms == 0 || in_names(p->rooms, p->nrooms, ss->rooms);
    if (!included || in_names(p->except, p->nexcept, ss->rooms)) continue;
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      sio__encoded *v = realloc(out->packets, cap * sizeof *v);
      if (!v) {
        sio__restored_clear(out);
        return 0;
      }
      out->packets = v;
    }
    sio__encoded *e = &out->packets[out->n++];
    e->text = sio__rbuf_ref(p->text);
    e->natts = p->natts;
    e->atts = p->natts ? malloc(p->natts * sizeof *e->atts) : NULL;
    if (p->natts && !e->atts) {
      e->natts = 0;
      sio__restored_clear(out);
      return 0;
    }
    for (size_t i = 0; i < p->natts; i++) e->atts[i] = sio__rbuf_ref(p->atts[i]);
  }
  sio__hmap_del(&rec->sessions, n);
  memcpy(s->id_buf, ss->sid, sizeof s->id_buf);
  memcpy(s->pid, ss->pid, sizeof s->pid);
  out->rooms = ss->rooms;
  out->data = ss->data;
  free(ss);
  return 1;
}

void sio__restored_clear(sio__restored *r) {
  for (size_t i = 0; i < r->n; i++) sio__encoded_release(&r->packets[i]);
  free(r->packets);
  json_decref(r->rooms);
  json_decref(r->data);
  memset(r, 0, sizeof *r);
}

void sio__encoded_release(sio__encoded *e) {
  if (e->text) sio__rbuf_unref(e->text);
  for (size_t i = 0; i < e->natts; i++) sio__rbuf_unref(e->atts[i]);
  free(e->atts);
  memset(e, 0, sizeof *e);
}

/* ---- life cycle ------------------------------------------------------------------------------ */

sio__recovery *sio__rec_new(void) {
  sio__recovery *rec = calloc(1, sizeof *rec);
  if (rec) sio__hmap_init(&rec->sessions);
  return rec;
}

void sio__rec_free(sio__recovery *rec) {
  if (!rec) return;
  while (rec->count) drop_oldest(rec);
  free(rec->ring);
  uint32_t it;
  sio__hmap_node *n = sio__hmap_first(&rec->sessions, &it);
  while (n) {
    sio__hmap_node *next = sio__hmap_next(&rec->sessions, n, &it);
    session_free(sio__container_of(n, session, node));
    n = next;
  }
  sio__hmap_free(&rec->sessions);
  free(rec);
}

void sio__rec_sweep(sio_namespace_t *nsp, double now) {
  sio__recovery *rec = nsp->rec;
  if (!rec) return;
  double threshold = now - (double)nsp->srv->opts.recovery_max_disconnection_ms;
  uint32_t it;
  sio__hmap_node *n = sio__hmap_first(&rec->sessions, &it);
  while (n) {
    sio__hmap_node *next = sio__hmap_next(&rec->sessions, n, &it);
    session *ss = sio__container_of(n, session, node);
    if (ss->at_ms < threshold) {
      sio__hmap_del(&rec->sessions, n);
      session_free(ss);
    }
    n = next;
  }
  while (rec->count && ring_at(rec, 0)->at_ms < threshold) drop_oldest(rec);
  if (!rec->count) rec->first_seq = rec->next_seq;
}

size_t sio__rec_sessions(const sio_namespace_t *nsp) { return nsp->rec ? nsp->rec->sessions.count : 0; }
size_t sio__rec_packets(const sio_namespace_t *nsp) { return nsp->rec ? nsp->rec->count : 0; }
size_t sio__rec_bytes(const sio_namespace_t *nsp) { return nsp->rec ? nsp->rec->bytes : 0; }
