/* eio-echo-server: Engine.IO only; echoes every message (text or binary)
 * back to its sender. The app the engine.io-protocol test suite and our
 * end-to-end tests expect.
 *   eio-echo-server --port N [--ping-interval 300] [--ping-timeout 200] [--path /engine.io/]
 * Test hooks: a text message "close-me" makes the server close the session;
 * "flood:N" makes it send N numbered messages. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eio.h"

static void on_message(eio_socket_t *s, const char *msg, size_t len, int binary, void *data) {
  if (!binary && len == 8 && memcmp(msg, "close-me", 8) == 0) {
    eio_socket_close(s);
    return;
  }
  if (!binary && len > 6 && memcmp(msg, "flood:", 6) == 0) {
    int n = atoi(msg + 6);
    char buf[32];
    for (int i = 0; i < n; i++) {
      int m = snprintf(buf, sizeof buf, "%d", i);
      eio_socket_send(s, buf, (size_t)m, 0);
    }
    return;
  }
  eio_socket_send(s, msg, len, binary);
}

static uv_signal_t sig_int, sig_term;
static eio_server_t *server;

static void on_signal(uv_signal_t *h, int signum) {
  uv_signal_stop(&sig_int);
  uv_signal_stop(&sig_term);
  uv_close((uv_handle_t *)&sig_int, NULL);
  uv_close((uv_handle_t *)&sig_term, NULL);
  eio_server_close(server, NULL, NULL);
}

int main(int argc, char **argv) {
  eio_options_t opts;
  eio_options_init(&opts);
  int port = 3000;
  const char *host = "127.0.0.1";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--port") && v) port = atoi(argv[++i]);
    else if (!strcmp(a, "--host") && v) host = argv[++i];
    else if (!strcmp(a, "--ping-interval") && v) opts.ping_interval_ms = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(a, "--ping-timeout") && v) opts.ping_timeout_ms = (uint32_t)atoi(argv[++i]);
    else if (!strcmp(a, "--path") && v) opts.path = argv[++i];
    else if (!strcmp(a, "--max-payload") && v) opts.max_payload = (size_t)atol(argv[++i]);
    else if (!strcmp(a, "--header-timeout") && v) opts.header_timeout_ms = (uint32_t)atoi(argv[++i]);
    else {
      fprintf(stderr,
              "usage: %s --port N [--host H] [--ping-interval MS] [--ping-timeout MS] [--path P] "
              "[--max-payload BYTES] [--header-timeout MS]\n",
              argv[0]);
      return 2;
    }
  }
  opts.cors_origin = "*";
  opts.callbacks.on_message = on_message;
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t *loop = uv_default_loop();
  int r = eio_server_new(loop, &opts, &server);
  if (!r) r = eio_server_listen(server, host, port);
  if (r) {
    fprintf(stderr, "eio-echo-server: cannot listen on %s:%d: %s\n", host, port, eio_strerror(r));
    return 1;
  }
  fprintf(stderr, "eio-echo-server listening on %s:%d%s\n", host, eio_server_port(server), opts.path);
  uv_signal_init(loop, &sig_int);
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
