/* Refcounted byte buffers: the unit of everything written to a connection.
 *
 * A message that goes to many recipients (a broadcast) is encoded once into
 * one rbuf; each recipient's write queue holds a reference and a byte range.
 * Engine.IO packets reserve SIO__RBUF_HEADROOM bytes in front of the payload
 * so the WebSocket frame header can be written there once, making
 * [header|payload] one contiguous frame shared by every WebSocket recipient,
 * while polling recipients use the payload range alone. */
#ifndef SIO_UTIL_RBUF_H
#define SIO_UTIL_RBUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIO__RBUF_HEADROOM 10 /* largest server WebSocket frame header */
#define SIO__RBUF_STATIC UINT32_MAX

typedef struct sio__rbuf {
  uint32_t refs;   /* SIO__RBUF_STATIC: never freed (string constants) */
  uint32_t len;    /* bytes used in data */
  uint8_t binary;  /* Engine.IO packets: a binary message */
  uint8_t hlen;    /* Engine.IO packets: WebSocket header length once built, else 0 */
  uint8_t temp;    /* a temporary, whose reference the writer drops once queued */
  uint8_t nocompress; /* Engine.IO packets: send uncompressed (socket.io's compress(false)) */
  uint8_t pad[4];
  char data[];
} sio__rbuf;

/* New buffer with capacity `cap`, refs = 1, len = 0. NULL on OOM. */
static inline sio__rbuf *sio__rbuf_new(size_t cap) {
  sio__rbuf *b = (sio__rbuf *)malloc(sizeof(sio__rbuf) + cap);
  if (!b) return NULL;
  memset(b, 0, sizeof *b);
  b->refs = 1;
  return b;
}

static inline sio__rbuf *sio__rbuf_ref(sio__rbuf *b) {
  if (b->refs != SIO__RBUF_STATIC) b->refs++;
  return b;
}

static inline void sio__rbuf_unref(sio__rbuf *b) {
  if (b && b->refs != SIO__RBUF_STATIC && --b->refs == 0) free(b);
}

#endif
