/* permessage-deflate (RFC 7692); see ws_deflate.h for the contract.
 *
 * The negotiation follows ws 8 (lib/extension.js parse(), lib/permessage-
 * deflate.js normalizeParams() and acceptAsServer()): the header is parsed
 * as a whole, so a syntax error anywhere (even in another extension) fails
 * the upgrade; every permessage-deflate offer is validated, then the first
 * acceptable one wins. */
#include "ws/ws_deflate.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#include "util/hmap.h"

/* ---- configuration --------------------------------------------------------- */

void sio__pmd_config_init(sio__pmd_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->threshold = 1024;
  cfg->level = Z_DEFAULT_COMPRESSION;
  cfg->mem_level = 8;
  cfg->idle_ms = 10000;
}

static int wbits_setting_ok(int v, int min) { return v == 0 || v == -1 || (v >= min && v <= 15); }

int sio__pmd_config_check(const sio__pmd_config *c) {
  if (c->server_nct < -1 || c->server_nct > 1 || c->client_nct < 0 || c->client_nct > 1) return -1;
  /* Our own window of 8 bits would mean never compressing (see server_wbits()). */
  if (!wbits_setting_ok(c->server_max_wbits, 9) || !wbits_setting_ok(c->client_max_wbits, 8)) return -1;
  if (c->level < -1 || c->level > 9 || c->mem_level < 1 || c->mem_level > 9) return -1;
  return 0;
}

/* ---- Sec-WebSocket-Extensions ------------------------------------------------ */

/* RFC 7230 tchar, as ws's tokenChars. */
static int tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *const param_names[4] = {"server_no_context_takeover", "client_no_context_takeover",
                                           "server_max_window_bits", "client_max_window_bits"};

/* One permessage-deflate offer as it is parsed. */
typedef struct pmd_offer {
  uint8_t count[4];  /* occurrences of each known parameter (2 means "repeated") */
  const char *val[4]; /* value slice (NULL: the parameter had no value) */
  size_t vlen[4];
  uint8_t unescape[4]; /* the value holds backslashes to drop */
  uint8_t order[4], n;
  uint8_t unknown;   /* a parameter ws does not know */
} pmd_offer;

typedef struct pmd_neg {
  const sio__pmd_config *cfg;
  pmd_offer cur;         /* the offer being parsed */
  int cur_is_pmd;
  int invalid;           /* some permessage-deflate offer failed validation */
  int offers;            /* permessage-deflate offers seen */
  int accepted;          /* an offer was accepted: ... */
  sio__pmd_params result;
} pmd_neg;

/* JavaScript's Number(s) on a token, as ws's `+value`, restricted to what
 * matters here: is it an integer from 8 to 15? Decimal literals (sign,
 * fraction, exponent, any number of leading zeros: "010", "8.0", "1e1" and
 * "80e-1" are all 8..15 for ws), and 0x / 0o / 0b integers. Backslashes
 * (escapes inside a quoted value) are skipped when `unescape` is set. */
static int js_window_bits(const char *v, size_t n, int unescape, int *out) {
  char stack[64], *s = stack;
  size_t m = 0;
  if (n + 1 > sizeof stack && !(s = malloc(n + 1))) return -1;
  for (size_t i = 0; i < n; i++)
    if (!(unescape && v[i] == '\\')) s[m++] = v[i];
  s[m] = 0;
  int ok = 0;
  double d = -1;
  if (m > 2 && s[0] == '0' && strchr("xXoObB", s[1])) {
    int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
    double acc = 0;
    ok = 1;
    for (size_t i = 2; i < m && ok; i++) {
      int dv = s[i] >= '0' && s[i] <= '9' ? s[i] - '0'
               : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
               : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
                                            : 99;
      if (dv >= base) ok = 0;
      else if (acc < 1e6) acc = acc * base + dv; /* past 1e6 it is out of range anyway */
    }
    d = acc;
  } else {
    /* StrDecimalLiteral: [+-] (digits [. digits?] | . digits) [e [+-] digits] */
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-') i++;
    while (s[i] >= '0' && s[i] <= '9') i++, digits++;
    if (s[i] == '.') {
      i++;
      while (s[i] >= '0' && s[i] <= '9') i++, digits++;
    }
    ok = digits > 0;
    if (ok && (s[i] == 'e' || s[i] == 'E')) {
      size_t e = ++i;
      if (s[i] == '+' || s[i] == '-') e = ++i;
      while (s[i] >= '0' && s[i] <= '9') i++;
      ok = i > e;
    }
    /* strtod rounds decimal text to the nearest double, as JavaScript does. */
    if (ok && i == m) d = strtod(s, NULL);
    else ok = 0;
  }
  if (s != stack) free(s);
  if (!ok || !(d >= 8 && d <= 15) || d != (double)(int)d) return 0;
  *out = (int)d;
  return 1;
}

/* normalizeParams() for one offer, then the acceptAsServer() test. */
static void offer_done(pmd_neg *ng) {
  pmd_offer *o = &ng->cur;
  int wb[4] = {0, 0, 0, 0}; /* numeric window bits (0: given without a value) */
  ng->offers++;
  if (o->unknown) ng->invalid = 1;
  for (int k = 0; k < 4 && !ng->invalid; k++) {
    if (!o->count[k]) continue;
    if (o->count[k] > 1) ng->invalid = 1; /* 'must have only a single value' */
    else if (k <= SIO__PMD_CLIENT_NCT) ng->invalid = o->val[k] != NULL;
    else if (o->val[k]) ng->invalid = js_window_bits(o->val[k], o->vlen[k], o->unescape[k], &wb[k]) != 1;
    else ng->invalid = k == SIO__PMD_SERVER_WBITS; /* server_max_window_bits needs a value */
  }
  if (ng->invalid || ng->accepted) return;
  const sio__pmd_config *c = ng->cfg;
  if (c->server_nct == -1 && o->count[SIO__PMD_SERVER_NCT]) return;
  if (o->count[SIO__PMD_SERVER_WBITS] &&
      (c->server_max_wbits == -1 || (c->server_max_wbits > 0 && c->server_max_wbits > wb[SIO__PMD_SERVER_WBITS])))
    return;
  if (c->client_max_wbits > 0) {
    if (!o->count[SIO__PMD_CLIENT_WBITS]) return;
    if (wb[SIO__PMD_CLIENT_WBITS] && c->client_max_wbits > wb[SIO__PMD_CLIENT_WBITS]) return;
  }
  /* Accepted: the offer's parameters in its order, then ours. */
  sio__pmd_params *r = &ng->result;
  memset(r, 0, sizeof *r);
  int present[4] = {0};
  for (int j = 0; j < o->n; j++) present[o->order[j]] = 1, r->order[r->n++] = o->order[j];
  if (c->server_nct == 1 && !present[SIO__PMD_SERVER_NCT])
    present[SIO__PMD_SERVER_NCT] = 1, r->order[r->n++] = SIO__PMD_SERVER_NCT;
  if (c->client_nct == 1 && !present[SIO__PMD_CLIENT_NCT])
    present[SIO__PMD_CLIENT_NCT] = 1, r->order[r->n++] = SIO__PMD_CLIENT_NCT;
  if (c->server_max_wbits > 0) {
    wb[SIO__PMD_SERVER_WBITS] = c->server_max_wbits;
    if (!present[SIO__PMD_SERVER_WBITS])
      present[SIO__PMD_SERVER_WBITS] = 1, r->order[r->n++] = SIO__PMD_SERVER_WBITS;
  }
  int drop_client_wbits = 0;
  if (c->client_max_wbits > 0) {
    wb[SIO__PMD_CLIENT_WBITS] = c->client_max_wbits;
    if (!present[SIO__PMD_CLIENT_WBITS])
      present[SIO__PMD_CLIENT_WBITS] = 1, r->order[r->n++] = SIO__PMD_CLIENT_WBITS;
  } else if (present[SIO__PMD_CLIENT_WBITS] && (!wb[SIO__PMD_CLIENT_WBITS] || c->client_max_wbits == -1)) {
    drop_client_wbits = 1; /* offered bare ("you may limit me"), or we never limit */
  }
  if (drop_client_wbits) {
    int m = 0;
    for (int j = 0; j < r->n; j++)
      if (r->order[j] != SIO__PMD_CLIENT_WBITS) r->order[m++] = r->order[j];
    r->n = (uint8_t)m;
    present[SIO__PMD_CLIENT_WBITS] = 0;
  }
  r->server_nct = (uint8_t)present[SIO__PMD_SERVER_NCT];
  r->client_nct = (uint8_t)present[SIO__PMD_CLIENT_NCT];
  r->server_wbits = present[SIO__PMD_SERVER_WBITS] ? (uint8_t)wb[SIO__PMD_SERVER_WBITS] : 0;
  r->client_wbits = present[SIO__PMD_CLIENT_WBITS] ? (uint8_t)wb[SIO__PMD_CLIENT_WBITS] : 0;
  ng->accepted = 1;
}

/* An extension name has been read: start its offer. */
static void ext_begin(pmd_neg *ng, const char *name, size_t len) {
  ng->cur_is_pmd = len == 18 && memcmp(name, "permessage-deflate", 18) == 0;
  memset(&ng->cur, 0, sizeof ng->cur);
}

static void ext_param(pmd_neg *ng, const char *name, size_t len, const char *val, size_t vlen,
                      int unescape) {
  if (!ng->cur_is_pmd) return;
  pmd_offer *o = &ng->cur;
  for (int k = 0; k < 4; k++) {
    if (strlen(param_names[k]) != len || memcmp(param_names[k], name, len) != 0) continue;
    if (o->count[k] < 2) o->count[k]++;
    if (o->count[k] == 1) {
      o->val[k] = val;
      o->vlen[k] = vlen;
      o->unescape[k] = (uint8_t)unescape;
      o->order[o->n++] = (uint8_t)k;
    }
    return;
  }
  o->unknown = 1;
}

static void ext_end(pmd_neg *ng) {
  if (ng->cur_is_pmd) offer_done(ng);
  ng->cur_is_pmd = 0;
}

/* ws's extension.parse() as a state machine calling the three hooks above;
 * -1 where ws throws a SyntaxError. */
static int ext_parse(pmd_neg *ng, const char *h, size_t n) {
  const char *ext = NULL, *pname = NULL;
  size_t ext_len = 0, pname_len = 0;
  long start = -1, end = -1;
  int in_quotes = 0, escaping = 0, must_unescape = 0;
  unsigned char code = 0;
  size_t i = 0;
  for (; i < n; i++) {
    code = (unsigned char)h[i];
    int ws = code == ' ' || code == '\t', sep = code == ';' || code == ',';
    if (!ext) {
      if (end == -1 && tchar(code)) {
        if (start == -1) start = (long)i;
      } else if (i != 0 && ws) {
        if (end == -1 && start != -1) end = (long)i;
      } else if (sep) {
        if (start == -1) return -1;
        if (end == -1) end = (long)i;
        if (code == ',') {
          ext_begin(ng, h + start, (size_t)(end - start));
          ext_end(ng);
        } else {
          ext = h + start;
          ext_len = (size_t)(end - start);
          ext_begin(ng, ext, ext_len);
        }
        start = end = -1;
      } else {
        return -1;
      }
    } else if (!pname) {
      if (end == -1 && tchar(code)) {
        if (start == -1) start = (long)i;
      } else if (ws) {
        if (end == -1 && start != -1) end = (long)i;
      } else if (sep) {
        if (start == -1) return -1;
        if (end == -1) end = (long)i;
        ext_param(ng, h + start, (size_t)(end - start), NULL, 0, 0);
        if (code == ',') {
          ext_end(ng);
          ext = NULL;
        }
        start = end = -1;
      } else if (code == '=' && start != -1 && end == -1) {
        pname = h + start;
        pname_len = i - (size_t)start;
        start = end = -1;
      } else {
        return -1;
      }
    } else {
      if (escaping) {
        if (!tchar(code)) return -1;
        if (start == -1) start = (long)i;
        else must_unescape = 1;
        escaping = 0;
      } else if (in_quotes) {
        if (tchar(code)) {
          if (start == -1) start = (long)i;
        } else if (code == '"' && start != -1) {
          in_quotes = 0;
          end = (long)i;
        } else if (code == '\\') {
          escaping = 1;
        } else {
          return -1;
        }
      } else if (code == '"' && i > 0 && h[i - 1] == '=') {
        in_quotes = 1;
      } else if (end == -1 && tchar(code)) {
        if (start == -1) start = (long)i;
      } else if (start != -1 && ws) {
        if (end == -1) end = (long)i;
      } else if (sep) {
        if (start == -1) return -1;
        if (end == -1) end = (long)i;
        ext_param(ng, pname, pname_len, h + start, (size_t)(end - start), must_unescape);
        must_unescape = 0;
        if (code == ',') {
          ext_end(ng);
          ext = NULL;
        }
        pname = NULL;
        start = end = -1;
      } else {
        return -1;
      }
    }
  }
  if (start == -1 || in_quotes || code == ' ' || code == '\t') return -1;
  if (end == -1) end = (long)i;
  if (!ext) {
    ext_begin(ng, h + start, (size_t)(end - start));
  } else if (!pname) {
    ext_param(ng, h + start, (size_t)(end - start), NULL, 0, 0);
  } else {
    ext_param(ng, pname, pname_len, h + start, (size_t)(end - start), must_unescape);
  }
  ext_end(ng);
  return 0;
}

int sio__pmd_negotiate(const sio__pmd_config *cfg, const char *header, size_t len,
                       sio__pmd_params *out) {
  pmd_neg ng;
  memset(&ng, 0, sizeof ng);
  ng.cfg = cfg;
  if (ext_parse(&ng, header ? header : "", header ? len : 0) != 0 || ng.invalid) return -1;
  if (!ng.offers) return 0;
  if (!ng.accepted) return -1; /* 'None of the extension offers can be accepted' */
  *out = ng.result;
  return 1;
}

size_t sio__pmd_format(const sio__pmd_params *p, char *out, size_t cap) {
  size_t n = 0;
  const char *s = "permessage-deflate";
  if (!cap) return 0;
  for (int j = -1; j < p->n; j++) {
    char piece[40];
    if (j >= 0) {
      int k = p->order[j];
      int v = k == SIO__PMD_SERVER_WBITS ? p->server_wbits : k == SIO__PMD_CLIENT_WBITS ? p->client_wbits : 0;
      size_t l = strlen(param_names[k]);
      memcpy(piece, "; ", 2);
      memcpy(piece + 2, param_names[k], l);
      l += 2;
      if (v) {
        piece[l++] = '=';
        if (v >= 10) piece[l++] = '1';
        piece[l++] = (char)('0' + v % 10);
      }
      piece[l] = 0;
      s = piece;
    }
    size_t l = strlen(s);
    if (n + l >= cap) break;
    memcpy(out + n, s, l);
    n += l;
  }
  out[n] = 0;
  return n;
}

/* ---- streams ----------------------------------------------------------------- */

/* zlib's blocks (deflate's window, prev, head and pending buffers, 64 KiB
 * each at the defaults; inflate's 32 KiB window; both states, 6-7 KiB)
 * come straight from mmap and go back with munmap: a stream that is freed
 * (an idle one, see sio__pmd_hibernate) gives its pages back to the system
 * at once, where malloc would keep them in the heap, resident, between the
 * windows kept. Untouched pages cost nothing either way. Creating a stream
 * costs 5 (deflate) or 2 (inflate) mmaps; it happens once per connection
 * and idle period. */
#define ZMAP_MIN 4096
#define ZHDR 16 /* keeps zlib's blocks 16-byte aligned */

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  size_t n = (size_t)items * size;
  if (n < ZMAP_MIN) {
    uint8_t *p = malloc(n + ZHDR);
    if (!p) return Z_NULL;
    memset(p, 0, sizeof(size_t));
    return p + ZHDR;
  }
  uint8_t *p = mmap(NULL, n + ZHDR, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Z_NULL;
  size_t total = n + ZHDR;
  memcpy(p, &total, sizeof total);
  return p + ZHDR;
}

static void z_free(voidpf opaque, voidpf ptr) {
  if (!ptr) return;
  uint8_t *p = (uint8_t *)ptr - ZHDR;
  size_t total;
  memcpy(&total, p, sizeof total);
  if (total) munmap(p, total);
  else free(p);
}

struct sio__pmd_ctx {
  sio__pmd_config cfg;
  /* Streams of the connections without context takeover, by window bits. */
  z_stream *def[16];
  z_stream *inf[16];
  /* The last packet compressed by a shared deflater, and the result. */
  sio__rbuf *cache_src, *cache_out;
  int cache_wbits;
  sio__tq idle;   /* connections whose own streams are live, by last use */
  int has_idle;   /* idle is initialised (a loop was given) */
  size_t live;    /* connections with a live stream of their own */
};

struct sio__pmd {
  sio__pmd_ctx *ctx;
  z_stream *def, *inf;     /* context takeover only, live ... */
  uint8_t *def_dict, *inf_dict; /* ... or, once idle, their windows */
  uint16_t def_dict_len, inf_dict_len;
  uint8_t server_wbits, client_wbits;
  uint8_t server_nct : 1, client_nct : 1;
  /* The inflater stopped inside a block: the client's last message did not
   * end where RFC 7692 says (a sync flush). Tolerated, as ws does, but then
   * the window alone is not the whole state: the stream is kept. */
  uint8_t inf_mid : 1;
  sio__tq_node idle;       /* in ctx->idle while a stream of its own is live */
};

_Static_assert(sizeof(void *) != 8 || sizeof(sio__pmd) <= 80, "sio__pmd grew beyond 80 bytes");

static size_t deflate_bytes(int wbits, int mem_level) {
  /* deflate.c: window and prev 2 * 2^wbits each, head 2 * 2^(memLevel+7),
   * pending 4 * 2^(memLevel+6), plus the state (~6 KB). */
  return ((size_t)4 << wbits) + ((size_t)2 << (mem_level + 7)) + ((size_t)4 << (mem_level + 6)) + 6000;
}

static void idle_expired(sio__tq *q, sio__tq_node *n);

sio__pmd_ctx *sio__pmd_ctx_new(const sio__pmd_config *cfg, uv_loop_t *loop) {
  if (!cfg || sio__pmd_config_check(cfg) != 0) return NULL;
  sio__pmd_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->cfg = *cfg;
  if (loop && cfg->idle_ms) {
    sio__tq_init(loop, &ctx->idle, cfg->idle_ms, idle_expired, ctx);
    ctx->has_idle = 1;
  }
  return ctx;
}

sio__tq *sio__pmd_ctx_idle_queue(sio__pmd_ctx *ctx) { return ctx && ctx->has_idle ? &ctx->idle : NULL; }

static void cache_drop(sio__pmd_ctx *ctx) {
  sio__rbuf_unref(ctx->cache_src);
  sio__rbuf_unref(ctx->cache_out);
  ctx->cache_src = ctx->cache_out = NULL;
}

static void deflater_free(z_stream *z) {
  if (!z) return;
  deflateEnd(z);
  free(z);
}

static void inflater_free(z_stream *z) {
  if (!z) return;
  inflateEnd(z);
  free(z);
}

void sio__pmd_ctx_free(sio__pmd_ctx *ctx) {
  if (!ctx) return;
  cache_drop(ctx);
  for (int i = 0; i < 16; i++) {
    deflater_free(ctx->def[i]);
    inflater_free(ctx->inf[i]);
  }
  free(ctx);
}

const sio__pmd_config *sio__pmd_ctx_config(const sio__pmd_ctx *ctx) { return &ctx->cfg; }

size_t sio__pmd_ctx_heap_bytes(const sio__pmd_ctx *ctx) {
  size_t n = 0;
  for (int i = 8; i < 16; i++) {
    if (ctx->def[i]) n += deflate_bytes(i, ctx->cfg.mem_level);
    if (ctx->inf[i]) n += ((size_t)1 << i) + 7200;
  }
  return n;
}

size_t sio__pmd_ctx_live(const sio__pmd_ctx *ctx) { return ctx->live; }

sio__pmd *sio__pmd_new(sio__pmd_ctx *ctx, const sio__pmd_params *p) {
  sio__pmd *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->ctx = ctx;
  s->server_nct = p->server_nct ? 1 : 0;
  s->client_nct = p->client_nct ? 1 : 0;
  s->server_wbits = p->server_wbits;
  s->client_wbits = p->client_wbits;
  return s;
}

/* The connection used a stream of its own: (re)start its idle clock. */
static void touch(sio__pmd *s) {
  if (s->ctx->has_idle) sio__tq_arm(&s->ctx->idle, &s->idle);
}

static void streams_gone(sio__pmd *s) {
  sio__tq_cancel(&s->idle);
  s->ctx->live--;
}

void sio__pmd_free(sio__pmd *s) {
  if (!s) return;
  if (s->def || s->inf) streams_gone(s);
  deflater_free(s->def);
  inflater_free(s->inf);
  free(s->def_dict);
  free(s->inf_dict);
  free(s);
}

int sio__pmd_has_deflate(const sio__pmd *s) { return s->def != NULL; }
int sio__pmd_has_inflate(const sio__pmd *s) { return s->inf != NULL; }

size_t sio__pmd_heap_bytes(const sio__pmd *s) {
  size_t n = sizeof *s + s->def_dict_len + s->inf_dict_len;
  const sio__pmd_config *c = &s->ctx->cfg;
  if (s->def) n += deflate_bytes(s->server_wbits ? s->server_wbits : 15, c->mem_level);
  if (s->inf) n += ((size_t)1 << 15) + 7200;
  return n;
}

/* A stream's window, the last bytes it saw (at most 32 KiB), copied out:
 * all that context takeover needs to carry over. */
static int keep_window(z_stream *z, int deflating, uint8_t **out, uint16_t *len) {
  uInt n = 0;
  if (deflating) deflateGetDictionary(z, Z_NULL, &n);
  else inflateGetDictionary(z, Z_NULL, &n);
  *out = NULL;
  *len = 0;
  if (!n) return 0;
  if (n > 32768 || !(*out = malloc(n))) return -1;
  if (deflating) deflateGetDictionary(z, *out, &n);
  else inflateGetDictionary(z, *out, &n);
  *len = (uint16_t)n;
  return 0;
}

int sio__pmd_hibernate(sio__pmd *s) {
  int had = s->def || s->inf, rc = 0;
  if (s->def) {
    if (keep_window(s->def, 1, &s->def_dict, &s->def_dict_len) == 0) {
      deflater_free(s->def);
      s->def = NULL;
    } else {
      rc = -1;
    }
  }
  if (s->inf && !s->inf_mid) {
    if (keep_window(s->inf, 0, &s->inf_dict, &s->inf_dict_len) == 0) {
      inflater_free(s->inf);
      s->inf = NULL;
    } else {
      rc = -1;
    }
  }
  if (had && !s->def && !s->inf) streams_gone(s);
  else if (rc || s->inf) touch(s); /* out of memory, or mid-block: try again later */
  return rc;
}

static void idle_expired(sio__tq *q, sio__tq_node *n) {
  sio__pmd_hibernate(sio__container_of(n, sio__pmd, idle));
}

static z_stream *deflater_new(const sio__pmd_config *cfg, int wbits) {
  z_stream *z = calloc(1, sizeof *z);
  if (!z) return NULL;
  z->zalloc = z_alloc;
  z->zfree = z_free;
  if (deflateInit2(z, cfg->level, Z_DEFLATED, -wbits, cfg->mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
    free(z);
    return NULL;
  }
  return z;
}

static z_stream *inflater_new(int wbits) {
  z_stream *z = calloc(1, sizeof *z);
  if (!z) return NULL;
  z->zalloc = z_alloc;
  z->zfree = z_free;
  if (inflateInit2(z, -wbits) != Z_OK) {
    free(z);
    return NULL;
  }
  return z;
}

/* Our window: what the client allowed, else the most. 8 is left to the
 * caller: zlib cannot deflate raw data with a 256-byte window (since 1.2.9
 * it refuses; Node silently uses 9, which a peer holding us to 8 may not
 * inflate). */
static int server_wbits(const sio__pmd *s) { return s->server_wbits ? s->server_wbits : 15; }

/* The client deflates with at most client_wbits, but zlib's own deflate
 * turns 8 into 9 (the 256-byte window bug), so inflate with at least 9: a
 * larger window inflates anything a smaller one produced. */
static int client_wbits(const sio__pmd *s) {
  return s->client_wbits ? (s->client_wbits < 9 ? 9 : s->client_wbits) : 15;
}

/* The connection's own stream for one direction, live: created on first
 * use, or re-created from the window kept when it went idle. */
static z_stream *own_stream(sio__pmd *s, int deflating) {
  z_stream **zp = deflating ? &s->def : &s->inf;
  uint8_t **dict = deflating ? &s->def_dict : &s->inf_dict;
  uint16_t *dlen = deflating ? &s->def_dict_len : &s->inf_dict_len;
  if (!*zp) {
    z_stream *z = deflating ? deflater_new(&s->ctx->cfg, server_wbits(s)) : inflater_new(client_wbits(s));
    if (!z) return NULL;
    if (*dict) {
      int r = deflating ? deflateSetDictionary(z, *dict, *dlen) : inflateSetDictionary(z, *dict, *dlen);
      if (r != Z_OK) {
        if (deflating) deflater_free(z);
        else inflater_free(z);
        return NULL;
      }
      free(*dict);
      *dict = NULL;
      *dlen = 0;
    }
    if (!s->def && !s->inf) s->ctx->live++;
    *zp = z;
  }
  touch(s);
  return *zp;
}

/* Deflates len bytes as one message: a sync flush, minus the 00 00 ff ff
 * it ends with (RFC 7692 7.2.1). NULL on failure. */
static sio__rbuf *deflate_message(z_stream *z, const uint8_t *data, size_t len, int binary) {
  size_t cap = deflateBound(z, (uLong)len) + 16, out = 0;
  sio__rbuf *rb = sio__rbuf_new(SIO__RBUF_HEADROOM + cap);
  if (!rb) return NULL;
  rb->binary = (uint8_t)binary;
  if (len == 0) {
    /* An empty message is one empty stored block, 0x00 once the tail is
     * cut (RFC 7692 7.2.3.6). zlib would emit nothing: a second sync flush
     * in a row without input is "no progress possible". Both windows stay
     * as they are, so the stream needs no call at all. */
    rb->data[SIO__RBUF_HEADROOM] = 0;
    rb->len = SIO__RBUF_HEADROOM + 1;
    return rb;
  }
  z->next_in = (Bytef *)(uintptr_t)data;
  size_t left = len;
  for (;;) {
    /* zlib counts in uInt: feed at most 1 GiB at a time. */
    uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
    z->avail_in = chunk;
    z->next_out = (Bytef *)rb->data + SIO__RBUF_HEADROOM + out;
    z->avail_out = (uInt)(cap - out);
    int r = deflate(z, chunk < left ? Z_NO_FLUSH : Z_SYNC_FLUSH);
    left -= chunk - z->avail_in;
    out = cap - z->avail_out;
    if (r != Z_OK && r != Z_BUF_ERROR) goto fail;
    if (!left && z->avail_out > 0) break; /* the flush is complete */
    if (z->avail_out == 0) {
      size_t ncap = cap * 2;
      sio__rbuf *nb = realloc(rb, sizeof *rb + SIO__RBUF_HEADROOM + ncap);
      if (!nb) goto fail;
      rb = nb;
      cap = ncap;
    }
  }
  if (out < 4 || memcmp(rb->data + SIO__RBUF_HEADROOM + out - 4, "\0\0\xff\xff", 4) != 0) goto fail;
  rb->len = (uint32_t)(SIO__RBUF_HEADROOM + out - 4);
  return rb;
fail:
  free(rb);
  return NULL;
}

/* Compresses with the connection's stream (context takeover) or the shared
 * one (reset afterwards). */
static sio__rbuf *compress_with(sio__pmd *s, const uint8_t *data, size_t len, int binary) {
  int wb = server_wbits(s);
  sio__pmd_ctx *ctx = s->ctx;
  if (!s->server_nct) {
    z_stream *z = own_stream(s, 1);
    return z ? deflate_message(z, data, len, binary) : NULL;
  }
  if (!ctx->def[wb] && !(ctx->def[wb] = deflater_new(&ctx->cfg, wb))) return NULL;
  sio__rbuf *rb = deflate_message(ctx->def[wb], data, len, binary);
  deflateReset(ctx->def[wb]);
  return rb;
}

int sio__pmd_compress(sio__pmd *s, const void *data, size_t len, int binary, sio__rbuf **out) {
  if (len < s->ctx->cfg.threshold || server_wbits(s) < 9) return 0;
  *out = compress_with(s, data, len, binary);
  return *out ? 1 : -1;
}

int sio__pmd_compress_packet(sio__pmd *s, sio__rbuf *rb, sio__rbuf **out) {
  size_t len = rb->len - SIO__RBUF_HEADROOM;
  sio__pmd_ctx *ctx = s->ctx;
  int wb = server_wbits(s);
  if (len < ctx->cfg.threshold || wb < 9 || rb->nocompress) return 0;
  if (!s->server_nct) {
    *out = compress_with(s, (const uint8_t *)rb->data + SIO__RBUF_HEADROOM, len, rb->binary);
    return *out ? 1 : -1;
  }
  /* The result depends on the message and the window alone: the next
   * recipient of the same packet (a broadcast) gets the same frame. The
   * cache holds a reference to rb, so its address cannot be reused by
   * another packet while it is the key. */
  if (ctx->cache_src != rb || ctx->cache_wbits != wb) {
    sio__rbuf *c = compress_with(s, (const uint8_t *)rb->data + SIO__RBUF_HEADROOM, len, rb->binary);
    if (!c) return -1;
    cache_drop(ctx);
    ctx->cache_src = sio__rbuf_ref(rb);
    ctx->cache_out = c;
    ctx->cache_wbits = wb;
  }
  *out = sio__rbuf_ref(ctx->cache_out);
  return 1;
}

int sio__pmd_inflate(sio__pmd *s, const uint8_t *in, size_t len, size_t max, uint8_t **out,
                     size_t *outlen) {
  static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
  int wb = client_wbits(s), rc = 0;
  z_stream *z;
  if (s->client_nct) {
    z = s->ctx->inf[wb];
    if (!z && !(z = s->ctx->inf[wb] = inflater_new(wb))) return 1011;
  } else if (!(z = own_stream(s, 0))) {
    return 1011;
  }
  /* Start small and double: memory follows what the data really inflates
   * to, never what it might; max + 1 bytes at most, the +1 to see "over". */
  size_t lim = max < SIZE_MAX - 1 ? max + 1 : max;
  size_t cap = len < lim / 4 ? len * 4 : lim;
  if (cap < 256) cap = lim < 256 ? lim : 256;
  if (cap == 0) cap = 1;
  uint8_t *buf = malloc(cap);
  if (!buf) return 1011;
  size_t have = 0, left = len;
  int phase = 0; /* 0: the payload, 1: the 00 00 ff ff tail, 2: all fed */
  int ended = 0; /* the message ended the stream (BFINAL) */
  const uint8_t *next = in;
  z->avail_in = 0;
  for (;;) {
    if (z->avail_in == 0 && phase < 2) {
      if (phase == 0 && left) {
        uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
        z->next_in = (Bytef *)(uintptr_t)next;
        z->avail_in = chunk;
        next += chunk;
        left -= chunk;
      } else {
        if (phase == 0) phase = 1;
        if (phase == 1) {
          z->next_in = (Bytef *)(uintptr_t)tail;
          z->avail_in = 4;
        }
        phase++;
      }
    }
    if (have == cap) {
      if (cap >= lim) {
        rc = 1009;
        break;
      }
      size_t ncap = cap > lim / 2 ? lim : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        rc = 1011;
        break;
      }
      buf = nb;
      cap = ncap;
    }
    z->next_out = buf + have;
    z->avail_out = (uInt)(cap - have > (1u << 30) ? (1u << 30) : cap - have);
    uInt before = z->avail_out;
    int r = inflate(z, Z_SYNC_FLUSH);
    have += before - z->avail_out;
    if (have > max) {
      rc = 1009;
      break;
    }
    if (r == Z_STREAM_END) {
      /* A final block (BFINAL): the stream is over; the next message
       * starts a new one, as ws does (it drops its inflater). */
      inflateReset(z);
      ended = 1;
      break;
    }
    if (r == Z_NEED_DICT || r == Z_DATA_ERROR || r == Z_STREAM_ERROR) {
      rc = 1007;
      break;
    }
    if (r == Z_MEM_ERROR) {
      rc = 1011;
      break;
    }
    /* Done once everything is fed and inflate left output room unused:
     * with Z_SYNC_FLUSH it has then written all it could. */
    if (phase == 2 && z->avail_in == 0 && z->avail_out > 0) break;
  }
  if (rc || s->client_nct) inflateReset(z);
  /* data_type & 128: inflate stopped at a block boundary. */
  else s->inf_mid = !ended && !(z->data_type & 128);
  if (rc) {
    free(buf);
    return rc;
  }
  *out = buf;
  *outlen = have;
  return 0;
}
