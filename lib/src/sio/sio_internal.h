/* Socket.IO server internals shared by sio_server.c (server, namespaces,
 * clients and packet dispatch), sio_socket.c (sockets, emit, acks) and
 * sio_rooms.c (rooms and broadcast). */
#ifndef SIO_SIO_INTERNAL_H
#define SIO_SIO_INTERNAL_H

#include "eio/eio_internal.h"
#include "sio.h"
#include "sio/sio_codec.h"
#include "util/hmap.h"
#include "util/tq.h"

typedef struct sio__client sio__client;
typedef struct sio__member sio__member;
typedef struct sio__recovery sio__recovery;

/* An encoded packet: its text part and binary attachments (references). */
typedef struct sio__encoded {
  sio__rbuf *text;
  sio__rbuf **atts;
  size_t natts;
} sio__encoded;

typedef struct sio__handler {
  char *event;
  sio_event_cb cb;
  void *data;
} sio__handler;

typedef struct sio__sv_handler {
  char *event;
  sio_server_event_cb cb;
  void *data;
} sio__sv_handler;

typedef struct sio__packet_mw {
  sio_packet_middleware_cb cb;
  void *data;
} sio__packet_mw;

typedef struct sio__middleware {
  sio_middleware_cb cb;
  void *data;
} sio__middleware;

struct sio_server {
  eio_server_t *eio;
  sio_options_t opts;
  sio__hmap nsps;          /* name → sio_namespace */
  sio_adapter_t *adapter;  /* NULL: in-memory only */
  sio_request_t *requests; /* cluster operations in flight (sio_cluster.c) */
  sio_namespace_t *parents; /* sio_of_match parents, linked through next_child */
  char rec_prefix[5];      /* recovery offsets: this server's random prefix */
  uint64_t rec_warned_ms;
  uv_timer_t *rec_sweep;   /* recovery: expiry sweep every 60 s (NULL: off) */
  sio__tq q_connect;       /* clients that have not joined a namespace yet */
  int closing;
  uint64_t invalid_namespace, protocol_errors, connect_timeouts; /* sio_stats_t */
  void (*on_closed)(void *arg);
  void *on_closed_arg;
};

struct sio_namespace {
  sio__hmap_node node;
  char *name;
  sio_server_t *srv;
  sio__hmap sockets;       /* socket id → sio_socket */
  sio__hmap rooms;         /* room name → sio__room (explicitly joined rooms only) */
  sio_connection_cb on_connection;
  void *on_connection_data;
  sio_disconnect_cb on_disconnect;
  void *on_disconnect_data;
  sio__handler *handlers;
  size_t nhandlers;
  sio__sv_handler *sv_handlers; /* server-side events (sio_on_server_event) */
  size_t nsv_handlers;
  sio_event_cb on_any;     /* socket.onAny */
  void *on_any_data;
  sio_outgoing_cb on_any_outgoing; /* socket.onAnyOutgoing */
  void *on_any_outgoing_data;
  sio__packet_mw *packet_mws; /* socket.use */
  size_t npacket_mws;
  /* Dynamic namespaces (sio_of_match): a parent matches names, its
   * children are made on demand and take its handlers. */
  sio_namespace_match_cb match;
  void *match_data;
  sio_namespace_t *parent;
  sio_namespace_t *next_child, *children;
  sio__middleware *mws;
  size_t nmws;
  int64_t next_ack_id;     /* server→client ack ids: one counter per namespace */
  sio__recovery *rec;      /* connection state recovery (NULL: off) */
  uint32_t epoch;          /* broadcast generation, for de-duplication */
  sio_namespace_stats_t stats; /* counters only; gauges are filled in on demand */
};

/* One per Engine.IO session: multiplexes its namespaces' sockets. */
struct sio__client {
  eio_socket_t *eio;
  sio_server_t *srv;
  sio_socket_t *sockets;   /* joined namespaces, linked through client_next */
  sio__packet pending;     /* a BINARY_* packet waiting for its attachments */
  uint8_t **bins;
  size_t *lens;
  uint32_t nbins;
  uint8_t has_pending;
  uint8_t closed;
  sio__tq_node connect_timer;
};

typedef struct sio__pending_ack {
  struct sio__pending_ack *next;
  int64_t id;
  sio_ack_cb cb;
  void *data;
  uv_timer_t *timer;       /* only for acks with a timeout */
  sio_socket_t *sock;
} sio__pending_ack;

struct sio_ack {
  sio_socket_t *sock;      /* NULL once the socket is gone */
  sio_ack_t *next;         /* in sock->kept */
  int64_t id;
  uint8_t kept;
  uint8_t done;
  uint8_t in_handler;      /* the event handler it was given to is running */
};

struct sio_socket {
  sio__hmap_node node;     /* in nsp->sockets */
  char *id;                /* id_buf, or (Socket.IO v2 clients, namespaces other than
                              "/") a heap "<nsp>#<engine id>" */
  char id_buf[21];
  char pid[21];            /* recovery: the private session id ("" when off) */
  uint8_t recovered;       /* restored by connection state recovery */
  uint8_t connected;
  uint8_t busy;            /* inside a user callback */
  uint8_t dead;            /* disconnected: free when not busy */
  sio_namespace_t *nsp;
  sio__client *client;
  sio_socket_t *client_next;
  json_t *auth;            /* owned */
  sio__member *rooms;      /* explicit rooms, linked through snext */
  sio__pending_ack *acks;  /* server→client acks awaiting the client */
  sio_ack_t *kept;         /* client→server acks the app kept for later */
  void *data;
  json_t *jdata;           /* socket.data (sio_socket_set_json), owned */
  double issued_ms;        /* creation time, ms since the epoch (handshake.issued) */
  uint32_t sent_epoch, except_epoch;
  char *refuse_message;    /* set by a refusing middleware */
  json_t *refuse_data;
};

struct sio_broadcast {
  sio_namespace_t *nsp;
  char **rooms;
  size_t nrooms;
  char **except;
  size_t nexcept;
  int local;               /* sio_bc_local: not handed to the adapter */
  unsigned flags;          /* SIO_BC_VOLATILE, SIO_BC_NO_COMPRESS */
};

/* sio_server.c */
void sio__client_send(sio__client *c, sio__rbuf *text, sio__rbuf **atts, size_t natts);
/* Encodes and sends one packet to one socket's client. `data` is borrowed. */
int sio__socket_packet(sio_socket_t *s, int type, int64_t id, const json_t *data);

/* sio_server.c: the handler for event in nsp's own table, or NULL. */
sio__handler *sio__find_handler(sio_namespace_t *nsp, const char *event);
/* The namespace named `name` (NULL: none), without creating it. */
static inline sio_namespace_t *sio__nsp_find(sio_server_t *srv, const char *name) {
  sio__hmap_node *n = name ? sio__hmap_get(&srv->nsps, name, strlen(name)) : NULL;
  return n ? sio__container_of(n, sio_namespace_t, node) : NULL;
}

/* Wall-clock time in ms since the epoch (handshake.issued, recovery ages). */
static inline double sio__wall_ms(void) {
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) != 0) return 0;
  return (double)tv.tv_sec * 1000.0 + (double)(tv.tv_usec / 1000);
}

/* sio_socket.c */
sio_socket_t *sio__socket_new(sio_namespace_t *nsp, sio__client *c, json_t *auth);
void sio__socket_free(sio_socket_t *s);
/* Leaves rooms, forgets acks, tells the app; the socket is freed later. */
void sio__socket_onclose(sio_socket_t *s, const char *reason);
void sio__socket_onpacket(sio_socket_t *s, sio__packet *p);
int sio__reserved_event(const char *event);
/* [event, ...args] as a new array (args stolen; NULL = none). */
json_t *sio__event_array(const char *event, json_t *args);
/* Whether data is such an array with an event name an app may emit. */
static inline int sio__event_data_ok(const json_t *data) {
  const char *event = json_string_value(json_array_get(data, 0));
  return json_is_array(data) && event && !sio__reserved_event(event);
}
/* Frees s if it is dead and no callback holds it (busy 0). */
static inline void sio__socket_release(sio_socket_t *s) {
  if (s->dead && !s->busy) sio__socket_free(s);
}
/* Registers a pending acknowledgement `id` on s (the packet carrying it is
 * sent by the caller): cb hears the client's answer, or NULL on timeout
 * (timeout_ms, 0: none) or disconnection. Returns 0 or EIO_ENOMEM. */
int sio__socket_expect_ack(sio_socket_t *s, int64_t id, uint32_t timeout_ms, sio_ack_cb cb, void *data);

/* sio_rooms.c */
void sio__rooms_leave_all(sio_socket_t *s);
/* Whether the client's transport takes a packet now (volatile emits skip it
 * otherwise, as socket.io: polling with a GET waiting and nothing queued,
 * WebSocket with nothing queued). */
int sio__client_writable(const sio__client *c);
/* Runs nsp's onAnyOutgoing listener (or its parent's) for each of v[0..n)
 * about data ([event, ...args]). */
void sio__tell_outgoing(sio_namespace_t *nsp, sio_socket_t *const *v, size_t n, const json_t *data);
/* This node's connected sockets in any of `rooms` (all of nsp when none)
 * minus those in `except`, each once: *out is a malloc'd array (NULL when
 * empty). Returns the count, or -1 when out of memory. */
ptrdiff_t sio__select(sio_namespace_t *nsp, const char *const *rooms, size_t nrooms,
                      const char *const *except, size_t nexcept, sio_socket_t ***out);
/* Encodes data ([event, ...args]) once as an EVENT with ack id `id` (-1:
 * none) and sends it to the selection; on_sent(s, arg), if set, runs for
 * each recipient; flags: SIO_BC_VOLATILE, SIO_BC_NO_COMPRESS; keep, if set,
 * takes the encoded buffers. Returns the recipients or a negative error. */
int sio__deliver(sio_namespace_t *nsp, const json_t *data, const char *const *rooms, size_t nrooms,
                 const char *const *except, size_t nexcept, int64_t id,
                 void (*on_sent)(sio_socket_t *s, void *arg), void *arg, sio__encoded *keep, unsigned flags);
/* An EVENT without ack to the selection: with recovery on and not volatile,
 * the offset is appended and the packet kept (sio_recovery.c). Returns the
 * recipients or a negative error. */
int sio__send_event(sio_namespace_t *nsp, const json_t *data, const char *const *rooms, size_t nrooms,
                    const char *const *except, size_t nexcept, unsigned flags);
/* The socket's rooms as socket.io lists them: its own id, then its rooms in
 * the order joined. A new array. */
json_t *sio__socket_rooms(const sio_socket_t *s);
/* Every room name of nsp: explicit rooms and every socket's own id. */
json_t *sio__all_rooms(sio_namespace_t *nsp);
/* sio_recovery.c */
#define SIO__OFFSET_MAX 24
typedef struct sio__restored {
  sio__encoded *packets;   /* missed packets, oldest first */
  size_t n;
  json_t *rooms;           /* the session's rooms (own id included) */
  json_t *data;            /* socket.data, or NULL */
} sio__restored;
sio__recovery *sio__rec_new(void);
void sio__rec_free(sio__recovery *rec);
/* data + [offset] (a new array); *seq is the packet's number, to store. */
json_t *sio__rec_offset_data(sio_namespace_t *nsp, const json_t *data, uint64_t *seq);
/* Keeps the packet (takes enc's references, clears enc). */
void sio__rec_store(sio_namespace_t *nsp, uint64_t seq, sio__encoded *enc, const char *const *rooms,
                    size_t nrooms, const char *const *except, size_t nexcept);
/* Saves s's session if the reason is one the client recovers from. */
void sio__rec_persist(sio_socket_t *s, const char *reason);
/* With auth {pid, offset} of a live session: s takes its id and pid, out
 * gets what to restore; returns 1. Otherwise 0 (a new session). */
int sio__rec_restore(sio_socket_t *s, const json_t *auth, sio__restored *out);
void sio__restored_clear(sio__restored *r);
void sio__encoded_release(sio__encoded *e);
void sio__rec_sweep(sio_namespace_t *nsp, double now);
size_t sio__rec_sessions(const sio_namespace_t *nsp);
size_t sio__rec_packets(const sio_namespace_t *nsp);
size_t sio__rec_bytes(const sio_namespace_t *nsp);

/* sio_request_t of sio_cluster.c */
/* Ends every request in flight with EIO_ECLOSED (server closing). */
void sio__requests_abort(sio_server_t *srv);

#endif
