/* sio-bench over TLS (--tls): mbedTLS 2.28 client sessions on the same
 * non-blocking sockets, TLS 1.2 only (what mbedTLS 2.28 has).
 *
 * One mbedtls_ssl_config for the whole program; one mbedtls_ssl_context
 * per socket, set up on the socket's first open and reset (not freed) on
 * close, so a re-open (connect mode, polling keep-alives) reuses its
 * buffers. No certificate verification (VERIFY_NONE): the benchmark talks
 * to a throwaway certificate. The server's certificate is still parsed and
 * its key still checks the ServerKeyExchange signature, as for a browser.
 *
 * I/O callbacks read the socket's fd straight. Reads go through a
 * per-thread read-ahead buffer, so that the header and body of each record
 * (which mbedTLS asks for separately) cost one recv() for many records, not
 * two per record. The loop in bench_loop.c always reads a socket until the
 * callback says WANT_READ, which it only says with the read-ahead empty;
 * so nothing is left in it when the thread moves on to another socket,
 * except from a socket that was closed meanwhile (discarded). The callback
 * makes at most TLS_RECV_BUDGET recv() calls per event, then says WANT_READ
 * with data still in the kernel: epoll is level-triggered and comes back.
 *
 * Random numbers: one CTR-DRBG per thread (seeded from getrandom), behind
 * the config's single callback. --tls-resume keeps each socket's last
 * session (ticket or session id) and offers it on the next open. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_internal.h> /* ssl->handshake->resume: was it abbreviated */
#include <mbedtls/version.h>

#define TLS_RA_CAP (64u << 10)
#define TLS_RECV_BUDGET 8

struct btls {
  mbedtls_ssl_context ssl;
  mbedtls_ssl_session sess; /* --tls-resume: the last one */
  uint8_t has_sess;
  uint8_t resumed; /* set while the handshake runs */
  uint32_t pend;   /* a record's plaintext length mbedTLS still has to send */
};

static mbedtls_ssl_config g_conf;
static mbedtls_ecp_group_id g_curves[16];
static const char *g_alpn[] = {"http/1.1", NULL};
static _Atomic(const char *) g_suite; /* the first handshake's ciphersuite */

typedef struct tls_ra {
  uint8_t *buf;
  uint32_t off, len;
  const bsock_t *owner;
  uint32_t gen;
  int budget;
} tls_ra_t;

static __thread tls_ra_t t_ra;
static __thread mbedtls_ctr_drbg_context *t_drbg;

static int entropy_cb(void *p, unsigned char *out, size_t len) {
  (void)p;
  while (len) {
    ssize_t n = getrandom(out, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    }
    out += n;
    len -= (size_t)n;
  }
  return 0;
}

static int rng_cb(void *p, unsigned char *out, size_t len) {
  (void)p;
  if (!t_drbg) {
    mbedtls_ctr_drbg_context *d = malloc(sizeof *d);
    if (!d) return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    mbedtls_ctr_drbg_init(d);
    static const unsigned char pers[] = "sio-bench";
    int r = mbedtls_ctr_drbg_seed(d, entropy_cb, NULL, pers, sizeof pers - 1);
    if (r) {
      mbedtls_ctr_drbg_free(d);
      free(d);
      return r;
    }
    t_drbg = d;
  }
  return mbedtls_ctr_drbg_random(t_drbg, out, len);
}

/* "x25519,secp256r1" -> g_curves; -1 and err if a name is unknown. */
static int parse_curves(const char *list, char *err, size_t errlen) {
  size_t n = 0;
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char name[32];
    if (len >= sizeof name || n + 1 >= sizeof g_curves / sizeof g_curves[0]) {
      snprintf(err, errlen, "--tls-curves: too long: '%s'", list);
      return -1;
    }
    memcpy(name, p, len);
    name[len] = 0;
    const mbedtls_ecp_curve_info *ci = mbedtls_ecp_curve_info_from_name(name);
    if (!ci) {
      snprintf(err, errlen, "--tls-curves: unknown curve '%s' (x25519, secp256r1, secp384r1, ...)", name);
      return -1;
    }
    g_curves[n++] = ci->grp_id;
    p += len;
    if (*p == ',') p++;
  }
  if (!n) {
    snprintf(err, errlen, "--tls-curves: empty");
    return -1;
  }
  g_curves[n] = MBEDTLS_ECP_DP_NONE;
  return 0;
}

int tls_global_init(char *err, size_t errlen) {
  if (parse_curves(g_cfg.tls_curves, err, errlen) < 0) return -1;
  mbedtls_ssl_config_init(&g_conf);
  int r = mbedtls_ssl_config_defaults(&g_conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
  if (!r) r = mbedtls_ssl_conf_alpn_protocols(&g_conf, g_alpn);
  if (r) {
    char e[128];
    mbedtls_strerror(r, e, sizeof e);
    snprintf(err, errlen, "TLS setup: %s", e);
    return -1;
  }
  mbedtls_ssl_conf_authmode(&g_conf, MBEDTLS_SSL_VERIFY_NONE);
  /* mbedTLS's default offers every curve, largest first; browsers offer
   * these three, and a server picks among what is offered. */
  mbedtls_ssl_conf_curves(&g_conf, g_curves);
  mbedtls_ssl_conf_rng(&g_conf, rng_cb, NULL);
  mbedtls_ssl_conf_min_version(&g_conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&g_conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  /* Tickets stay offered (as browsers do) whether or not they are reused. */
  mbedtls_ssl_conf_session_tickets(&g_conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
  return 0;
}

const char *tls_suite(void) { return atomic_load(&g_suite); }
const char *tls_version(void) { return MBEDTLS_VERSION_STRING; }

/* ---- I/O callbacks ---------------------------------------------------------- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
  const bsock_t *s = ctx;
  for (;;) {
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return (int)n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
  const bsock_t *s = ctx;
  tls_ra_t *ra = &t_ra;
  if (ra->owner != s || ra->gen != s->gen) { /* whatever is there belongs to a closed socket */
    ra->off = ra->len = 0;
    ra->owner = s;
    ra->gen = s->gen;
  }
  if (ra->off == ra->len) {
    if (len >= TLS_RA_CAP / 2) { /* a big body: straight into mbedTLS's buffer */
      if (ra->budget <= 0) return MBEDTLS_ERR_SSL_WANT_READ;
      ra->budget--;
      for (;;) {
        ssize_t n = recv(s->fd, buf, len, 0);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
        return MBEDTLS_ERR_NET_RECV_FAILED;
      }
    }
    if (ra->budget <= 0) return MBEDTLS_ERR_SSL_WANT_READ;
    ra->budget--;
    if (!ra->buf && !(ra->buf = malloc(TLS_RA_CAP))) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    ssize_t n;
    do n = recv(s->fd, ra->buf, TLS_RA_CAP, 0);
    while (n < 0 && errno == EINTR);
    if (n == 0) return 0;
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
      return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    ra->off = 0;
    ra->len = (uint32_t)n;
  }
  size_t k = ra->len - ra->off;
  if (k > len) k = len;
  memcpy(buf, ra->buf + ra->off, k);
  ra->off += (uint32_t)k;
  return (int)k;
}

/* ---- sockets -------------------------------------------------------------------- */

int tls_sock_open(bsock_t *s) {
  struct btls *t = s->tls;
  if (!t) {
    t = calloc(1, sizeof *t);
    if (!t) return -1;
    mbedtls_ssl_init(&t->ssl);
    mbedtls_ssl_session_init(&t->sess);
    if (mbedtls_ssl_setup(&t->ssl, &g_conf) != 0) {
      mbedtls_ssl_free(&t->ssl);
      free(t);
      return -1;
    }
    s->tls = t;
  }
  t->pend = 0;
  t->resumed = 0;
  mbedtls_ssl_set_bio(&t->ssl, s, bio_send, bio_recv, NULL);
  if (g_cfg.tls_resume && t->has_sess) mbedtls_ssl_set_session(&t->ssl, &t->sess);
  return 0;
}

void tls_sock_reset(bsock_t *s) {
  struct btls *t = s->tls;
  if (!t) return;
  mbedtls_ssl_session_reset(&t->ssl);
  t->pend = 0;
}

void tls_sock_free(bsock_t *s) {
  struct btls *t = s->tls;
  if (!t) return;
  mbedtls_ssl_free(&t->ssl);
  mbedtls_ssl_session_free(&t->sess);
  free(t);
  s->tls = NULL;
}

void tls_begin(void) { t_ra.budget = TLS_RECV_BUDGET; }

int tls_ra_pending(const bsock_t *s) {
  return t_ra.owner == s && t_ra.gen == s->gen && t_ra.off < t_ra.len;
}

int tls_handshake(bthread_t *th, bsock_t *s) {
  struct btls *t = s->tls;
  mbedtls_ssl_context *ssl = &t->ssl;
  while (ssl->state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    int r = mbedtls_ssl_handshake_step(ssl);
    if (ssl->handshake && ssl->handshake->resume) t->resumed = 1;
    if (r == MBEDTLS_ERR_SSL_WANT_READ) return TLS_WANT_READ;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) return TLS_WANT_WRITE;
    if (r) {
      if (!th->tls_err_code) th->tls_err_code = r;
      return TLS_FAIL;
    }
  }
  th->tls_handshakes++;
  if (t->resumed) th->tls_resumed++;
  if (!atomic_load_explicit(&g_suite, memory_order_relaxed)) {
    const char *name = mbedtls_ssl_get_ciphersuite(ssl);
    const char *none = NULL;
    if (name) atomic_compare_exchange_strong(&g_suite, &none, name);
  }
  if (g_cfg.tls_resume) {
    mbedtls_ssl_session_free(&t->sess);
    mbedtls_ssl_session_init(&t->sess);
    t->has_sess = mbedtls_ssl_get_session(ssl, &t->sess) == 0;
  }
  return TLS_DONE;
}

long tls_write(bsock_t *s, const uint8_t *buf, size_t len) {
  struct btls *t = s->tls;
  /* After WANT_WRITE mbedTLS must be called again with the same length:
   * the record is already built; it returns that length once sent. */
  if (t->pend) len = t->pend;
  else if (len > 16384) len = 16384;
  int r = mbedtls_ssl_write(&t->ssl, buf, len);
  if (r > 0) {
    t->pend = 0;
    return r;
  }
  if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
    t->pend = (uint32_t)len;
    return 0;
  }
  return -1;
}

long tls_read(bsock_t *s, uint8_t *buf, size_t cap) {
  int r = mbedtls_ssl_read(&s->tls->ssl, buf, cap);
  if (r > 0) return r;
  if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) return TLS_AGAIN;
  if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF) return 0;
  return -1;
}

/* Best effort, not waiting: what is queued, then close_notify. */
void tls_shutdown(bsock_t *s) {
  struct btls *t = s->tls;
  if (!t || s->fd < 0 || s->st != SK_OPEN) return;
  if (s->wlen > s->woff) {
    long n = tls_write(s, s->wbuf + s->woff, s->wlen - s->woff);
    if (n > 0) s->woff += (uint32_t)n;
  }
  if (!t->pend) mbedtls_ssl_close_notify(&t->ssl);
}

void tls_thread_done(void) {
  free(t_ra.buf);
  t_ra.buf = NULL;
  t_ra.owner = NULL;
  if (t_drbg) {
    mbedtls_ctr_drbg_free(t_drbg);
    free(t_drbg);
    t_drbg = NULL;
  }
}

void tls_strerror(int code, char *buf, size_t len) {
  mbedtls_strerror(code, buf, len);
  size_t n = strlen(buf);
  if (n + 12 < len) snprintf(buf + n, len - n, " (-0x%04x)", (unsigned)-code);
}
