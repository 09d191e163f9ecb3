/* Connection state recovery (lib/src/sio/sio_recovery.c): offsets on events,
 * packets kept per namespace (even with no recipient), sessions persisted on
 * recoverable disconnects and restored with their id, pid, rooms, data and
 * the packets they missed; every refusal; the recovery_max_bytes cap and the
 * expiry sweep. Without a network: sio_rooms.c and sio_recovery.c are
 * included, what they call from other files is replaced by recorders (the
 * encoder writes "2[nsp,]<json>" and can add attachments or fail), and the
 * disconnection/CONNECT steps of sio_socket.c / sio_server.c are played by
 * calling sio__rec_persist and sio__rec_restore as they do. */
#include "../../lib/src/sio/sio_rooms.c"
#include "../../lib/src/sio/sio_recovery.c"
#include "tap.h"
#include "tap_json.h"

#include <stdarg.h>
#include <unistd.h>

#define PREFIX "Ab3x"


/* ---- JSON helpers ---- */


/* ---- stand-ins for sio_codec.c / sio_server.c / sio_socket.c / log.c / id.c ---- */

/* The encoder: "2" + ("nsp," unless "/") + compact JSON; enc_natts
 * attachments of enc_att_len bytes each; enc_fail: EIO_ENOMEM. The last
 * packet's text is copied to last_enc (the buffers may be gone later). */
static int nencoded, enc_fail;
static size_t enc_natts, enc_att_len = 100;
static char last_enc[4096];
static sio__rbuf *last_text, *last_atts[4];

/* Every test client speaks Engine.IO v4 (Socket.IO v5). */
int eio_socket_protocol(const eio_socket_t *sock) { return 4; }

int sio__packet_encode(int type, const char *nsp, int64_t id, const json_t *data, sio__rbuf **text,
                       sio__rbuf ***atts, size_t *natts) {
  if (enc_fail) return EIO_ENOMEM;
  nencoded++;
  char *d = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
  char idbuf[24] = "";
  if (id >= 0) snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
  int n = snprintf(last_enc, sizeof last_enc, "%d%s%s%s%s", type, strcmp(nsp, "/") ? nsp : "",
                   strcmp(nsp, "/") ? "," : "", idbuf, d ? d : "?");
  free(d);
  size_t len = n < 0 ? 0 : (size_t)n < sizeof last_enc ? (size_t)n : sizeof last_enc - 1;
  *text = sio__rbuf_new(len);
  memcpy((*text)->data, last_enc, len);
  (*text)->len = (uint32_t)len;
  last_text = *text;
  *atts = NULL;
  *natts = 0;
  if (enc_natts) {
    *atts = malloc(enc_natts * sizeof **atts);
    for (size_t i = 0; i < enc_natts; i++) {
      (*atts)[i] = sio__rbuf_new(enc_att_len);
      memset((*atts)[i]->data, (int)('A' + i), enc_att_len);
      (*atts)[i]->len = (uint32_t)enc_att_len;
      (*atts)[i]->binary = 1;
      if (i < 4) last_atts[i] = (*atts)[i];
    }
    *natts = enc_natts;
  }
  return 0;
}

/* Recipients, in order; the text buffer each was given (compared, never read). */
static sio__client *sent_to[256];
static sio__rbuf *sent_text[256];
static size_t nsent;

void sio__client_send(sio__client *c, sio__rbuf *text, sio__rbuf **atts, size_t natts) {
  (void)atts, (void)natts;
  if (nsent < 256) {
    sent_to[nsent] = c;
    sent_text[nsent++] = text;
  }
}

static const char *const reserved[] = {"connect", "connect_error", "disconnect", "disconnecting", "newListener",
                                       "removeListener"};
int sio__reserved_event(const char *event) {
  for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
    if (strcmp(event, reserved[i]) == 0) return 1;
  return 0;
}

json_t *sio__event_array(const char *event, json_t *args) {
  json_t *a = json_array();
  json_array_append_new(a, json_string(event));
  if (json_is_array(args)) json_array_extend(a, args);
  else if (args) json_array_append(a, args);
  json_decref(args);
  return a;
}

/* No onAnyOutgoing listener here, so no socket is ever freed by the walk. */
void sio__socket_free(sio_socket_t *s) { abort(); }

/* hmap.c seeds its hash with it. */
int sio__random_bytes(void *out, size_t n) {
  memset(out, 0x5a, n);
  return 0;
}

/* Log lines are counted (the eviction warning is rate-limited). */
int sio__log_level = SIO__LOG_WARN;
static int nwarn, nwarn_evict;
static char last_log[512];

void sio__log_write(int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_log, sizeof last_log, fmt, ap);
  va_end(ap);
  if (level == SIO__LOG_WARN) nwarn++;
  if (strstr(last_log, "keeps over")) nwarn_evict++;
}

/* ---- fixture ---- */

#define N 4
static eio_server_t eio;
static sio_server_t srv;
static sio_socket_t socks[N];
static sio__client clients[N];
static eio_socket_t esocks[N];

static void nsp_open(sio_namespace_t *n, const char *name, int rec) {
  memset(n, 0, sizeof *n);
  n->name = (char *)name;
  n->srv = &srv;
  n->node.key = n->name;
  n->node.klen = (uint32_t)strlen(name);
  sio__hmap_init(&n->sockets);
  sio__hmap_init(&n->rooms);
  if (rec) n->rec = sio__rec_new();
  sio__hmap_put(&srv.nsps, &n->node);
}

static void nsp_close(sio_namespace_t *n) {
  for (int i = 0; i < N; i++)
    if (socks[i].nsp == n) {
      sio__rooms_leave_all(&socks[i]);
      socks[i].nsp = NULL;
    }
  sio__hmap_free(&n->sockets);
  sio__hmap_free(&n->rooms);
  sio__rec_free(n->rec);
  n->rec = NULL;
  sio__hmap_del(&srv.nsps, &n->node);
}

/* Every socket connected to n, in no room, with its own id and pid, no data. */
static void attach(sio_namespace_t *n) {
  for (int i = 0; i < N; i++) {
    sio_socket_t *s = &socks[i];
    if (s->nsp) {
      sio__rooms_leave_all(s);
      if (s->connected) sio__hmap_del(&s->nsp->sockets, &s->node);
    }
    json_decref(s->jdata);
    s->jdata = NULL;
    s->id = s->id_buf;
    snprintf(s->id_buf, sizeof s->id_buf, "socket-%013d", i);
    snprintf(s->pid, sizeof s->pid, "pid-%016d", i);
    s->node.key = s->id;
    s->node.klen = 20;
    s->nsp = n;
    s->client = &clients[i];
    s->connected = 1;
    sio__hmap_put(&n->sockets, &s->node);
  }
  nsent = 0;
}

/* sio__socket_onclose's part: the session is persisted before the rooms are left. */
static void drop(sio_socket_t *s, const char *reason) {
  sio__rec_persist(s, reason);
  sio__rooms_leave_all(s);
  sio__hmap_del(&s->nsp->sockets, &s->node);
  s->connected = 0;
}

static void setup(void) {
  eio.http.net.loop = uv_default_loop();
  eio.opts.path = "/socket.io/";
  srv.eio = &eio;
  memcpy(srv.rec_prefix, PREFIX, 5);
  srv.opts.recovery = 1;
  srv.opts.recovery_max_disconnection_ms = 120000;
  srv.opts.recovery_skip_middlewares = 1;
  srv.opts.recovery_max_bytes = 0;
  sio__hmap_init(&srv.nsps);
  for (int i = 0; i < N; i++) {
    esocks[i].srv = &eio;
    clients[i].eio = &esocks[i];
    clients[i].srv = &srv;
  }
}

/* ---- helpers ---- */

/* The offset of seq, written here independently of offset_text. */
static const char *off_of(uint64_t seq) {
  static char bufs[8][32];
  static int k;
  char *out = bufs[k++ % 8];
  char d[16];
  int n = 0;
  do {
    d[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[seq % 36];
    seq /= 36;
  } while (seq);
  char *p = out + sprintf(out, "%s-", PREFIX);
  while (n) *p++ = d[--n];
  *p = 0;
  return out;
}

/* The JSON data of an encoded text ("2[...]" or "2/nsp,[...]"). */
static json_t *enc_data(const char *text, size_t len) {
  const char *b = memchr(text, '[', len);
  if (!b) return NULL;
  return json_loadb(b, len - (size_t)(b - text), 0, NULL);
}

/* The last element of the last encoded packet's data when it is an offset
 * string ("PREFIX-..."), else "". */
static char last_off[64];
static const char *last_offset(void) {
  json_t *d = enc_data(last_enc, strlen(last_enc));
  const char *s = json_string_value(json_array_get(d, json_array_size(d) - 1));
  snprintf(last_off, sizeof last_off, "%s", s && strncmp(s, PREFIX "-", 5) == 0 ? s : "");
  json_decref(d);
  return last_off;
}

/* Whether the buffer's bytes contain str. */
static int has_text(const sio__rbuf *b, const char *str) {
  size_t n = strlen(str);
  for (size_t i = 0; i + n <= b->len; i++)
    if (memcmp(b->data + i, str, n) == 0) return 1;
  return 0;
}

/* Splits "a,b" into v (at most 8); "" or NULL: none. */
static size_t split(const char *csv, char buf[256], const char *v[8]) {
  size_t n = 0;
  if (!csv || !*csv) return 0;
  snprintf(buf, 256, "%s", csv);
  for (char *tok = strtok(buf, ","); tok && n < 8; tok = strtok(NULL, ",")) v[n++] = tok;
  return n;
}

/* sio__send_event of [event, "x"] to rooms minus except (comma-separated). */
static int send_ev(sio_namespace_t *n, const char *event, const char *rooms, const char *except, int vol) {
  char rb[256], eb[256];
  const char *rv[8], *ev[8];
  size_t nr = split(rooms, rb, rv), ne = split(except, eb, ev);
  json_t *data = json_pack("[s,s]", event, "x");
  int r = sio__send_event(n, data, rv, nr, ev, ne, vol);
  json_decref(data);
  return r;
}

/* The event names of restored packets, comma-separated; each packet's offset
 * (its last element) must be the next one after the previous. */
static char names_buf[1024];
static int offsets_ok;
static const char *names_of(const sio__restored *out) {
  size_t k = 0;
  names_buf[0] = 0;
  offsets_ok = 1;
  uint64_t prev = 0;
  for (size_t i = 0; i < out->n; i++) {
    json_t *d = enc_data(out->packets[i].text->data, out->packets[i].text->len);
    const char *ev = json_string_value(json_array_get(d, 0));
    const char *off = json_string_value(json_array_get(d, json_array_size(d) - 1));
    uint64_t seq;
    if (!off || parse_offset(&srv, off, &seq) != 0 || (i && seq <= prev)) offsets_ok = 0;
    else prev = seq;
    k += (size_t)snprintf(names_buf + k, sizeof names_buf - k, "%s%s", i ? "," : "", ev ? ev : "?");
    json_decref(d);
  }
  return names_buf;
}

#define FRESH_ID "fresh-00000000000000"

/* A CONNECT: a new socket of n (id FRESH_ID, no pid) and sio__rec_restore. */
static sio_socket_t fresh;
static int restore_auth(sio_namespace_t *n, json_t *auth, sio__restored *out) {
  memset(&fresh, 0, sizeof fresh);
  fresh.nsp = n;
  fresh.id = fresh.id_buf;
  memcpy(fresh.id_buf, FRESH_ID, sizeof fresh.id_buf);
  int r = sio__rec_restore(&fresh, auth, out);
  json_decref(auth);
  return r;
}

static int restore(sio_namespace_t *n, const char *pid, const char *off, sio__restored *out) {
  json_t *auth = json_object();
  if (pid) json_object_set_new(auth, "pid", json_string(pid));
  if (off) json_object_set_new(auth, "offset", json_string(off));
  json_object_set_new(auth, "token", json_string("t"));
  return restore_auth(n, auth, out);
}

/* A refused CONNECT: 0, the new socket keeps its id and has no pid, out
 * empty, and the number of sessions is `sessions` after it. */
#define refused(rf_nsp, rf_auth, rf_sessions, ...)                                                   \
  do {                                                                                                   \
    char rf_what[200];                                                                                   \
    snprintf(rf_what, sizeof rf_what, __VA_ARGS__);                                                      \
    sio__restored rf_out;                                                                                \
    memset(&rf_out, 0x11, sizeof rf_out);                                                                \
    int rf_r = restore_auth((rf_nsp), (rf_auth), &rf_out);                                               \
    ok(rf_r == 0 && strcmp(fresh.id, FRESH_ID) == 0 && fresh.pid[0] == 0, "refused: %s", rf_what);       \
    ok(rf_out.n == 0 && !rf_out.packets && !rf_out.rooms && !rf_out.data, "... nothing to restore");     \
    is_int(sio__rec_sessions(rf_nsp), (rf_sessions), "... sessions left: %d", (int)(rf_sessions));       \
    if (rf_r) sio__restored_clear(&rf_out);                                                              \
  } while (0)

static json_t *auth_of(const char *pid, const char *off) {
  json_t *a = json_object();
  if (pid) json_object_set_new(a, "pid", json_string(pid));
  if (off) json_object_set_new(a, "offset", json_string(off));
  return a;
}

/* ---- 1. offsets ---- */

static void test_offsets(void) {
  sio_namespace_t n, plain;
  nsp_open(&n, "/", 1);
  nsp_open(&plain, "/plain", 0);
  attach(&n);

  is_int(send_ev(&n, "a", NULL, NULL, 0), N, "to everyone: %d recipients", N);
  is_str(last_offset(), off_of(0), "the first event carries offset %s as its last element", off_of(0));
  json_t *d = enc_data(last_enc, strlen(last_enc));
  is_jv(d, json_pack("[s,s,s]", "a", "x", off_of(0)), "... appended after the arguments");
  json_decref(d);
  is_int(sio__rec_packets(&n), 1, "... and kept");
  ok(last_text->refs == 1 && nsent == N && sent_text[0] == last_text && sent_text[N - 1] == last_text,
     "... the very buffer sent to the recipients (refs %u)", (unsigned)last_text->refs);

  int consecutive = 1, kept = 1;
  for (uint64_t q = 1; q < 80; q++) {
    send_ev(&n, "b", q % 2 ? "nobody" : NULL, NULL, 0);
    if (strcmp(last_offset(), off_of(q)) != 0) {
      if (consecutive) printf("#   seq %llu: got %s, want %s\n", (unsigned long long)q, last_off, off_of(q));
      consecutive = 0;
    }
    if (sio__rec_packets(&n) != q + 1) kept = 0;
  }
  ok(consecutive, "80 events: consecutive base-36 sequences (.. %s, %s .. %s)", off_of(35), off_of(36), off_of(79));
  ok(kept, "... each kept");
  is_str(off_of(36), PREFIX "-10", "(the test's own base 36: 36 is \"10\")");

  /* Volatile: no offset, nothing kept, no sequence used. */
  size_t before = sio__rec_packets(&n), bytes = sio__rec_bytes(&n);
  send_ev(&n, "v", NULL, NULL, 1);
  is_str(last_offset(), "", "volatile: no offset");
  d = enc_data(last_enc, strlen(last_enc));
  is_json(d, "[\"v\",\"x\"]", "... the data as given");
  json_decref(d);
  ok(sio__rec_packets(&n) == before && sio__rec_bytes(&n) == bytes, "... nothing kept");
  sio_bc_emit(sio_bc_volatile(sio_bc_new(&n)), "v2", json_pack("[i]", 1));
  is_str(last_offset(), "", "sio_bc_volatile: no offset");
  is_int(sio__rec_packets(&n), before, "... nothing kept");
  send_ev(&n, "after", NULL, NULL, 0);
  is_str(last_offset(), off_of(80), "the next event takes the next sequence (volatile ones take none)");

  /* Through the public API. */
  sio_socket_join(&socks[1], "r");
  nsent = 0;
  is_int(sio_emit_to(&n, "r", "to", json_pack("[s]", "hi")), 1, "sio_emit_to: one recipient");
  is_str(last_offset(), off_of(81), "... with the next offset");
  d = enc_data(last_enc, strlen(last_enc));
  is_jv(d, json_pack("[s,s,s]", "to", "hi", off_of(81)), "... after its arguments");
  json_decref(d);
  ok(nsent == 1 && sent_to[0] == &clients[1], "... sent to socket 1 only");
  is_int(sio__rec_packets(&n), 82, "... kept");
  is_int(sio_emit_all(&n, "all", NULL), N, "sio_emit_all");
  is_str(last_offset(), off_of(82), "... next offset");

  /* Without recovery: no offset, nothing kept. */
  attach(&plain);
  is_int(send_ev(&plain, "p", NULL, NULL, 0), N, "without recovery: sent");
  is_str(last_offset(), "", "... no offset");
  d = enc_data(last_enc, strlen(last_enc));
  is_json(d, "[\"p\",\"x\"]", "... the data as given");
  json_decref(d);
  is_int(sio__rec_packets(&plain), 0, "... nothing kept");
  is_int(sio__rec_bytes(&plain), 0, "... no bytes");
  is_int(sio__rec_sessions(&plain), 0, "... no session");
  drop(&socks[0], "transport close");
  is_int(sio__rec_sessions(&plain), 0, "... nor after a recoverable disconnect");
  sio__restored out;
  is_int(restore(&plain, "pid-0000000000000000", off_of(0), &out), 0, "... nor a restore");
  nsp_close(&n);
  nsp_close(&plain);
}

/* ---- 2. kept with no recipient ---- */

static void test_no_recipient(void) {
  sio_namespace_t n, empty;
  nsp_open(&n, "/", 1);
  nsp_open(&empty, "/empty", 1);
  attach(&n);
  nsent = 0;
  is_int(send_ev(&empty, "e0", NULL, NULL, 0), 0, "a namespace without sockets: no recipient");
  is_int(sio__rec_packets(&empty), 1, "... the packet is kept");
  ok(sio__rec_bytes(&empty) > strlen(last_enc), "... its bytes counted (%zu)", sio__rec_bytes(&empty));
  is_str(last_offset(), off_of(0), "... with its offset");
  ok(nsent == 0, "... sent to nobody");
  is_int(send_ev(&n, "e1", "nobody-here", NULL, 0), 0, "a room nobody is in: no recipient");
  is_int(sio__rec_packets(&n), 1, "... kept");
  is_int(send_ev(&n, "e2", NULL, "socket-0000000000000,socket-0000000000001,socket-0000000000002,"
                 "socket-0000000000003", 0), 0, "everyone excepted: no recipient");
  is_int(sio__rec_packets(&n), 2, "... kept");
  /* Coming back to the empty namespace: it has its own ring and sessions. */
  sio__restored out;
  is_int(restore(&empty, "pid-0000000000000000", off_of(0), &out), 0, "an unknown session there: refused");
  nsp_close(&n);
  nsp_close(&empty);
}

/* ---- 3. persist / restore ---- */

static void test_persist(void) {
  sio_namespace_t n, off;
  nsp_open(&n, "/", 1);
  nsp_open(&off, "/off", 0);
  attach(&n);
  static const char *const good[] = {"transport error",      "transport close",    "forced close", "ping timeout",
                                     "server shutting down", "forced server close"};
  static const char *const bad[] = {"client namespace disconnect", "server namespace disconnect", "parse error",
                                    "io server disconnect", "", "Transport close", "transport close "};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    sio__rec_persist(&socks[0], bad[i]);
    is_int(sio__rec_sessions(&n), 0, "\"%s\": not recoverable, no session", bad[i]);
  }
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    snprintf(socks[0].pid, sizeof socks[0].pid, "reason-%013zu", i);
    sio__rec_persist(&socks[0], good[i]);
    is_int(sio__rec_sessions(&n), i + 1, "\"%s\": recoverable, a session", good[i]);
  }
  size_t had = sio__rec_sessions(&n);
  socks[1].pid[0] = 0;
  sio__rec_persist(&socks[1], "transport close");
  is_int(sio__rec_sessions(&n), had, "a socket without a pid: no session");
  /* The same pid twice: one session, the latest. */
  sio_socket_join(&socks[2], "first");
  sio__rec_persist(&socks[2], "ping timeout");
  sio_socket_leave(&socks[2], "first");
  sio_socket_join(&socks[2], "second");
  sio__rec_persist(&socks[2], "transport error");
  is_int(sio__rec_sessions(&n), had + 1, "the same pid persisted twice: one session");
  send_ev(&n, "z", NULL, NULL, 0);
  sio__restored out;
  ok(restore(&n, socks[2].pid, off_of(0), &out) == 1, "... restored");
  is_json(out.rooms, "[\"socket-0000000000002\",\"second\"]", "... with the rooms of the later one");
  is_int(sio__rec_sessions(&n), had, "... and its session gone");
  sio__restored_clear(&out);
  /* Without recovery on the namespace: nothing, no crash. */
  socks[3].nsp = &off;
  sio__rec_persist(&socks[3], "transport close");
  is_int(sio__rec_sessions(&off), 0, "a namespace without recovery: no session");
  memset(&out, 0x11, sizeof out);
  is_int(restore(&off, socks[3].pid, off_of(0), &out), 0, "... and no restore");
  ok(out.n == 0 && !out.rooms && !out.packets && strcmp(fresh.id, FRESH_ID) == 0, "... out cleared, id kept");
  socks[3].nsp = &n;
  nsp_close(&off);
  nsp_close(&n);

  /* Missed packets. */
  nsp_open(&n, "/", 1);
  attach(&n);
  sio_socket_t *s0 = &socks[0];
  sio_socket_join(s0, "a");
  sio_socket_join(s0, "b");
  sio_socket_join(&socks[1], "a");
  s0->jdata = J("{\"n\":1,\"name\":\"zero\"}");
  json_t *jdata = s0->jdata;
  send_ev(&n, "e0", NULL, NULL, 0);
  char o0[32];
  snprintf(o0, sizeof o0, "%s", last_offset());
  drop(s0, "transport close");
  is_int(sio__rec_sessions(&n), 1, "socket 0 gone on transport close: its session kept");
  is_int(jdata->refcount, 2, "... its data shared with the session");
  is_int(n.rooms.count, 1, "... its rooms left (\"a\" still has socket 1)");

  /* seq 1 .. 10 */
  send_ev(&n, "e1", NULL, NULL, 0);                            /* everyone: yes */
  send_ev(&n, "e2", "a", NULL, 0);                             /* its room: yes */
  send_ev(&n, "e3", "c", NULL, 0);                             /* another room: no */
  send_ev(&n, "e4", "a", "b", 0);                              /* its room, except another of its rooms: no */
  send_ev(&n, "e5", "socket-0000000000000", NULL, 0);          /* its own id (socket.emit): yes */
  send_ev(&n, "e6", NULL, "socket-0000000000000", 0);          /* everyone but itself: no */
  send_ev(&n, "e7", "c,b", NULL, 0);                           /* one of the rooms: yes */
  send_ev(&n, "e8", NULL, "zzz", 0);                           /* except a room it is not in: yes */
  send_ev(&n, "e9", NULL, NULL, 1);                            /* volatile: not kept */
  send_ev(&n, "e10", "c,d", "a", 0);                           /* neither: no */
  send_ev(&n, "e11", "socket-0000000000001", NULL, 0);         /* another socket: no */
  char o5[32];
  snprintf(o5, sizeof o5, "%s", off_of(5));
  is_int(sio__rec_packets(&n), 11, "11 packets kept");

  /* A second session (socket 1, rooms a) to check another offset. */
  drop(&socks[1], "ping timeout");
  send_ev(&n, "f1", "a", NULL, 0);
  is_int(sio__rec_sessions(&n), 2, "two sessions");

  sio__restored out0;
  int r = restore(&n, "pid-0000000000000000", o0, &out0);
  is_int(r, 1, "restore {pid, offset %s}: recovered", o0);
  is_str(fresh.id, "socket-0000000000000", "... the new socket takes the old id");
  is_str(fresh.pid, "pid-0000000000000000", "... and the old pid");
  is_str(names_of(&out0), "e1,e2,e5,e7,e8,f1", "... missed packets: those its rooms would have received, oldest first");
  ok(offsets_ok, "... each with its own offset, increasing");
  is_json(out0.rooms, "[\"socket-0000000000000\",\"a\",\"b\"]", "... rooms as saved (own id, then in join order)");
  ok(out0.data == jdata, "... data: the socket's object");
  is_json(out0.data, "{\"n\":1,\"name\":\"zero\"}", "... as saved");
  is_int(out0.rooms ? out0.rooms->refcount : 0, 1, "... rooms owned by out alone");
  is_int(jdata->refcount, 2, "... data: one reference for out, one for the old socket");
  is_int(sio__rec_sessions(&n), 1, "... the session is removed");
  /* The restored texts are the kept buffers (references). */
  if (out0.n) {
    sio__rbuf *t = out0.packets[out0.n - 1].text;
    is_int(t->refs, 2, "... the packets are references to the kept buffers");
    ok(t == last_text, "... the very buffer that was sent");
  }
  sio__restored_clear(&out0);
  is_int(jdata->refcount, 1, "sio__restored_clear: the data reference released");
  is_int(last_text->refs, 1, "... the packets' references too");
  ok(out0.n == 0 && !out0.packets && !out0.rooms && !out0.data, "... out cleared");
  sio__restored_clear(&out0); /* twice: harmless */

  refused(&n, auth_of("pid-0000000000000000", o0), 1, "a second restore with the same pid");

  sio__restored out1;
  r = restore(&n, "pid-0000000000000001", o5, &out1);
  is_int(r, 1, "socket 1 with an offset in the middle (%s): recovered", o5);
  is_str(fresh.id, "socket-0000000000001", "... its id");
  is_str(names_of(&out1), "e6,e8,e11,f1", "... only what came after its offset for its rooms");
  is_json(out1.rooms, "[\"socket-0000000000001\",\"a\"]", "... its rooms");
  ok(out1.data == NULL, "... no data");
  sio__restored_clear(&out1);
  is_int(sio__rec_sessions(&n), 0, "no session left");

  /* The newest offset: nothing missed. */
  sio_socket_t *s2 = &socks[2];
  drop(s2, "forced close");
  send_ev(&n, "g1", NULL, NULL, 0);
  sio__restored out2;
  is_int(restore(&n, s2->pid, last_offset(), &out2), 1, "the newest offset: recovered");
  is_int(out2.n, 0, "... nothing missed");
  ok(out2.packets == NULL, "... no array");
  sio__restored_clear(&out2);

  /* Attachments are restored as references too. */
  sio_socket_t *s3 = &socks[3];
  send_ev(&n, "h0", NULL, NULL, 0);
  char oh[32];
  snprintf(oh, sizeof oh, "%s", last_offset());
  drop(s3, "transport error");
  enc_natts = 2;
  send_ev(&n, "h1", NULL, NULL, 0);
  enc_natts = 0;
  sio__rbuf *a0 = last_atts[0], *a1 = last_atts[1];
  sio__restored out3;
  is_int(restore(&n, s3->pid, oh, &out3), 1, "a packet with attachments missed: recovered");
  ok(out3.n == 1 && out3.packets[0].natts == 2 && out3.packets[0].atts[0] == a0 && out3.packets[0].atts[1] == a1,
     "... its attachments, in order");
  ok(a0->refs == 2 && a1->refs == 2, "... as references (%u, %u)", (unsigned)a0->refs, (unsigned)a1->refs);
  sio__restored_clear(&out3);
  ok(a0->refs == 1 && a1->refs == 1, "... released by sio__restored_clear");

  nsp_close(&n);
}

/* ---- 4. refusals ---- */

static void test_refusals(void) {
  sio_namespace_t n;
  nsp_open(&n, "/", 1);
  attach(&n);
  sio_socket_t *s = &socks[0];
  sio_socket_join(s, "a");
  for (int i = 0; i < 5; i++) send_ev(&n, "old", NULL, NULL, 0); /* seq 0 .. 4 */
  drop(s, "transport close");
  for (int i = 0; i < 15; i++) send_ev(&n, "new", NULL, NULL, 0); /* seq 5 .. 19 (a .. j: letters in range) */
  const char *pid = "pid-0000000000000000";
  const char *o1 = off_of(1);

  refused(&n, json_object(), 1, "auth {}");
  refused(&n, auth_of(NULL, o1), 1, "no pid");
  refused(&n, auth_of(pid, NULL), 1, "no offset");
  refused(&n, json_pack("{s:i,s:s}", "pid", 7, "offset", o1), 1, "pid not a string");
  refused(&n, json_pack("{s:s,s:i}", "pid", pid, "offset", 1), 1, "offset not a string (a number)");
  refused(&n, json_pack("{s:s,s:n}", "pid", pid, "offset"), 1, "offset null");
  refused(&n, json_pack("[s,s]", pid, o1), 1, "auth an array");
  refused(&n, NULL, 1, "no auth at all");
  refused(&n, auth_of("pid-0000000000000009", o1), 1, "unknown pid");
  refused(&n, auth_of("pid-000000000000000", o1), 1, "pid one character short");
  refused(&n, auth_of("pid-00000000000000000", o1), 1, "pid one character long (its first 20 are the session's)");
  refused(&n, auth_of("", o1), 1, "pid empty");
  refused(&n, auth_of(pid, "Zz9q-1"), 1, "offset with another server's prefix");
  refused(&n, auth_of(pid, "ab3x-1"), 1, "offset prefix in another case");
  refused(&n, auth_of(pid, PREFIX "_1"), 1, "offset without '-'");
  refused(&n, auth_of(pid, PREFIX), 1, "offset: the prefix alone");
  refused(&n, auth_of(pid, "Ab"), 1, "offset shorter than the prefix");
  refused(&n, auth_of(pid, PREFIX "-"), 1, "offset empty after '-' (seq 0 is kept)");
  refused(&n, auth_of(pid, PREFIX "-1!"), 1, "offset with a bad base-36 digit ('!')");
  refused(&n, auth_of(pid, PREFIX "-A"), 1, "offset with an upper-case digit (\"a\" is kept)");
  refused(&n, auth_of(pid, PREFIX "- 1"), 1, "offset with a space");
  refused(&n, auth_of(pid, PREFIX "-0000000000001"), 1, "offset too long (13 digits, value 1)");
  refused(&n, auth_of(pid, off_of(20)), 1, "offset beyond the newest (%s, the next)", off_of(20));
  refused(&n, auth_of(pid, off_of(1000)), 1, "offset far beyond the newest");

  /* The boundary of the length check: 12 digits are read. */
  sio__restored out;
  is_int(restore(&n, pid, PREFIX "-000000000001", &out), 1, "an offset of 12 digits (value 1): recovered");
  is_str(names_of(&out), "old,old,old,new,new,new,new,new,new,new,new,new,new,new,new,new,new,new",
         "... the packets after seq 1");
  sio__restored_clear(&out);

  /* Older than the oldest kept: after the oldest are swept. */
  s = &socks[1];
  drop(s, "transport close");
  double now = sio__wall_ms();
  /* a threshold between the last packet and now cannot be made without
   * waiting: drop everything, then keep new ones */
  sio__rec_sweep(&n, now + (double)srv.opts.recovery_max_disconnection_ms + 1000);
  is_int(sio__rec_packets(&n), 0, "sweep far in the future: no packet left");
  is_int(sio__rec_sessions(&n), 0, "... no session");
  s = &socks[2];
  send_ev(&n, "n20", NULL, NULL, 0); /* seq 20 */
  is_str(last_offset(), off_of(20), "the sequence goes on after a sweep");
  drop(s, "transport close");
  send_ev(&n, "n21", NULL, NULL, 0);
  is_int(sio__rec_packets(&n), 2, "... packets kept again");
  refused(&n, auth_of(s->pid, off_of(19)), 1, "offset just older than the oldest kept");
  refused(&n, auth_of(s->pid, off_of(0)), 1, "offset much older");
  is_int(restore(&n, s->pid, off_of(20), &out), 1, "the oldest kept: recovered");
  is_str(names_of(&out), "n21", "... with what followed");
  sio__restored_clear(&out);

  /* Nothing kept at all. */
  sio__rec_sweep(&n, sio__wall_ms() + (double)srv.opts.recovery_max_disconnection_ms + 1000);
  s = &socks[3];
  drop(s, "transport close");
  refused(&n, auth_of(s->pid, off_of(21)), 1, "no packet kept: refused (even the last offset seen)");

  /* Expired: the session is dropped on the attempt. */
  uint32_t saved = srv.opts.recovery_max_disconnection_ms;
  srv.opts.recovery_max_disconnection_ms = 10;
  attach(&n);
  s = &socks[0];
  send_ev(&n, "x0", NULL, NULL, 0);
  drop(s, "transport close");
  send_ev(&n, "x1", NULL, NULL, 0);
  char ox[32];
  snprintf(ox, sizeof ox, "%s", off_of(22));
  size_t before = sio__rec_sessions(&n);
  usleep(40 * 1000);
  /* (the packets are as old: the refusal must come from the session's age) */
  refused(&n, auth_of(s->pid, ox), before - 1, "a session older than max_disconnection_ms (10 ms, 40 ms later)");
  refused(&n, auth_of(s->pid, ox), before - 1, "... and it is gone");
  /* A session within the limit still works with the same packets. */
  srv.opts.recovery_max_disconnection_ms = saved;
  s = &socks[1];
  drop(s, "transport close");
  is_int(restore(&n, s->pid, ox, &out), 1, "a fresh session with the same (40 ms old) packets: recovered");
  is_str(names_of(&out), "x1", "... with x1");
  sio__restored_clear(&out);
  nsp_close(&n);
}

/* ---- 5. recovery_max_bytes and the sweep ---- */

static void test_max_bytes(void) {
  sio_namespace_t n;
  nsp_open(&n, "/", 1);
  attach(&n);
  send_ev(&n, "m", NULL, NULL, 0);
  size_t per = sio__rec_bytes(&n);
  ok(per > strlen(last_enc), "one packet: %zu bytes counted (text %zu)", per, strlen(last_enc));
  enc_natts = 2;
  send_ev(&n, "m", NULL, NULL, 0);
  enc_natts = 0;
  is_int(sio__rec_bytes(&n) - per, per + 2 * enc_att_len, "... its attachments counted too");
  send_ev(&n, "m", "r1,r2", "r3", 0);
  size_t rooms_bytes = sio__rec_bytes(&n) - 2 * per - 2 * enc_att_len;
  ok(rooms_bytes > per, "... and its room names (%zu > %zu)", rooms_bytes, per);
  nsp_close(&n);

  /* A cap of 3.5 packets: 3 kept. */
  nsp_open(&n, "/", 1);
  attach(&n);
  size_t cap = 3 * per + per / 2;
  srv.opts.recovery_max_bytes = cap;
  srv.rec_warned_ms = 0;
  nwarn_evict = 0;
  drop(&socks[0], "transport close");
  int under = 1, evicted_ok = 1;
  for (int i = 0; i < 10; i++) {
    send_ev(&n, "c", NULL, NULL, 0); /* seq 0 .. 9, all one digit: the same size */
    size_t want_kept = i < 3 ? (size_t)i + 1 : 3;
    if (sio__rec_bytes(&n) > cap || sio__rec_packets(&n) != want_kept) under = 0;
    if (n.stats.recovery_evicted != (uint64_t)(i + 1 - (int)want_kept)) evicted_ok = 0;
  }
  ok(under, "cap %zu (3.5 packets): never over it, 3 kept", cap);
  ok(evicted_ok, "... each eviction counted as it happened");
  is_int(n.stats.recovery_evicted, 7, "... 7 evicted");
  is_int(sio__rec_bytes(&n), 3 * per, "... bytes: the 3 kept");
  is_int(nwarn_evict, 1, "... one warning (then quiet for 5 s)");
  sio__restored out;
  refused(&n, auth_of("pid-0000000000000000", off_of(6)), 1, "an evicted offset: refused");
  refused(&n, auth_of("pid-0000000000000000", off_of(0)), 1, "... the first one too");
  is_int(restore(&n, "pid-0000000000000000", off_of(7), &out), 1, "the oldest kept: recovered");
  is_int(out.n, 2, "... with the 2 after it");
  ok(out.n == 2 && has_text(out.packets[1].text, off_of(9)),
     "... the last being %s", off_of(9));
  sio__restored_clear(&out);

  /* One packet over the cap alone is kept (the last one always is). */
  char *huge = malloc(4 * cap + 1);
  memset(huge, 'h', 4 * cap);
  huge[4 * cap] = 0;
  json_t *big = json_pack("[s,s]", "big", huge);
  free(huge);
  sio__send_event(&n, big, NULL, 0, NULL, 0, 0);
  json_decref(big);
  is_int(sio__rec_packets(&n), 1, "a packet larger than the cap: kept alone");
  ok(sio__rec_bytes(&n) > cap, "... over the cap (%zu > %zu)", sio__rec_bytes(&n), cap);
  is_int(n.stats.recovery_evicted, 10, "... the 3 before it evicted");
  send_ev(&n, "c", NULL, NULL, 0);
  is_int(sio__rec_packets(&n), 1, "the next one: the big one goes");
  is_int(sio__rec_bytes(&n), per, "... bytes: the one kept");
  is_int(n.stats.recovery_evicted, 11, "... counted");
  is_int(nwarn_evict, 1, "... still one warning within 5 s");
  nsp_close(&n);

  /* The ring wraps and grows: offsets stay in order. */
  nsp_open(&n, "/", 1);
  attach(&n);
  srv.opts.recovery_max_bytes = 50 * per + per / 2; /* 50 kept (1-3 digit offsets: a few bytes more) */
  for (int i = 0; i < 150; i++) send_ev(&n, "w", NULL, NULL, 0);
  size_t kept = sio__rec_packets(&n);
  ok(kept >= 40 && kept <= 50, "a cap of ~50 packets, 150 sent: %zu kept (the ring wrapped)", kept);
  srv.opts.recovery_max_bytes = 0;
  for (int i = 0; i < 150; i++) send_ev(&n, "w", NULL, NULL, 0);
  is_int(sio__rec_packets(&n), kept + 150, "no cap: 150 more kept (the ring grew while wrapped)");
  uint64_t first = 300 - (uint64_t)(kept + 150);
  drop(&socks[0], "transport close");
  is_int(restore(&n, "pid-0000000000000000", off_of(first), &out), 1, "restore from the oldest (%s)", off_of(first));
  int order = out.n == kept + 149;
  for (size_t i = 0; order && i < out.n; i++) {
    json_t *d = enc_data(out.packets[i].text->data, out.packets[i].text->len);
    const char *o = json_string_value(json_array_get(d, 2));
    if (!o || strcmp(o, off_of(first + 1 + i)) != 0) {
      printf("#   packet %zu: %s, want %s\n", i, o ? o : "(none)", off_of(first + 1 + i));
      order = 0;
    }
    json_decref(d);
  }
  ok(order, "... every packet after it, in order (%zu)", out.n);
  sio__restored_clear(&out);
  nsp_close(&n);

  /* The sweep: sessions and packets older than max_disconnection_ms. */
  nsp_open(&n, "/", 1);
  attach(&n);
  uint32_t max = srv.opts.recovery_max_disconnection_ms;
  double start = sio__wall_ms();
  send_ev(&n, "A0", NULL, NULL, 0);
  send_ev(&n, "A1", NULL, NULL, 0);
  drop(&socks[0], "transport close");
  usleep(60 * 1000);
  double mid = sio__wall_ms();
  send_ev(&n, "B0", NULL, NULL, 0);
  drop(&socks[1], "transport close");
  send_ev(&n, "B1", NULL, NULL, 0);
  sio__rec_sweep(&n, start - 1 + max);
  ok(sio__rec_packets(&n) == 4 && sio__rec_sessions(&n) == 2, "sweep: nothing younger than its threshold goes");
  sio__rec_sweep(&n, mid - 20 + max);
  is_int(sio__rec_packets(&n), 2, "sweep between A and B: A's packets go");
  is_int(sio__rec_sessions(&n), 1, "... and the session persisted with them");
  is_int(sio__rec_bytes(&n), 2 * (per + 1), "... bytes of B only (names one byte longer than \"m\")");
  refused(&n, auth_of("pid-0000000000000000", off_of(1)), 1, "the swept session: refused");
  refused(&n, auth_of("pid-0000000000000001", off_of(1)), 1, "the kept session with a swept offset: refused");
  is_int(restore(&n, "pid-0000000000000001", off_of(2), &out), 1, "the kept session with B0: recovered");
  is_str(names_of(&out), "B1", "... with B1");
  sio__restored_clear(&out);
  drop(&socks[2], "transport close");
  sio__rec_sweep(&n, sio__wall_ms() + max + 1000);
  ok(sio__rec_packets(&n) == 0 && sio__rec_sessions(&n) == 0 && sio__rec_bytes(&n) == 0,
     "sweep past everything: nothing left");
  send_ev(&n, "C", NULL, NULL, 0);
  is_str(last_offset(), off_of(4), "the next event: the next sequence");
  is_int(sio__rec_packets(&n), 1, "... kept");
  drop(&socks[3], "transport close");
  send_ev(&n, "D", NULL, NULL, 0);
  is_int(restore(&n, "pid-0000000000000003", off_of(4), &out), 1, "... and recoverable from");
  is_str(names_of(&out), "D", "... with D");
  sio__restored_clear(&out);
  sio__rec_sweep(&n, sio__wall_ms() + max + 1000);
  sio_namespace_t none;
  nsp_open(&none, "/none", 0);
  sio__rec_sweep(&none, sio__wall_ms() + max + 1000); /* no recovery: nothing */
  is_int(sio__rec_packets(&none), 0, "sweep without recovery: nothing");
  nsp_close(&none);
  nsp_close(&n);
}

/* ---- an event that could not be sent: no silent gap ---- */

static void test_gap(void) {
  sio_namespace_t n;
  nsp_open(&n, "/", 1);
  attach(&n);
  send_ev(&n, "g0", NULL, NULL, 0); /* 0 */
  send_ev(&n, "g1", NULL, NULL, 0); /* 1 */
  drop(&socks[0], "transport close"); /* saw g1 */
  enc_fail = 1;
  is_int(send_ev(&n, "lost", NULL, NULL, 0), EIO_ENOMEM, "an event that cannot be encoded: EIO_ENOMEM"); /* 2 */
  enc_fail = 0;
  nsent = 0;
  is_int(send_ev(&n, "g3", NULL, NULL, 0), N - 1, "the next one is sent"); /* 3 */
  is_str(last_offset(), off_of(3), "... with the next sequence (2 was used)");
  drop(&socks[2], "transport close"); /* saw g3 */
  send_ev(&n, "g4", NULL, NULL, 0); /* 4 */
  drop(&socks[3], "transport close"); /* saw g4 */
  send_ev(&n, "g5", NULL, NULL, 0); /* 5 */
  refused(&n, auth_of("pid-0000000000000000", off_of(1)), 3,
          "a session whose offset is before the lost event: refused (no silent gap)");
  sio__restored out;
  is_int(restore(&n, "pid-0000000000000003", off_of(4), &out), 1, "the ring goes on after the gap");
  is_str(names_of(&out), "g5", "... with g5");
  sio__restored_clear(&out);
  /* g3 was sent after the gap: the ring starts again at g3, so a client
   * that saw it and left recovers from it (g4 and g5 are kept). */
  int r = restore(&n, "pid-0000000000000002", off_of(3), &out);
  ok(r == 1 && strcmp(names_of(&out), "g4,g5") == 0,
     "the first event after the gap is kept: a client that saw it recovers (g4,g5)");
  sio__restored_clear(&out);
  nsp_close(&n);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  setup();
  test_offsets();
  test_no_recipient();
  test_persist();
  test_refusals();
  test_max_bytes();
  test_gap();

  for (int i = 0; i < N; i++) {
    json_decref(socks[i].jdata);
    socks[i].jdata = NULL;
  }
  is_int(srv.nsps.count, 0, "every namespace closed");
  sio__hmap_free(&srv.nsps);
  is_int(uv_loop_close(uv_default_loop()), 0, "the loop closes: no handle left");
  return tap_done();
}
