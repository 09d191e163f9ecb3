#include "echo_common.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const char echo_eio_usage[] =
    "[--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES] [--header-timeout MS] "
    "[--body-timeout MS] [--max-connections N] [--max-send-queue BYTES] "
    "[--allow-origin ORIGIN]... [--forbid-query KEY=VALUE] [--tls-cert F --tls-key F] "
    "[--tls-handshake-timeout MS] [--allow-eio3] [--per-message-deflate] [--deflate-threshold BYTES] "
    "[--deflate-server-no-context-takeover] [--deflate-client-no-context-takeover] "
    "[--deflate-server-max-window-bits N] [--deflate-client-max-window-bits N] "
    "[--deflate-mem-level N] [--http-compression|--no-http-compression] "
    "[--http-compression-threshold BYTES]";

static const char *origins[17];
static size_t norigins;
static const char *forbidden_query;

static int forbid_query_hook(const eio_http_request_t *req, const char **message, void *data) {
  size_t qlen, flen = strlen(forbidden_query);
  const char *q = eio_http_request_query(req, &qlen);
  for (size_t i = 0; q && i + flen <= qlen; i++) {
    if ((i == 0 || q[i - 1] == '&') && memcmp(q + i, forbidden_query, flen) == 0 &&
        (i + flen == qlen || q[i + flen] == '&')) {
      *message = "refused by test hook";
      return 0;
    }
  }
  return 1;
}

int echo_eio_flag(eio_options_t *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--allow-eio3") == 0) { /* flags without a value */
    o->allow_eio3 = 1;
    return 1;
  }
  static const char *const switches[] = {"--per-message-deflate", "--http-compression",
                                         "--no-http-compression", "--deflate-server-no-context-takeover",
                                         "--deflate-client-no-context-takeover"};
  for (size_t k = 0; k < sizeof switches / sizeof switches[0]; k++) {
    if (strcmp(a, switches[k]) != 0) continue;
    switch (k) {
    case 0: o->per_message_deflate = 1; break;
    case 1: o->http_compression = 1; break;
    case 2: o->http_compression = 0; break;
    case 3: o->deflate_server_no_context_takeover = 1; break;
    case 4: o->deflate_client_no_context_takeover = 1; break;
    }
    return 1;
  }
  static const char *const flags[] = {"--ping-interval",   "--ping-timeout",    "--max-payload",
                                      "--header-timeout",  "--body-timeout",    "--max-connections",
                                      "--max-send-queue",  "--allow-origin",    "--forbid-query",
                                      "--tls-cert",        "--tls-key",         "--tls-handshake-timeout",
                                      "--deflate-threshold", "--http-compression-threshold",
                                      "--deflate-mem-level", "--deflate-server-max-window-bits",
                                      "--deflate-client-max-window-bits"};
  size_t k = 0;
  while (k < sizeof flags / sizeof flags[0] && strcmp(a, flags[k]) != 0) k++;
  if (k == sizeof flags / sizeof flags[0]) return 0;
  if (*i + 1 >= argc) return -1;
  const char *v = argv[++*i];
  switch (k) {
  case 0: o->ping_interval_ms = (uint32_t)atoi(v); break;
  case 1: o->ping_timeout_ms = (uint32_t)atoi(v); break;
  case 2: o->max_payload = (size_t)atol(v); break;
  case 3: o->header_timeout_ms = (uint32_t)atoi(v); break;
  case 4: o->body_timeout_ms = (uint32_t)atoi(v); break;
  case 5: o->max_connections = (size_t)atol(v); break;
  case 6: o->max_send_queue = (size_t)atol(v); break;
  case 7:
    if (norigins == 16) return -1;
    origins[norigins++] = v;
    o->allowed_origins = origins;
    break;
  case 8:
    forbidden_query = v;
    o->allow_request = forbid_query_hook;
    break;
  case 9: o->tls_cert_file = v; break;
  case 10: o->tls_key_file = v; break;
  case 11: o->tls_handshake_timeout_ms = (uint32_t)atoi(v); break;
  case 12: o->deflate_threshold = (size_t)atol(v); break;
  case 13: o->http_compression_threshold = (size_t)atol(v); break;
  case 14: o->deflate_mem_level = atoi(v); break;
  case 15: o->deflate_server_max_window_bits = atoi(v); break;
  case 16: o->deflate_client_max_window_bits = atoi(v); break;
  }
  return 1;
}

int echo_stats_handler(eio_http_request_t *req, void *data) {
  eio_server_t *srv = *(eio_server_t **)data;
  size_t plen;
  const char *path = eio_http_request_path(req, &plen);
  if (!srv || plen != 6 || memcmp(path, "/stats", 6) != 0) return 0;
  long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    long size;
    if (fscanf(f, "%ld %ld", &size, &pages) != 2) pages = 0;
    fclose(f);
  }
  char body[160];
  int n = snprintf(body, sizeof body, "{\"sessions\":%zu,\"connections\":%zu,\"rss\":%ld}",
                   eio_server_clients_count(srv), eio_server_connections_count(srv),
                   pages * sysconf(_SC_PAGESIZE));
  eio_http_respond(req, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n", body,
                   (size_t)n);
  return 1;
}

void echo_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static uv_signal_t sig_int, sig_term;
static void (*close_cb)(void *);
static void *close_arg;

static void on_signal(uv_signal_t *h, int signum) {
  uv_close((uv_handle_t *)&sig_int, NULL);
  uv_close((uv_handle_t *)&sig_term, NULL);
  close_cb(close_arg);
}

void echo_run(uv_loop_t *loop, void (*close_fn)(void *arg), void *arg) {
  close_cb = close_fn;
  close_arg = arg;
  signal(SIGPIPE, SIG_IGN);
  uv_signal_init(loop, &sig_int);
  uv_signal_init(loop, &sig_term);
  uv_signal_start(&sig_int, on_signal, SIGINT);
  uv_signal_start(&sig_term, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
}
