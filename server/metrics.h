/* metrics.h: sio-chat's /healthz and /metrics answers. /metrics renders the
 * library's counters (sio_server_stats) in the Prometheus text exposition
 * format 0.0.4, plus the process's resident memory and uptime, and with
 * --redis the Redis adapter's counters (sio_redis_adapter_stats). */
#ifndef SIO_CHAT_METRICS_H
#define SIO_CHAT_METRICS_H

#include <stdint.h>

#include "sio.h"

typedef struct chat_metrics {
  sio_server_t *srv;
  sio_namespace_t *nsp;    /* the chat's namespace, for per-namespace series */
  uint64_t start_ms;       /* uv_hrtime() / 1e6 at start */
  uint64_t start_unix_ms;  /* wall clock at start */
  uint64_t chat_lines;     /* chat messages relayed (sio-chat's own counter) */
  sio_redis_adapter_t *redis; /* --redis: its sio_redis_* series; NULL: none (and once closed) */
  int draining;
} chat_metrics;

/* Answers GET /healthz and GET /metrics; returns 1 if `req` was one of
 * them (answered), 0 otherwise. */
int chat_metrics_serve(chat_metrics *m, eio_http_request_t *req);

#endif
