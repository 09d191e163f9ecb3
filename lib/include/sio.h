/* sio.h: a Socket.IO v5 server (socket.io 4.x compatible) on libuv.
 *
 * Shaped after socket.io's JS API: a server has namespaces (sio_of), a
 * namespace has middlewares (sio_use), a connection handler and event
 * handlers; a socket emits to its client, joins rooms, and broadcasts.
 * Handlers are registered per namespace and apply to each of its sockets
 * (where JS code would call socket.on inside io.on("connection")).
 *
 * JSON values are jansson's json_t. Ownership follows jansson's words:
 *  - "steals": the function takes over the caller's reference (as
 *    json_array_append_new); pass a new reference, e.g. json_pack(...).
 *  - "borrowed": valid during the callback only; json_incref to keep it.
 * Event arguments are always a JSON array (NULL is taken as []).
 *
 * Binary data (Buffer/ArrayBuffer in JS) travels as binary attachments:
 * build it with sio_binary_new() and put it anywhere in the arguments;
 * received binary values answer sio_is_binary().
 *
 * All calls must be made on the loop's thread. Sockets are freed after
 * their disconnect handler returns; never keep a sio_socket_t * past it. */
#ifndef SIO_H
#define SIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "eio.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sio_server sio_server_t;
typedef struct sio_namespace sio_namespace_t;
typedef struct sio_socket sio_socket_t;
typedef struct sio_ack sio_ack_t;
typedef struct sio_broadcast sio_broadcast_t;

typedef struct sio_options {
  eio_options_t eio;            /* path "/socket.io/", heartbeat, CORS, HTTP handler ... */
  uint32_t connect_timeout_ms;  /* a client must join a namespace within, 45000 */
  /* Connection state recovery (socket.io's connectionStateRecovery; off by
   * default). On: every event sent without an ack and not volatile carries
   * an offset (an extra last argument, as in socket.io) and is kept; a
   * client whose connection dropped (transport close/error, ping timeout,
   * forced or server close) and that comes back within
   * recovery_max_disconnection_ms gets its socket back: same id, rooms and
   * sio_socket_json data, every event it missed replayed before the
   * CONNECT reply, sio_socket_recovered() true, middlewares skipped unless
   * recovery_skip_middlewares is 0. Sessions and events are kept on this
   * node only (with a cluster adapter too: a client recovers when it comes
   * back to the same node, as sticky sessions make it). */
  int recovery;
  uint32_t recovery_max_disconnection_ms; /* 120000 */
  int recovery_skip_middlewares;          /* 1 */
  size_t recovery_max_bytes;    /* events kept per namespace, 64 MiB; past it the oldest
                                   go early (logged, counted in recovery_evicted) and
                                   clients away since then get a new session. 0: no cap */
} sio_options_t;

/* Fills the defaults (eio_options_init with path "/socket.io/"). */
void sio_options_init(sio_options_t *opts);

/* ---- server ------------------------------------------------------------- */

/* `opts->eio.callbacks` are used by sio itself and must be left empty. */
int sio_server_new(uv_loop_t *loop, const sio_options_t *opts, sio_server_t **out);
int sio_server_listen(sio_server_t *srv, const char *host, int port);
int sio_server_port(const sio_server_t *srv);
/* Disconnects everyone (reason "server shutting down"; no DISCONNECT packets
 * are sent, as in socket.io), closes the listener, then calls on_closed. */
void sio_server_close(sio_server_t *srv, void (*on_closed)(void *arg), void *arg);
/* Graceful shutdown, first step (see eio_server_drain): new connections are
 * refused with 503 and every client's Engine.IO connection is closed (the
 * client sees "transport close" and, with reconnection on, reconnects,
 * elsewhere or to this server once it is back); disconnect handlers hear
 * "server shutting down". As with sio_server_close, no DISCONNECT packets
 * are sent: they would tell clients not to reconnect. Then wait for
 * eio_server_clients_count() and eio_server_connections_count() of
 * sio_server_engine() to reach 0 (or a deadline) and call sio_server_close. */
void sio_server_drain(sio_server_t *srv);
eio_server_t *sio_server_engine(sio_server_t *srv);

/* ---- statistics ------------------------------------------------------------ */

/* Counters of one namespace since it was created (gauges: now). Plain
 * integers bumped on the loop thread: no locks, no allocation. */
typedef struct sio_namespace_stats {
  uint64_t sockets;              /* gauge: connected sockets */
  uint64_t rooms;                /* gauge: rooms with members, not counting each
                                    socket's own-id room */
  uint64_t connects;             /* sockets admitted (CONNECT answered with its sid) */
  uint64_t disconnects;          /* sockets gone, whatever the reason */
  uint64_t connect_errors;       /* CONNECTs refused by a middleware (CONNECT_ERROR sent) */
  uint64_t events_in;            /* EVENT/BINARY_EVENT packets from clients (handled or not) */
  uint64_t events_out;           /* EVENT packets sent, one per recipient: sio_emit*,
                                    plus every broadcast delivery */
  uint64_t acks_in;              /* ACK/BINARY_ACK packets from clients */
  uint64_t acks_out;             /* acknowledgements sent (sio_ack) */
  uint64_t broadcasts;           /* broadcasts made on this node: sio_bc_emit calls
                                    (sio_emit_all, sio_emit_to, sio_broadcast_emit,
                                    ...) and sio_bc_emit_with_ack, that were sent
                                    (those from other nodes are not counted here,
                                    see the cluster adapter's stats) */
  uint64_t broadcast_deliveries; /* recipients of those, summed */
  uint64_t recovered;            /* sockets restored by connection state recovery */
  uint64_t recovery_evicted;     /* events dropped before their time (recovery_max_bytes) */
  uint64_t recovery_sessions;    /* gauge: sessions kept for clients away */
  uint64_t recovery_packets;     /* gauge: events kept */
  uint64_t recovery_bytes;       /* gauge: their approximate size */
} sio_namespace_stats_t;

typedef struct sio_stats {
  eio_stats_t eio;               /* the Engine.IO server's (connections, sessions, bytes...) */
  uint64_t namespaces;           /* gauge: namespaces created with sio_of */
  sio_namespace_stats_t total;   /* the sums over every namespace */
  uint64_t invalid_namespace;    /* CONNECTs to a namespace that does not exist (CONNECT_ERROR
                                    "Invalid namespace"); total.connect_errors + this = all
                                    connect errors */
  uint64_t protocol_errors;      /* connections closed for a Socket.IO protocol violation
                                    (undecodable packet, packet for an unjoined namespace...) */
  uint64_t connect_timeouts;     /* connections closed for joining no namespace in time */
} sio_stats_t;

void sio_server_stats(const sio_server_t *srv, sio_stats_t *out);
void sio_namespace_stats(const sio_namespace_t *nsp, sio_namespace_stats_t *out);

/* ---- namespaces ----------------------------------------------------------- */

/* The namespace named `name` ("/", "/chat"), created on first use. Clients
 * can only join namespaces created this way ("Invalid namespace" otherwise). */
sio_namespace_t *sio_of(sio_server_t *srv, const char *name);
const char *sio_namespace_name(const sio_namespace_t *nsp);
size_t sio_namespace_count(const sio_namespace_t *nsp);  /* connected sockets */
sio_server_t *sio_namespace_server(const sio_namespace_t *nsp);

/* Middleware: runs for each CONNECT before the socket is admitted, in
 * registration order. Return 0 to go on, -1 to refuse: the client gets a
 * CONNECT_ERROR with the message and data set by sio_socket_refuse() (or
 * "Not authorized" if none was set). */
typedef int (*sio_middleware_cb)(sio_socket_t *s, void *data);
void sio_use(sio_namespace_t *nsp, sio_middleware_cb cb, void *data);
/* Sets the CONNECT_ERROR sent when a middleware refuses. Steals `data` (may be NULL). */
void sio_socket_refuse(sio_socket_t *s, const char *message, json_t *data);

typedef void (*sio_connection_cb)(sio_socket_t *s, void *data);
/* `reason`: "transport close", "transport error", "ping timeout", "parse error",
 * "forced close", "server shutting down", "client namespace disconnect",
 * "server namespace disconnect". */
typedef void (*sio_disconnect_cb)(sio_socket_t *s, const char *reason, void *data);
/* `args` is borrowed (a JSON array, without the event name). `ack` is non-NULL
 * when the client asked for an acknowledgement: answer it with sio_ack(). */
typedef void (*sio_event_cb)(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack,
                             void *data);

/* One handler of each kind per namespace (and per event name); setting
 * again replaces. cb NULL removes. */
void sio_on_connection(sio_namespace_t *nsp, sio_connection_cb cb, void *data);
void sio_on_disconnect(sio_namespace_t *nsp, sio_disconnect_cb cb, void *data);
void sio_on(sio_namespace_t *nsp, const char *event, sio_event_cb cb, void *data);
/* socket.onAny: cb hears every event a socket of nsp receives, before the
 * event's own handler (with the same args and ack, if any). cb NULL removes. */
void sio_on_any(sio_namespace_t *nsp, sio_event_cb cb, void *data);
/* socket.onAnyOutgoing: cb hears every event sent to a socket of nsp
 * (sio_emit*, and each recipient of a broadcast), after it was queued.
 * `args` is borrowed, without the event name (with recovery on, the offset
 * is its last element, as in socket.io). cb NULL removes. */
typedef void (*sio_outgoing_cb)(sio_socket_t *s, const char *event, const json_t *args, void *data);
void sio_on_any_outgoing(sio_namespace_t *nsp, sio_outgoing_cb cb, void *data);
/* socket.use: a packet middleware, run for every event a socket of nsp
 * receives, in registration order, before the listeners. Return 0 to go on;
 * nonzero drops the event (nothing is sent to the client: as socket.io's
 * next(err), whose error stays on the server). */
typedef int (*sio_packet_middleware_cb)(sio_socket_t *s, const char *event, json_t *args, void *data);
void sio_use_packet(sio_namespace_t *nsp, sio_packet_middleware_cb cb, void *data);

/* Dynamic namespaces, as io.of(regex) / io.of((name, auth, next) => ...):
 * the returned parent namespace admits no client itself; a CONNECT to a
 * namespace that does not exist and for which match() returns nonzero
 * creates it as a child of the parent. A child uses the parent's
 * middlewares (sio_use, sio_use_packet: the parent's first, then its own),
 * connection and disconnect handlers and event handlers (its own, if set,
 * come first). Broadcasting on the parent (sio_bc_new(parent), sio_emit_all)
 * reaches every child. `auth` is the CONNECT's payload (borrowed). Parents
 * are tried in creation order. */
typedef int (*sio_namespace_match_cb)(const char *name, const json_t *auth, void *data);
sio_namespace_t *sio_of_match(sio_server_t *srv, sio_namespace_match_cb match, void *data);

/* ---- sockets ---------------------------------------------------------------- */

const char *sio_socket_id(const sio_socket_t *s);       /* 20 chars, not the Engine.IO sid */
sio_namespace_t *sio_socket_namespace(const sio_socket_t *s);
int sio_socket_connected(const sio_socket_t *s);
/* socket.recovered: restored by connection state recovery (sio_options_t). */
int sio_socket_recovered(const sio_socket_t *s);
eio_transport_t sio_socket_transport(const sio_socket_t *s);
/* Handshake: the CONNECT auth payload (borrowed object, {} if none), the
 * Engine.IO handshake's raw query string, headers, and peer address. */
json_t *sio_socket_auth(const sio_socket_t *s);
const char *sio_socket_query(const sio_socket_t *s);
const char *sio_socket_header(const sio_socket_t *s, const char *name);
const char *sio_socket_address(const sio_socket_t *s);
void sio_socket_set_data(sio_socket_t *s, void *data);
void *sio_socket_get_data(const sio_socket_t *s);
/* socket.data: JSON the application attaches to a socket (steals; NULL
 * clears), shown to sio_bc_fetch_sockets on every node of a cluster.
 * sio_socket_json returns it borrowed, or NULL. */
void sio_socket_set_json(sio_socket_t *s, json_t *data);
json_t *sio_socket_json(const sio_socket_t *s);
/* socket.handshake as socket.io builds it (new reference): {headers, time,
 * address, xdomain, secure, issued, url, query, auth}. */
json_t *sio_socket_handshake(const sio_socket_t *s);

/* Rooms: every socket is in the room named by its id. */
int sio_socket_join(sio_socket_t *s, const char *room);
int sio_socket_leave(sio_socket_t *s, const char *room);
int sio_socket_in_room(const sio_socket_t *s, const char *room);

/* Leaves the namespace (the client gets DISCONNECT, reason "server namespace
 * disconnect"); with close_connection, also closes the Engine.IO connection
 * (every namespace of that client). */
void sio_socket_disconnect(sio_socket_t *s, int close_connection);

/* ---- emitting ------------------------------------------------------------------ */

/* Emits `event` with `args` (steals; a JSON array or NULL) to this socket.
 * Returns 0, or EIO_ECLOSED / EIO_EINVAL (reserved event name such as
 * "connect", "disconnect", ...). */
int sio_emit(sio_socket_t *s, const char *event, json_t *args);
/* socket.volatile.emit: dropped if the client's transport is not ready to
 * take it right now (a long-poll not waiting, a WebSocket with writes
 * queued); never kept for recovery. */
int sio_emit_volatile(sio_socket_t *s, const char *event, json_t *args);
/* socket.volatile / socket.compress(false) as flags (SIO_BC_VOLATILE,
 * SIO_BC_NO_COMPRESS) for one emit; sio_emit_flags(s, ev, args, 0) is sio_emit. */
int sio_emit_flags(sio_socket_t *s, const char *event, json_t *args, unsigned flags);

/* `args` is borrowed: the client's answer, or NULL when the timeout passed
 * or the socket disconnected first. */
typedef void (*sio_ack_cb)(sio_socket_t *s, json_t *args, void *data);
/* Emits and waits for the client's acknowledgement for up to timeout_ms
 * (0: no timeout, the callback still runs with NULL on disconnect). */
int sio_emit_with_ack(sio_socket_t *s, const char *event, json_t *args, uint32_t timeout_ms,
                      sio_ack_cb cb, void *data);

/* Answers an acknowledgement (steals `args`). Each sio_ack_t must be
 * answered at most once; one not answered by the time the event handler
 * returns is dropped (no reply), unless sio_ack_keep() was called: then it
 * stays valid until answered, even after the socket disconnects (then
 * nothing is sent). */
int sio_ack(sio_ack_t *ack, json_t *args);
void sio_ack_keep(sio_ack_t *ack);

/* Broadcasts, encoded once whatever the number of recipients.
 * io.emit(...)                        → sio_emit_all(nsp, ...)
 * io.to(room).emit(...)               → sio_emit_to(nsp, room, ...)
 * socket.broadcast.emit(...)          → sio_broadcast_emit(s, ...)
 * socket.to(room).emit(...)           → sio_broadcast_to(s, room) then sio_bc_emit
 * io.to(a).to(b).except(c).emit(...)  → sio_bc_new(nsp), sio_bc_to ×2, sio_bc_except, sio_bc_emit
 * All steal `args`. */
int sio_emit_all(sio_namespace_t *nsp, const char *event, json_t *args);
int sio_emit_to(sio_namespace_t *nsp, const char *room, const char *event, json_t *args);
int sio_broadcast_emit(sio_socket_t *s, const char *event, json_t *args);

sio_broadcast_t *sio_bc_new(sio_namespace_t *nsp);             /* everyone in nsp */
sio_broadcast_t *sio_broadcast_to(sio_socket_t *s, const char *room); /* room minus s */
sio_broadcast_t *sio_bc_to(sio_broadcast_t *b, const char *room);     /* returns b */
sio_broadcast_t *sio_bc_except(sio_broadcast_t *b, const char *room); /* returns b */
/* Emits to the union of the target rooms (each socket once) minus the except
 * rooms, then frees b. Returns the number of recipients or a negative error. */
int sio_bc_emit(sio_broadcast_t *b, const char *event, json_t *args);
void sio_bc_free(sio_broadcast_t *b);
/* io.local: this node's sockets only, even with a cluster adapter. Returns b. */
sio_broadcast_t *sio_bc_local(sio_broadcast_t *b);
/* io.volatile: as sio_emit_volatile, for each recipient. Returns b. */
sio_broadcast_t *sio_bc_volatile(sio_broadcast_t *b);
/* io.compress(false): sent without permessage-deflate, and polling
 * responses holding only such packets are not gzipped. Returns b. */
sio_broadcast_t *sio_bc_compress(sio_broadcast_t *b, int compress);

/* io.timeout(ms).emit(event, ...args, (err, responses) => ...): a broadcast
 * whose recipients, on every node, are each asked for an acknowledgement.
 * cb runs once: err 0 with every recipient's answer (the first argument of
 * each, in arrival order) once all have answered, or EIO_ETIMEDOUT after
 * timeout_ms with the answers received so far. `responses` is borrowed.
 * A recipient that disconnects without answering is waited for until the
 * timeout, as in socket.io. Steals args, frees b. Returns 0 (cb will run) or
 * a negative error (cb will not). */
typedef void (*sio_responses_cb)(int err, json_t *responses, void *data);
int sio_bc_emit_with_ack(sio_broadcast_t *b, const char *event, json_t *args, uint32_t timeout_ms,
                         sio_responses_cb cb, void *data);

/* ---- operations on the sockets a broadcast selects, on every node ----------------
 * As socket.io's io.in(rooms).except(rooms).fetchSockets(), socketsJoin(),
 * socketsLeave(), disconnectSockets(): the selection is the broadcast's rooms
 * and except (the whole namespace without rooms). Applied to this node's
 * sockets at once and, with a cluster adapter (unless sio_bc_local), sent to
 * the other nodes. All free b. */

/* The selected sockets as a JSON array of {id, handshake, rooms, data}
 * (socket.io's RemoteSocket, as the Redis adapter carries it: rooms start
 * with the socket's own id; data is sio_socket_json or null). cb runs once,
 * never inside this call: err 0 with every node's sockets, or EIO_ETIMEDOUT
 * after 5 s with those received (socket.io rejects instead). `sockets` is
 * borrowed. An entry's id can be targeted with sio_bc_to() wherever the
 * socket lives. Returns 0 or a negative error (cb will not run). */
typedef void (*sio_fetch_cb)(int err, json_t *sockets, void *data);
int sio_bc_fetch_sockets(sio_broadcast_t *b, sio_fetch_cb cb, void *data);
/* Every selected socket joins (leaves) `room`. Returns the number of this
 * node's sockets selected (whether or not they were in the room already),
 * or a negative error. */
int sio_bc_sockets_join(sio_broadcast_t *b, const char *room);
int sio_bc_sockets_leave(sio_broadcast_t *b, const char *room);
/* sio_socket_disconnect(s, close_connection) on every selected socket.
 * Returns the number of this node's sockets disconnected. */
int sio_bc_disconnect_sockets(sio_broadcast_t *b, int close_connection);

/* ---- messages between the servers of a cluster --------------------------------
 * io.serverSideEmit(event, ...args) and io.on(event, handler) of socket.io:
 * events sent to the other nodes' handlers for this namespace (never to this
 * node's own), through the cluster adapter; without one there is nobody to
 * hear them. */

typedef struct sio_server_ack sio_server_ack_t;
/* `args` is borrowed. `ack` is non-NULL when the sender waits for an answer:
 * answer it once with sio_server_ack(); unanswered when the handler returns,
 * it is dropped (the sender times out on us, as with a JS handler that never
 * calls its callback) unless sio_server_ack_keep() was called. */
typedef void (*sio_server_event_cb)(sio_namespace_t *nsp, const char *event, json_t *args,
                                    sio_server_ack_t *ack, void *data);
/* One handler per event name; setting again replaces, cb NULL removes. */
void sio_on_server_event(sio_namespace_t *nsp, const char *event, sio_server_event_cb cb, void *data);
/* Answers with one value (steals `value`; NULL sends nothing but null). */
int sio_server_ack(sio_server_ack_t *ack, json_t *value);
void sio_server_ack_keep(sio_server_ack_t *ack);

/* Sends to the other nodes (steals args). Returns 0, or a negative error
 * (EIO_ECLOSED: no cluster adapter, or it could not publish: logged). */
int sio_server_side_emit(sio_namespace_t *nsp, const char *event, json_t *args);
/* serverSideEmitWithAck: cb runs once, never inside this call, with one
 * answer per other node: err 0 when every node counted by the cluster
 * answered, EIO_ETIMEDOUT after timeout_ms (0: 5000, the reference's
 * requestsTimeout) with the answers so far. Without other nodes: 0 and [].
 * Returns 0 or a negative error (cb will not run). */
int sio_server_side_emit_with_ack(sio_namespace_t *nsp, const char *event, json_t *args,
                                  uint32_t timeout_ms, sio_responses_cb cb, void *data);

/* ---- cluster adapters ---------------------------------------------------------
 * As socket.io's Adapter: without one, broadcasts reach this node's sockets
 * only (the in-memory adapter, built in). With one, every broadcast is
 * delivered here first, then handed to the adapter to forward to the other
 * nodes; what other nodes broadcast is handed back with
 * sio_adapter_deliver(). */
typedef struct sio_broadcast_info {
  const char *nsp;           /* namespace name, "/" or "/chat" */
  const json_t *data;        /* [event, ...args] (binaries as sio_binary values) */
  const char *const *rooms;  /* target rooms (none: the whole namespace) */
  size_t nrooms;
  const char *const *except; /* rooms (and socket ids) left out */
  size_t nexcept;
  unsigned flags;            /* SIO_BC_VOLATILE (may be dropped where a transport is busy),
                                SIO_BC_NO_COMPRESS (sent without compression) */
} sio_broadcast_info_t;
enum { SIO_BC_VOLATILE = 1, SIO_BC_NO_COMPRESS = 2 };

/* A cluster operation waiting for other nodes' answers, owned by the
 * server. The adapter learns what to ask with the sio_request_* getters,
 * then reports: how many other nodes will answer (once known), and each
 * answer. The server ends the request (calls the application back) once
 * every expected node has answered, or at its deadline; just before it is
 * freed, the on_end hook set by the adapter runs, after which the adapter
 * must forget it. */
typedef struct sio_request sio_request_t;
enum {
  SIO_REQ_FETCH_SOCKETS = 1, /* answers: sio_request_add_sockets */
  SIO_REQ_SERVER_EMIT = 2,   /* answers: sio_request_add_answer, one per node */
  SIO_REQ_BROADCAST_ACK = 3  /* answers: sio_request_add_clients (a node's recipient
                                count), then sio_request_add_answer per client ack */
};
int sio_request_kind(const sio_request_t *r);
/* FETCH_SOCKETS and BROADCAST_ACK: the selection (and data: [event, ...args]);
 * SERVER_EMIT: nsp and data only. Borrowed, valid until on_end. */
const sio_broadcast_info_t *sio_request_info(const sio_request_t *r);
uint32_t sio_request_timeout_ms(const sio_request_t *r);
/* n other nodes will answer (FETCH/SERVER_EMIT: each once; BROADCAST_ACK:
 * each with a client count). Until this is called, the request waits. */
void sio_request_expect_nodes(sio_request_t *r, size_t n);
/* No other node will answer any more (the adapter lost its link or is
 * closing): the request ends with what it has once this node's own part is
 * done, without waiting for its deadline. */
void sio_request_no_more_nodes(sio_request_t *r);
/* One node's answer: the array of its sockets (borrowed; the elements are
 * taken by reference into the results, so leave them unchanged). */
void sio_request_add_sockets(sio_request_t *r, const json_t *sockets);
/* SERVER_EMIT: one node's answer; BROADCAST_ACK: one client's. Borrowed. */
void sio_request_add_answer(sio_request_t *r, const json_t *value);
void sio_request_add_clients(sio_request_t *r, size_t clients);
void sio_request_on_end(sio_request_t *r, void (*fn)(sio_request_t *r, void *arg), void *arg);

/* socketsJoin / socketsLeave / disconnectSockets, for sockets_op. */
enum { SIO_OP_JOIN = 1, SIO_OP_LEAVE = 2, SIO_OP_DISCONNECT = 3 };

typedef struct sio_adapter {
  /* A broadcast made on this node (already delivered locally). Everything
   * in `bc` is borrowed for the call. */
  void (*broadcast)(struct sio_adapter *a, const sio_broadcast_info_t *bc);
  /* The optional members below may be NULL: the operation then stays on
   * this node. */
  /* A namespace exists on this node: called for every namespace when the
   * adapter is installed, and for each one created later. */
  void (*namespace_added)(struct sio_adapter *a, const char *nsp);
  /* socketsJoin/Leave (room set) or disconnectSockets (close set) made on
   * this node, already applied here: forward it. */
  void (*sockets_op)(struct sio_adapter *a, int op, const sio_broadcast_info_t *sel, const char *room,
                     int close);
  /* A request made on this node (its local part done). Return 0 and report
   * through the request, or a negative error: the request then ends with
   * this node's part alone. Never end the request inside this call. */
  int (*request)(struct sio_adapter *a, sio_request_t *r);
  /* io.serverSideEmit without an acknowledgement. Return 0 or an error. */
  int (*server_emit)(struct sio_adapter *a, const char *nsp, const json_t *data);
  void *data;
} sio_adapter_t;

/* Installs (or, with NULL, removes) the server's adapter; the caller keeps
 * ownership and must keep it alive while installed. */
void sio_server_set_adapter(sio_server_t *srv, sio_adapter_t *adapter);
/* A broadcast from another node: delivered to this node's sockets only
 * (rooms and except applied as for sio_bc_emit; an unknown namespace reaches
 * nobody). Returns the number of recipients or a negative error. */
int sio_adapter_deliver(sio_server_t *srv, const sio_broadcast_info_t *bc);

/* Operations other nodes ask for, applied to this node's sockets only. */
/* fetchSockets: a new JSON array of {id, handshake, rooms, data}. */
json_t *sio_adapter_fetch_sockets(sio_server_t *srv, const sio_broadcast_info_t *sel);
/* The ids of the sockets in any of sel's rooms (all when none): a new array. */
json_t *sio_adapter_socket_ids(sio_server_t *srv, const sio_broadcast_info_t *sel);
/* Every room of the namespace, sockets' own-id rooms included: a new array. */
json_t *sio_adapter_all_rooms(sio_server_t *srv, const char *nsp);
/* socketsJoin/Leave/disconnectSockets; returns the sockets affected. */
int sio_adapter_sockets_op(sio_server_t *srv, int op, const sio_broadcast_info_t *sel, const char *room,
                           int close);
/* A server-side event (data: [event, ...args]) for this node's handler.
 * With reply non-NULL, the handler gets an ack that calls reply(value, arg)
 * once when answered; done(arg) runs once the ack is answered or dropped
 * (reply, if at all, before it). Returns 1 if a handler ran, 0 if none. */
int sio_adapter_server_event(sio_server_t *srv, const char *nsp, const json_t *data,
                             void (*reply)(const json_t *value, void *arg), void (*done)(void *arg),
                             void *arg);
/* A broadcast with acknowledgements asked by another node: delivered here
 * with one ack id; clients(n, arg) runs at once with the recipients here,
 * answer(value, arg) for each acknowledgement (its first argument), and
 * done(arg) once every recipient has answered, left or run out of
 * timeout_ms. Returns 0 (the callbacks will run) or a negative error. */
int sio_adapter_broadcast_with_ack(sio_server_t *srv, const sio_broadcast_info_t *bc, uint32_t timeout_ms,
                                   void (*clients)(size_t n, void *arg),
                                   void (*answer)(const json_t *value, void *arg), void (*done)(void *arg),
                                   void *arg);

/* The Redis adapter, wire-compatible with @socket.io/redis-adapter v8, so
 * sio nodes and Node.js socket.io nodes share broadcasts through one Redis:
 * io.emit, to(room), except, socket.broadcast reach the clients of every
 * node. url: redis://HOST[:PORT][/DB]. It installs itself on srv, connects
 * in the background and reconnects with backoff; while Redis is away,
 * broadcasts reach this node's clients only, and what could not be
 * published is logged and counted (stats). fetchSockets, socketsJoin/Leave,
 * disconnectSockets, serverSideEmit and broadcasts with acks work across
 * nodes through the request/response channels; the number of nodes is
 * Redis' count of subscribers to the namespace's request channel (PUBSUB
 * NUMSUB), and requests give up after 5 s.
 * Returns 0, EIO_EINVAL (bad URL: logged) or EIO_ENOMEM. */
typedef struct sio_redis_adapter sio_redis_adapter_t;
typedef struct sio_redis_adapter_stats {
  uint64_t published;      /* broadcasts handed to Redis */
  uint64_t publish_failed; /* broadcasts not published (Redis down, encoding) */
  uint64_t publish_lost;   /* handed over, but the link died before Redis took them */
  uint64_t received;       /* broadcasts from other nodes */
  uint64_t deliveries;     /* ... and the local sockets they reached */
  uint64_t invalid;        /* undecodable messages ignored */
  uint64_t requests_sent;      /* requests to the other nodes (fetchSockets, socketsJoin...) */
  uint64_t requests_failed;    /* ... that could not be published: local part only */
  uint64_t requests_received;  /* other nodes' requests handled */
  uint64_t responses_sent;     /* answers to them published */
  uint64_t responses_received; /* answers to our requests */
  uint64_t reconnects;
  int connected;           /* both Redis links up, subscriptions confirmed */
} sio_redis_adapter_stats_t;
int sio_redis_adapter_new(uv_loop_t *loop, sio_server_t *srv, const char *url, sio_redis_adapter_t **out);
const char *sio_redis_adapter_uid(const sio_redis_adapter_t *a);
void sio_redis_adapter_stats(const sio_redis_adapter_t *a, sio_redis_adapter_stats_t *out);
/* Uninstalls the adapter and closes its Redis links (queued publishes are
 * flushed for up to 1 s); on_closed (may be NULL) runs when all is freed. */
void sio_redis_adapter_close(sio_redis_adapter_t *a, void (*on_closed)(void *arg), void *arg);

/* ---- binary ------------------------------------------------------------------ */

/* A binary value to put in event arguments (new reference; bytes copied). */
json_t *sio_binary_new(const void *data, size_t len);
int sio_is_binary(const json_t *v);
/* The bytes of a binary value (borrowed, valid while v is), or NULL. */
const void *sio_binary_data(const json_t *v, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
