/* Engine.IO v4 packet and HTTP long-polling payload codec (PROTOCOL.md 1.3,
 * 1.4), and the Engine.IO v3 forms (PROTOCOL.md 2, "sio__eio3_" below).
 * Pure functions: no I/O, no allocation, no global state.
 *
 * Wire format:
 *   text packet      type digit '0'..'6' + UTF-8 data          "4hello", "2probe", "6"
 *   binary message   WebSocket: a binary frame holding only the data;
 *                    polling (or b64 WebSocket): 'b' + base64(data)   "bAQIDBA=="
 *   polling payload  records joined by 0x1E, no trailing separator
 *                    "4hello\x1e2\x1e4world"
 *
 * Ownership: decoded packets borrow the caller's buffer (data points into it)
 * and stay valid as long as that buffer does. Decoders modify the buffer in
 * place (base64 is decoded over itself), so the caller must own a writable
 * copy. Nothing is retained between calls.
 *
 * Not checked here: that text data is valid UTF-8 (the WebSocket layer
 * validates text frames; polling bodies are taken as they come, as Node does
 * when it reads them as a string), and whether a type is legal in a given
 * direction or state (the session decides, e.g. a '2' from a v4 client). */
#ifndef SIO_EIO_CODEC_H
#define SIO_EIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Record separator of polling payloads (ASCII RS). */
#define SIO__EIO_SEPARATOR 0x1E

typedef enum {
  SIO__EIO_OPEN = 0,
  SIO__EIO_CLOSE,
  SIO__EIO_PING,
  SIO__EIO_PONG,
  SIO__EIO_MESSAGE,
  SIO__EIO_UPGRADE,
  SIO__EIO_NOOP
} sio__eio_type;

typedef struct sio__eio_packet {
  int type;      /* sio__eio_type */
  int binary;    /* 1 for a binary message (type is then SIO__EIO_MESSAGE) */
  uint8_t *data; /* text: the bytes after the type digit; binary: the message bytes
                    (decoded from base64 when it came as text). Borrowed: points into
                    the buffer given to the decoder. May be non-NULL with len 0. */
  size_t len;
} sio__eio_packet;

/* Decodes one packet in place.
 *   is_binary_frame = 1: a WebSocket binary frame; the whole buffer is the data
 *     of a binary message (no type byte; may be empty).
 *   is_binary_frame = 0: a WebSocket text frame or one polling record.
 *     '0'..'6' -> that type, data = the rest (possibly empty);
 *     'b'      -> binary message, the rest base64-decoded in place (data then
 *                 starts at buf + 1); "b" alone is an empty binary message;
 *     empty input, any other first char, or invalid base64 -> -1.
 * Invalid base64 is stricter than Node (whose Buffer.from skips junk chars);
 * see util/base64.h. Returns 0, or -1 on a parse error; on -1 *out is
 * unspecified and buf may have been partly overwritten. */
int sio__eio_decode_packet(uint8_t *buf, size_t len, int is_binary_frame, sio__eio_packet *out);

/* Callback for each packet of a payload. pkt and its data are valid only during
 * the call unless the caller keeps `body` alive (data points into body). Return
 * 0 to continue; any nonzero value stops decoding and is returned by
 * sio__eio_payload_decode (use a value other than -1 to tell it apart from a
 * parse error). */
typedef int (*sio__eio_packet_cb)(void *ud, const sio__eio_packet *pkt);

/* Decodes an HTTP long-polling body (a whole body, not a fragment): records
 * separated by 0x1E, each decoded by sio__eio_decode_packet rules (in place),
 * delivered to cb in order. Returns
 *   0           every record decoded and delivered;
 *   -1          parse error: the packets before the bad record were delivered,
 *               the rest is not decoded. An empty body, an empty record
 *               ("4a\x1e\x1e4b") and a trailing separator ("4a\x1e") are
 *               parse errors, as in the reference;
 *   cb's value  cb returned nonzero; no later record is decoded.
 * A record is parsed only after cb returned for the previous one, so cb sees
 * earlier packets before a later record can fail.
 *
 * Text data containing the byte 0x1E (U+001E is legal UTF-8 and a client may
 * send it unescaped) is split there regardless, exactly like the reference's
 * split("\x1e"): the bytes after it are parsed as a new record (usually a parse
 * error). Nothing in the protocol escapes it, so U+001E cannot travel over
 * polling in either direction. */
int sio__eio_payload_decode(uint8_t *body, size_t len, sio__eio_packet_cb cb, void *ud);

/* Size of one packet as a polling record (no separator):
 * text -> 1 + len; binary -> 1 + base64 length of len. */
size_t sio__eio_polling_record_len(const sio__eio_packet *pkt);

/* Writes one packet as a polling record into out, which must hold
 * sio__eio_polling_record_len(pkt) bytes: text -> type digit + data;
 * binary -> 'b' + base64(data) (type is then ignored). No separator, no NUL.
 * pkt->type must be 0..6 for text packets. Returns the bytes written. out
 * must not overlap pkt->data. */
size_t sio__eio_polling_record_write(char *out, const sio__eio_packet *pkt);

/* ---- Engine.IO v3 (Socket.IO v2 clients; the reference's parser-v3) --------
 *
 * Packets are the v4 ones with three differences:
 *   - a binary message carries its type: on WebSocket a binary frame
 *     0x04 + data; as text 'b' + type digit + base64(data) ("b4AQID");
 *   - polling payloads are length-prefixed records with no separator, in one
 *     of two forms:
 *       text    "<n>:<packet>" per packet, n = the packet's length in UTF-16
 *               code units (a JavaScript string's length: characters above
 *               U+FFFF count 2), binaries as "b4<base64>":
 *               "6:4hello2:4\xc3\xa9" for "hello", "é"; no packets: "0:";
 *       binary  (application/octet-stream, for clients without b64=1) per
 *               packet: 0x00 (text) or 0x01 (binary), the length in decimal
 *               one digit per byte (values 0..9), 0xFF, then the packet: the
 *               UTF-8 bytes of a text packet (the length counts bytes here),
 *               or a binary packet's type byte 0x04 and its data;
 *               no packets: empty.
 *   - heartbeat and the rest are the session's business (eio_socket.c).
 * The same sio__eio_packet is used: `binary` is still 1 only for a binary
 * message. A binary frame or record of another type (0x00..0x06 + data, which
 * no client sends) decodes to that type with binary = 0 and the bytes after
 * the type byte as data; likewise "b<digit>..." for a non-message digit.
 *
 * Stricter than the reference, which skips what it cannot read: an unknown
 * type byte or digit, an empty binary frame, a "b" without a type digit, a
 * flag byte other than 0/1, a length digit byte above 9, a record whose
 * bytes end before its length, invalid UTF-8 in a text payload, or a length
 * that ends inside a character are parse errors (-1) here. */

/* Longest part written before a packet's own bytes (a length of up to 20
 * digits and its delimiters, the type byte). */
#define SIO__EIO3_HEAD_MAX 24

/* UTF-16 length of UTF-8 text: bytes that do not continue a sequence count
 * 1, four-byte sequences 2. Exact for valid UTF-8; no validation. */
size_t sio__eio3_utf16_len(const uint8_t *s, size_t n);

/* Decodes one v3 packet in place: a WebSocket frame or (text) payload record.
 *   is_binary_frame = 1: type byte 0..6 then data; 0x04 -> binary message.
 *   is_binary_frame = 0: as sio__eio_decode_packet, except that 'b' must be
 *     followed by a type digit ("b4" + base64 -> binary message).
 * Returns 0 or -1 (then *out is unspecified and buf may be overwritten). */
int sio__eio3_decode_packet(uint8_t *buf, size_t len, int is_binary_frame, sio__eio_packet *out);

/* Decodes a whole v3 text payload ("<n>:<packet>"...) in place, delivering
 * packets to cb as each record is read; "0:" records are skipped. Returns
 * as sio__eio_payload_decode: 0, -1 (the packets before the bad record were
 * delivered; an empty body is a parse error, as in the reference) or cb's
 * nonzero value. */
int sio__eio3_payload_decode(uint8_t *body, size_t len, sio__eio_packet_cb cb, void *ud);

/* Decodes a whole v3 binary (octet-stream) payload in place. The framing of
 * every record is checked first, so a framing error delivers nothing, as in
 * the reference; then packets are decoded and delivered in order (a packet
 * that fails to decode stops there: -1). An empty body holds no packet (0). */
int sio__eio3_binary_payload_decode(uint8_t *body, size_t len, sio__eio_packet_cb cb, void *ud);

/* One packet as a record of a v3 payload, binary_form 0 (text) or 1:
 * its whole length, and the record written to out (no NUL). pkt->type must
 * be 0..6. out must not overlap pkt->data. */
size_t sio__eio3_record_len(const sio__eio_packet *pkt, int binary_form);
size_t sio__eio3_record_write(uint8_t *out, const sio__eio_packet *pkt, int binary_form);
/* The head of a record whose packet bytes follow as they are, so a sender
 * can write them from its own buffer: for a text packet the type digit and
 * data follow, for a binary one (binary form only) the data. Writes at most
 * SIO__EIO3_HEAD_MAX bytes; returns the count. Text form: "<n>:"; binary
 * form: flag, digits, 0xFF, and for a binary packet its type byte 0x04. Not
 * for a binary packet in text form (its base64 is not its bytes: use
 * sio__eio3_record_write). */
size_t sio__eio3_record_head(uint8_t *out, const sio__eio_packet *pkt, int binary_form);

/* A whole payload of n packets: its length and the payload written to out. */
size_t sio__eio3_payload_len(const sio__eio_packet *pkts, size_t n, int binary_form);
size_t sio__eio3_payload_write(uint8_t *out, const sio__eio_packet *pkts, size_t n, int binary_form);

#endif
