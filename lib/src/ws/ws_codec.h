/* RFC 6455 WebSocket framing, server side: parses masked client frames and
 * builds unmasked server frame headers, plus the opening-handshake key math.
 *
 * No I/O and no event loop here: the connection code feeds whatever bytes a
 * read produced and writes whatever the builders return.
 *
 * Memory model (the server aims at < 2 KB per idle connection):
 *  - sio__ws_parser is small (48 bytes on LP64) and owns at most one heap
 *    buffer. The buffer exists only while a message is fragmented or a frame
 *    straddles two feed calls, and is freed as soon as that message (or
 *    control frame) has been delivered, after an error, after a close frame
 *    and by sio__ws_parser_free. An idle parser holds no heap memory.
 *  - The heap buffer grows with the bytes actually received (at most doubling),
 *    never with the length a frame header merely announces, so a peer cannot
 *    make the server reserve max_message bytes by sending a header alone.
 *  - The parser never keeps a pointer into the fed data after feed returns,
 *    so callers may read into one buffer shared by many connections.
 *  - Zero-copy fast path: a complete unfragmented data frame or control frame
 *    inside one fed chunk is unmasked in place and handed to the callback as
 *    a pointer into the caller's data.
 */
#ifndef SIO_WS_WS_CODEC_H
#define SIO_WS_WS_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum {
  SIO__WS_OP_CONT = 0,
  SIO__WS_OP_TEXT = 1,
  SIO__WS_OP_BINARY = 2,
  SIO__WS_OP_CLOSE = 8,
  SIO__WS_OP_PING = 9,
  SIO__WS_OP_PONG = 10
};

/* sio__ws_parser_feed result: a callback asked to stop. */
#define SIO__WS_STOPPED (-1)

/* ---- Builders (server -> client) ---------------------------------------- */

/* Writes a server frame header (FIN set, RSV 0, no mask) for opcode and
 * payload_len into out; returns its length: 2 (len <= 125), 4 (<= 65535) or
 * 10. Always uses the minimal length encoding, as RFC 6455 5.2 requires.
 * payload_len must be below 2^63 (the frame format has no room for more). */
size_t sio__ws_frame_header(uint8_t out[10], unsigned opcode, uint64_t payload_len);

/* Close frame payload: 2-byte big-endian code followed by reason (a NUL-
 * terminated UTF-8 string, may be NULL), truncated on a character boundary so
 * the total is <= 123 bytes. Returns the payload length. code 0 means "no
 * status code" and yields an empty payload (returns 0, out untouched). */
size_t sio__ws_close_payload(uint8_t out[125], uint16_t code, const char *reason);

/* 1 if key (len bytes, not necessarily NUL-terminated) looks like the base64
 * of 16 bytes: 22 base64 alphabet characters followed by "==". Like the Node
 * "ws" server, the unused low bits of the 22nd character are not checked:
 * the key is only ever hashed, never decoded. */
int sio__ws_key_valid(const char *key, size_t len);

/* Sec-WebSocket-Accept for key: base64(SHA-1(key + RFC 6455 GUID)), written
 * as 28 characters plus NUL. Returns 0, or -1 on failure (including keys
 * longer than 128 bytes, which sio__ws_key_valid rejects anyway). */
int sio__ws_accept_key(const char *key, size_t len, char out[29]);

/* ---- Parser (client -> server) ------------------------------------------ */

/* Every callback returns 0 to go on, or nonzero to stop parsing at once
 * (feed then returns SIO__WS_STOPPED). A NULL callback counts as returning 0.
 * Pointers passed to callbacks are valid only during the call; they point
 * either into the data given to feed or into the parser's heap buffer, which
 * is freed right after. Callbacks must not call feed or free on the parser
 * that invoked them, nor release the memory holding it: after any callback
 * returns, feed still writes to the parser (to drop its buffer and record
 * the result). To end the connection from a callback, return nonzero and
 * free the parser after feed has returned. */
typedef struct sio__ws_parser_cbs {
  /* A complete data message; text is already validated as UTF-8. data is
   * writable (never NULL, even when len is 0). */
  int (*on_message)(void *ud, int binary, uint8_t *data, size_t len);
  int (*on_ping)(void *ud, uint8_t *data, size_t len);
  int (*on_pong)(void *ud, uint8_t *data, size_t len);
  /* code is 1005 when the close frame had no payload. reason is valid UTF-8,
   * NOT NUL-terminated, len <= 123. After this call the parser ignores all
   * further input. */
  int (*on_close)(void *ud, unsigned code, const char *reason, size_t len);
  /* A complete compressed message (permessage-deflate: RSV1 on its first
   * frame, accepted only after sio__ws_parser_allow_compressed): data is the
   * payloads of its frames joined, still deflated, so not UTF-8 checked;
   * max_message bounds these wire bytes, the callback bounds what they
   * inflate to. Returns 0 to go on, a close code >= 1000 (1009, 1007, ...)
   * to fail the connection with it (feed returns that code), or any other
   * nonzero value to stop. */
  int (*on_compressed)(void *ud, int binary, uint8_t *data, size_t len);
} sio__ws_parser_cbs;

/* Opaque in spirit: fields are private to ws_codec.c (declared here only so
 * the parser can be embedded in the connection struct without an allocation). */
typedef struct sio__ws_parser {
  uint8_t *buf;       /* heap: assembled message [0,len), control payload after it */
  uint32_t len;       /* data bytes of the current message held in buf */
  uint32_t cap;       /* allocated size of buf (0 when buf is NULL) */
  uint32_t max;       /* max_message, clamped */
  uint32_t remaining; /* payload bytes of the current frame not yet seen */
  uint8_t mask[4];    /* masking key, rotated so mask[0] applies to the next byte */
  uint8_t hdr[14];    /* partial frame header; while in a payload: hdr[0] = first
                         header byte, hdr[1] = control payload length */
  uint8_t hdr_have;   /* header bytes collected so far */
  uint8_t state;      /* private enum in ws_codec.c */
  uint8_t flags;      /* private: message in progress, message is text, message is
                         compressed, RSV1 allowed */
  uint8_t utf8;       /* sio__utf8_feed state of the text message */
  int16_t result;     /* sticky return value once the parser is done */
} sio__ws_parser;

/* Initialises p (any previous content is ignored, nothing is freed).
 * max_message bounds the size of a data message (sum of its fragments) in
 * bytes; 0 allows only empty messages. Values above 4 GiB - 256 are clamped. */
void sio__ws_parser_init(sio__ws_parser *p, size_t max_message);

/* permessage-deflate was negotiated: RSV1 is allowed on the first frame of
 * a data message, which is then delivered to on_compressed. Without this
 * call any RSV bit is a protocol error (1002). */
void sio__ws_parser_allow_compressed(sio__ws_parser *p);

/* Parses len bytes of client data; frames may be split anywhere between
 * calls. data is modified in place (unmasked) and may be NULL if len is 0.
 * Returns:
 *   0                all bytes consumed (or ignored after a close frame);
 *   SIO__WS_STOPPED  a callback returned nonzero; the rest is not parsed;
 *   >= 1000          a protocol violation, as the close code to send:
 *                    1002 protocol error, 1007 invalid UTF-8 in a text message
 *                    or close reason, 1009 message larger than max_message,
 *                    1011 out of memory; or the code on_compressed returned.
 * STOPPED and the error codes are terminal: every later call returns the same
 * value without parsing (and the heap buffer is already freed). After a close
 * frame has been delivered, later calls return 0 and parse nothing. */
int sio__ws_parser_feed(sio__ws_parser *p, uint8_t *data, size_t len,
                        const sio__ws_parser_cbs *cbs, void *ud);

/* Frees the heap buffer, if any, and marks the parser finished: until it is
 * re-initialised with sio__ws_parser_init, feed returns SIO__WS_STOPPED and
 * allocates nothing. Safe to call twice. */
void sio__ws_parser_free(sio__ws_parser *p);

/* The max_message bound, after clamping. */
static inline size_t sio__ws_parser_max(const sio__ws_parser *p) { return p->max; }

/* Heap bytes currently held by the parser (0 at rest). */
size_t sio__ws_parser_heap_bytes(const sio__ws_parser *p);

#endif
