/* permessage-deflate (RFC 7692), server side: the negotiation of the
 * Sec-WebSocket-Extensions offer exactly as the Node `ws` server (8.x) does
 * it, and the compression and bounded decompression of messages. No I/O.
 *
 * Memory is what a compressed connection costs, so nothing is allocated
 * until it is needed, and what an idle connection holds goes back:
 *  - sio__pmd (per connection, 80 bytes) holds the agreed parameters and
 *    two stream pointers, NULL until used.
 *  - With context takeover (the default: each side's LZ77 window carries
 *    over from message to message) a connection needs its own zlib streams.
 *    The deflate stream (about 256 KiB of address space, ~70 KiB touched
 *    with zlib's default memLevel 8 after a first message, up to all of it
 *    after 32 KiB of traffic) is created by the first message at or above
 *    the threshold; the inflate stream (~40 KiB) by the first compressed
 *    message received.
 *  - A connection whose streams were not used for idle_ms (10 s) keeps only
 *    their windows, the last bytes each direction saw (at most 32 KiB each,
 *    often much less), and frees the streams (sio__pmd_hibernate); the next
 *    compressed message re-creates its stream primed with that window
 *    (deflateSetDictionary / inflateSetDictionary), so the peer sees no
 *    difference. zlib's large buffers are mmap'd, so they leave the RSS at
 *    once when freed.
 *  - Without context takeover a message depends on nothing before it, so
 *    every such connection shares one stream per window size, held by the
 *    server's sio__pmd_ctx, and reset after each message: no per-connection
 *    zlib memory at all. Outgoing, the compressed bytes then depend on the
 *    message alone, so a broadcast is compressed once: the last compressed
 *    message is kept (sio__pmd_ctx's cache) and every further recipient with
 *    the same window size queues a reference to the same frame.
 *
 * Messages below the threshold (1024 bytes, as ws) go uncompressed: their
 * frame is the one shared by every recipient (see util/rbuf.h). */
#ifndef SIO_WS_WS_DEFLATE_H
#define SIO_WS_WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/rbuf.h"
#include "util/tq.h"

/* What the server accepts and asks for; see eio_options_t.deflate_*. The
 * three-way settings mirror ws's options, where `undefined`, `true`,
 * `false` and a number mean different things. */
typedef struct sio__pmd_config {
  size_t threshold;      /* payloads shorter than this are sent uncompressed */
  int server_nct;        /* serverNoContextTakeover: 0 as offered, 1 always, -1 refuse offers asking it */
  int client_nct;        /* clientNoContextTakeover: 0 as offered, 1 always */
  int server_max_wbits;  /* serverMaxWindowBits: 0 as offered, 9..15 ours, -1 refuse offers limiting it */
  int client_max_wbits;  /* clientMaxWindowBits: 0 as offered, 8..15 asked, -1 never answered */
  int level;             /* zlib level: -1 (zlib's default, 6) or 0..9 */
  int mem_level;         /* zlib memLevel 1..9 (8, Node's default) */
  uint32_t idle_ms;      /* a connection's own streams unused this long are freed
                            (windows kept); 0: never. Needs a loop (sio__pmd_ctx_new) */
} sio__pmd_config;

/* Fills ws's defaults: threshold 1024, everything "as offered", level -1,
 * memLevel 8; and idle_ms 10000. */
void sio__pmd_config_init(sio__pmd_config *cfg);
/* 0 if every field is in range, -1 otherwise. */
int sio__pmd_config_check(const sio__pmd_config *cfg);

/* The agreed parameters of one connection, in the order the answer lists
 * them (ws keeps the order of the accepted offer, then appends its own). */
enum {
  SIO__PMD_SERVER_NCT = 0,   /* server_no_context_takeover */
  SIO__PMD_CLIENT_NCT = 1,   /* client_no_context_takeover */
  SIO__PMD_SERVER_WBITS = 2, /* server_max_window_bits=N */
  SIO__PMD_CLIENT_WBITS = 3, /* client_max_window_bits=N */
};
typedef struct sio__pmd_params {
  uint8_t server_nct, client_nct;
  uint8_t server_wbits; /* 8..15, or 0: not limited (15) */
  uint8_t client_wbits; /* 8..15, or 0: not limited (15) */
  uint8_t order[4];     /* SIO__PMD_* in answer order */
  uint8_t n;            /* entries of order[] used */
} sio__pmd_params;

/* Negotiates from the Sec-WebSocket-Extensions value `header` (len bytes;
 * several header lines joined with ", ", as Node does). Returns:
 *    1  an offer is accepted: *out holds the agreed parameters;
 *    0  no permessage-deflate offer (other extensions are ignored);
 *   -1  the header does not parse, a permessage-deflate offer has an
 *       unknown, repeated or invalid parameter, or no offer is acceptable
 *       under cfg: ws answers 400 "Invalid or unacceptable
 *       Sec-WebSocket-Extensions header" (the whole upgrade is refused). */
int sio__pmd_negotiate(const sio__pmd_config *cfg, const char *header, size_t len,
                       sio__pmd_params *out);
/* The answer's value ("permessage-deflate; client_max_window_bits=10"),
 * NUL-terminated; returns its length. 128 bytes always suffice; a smaller
 * cap that cannot hold it all gets the pieces that fit whole (maybe none). */
size_t sio__pmd_format(const sio__pmd_params *p, char *out, size_t cap);

/* ---- streams ------------------------------------------------------------- */

/* Per server: the configuration, the streams shared by connections without
 * context takeover, and the last compressed message. */
typedef struct sio__pmd_ctx sio__pmd_ctx;

/* NULL on OOM or an invalid configuration. With a loop (and idle_ms), idle
 * connections' streams are freed by a deadline queue on it: close that
 * queue's timer (sio__pmd_ctx_idle_queue, sio__tq_close) before the free. */
sio__pmd_ctx *sio__pmd_ctx_new(const sio__pmd_config *cfg, uv_loop_t *loop);
/* The idle queue, or NULL (no loop or idle_ms 0). */
sio__tq *sio__pmd_ctx_idle_queue(sio__pmd_ctx *ctx);
/* Frees the shared streams and drops the cached message. After every
 * connection using it is freed, and its idle queue's timer closed. NULL is
 * fine. */
void sio__pmd_ctx_free(sio__pmd_ctx *ctx);
const sio__pmd_config *sio__pmd_ctx_config(const sio__pmd_ctx *ctx);
/* Zlib bytes allocated for the shared streams (for tests and stats). */
size_t sio__pmd_ctx_heap_bytes(const sio__pmd_ctx *ctx);
/* Connections holding a live stream of their own. */
size_t sio__pmd_ctx_live(const sio__pmd_ctx *ctx);

/* Per connection (opaque). */
typedef struct sio__pmd sio__pmd;

/* NULL on OOM. Allocates no stream. */
sio__pmd *sio__pmd_new(sio__pmd_ctx *ctx, const sio__pmd_params *p);
void sio__pmd_free(sio__pmd *s);
/* Whether this connection's own streams are live (tests, memory checks). */
int sio__pmd_has_deflate(const sio__pmd *s);
int sio__pmd_has_inflate(const sio__pmd *s);
/* What this connection holds: the struct, kept windows, live streams
 * (their allocation, not what is resident). */
size_t sio__pmd_heap_bytes(const sio__pmd *s);
/* Frees the connection's own streams, keeping their windows (the idle
 * queue calls this; tests too). 0, or -1 when out of memory (the streams
 * are then kept). */
int sio__pmd_hibernate(sio__pmd *s);

/* Compresses an Engine.IO packet (payload at rb->data[SIO__RBUF_HEADROOM,
 * rb->len)) for this connection. Returns
 *    1  *out is a new reference to [headroom][deflated payload] (binary as
 *       rb; its hlen says whether a frame header is already built there: a
 *       compressed message shared by several recipients);
 *    0  send rb uncompressed (shorter than the threshold, or a window of 8
 *       bits was agreed, which zlib cannot produce);
 *   -1  out of memory. With context takeover the stream may then be out of
 *       step with the peer's: the connection must be closed. */
int sio__pmd_compress_packet(sio__pmd *s, sio__rbuf *rb, sio__rbuf **out);
/* Same for plain bytes (never cached): *out is [headroom][deflated]. */
int sio__pmd_compress(sio__pmd *s, const void *data, size_t len, int binary, sio__rbuf **out);

/* Inflates one complete compressed message (the payloads of its frames,
 * joined). The output may not exceed max bytes: inflation stops as soon as
 * it would (the buffer never grows beyond max + 1 bytes, whatever the
 * compressed data announces). On success *out is malloc'd (never NULL, even
 * for an empty message; free it) and *outlen set. Returns 0, or the close
 * code: 1009 over max, 1007 invalid deflate data, 1011 out of memory. */
int sio__pmd_inflate(sio__pmd *s, const uint8_t *in, size_t len, size_t max, uint8_t **out,
                     size_t *outlen);

#endif
