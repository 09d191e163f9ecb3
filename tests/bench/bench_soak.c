/* sio-bench --mode soak: ordering and loss over a long chat run.
 *
 * Against sio-chat (every "message" event is relayed to everybody as
 * "<socket id>: <text>", the sender included). Three phases:
 *
 *   1. connect: all N clients handshake and join "/" (the CONNECT reply,
 *      whose sid each client keeps). The run goes on only if every one did.
 *   2. run (--duration): every client emits 42["message","s<g>:<seq>:<usec>"]
 *      at --client-rate, paced round-robin over each thread's clients; g is
 *      the client's global index, seq counts from 1 and only advances when
 *      the line was handed to an open connection ("accepted"); usec is the
 *      send time (monotonic, this process).
 *   3. drain (at most --drain): no more emits; wait until every client has
 *      every accepted line, then stop.
 *
 * Each client keeps, per sender, the highest seq it received and a 32-bit
 * map of which of the 32 below it came (thread array seen[sender * n +
 * local index], 8 bytes: 32 MB for 2,000 clients) and counts
 *   reordered   seq > highest + 1: a gap at arrival time
 *   late        seq in an earlier gap (within 32 of the highest): it fills it
 *   duplicates  a seq received before (or below the highest by more than 32
 *               and so not tracked)
 *   uniq        in-order, reordered and late arrivals: distinct lines.
 * At the end, for a client still connected, missing = accepted lines in all
 * - uniq. Lines are also checked for their relayed socket id (it must be the
 * sender's: "misattributed" otherwise) and form ("corrupt").
 *
 * A client whose connection dropped is a failure ("disconnects"); it is left
 * out of the expectations as a recipient, and as a sender its lines count as
 * accepted only up to the highest seq some connected client received from it
 * (the rest is "unconfirmed"). The run passes when every client joined, some
 * lines were sent, and missing, duplicates, reordered, late, disconnects,
 * corrupt, misattributed, unexpected (a seq never sent) and the generator's
 * own dropped writes are all 0. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

soak_sid_t *g_soak_sids;

/* ---- worker side (called from bench_loop.c) ------------------------------ */

void soak_joined(bthread_t *th, bconn_t *c, const char *p, size_t n) {
  (void)th;
  soak_sid_t *d = &g_soak_sids[c->gidx];
  d->len = 0; /* no id: every line of this sender counts as misattributed */
  static const char key[] = "\"sid\":\"";
  const char *k = memmem(p, n, key, sizeof key - 1);
  if (!k) return;
  k += sizeof key - 1;
  const char *e = memchr(k, '"', (size_t)(p + n - k));
  if (!e || e == k || (size_t)(e - k) > sizeof d->id) return;
  memcpy(d->id, k, (size_t)(e - k));
  d->len = (uint8_t)(e - k);
}

/* Writes line seq of client c; 0 if it was accepted (handed to the open
 * connection), -1 if the buffer was full or the connection failed. */
static int soak_emit(bthread_t *th, bconn_t *c, uint64_t seq) {
  static const char pre[] = "42[\"message\",\"s";
  char *b = (char *)th->scratch, *p = b;
  memcpy(p, pre, sizeof pre - 1);
  p += sizeof pre - 1;
  p = bench_put_u64(p, c->gidx);
  *p++ = ':';
  p = bench_put_u64(p, seq);
  *p++ = ':';
  p = bench_put_u64(p, (uint64_t)th->now / 1000);
  if (g_cfg.payload > 0) {
    *p++ = ':';
    memcpy(p, g_payload, (size_t)g_cfg.payload);
    p += g_cfg.payload;
  }
  *p++ = '"';
  *p++ = ']';
  uint64_t dropped = th->dropped;
  conn_send(th, c, b, (size_t)(p - b));
  return th->dropped != dropped || c->st != C_UP ? -1 : 0;
}

void soak_send(bthread_t *th, bconn_t *c) {
  uint64_t seq = (uint64_t)c->seq + 1;
  int r;
  if (g_cfg.inject && c->gidx == 0 && seq == 4) {
    /* --inject: client 0 misbehaves once, to show the checks catch it */
    switch (g_cfg.inject) {
    case INJECT_DUP: /* line 4 twice */
      r = soak_emit(th, c, 4);
      if (!r) soak_emit(th, c, 4);
      break;
    case INJECT_SKIP: /* line 4 never sent, yet counted as accepted */
      r = soak_emit(th, c, 5);
      if (!r) c->seq++;
      break;
    default: /* INJECT_SWAP: 5 before 4 */
      r = soak_emit(th, c, 5);
      if (!r) r = soak_emit(th, c, 4);
      if (!r) c->seq++, th->sent++;
      break;
    }
  } else {
    r = soak_emit(th, c, seq);
  }
  if (r) return;
  c->seq++;
  th->sent++;
  if (bench_in_window(th->now)) th->sent_win++;
}

/* Digits at *pp (at most 19), then the separator sep (0: none). */
static int take_num(const char **pp, const char *end, char sep, uint64_t *out) {
  const char *p = *pp;
  uint64_t v = 0;
  int n = 0;
  while (p < end && n < 19 && *p >= '0' && *p <= '9') {
    v = v * 10 + (uint64_t)(*p++ - '0');
    n++;
  }
  if (!n) return -1;
  if (sep) {
    if (p >= end || *p != sep) return -1;
    p++;
  }
  *pp = p;
  *out = v;
  return 0;
}

int soak_on_event(bthread_t *th, bconn_t *c, const char *p, size_t n) {
  static const char pre[] = "2[\"message\",\"";
  const char *end = p + n;
  if (n <= sizeof pre - 1 || memcmp(p, pre, sizeof pre - 1) != 0) return 0;
  /* "<socket id>: s..." is ours; "<id> connected" / "<id> disconnected"
   * have no ": " after the id. */
  const char *id = p + sizeof pre - 1, *q = id;
  const char *lim = id + 64 < end ? id + 64 : end;
  while (q < lim && *q != ':' && *q != '"') q++;
  if (end - q < 3 || q[0] != ':' || q[1] != ' ' || q[2] != 's') return 0;
  th->soak_recv++;
  const char *f = q + 3;
  uint64_t g, seq, us;
  if (take_num(&f, end, ':', &g) || take_num(&f, end, ':', &seq) || take_num(&f, end, 0, &us) ||
      f >= end || (*f != '"' && *f != ':') || g >= (uint64_t)g_cfg.clients || seq == 0 ||
      seq > UINT32_MAX) {
    th->soak_corrupt++;
    return 1;
  }
  const soak_sid_t *sid = &g_soak_sids[g];
  if ((size_t)(q - id) != sid->len || memcmp(id, sid->id, sid->len) != 0) th->soak_misattr++;
  soak_seen_t *e = &th->seen[(size_t)g * th->n + c->idx];
  if (seq > e->last) {
    uint64_t shift = seq - e->last; /* bit shift - 1: the old highest (or 0) */
    if (shift > 1) c->reord++;
    e->bits = shift > 32 ? 0 : (uint32_t)(((uint64_t)e->bits << shift) | (1ull << (shift - 1)));
    e->last = (uint32_t)seq;
  } else {
    uint64_t k = e->last - seq - 1; /* seq == last: k wraps, a duplicate */
    if (seq == e->last || k >= 32 || (e->bits >> k & 1)) {
      c->dup++;
      goto timed;
    }
    e->bits |= 1u << k;
    c->late++;
  }
  c->uniq++;
  th->soak_uniq++;
timed:;
  int64_t sent = (int64_t)(us * 1000);
  if (th->now >= sent) hist_add(&th->lat, (uint64_t)(th->now - sent));
  if (bench_in_window(th->now)) th->deliveries++;
  return 1;
}

/* ---- control side --------------------------------------------------------- */

#define T_ (g_cfg.threads)
#define CONN(g) (&g_threads[(g) % (uint32_t)T_].conns[(g) / (uint32_t)T_])
#define SEEN(r, s) \
  (g_threads[(r) % (uint32_t)T_]                                                 \
       .seen[(size_t)(s) * g_threads[(r) % (uint32_t)T_].n + (r) / (uint32_t)T_] \
       .last)

static const char *tr_name(int tr) { return tr == TR_WS ? "websocket" : "polling"; }

static uint64_t min_pub_phase(int started) {
  int m = PH_STOP;
  for (int t = 0; t < started; t++) {
    int p = atomic_load_explicit(&g_threads[t].pub_phase, memory_order_acquire);
    if (p < m) m = p;
  }
  return (uint64_t)m;
}

int soak_main(void) {
  const bench_config_t *cfg = &g_cfg;
  const uint32_t N = (uint32_t)cfg->clients;
  char err[256] = "";
  int fatal = bench_probe(err, sizeof err) < 0;
  long rss_before = bench_read_rss(cfg->server_pid), rss_after = -1;
  int started = 0;
  int64_t connect_begin = now_ns(), connect_end = 0, drain_begin = 0, drain_end = 0;
  uint64_t joined = 0;
  double srv_cpu0 = -1, srv_cpu1 = -1, own_cpu0 = -1, own_cpu1 = -1; /* over run + drain */

  g_soak_sids = calloc(N, sizeof *g_soak_sids);
  if (!fatal && (!g_soak_sids || bench_setup_threads() < 0)) {
    snprintf(err, sizeof err, "out of memory or fds setting up threads");
    fatal = 1;
  }
  if (!fatal) {
    atomic_store(&g_ctl.win_end, INT64_MAX);
    g_ctl.win_start = INT64_MAX;
    atomic_store(&g_ctl.phase, PH_CONNECT);
    started = bench_start_threads(cfg->threads, err, sizeof err);
    if (started < cfg->threads) fatal = 1;
  }

  /* Phase 1: everybody joins. */
  if (!fatal) {
    double budget = cfg->connect_timeout + (cfg->ramp > 0 ? cfg->clients / cfg->ramp : 0);
    int64_t deadline = connect_begin + (int64_t)(budget * 1e9);
    int64_t next_report = now_ns() + 1000000000LL;
    for (;;) {
      uint64_t done = SUM_PUB(pub_connected) + SUM_PUB(pub_failed);
      if (done >= N || g_signals || now_ns() >= deadline) break;
      if (now_ns() >= next_report) {
        fprintf(stderr, "sio-bench soak: connecting: %llu joined, %llu failed of %u\n",
                (unsigned long long)SUM_PUB(pub_connected), (unsigned long long)SUM_PUB(pub_failed),
                N);
        next_report += 1000000000LL;
      }
      bench_sleep_ms(5);
    }
    /* Pairs with the workers' release of pub_connected: their clients' ids
     * in g_soak_sids are visible to us, and through the phase's release to
     * every worker once the run starts. */
    atomic_thread_fence(memory_order_acquire);
    connect_end = now_ns();
    joined = SUM_PUB(pub_up);
    if (joined < N) {
      snprintf(err, sizeof err, "only %llu of %u clients joined within %.1f s%s",
               (unsigned long long)joined, N, (double)(connect_end - connect_begin) / 1e9,
               g_signals ? " (interrupted)" : "");
      fatal = 1;
    } else {
      fprintf(stderr, "sio-bench soak: %u clients joined in %.2f s; sending for %.0f s\n", N,
              (double)(connect_end - connect_begin) / 1e9, cfg->duration);
    }
  }

  /* Phase 2: the run. */
  if (!fatal) {
    int64_t t_run = now_ns();
    srv_cpu0 = cfg->server_pid > 0 ? bench_cpu_seconds(cfg->server_pid) : -1;
    own_cpu0 = bench_cpu_seconds(0);
    g_ctl.run_start = t_run;
    g_ctl.win_start = t_run;
    atomic_store(&g_ctl.win_end, t_run + (int64_t)(cfg->duration * 1e9));
    atomic_store_explicit(&g_ctl.phase, PH_RUN, memory_order_release);
    int64_t next_report = t_run + 5000000000LL;
    for (;;) {
      int64_t now = now_ns();
      if (g_signals) {
        if (now < atomic_load(&g_ctl.win_end)) atomic_store(&g_ctl.win_end, now);
        break;
      }
      if (now >= atomic_load(&g_ctl.win_end)) break;
      if (SUM_PUB(pub_up) == 0) { /* nobody left (the server went away?) */
        atomic_store(&g_ctl.win_end, now);
        fprintf(stderr, "sio-bench soak: every client lost after %.1f s; stopping\n",
                (double)(now - t_run) / 1e9);
        break;
      }
      if (now >= next_report) {
        uint64_t sent = SUM_PUB(pub_sent), uniq = SUM_PUB(pub_uniq), up = SUM_PUB(pub_up);
        fprintf(stderr,
                "sio-bench soak: %3.0f s: %llu lines sent, %llu deliveries, %llu in flight, "
                "%llu/%u up\n",
                (double)(now - t_run) / 1e9, (unsigned long long)sent, (unsigned long long)uniq,
                (unsigned long long)(sent * N > uniq ? sent * N - uniq : 0),
                (unsigned long long)up, N);
        next_report += 5000000000LL;
      }
      bench_sleep_ms(2);
    }

    /* Phase 3: drain. The workers stop emitting when they see PH_DRAIN and
     * publish their final counts with it. */
    drain_begin = now_ns();
    atomic_store_explicit(&g_ctl.phase, PH_DRAIN, memory_order_release);
    int64_t dl = drain_begin + (int64_t)(cfg->drain * 1e9);
    while (min_pub_phase(started) < PH_DRAIN && now_ns() < dl) bench_sleep_ms(1);
    uint64_t target = SUM_PUB(pub_sent) * N;
    while (now_ns() < dl && !g_signals) {
      if (SUM_PUB(pub_uniq) >= target || SUM_PUB(pub_up) < N) break;
      bench_sleep_ms(5);
    }
    /* A client lost: wait out the drain for the others' lines. */
    uint64_t up;
    while ((up = SUM_PUB(pub_up)) < N && up > 0 && now_ns() < dl && !g_signals) bench_sleep_ms(5);
    drain_end = now_ns();
    rss_after = bench_read_rss(cfg->server_pid);
    srv_cpu1 = cfg->server_pid > 0 ? bench_cpu_seconds(cfg->server_pid) : -1;
    own_cpu1 = bench_cpu_seconds(0);
  }
  atomic_store_explicit(&g_ctl.phase, PH_STOP, memory_order_release);
  bench_join(started);

  /* ---- accounting (the workers have stopped) ---- */
  uint64_t n_tr[2] = {0, 0}, alive_n = 0, disconnects = 0, disc_tr[2] = {0, 0};
  uint64_t sent = 0, accepted = 0, unconfirmed = 0, unexpected = 0;
  uint64_t received = 0, missing = 0, dups = 0, reord = 0, late = 0, extra = 0;
  uint64_t miss_tr[2] = {0, 0}, dup_tr[2] = {0, 0}, reord_tr[2] = {0, 0}, late_tr[2] = {0, 0};
  uint64_t corrupt = 0, misattr = 0, errors = 0, closed = 0, dropped = 0, other = 0, pings = 0;
  uint64_t deliveries = 0, sent_win = 0, recv_all = 0;
  uint64_t err_refused = 0, err_http = 0, err_closed = 0, err_proto = 0;
  char first_loss[256] = "";
  hist_t *lat = calloc(1, sizeof *lat);
  uint8_t *alive = calloc(N, 1);
  uint32_t *expect = calloc(N, sizeof *expect);
  int ran = !fatal && started == cfg->threads;
  if (!lat || !alive || !expect) {
    fprintf(stderr, "sio-bench soak: out of memory for the accounting\n");
    return 1;
  }
  for (int t = 0; t < started; t++) {
    bthread_t *th = &g_threads[t];
    errors += th->errors;
    closed += th->closed;
    dropped += th->dropped;
    other += th->other;
    pings += th->pings;
    corrupt += th->soak_corrupt;
    misattr += th->soak_misattr;
    deliveries += th->deliveries;
    sent_win += th->sent_win;
    recv_all += th->soak_recv;
    err_refused += th->err_refused;
    err_http += th->err_http;
    err_closed += th->err_closed;
    err_proto += th->err_proto;
    hist_merge(lat, &th->lat);
  }
  if (started) {
    uint64_t attempted = 0;
    for (int t = 0; t < started; t++) attempted += g_threads[t].connected + g_threads[t].failed;
    if (attempted < N) errors += N - attempted; /* never started or still handshaking */
  }
  for (uint32_t g = 0; g < N && started == cfg->threads; g++) {
    bconn_t *c = CONN(g);
    n_tr[c->tr]++;
    alive[g] = c->up_at_run && c->st == C_UP;
    alive_n += alive[g];
    if (c->up_at_run && !alive[g]) {
      disconnects++;
      disc_tr[c->tr]++;
    }
    if (c->up_at_run) {
      dups += c->dup;
      reord += c->reord;
      late += c->late;
      dup_tr[c->tr] += c->dup;
      reord_tr[c->tr] += c->reord;
      late_tr[c->tr] += c->late;
    }
    sent += c->seq;
  }
  if (ran) {
    /* What each sender had accepted; lines of a seq never sent. */
    for (uint32_t s = 0; s < N; s++) {
      bconn_t *c = CONN(s);
      uint32_t top = 0;
      for (uint32_t r = 0; r < N; r++) {
        if (!alive[r]) continue;
        uint32_t v = SEEN(r, s);
        if (v > c->seq) unexpected++;
        if (v > top) top = v;
      }
      if (alive[s]) {
        expect[s] = c->seq;
      } else {
        expect[s] = top < c->seq ? top : c->seq;
        unconfirmed += c->seq - expect[s];
      }
      accepted += expect[s];
    }
    for (uint32_t r = 0; r < N; r++) {
      if (!alive[r]) continue;
      bconn_t *c = CONN(r);
      received += c->uniq + c->dup;
      if (c->uniq > accepted) {
        extra += c->uniq - accepted;
        continue;
      }
      uint64_t m = accepted - c->uniq;
      missing += m;
      miss_tr[c->tr] += m;
      if (m && !first_loss[0]) {
        uint32_t s = 0;
        while (s < N && SEEN(r, s) >= expect[s]) s++;
        if (s < N)
          snprintf(first_loss, sizeof first_loss,
                   "client %u (%s) missing %llu lines; e.g. from client %u (%s) it got up to seq "
                   "%u of %u",
                   r, tr_name(c->tr), (unsigned long long)m, s, tr_name(CONN(s)->tr), SEEN(r, s),
                   expect[s]);
        else
          snprintf(first_loss, sizeof first_loss,
                   "client %u (%s) missing %llu lines, all inside sequences (%u gaps at arrival)",
                   r, tr_name(c->tr), (unsigned long long)m, c->reord);
      }
    }
  }
  uint64_t expected = accepted * alive_n;

  int64_t we = atomic_load(&g_ctl.win_end);
  double win_s = ran && we != INT64_MAX && we > g_ctl.win_start ? (double)(we - g_ctl.win_start) / 1e9 : 0;
  double drain_s = ran ? (double)(drain_end - drain_begin) / 1e9 : 0;
  double connect_s = connect_end ? (double)(connect_end - connect_begin) / 1e9 : 0;
  int lat_ok = lat->count > 0;
  double p50 = (double)hist_pct(lat, 0.50) / 1e6, p99 = (double)hist_pct(lat, 0.99) / 1e6,
         pmax = (double)lat->max / 1e6;
  int pass = ran && joined == N && sent > 0 && missing == 0 && dups == 0 && reord == 0 && late == 0 &&
             disconnects == 0 && corrupt == 0 && misattr == 0 && unexpected == 0 && extra == 0 &&
             dropped == 0 && !g_signals;

  jbuf_t j = {.n = 0, .first = 1};
  j.b[j.n++] = '{';
  jstr(&j, "label", cfg->label);
  jstr(&j, "mode", "soak");
  jstr(&j, "transport", bench_transport_name());
  jnum(&j, "clients", N, 1);
  jnum(&j, "clients_websocket", (double)n_tr[TR_WS], ran);
  jnum(&j, "clients_polling", (double)n_tr[TR_POLL], ran);
  jnum(&j, "threads", cfg->threads, 1);
  jnum(&j, "client_rate", cfg->client_rate, 1);
  jnum(&j, "payload", cfg->payload, 1);
  jnum(&j, "joined", (double)joined, 1);
  jnum(&j, "connect_phase_s", connect_s, connect_end > 0);
  jnum(&j, "duration_s", win_s, 1);
  jnum(&j, "drain_s", drain_s, ran);
  jnum(&j, "sent", (double)sent, ran);
  jnum(&j, "sent_per_s", win_s > 0 ? (double)sent_win / win_s : 0, win_s > 0);
  jnum(&j, "accepted", (double)accepted, ran);
  jnum(&j, "expected", (double)expected, ran);
  jnum(&j, "received", (double)received, ran);
  jnum(&j, "missing", (double)missing, ran);
  jnum(&j, "duplicates", (double)dups, ran);
  jnum(&j, "reordered", (double)reord, ran);
  jnum(&j, "late", (double)late, ran);
  jnum(&j, "missing_websocket", (double)miss_tr[TR_WS], ran);
  jnum(&j, "missing_polling", (double)miss_tr[TR_POLL], ran);
  jnum(&j, "duplicates_websocket", (double)dup_tr[TR_WS], ran);
  jnum(&j, "duplicates_polling", (double)dup_tr[TR_POLL], ran);
  jnum(&j, "reordered_websocket", (double)reord_tr[TR_WS], ran);
  jnum(&j, "reordered_polling", (double)reord_tr[TR_POLL], ran);
  jnum(&j, "late_websocket", (double)late_tr[TR_WS], ran);
  jnum(&j, "late_polling", (double)late_tr[TR_POLL], ran);
  jnum(&j, "disconnects", (double)disconnects, ran);
  jnum(&j, "disconnects_websocket", (double)disc_tr[TR_WS], ran);
  jnum(&j, "disconnects_polling", (double)disc_tr[TR_POLL], ran);
  jnum(&j, "unconfirmed", (double)unconfirmed, ran);
  jnum(&j, "corrupt", (double)corrupt, ran);
  jnum(&j, "misattributed", (double)misattr, ran);
  jnum(&j, "unexpected", (double)(unexpected + extra), ran);
  jnum(&j, "deliveries_per_s", win_s > 0 ? (double)deliveries / win_s : 0, win_s > 0);
  jnum(&j, "p50_ms", p50, lat_ok);
  jnum(&j, "p99_ms", p99, lat_ok);
  jnum(&j, "max_ms", pmax, lat_ok);
  jnum(&j, "samples", (double)lat->count, 1);
  jnum(&j, "errors", (double)errors, 1);
  jnum(&j, "closed", (double)closed, 1);
  jnum(&j, "err_refused", (double)err_refused, 1);
  jnum(&j, "err_http", (double)err_http, 1);
  jnum(&j, "err_closed", (double)err_closed, 1);
  jnum(&j, "err_proto", (double)err_proto, 1);
  jnum(&j, "dropped", (double)dropped, 1);
  jnum(&j, "other_events", (double)other, 1);
  jnum(&j, "pings", (double)pings, 1);
  jnum(&j, "rss_before_kb", (double)rss_before, rss_before >= 0);
  jnum(&j, "rss_after_kb", (double)rss_after, rss_after >= 0);
  /* CPU seconds over the run and the drain: the server's, sio-bench's */
  jnum(&j, "server_cpu_s", srv_cpu1 - srv_cpu0, srv_cpu0 >= 0 && srv_cpu1 >= 0);
  jnum(&j, "bench_cpu_s", own_cpu1 - own_cpu0, own_cpu0 >= 0 && own_cpu1 >= 0);
  if (first_loss[0]) jstr(&j, "first_loss", first_loss);
  else jraw(&j, "first_loss", "null");
  jraw(&j, "pass", pass ? "true" : "false");
  if (fatal) jstr(&j, "error", err);
  else jraw(&j, "error", "null");
  j.b[j.n++] = '}';
  j.b[j.n] = 0;

  fprintf(stderr, "sio-bench soak %s%s%s: %u clients (%llu websocket, %llu polling), %d threads\n",
          bench_transport_name(), *cfg->label ? " " : "", cfg->label, N,
          (unsigned long long)n_tr[TR_WS], (unsigned long long)n_tr[TR_POLL], cfg->threads);
  if (fatal) fprintf(stderr, "  could not run: %s\n", err);
  fprintf(stderr, "  joined %llu in %.2f s; errors %llu (refused %llu, http %llu, closed %llu, "
                  "protocol %llu), generator dropped %llu\n",
          (unsigned long long)joined, connect_s, (unsigned long long)errors,
          (unsigned long long)err_refused, (unsigned long long)err_http,
          (unsigned long long)err_closed, (unsigned long long)err_proto,
          (unsigned long long)dropped);
  if (ran) {
    fprintf(stderr, "  sent %llu lines in %.2f s (%.1f/s, %.2f per client per s), drain %.2f s\n",
            (unsigned long long)sent, win_s, win_s > 0 ? (double)sent_win / win_s : 0,
            cfg->client_rate, drain_s);
    fprintf(stderr,
            "  deliveries: expected %llu (%llu lines x %llu recipients), received %llu, "
            "missing %llu, duplicates %llu, reordered %llu (late %llu)\n",
            (unsigned long long)expected, (unsigned long long)accepted,
            (unsigned long long)alive_n, (unsigned long long)received,
            (unsigned long long)missing, (unsigned long long)dups, (unsigned long long)reord,
            (unsigned long long)late);
    fprintf(stderr, "  disconnects %llu, unconfirmed %llu, corrupt %llu, misattributed %llu, "
                    "unexpected %llu\n",
            (unsigned long long)disconnects, (unsigned long long)unconfirmed,
            (unsigned long long)corrupt, (unsigned long long)misattr,
            (unsigned long long)(unexpected + extra));
    if (first_loss[0]) fprintf(stderr, "  first loss: %s\n", first_loss);
  }
  if (lat_ok)
    fprintf(stderr, "  latency p50 %.3f ms, p99 %.3f ms, max %.3f ms (%llu deliveries)\n", p50,
            p99, pmax, (unsigned long long)lat->count);
  if (rss_before >= 0 && rss_after >= 0)
    fprintf(stderr, "  server RSS %ld kB -> %ld kB\n", rss_before, rss_after);
  if (srv_cpu0 >= 0 && srv_cpu1 >= 0 && ran)
    fprintf(stderr, "  CPU over the run and drain (%.1f s): server %.1f s, sio-bench %.1f s\n",
            (double)(drain_end - g_ctl.win_start) / 1e9, srv_cpu1 - srv_cpu0, own_cpu1 - own_cpu0);
  fprintf(stderr, "  %s\n",
          pass ? "PASS" : fatal ? "FAIL (could not run)" : g_signals ? "FAIL (interrupted)" : "FAIL");
  printf("%s\n", j.b);
  fflush(stdout);
  (void)recv_all;
  free(lat);
  free(alive);
  free(expect);
  return fatal ? 1 : pass ? 0 : 3;
}
