/* TLS for sio__conn with mbedTLS, over memory: no socket is handed to
 * mbedTLS. Ciphertext read by libuv is fed in (sio__tls_read), decrypted
 * bytes go up to the protocol through sio__conn_deliver; what the protocol
 * writes is kept as plaintext slices (sio__tls_queue) until the loop-turn
 * flush, which joins them into records of up to 16 KiB (sio__tls_seal) and
 * queues the ciphertext on the connection's ordinary write ring, so TLS
 * connections get the same one-writev-per-turn coalescing as plain ones.
 *
 * TLS 1.2 (mbedTLS 2.28 has no TLS 1.3), ALPN http/1.1, SNI accepted for any
 * name (one certificate), session cache and session tickets. A connection
 * whose first byte is not a TLS handshake record gets a plain-text 400 if it
 * looks like HTTP, and is closed. Errors are logged and counted in
 * net->stats, never fatal to anything but their connection. */
#ifndef SIO_NET_TLS_H
#define SIO_NET_TLS_H

#include "net/conn.h"

/* Loads the certificate chain (PEM, leaf first) and key; 0, or -1 after
 * logging why. */
int sio__tls_ctx_new(const char *cert_file, const char *key_file, sio__tls_ctx **out);
void sio__tls_ctx_free(sio__tls_ctx *ctx); /* NULL is fine */

/* Per connection (called by conn.c). */
int sio__tls_conn_new(sio__conn *c);
void sio__tls_conn_free(sio__conn *c);
void sio__tls_read(sio__conn *c, char *data, size_t len);
int sio__tls_queue(sio__conn *c, sio__rbuf *rb, uint32_t off, uint32_t len);
size_t sio__tls_pending(const sio__conn *c);
/* Encrypts what is queued into c->wq: 0, or -1 if the connection failed. */
int sio__tls_seal(sio__conn *c);
/* Queues close_notify after what is queued (once; not after a failure). */
void sio__tls_close_notify(sio__conn *c);
void sio__tls_handshake_expired(sio__tq *q, sio__tq_node *n);

#endif
