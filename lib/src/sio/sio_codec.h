/* Socket.IO v5 packet codec (PROTOCOL.md 4.1-4.3). Pure: no I/O, no state
 * between calls.
 *
 * Wire format of the text part (after Engine.IO's message type '4'):
 *   <type>[<attachments>"-"][<nsp>","][<ack id>][<JSON payload>]
 *   "2[\"hey\",\"Jude\"]"  "212[\"foo\"]"  "0/admin,{\"sid\":\"x\"}"
 *   "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]" then one binary message
 *
 * Receiving a binary packet takes three steps, because its attachments
 * arrive as separate Engine.IO messages: sio__packet_decode on the text
 * (type BINARY_EVENT/BINARY_ACK, attachments = n), collect n binary
 * messages, then sio__packet_reconstruct to put them in place of the
 * placeholders. The type stays BINARY_* throughout; the caller treats
 * BINARY_EVENT like EVENT and BINARY_ACK like ACK afterwards.
 *
 * Where this is stricter than socket.io-parser (which a conforming client
 * never notices, since its encoder never produces these):
 *  - the type must be a digit 0-6 (JS reads "" or " " as type 0);
 *  - the attachment count must be decimal digits (JS accepts "", " 1",
 *    "0x1", "1e0");
 *  - the ack id must be plain digits and at most 2^53 - 1
 *    (Number.MAX_SAFE_INTEGER; JS rounds larger ones). JS also reads
 *    whitespace as an id digit ("2 [..]" is id 0 there), so a payload may not
 *    start with whitespace here (JSON.parse itself would skip it);
 *  - a namespace may not contain a NUL byte (it is a C string here);
 *  - EVENT, BINARY_EVENT, ACK, BINARY_ACK and CONNECT_ERROR need a payload
 *    (JS accepts them without one and the handlers then see undefined);
 *  - JSON that jansson refuses but JSON.parse accepts: numbers beyond the
 *    double range (1e400), and \u escapes of lone surrogates.
 * And one leniency: integers beyond int64 (which JS reads as rounded
 * doubles) make jansson fail, so such a payload is parsed again with every
 * integer read as a real (JSON_DECODE_INT_AS_REAL), as JS would. */
#ifndef SIO_SIO_CODEC_H
#define SIO_SIO_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/rbuf.h"

enum {
  SIO__PKT_CONNECT = 0,
  SIO__PKT_DISCONNECT,
  SIO__PKT_EVENT,
  SIO__PKT_ACK,
  SIO__PKT_CONNECT_ERROR,
  SIO__PKT_BINARY_EVENT,
  SIO__PKT_BINARY_ACK
};

/* Most binary attachments a received packet may announce (socket.io-parser's
 * maxAttachments default). */
#define SIO__MAX_ATTACHMENTS 10
/* Largest ack id accepted (Number.MAX_SAFE_INTEGER). */
#define SIO__MAX_ACK_ID INT64_C(9007199254740991)

typedef struct sio__packet {
  int type;             /* SIO__PKT_* */
  char *nsp;            /* heap, NUL-terminated; "/" when absent */
  int64_t id;           /* ack id, -1 when absent */
  json_t *data;         /* new reference owned by the packet, NULL when absent */
  uint32_t attachments; /* binary attachments announced (BINARY_* only, else 0) */
} sio__packet;

/* Decodes the text of one Socket.IO packet: the Engine.IO message payload
 * without its leading '4'. s need not be NUL-terminated and is not modified.
 * Checks every rule of PROTOCOL.md 4.3 (and the notes above):
 *   CONNECT        payload absent or an object
 *   DISCONNECT     no payload
 *   EVENT, BINARY_EVENT  an array whose first element is a number or a
 *                  string other than connect, connect_error, disconnect,
 *                  disconnecting, newListener, removeListener
 *   ACK, BINARY_ACK      an array (may be empty)
 *   CONNECT_ERROR  a string or an object
 * The payload is parsed with JSON_DECODE_ANY | JSON_ALLOW_NUL; anything after
 * the JSON value other than whitespace is refused.
 * Returns 0 (out filled; release with sio__packet_clear), or -1 (out is left
 * cleared: nsp NULL, data NULL, id -1, so clearing it again is harmless). */
int sio__packet_decode(const char *s, size_t len, sio__packet *out);

/* Replaces every placeholder {"_placeholder":true,"num":i} in p->data, at any
 * depth in arrays and objects (p->data itself included), with a binary value
 * (sio_binary_new) holding a copy of bins[i] (lens[i] bytes). As in
 * socket.io-parser, an object counts as a placeholder when its "_placeholder"
 * is true, whatever its other keys; num must be an integer (an integral real
 * such as 1.0 counts) in [0, n). Attachments may be used any number of times,
 * including not at all. bins[i] may be NULL when lens[i] is 0.
 * Returns 0, or -1 (bad num, or OOM); p->data may then be partly replaced
 * and should be discarded. */
int sio__packet_reconstruct(sio__packet *p, const uint8_t *const *bins, const size_t *lens, size_t n);

/* Frees nsp, drops the reference to data, and zeroes p (id -1). */
void sio__packet_clear(sio__packet *p);

/* Encodes a packet for sending, once, into refcounted buffers.
 *   *text: an Engine.IO message as util/rbuf.h lays it out: SIO__RBUF_HEADROOM
 *          unused bytes, then '4' and the Socket.IO text ("2/chat,12[...]");
 *          len counts the headroom; binary = 0.
 *   *atts, *natts: when type is EVENT or ACK and data holds binary values
 *          (at any depth), the type goes out as BINARY_EVENT / BINARY_ACK with
 *          "<n>-", each binary is written as {"_placeholder":true,"num":k} in
 *          depth-first order, and its bytes become the rbuf (*atts)[k]
 *          (headroom + raw bytes, binary = 1). *atts is malloc'd: the caller
 *          unrefs each buffer, then frees the array. No binary: NULL and 0.
 * type: SIO__PKT_*; BINARY_EVENT and BINARY_ACK are taken as EVENT and ACK
 *   (whether the packet is binary follows from data alone).
 * nsp: NULL or "/" is omitted on the wire, anything else is written as is
 *   followed by ','. id < 0 is omitted. data (borrowed, not modified) NULL or
 *   JSON null is omitted (as JS omits data == null).
 * A binary value in the data of CONNECT, DISCONNECT or CONNECT_ERROR cannot
 * be sent and makes the call fail.
 * Returns 0, or -1 (OOM, a bad type, a value that cannot be serialized, or a
 * buffer beyond 4 GiB); nothing is allocated then and the out-parameters are
 * set to NULL/0. */
int sio__packet_encode(int type, const char *nsp, int64_t id, const json_t *data,
                       sio__rbuf **text, sio__rbuf ***atts, size_t *natts);

#endif
