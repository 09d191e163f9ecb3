/* sio-bench: a load generator speaking Engine.IO v4 + Socket.IO v5 itself
 * (raw WebSocket with masked client frames, or HTTP long-polling), to
 * measure a server from outside. Shared declarations.
 *
 *   sio_bench.c   options, control thread, results
 *   bench_loop.c  per-thread epoll loop, sockets, buffers, Engine.IO and
 *                 Socket.IO packet handling, the modes, latency histogram
 *   bench_ws.c    WebSocket transport (HTTP upgrade, frames)
 *   bench_poll.c  long-polling transport (two keep-alive HTTP connections)
 *   bench_soak.c  the soak mode: sequenced chat lines, per-sender ordering
 *                 and loss accounting, its control flow and report
 *   bench_tls.c   --tls: mbedTLS client sessions over the same sockets
 */
#ifndef SIO_BENCH_H
#define SIO_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum bench_mode { MODE_IDLE, MODE_ECHO, MODE_FANOUT, MODE_CONNECT, MODE_SOAK };
enum bench_transport { TR_WS, TR_POLL };
enum { INJECT_NONE, INJECT_DUP, INJECT_SKIP, INJECT_SWAP };

/* Where a client connects: --host with each port of --port P1[,P2...], and
 * --sender-host/--sender-port for fanout's senders. */
#define BENCH_MAX_TARGETS 9
typedef struct bench_target {
  const char *host;  /* dotted IPv4, also the Host header */
  uint32_t addr;     /* network order */
  int port;
} bench_target_t;

/* --cpu-pid NAME=PID: processes whose CPU over the window is reported. */
#define BENCH_MAX_CPU_PIDS 8
typedef struct bench_cpu_pid {
  const char *name;
  int pid;
} bench_cpu_pid_t;

typedef struct bench_config {
  const char *host;
  uint32_t host_addr; /* network order */
  int port;           /* the first of --port's */
  bench_target_t targets[BENCH_MAX_TARGETS];
  int ntargets;       /* --port's ports, then the senders' target if any */
  int nrecv_targets;  /* --port's ports: targets[0 .. nrecv_targets) */
  int sender_target;  /* fanout: the senders' index in targets, or -1 (spread as the others) */
  const char *sender_host; /* --sender-host (NULL: --host) */
  int sender_port;         /* --sender-port (-1: unset) */
  bench_cpu_pid_t cpu_pids[BENCH_MAX_CPU_PIDS];
  int ncpu_pids;
  const char *path;
  int mode;
  int transport;     /* every client's, unless polling_share >= 0 */
  double polling_share; /* < 0: unset; else this fraction of clients polls */
  int clients; /* connect mode: concurrency */
  double duration, warmup, drain, connect_timeout;
  int inflight;
  int senders;
  double rate;
  double client_rate; /* soak: emits per second per client */
  int inject;         /* soak: INJECT_*, a deliberate fault (checker self-test) */
  int payload;
  int sources;
  int threads;
  int server_pid;
  double ramp;
  const char *label;
  int tls;        /* --tls: https / wss */
  int tls_resume; /* --tls-resume: offer each socket's last session again */
  const char *tls_curves; /* --tls-curves: ECDHE groups offered, in order */
} bench_config_t;

extern bench_config_t g_cfg;
extern char *g_payload; /* g_cfg.payload bytes of 'x' */

/* Phases, set by the control thread, followed by the workers. */
enum { PH_CONNECT, PH_RUN, PH_DRAIN, PH_STOP };

typedef struct bench_control {
  _Atomic int phase;
  /* Times are ns since the program started (now_ns()). Written before the
   * phase goes to PH_RUN (release); win_end may be moved earlier by SIGINT. */
  int64_t run_start;
  int64_t win_start;
  _Atomic int64_t win_end;
} bench_control_t;

extern bench_control_t g_ctl;

int64_t now_ns(void); /* CLOCK_MONOTONIC since program start */

/* ---- latency histogram: log-linear, 128 sub-buckets per power of two
 * (relative error < 0.8%), exact count and max ---- */
#define H_SUB_BITS 8
#define H_HALF (1u << (H_SUB_BITS - 1))
#define H_N ((64 - H_SUB_BITS + 2) * H_HALF)
typedef struct hist {
  uint64_t count;
  uint64_t max;
  uint64_t b[H_N];
} hist_t;

void hist_add(hist_t *h, uint64_t v);
void hist_merge(hist_t *dst, const hist_t *src);
uint64_t hist_pct(const hist_t *h, double p); /* value in ns */

/* ---- sockets and clients ---- */
enum { SK_CLOSED, SK_CONNECTING, SK_OPEN, SK_TLS /* TLS handshake under way */ };
struct btls;

struct bconn;
typedef struct bsock {
  int fd;
  uint32_t gen;     /* bumped on every open */
  struct bconn *conn;
  uint8_t which;    /* index in conn->s */
  uint8_t st;
  uint8_t want_out; /* EPOLLOUT registered */
  uint8_t dirty;    /* on the thread's flush list */
  uint8_t busy;     /* polling: a request is outstanding */
  uint8_t *rbuf;    /* a partial frame/response kept between reads */
  uint32_t rlen, rcap;
  uint8_t *wbuf;
  uint32_t wlen, woff, wcap;
  int64_t last_used; /* polling: last response, to avoid a stale keep-alive */
  struct btls *tls;  /* --tls: its session (kept across re-opens), else NULL */
  struct bsock *next_dirty;
} bsock_t;

/* Client states. */
enum { C_IDLE, C_HTTP, C_EIO, C_SIO, C_UP, C_DEAD };

typedef struct bconn {
  bsock_t s[2]; /* WebSocket: s[0]; polling: s[0] GET, s[1] POST */
  uint32_t idx; /* in the thread's array */
  uint32_t gidx;
  uint32_t attempt;
  uint8_t st;
  uint8_t sender;
  uint8_t in_restart;
  uint8_t sidlen;
  char sid[32]; /* polling: the Engine.IO session id */
  int64_t t_start;   /* handshake start */
  int64_t last_ping; /* open or last ping */
  uint32_t inflight;
  uint8_t *pbuf; /* polling: packets waiting for the next POST */
  uint32_t plen, pcap;
  uint8_t tr;        /* TR_WS or TR_POLL */
  uint8_t tgt;       /* its server: g_cfg.targets[tgt] */
  uint8_t up_at_run; /* soak: up when the run began (a recipient) */
  uint32_t seq;      /* soak: lines accepted so far = the last seq sent */
  uint64_t uniq;     /* soak: deliveries that advanced their sender's seq */
  uint32_t dup, reord, late;
} bconn_t;

/* soak: what one client has had from one sender: the highest seq (0: none
 * yet) and, bit k, whether seq last - 1 - k came too */
typedef struct soak_seen {
  uint32_t last, bits;
} soak_seen_t;

typedef struct bthread {
  int idx;
  pthread_t tid;
  int ep;
  int tfd; /* fanout pacing timer, -1 if none */
  bconn_t *conns;
  uint32_t n;
  uint32_t next_start; /* connect phase: next client to start */
  uint32_t pending_hs; /* handshakes under way */
  int64_t phase_start;
  int phase;
  bsock_t *dirty;
  uint32_t *restart; /* connect mode: slots to start again */
  uint32_t nrestart;
  uint8_t *rscratch; /* reads land here when no partial data is kept */
  uint32_t rscratch_cap;
  uint8_t *scratch; /* building packets */
  uint32_t scratch_cap;
  uint32_t rng;
  int64_t now; /* refreshed on every event */
  /* fanout senders */
  uint32_t *snd;
  uint32_t nsnd, snd_rr;
  double rate; /* this thread's share, msgs/s */
  uint64_t paced;
  int64_t pace_start;
  /* results (owned by the thread; read by the control thread after join,
   * the pub_* ones while running) */
  uint64_t connected, failed, up, errors, closed, pings, other;
  uint64_t events, deliveries, received, sent_win, sent, dropped, connects;
  uint64_t up_at_run;
  int64_t ping_gap_max, ping_interval;
  uint64_t err_refused, err_http, err_closed, err_proto, err_tls;
  uint64_t tls_handshakes, tls_resumed; /* --tls: completed, of which abbreviated */
  int tls_err_code;                     /* the first mbedTLS handshake error */
  hist_t lat;
  /* soak: seen[sender gidx * n + idx], for this thread's client idx */
  soak_seen_t *seen;
  uint64_t soak_recv, soak_uniq, soak_corrupt, soak_misattr;
  _Atomic uint64_t pub_connected, pub_failed, pub_received, pub_sent_win, pub_up;
  _Atomic uint64_t pub_sent, pub_uniq;
  _Atomic int pub_phase; /* the phase this thread has acted on */
} bthread_t;

void *bench_thread_main(void *arg);

/* sio_bench.c: shared with the soak's control flow */
extern bthread_t *g_threads;
extern volatile sig_atomic_t g_signals;
int bench_setup_threads(void);
/* Starts n loop threads; returns how many started (err set if fewer). */
int bench_start_threads(int n, char *err, size_t errlen);
/* CPU time (user + system) in seconds of process pid, or of this one (0); -1 if unknown. */
double bench_cpu_seconds(int pid);
int bench_probe(char *err, size_t errlen); /* one TCP connect; -1 and err if refused */
long bench_read_rss(int pid);              /* VmRSS in kB, or -1 */
void bench_sleep_ms(int ms);
uint64_t bench_sum_pub(size_t off);
#define SUM_PUB(field) bench_sum_pub(offsetof(bthread_t, field))
const char *bench_transport_name(void); /* websocket, polling or mixed */
/* Joins the started workers within 2 s; 0 if one did not stop. */
int bench_join(int started);

/* One JSON object built into a fixed buffer. */
typedef struct jbuf {
  char b[8192];
  size_t n;
  int first;
} jbuf_t;
void jraw(jbuf_t *j, const char *key, const char *val);
void jnum(jbuf_t *j, const char *key, double v, int ok);
void jstr(jbuf_t *j, const char *key, const char *s);

/* bench_loop.c: used by the transports */
bsock_t *sock_open(bthread_t *th, bconn_t *c, int which);
void sock_close(bthread_t *th, bsock_t *s);
void sock_write(bthread_t *th, bsock_t *s, const void *data, size_t len);
uint8_t *sock_wreserve(bsock_t *s, size_t len); /* room for len bytes at wbuf+wlen */
void sock_mark_dirty(bthread_t *th, bsock_t *s);
enum { ERR_REFUSED, ERR_HTTP, ERR_CLOSED, ERR_PROTO, ERR_TLS, ERR_NONE };
void conn_fail(bthread_t *th, bconn_t *c, int why);
void conn_send(bthread_t *th, bconn_t *c, const char *pkt, size_t len);
/* One Engine.IO packet (type digit first). Returns -1 if c died. */
int eio_packet(bthread_t *th, bconn_t *c, const char *p, size_t n, int64_t now);
/* The Engine.IO open packet was handled (sid, pingInterval parsed). */
void conn_opened(bthread_t *th, bconn_t *c, int64_t now);

/* bench_ws.c */
int ws_start(bthread_t *th, bconn_t *c); /* -1: could not open */
/* Consumes complete units from buf; returns bytes used, -1 if c died. */
long ws_on_data(bthread_t *th, bconn_t *c, uint8_t *buf, size_t len, int64_t now);
void ws_send(bthread_t *th, bconn_t *c, const char *pkt, size_t len);
void ws_close(bthread_t *th, bconn_t *c);

/* bench_poll.c */
int poll_start(bthread_t *th, bconn_t *c);
long poll_on_data(bthread_t *th, bconn_t *c, int which, uint8_t *buf, size_t len, int64_t now);
void poll_send(bthread_t *th, bconn_t *c, const char *pkt, size_t len);
void poll_on_eof(bthread_t *th, bconn_t *c, int which);
void poll_opened(bthread_t *th, bconn_t *c);
void poll_close(bthread_t *th, bconn_t *c);

/* bench_tls.c (only called with --tls) */
enum { TLS_DONE, TLS_WANT_READ, TLS_WANT_WRITE, TLS_FAIL };
#define TLS_AGAIN (-2)
int tls_global_init(char *err, size_t errlen); /* the shared client config */
int tls_sock_open(bsock_t *s);                 /* on a fresh fd: context set up or reused */
void tls_sock_reset(bsock_t *s);               /* on close: ready for the next open */
void tls_sock_free(bsock_t *s);
void tls_begin(void); /* before handling a socket's event: recv() budget */
int tls_ra_pending(const bsock_t *s); /* read-ahead holds bytes of s */
int tls_handshake(bthread_t *th, bsock_t *s); /* TLS_DONE / WANT_READ / WANT_WRITE / FAIL */
long tls_write(bsock_t *s, const uint8_t *buf, size_t len); /* > 0 sent, 0 later, -1 error */
long tls_read(bsock_t *s, uint8_t *buf, size_t cap); /* > 0, 0 EOF, TLS_AGAIN, -1 error */
void tls_shutdown(bsock_t *s); /* best effort: queued bytes, close_notify */
void tls_thread_done(void);
const char *tls_suite(void);   /* the ciphersuite of the first handshake, or NULL */
const char *tls_version(void); /* mbedTLS's */
void tls_strerror(int code, char *buf, size_t len);

/* bench_soak.c */
typedef struct soak_sid {
  uint8_t len;
  char id[31];
} soak_sid_t;
extern soak_sid_t *g_soak_sids; /* by gidx: each client's Socket.IO id */
char *bench_put_u64(char *p, uint64_t v);
int bench_in_window(int64_t t);
void soak_send(bthread_t *th, bconn_t *c);
/* An EVENT "2[...]" for a soak client; 1 if it was a chat line of ours. */
int soak_on_event(bthread_t *th, bconn_t *c, const char *p, size_t n);
void soak_joined(bthread_t *th, bconn_t *c, const char *p, size_t n); /* CONNECT "0{...}" */
int soak_main(void); /* the control thread for --mode soak; the exit status */

#endif
