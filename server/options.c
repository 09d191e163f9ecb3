/* options.c: see options.h. */
#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Set by server/meson.build, so a binary started from any directory finds
 * the page and the npm bundle in the source tree. */
#ifndef SIO_SOURCE_DIR
#define SIO_SOURCE_DIR "."
#endif

extern char **environ;

#define ENV_PREFIX "SIO_CHAT_"
#define MS_MAX ((long)UINT32_MAX) /* timers are uint32_t milliseconds */

typedef enum { K_STR, K_LIST, K_NUM, K_SWITCH, K_LEVEL } kind_t;

typedef struct opt_def {
  const char *name; /* the flag without "--" */
  const char *arg;  /* placeholder in the help; NULL for a switch */
  kind_t kind;
  long min, max;    /* K_NUM */
  const char *def;  /* the default, as text (NULL: none) */
  const char *help; /* lines separated by \n */
} opt_def;

static const opt_def defs[OPT_COUNT] = {
    [OPT_HOST] = {"host", "ADDR", K_STR, 0, 0, "0.0.0.0",
                  "IPv4 or IPv6 address to listen on (\"::\" for every IPv6 and,\n"
                  "on most systems, IPv4 address)."},
    [OPT_PORT] = {"port", "N", K_NUM, 0, 65535, "3000", "TCP port; 0 picks a free one (printed on the \"listening\" line)."},
    [OPT_STATIC] = {"static", "DIR", K_STR, 0, 0, SIO_SOURCE_DIR "/client-demo",
                    "Directory of the chat page, served at /."},
    [OPT_CLIENT_DIR] = {"client-dir", "DIR", K_STR, 0, 0,
                        SIO_SOURCE_DIR "/server/node_modules/socket.io-client/dist",
                        "socket.io-client's dist/ directory, served under /socket.io/\n"
                        "(socket.io.js, socket.io.min.js, ... as Node's serveClient)."},
    [OPT_TLS_CERT] = {"tls-cert", "FILE", K_STR, 0, 0, NULL,
                      "Serve https and wss: the certificate chain (PEM, leaf first).\n"
                      "Needs --tls-key."},
    [OPT_TLS_KEY] = {"tls-key", "FILE", K_STR, 0, 0, NULL, "The private key of --tls-cert (PEM)."},
    [OPT_CORS] = {"cors", "ORIGIN[,ORIGIN...]", K_LIST, 0, 0, NULL,
                  "Send CORS headers (repeatable, or comma-separated). \"*\" allows\n"
                  "any origin; otherwise a request whose Origin is listed gets it\n"
                  "back in Access-Control-Allow-Origin (with Vary: Origin) and one\n"
                  "that is not gets none. Default: no CORS headers at all. CORS only\n"
                  "tells browsers what pages may read; to refuse other origins use\n"
                  "--allow-origin."},
    [OPT_CORS_CREDENTIALS] = {"cors-credentials", NULL, K_SWITCH, 0, 0, "off",
                              "Send Access-Control-Allow-Credentials: true (cookies and\n"
                              "auth headers from the browser). With --cors '*' the request's\n"
                              "Origin is reflected instead of \"*\"."},
    [OPT_CORS_METHODS] = {"cors-methods", "LIST", K_STR, 0, 0, "GET,HEAD,PUT,PATCH,POST,DELETE",
                          "Access-Control-Allow-Methods of preflight answers."},
    [OPT_CORS_ALLOWED_HEADERS] = {"cors-allowed-headers", "LIST", K_STR, 0, 0, NULL,
                                  "Access-Control-Allow-Headers of preflight answers\n"
                                  "(e.g. \"Content-Type,Authorization\"). Default: echo the\n"
                                  "request's Access-Control-Request-Headers."},
    [OPT_CORS_EXPOSED_HEADERS] = {"cors-exposed-headers", "LIST", K_STR, 0, 0, NULL,
                                  "Access-Control-Expose-Headers. Default: none."},
    [OPT_CORS_MAX_AGE] = {"cors-max-age", "SECONDS", K_NUM, 0, MS_MAX, "0",
                          "Access-Control-Max-Age of preflight answers; 0: not sent."},
    [OPT_ALLOW_ORIGIN] = {"allow-origin", "ORIGIN[,ORIGIN...]", K_LIST, 0, 0, NULL,
                          "Accept browser clients from these origins only (repeatable, or\n"
                          "comma-separated; exact match, e.g. https://chat.example.com).\n"
                          "Handshakes from other origins get 403. Requests without an\n"
                          "Origin header (non-browser clients) are accepted. Default: any."},
    [OPT_PING_INTERVAL] = {"ping-interval", "MS", K_NUM, 1, MS_MAX, "25000", "Engine.IO heartbeat interval."},
    [OPT_PING_TIMEOUT] = {"ping-timeout", "MS", K_NUM, 1, MS_MAX, "20000",
                          "How long a client may take to answer a ping before it is\n"
                          "dropped (\"ping timeout\")."},
    [OPT_MAX_PAYLOAD] = {"max-payload", "BYTES", K_NUM, 1, LONG_MAX, "1000000",
                         "Largest message or POST body accepted (maxHttpBufferSize);\n"
                         "bigger POSTs get 413, bigger WebSocket messages close 1009."},
    [OPT_MAX_CONNECTIONS] = {"max-connections", "N", K_NUM, 0, LONG_MAX, "0",
                             "Open connections before new ones get 503; 0: the open-file\n"
                             "limit (raised to its hard maximum at start) minus 64."},
    [OPT_MAX_SEND_QUEUE] = {"max-send-queue", "BYTES", K_NUM, 1, LONG_MAX, "4194304",
                            "Bytes queued to a client that does not read before it is\n"
                            "dropped (at least max-payload + 65536 is used)."},
    [OPT_LOG_LEVEL] = {"log-level", "LEVEL", K_LEVEL, 0, 0, "info",
                       "error, warn, info or debug. Lines go to stderr as\n"
                       "\"<UTC time> <level> <message>\"; sio-chat's own messages are\n"
                       "\"sio-chat <event> key=value ...\". Default: $SIO_LOG, else info."},
    [OPT_DRAIN_TIMEOUT] = {"drain-timeout", "MS", K_NUM, 0, MS_MAX, "10000",
                           "On SIGTERM or SIGINT, how long to wait for clients to leave\n"
                           "before closing whatever is left and exiting (see SIGNALS)."},
    [OPT_REDIS] = {"redis", "URL", K_STR, 0, 0, NULL,
                   "redis://HOST[:PORT][/DB]: share broadcasts with the other nodes\n"
                   "(sio or Node.js with @socket.io/redis-adapter) through this Redis.\n"
                   "Reconnects on its own; while Redis is away, messages reach this\n"
                   "node's clients only (logged and counted). Default: this node only."},
    [OPT_RECOVERY] = {"recovery", NULL, K_SWITCH, 0, 0, "off",
                      "Connection state recovery (socket.io's connectionStateRecovery):\n"
                      "a client whose connection dropped gets its socket back (same id,\n"
                      "rooms) with the messages it missed, if it returns within\n"
                      "--recovery-max-disconnection. Messages carry an offset argument."},
    [OPT_RECOVERY_MAX_DISCONNECTION] = {"recovery-max-disconnection", "MS", K_NUM, 1, MS_MAX, "120000",
                                        "With --recovery: how long a dropped client's session and the\n"
                                        "messages it may miss are kept (maxDisconnectionDuration)."},
    [OPT_ALLOW_EIO3] = {"allow-eio3", NULL, K_SWITCH, 0, 0, "off",
                        "Also accept Socket.IO v2 clients (socket.io-client 2.x, Engine.IO v3;\n"
                        "socket.io's allowEIO3)."},
    [OPT_PER_MESSAGE_DEFLATE] = {"per-message-deflate", NULL, K_SWITCH, 0, 0, "off",
                                 "Accept WebSocket permessage-deflate (RFC 7692) when a client\n"
                                 "offers it (browsers do): messages of 1024 bytes or more are\n"
                                 "compressed, compressed messages from clients inflated (bigger\n"
                                 "than --max-payload once inflated: closed 1009). Costs CPU, and\n"
                                 "memory while a connection compresses (its zlib streams, ~120 KB;\n"
                                 "~10 KB once it has been quiet for 10 s; see the README's\n"
                                 "Compression). Off, as in Node's socket.io."},
    [OPT_HTTP_COMPRESSION] = {"http-compression", NULL, K_SWITCH, 0, 0, "on",
                              "gzip or deflate long-polling responses of 1024 bytes or more\n"
                              "when the client accepts it (Accept-Encoding), as Node's\n"
                              "socket.io does by default. --http-compression=off to disable."},
};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* ---- values ------------------------------------------------------------------ */

static void env_name(const opt_def *d, char *out, size_t cap) {
  size_t n = (size_t)snprintf(out, cap, "%s", ENV_PREFIX);
  for (const char *p = d->name; *p && n + 1 < cap; p++)
    out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
  out[n] = 0;
}

/* A whole decimal number in [min, max], or -1 with errno set. */
static int parse_long(const char *s, long min, long max, long *out) {
  if (!*s) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static int parse_switch(const char *s, long *out) {
  static const char *const on[] = {"1", "true", "yes", "on"}, *const off[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < 4; i++) {
    if (!strcasecmp(s, on[i])) return *out = 1, 0;
    if (!strcasecmp(s, off[i])) return *out = 0, 0;
  }
  return -1;
}

/* Appends the comma-separated items of `s` (a copy is kept: split in place). */
static int list_add(opt_value *v, const char *s, const char *what) {
  char *copy = strdup(s);
  if (!copy) return -1;
  for (char *item = strtok(copy, ","); item; item = strtok(NULL, ",")) {
    while (*item == ' ' || *item == '\t') item++;
    size_t len = strlen(item);
    while (len && (item[len - 1] == ' ' || item[len - 1] == '\t')) item[--len] = 0;
    if (!len) continue;
    if (v->nlist == OPT_LIST_MAX) {
      fprintf(stderr, "sio-chat: %s: at most %d values\n", what, OPT_LIST_MAX);
      return -1; /* copy stays referenced by the items already taken */
    }
    v->list[v->nlist++] = item;
    v->list[v->nlist] = NULL;
  }
  return 0;
}

/* Sets option i from text `s`; `what` names the source for messages
 * ("--port" or "SIO_CHAT_PORT"). */
static int set_value(chat_options *o, int i, const char *s, const char *what) {
  const opt_def *d = &defs[i];
  opt_value *v = &o->v[i];
  v->set = 1;
  v->str = s;
  switch (d->kind) {
  case K_STR:
    if (!*s) {
      fprintf(stderr, "sio-chat: %s: empty value\n", what);
      return -1;
    }
    return 0;
  case K_LIST:
    return list_add(v, s, what);
  case K_NUM:
    if (parse_long(s, d->min, d->max, &v->num) == 0) return 0;
    fprintf(stderr, "sio-chat: %s: '%s' is not a whole number from %ld to %ld\n", what, s, d->min, d->max);
    return -1;
  case K_SWITCH:
    if (parse_switch(s, &v->num) == 0) return 0;
    fprintf(stderr, "sio-chat: %s: '%s' is not one of 1, 0, true, false, yes, no, on, off\n", what, s);
    return -1;
  case K_LEVEL:
    for (long l = 0; l < 4; l++)
      if (!strcmp(s, level_names[l])) return v->num = l, 0;
    fprintf(stderr, "sio-chat: %s: '%s' is not one of error, warn, info, debug\n", what, s);
    return -1;
  }
  return -1;
}

/* ---- sources ------------------------------------------------------------------- */

static int find_flag(const char *name, size_t len) {
  for (int i = 0; i < OPT_COUNT; i++)
    if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0) return i;
  return -1;
}

static int parse_env(chat_options *o) {
  char name[64];
  for (int i = 0; i < OPT_COUNT; i++) {
    env_name(&defs[i], name, sizeof name);
    const char *s = getenv(name);
    if (s && *s && set_value(o, i, s, name) != 0) return -1;
  }
  /* A misspelt variable would otherwise be ignored without a word. */
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, ENV_PREFIX, sizeof ENV_PREFIX - 1) != 0) continue;
    const char *eq = strchr(*e, '=');
    size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
    int known = 0;
    for (int i = 0; i < OPT_COUNT && !known; i++) {
      env_name(&defs[i], name, sizeof name);
      known = strlen(name) == len && memcmp(name, *e, len) == 0;
    }
    if (!known) {
      fprintf(stderr, "sio-chat: unknown environment variable %.*s\n", (int)len, *e);
      return -1;
    }
  }
  return 0;
}

/* "--name value", "--name=value", and bare "--switch". */
static int parse_argv(chat_options *o, int argc, char **argv) {
  int from_cli[OPT_COUNT] = {0};
  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
      chat_options_help(stdout);
      exit(0);
    }
    if (strncmp(arg, "--", 2) != 0) {
      fprintf(stderr, "sio-chat: unexpected argument '%s'\n", arg);
      return -1;
    }
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    int i = find_flag(name, nlen);
    if (i < 0) {
      fprintf(stderr, "sio-chat: unknown option '--%.*s'\n", (int)nlen, name);
      return -1;
    }
    char what[48];
    snprintf(what, sizeof what, "--%s", defs[i].name);
    const char *val;
    if (eq) val = eq + 1;
    else if (defs[i].kind == K_SWITCH) val = "1";
    else if (a + 1 < argc) val = argv[++a];
    else {
      fprintf(stderr, "sio-chat: %s needs a value (%s)\n", what, defs[i].arg);
      return -1;
    }
    /* A list on the command line replaces the environment's. */
    if (defs[i].kind == K_LIST && !from_cli[i]) o->v[i].nlist = 0, o->v[i].list[0] = NULL;
    from_cli[i] = 1;
    if (set_value(o, i, val, what) != 0) return -1;
  }
  return 0;
}

int chat_options_parse(chat_options *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  for (int i = 0; i < OPT_COUNT; i++) {
    const opt_def *d = &defs[i];
    o->v[i].str = d->def;
    if (d->kind == K_NUM && d->def) parse_long(d->def, d->min, d->max, &o->v[i].num);
    if (d->kind == K_SWITCH && d->def) parse_switch(d->def, &o->v[i].num); /* "on" or "off" */
    if (d->kind == K_LEVEL) o->v[i].num = 2;
  }
  if (parse_env(o) != 0 || parse_argv(o, argc, argv) != 0) return -1;
  /* Combinations. */
  const opt_value *cors = &o->v[OPT_CORS];
  for (int k = 0; k < cors->nlist; k++)
    if (!strcmp(cors->list[k], "*") && cors->nlist > 1) {
      fprintf(stderr, "sio-chat: --cors: '*' cannot be combined with other origins\n");
      return -1;
    }
  if (o->v[OPT_TLS_CERT].set != o->v[OPT_TLS_KEY].set) {
    fprintf(stderr, "sio-chat: --tls-cert and --tls-key go together\n");
    return -1;
  }
  return 0;
}

/* ---- the man page ------------------------------------------------------------------ */

static void indent(FILE *f, const char *text, const char *pad) {
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    fprintf(f, "%s%.*s\n", pad, (int)len, p);
    p += len + (nl ? 1 : 0);
  }
}

void chat_options_help(FILE *f) {
  fputs("NAME\n"
        "    sio-chat - chat server on libsio (Socket.IO v5 / Engine.IO v4, socket.io 4.x\n"
        "    compatible), with health and metrics endpoints for production use\n"
        "\n"
        "SYNOPSIS\n"
        "    sio-chat [--host ADDR] [--port N] [--tls-cert FILE --tls-key FILE]\n"
        "             [--cors ORIGIN]... [--allow-origin ORIGIN]... [OPTION]...\n"
        "    sio-chat --help\n"
        "\n"
        "DESCRIPTION\n"
        "    One chat room for everybody on namespace \"/\": each \"message\" event a\n"
        "    client sends is relayed to every client as \"<socket id>: <text>\" (cut\n"
        "    at 2000 bytes); joins and leaves are announced. Clients may use HTTP\n"
        "    long-polling, WebSocket, or start on polling and upgrade. The server also\n"
        "    serves the chat page and the socket.io-client browser bundle, so\n"
        "    opening http://HOST:PORT/ in a browser is enough to chat.\n"
        "\n"
        "    Every option can also be set in the environment (see ENVIRONMENT); the\n"
        "    command line wins. Values are checked: an unknown option or variable,\n"
        "    or a value that does not parse, stops the server with status 2.\n"
        "\n"
        "OPTIONS\n",
        f);
  char env[64], head[160];
  for (int i = 0; i < OPT_COUNT; i++) {
    const opt_def *d = &defs[i];
    env_name(d, env, sizeof env);
    if (d->arg) snprintf(head, sizeof head, "--%s %s", d->name, d->arg);
    else snprintf(head, sizeof head, "--%s", d->name);
    fprintf(f, "    %s\n", head);
    indent(f, d->help, "        ");
    fprintf(f, "        Environment: %s%s. Default: %s.\n\n", env,
            d->kind == K_LIST ? " (comma-separated)" : d->kind == K_SWITCH ? " (1 or 0)" : "",
            d->def ? d->def : "none");
  }
  fputs("    --help, -h\n"
        "        Print this page and exit.\n"
        "\n"
        "ENVIRONMENT\n"
        "    SIO_CHAT_<OPTION>\n"
        "        Each option's environment form is SIO_CHAT_ followed by its name in\n"
        "        capitals, dashes turned into underscores: --max-payload is\n"
        "        SIO_CHAT_MAX_PAYLOAD. Empty variables are ignored. Lists are\n"
        "        comma-separated; a list option given on the command line replaces\n"
        "        the environment's list. Switches take 1/0, true/false, yes/no or\n"
        "        on/off. A SIO_CHAT_ variable that names no option is an error.\n"
        "    SIO_LOG\n"
        "        The library's log level (error, warn, info, debug), used when\n"
        "        --log-level is not given.\n"
        "\n"
        "SIGNALS\n"
        "    SIGTERM, SIGINT\n"
        "        Drain, then exit 0: /healthz turns 503; new connections to the\n"
        "        Socket.IO path are refused with 503; every client is disconnected\n"
        "        (WebSockets get a close frame, pending long-polls their close\n"
        "        packet), so socket.io clients see \"transport close\" and reconnect,\n"
        "        to another instance or to this one once restarted. When every\n"
        "        client has gone, or after --drain-timeout, the rest is closed and\n"
        "        the process exits.\n"
        "    A second SIGTERM or SIGINT during the drain exits at once (status 1).\n"
        "    SIGPIPE is ignored.\n"
        "\n"
        "ENDPOINTS\n"
        "    /socket.io/\n"
        "        Socket.IO (Engine.IO v4: polling and WebSocket; EIO=3 is refused).\n"
        "    GET /healthz\n"
        "        200 \"ok\" (text/plain) while serving, 503 \"draining\" during a drain.\n"
        "    GET /metrics\n"
        "        Prometheus text format 0.0.4: connections, sessions by transport,\n"
        "        namespaces, sockets, rooms, packets, messages and bytes in and out,\n"
        "        handshakes, upgrades, closes by reason, HTTP errors by status, Socket.IO\n"
        "        events, acks, broadcasts and errors, TLS handshakes and errors,\n"
        "        resident memory and uptime. Every name starts with sio_.\n"
        "    /socket.io/socket.io.js (and .min.js, .esm.min.js, their .map)\n"
        "        The socket.io-client bundle from --client-dir.\n"
        "    / and other paths\n"
        "        The chat page and its files from --static (GET and HEAD).\n"
        "\n"
        "EXIT STATUS\n"
        "    0   stopped by SIGTERM or SIGINT after the drain (or its timeout)\n"
        "    1   could not start (address in use, unreadable certificate, ...), or a\n"
        "        second signal cut the drain short\n"
        "    2   bad usage: unknown option or variable, bad value\n"
        "\n"
        "EXAMPLES\n"
        "    Local development (open http://localhost:3000/):\n"
        "        sio-chat\n"
        "    Behind a reverse proxy, pages served from another origin:\n"
        "        sio-chat --host 127.0.0.1 --port 8080 \\\n"
        "            --cors https://chat.example.com --cors-credentials \\\n"
        "            --allow-origin https://chat.example.com\n"
        "    TLS on port 443, settings from the environment (e.g. a systemd unit):\n"
        "        SIO_CHAT_PORT=443 SIO_CHAT_TLS_CERT=/etc/ssl/chat/fullchain.pem \\\n"
        "        SIO_CHAT_TLS_KEY=/etc/ssl/chat/privkey.pem SIO_CHAT_LOG_LEVEL=warn sio-chat\n"
        "    Scrape and probe:\n"
        "        curl -s localhost:3000/metrics | grep ^sio_sessions\n"
        "        curl -fs localhost:3000/healthz\n",
        f);
}
