/* A small Redis client for the scale-out adapter (PROTOCOL.md 8), on the
 * project's libuv loop, over hiredis' async API.
 *
 * Pub/sub needs two connections: once a connection has SUBSCRIBEd, Redis
 * accepts nothing but (P)(UN)SUBSCRIBE on it. So a client owns
 *   - a command link: PUBLISH, PUBSUB NUMSUB (and SELECT db after connecting);
 *   - a subscriber link: SUBSCRIBE and PSUBSCRIBE, then message deliveries.
 * Each link reconnects on its own with exponential backoff (100 ms doubling
 * to 5 s, each wait drawn from [d/2, d] so a fleet of nodes does not hammer a
 * restarted Redis in lockstep). Subscriptions are remembered and re-issued on
 * every new subscriber link.
 *
 * Everything runs on the loop thread; nothing blocks: host names are resolved
 * with uv_getaddrinfo (hiredis would call getaddrinfo(3) itself), connects are
 * non-blocking and bounded by a timeout.
 *
 * Delivery guarantees, so the adapter always knows what happened:
 *   - publish() returns 0 only once the command is queued on a live link;
 *     otherwise a negative error (counted in publish_failed, and a warning is
 *     logged at most every 5 s);
 *   - a PUBLISH handed over but not acknowledged because the link died is
 *     counted in publish_lost (also warned about);
 *   - a numsub() whose link dies gets its callback with an error.
 *
 * Errors are libuv codes (uv_strerror()): UV_EINVAL (bad URL or argument),
 * UV_ENOMEM, UV_ENOTCONN (the link is down), UV_ECANCELED (the client is
 * closing), UV_EEXIST (already subscribed), UV_ECONNRESET (the link died
 * before Redis answered), UV_EPROTO (an unexpected reply).
 *
 * Callbacks never run inside the call that registered them. Any callback may
 * call any function here, sio__redis_client_close() included: the teardown
 * is deferred to its own loop turn (hiredis frees a context synchronously
 * when asked outside its reply dispatch, which would pull it from under its
 * own connect/disconnect callbacks). */
#ifndef SIO_REDIS_CLIENT_H
#define SIO_REDIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sio__redis_client sio__redis_client;

/* A parsed redis://HOST[:PORT][/DB] URL. HOST may be a name, an IPv4 address
 * or a bracketed IPv6 address ("[::1]", stored without the brackets). */
typedef struct sio__redis_url {
  char host[256];
  int port; /* 6379 when absent */
  int db;   /* 0 when absent */
} sio__redis_url;

/* Parses url into *out. Returns 0, or UV_EINVAL with *why (if why is not
 * NULL) set to a static sentence saying what is wrong. Rejected: other
 * schemes (rediss:// as "TLS is not supported"), credentials, query strings,
 * a port outside 1..65535, a database that is not a decimal number. */
int sio__redis_url_parse(const char *url, sio__redis_url *out, const char **why);

typedef struct sio__redis_client_callbacks {
  /* A message for a SUBSCRIBE (pattern NULL) or a PSUBSCRIBE (pattern is the
   * matching pattern, channel the one published to). channel and pattern are
   * NUL-terminated; payload is binary (len bytes; a NUL follows it, not
   * counted). All are borrowed, valid during the call only. May be NULL. */
  void (*on_message)(sio__redis_client *rc, const char *channel, const char *pattern,
                     const char *payload, size_t len, void *data);
  /* up = 1 when both links are connected and every remembered subscription
   * has been confirmed by Redis on the current subscriber link (so a message
   * published from now on reaches us); up = 0 when either link is lost.
   * Called on changes only; never during or after close. May be NULL. */
  void (*on_state)(sio__redis_client *rc, int up, void *data);
  void *data;
} sio__redis_client_callbacks;

typedef struct sio__redis_client_stats {
  uint64_t reconnects;     /* a link re-established after a loss or failed attempt */
  uint64_t publish_ok;     /* PUBLISHes handed to a live command link */
  uint64_t publish_failed; /* PUBLISHes refused: link down or client closing */
  uint64_t publish_lost;   /* handed over, then the link died before Redis answered
                              (or Redis answered with an error) */
  uint64_t messages_in;    /* message and pmessage deliveries */
} sio__redis_client_stats;

/* Creates a client and starts connecting both links. The callbacks struct is
 * copied. Returns 0 and sets *out, or UV_EINVAL (bad URL: the reason is
 * logged) / UV_ENOMEM, leaving *out NULL. */
int sio__redis_client_create(uv_loop_t *loop, const char *url,
                             const sio__redis_client_callbacks *cb, sio__redis_client **out);

/* Confirmation of a (p)subscription: status 0 the first time Redis confirms
 * it, UV_ECANCELED if the client closes first. Runs once. */
typedef void (*sio__redis_client_sub_cb)(sio__redis_client *rc, int status, void *data);

/* Subscribes to a channel (psubscribe: a glob pattern) for the life of the
 * client, re-issued after every reconnect. Works while down too: the
 * subscription is made on the next link. done may be NULL. Returns 0,
 * UV_EEXIST if already subscribed (done is then not called), UV_ECANCELED
 * when closing, UV_ENOMEM. */
int sio__redis_client_subscribe(sio__redis_client *rc, const char *channel,
                                sio__redis_client_sub_cb done, void *data);
int sio__redis_client_psubscribe(sio__redis_client *rc, const char *pattern,
                                 sio__redis_client_sub_cb done, void *data);

/* PUBLISH channel payload (binary-safe). Returns 0 if queued on the live
 * command link; UV_ENOTCONN if the link is down, UV_ECANCELED when closing,
 * in which case nothing was sent (publish_failed counts it). */
int sio__redis_client_publish(sio__redis_client *rc, const char *channel, const void *payload,
                              size_t len);

/* count: subscribers of the channel across all Redis clients (PUBSUB NUMSUB;
 * pattern subscriptions are not counted, as in Redis). status 0, or
 * UV_ECONNRESET (link lost before the reply), UV_ECANCELED (client closed),
 * UV_EPROTO. */
typedef void (*sio__redis_client_numsub_cb)(sio__redis_client *rc, int status, long long count,
                                            void *data);
/* Returns 0 and cb will run exactly once; or UV_ENOTCONN / UV_ECANCELED /
 * UV_ENOMEM and cb will not run. */
int sio__redis_client_numsub(sio__redis_client *rc, const char *channel,
                             sio__redis_client_numsub_cb cb, void *data);

/* The last state reported to on_state (1 up, 0 down). */
int sio__redis_client_up(const sio__redis_client *rc);
const sio__redis_client_stats *sio__redis_client_stats_get(const sio__redis_client *rc);

/* Closes the client. Queued PUBLISHes on a live command link are flushed and
 * acknowledged first (for at most 1 s; what is left then counts as lost).
 * Pending numsub and subscribe callbacks run with an error, on_state is not
 * called again, and on_closed (may be NULL) runs once every handle is
 * released (the client's timers and the poll handles of its hiredis
 * contexts); rc is freed after it returns. Calling it again is a no-op. */
void sio__redis_client_close(sio__redis_client *rc,
                             void (*on_closed)(sio__redis_client *rc, void *data), void *data);

#endif
