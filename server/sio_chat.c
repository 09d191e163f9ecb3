/* sio-chat: the bundled chat backend. One room for everybody on namespace
 * "/": each line a client sends as event "message" goes to all clients,
 * prefixed with the sender's socket id; joins and leaves are announced.
 * It also serves the chat page (client-demo/) and, as Node's serveClient
 * does, the stock socket.io-client browser bundle under /socket.io/.
 *
 * Run `sio-chat --help` for the options. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sio.h"
#include "static.h"

/* Set by server/meson.build, so a binary started from any directory finds
 * the page and the npm bundle in the source tree. */
#ifndef SIO_SOURCE_DIR
#define SIO_SOURCE_DIR "."
#endif

/* Longest chat line relayed, in bytes; longer ones are cut (at a UTF-8
 * character boundary) rather than refused, so a paste is not lost whole. */
#define CHAT_MAX_TEXT 2000

typedef struct chat {
  uv_loop_t *loop;
  sio_server_t *srv;
  sio_namespace_t *nsp;
  static_site_t *site;   /* --static: the page */
  static_site_t *client; /* --client-dir: socket.io-client's dist/ */
  uv_signal_t sig_int, sig_term;
  int closing;
} chat_t;

/* ---- options --------------------------------------------------------------- */

typedef struct config {
  const char *host;
  int port;
  const char *static_dir;
  const char *client_dir;
  const char *cors;
  long ping_interval; /* ms; -1: the library's default */
  long ping_timeout;  /* ms */
  long max_payload;
  const char *tls_cert, *tls_key;
  long max_connections; /* 0: the library's default */
  long max_send_queue;
  const char *origins[17]; /* --allow-origin, NULL-terminated */
  int norigins;
} config_t;

static void usage(FILE *f, const char *argv0) {
  fprintf(f,
          "usage: %s [--host H] [--port N] [--static DIR] [--client-dir DIR] [--cors ORIGIN]\n"
          "          [--tls-cert FILE --tls-key FILE]\n"
          "          [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]\n"
          "          [--max-connections N] [--max-send-queue BYTES] [--allow-origin ORIGIN]... [--help]\n"
          "\n"
          "  --host H             address to listen on (default 0.0.0.0)\n"
          "  --port N             port, 0 for any free one (default 3000)\n"
          "  --static DIR         the chat page (default %s/client-demo)\n"
          "  --client-dir DIR     socket.io-client's dist/, served under /socket.io/\n"
          "                       (default %s/server/node_modules/socket.io-client/dist)\n"
          "  --cors ORIGIN        allow cross-origin clients from ORIGIN (or *)\n"
          "  --tls-cert FILE      serve https/wss: certificate chain (PEM, leaf first)\n"
          "  --tls-key FILE       ... and its private key (PEM)\n"
          "  --ping-interval MS   Engine.IO heartbeat interval (default 25000)\n"
          "  --ping-timeout MS    Engine.IO heartbeat timeout (default 20000)\n"
          "  --max-payload BYTES  largest message accepted (default 1000000)\n"
          "  --max-connections N  open connections before new ones get 503\n"
          "                       (default: the open-file limit minus 64)\n"
          "  --max-send-queue BYTES  bytes queued to a client that does not read\n"
          "                       before it is dropped (default 4194304)\n"
          "  --allow-origin ORIGIN  accept browser clients from ORIGIN only\n"
          "                       (repeatable; default: any origin)\n",
          argv0, SIO_SOURCE_DIR, SIO_SOURCE_DIR);
}

/* A whole decimal number in [min, max], or -1. */
static long parse_num(const char *s, long min, long max) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  return v;
}

/* Timers are uint32_t milliseconds in eio_options_t. */
#define MS_MAX ((long)UINT32_MAX)

/* Every option takes a value. */
static const char *const option_names[] = {
    "--host", "--port", "--static", "--client-dir", "--cors",
    "--ping-interval", "--ping-timeout", "--max-payload", "--max-connections",
    "--max-send-queue", "--allow-origin", "--tls-cert", "--tls-key",
};

static int known_option(const char *arg, size_t len) {
  for (size_t i = 0; i < sizeof option_names / sizeof option_names[0]; i++)
    if (strlen(option_names[i]) == len && memcmp(option_names[i], arg, len) == 0) return 1;
  return 0;
}

/* Accepts "--name value" and "--name=value"; anything unknown, a missing
 * value or a bad number is an error (exit 2), never silently ignored, since
 * a mistyped flag would otherwise run the server with a default. */
static int parse_args(int argc, char **argv, config_t *cfg) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      usage(stdout, argv[0]);
      exit(0);
    }
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (!known_option(arg, nlen)) {
      fprintf(stderr, "%s: unknown option '%.*s'\n", argv[0], (int)nlen, arg);
      return -1;
    }
    char name[32]; /* longer than any known option */
    memcpy(name, arg, nlen);
    name[nlen] = '\0';
    const char *val;
    if (eq) val = eq + 1;
    else if (i + 1 < argc) val = argv[++i];
    else {
      fprintf(stderr, "%s: %s needs a value\n", argv[0], name);
      return -1;
    }
    long n = 0;
    if (!strcmp(name, "--host")) cfg->host = val;
    else if (!strcmp(name, "--static")) cfg->static_dir = val;
    else if (!strcmp(name, "--client-dir")) cfg->client_dir = val;
    else if (!strcmp(name, "--cors")) cfg->cors = val;
    else if (!strcmp(name, "--tls-cert")) cfg->tls_cert = val;
    else if (!strcmp(name, "--tls-key")) cfg->tls_key = val;
    else if (!strcmp(name, "--port")) n = cfg->port = (int)parse_num(val, 0, 65535);
    else if (!strcmp(name, "--ping-interval")) n = cfg->ping_interval = parse_num(val, 1, MS_MAX);
    else if (!strcmp(name, "--ping-timeout")) n = cfg->ping_timeout = parse_num(val, 1, MS_MAX);
    else if (!strcmp(name, "--max-payload")) n = cfg->max_payload = parse_num(val, 1, LONG_MAX);
    else if (!strcmp(name, "--max-connections")) n = cfg->max_connections = parse_num(val, 1, LONG_MAX);
    else if (!strcmp(name, "--max-send-queue")) n = cfg->max_send_queue = parse_num(val, 1, LONG_MAX);
    else if (!strcmp(name, "--allow-origin")) {
      if (cfg->norigins == 16) {
        fprintf(stderr, "%s: at most 16 --allow-origin\n", argv[0]);
        return -1;
      }
      cfg->origins[cfg->norigins++] = val;
    }
    if (n < 0) {
      fprintf(stderr, "%s: bad value for %s: '%s'\n", argv[0], name, val);
      return -1;
    }
  }
  return 0;
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
}

static void on_signal(uv_signal_t *h, int signum) {
  chat_t *chat = h->data;
  if (chat->closing) {
    /* A second Ctrl-C: do not wait for a shutdown that seems stuck. */
    fprintf(stderr, "sio-chat: exiting now\n");
    exit(0);
  }
  chat->closing = 1;
  fprintf(stderr, "sio-chat: %s, shutting down\n", signum == SIGINT ? "SIGINT" : "SIGTERM");
  sio_server_close(chat->srv, on_closed, chat);
}

int main(int argc, char **argv) {
  config_t cfg = {
      .host = "0.0.0.0",
      .port = 3000,
      .static_dir = SIO_SOURCE_DIR "/client-demo",
      .client_dir = SIO_SOURCE_DIR "/server/node_modules/socket.io-client/dist",
      .ping_interval = -1,
      .ping_timeout = -1,
      .max_payload = -1,
  };
  if (parse_args(argc, argv, &cfg) != 0) {
    usage(stderr, argv[0]);
    return 2;
  }

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
  chat.site = static_site_new(cfg.static_dir);
  chat.client = static_site_new(cfg.client_dir);
  if (!chat.site || !chat.client) {
    fprintf(stderr, "sio-chat: out of memory\n");
    return 1;
  }
  if (!static_site_ok(chat.site))
    fprintf(stderr, "sio-chat: warning: page directory %s not found; serving no page\n",
            static_site_dir(chat.site));
  if (!static_site_ok(chat.client))
    fprintf(stderr,
            "sio-chat: warning: %s not found; /socket.io/socket.io.js will be 404 "
            "(run `npm ci` in server/)\n",
            static_site_dir(chat.client));

  sio_options_t opts;
  sio_options_init(&opts);
  if (cfg.ping_interval > 0) opts.eio.ping_interval_ms = (uint32_t)cfg.ping_interval;
  if (cfg.ping_timeout > 0) opts.eio.ping_timeout_ms = (uint32_t)cfg.ping_timeout;
  if (cfg.max_payload > 0) opts.eio.max_payload = (size_t)cfg.max_payload;
  if (cfg.max_connections > 0) opts.eio.max_connections = (size_t)cfg.max_connections;
  if (cfg.max_send_queue > 0) opts.eio.max_send_queue = (size_t)cfg.max_send_queue;
  if (cfg.norigins) opts.eio.allowed_origins = cfg.origins;
  opts.eio.cors_origin = cfg.cors;
  opts.eio.tls_cert_file = cfg.tls_cert;
  opts.eio.tls_key_file = cfg.tls_key;
  opts.eio.http_handler = on_http;
  opts.eio.http_data = &chat;

  int r = sio_server_new(chat.loop, &opts, &chat.srv);
  if (!r) {
    chat.nsp = sio_of(chat.srv, "/");
    sio_on_connection(chat.nsp, on_connection, &chat);
    sio_on_disconnect(chat.nsp, on_disconnect, &chat);
    sio_on(chat.nsp, "message", on_message, &chat);
    r = sio_server_listen(chat.srv, cfg.host, cfg.port);
  }
  if (r) {
    fprintf(stderr, "sio-chat: cannot listen on %s:%d: %s\n", cfg.host, cfg.port, eio_strerror(r));
    return 1;
  }
  uv_signal_init(chat.loop, &chat.sig_int);
  uv_signal_init(chat.loop, &chat.sig_term);
  chat.sig_int.data = chat.sig_term.data = &chat;
  uv_signal_start(&chat.sig_int, on_signal, SIGINT);
  uv_signal_start(&chat.sig_term, on_signal, SIGTERM);

  /* Tests read the port back from this line (`listening on [^\s]*:(\d+)`). */
  int port = sio_server_port(chat.srv);
  int any = strcmp(cfg.host, "0.0.0.0") == 0 || strcmp(cfg.host, "::") == 0;
  int v6 = !any && strchr(cfg.host, ':') != NULL;
  fprintf(stderr, "sio-chat listening on %s:%d (open %s://%s%s%s:%d/)\n", cfg.host, port,
          cfg.tls_cert ? "https" : "http", v6 ? "[" : "", any ? "localhost" : cfg.host, v6 ? "]" : "", port);

  uv_run(chat.loop, UV_RUN_DEFAULT);
  uv_loop_close(chat.loop);
  static_site_free(chat.site);
  static_site_free(chat.client);
  return 0;
}
