#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "eio.h"

int sio__log_level = SIO__LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sio__log_init(void) {
  static int done;
  if (done) return;
  done = 1;
  const char *env = getenv("SIO_LOG");
  if (!env) return;
  for (int i = 0; i < 4; i++)
    if (strcmp(env, level_names[i]) == 0) sio__log_level = i;
}

void eio_set_log_level(int level) {
  sio__log_init();
  sio__log_level = level < 0 ? 0 : level > 3 ? 3 : level;
}

static void log_vwrite(int level, const char *fmt, va_list ap) {
  char line[1024];
  struct timeval tv;
  struct tm tm;
  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(line + n, sizeof line - n, ".%03dZ %-5s ", (int)(tv.tv_usec / 1000),
                        level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  if (m < 0) m = 0;
  n += (size_t)m;
  if (n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  /* One write per line so lines from several processes do not interleave. */
  fwrite(line, 1, n, stderr);
}

void sio__log_write(int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vwrite(level, fmt, ap);
  va_end(ap);
}

void eio_log(int level, const char *fmt, ...) {
  sio__log_init();
  if (level > sio__log_level) return;
  va_list ap;
  va_start(ap, fmt);
  log_vwrite(level, fmt, ap);
  va_end(ap);
}
