/* sio-chat: the bundled chat backend. One room for everybody on namespace
 * "/": each line a client sends as event "message" goes to all clients,
 * prefixed with the sender's socket id; joins and leaves are announced.
 * It also serves the chat page (client-demo/) and, as Node's serveClient
 * does, the stock socket.io-client browser bundle under /socket.io/.
 *
 * For production: every option also has an environment form (options.c),
 * GET /healthz and GET /metrics (Prometheus; with --redis also the Redis
 * adapter's counters) are answered (metrics.c), and
 * SIGTERM/SIGINT drain the server (sessions closed properly, clients
 * reconnect elsewhere) before it exits within --drain-timeout.
 *
 * Run `sio-chat --help` for the man page. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "metrics.h"
#include "options.h"
#include "sio.h"
#include "static.h"

/* Longest chat line relayed, in bytes; longer ones are cut (at a UTF-8
 * character boundary) rather than refused, so a paste is not lost whole. */
#define CHAT_MAX_TEXT 2000
/* While draining, how often to look whether everyone has left. */
#define DRAIN_POLL_MS 25

typedef struct chat {
  uv_loop_t *loop;
  sio_server_t *srv;
  sio_namespace_t *nsp;
  static_site_t *site;   /* --static: the page */
  static_site_t *client; /* --client-dir: socket.io-client's dist/ */
  chat_metrics metrics;
  uv_signal_t sig_int, sig_term;
  uv_timer_t drain_poll, drain_deadline;
  uint64_t drain_started_ms;
  uint32_t drain_timeout_ms;
  sio_redis_adapter_t *redis; /* --redis, else NULL */
  int closing;
} chat_t;

/* ---- logging ----------------------------------------------------------------- */

/* sio-chat's lines, in the library's format ("<UTC time> <level> <message>",
 * one write per line) so that one stream holds both; the message is
 * "sio-chat <event> key=value ...". */
static void chat_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chat_log(int level, const char *fmt, ...) {
  if (level > eio_log_level()) return;
  char msg[960];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  eio_log(level, "sio-chat %s", msg);
}

/* ---- chat ------------------------------------------------------------------------ */

/* One string in a JSON array: the arguments of every "message" we emit. */
static json_t *line_args(const char *text, size_t len) {
  json_t *s = json_stringn(text, len);
  return s ? json_pack("[o]", s) : NULL;
}

static void emit_line(chat_t *chat, sio_socket_t *except, const char *id, const char *suffix) {
  char buf[128];
  int n = snprintf(buf, sizeof buf, "%s%s", id, suffix);
  if (n < 0 || (size_t)n >= sizeof buf) return;
  json_t *args = line_args(buf, (size_t)n);
  if (!args) return;
  if (except) sio_broadcast_emit(except, "message", args);
  else sio_emit_all(chat->nsp, "message", args);
}

static void on_connection(sio_socket_t *s, void *data) {
  emit_line(data, NULL, sio_socket_id(s), " connected");
}

static void on_disconnect(sio_socket_t *s, const char *reason, void *data) {
  chat_t *chat = data;
  /* At shutdown every socket is leaving: nobody is left to tell. */
  if (chat->closing) return;
  emit_line(chat, s, sio_socket_id(s), " disconnected");
}

/* The longest prefix of text[0..len) that is at most max bytes and does not
 * end inside a UTF-8 sequence (jansson hands us valid UTF-8). */
static size_t utf8_cut(const char *text, size_t len, size_t max) {
  if (len <= max) return len;
  size_t n = max;
  while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
  return n;
}

static void on_message(sio_socket_t *s, const char *event, json_t *args, sio_ack_t *ack,
                       void *data) {
  chat_t *chat = data;
  json_t *first = json_array_get(args, 0);
  if (!json_is_string(first)) return;
  const char *text = json_string_value(first);
  size_t len = utf8_cut(text, json_string_length(first), CHAT_MAX_TEXT);
  const char *id = sio_socket_id(s);
  size_t idlen = strlen(id);
  char *line = malloc(idlen + 2 + len);
  if (!line) return;
  memcpy(line, id, idlen);
  memcpy(line + idlen, ": ", 2);
  memcpy(line + idlen + 2, text, len);
  json_t *out = line_args(line, idlen + 2 + len);
  free(line);
  if (out) sio_emit_all(chat->nsp, "message", out);
  chat->metrics.chat_lines++;
}

/* ---- HTTP -------------------------------------------------------------------------- */

/* The files Node's serveClient answers under /socket.io/. The Engine.IO
 * router offers paths below its own to the HTTP handler first; any other
 * one is left unanswered here so that Engine.IO gets it. */
static const char *const client_files[] = {
    "socket.io.js",         "socket.io.js.map",         "socket.io.min.js",
    "socket.io.min.js.map", "socket.io.esm.min.js",     "socket.io.esm.min.js.map",
};

static int on_http(eio_http_request_t *req, void *data) {
  chat_t *chat = data;
  if (chat_metrics_serve(&chat->metrics, req)) return 1;
  size_t len;
  const char *path = eio_http_request_path(req, &len);
  static const char prefix[] = "/socket.io/";
  if (len > sizeof prefix - 1 && memcmp(path, prefix, sizeof prefix - 1) == 0) {
    const char *name = path + sizeof prefix - 1;
    size_t nlen = len - (sizeof prefix - 1);
    for (size_t i = 0; i < sizeof client_files / sizeof client_files[0]; i++)
      if (strlen(client_files[i]) == nlen && memcmp(client_files[i], name, nlen) == 0)
        return static_site_serve_file(chat->client, req, client_files[i]);
    return 0;
  }
  return static_site_serve(chat->site, req);
}

/* ---- lifetime ----------------------------------------------------------------------- */

static void on_closed(void *arg) {
  chat_t *chat = arg;
  uv_close((uv_handle_t *)&chat->sig_int, NULL);
  uv_close((uv_handle_t *)&chat->sig_term, NULL);
  uv_close((uv_handle_t *)&chat->drain_poll, NULL);
  uv_close((uv_handle_t *)&chat->drain_deadline, NULL);
}

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

/* The drain is over (everyone left, or the deadline passed): close the rest. */
static void drain_finish(chat_t *chat, const char *why) {
  uv_timer_stop(&chat->drain_poll);
  uv_timer_stop(&chat->drain_deadline);
  eio_server_t *e = sio_server_engine(chat->srv);
  if (chat->redis) {
    chat->metrics.redis = NULL; /* freed once closed: /metrics stops showing it */
    sio_redis_adapter_close(chat->redis, NULL, NULL);
    chat->redis = NULL;
  }
  chat_log(2, "drained reason=%s elapsed_ms=%llu sessions_left=%zu connections_left=%zu", why,
           (unsigned long long)(now_ms() - chat->drain_started_ms), eio_server_clients_count(e),
           eio_server_connections_count(e));
  sio_server_close(chat->srv, on_closed, chat);
}

static void on_drain_poll(uv_timer_t *t) {
  chat_t *chat = t->data;
  eio_server_t *e = sio_server_engine(chat->srv);
  if (eio_server_clients_count(e) == 0 && eio_server_connections_count(e) == 0)
    drain_finish(chat, "done");
}

static void on_drain_deadline(uv_timer_t *t) { drain_finish(t->data, "timeout"); }

static void on_signal(uv_signal_t *h, int signum) {
  chat_t *chat = h->data;
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
  if (chat->closing) {
    /* A second signal: do not wait for a drain that seems stuck. */
    chat_log(1, "exiting signal=%s status=1 reason=\"second signal during the drain\"", name);
    _exit(1);
  }
  chat->closing = 1;
  chat->metrics.draining = 1;
  eio_server_t *e = sio_server_engine(chat->srv);
  chat_log(2, "draining signal=%s sessions=%zu connections=%zu timeout_ms=%u", name,
           eio_server_clients_count(e), eio_server_connections_count(e), chat->drain_timeout_ms);
  chat->drain_started_ms = now_ms();
  sio_server_drain(chat->srv);
  uv_timer_start(&chat->drain_poll, on_drain_poll, 0, DRAIN_POLL_MS);
  uv_timer_start(&chat->drain_deadline, on_drain_deadline, chat->drain_timeout_ms, 0);
}

/* Applies the parsed options to the library's. */
static void apply_options(const chat_options *o, sio_options_t *opts) {
  const opt_value *v = o->v;
  opts->eio.ping_interval_ms = (uint32_t)v[OPT_PING_INTERVAL].num;
  opts->eio.ping_timeout_ms = (uint32_t)v[OPT_PING_TIMEOUT].num;
  opts->eio.max_payload = (size_t)v[OPT_MAX_PAYLOAD].num;
  opts->eio.max_connections = (size_t)v[OPT_MAX_CONNECTIONS].num;
  opts->eio.max_send_queue = (size_t)v[OPT_MAX_SEND_QUEUE].num;
  if (v[OPT_ALLOW_ORIGIN].nlist) opts->eio.allowed_origins = v[OPT_ALLOW_ORIGIN].list;
  const opt_value *cors = &v[OPT_CORS];
  if (cors->nlist == 1 && !strcmp(cors->list[0], "*")) opts->eio.cors_origin = "*";
  else if (cors->nlist) opts->eio.cors_origins = cors->list;
  opts->eio.cors_credentials = (int)v[OPT_CORS_CREDENTIALS].num;
  if (v[OPT_CORS_METHODS].set) opts->eio.cors_methods = v[OPT_CORS_METHODS].str;
  opts->eio.cors_allowed_headers = v[OPT_CORS_ALLOWED_HEADERS].str;
  opts->eio.cors_exposed_headers = v[OPT_CORS_EXPOSED_HEADERS].str;
  opts->eio.cors_max_age = (uint32_t)v[OPT_CORS_MAX_AGE].num;
  opts->eio.tls_cert_file = v[OPT_TLS_CERT].str;
  opts->eio.tls_key_file = v[OPT_TLS_KEY].str;
  opts->recovery = (int)v[OPT_RECOVERY].num;
  opts->eio.allow_eio3 = (int)v[OPT_ALLOW_EIO3].num;
  opts->recovery_max_disconnection_ms = (uint32_t)v[OPT_RECOVERY_MAX_DISCONNECTION].num;
  opts->eio.per_message_deflate = (int)v[OPT_PER_MESSAGE_DEFLATE].num;
  opts->eio.http_compression = (int)v[OPT_HTTP_COMPRESSION].num;
}

int main(int argc, char **argv) {
  static chat_options o; /* static: the lists it holds stay reachable */
  if (chat_options_parse(&o, argc, argv) != 0) {
    fprintf(stderr, "sio-chat: see 'sio-chat --help'\n");
    return 2;
  }
  if (o.v[OPT_LOG_LEVEL].set) eio_set_log_level((int)o.v[OPT_LOG_LEVEL].num);
  const char *host = o.v[OPT_HOST].str;
  int port_arg = (int)o.v[OPT_PORT].num;

  /* A peer closing mid-write must be an error code, not the end of us. */
  signal(SIGPIPE, SIG_IGN);
  /* One descriptor per client: use all the process may have. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  static chat_t chat;
  chat.loop = uv_default_loop();
  chat.drain_timeout_ms = (uint32_t)o.v[OPT_DRAIN_TIMEOUT].num;
  chat.site = static_site_new(o.v[OPT_STATIC].str);
  chat.client = static_site_new(o.v[OPT_CLIENT_DIR].str);
  if (!chat.site || !chat.client) {
    chat_log(0, "error=\"out of memory\"");
    return 1;
  }
  if (!static_site_ok(chat.site))
    chat_log(1, "no_page dir=%s note=\"page directory not found; serving no page\"",
             static_site_dir(chat.site));
  if (!static_site_ok(chat.client))
    chat_log(1, "no_client_bundle dir=%s note=\"/socket.io/socket.io.js will be 404 (run npm ci in server/)\"",
             static_site_dir(chat.client));

  sio_options_t opts;
  sio_options_init(&opts);
  apply_options(&o, &opts);
  opts.eio.http_handler = on_http;
  opts.eio.http_data = &chat;

  int r = sio_server_new(chat.loop, &opts, &chat.srv);
  if (!r) {
    chat.nsp = sio_of(chat.srv, "/");
    sio_on_connection(chat.nsp, on_connection, &chat);
    sio_on_disconnect(chat.nsp, on_disconnect, &chat);
    sio_on(chat.nsp, "message", on_message, &chat);
    r = sio_server_listen(chat.srv, host, port_arg);
  }
  if (!r && o.v[OPT_REDIS].set) {
    r = sio_redis_adapter_new(chat.loop, chat.srv, o.v[OPT_REDIS].str, &chat.redis);
    if (r) {
      chat_log(0, "bad_redis url=%s", o.v[OPT_REDIS].str);
      return 2;
    }
  }
  if (r) {
    chat_log(0, "cannot_listen addr=%s:%d error=\"%s\"", host, port_arg, eio_strerror(r));
    return 1;
  }
  struct timeval tv;
  gettimeofday(&tv, NULL);
  chat.metrics = (chat_metrics){.srv = chat.srv,
                                .nsp = chat.nsp,
                                .start_ms = now_ms(),
                                .start_unix_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000,
                                .redis = chat.redis};
  uv_signal_init(chat.loop, &chat.sig_int);
  uv_signal_init(chat.loop, &chat.sig_term);
  uv_timer_init(chat.loop, &chat.drain_poll);
  uv_timer_init(chat.loop, &chat.drain_deadline);
  chat.sig_int.data = chat.sig_term.data = chat.drain_poll.data = chat.drain_deadline.data = &chat;
  uv_signal_start(&chat.sig_int, on_signal, SIGINT);
  uv_signal_start(&chat.sig_term, on_signal, SIGTERM);

  /* Tests read the port back from this line (`listening on [^\s]*:(\d+)`);
   * it is printed whatever the log level. */
  int port = sio_server_port(chat.srv);
  int any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
  int v6 = !any && strchr(host, ':') != NULL;
  int level = eio_log_level();
  if (level < 2) eio_set_log_level(2);
  chat_log(2, "listening on %s%s%s:%d url=%s://%s%s%s:%d/ tls=%s pid=%d", v6 ? "[" : "", host,
           v6 ? "]" : "", port, o.v[OPT_TLS_CERT].set ? "https" : "http", v6 ? "[" : "",
           any ? "localhost" : host, v6 ? "]" : "", port, o.v[OPT_TLS_CERT].set ? "on" : "off",
           (int)getpid());
  eio_set_log_level(level);

  uv_run(chat.loop, UV_RUN_DEFAULT);
  uv_loop_close(chat.loop);
  static_site_free(chat.site);
  static_site_free(chat.client);
  chat_log(2, "exiting status=0");
  return 0;
}
