/* eio-echo-server: Engine.IO only; echoes every message (text or binary)
 * back to its sender. The app the engine.io-protocol test suite and our
 * end-to-end tests expect.
 *   eio-echo-server --port N [--ping-interval 300] [--ping-timeout 200] [--path /engine.io/]
 *                   (and the flags of echo_common.h; GET /stats for leak tests)
 * Test hooks: a text message "close-me" makes the server close the session;
 * "flood:N" makes it send N numbered messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "echo_common.h"
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

static eio_server_t *server;

static void close_server(void *arg) { eio_server_close(server, NULL, NULL); }

int main(int argc, char **argv) {
  eio_options_t opts;
  eio_options_init(&opts);
  int port = 3000;
  const char *host = "127.0.0.1";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int k = echo_eio_flag(&opts, argc, argv, &i);
    if (k == 1) continue;
    if (k == 0 && !strcmp(a, "--port") && v) port = atoi(argv[++i]);
    else if (k == 0 && !strcmp(a, "--host") && v) host = argv[++i];
    else if (k == 0 && !strcmp(a, "--path") && v) opts.path = argv[++i];
    else {
      fprintf(stderr, "usage: %s --port N [--host H] [--path P] %s\n", argv[0], echo_eio_usage);
      return 2;
    }
  }
  opts.cors_origin = "*";
  opts.callbacks.on_message = on_message;
  opts.http_handler = echo_stats_handler;
  opts.http_data = &server;
  echo_raise_nofile();
  uv_loop_t *loop = uv_default_loop();
  int r = eio_server_new(loop, &opts, &server);
  if (!r) r = eio_server_listen(server, host, port);
  if (r) {
    fprintf(stderr, "eio-echo-server: cannot listen on %s:%d: %s\n", host, port, eio_strerror(r));
    return 1;
  }
  fprintf(stderr, "eio-echo-server listening on %s:%d%s\n", host, eio_server_port(server), opts.path);
  echo_run(loop, close_server, NULL);
  return 0;
}
