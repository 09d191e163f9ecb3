/* Wire codec for scaling out over Redis, compatible with the npm package
 * @socket.io/redis-adapter v8 (PROTOCOL.md 8). Pure: no I/O, no state
 * between calls.
 *
 * Three kinds of message travel through Redis pub/sub:
 *
 *  - broadcasts, published on "<prefix>#<nsp>#" or, when exactly one room is
 *    targeted, "<prefix>#<nsp>#<room>#" (nodes PSUBSCRIBE "<prefix>#<nsp>#*"):
 *    always msgpack, the array [uid, packet, opts] with
 *      packet = {type: 2, data: [event, ...args], nsp: "/..."}   (that order)
 *      opts   = {rooms: [...], except: [...], flags: {...}}      (that order)
 *    The reference sends type 2 (EVENT) even when args hold binaries (the
 *    BINARY_EVENT conversion happens later, in socket.io-parser), never an
 *    `id` nor `attachments`; flags is the BroadcastOperator's flags object
 *    as is ({} when none; keys such as volatile, compress, local, timeout,
 *    expectSingleResponse, in the order they were set).
 *  - requests, on "<prefix>-request#<nsp>#": JSON text, except BROADCAST
 *    (a broadcast expecting acks), which is msgpack;
 *  - responses, on "<prefix>-response#<nsp>#" (or "...#<uid>#" with the
 *    reference's publishOnSpecificResponseChannel option): JSON text,
 *    except BROADCAST_ACK, which is msgpack.
 * A receiver tells the two apart by the first byte: '{' is JSON.
 *
 * Values. Socket.IO data are jansson values here, binaries being
 * sio_binary_new() objects; the msgpack mapping follows notepack.io (the
 * reference's codec) so that a C node and a node.js node see the same
 * JavaScript values:
 *   encode: null→nil, booleans, strings→str (fix/8/16/32), binaries→bin,
 *     arrays, objects→map. Numbers: an integral number (integer, or a real
 *     with no fraction, -0.0 included) is packed in the smallest int/uint
 *     form (uint for >= 0), anything else as float64 — notepack's choice, so
 *     the bytes are identical. Two deliberate departures:
 *       * a jansson integer beyond +-2^53 is first rounded to the nearest
 *         double, the value a JS node would hold (so the bytes equal
 *         notepack's for the corresponding JS number);
 *       * an integral real outside [-2^63, 2^64) is packed as float64, where
 *         notepack emits a wrapped (wrong) 64-bit integer.
 *     Object keys come out in JavaScript property order: keys that are array
 *     indices ("0".."4294967294", canonical) first in ascending numeric
 *     order, then the others in insertion order, as Object.keys() gives them.
 *     A "__proto__" key is left out (notepack would write it, and every
 *     notepack decoder then drops it, see below).
 *   decode: nil→null, bool, int/uint→integer when within +-2^53, else the
 *     nearest double (what notepack computes); float32/64→real, NaN and
 *     +-Infinity→null (what JSON.stringify makes of them on the way to a
 *     client); str→string, invalid UTF-8 replaced by U+FFFD as node's
 *     Buffer.toString does; bin→binary; array; map→object (keys must be
 *     strings without NUL bytes — stricter than notepack, which would turn
 *     any key into a string; a duplicate key replaces the earlier value at the
 *     earlier position; a "__proto__" key is dropped, as the JS assignment
 *     does not create an own property). Ext types, as notepack reads them:
 *       type -1 (timestamp, 4/8/12 bytes) → a Date, hence the string
 *         Date.prototype.toJSON gives ("2020-01-01T00:00:00.000Z"; null for
 *         a date outside the JS range);
 *       type 0 of 1 byte (old notepack's `undefined`) → omitted in a map,
 *         null in an array or at top level (JSON.stringify's treatment);
 *       type 0 of other sizes (old notepack's ArrayBuffer) → binary;
 *       any other ext → the array [type, binary], as notepack returns it.
 *     (notepack also reads fixext-8 type 0 as a legacy Date, and fixext 2/4/
 *     16 type 0 as [0, Buffer]; libmsgpack does not report which header form
 *     carried an ext, so those decode as binary here. No current encoder
 *     emits them.)
 *
 * Untrusted input: every decoder checks the whole input first (declared
 * lengths against the bytes present, the 0xc1 byte, trailing bytes, nesting)
 * before libmsgpack builds anything, so its allocations stay proportional to
 * the input size. Nesting is limited to SIO__REDIS_MAX_DEPTH containers,
 * libmsgpack's own limit (MSGPACK_EMBED_STACK_SIZE); the encoders refuse
 * deeper values, so what one C node publishes another can read. Note this
 * limits event arguments to about 29 nested levels in a broadcast. */
#ifndef SIO_REDIS_REDIS_CODEC_H
#define SIO_REDIS_REDIS_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SIO__REDIS_DEFAULT_PREFIX "socket.io"
/* Most nested arrays/maps in one message (the outermost counts as 1). */
#define SIO__REDIS_MAX_DEPTH 32

/* Error codes (all negative). */
enum {
  SIO__REDIS_ETRUNCATED = -1, /* input ends inside a value (or is empty) */
  SIO__REDIS_EMSGPACK = -2,   /* not msgpack: 0xc1, trailing bytes, bad timestamp */
  SIO__REDIS_EDEPTH = -3,     /* nested deeper than SIO__REDIS_MAX_DEPTH */
  SIO__REDIS_EKEY = -4,       /* a map key that is not a string, or holds NUL */
  SIO__REDIS_ESHAPE = -5,     /* well-formed, but not the expected message */
  SIO__REDIS_EJSON = -6,      /* a '{' message that is not valid JSON */
  SIO__REDIS_ENOMEM = -7,
  SIO__REDIS_EINVAL = -8      /* encoder: bad argument (NULL, unknown type...) */
};
const char *sio__redis_strerror(int err);

/* Request types (RequestType in the reference). */
enum {
  SIO__REDIS_SOCKETS = 0,
  SIO__REDIS_ALL_ROOMS = 1,
  SIO__REDIS_REMOTE_JOIN = 2,
  SIO__REDIS_REMOTE_LEAVE = 3,
  SIO__REDIS_REMOTE_DISCONNECT = 4,
  SIO__REDIS_REMOTE_FETCH = 5,
  SIO__REDIS_SERVER_SIDE_EMIT = 6,
  SIO__REDIS_BROADCAST = 7,
  SIO__REDIS_BROADCAST_CLIENT_COUNT = 8,
  SIO__REDIS_BROADCAST_ACK = 9
};

/* ---- generic value codec ------------------------------------------------- */

/* msgpack bytes of v (borrowed), as described above. *out is malloc'd (free
 * it), *outlen its size. Returns 0, SIO__REDIS_EDEPTH, _ENOMEM or _EINVAL
 * (v NULL). */
int sio__redis_pack(const json_t *v, uint8_t **out, size_t *outlen);
/* One msgpack value filling buf[0..len) exactly. Returns 0 and *out (new
 * reference) or an error code (*out NULL). */
int sio__redis_unpack(const uint8_t *buf, size_t len, json_t **out);

/* ---- channels ------------------------------------------------------------ */

enum {
  SIO__REDIS_CH_BROADCAST, /* prefix#nsp#  or  prefix#nsp#room#  (room != NULL) */
  SIO__REDIS_CH_REQUEST,   /* prefix-request#nsp# */
  SIO__REDIS_CH_RESPONSE   /* prefix-response#nsp#  or  prefix-response#nsp#uid# */
};
/* New malloc'd NUL-terminated channel name; prefix NULL means "socket.io";
 * arg is the room (BROADCAST) or the uid (RESPONSE), or NULL; ignored for
 * REQUEST. NULL on OOM or bad kind. */
char *sio__redis_channel(int kind, const char *prefix, const char *nsp, const char *arg);

/* Classifies a channel name received with a pattern message (PSUBSCRIBE
 * "<prefix>#<nsp>#*"). Returns
 *   0  the namespace channel "<prefix>#<nsp>#";
 *   1  a room channel "<prefix>#<nsp>#<room>#": *room / *room_len are set to
 *      the room, a view into ch; the room is everything between the
 *      namespace part and the final '#', so it may itself contain '#' (and
 *      may be empty, as for to("")). As in the reference, the room of the
 *      channel is only a hint to drop messages early: the recipients are
 *      given by opts.rooms inside the message;
 *  -1  anything else (another prefix or namespace, or no final '#').
 * Note that the pattern of namespace "/" also matches the channels of a
 * namespace named "/#x" ("socket.io#/#x##" reads here as namespace "/",
 * room "x#"); the packet's own nsp field settles it, so callers must check
 * sio__redis_broadcast.nsp as the reference does. */
int sio__redis_channel_parse(const char *prefix, const char *nsp, const char *ch, size_t len,
                             const char **room, size_t *room_len);

/* ---- broadcasts ---------------------------------------------------------- */

/* Flags known to socket.io 4.x, read with JavaScript truthiness. */
typedef struct sio__redis_flags {
  int is_volatile;     /* volatile */
  int compress;        /* -1 absent, 0, 1 */
  int local;
  int broadcast;       /* legacy (socket.io 2) */
  int binary;          /* legacy (socket.io 2) */
  int expect_single;   /* expectSingleResponse */
  double timeout;      /* ms; -1 absent or not a non-negative number */
} sio__redis_flags;

typedef struct sio__redis_broadcast {
  json_t *root;              /* owned: the whole decoded message */
  /* All below point into root (or are static) and live as long as it. */
  const char *uid;           /* sender's uid; compare with yours and drop */
  const char *nsp;           /* "/" when the packet has no nsp (as the reference) */
  int type;                  /* packet type as sent: 2, or 5 (accepted, same meaning) */
  json_t *data;              /* borrowed: [event, ...args], binaries as sio binaries */
  const char **rooms;        /* malloc'd array of pointers (one block with except) */
  size_t nrooms;
  const char **except;
  size_t nexcept;
  json_t *flags;             /* borrowed: opts.flags, an object (empty if absent) */
  sio__redis_flags f;        /* the known flags parsed from it */
} sio__redis_broadcast;

/* Encodes a broadcast message (always packet type 2). data is the array
 * [event, ...args] (borrowed); rooms/except are C strings (n may be 0 with a
 * NULL array); flags an object or NULL for {}. Returns 0 with *out malloc'd,
 * or an error code. Room names are written as given (not deduplicated: the
 * reference dedups except but not rooms, as they come from a Set). */
int sio__redis_encode_broadcast(const char *uid, const char *nsp, const json_t *data,
                                const char *const *rooms, size_t nrooms,
                                const char *const *except, size_t nexcept,
                                const json_t *flags, uint8_t **out, size_t *outlen);

/* Decodes a broadcast. Shape rules (SIO__REDIS_ESHAPE otherwise): an array
 * of exactly 3; uid a string; packet a map whose type is 2 or 5, data a
 * non-empty array starting with a string or a number, nsp a string without
 * NUL or absent; opts a map whose rooms/except are absent, nil or arrays of
 * strings without NUL or integers (turned into their decimal text, since a
 * JS server may join numeric rooms), and flags absent, nil or a map.
 * Returns 0 (out filled; release with sio__redis_broadcast_clear) or an
 * error code (out cleared). */
int sio__redis_decode_broadcast(const uint8_t *buf, size_t len, sio__redis_broadcast *out);
void sio__redis_broadcast_clear(sio__redis_broadcast *b);

/* ---- requests ------------------------------------------------------------ */

/* A request, decoded or to encode. Decoded: pointers are into root. To
 * encode: fill what the type needs, leave the rest zero/NULL/-1 (set close
 * to -1 and has_* to 0 when absent); root is ignored.
 * Fields and the key order written, per type (as the reference):
 *   SOCKETS            {uid, requestId, type, rooms}
 *   ALL_ROOMS          {uid, requestId, type}
 *   REMOTE_JOIN/LEAVE  {uid, type, opts:{rooms, except}, rooms}
 *   REMOTE_DISCONNECT  {uid, type, opts:{rooms, except}, close}
 *   REMOTE_FETCH       {uid, requestId, type, opts:{rooms, except}}
 *   SERVER_SIDE_EMIT   {uid, [requestId,] type, data}   (requestId: with ack)
 *   BROADCAST          {uid, requestId, type, packet:{type, data, nsp},
 *                       opts:{rooms, except, flags}}     — msgpack
 * (the generic order: uid, requestId, type, packet, opts, rooms, close, data,
 * sid, room). */
typedef struct sio__redis_request {
  json_t *root;
  int type;                  /* SIO__REDIS_* request type */
  const char *uid;           /* NULL when absent */
  const char *request_id;    /* NULL when absent */
  int has_opts;              /* opts present (remote join/leave/disconnect: the
                                multi-socket form, i.e. always with v8) */
  const char **opts_rooms;
  size_t n_opts_rooms;
  const char **opts_except;
  size_t n_opts_except;
  json_t *flags;             /* BROADCAST: opts.flags (NULL: {}) */
  int has_rooms;
  const char **rooms;        /* SOCKETS, REMOTE_JOIN, REMOTE_LEAVE */
  size_t nrooms;
  int close;                 /* REMOTE_DISCONNECT: -1 absent, 0, 1 */
  json_t *data;              /* SERVER_SIDE_EMIT: [event, ...args] */
  /* BROADCAST: the packet */
  const char *nsp;
  int packet_type;
  json_t *packet_data;
  /* single-socket forms of older adapters (REMOTE_JOIN/LEAVE/DISCONNECT) */
  const char *sid;
  const char *room;
  const char **strings_;     /* internal: the block holding the arrays */
} sio__redis_request;

/* Encodes r: JSON text (as JSON.stringify, binaries written as a Buffer's
 * toJSON, {"type":"Buffer","data":[...]}), or msgpack for BROADCAST. */
int sio__redis_encode_request(const sio__redis_request *r, uint8_t **out, size_t *outlen);
/* Decodes a request (first byte '{': JSON, else msgpack). Requires an object
 * with an integer type 0-9; uid, requestId, sid, room strings if present;
 * opts a map (its rooms/except as for broadcasts); rooms an array of
 * strings/integers; close a boolean; SERVER_SIDE_EMIT data a non-empty array;
 * BROADCAST a packet as for broadcasts and a requestId. Returns 0 or an
 * error code; release with sio__redis_request_clear. */
int sio__redis_decode_request(const uint8_t *buf, size_t len, sio__redis_request *out);
void sio__redis_request_clear(sio__redis_request *r);

/* ---- responses ----------------------------------------------------------- */

/* Responses, per request type answered (key order as the reference):
 *   SOCKETS             {requestId, sockets: [socket ids]}
 *   ALL_ROOMS           {requestId, rooms: [...]}
 *   REMOTE_JOIN/LEAVE/DISCONNECT (single-socket form)  {requestId}
 *   REMOTE_FETCH        {requestId, sockets: [{id, handshake, rooms, data}]}
 *   SERVER_SIDE_EMIT    {type: 6, requestId, data}   (data omitted if NULL)
 *   BROADCAST_CLIENT_COUNT {type: 8, requestId, clientCount}
 *   BROADCAST_ACK       {type: 9, requestId, packet}  — msgpack
 * Only 6, 8 and 9 carry a type; the generic order is type, requestId,
 * sockets, rooms, clientCount, data, packet. */
typedef struct sio__redis_response {
  json_t *root;
  int type;                 /* 6, 8, 9; -1 absent (decoded) / not written */
  const char *request_id;
  json_t *sockets;          /* borrowed; NULL when absent */
  json_t *rooms;
  int64_t client_count;     /* type 8; -1 otherwise */
  json_t *data;             /* type 6: the ack argument */
  json_t *packet;           /* type 9: the client's ack argument (binaries kept) */
} sio__redis_response;

int sio__redis_encode_response(const sio__redis_response *r, uint8_t **out, size_t *outlen);
/* Requires an object with a string requestId; type, if present, an integer;
 * sockets/rooms arrays if present; clientCount a non-negative integer for
 * type 8. */
int sio__redis_decode_response(const uint8_t *buf, size_t len, sio__redis_response *out);
void sio__redis_response_clear(sio__redis_response *r);

#endif
