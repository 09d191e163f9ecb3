/* What the two test servers (eio-echo-server, sio-echo-server) share: the
 * Engine.IO flags, a /stats endpoint for leak and churn tests, and a main
 * loop that shuts down cleanly on SIGINT/SIGTERM. */
#ifndef SIO_TESTS_ECHO_COMMON_H
#define SIO_TESTS_ECHO_COMMON_H

#include "eio.h"

/* Engine.IO flags both servers take:
 *   --ping-interval MS --ping-timeout MS --max-payload BYTES
 *   --header-timeout MS --body-timeout MS --max-connections N
 *   --max-send-queue BYTES --allow-origin ORIGIN (repeatable)
 *   --forbid-query KEY=VALUE (an allow_request hook refusing handshakes
 *   whose query holds it, with the message "refused by test hook")
 *   --tls-cert FILE --tls-key FILE (https and wss)
 *   --tls-handshake-timeout MS (a TLS handshake not finished by then: closed)
 *   --allow-eio3 (no value: accept Engine.IO v3 clients, as allowEIO3)
 *   --per-message-deflate (no value: accept permessage-deflate offers)
 *   --deflate-threshold BYTES --deflate-mem-level N
 *   --deflate-server-no-context-takeover, --deflate-client-no-context-takeover
 *   (no value: answer them always) --deflate-server-max-window-bits N
 *   --deflate-client-max-window-bits N (-1: the ws `false` setting)
 *   --http-compression, --no-http-compression (no value; on by default)
 *   --http-compression-threshold BYTES
 * Consumes argv[*i] (and its value) if it is one of them: returns 1; 0 if
 * not; -1 if its value is missing. */
int echo_eio_flag(eio_options_t *o, int argc, char **argv, int *i);
extern const char echo_eio_usage[];

/* GET /stats: {"sessions":N,"connections":N,"rss":BYTES}; `data` is an
 * eio_server_t ** filled once the server exists. Other paths: 0 (404). */
int echo_stats_handler(eio_http_request_t *req, void *data);

/* Raises the open-file limit to its hard maximum (one descriptor per client). */
void echo_raise_nofile(void);

/* Runs the loop until SIGINT/SIGTERM, then calls close_fn(arg) (which must
 * close the server) and runs the loop to the end. */
void echo_run(uv_loop_t *loop, void (*close_fn)(void *arg), void *arg);

#endif
