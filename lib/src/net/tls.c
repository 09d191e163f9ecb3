#include "net/tls.h"

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/id.h"
#include "util/log.h"

#define TLS_RECORD 16384           /* plaintext per record */
#define TLS_OUT_CHUNK (256 * 1024) /* largest ciphertext buffer allocated at once */

struct sio__tls_ctx {
  mbedtls_ssl_config conf;
  mbedtls_x509_crt chain;
  mbedtls_pk_context key;
  mbedtls_ssl_cache_context cache;
  mbedtls_ssl_ticket_context ticket;
  unsigned char rplain[TLS_RECORD]; /* decrypted bytes on their way up */
  unsigned char wplain[TLS_RECORD]; /* small writes joined into one record */
};

struct sio__tls_conn {
  mbedtls_ssl_context ssl;
  sio__conn *c;
  const unsigned char *in; /* ciphertext offered during sio__tls_read */
  size_t in_len;
  sio__rbuf *out;          /* ciphertext being produced, then queued on c->wq */
  size_t out_cap, out_hint;
  sio__wring pq;           /* plaintext waiting for the flush */
  sio__tq_node hs;         /* the handshake's deadline */
  uint8_t established, sniffed, failed, notified;
};

static int tls_rng(void *p, unsigned char *out, size_t len) {
  return sio__random_bytes(out, len) == 0 ? 0 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static void tls_strerror(int err, char *buf, size_t cap) {
  mbedtls_strerror(err, buf, cap);
  size_t n = strlen(buf);
  snprintf(buf + n, cap - n, " (-0x%04x)", (unsigned)-err);
}

/* ---- server context -------------------------------------------------------- */

/* Server preference: AES-GCM first (AES-NI makes it the cheapest on both
 * ends), ChaCha20 next, then CBC for older TLS 1.2 clients; all ECDHE. */
static const int ciphersuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,          MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,          MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
    0};

/* Key exchange: X25519 and P-256 are fast; mbedTLS's default order starts
 * with the largest curves (P-521, P-384), which costs several times more
 * per handshake. The list also bounds ECDSA certificate curves. */
static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                              MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1,
                                              MBEDTLS_ECP_DP_NONE};

/* One certificate serves every name; the hook is where a per-name chain
 * would be chosen (mbedtls_ssl_set_hs_own_cert). */
static int tls_sni(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len) {
  return 0;
}

int sio__tls_ctx_new(const char *cert_file, const char *key_file, sio__tls_ctx **out) {
  *out = NULL;
  if (!cert_file || !key_file) {
    SIO_LOGE("tls: a certificate file and a key file are both needed");
    return -1;
  }
  if (sio__id_init() != 0) return -1;
  sio__tls_ctx *t = calloc(1, sizeof *t);
  if (!t) return -1;
  mbedtls_ssl_config_init(&t->conf);
  mbedtls_x509_crt_init(&t->chain);
  mbedtls_pk_init(&t->key);
  mbedtls_ssl_cache_init(&t->cache);
  mbedtls_ssl_ticket_init(&t->ticket);
  static const char *const alpn[] = {"http/1.1", NULL};
  const char *what = NULL, *file = NULL;
  int r;
  if ((r = mbedtls_x509_crt_parse_file(&t->chain, cert_file)) != 0)
    what = "cannot load the certificate chain", file = cert_file;
  else if ((r = mbedtls_pk_parse_keyfile(&t->key, key_file, NULL)) != 0)
    what = "cannot load the private key", file = key_file;
  else if ((r = mbedtls_pk_check_pair(&t->chain.pk, &t->key)) != 0)
    what = "the key does not match the certificate", file = key_file;
  else if ((r = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                            MBEDTLS_SSL_PRESET_DEFAULT)) != 0)
    what = "configuration", file = "";
  else if ((r = mbedtls_ssl_conf_own_cert(&t->conf, &t->chain, &t->key)) != 0)
    what = "configuration", file = "";
  else if ((r = mbedtls_ssl_conf_alpn_protocols(&t->conf, (const char **)alpn)) != 0)
    what = "ALPN", file = "";
  else if ((r = mbedtls_ssl_ticket_setup(&t->ticket, tls_rng, NULL, MBEDTLS_CIPHER_AES_256_GCM, 86400)) != 0)
    what = "session tickets", file = "";
  if (what) {
    char err[160];
    if (r > 0) snprintf(err, sizeof err, "%d certificate(s) did not parse", r);
    else tls_strerror(r, err, sizeof err);
    SIO_LOGE("tls: %s%s%s: %s", what, *file ? " " : "", file, err);
    sio__tls_ctx_free(t);
    return -1;
  }
  mbedtls_ssl_conf_rng(&t->conf, tls_rng, NULL);
  mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&t->conf, ciphersuites);
  mbedtls_ssl_conf_curves(&t->conf, curves);
  mbedtls_ssl_conf_sni(&t->conf, tls_sni, t);
  mbedtls_ssl_cache_set_max_entries(&t->cache, 10000);
  mbedtls_ssl_conf_session_cache(&t->conf, &t->cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
  mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse, &t->ticket);
  *out = t;
  return 0;
}

void sio__tls_ctx_free(sio__tls_ctx *t) {
  if (!t) return;
  mbedtls_ssl_ticket_free(&t->ticket);
  mbedtls_ssl_cache_free(&t->cache);
  mbedtls_ssl_config_free(&t->conf);
  mbedtls_pk_free(&t->key);
  mbedtls_x509_crt_free(&t->chain);
  free(t);
}

/* ---- memory BIO ---------------------------------------------------------------- */

static int tls_recv(void *p, unsigned char *buf, size_t len) {
  sio__tls_conn *t = p;
  if (!t->in_len) return MBEDTLS_ERR_SSL_WANT_READ;
  size_t n = len < t->in_len ? len : t->in_len;
  memcpy(buf, t->in, n);
  t->in += n;
  t->in_len -= n;
  return (int)n;
}

/* Queues the ciphertext produced so far on the connection. */
static void tls_out_push(sio__tls_conn *t) {
  sio__rbuf *rb = t->out;
  if (!rb) return;
  t->out = NULL;
  if (rb->len && sio__wring_push(&t->c->wq, rb, 0, rb->len) != 0) sio__conn_fail_later(t->c, UV_ENOMEM);
  sio__rbuf_unref(rb);
  sio__conn_mark_dirty(t->c);
}

static int tls_send(void *p, const unsigned char *buf, size_t len) {
  sio__tls_conn *t = p;
  if (!t->out || t->out->len + len > t->out_cap) {
    tls_out_push(t);
    size_t cap = t->out_hint < TLS_OUT_CHUNK ? t->out_hint : TLS_OUT_CHUNK;
    if (cap < 4096) cap = 4096;
    if (cap < len) cap = len;
    if (!(t->out = sio__rbuf_new(cap))) return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    t->out_cap = cap;
  }
  memcpy(t->out->data + t->out->len, buf, len);
  t->out->len += (uint32_t)len;
  return (int)len;
}

/* ---- connections ----------------------------------------------------------------- */

int sio__tls_conn_new(sio__conn *c) {
  sio__tls_conn *t = calloc(1, sizeof *t);
  if (!t) return -1;
  mbedtls_ssl_init(&t->ssl);
  if (mbedtls_ssl_setup(&t->ssl, &c->net->tls->conf) != 0) {
    mbedtls_ssl_free(&t->ssl);
    free(t);
    return -1;
  }
  t->c = c;
  mbedtls_ssl_set_bio(&t->ssl, t, tls_send, tls_recv, NULL);
  c->tls = t;
  sio__tq_arm(&c->net->tls_hs_tq, &t->hs);
  return 0;
}

void sio__tls_conn_free(sio__conn *c) {
  sio__tls_conn *t = c->tls;
  sio__tq_cancel(&t->hs);
  mbedtls_ssl_free(&t->ssl);
  sio__wring_clear(&t->pq);
  sio__rbuf_unref(t->out);
  free(t);
  c->tls = NULL;
}

/* A TLS failure: logged, counted, the alert mbedTLS wrote (if any) is
 * sent, then the connection closes. */
static void tls_fail(sio__conn *c, const char *what, int err) {
  sio__tls_conn *t = c->tls;
  char peer[64], msg[160];
  sio__conn_peer(c, peer, sizeof peer);
  tls_strerror(err, msg, sizeof msg);
  SIO_LOGI("tls: %s with %s failed: %s", what, peer, msg);
  c->net->stats.tls_errors++;
  t->failed = 1;
  tls_out_push(t);
  sio__conn_close_after_write(c);
}

/* The first bytes are not a TLS handshake: a clear answer to plain HTTP,
 * written in clear (the write ring, not the TLS queue), and a close. */
static void tls_refuse_plain(sio__conn *c, const char *data, size_t len) {
  sio__tls_conn *t = c->tls;
  char peer[64];
  sio__conn_peer(c, peer, sizeof peer);
  t->failed = 1;
  if (data[0] < 'A' || data[0] > 'Z') {
    SIO_LOGI("tls: closing connection from %s: not a TLS handshake", peer);
    c->net->stats.tls_errors++;
    sio__conn_close(c);
    return;
  }
  SIO_LOGI("tls: plain HTTP from %s on the TLS port: answered 400", peer);
  c->net->stats.tls_plain_http++;
  static const char body[] = "This port speaks HTTPS: use https:// (or wss://).\n";
  char resp[256];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   sizeof body - 1, body);
  sio__rbuf *rb = sio__rbuf_new((size_t)n);
  if (rb) {
    memcpy(rb->data, resp, (size_t)n);
    rb->len = (uint32_t)n;
    if (sio__wring_push(&c->wq, rb, 0, rb->len) == 0) sio__conn_mark_dirty(c);
    sio__rbuf_unref(rb);
  }
  sio__conn_close_linger(c);
}

void sio__tls_read(sio__conn *c, char *data, size_t len) {
  sio__tls_conn *t = c->tls;
  sio__tls_ctx *ctx = c->net->tls;
  if (t->failed) return;
  if (!t->sniffed) {
    t->sniffed = 1;
    if ((unsigned char)data[0] != 0x16) {
      tls_refuse_plain(c, data, len);
      return;
    }
  }
  t->in = (const unsigned char *)data;
  t->in_len = len;
  if (!t->established) {
    int r = mbedtls_ssl_handshake(&t->ssl);
    tls_out_push(t);
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) goto done;
    if (r != 0) {
      tls_fail(c, "handshake", r);
      goto done;
    }
    t->established = 1;
    c->net->stats.tls_handshakes++;
    sio__tq_cancel(&t->hs);
    if (t->pq.count) sio__conn_mark_dirty(c);
  }
  /* Everything readable now: a record at a time, until the input is used up. */
  while (!(c->flags & SIO__CONN_CLOSING)) {
    int n = mbedtls_ssl_read(&t->ssl, ctx->rplain, sizeof ctx->rplain);
    if (n > 0) {
      sio__conn_deliver(c, (char *)ctx->rplain, (size_t)n);
      continue;
    }
    tls_out_push(t);
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) break;
    if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || n == 0) {
      t->notified = 1; /* nothing can follow our answer to it */
      sio__conn_eof(c, UV_EOF);
      break;
    }
    tls_fail(c, "read", n);
    break;
  }
done:
  t->in = NULL;
  t->in_len = 0;
}

int sio__tls_queue(sio__conn *c, sio__rbuf *rb, uint32_t off, uint32_t len) {
  return sio__wring_push(&c->tls->pq, rb, off, len);
}

size_t sio__tls_pending(const sio__conn *c) { return c->tls->pq.bytes; }

static int tls_write_all(sio__conn *c, const unsigned char *buf, size_t len) {
  while (len) {
    int r = mbedtls_ssl_write(&c->tls->ssl, buf, len);
    if (r < 0) {
      tls_fail(c, "write", r);
      return -1;
    }
    buf += r;
    len -= (size_t)r;
  }
  return 0;
}

int sio__tls_seal(sio__conn *c) {
  sio__tls_conn *t = c->tls;
  if (t->failed) {
    /* Nothing more can be encrypted; what is in the clear (an alert, a
     * plain-HTTP refusal) still leaves. */
    sio__wring_clear(&t->pq);
    return 0;
  }
  if (!t->established || !t->pq.count) return 0;
  unsigned char *stage = c->net->tls->wplain;
  int exp = mbedtls_ssl_get_record_expansion(&t->ssl);
  if (exp < 0) exp = 64;
  t->out_hint = t->pq.bytes + (t->pq.bytes / TLS_RECORD + 1) * (size_t)exp;
  size_t staged = 0;
  while (t->pq.count) {
    sio__wseg *s = sio__wring_at(&t->pq, 0);
    size_t n = s->len < TLS_RECORD - staged ? s->len : TLS_RECORD - staged;
    memcpy(stage + staged, s->rb->data + s->off, n);
    staged += n;
    sio__wring_consume(&t->pq, n);
    if (staged == TLS_RECORD) {
      if (tls_write_all(c, stage, staged) != 0) return -1;
      staged = 0;
    }
  }
  if (staged && tls_write_all(c, stage, staged) != 0) return -1;
  t->out_hint = 0;
  tls_out_push(t);
  return 0;
}

void sio__tls_close_notify(sio__conn *c) {
  sio__tls_conn *t = c->tls;
  if (!t->established || t->failed || t->notified) return;
  if (sio__tls_seal(c) != 0) return;
  t->notified = 1;
  mbedtls_ssl_close_notify(&t->ssl);
  tls_out_push(t);
}

void sio__tls_handshake_expired(sio__tq *q, sio__tq_node *n) {
  sio__tls_conn *t = sio__container_of(n, sio__tls_conn, hs);
  sio__conn *c = t->c;
  if (c->flags & SIO__CONN_CLOSING) return;
  char peer[64];
  sio__conn_peer(c, peer, sizeof peer);
  SIO_LOGI("tls: closing connection from %s: handshake not finished in time", peer);
  c->net->stats.tls_errors++;
  t->failed = 1;
  sio__conn_close(c);
}
