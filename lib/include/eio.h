/* eio.h: the Engine.IO v4 server of libsio, usable on its own (as `engine.io`
 * is in Node.js). It owns an HTTP/1.1 listener on a libuv loop, speaks HTTP
 * long-polling and WebSocket, upgrades between them, and keeps each session
 * alive with heartbeats. Above it, sio.h adds Socket.IO.
 *
 * Conventions (as libuv): functions return 0 or a negative error code
 * (EIO_E* below, or a libuv UV_E* code passed through); callbacks receive the
 * object first; every object has a `void *data`-style user pointer. All calls
 * must be made on the loop's thread. Objects are never freed inside their own
 * callbacks: a socket closed from a callback is released after it returns. */
#ifndef EIO_H
#define EIO_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes (negative). */
#define EIO_EINVAL (-4001)  /* bad argument or option */
#define EIO_ECLOSED (-4002) /* the socket is closing or closed */
#define EIO_ENOMEM (-4003)
#define EIO_ETOOBIG (-4004) /* message over maxPayload */
#define EIO_EFULL (-4005)   /* the socket's send queue is over its cap */
#define EIO_ETLS (-4006)    /* TLS set-up failed (certificate or key unreadable or invalid) */
#define EIO_ETIMEDOUT (-4007) /* a cluster operation or acknowledgement ran out of time */

const char *eio_strerror(int err);

typedef struct eio_server eio_server_t;
typedef struct eio_socket eio_socket_t;
typedef struct eio_http_request eio_http_request_t;

/* Why a session ended (PROTOCOL.md 1.9); eio_close_reason_str() gives the
 * reference's string ("transport close", "ping timeout", ...). */
typedef enum eio_close_reason {
  EIO_CLOSE_TRANSPORT_CLOSE = 0, /* the client closed (POST "1", WebSocket closed) */
  EIO_CLOSE_TRANSPORT_ERROR,     /* dropped long-poll, protocol violation, oversized message */
  EIO_CLOSE_PING_TIMEOUT,        /* no pong within pingTimeout */
  EIO_CLOSE_PARSE_ERROR,         /* a packet that does not decode */
  EIO_CLOSE_FORCED,              /* eio_socket_close() */
  EIO_CLOSE_SERVER_SHUTDOWN,     /* eio_server_close() or eio_server_drain() */
} eio_close_reason_t;
#define EIO_CLOSE_REASON_COUNT 6

const char *eio_close_reason_str(eio_close_reason_t reason);

typedef enum eio_transport { EIO_TRANSPORT_POLLING = 1, EIO_TRANSPORT_WEBSOCKET = 2 } eio_transport_t;

typedef struct eio_callbacks {
  /* A session opened (the open packet is already queued). */
  void (*on_open)(eio_socket_t *sock, void *data);
  /* A message: text (UTF-8, binary == 0) or binary. `msg` is valid only during the call. */
  void (*on_message)(eio_socket_t *sock, const char *msg, size_t len, int binary, void *data);
  /* The session closed; `sock` is freed after this returns. */
  void (*on_close)(eio_socket_t *sock, eio_close_reason_t reason, void *data);
  /* The session switched from polling to WebSocket (optional). */
  void (*on_upgrade)(eio_socket_t *sock, void *data);
} eio_callbacks_t;

/* Answers HTTP requests outside the Engine.IO path (static files, health
 * checks, ...). Return 1 if the request was answered with eio_http_respond()
 * during the call, 0 to let the server answer 404. */
typedef int (*eio_http_handler_t)(eio_http_request_t *req, void *data);

/* Decides whether an Engine.IO handshake or upgrade request may proceed (as
 * Node's allowRequest). Return nonzero to allow. To refuse, return 0: the
 * client gets 403 {"code":4,"message":"Forbidden"}, or *message in place of
 * "Forbidden" if set (a static string, JSON-safe). Only the request
 * accessors below may be used on `req` (no eio_http_respond). */
typedef int (*eio_allow_request_t)(const eio_http_request_t *req, const char **message, void *data);

typedef struct eio_options {
  const char *path;             /* "/engine.io/" (sio uses "/socket.io/"); matched by prefix */
  uint32_t ping_interval_ms;    /* 25000 */
  uint32_t ping_timeout_ms;     /* 20000 */
  uint32_t upgrade_timeout_ms;  /* 10000 */
  size_t max_payload;           /* maxHttpBufferSize, 1000000 */
  int allow_upgrades;           /* 1 */
  int transports;               /* EIO_TRANSPORT_POLLING | EIO_TRANSPORT_WEBSOCKET */
  int allow_eio3;               /* 0. Nonzero: also accept Engine.IO v3 clients (EIO=3, as
                                   socket.io-client 2.x sends; Node's allowEIO3): their
                                   heartbeat, payload and binary framing are v3, their
                                   messages reach on_message as any other. Off: an EIO=3
                                   handshake gets 400 {"code":5,...}. */
  /* CORS (as Node's `cors` package under engine.io; PROTOCOL.md 1.12). Off
   * unless cors_origin or cors_origins is set; then applied to every request
   * under `path` (errors and the WebSocket 101 too) and OPTIONS requests are
   * answered as preflights. */
  const char *cors_origin;      /* "*" (Allow-Origin: *) or one fixed origin (sent as is,
                                   with Vary: Origin). With "*" and cors_credentials the
                                   request's Origin is reflected instead of "*". */
  const char *const *cors_origins; /* a NULL-terminated list of exact origins: the request's
                                   Origin is reflected when listed, no Allow-Origin header
                                   otherwise; Vary: Origin always. Wins over cors_origin. */
  int cors_credentials;         /* send Access-Control-Allow-Credentials: true */
  const char *cors_methods;     /* preflight Allow-Methods; NULL: GET,HEAD,PUT,PATCH,POST,DELETE */
  const char *cors_allowed_headers; /* preflight Allow-Headers ("Content-Type,Authorization");
                                   NULL: echo Access-Control-Request-Headers (+ Vary) */
  const char *cors_exposed_headers; /* Access-Control-Expose-Headers; NULL: none */
  uint32_t cors_max_age;        /* preflight Access-Control-Max-Age in seconds; 0: not sent */
  int cors_preflight_status;    /* status of a preflight answer, 204 */
  size_t max_header_bytes;      /* request line + headers, 16384 (431 past it) */
  uint32_t header_timeout_ms;   /* a request's headers must arrive within, 30000 */
  uint32_t keepalive_timeout_ms;/* idle keep-alive HTTP connections closed after, 5000 */
  uint32_t body_timeout_ms;     /* a request's body must arrive within, after its headers, 30000 */
  size_t max_send_queue;        /* bytes queued to one client (WebSocket frames or pending
                                   long-poll packets) before it is dropped, 4 MiB; at
                                   least max_payload + 64 KiB is used */
  size_t max_connections;       /* open TCP connections; past it new ones get 503. 0: the
                                   process's open-file limit minus 64 (the default) */
  const char *const *allowed_origins; /* NULL: any. Else a NULL-terminated list of exact
                                   Origin values ("https://a.example"); a handshake or
                                   upgrade with another Origin gets 403. Requests without
                                   an Origin header (non-browser clients) are allowed. */
  eio_allow_request_t allow_request; /* optional, after the origin check */
  /* TLS (https and wss on the listening port): PEM files, the certificate
   * chain (leaf first) and its private key. Both NULL: plain TCP. Reasons
   * for a failure are logged; eio_server_new returns EIO_ETLS. TLS 1.2
   * (mbedTLS 2.28 has no TLS 1.3), ALPN http/1.1, session cache and tickets. */
  const char *tls_cert_file;
  const char *tls_key_file;
  uint32_t tls_handshake_timeout_ms; /* 10000 */
  /* Compression, with the reference's defaults: permessage-deflate (RFC
   * 7692) on WebSocket off (ws's perMessageDeflate), gzip/deflate of
   * long-polling responses on (engine.io's httpCompression). */
  int per_message_deflate;      /* 0. Nonzero: accept a client's permessage-deflate offer
                                   (negotiated as ws does; an offer that is invalid or that
                                   the settings below exclude refuses the upgrade with 400).
                                   Compressed messages are inflated under max_payload (close
                                   1009 past it). Memory: none until a connection compresses;
                                   then, with context takeover, its own zlib streams (see
                                   README, Compression) */
  size_t deflate_threshold;     /* 1024: messages shorter than this are sent uncompressed */
  int deflate_server_no_context_takeover; /* serverNoContextTakeover. 0: as the client asks;
                                   1: always (no deflate stream per connection, and a message
                                   sent to many is compressed once); -1: refuse offers asking */
  int deflate_client_no_context_takeover; /* clientNoContextTakeover. 0: as the client asks;
                                   1: always (no inflate stream per connection) */
  int deflate_server_max_window_bits; /* serverMaxWindowBits. 0: as the client asks (else 15);
                                   9..15: ours, always sent; -1: refuse offers limiting it */
  int deflate_client_max_window_bits; /* clientMaxWindowBits. 0: as the client asks; 8..15:
                                   asked of the client (offers that do not allow it are
                                   refused, as ws); -1: never limit the client */
  int deflate_level;            /* zlib level 0..9; -1 (default): zlib's (6), as Node */
  int deflate_mem_level;        /* zlib memLevel 1..9; 8 (Node's): lower saves ~2^(m+8)
                                   bytes per compressing connection */
  int http_compression;         /* 1: gzip/deflate a long-polling response body of at least
                                   http_compression_threshold bytes when the request's
                                   Accept-Encoding allows (Content-Encoding set); 0: never */
  size_t http_compression_threshold; /* 1024 */
  eio_http_handler_t http_handler; /* optional */
  void *http_data;              /* passed to http_handler */
  eio_callbacks_t callbacks;
  void *data;                   /* passed to every callback */
} eio_options_t;

/* Fills the defaults above. */
void eio_options_init(eio_options_t *opts);

/* Creates a server on `loop`; `opts` is copied (strings too). */
int eio_server_new(uv_loop_t *loop, const eio_options_t *opts, eio_server_t **out);
/* Binds and listens; host may be an IPv4 or IPv6 literal. May be called more
 * than once (several addresses). port 0 picks a free port: see eio_server_port. */
int eio_server_listen(eio_server_t *srv, const char *host, int port);
int eio_server_port(const eio_server_t *srv);
/* Graceful shutdown, first step. From now on: new sessions are refused with
 * 503 (handshakes and WebSocket upgrades without a sid), every HTTP answer
 * ends its connection (Connection: close) and idle keep-alive connections
 * are closed; every open session is closed the way eio_socket_close() does
 * it (queued packets first; a pending long-poll gets the close packet, or the
 * next one does, if it comes within 1 s; WebSockets get a close frame), with reason
 * EIO_CLOSE_SERVER_SHUTDOWN. Other HTTP requests (health checks) are still
 * answered. The application then waits until eio_server_clients_count() and
 * eio_server_connections_count() reach 0, or its own deadline, and calls
 * eio_server_close(), which ends whatever is left. */
void eio_server_drain(eio_server_t *srv);
int eio_server_draining(const eio_server_t *srv);
/* Stops listening, closes every session (reason EIO_CLOSE_SERVER_SHUTDOWN; a
 * pending long-poll gets a close packet) and every connection, then calls
 * on_closed (may be NULL) once all handles are released and frees the server. */
void eio_server_close(eio_server_t *srv, void (*on_closed)(void *arg), void *arg);
size_t eio_server_clients_count(const eio_server_t *srv);
/* Open TCP connections (HTTP, long-polls, WebSockets, ones being refused). */
size_t eio_server_connections_count(const eio_server_t *srv);
void *eio_server_data(const eio_server_t *srv);

/* Counters and gauges of a server, for monitoring (e.g. a Prometheus
 * endpoint). Counters count since eio_server_new and never decrease; they
 * are plain integers bumped on the loop thread (no locks, no allocation), so
 * read them on that thread too. */
typedef struct eio_stats {
  /* ---- gauges (now) ---- */
  uint64_t connections;        /* open TCP connections: HTTP, long-polls, WebSockets,
                                  ones being refused or closed */
  uint64_t sessions;           /* open Engine.IO sessions (= eio_server_clients_count) */
  uint64_t sessions_polling;   /* ... on HTTP long-polling (including ones upgrading) */
  uint64_t sessions_websocket; /* ... on WebSocket */
  uint64_t draining;           /* 1 after eio_server_drain() */
  /* ---- counters: connections and sessions ---- */
  uint64_t connections_accepted; /* TCP connections accepted */
  uint64_t handshakes_polling;   /* sessions opened by a polling handshake */
  uint64_t handshakes_websocket; /* sessions opened directly on WebSocket */
  uint64_t upgrades;             /* polling sessions moved to WebSocket */
  uint64_t closes[EIO_CLOSE_REASON_COUNT]; /* sessions closed, by eio_close_reason_t */
  /* ---- counters: traffic ---- */
  uint64_t packets_in;         /* Engine.IO packets received (any type, probes included) */
  uint64_t packets_out;        /* Engine.IO packets queued to a transport (open, ping,
                                  noop, close, message, 3probe) */
  uint64_t messages_in;        /* message packets received (what on_message gets) */
  uint64_t messages_out;       /* message packets queued (eio_socket_send and Socket.IO's
                                  packets and attachments) */
  uint64_t bytes_in;           /* bytes read from sockets (ciphertext under TLS) */
  uint64_t bytes_out;          /* bytes written to sockets (ciphertext under TLS) */
  /* ---- counters: HTTP ---- */
  uint64_t http_requests;      /* complete HTTP requests parsed (upgrades included) */
  /* Error answers by status, whoever sent them (Engine.IO, the HTTP layer,
   * the application's handler, a refused upgrade, the connection cap). */
  uint64_t http_400;           /* bad request (malformed HTTP, Engine.IO errors) */
  uint64_t http_403;           /* origin not allowed, allow_request refused */
  uint64_t http_404;           /* not found (outside the Engine.IO path) */
  uint64_t http_408;           /* headers or body not received in time */
  uint64_t http_413;           /* body over max_payload */
  uint64_t http_431;           /* headers over max_header_bytes */
  uint64_t http_500;           /* unsupported method on a session, internal errors */
  uint64_t http_503;           /* over max_connections, or draining */
  uint64_t http_other_errors;  /* any other status >= 400 */
  /* ---- counters: TLS (0 without TLS) ---- */
  uint64_t tls_handshakes;     /* completed */
  uint64_t tls_errors;         /* failed handshakes and other TLS failures */
  uint64_t tls_plain_http;     /* plain HTTP sent to the TLS port */
} eio_stats_t;

/* Fills *out (all fields). */
void eio_server_stats(const eio_server_t *srv, eio_stats_t *out);

/* Queues a message. Returns 0, EIO_ECLOSED, EIO_ETOOBIG or EIO_EFULL. */
int eio_socket_send(eio_socket_t *sock, const void *msg, size_t len, int binary);
/* Closes the session after flushing what is queued (reason EIO_CLOSE_FORCED). */
void eio_socket_close(eio_socket_t *sock);
const char *eio_socket_id(const eio_socket_t *sock);          /* the 20-char sid */
eio_transport_t eio_socket_transport(const eio_socket_t *sock);
/* The session's Engine.IO protocol revision: 4, or 3 (an EIO=3 client,
 * accepted with allow_eio3). */
int eio_socket_protocol(const eio_socket_t *sock);
int eio_socket_is_open(const eio_socket_t *sock);
void eio_socket_set_data(eio_socket_t *sock, void *data);
void *eio_socket_get_data(const eio_socket_t *sock);
eio_server_t *eio_socket_server(const eio_socket_t *sock);
/* Handshake request (the first request of the session): URL query (raw, not
 * decoded), a header by case-insensitive name (NULL if absent), and the peer
 * address as text. Valid as long as the socket. */
const char *eio_socket_query(const eio_socket_t *sock);
const char *eio_socket_header(const eio_socket_t *sock, const char *name);
/* Calls fn for each handshake header, in order. */
void eio_socket_foreach_header(const eio_socket_t *sock,
                               void (*fn)(const char *name, const char *value, void *arg), void *arg);
const char *eio_socket_address(const eio_socket_t *sock);

/* HTTP requests handed to eio_options_t.http_handler. Pointers are valid
 * during the handler call only. */
const char *eio_http_request_method(const eio_http_request_t *req);  /* "GET", ... */
const char *eio_http_request_path(const eio_http_request_t *req, size_t *len);
const char *eio_http_request_query(const eio_http_request_t *req, size_t *len);
const char *eio_http_request_header(const eio_http_request_t *req, const char *name);
/* The peer's address as text ("127.0.0.1", "::1"). */
const char *eio_http_request_address(const eio_http_request_t *req);
/* The request body (bodies are capped at max_payload; larger ones get 413). */
const char *eio_http_request_body(const eio_http_request_t *req, size_t *len);
/* Sends a response. `headers` is NULL or extra header lines, each ending in
 * "\r\n" (e.g. "Content-Type: text/html\r\nETag: \"x\"\r\n"); Content-Length
 * and Connection are added. The body is copied. A HEAD request gets the
 * headers (with this body's length) and no body; a 304 gets no length. */
int eio_http_respond(eio_http_request_t *req, int status, const char *headers,
                     const void *body, size_t len);

/* Logging: lines go to stderr as "<time> <level> <message>". Levels:
 * 0 error, 1 warn, 2 info (default), 3 debug. SIO_LOG=debug|info|warn|error
 * in the environment sets the initial level. */
void eio_set_log_level(int level);
/* A line in the library's format, if `level` is enabled: for applications
 * that want one log stream (sio-chat does). */
void eio_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The current level (after SIO_LOG and eio_set_log_level). */
int eio_log_level(void);

#ifdef __cplusplus
}
#endif
#endif
