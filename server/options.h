/* options.h: sio-chat's configuration. One table describes every option
 * once: its flag (--max-payload), its environment form (SIO_CHAT_MAX_PAYLOAD),
 * how its value parses, its default and its help; --help (a man page) is
 * printed from the same table, so the three never drift apart.
 *
 * Precedence: built-in default < environment < command line. A bad value
 * from either source is an error (exit status 2), never silently ignored: a
 * mistyped flag would otherwise run a production server on a default. */
#ifndef SIO_CHAT_OPTIONS_H
#define SIO_CHAT_OPTIONS_H

#include <stdio.h>

/* Indexes into the option table (options.c keeps the same order). */
enum {
  OPT_HOST,
  OPT_PORT,
  OPT_STATIC,
  OPT_CLIENT_DIR,
  OPT_TLS_CERT,
  OPT_TLS_KEY,
  OPT_CORS,
  OPT_CORS_CREDENTIALS,
  OPT_CORS_METHODS,
  OPT_CORS_ALLOWED_HEADERS,
  OPT_CORS_EXPOSED_HEADERS,
  OPT_CORS_MAX_AGE,
  OPT_ALLOW_ORIGIN,
  OPT_PING_INTERVAL,
  OPT_PING_TIMEOUT,
  OPT_MAX_PAYLOAD,
  OPT_MAX_CONNECTIONS,
  OPT_MAX_SEND_QUEUE,
  OPT_LOG_LEVEL,
  OPT_DRAIN_TIMEOUT,
  OPT_REDIS,
  OPT_RECOVERY,
  OPT_RECOVERY_MAX_DISCONNECTION,
  OPT_ALLOW_EIO3,
  OPT_PER_MESSAGE_DEFLATE,
  OPT_HTTP_COMPRESSION,
  OPT_COUNT
};

#define OPT_LIST_MAX 32

/* The value of one option after parsing. */
typedef struct opt_value {
  int set;          /* given in the environment or on the command line */
  const char *str;  /* strings (and the raw text of every option) */
  long num;         /* numbers, switches (0/1) and log levels (0..3) */
  const char *list[OPT_LIST_MAX + 1]; /* lists: NULL-terminated */
  int nlist;
} opt_value;

typedef struct chat_options {
  opt_value v[OPT_COUNT];
} chat_options;

/* Fills `o` from the defaults, then the environment, then argv. Prints the
 * man page and exits 0 on --help; returns 0, or -1 after printing what is
 * wrong to stderr (the caller exits 2). */
int chat_options_parse(chat_options *o, int argc, char **argv);

/* The man page (--help). */
void chat_options_help(FILE *f);

#endif
