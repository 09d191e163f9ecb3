/* RFC 6455 framing for the server role; see ws_codec.h for the contract.
 *
 * Frame layout (RFC 6455 section 5.2), as a client must send it:
 *
 *   byte 0   FIN | RSV1 | RSV2 | RSV3 | opcode(4)
 *   byte 1   MASK(=1) | len7
 *   len7 == 126: 2-byte big-endian length follows; 127: 8-byte length
 *   4-byte masking key, then the payload XORed with the key (cycling).
 *
 * The parser is a two-state machine (HEADER, PAYLOAD) plus a terminal DONE
 * state. Header bytes are parsed where they lie when the whole header is in
 * the chunk, and collected into p->hdr otherwise. Payloads take the
 * zero-copy path when they can (see ws_codec.h) and are copied into the one
 * heap buffer otherwise.
 */
#include "ws/ws_codec.h"

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

/* The < 2 KB per idle connection budget counts this struct; keep it small. */
_Static_assert(sizeof(void *) != 8 || sizeof(sio__ws_parser) <= 48,
               "sio__ws_parser grew beyond 48 bytes");

enum { SIO__WS_ST_HEADER = 0, SIO__WS_ST_PAYLOAD, SIO__WS_ST_DONE };

/* p->flags bits. IN_MSG is set from the first frame of a data message until
 * it is delivered, which is what makes CONT legal and TEXT/BINARY illegal.
 * DEFLATED marks a message whose first frame had RSV1 (permessage-deflate);
 * RSV1_OK, set once for the connection, allows that. The first three
 * describe the message and are cleared with it; RSV1_OK stays. */
enum { SIO__WS_F_IN_MSG = 1, SIO__WS_F_TEXT = 2, SIO__WS_F_DEFLATED = 4, SIO__WS_F_RSV1_OK = 8 };
#define SIO__WS_F_MSG (SIO__WS_F_IN_MSG | SIO__WS_F_TEXT | SIO__WS_F_DEFLATED)

/* Room above max_message for a control payload kept after the data, so that
 * len + 125 still fits the 32-bit length fields. */
#define SIO__WS_MAX_CLAMP (UINT32_MAX - 256u)

#define SIO__WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define SIO__WS_GUID_LEN (sizeof SIO__WS_GUID - 1)
#define SIO__WS_KEY_MAX 128

/* Close reason budget: total payload <= 123 bytes, 2 of them the code. */
#define SIO__WS_REASON_MAX 121

/* ---- Builders ------------------------------------------------------------ */

size_t sio__ws_frame_header(uint8_t out[10], unsigned opcode, uint64_t payload_len) {
  out[0] = (uint8_t)(0x80u | (opcode & 0x0Fu));
  if (payload_len <= 125) {
    out[1] = (uint8_t)payload_len;
    return 2;
  }
  if (payload_len <= 0xFFFF) {
    out[1] = 126;
    out[2] = (uint8_t)(payload_len >> 8);
    out[3] = (uint8_t)payload_len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
  return 10;
}

size_t sio__ws_close_payload(uint8_t out[125], uint16_t code, const char *reason) {
  size_t n = 0;
  if (code == 0) return 0;
  out[0] = (uint8_t)(code >> 8);
  out[1] = (uint8_t)code;
  /* Bounded scan: the reason may be long and we only need to know whether it
   * exceeds the budget. */
  while (reason && n <= SIO__WS_REASON_MAX && reason[n]) n++;
  if (n > SIO__WS_REASON_MAX) {
    /* reason[n] is the first byte left out; if it continues a character,
     * that character started earlier and must go too, or the peer would see
     * invalid UTF-8 and fail the connection with 1007. */
    n = SIO__WS_REASON_MAX;
    while (n > 0 && ((uint8_t)reason[n] & 0xC0) == 0x80) n--;
  }
  if (n) memcpy(out + 2, reason, n);
  return 2 + n;
}

static int sio__ws_is_b64(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/';
}

int sio__ws_key_valid(const char *key, size_t len) {
  /* 16 bytes encode to 22 significant characters plus "==" padding. */
  if (!key || len != 24 || key[22] != '=' || key[23] != '=') return 0;
  for (size_t i = 0; i < 22; i++)
    if (!sio__ws_is_b64((unsigned char)key[i])) return 0;
  return 1;
}

int sio__ws_accept_key(const char *key, size_t len, char out[29]) {
  unsigned char in[SIO__WS_KEY_MAX + SIO__WS_GUID_LEN], digest[20];
  size_t olen = 0;
  if ((!key && len) || len > SIO__WS_KEY_MAX) return -1;
  if (len) memcpy(in, key, len);
  memcpy(in + len, SIO__WS_GUID, SIO__WS_GUID_LEN);
  if (mbedtls_sha1_ret(in, len + SIO__WS_GUID_LEN, digest) != 0) return -1;
  /* dlen 29 leaves room for the NUL mbedtls_base64_encode appends. */
  if (mbedtls_base64_encode((unsigned char *)out, 29, &olen, digest, sizeof digest) != 0 ||
      olen != 28)
    return -1;
  return 0;
}

/* ---- Parser helpers ------------------------------------------------------ */

/* XORs d[0..n) with the key, key byte 0 applying to d[0]. Eight bytes per
 * step: the key repeated twice in memory order is endian-neutral. */
static void sio__ws_unmask(uint8_t *d, size_t n, const uint8_t mask[4]) {
  uint8_t m8b[8];
  uint64_t m8;
  size_t i = 0;
  memcpy(m8b, mask, 4);
  memcpy(m8b + 4, mask, 4);
  memcpy(&m8, m8b, 8);
  for (; n - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, d + i, 8);
    w ^= m8;
    memcpy(d + i, &w, 8);
  }
  for (; i < n; i++) d[i] ^= mask[i & 3];
}

/* After unmasking `done` bytes of a frame piecewise, rotate the key so the
 * next piece again starts at key byte 0; this saves storing a key offset. */
static void sio__ws_rotate_mask(uint8_t mask[4], size_t done) {
  unsigned k = (unsigned)(done & 3);
  uint8_t t[4];
  if (!k) return;
  for (unsigned i = 0; i < 4; i++) t[i] = mask[(i + k) & 3];
  memcpy(mask, t, 4);
}

static void sio__ws_drop_buf(sio__ws_parser *p) {
  free(p->buf);
  p->buf = NULL;
  p->cap = 0;
  p->len = 0;
}

/* Enters the terminal state; the heap goes at once since nothing more will
 * be assembled. Returns result for convenience. */
static int sio__ws_finish(sio__ws_parser *p, int result) {
  sio__ws_drop_buf(p);
  p->flags = 0;
  p->state = SIO__WS_ST_DONE;
  p->result = (int16_t)result;
  return result;
}

/* Makes buf hold at least need bytes. Growth doubles (amortised O(1) copies
 * for many small fragments) but never beyond soft_max, the most this message
 * can still need, so memory follows what actually arrived. */
static int sio__ws_reserve(sio__ws_parser *p, size_t need, size_t soft_max) {
  size_t nc;
  uint8_t *nb;
  if (need <= p->cap) return 0;
  nc = p->cap ? (size_t)p->cap * 2 : 128;
  if (nc > soft_max) nc = soft_max;
  if (nc < need) nc = need;
  nb = realloc(p->buf, nc);
  if (!nb) return -1;
  p->buf = nb;
  p->cap = (uint32_t)nc;
  return 0;
}

/* Checks all that the first two header bytes can tell, so most violations
 * are reported before the rest of the header arrives. */
static int sio__ws_check_start(const sio__ws_parser *p, uint8_t b0, uint8_t b1) {
  unsigned op = b0 & 0x0Fu;
  int in_msg = p->flags & SIO__WS_F_IN_MSG;
  if (b0 & 0x30) return 1002; /* RSV2-3: no extension defines them */
  /* RSV1: permessage-deflate, if negotiated, and then only on the first
   * frame of a data message (RFC 7692 6.1); never on control frames. */
  if ((b0 & 0x40) && (!(p->flags & SIO__WS_F_RSV1_OK) || op == SIO__WS_OP_CONT || op >= 8))
    return 1002;
  if (!(b1 & 0x80)) return 1002; /* a client MUST mask (section 5.1) */
  if (op >= 8) {
    if (op > SIO__WS_OP_PONG) return 1002;
    if (!(b0 & 0x80)) return 1002; /* control frames are never fragmented */
    return 0;
  }
  if (op > SIO__WS_OP_BINARY) return 1002;
  if (op == SIO__WS_OP_CONT && !in_msg) return 1002;
  if (op != SIO__WS_OP_CONT && in_msg) return 1002;
  return 0;
}

/* Full header size; only called for masked frames. */
static size_t sio__ws_header_size(uint8_t b1) {
  unsigned l7 = b1 & 0x7Fu;
  return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + 4;
}

/* Interprets a complete header h (it may be p->hdr itself, so everything is
 * read before p->hdr is reused) and enters PAYLOAD. Non-minimal length
 * encodings are accepted: RFC 6455 says senders must be minimal but does not
 * require receivers to fail, and being lenient costs nothing. */
static int sio__ws_begin_frame(sio__ws_parser *p, const uint8_t *h) {
  uint8_t b0 = h[0];
  unsigned op = b0 & 0x0Fu, l7 = h[1] & 0x7Fu;
  uint64_t plen = l7;
  const uint8_t *key = h + 2;
  if (l7 == 126) {
    plen = (uint64_t)h[2] << 8 | h[3];
    key = h + 4;
  } else if (l7 == 127) {
    plen = 0;
    for (int i = 0; i < 8; i++) plen = plen << 8 | h[2 + i];
    key = h + 10;
    if (plen >> 63) return 1002; /* section 5.2: the top bit MUST be 0 */
  }
  if (op >= 8) {
    if (plen > 125) return 1002;
  } else if ((uint64_t)p->len + plen > p->max) {
    /* Refused from the header alone: nothing of it is buffered. */
    return 1009;
  }
  memcpy(p->mask, key, 4);
  p->hdr[0] = b0;
  p->hdr[1] = (uint8_t)(op >= 8 ? plen : 0);
  p->hdr_have = 0;
  p->remaining = (uint32_t)plen; /* <= max or <= 125, checked above */
  if (op == SIO__WS_OP_TEXT || op == SIO__WS_OP_BINARY) {
    p->flags = (uint8_t)((p->flags & ~SIO__WS_F_MSG) | SIO__WS_F_IN_MSG |
                         (op == SIO__WS_OP_TEXT ? SIO__WS_F_TEXT : 0) |
                         (b0 & 0x40 ? SIO__WS_F_DEFLATED : 0));
    p->utf8 = SIO__UTF8_ACCEPT;
  }
  p->state = SIO__WS_ST_PAYLOAD;
  return 0;
}

/* Consumes header bytes from d[*pos..n). Returns 0 once a header is complete,
 * 1 if the chunk ended first (all of it taken into p->hdr), or an error. */
static int sio__ws_take_header(sio__ws_parser *p, const uint8_t *d, size_t n, size_t *pos) {
  size_t i = *pos;
  int rc;
  if (p->hdr_have == 0 && n - i >= 2) {
    if ((rc = sio__ws_check_start(p, d[i], d[i + 1])) != 0) return rc;
    size_t hs = sio__ws_header_size(d[i + 1]);
    if (n - i >= hs) {
      *pos = i + hs;
      return sio__ws_begin_frame(p, d + i);
    }
  }
  while (i < n) {
    p->hdr[p->hdr_have++] = d[i++];
    if (p->hdr_have < 2) continue;
    if (p->hdr_have == 2 && (rc = sio__ws_check_start(p, p->hdr[0], p->hdr[1])) != 0) {
      *pos = i;
      return rc;
    }
    if (p->hdr_have == sio__ws_header_size(p->hdr[1])) {
      *pos = i;
      return sio__ws_begin_frame(p, p->hdr);
    }
  }
  *pos = i;
  return 1;
}

/* The payload handlers below return 0 when the frame is done and parsing
 * goes on, or 1 when feed must return: out of input (state not DONE) or
 * finished (state DONE, p->result says how). *used is set in every case. */

static int sio__ws_deliver(sio__ws_parser *p, uint8_t *msg, size_t n,
                           const sio__ws_parser_cbs *cbs, void *ud) {
  static uint8_t empty[1];
  int binary = !(p->flags & SIO__WS_F_TEXT), r;
  int deflated = p->flags & SIO__WS_F_DEFLATED;
  p->flags &= (uint8_t)~SIO__WS_F_MSG;
  if (deflated)
    r = cbs->on_compressed ? cbs->on_compressed(ud, binary, msg ? msg : empty, n) : 1002;
  else
    r = cbs->on_message ? cbs->on_message(ud, binary, msg ? msg : empty, n) : 0;
  sio__ws_drop_buf(p); /* no heap at rest: the message is gone either way */
  if (r) {
    /* A close code from on_compressed (inflated too big, bad data) is a
     * violation like ours; other values just stop. */
    sio__ws_finish(p, deflated && r >= 1000 && r <= 4999 ? r : SIO__WS_STOPPED);
    return 1;
  }
  return 0;
}

static int sio__ws_close_code_ok(unsigned c) {
  /* Codes a peer may send (RFC 6455 7.4.1 and the IANA registry: 1012-1014
   * were registered later, and browsers and ws accept them; never 1004-1006
   * or 1015), plus the registered/private 3000-4999. */
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

static int sio__ws_dispatch_control(sio__ws_parser *p, unsigned op, uint8_t *pl, size_t n,
                                    const sio__ws_parser_cbs *cbs, void *ud) {
  int r = 0;
  if (op == SIO__WS_OP_PING) {
    r = cbs->on_ping ? cbs->on_ping(ud, pl, n) : 0;
  } else if (op == SIO__WS_OP_PONG) {
    r = cbs->on_pong ? cbs->on_pong(ud, pl, n) : 0;
  } else {
    unsigned code = 1005; /* section 7.1.5: "no status code was present" */
    const char *reason = "";
    size_t rlen = 0;
    if (n == 1) return sio__ws_finish(p, 1002), 1;
    if (n >= 2) {
      code = (unsigned)pl[0] << 8 | pl[1];
      if (!sio__ws_close_code_ok(code)) return sio__ws_finish(p, 1002), 1;
      reason = (const char *)pl + 2;
      rlen = n - 2;
      if (!sio__utf8_valid(pl + 2, rlen)) return sio__ws_finish(p, 1007), 1;
    }
    r = cbs->on_close ? cbs->on_close(ud, code, reason, rlen) : 0;
    sio__ws_finish(p, r ? SIO__WS_STOPPED : 0);
    return 1;
  }
  if (r) return sio__ws_finish(p, SIO__WS_STOPPED), 1;
  return 0;
}

static int sio__ws_control(sio__ws_parser *p, uint8_t *d, size_t avail, size_t *used,
                           const sio__ws_parser_cbs *cbs, void *ud) {
  unsigned op = p->hdr[0] & 0x0Fu;
  size_t clen = p->hdr[1], take;
  uint8_t *pl;
  int rc;
  if (p->remaining == clen && clen <= avail) {
    sio__ws_unmask(d, clen, p->mask);
    *used = clen;
    pl = d;
  } else {
    /* Straddles chunks: keep it after the data of any message being
     * assembled (p->buf[len..]), which therefore stays intact. */
    take = p->remaining < avail ? p->remaining : avail;
    *used = take;
    if (take == 0) return 1;
    if (sio__ws_reserve(p, p->len + clen, p->len + clen)) return sio__ws_finish(p, 1011), 1;
    sio__ws_unmask(d, take, p->mask);
    sio__ws_rotate_mask(p->mask, take);
    memcpy(p->buf + p->len + (clen - p->remaining), d, take);
    p->remaining -= (uint32_t)take;
    if (p->remaining) return 1;
    pl = p->buf + p->len;
  }
  p->state = SIO__WS_ST_HEADER;
  rc = sio__ws_dispatch_control(p, op, pl, clen, cbs, ud);
  if (p->len == 0 && p->buf) sio__ws_drop_buf(p); /* buffer held only this frame */
  return rc;
}

static int sio__ws_data(sio__ws_parser *p, uint8_t *d, size_t avail, size_t *used,
                        const sio__ws_parser_cbs *cbs, void *ud) {
  /* A compressed text message is checked once inflated, by the owner. */
  int fin = p->hdr[0] & 0x80;
  int text = (p->flags & (SIO__WS_F_TEXT | SIO__WS_F_DEFLATED)) == SIO__WS_F_TEXT;
  size_t take;
  if (fin && p->len == 0 && p->remaining <= avail) {
    /* Zero-copy: nothing of this message is buffered (earlier fragments, if
     * any, were empty) and all of the final frame is here. */
    size_t n = p->remaining;
    sio__ws_unmask(d, n, p->mask);
    *used = n;
    p->state = SIO__WS_ST_HEADER;
    if (text && sio__utf8_feed(p->utf8, d, n) != SIO__UTF8_ACCEPT)
      return sio__ws_finish(p, 1007), 1;
    return sio__ws_deliver(p, d, n, cbs, ud);
  }
  take = p->remaining < avail ? p->remaining : avail;
  *used = take;
  if (take) {
    /* A final frame's end is the message's end: never allocate past it. */
    size_t soft = fin ? (size_t)p->len + p->remaining : p->max;
    if (sio__ws_reserve(p, (size_t)p->len + take, soft)) return sio__ws_finish(p, 1011), 1;
    sio__ws_unmask(d, take, p->mask);
    sio__ws_rotate_mask(p->mask, take);
    if (text) {
      /* Validate each piece as it arrives so bad text fails immediately,
       * not after the peer made us buffer the rest of the message. */
      p->utf8 = (uint8_t)sio__utf8_feed(p->utf8, d, take);
      if (p->utf8 == SIO__UTF8_REJECT) return sio__ws_finish(p, 1007), 1;
    }
    memcpy(p->buf + p->len, d, take);
    p->len += (uint32_t)take;
    p->remaining -= (uint32_t)take;
  }
  if (p->remaining) return 1;
  p->state = SIO__WS_ST_HEADER;
  if (!fin) return 0;
  if (text && p->utf8 != SIO__UTF8_ACCEPT) return sio__ws_finish(p, 1007), 1;
  return sio__ws_deliver(p, p->buf, p->len, cbs, ud);
}

/* ---- Parser API ---------------------------------------------------------- */

void sio__ws_parser_init(sio__ws_parser *p, size_t max_message) {
  memset(p, 0, sizeof *p);
  p->max = max_message > SIO__WS_MAX_CLAMP ? SIO__WS_MAX_CLAMP : (uint32_t)max_message;
  p->state = SIO__WS_ST_HEADER;
}

int sio__ws_parser_feed(sio__ws_parser *p, uint8_t *data, size_t len,
                        const sio__ws_parser_cbs *cbs, void *ud) {
  static const sio__ws_parser_cbs none;
  size_t pos = 0;
  if (!cbs) cbs = &none;
  if (p->state == SIO__WS_ST_DONE) return p->result;
  /* No frame is ever left waiting with an empty payload, so an empty chunk
   * has nothing to complete (and data may then be NULL). */
  if (len == 0) return 0;
  for (;;) {
    size_t used = 0;
    int rc;
    if (p->state == SIO__WS_ST_HEADER) {
      if (pos == len) return 0;
      rc = sio__ws_take_header(p, data, len, &pos);
      if (rc == 1) return 0;
      if (rc) return sio__ws_finish(p, rc);
    }
    /* Fall through to the payload even at the end of the chunk: an empty
     * payload completes its frame right here. */
    if ((p->hdr[0] & 0x0Fu) >= 8)
      rc = sio__ws_control(p, data + pos, len - pos, &used, cbs, ud);
    else
      rc = sio__ws_data(p, data + pos, len - pos, &used, cbs, ud);
    pos += used;
    if (rc) return p->state == SIO__WS_ST_DONE ? p->result : 0;
  }
}

void sio__ws_parser_allow_compressed(sio__ws_parser *p) {
  if (p->state != SIO__WS_ST_DONE) p->flags |= SIO__WS_F_RSV1_OK;
}

void sio__ws_parser_free(sio__ws_parser *p) {
  sio__ws_finish(p, SIO__WS_STOPPED);
}

size_t sio__ws_parser_heap_bytes(const sio__ws_parser *p) {
  return p->cap;
}
