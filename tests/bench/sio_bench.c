/* sio-bench: load generator for Socket.IO servers (Engine.IO v4 +
 * Socket.IO v5 spoken directly over raw WebSocket or HTTP long-polling).
 *
 *   sio-bench --port P[,P2...] [--host 127.0.0.1] [--path /socket.io/]
 *             --mode idle|echo|fanout|connect|soak
 *             [--sender-port P] [--sender-host H] [--cpu-pid NAME=PID]...
 *             [--transport websocket|polling] [--polling-share F]
 *             [--clients N] [--duration S] [--warmup S] [--inflight K]
 *             [--senders S] [--rate MSGS_PER_S] [--client-rate MSGS_PER_S]
 *             [--payload BYTES] [--sources 16] [--threads T] [--server-pid PID]
 *             [--ramp CONNS_PER_S] [--label TEXT] [--drain S]
 *             [--connect-timeout S] [--inject dup|skip|swap]
 *             [--tls [--tls-resume] [--tls-curves LIST]]
 *
 * Modes (see usage()): idle holds N connections and reads the server's RSS;
 * echo keeps K events in flight per client against sio-echo-server; fanout
 * has S senders emit "message" at a total rate R to sio-chat, every client
 * counting deliveries; connect repeats handshakes with N at a time; soak
 * (bench_soak.c, which documents its own JSON fields and exit status 3) has
 * every client of sio-chat send numbered lines and checks each arrives at
 * every client exactly once and in order per sender.
 *
 * Several servers (a cluster, e.g. sio-chat nodes sharing a Redis): with
 * --port P1,P2,... the clients are spread round robin over those ports of
 * --host; in fanout, --sender-port/--sender-host send the --senders clients
 * to another server while the others (the receivers) stay on --port, so
 * that every delivery but the senders' own copies crosses between the nodes
 * (tests/bench/cluster.sh). Latency is measured the same way: the senders
 * are clients of this process, and each line carries its send time on
 * this process's monotonic clock.
 *
 * A summary goes to stderr and one JSON object (one line) to stdout; fields
 * that do not apply to the mode are null:
 *   label mode transport clients threads warmup_s
 *   duration_s        the measured window actually run (SIGINT shortens it)
 *   events_per_s      echo: round trips completed in the window per second
 *   deliveries_per_s  fanout: chat lines received in the window per second
 *   sent_per_s        echo/fanout: emits written in the window per second
 *   offered_per_s     fanout: --rate
 *   connects_per_s    connect: handshakes completed in the window per second
 *   p50_ms p99_ms max_ms samples
 *                     echo: round trip; fanout: emit to delivery, for emits
 *                     sent in the window; connect: TCP connect to CONNECT reply
 *   errors            failed handshakes (refused, non-101/200, closed, protocol),
 *                     clients never up, connections lost afterwards
 *   connected closed connect_phase_s
 *                     clients up / later closed by the server / seconds to connect
 *   pings ping_interval_ms ping_gap_max_ms heartbeats_ok
 *                     server pings answered, the interval announced, the longest
 *                     gap seen after the run started, and (idle) no connection
 *                     lost and no gap over interval + 5 s
 *   server_cpu_pct bench_cpu_pct
 *                     CPU time (user + system) of --server-pid and of sio-bench
 *                     over the window, in % of one CPU (100: a core's worth)
 *   cpu_pct           {"NAME": % of one CPU, ...} for each --cpu-pid NAME=PID,
 *                     over the window as above (null: none given; soak: null)
 *   rss_before_kb rss_after_kb rss_per_client_b
 *                     --server-pid's VmRSS before connecting and at the window's
 *                     end; idle: (after - before) / clients up
 *   expected received loss
 *                     fanout: emits sent in the window x clients up at its start,
 *                     deliveries of those received (after the drain), 1 - ratio
 *   sent dropped other_events inflight senders payload
 *   err_refused err_http err_closed err_proto err_tls error
 *   tls               true with --tls (https/wss), else false
 *   tls_resume tls_handshakes tls_resumed tls_ciphersuite tls_error
 *                     --tls: sessions offered again (--tls-resume), handshakes
 *                     completed (all of them, warmup included), of which
 *                     abbreviated, the ciphersuite negotiated first, the first
 *                     handshake error (mbedTLS's text); null without --tls
 *
 * Exit 0 when the
 * run completed (errors are counted in the JSON), 1 when it could not run
 * (nothing listening, no client got through), 2 on bad options.
 *
 * Time bound: connect phase (at most --connect-timeout, default 5 s, plus
 * N/ramp with --ramp) + warmup + duration + drain (fanout, at most --drain,
 * default 3 s) + at most 2 s to stop: with the defaults, warmup + duration
 * + 10 s (clients not up when the connect phase ends count as errors).
 * SIGINT/SIGTERM end the run early and still
 * print results (a second one exits at once). */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

bench_config_t g_cfg;
bench_control_t g_ctl;
char *g_payload;

static int64_t t0_abs;
volatile sig_atomic_t g_signals;

static int64_t mono_abs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t now_ns(void) { return mono_abs() - t0_abs; }

static void on_signal(int sig) {
  (void)sig;
  if (g_signals++) _exit(130);
}

static const char *const mode_names[] = {"idle", "echo", "fanout", "connect", "soak"};
#define N_MODES 5

static void usage(FILE *f) {
  fprintf(f,
          "usage: sio-bench --port P[,P2...] --mode idle|echo|fanout|connect|soak [options]\n"
          "  --port P[,P2...]      server port; with several, the clients are spread round\n"
          "                        robin over them (fanout with --sender-port: the receivers)\n"
          "  --host H              server address, IPv4 (default 127.0.0.1)\n"
          "  --sender-port P       fanout: the senders connect to this port instead (another\n"
          "                        node of a cluster); the receivers stay on --port\n"
          "  --sender-host H       fanout: ... and this address (default --host)\n"
          "  --path P              Engine.IO path (default /socket.io/)\n"
          "  --transport T         websocket (default) or polling\n"
          "  --polling-share F     this fraction (0..1) of the clients on polling, the rest\n"
          "                        on websocket, spread evenly (soak: 0.1; overrides --transport)\n"
          "  --clients N           connections; connect mode: concurrent handshakes\n"
          "                        (100; soak 2000)\n"
          "  --duration S          measured seconds; idle: hold time (10; soak 60)\n"
          "  --warmup S            seconds of traffic before measuring (1; idle 0)\n"
          "  --inflight K          echo: events in flight per client (1)\n"
          "  --senders S           fanout: clients that emit (10)\n"
          "  --rate R              fanout: total emits per second, paced (10000)\n"
          "  --client-rate R       soak: emits per second by each client, paced (0.5)\n"
          "  --inject F            soak self-test: client 0 misbehaves once around its line 4:\n"
          "                        dup (sends it twice), skip (never sends it), swap (5 before 4)\n"
          "  --payload B           bytes of padding per message (32; soak 0)\n"
          "  --sources K           source addresses 127.0.0.1..127.0.0.K (16; 0: no bind)\n"
          "  --threads T           client threads, one event loop each (1)\n"
          "  --server-pid PID      read the server's VmRSS before and after, and its CPU\n"
          "  --cpu-pid NAME=PID    also report this process's CPU over the window as\n"
          "                        cpu_pct.NAME (repeatable, up to 8; not in soak)\n"
          "  --ramp R              idle/echo/fanout: connections opened per second\n"
          "  --label TEXT          copied to the JSON\n"
          "  --drain S             fanout/soak: wait at most S for deliveries after the\n"
          "                        window (3; soak 15)\n"
          "  --connect-timeout S   connect phase limit (5, soak 30; plus N/ramp with --ramp)\n"
          "  --tls                 https/wss: TLS 1.2 (mbedTLS) on every connection. The server's\n"
          "                        certificate is NOT verified (benchmark only: any certificate,\n"
          "                        self-signed or not, is accepted); tickets offered, ALPN\n"
          "                        http/1.1, no SNI. Without --tls-resume every handshake is full\n"
          "  --tls-resume          (implies --tls) each socket offers its last session again\n"
          "                        (ticket or id): abbreviated handshakes after the first\n"
          "  --tls-curves LIST     (implies --tls) ECDHE groups offered, preferred first\n"
          "                        (x25519,secp256r1,secp384r1: what browsers offer)\n"
          "modes:\n"
          "  idle     connect N, hold them --duration answering pings; server RSS per client\n"
          "  echo     (sio-echo-server) each client keeps K 42[\"message\",ts,pad] in flight;\n"
          "           round trips per second and their latency\n"
          "  fanout   (sio-chat) S clients emit 42[\"message\",\"ts pad\"] at R/s in total;\n"
          "           every client counts the broadcasts: deliveries/s, latency, loss\n"
          "  connect  N at a time: handshake + Socket.IO CONNECT, close, again;\n"
          "           handshakes per second and their duration\n"
          "  soak     (sio-chat) all N clients join, then each emits\n"
          "           42[\"message\",\"s<client>:<seq>:<usec>\"] at --client-rate for --duration;\n"
          "           every client checks each sender's lines arrive once and in order;\n"
          "           after a drain, missing/duplicate/reordered counts and a pass flag\n"
          "           (exit 3 when it fails)\n");
}

static int parse_num(const char *name, const char *v, double min, double max, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= min && d <= max)) {
    fprintf(stderr, "sio-bench: bad value for %s: '%s'\n", name, v);
    return -1;
  }
  *out = d;
  return 0;
}

/* --port P1[,P2...]: the first is c->port; all become targets (host set later). */
static int parse_ports(const char *v) {
  bench_config_t *c = &g_cfg;
  c->nrecv_targets = 0;
  const char *p = v;
  for (;;) {
    char num[16];
    size_t n = strcspn(p, ",");
    double d;
    if (n == 0 || n >= sizeof num) {
      fprintf(stderr, "sio-bench: bad value for --port: '%s'\n", v);
      return -1;
    }
    if (c->nrecv_targets == BENCH_MAX_TARGETS - 1) {
      fprintf(stderr, "sio-bench: --port: at most %d ports\n", BENCH_MAX_TARGETS - 1);
      return -1;
    }
    memcpy(num, p, n);
    num[n] = 0;
    if (parse_num("--port", num, 1, 65535, &d) < 0) return -1;
    c->targets[c->nrecv_targets++].port = (int)d;
    if (!p[n]) break;
    p += n + 1;
  }
  c->port = c->targets[0].port;
  return 0;
}

/* --cpu-pid NAME=PID (repeatable). */
static int parse_cpu_pid(const char *v) {
  bench_config_t *c = &g_cfg;
  const char *eq = strchr(v, '=');
  double d;
  int ok = eq && eq > v && eq - v <= 32;
  for (const char *q = v; ok && q < eq; q++)
    ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_' || *q == '-';
  if (!ok) {
    fprintf(stderr, "sio-bench: --cpu-pid wants NAME=PID (NAME: up to 32 of A-Z a-z 0-9 _ -): '%s'\n", v);
    return -1;
  }
  if (c->ncpu_pids == BENCH_MAX_CPU_PIDS) {
    fprintf(stderr, "sio-bench: --cpu-pid: at most %d\n", BENCH_MAX_CPU_PIDS);
    return -1;
  }
  if (parse_num("--cpu-pid", eq + 1, 1, 1e9, &d) < 0) return -1;
  c->cpu_pids[c->ncpu_pids].name = strndup(v, (size_t)(eq - v));
  c->cpu_pids[c->ncpu_pids++].pid = (int)d;
  return 0;
}

/* An IPv4 address in dotted form into *addr (network order). */
static int parse_host(const char *opt, const char *host, uint32_t *addr) {
  struct in_addr ia;
  if (inet_pton(AF_INET, host, &ia) != 1) {
    fprintf(stderr, "sio-bench: %s must be an IPv4 address: '%s'\n", opt, host);
    return -1;
  }
  *addr = ia.s_addr;
  return 0;
}

static int parse_args(int argc, char **argv) {
  bench_config_t *c = &g_cfg;
  c->host = "127.0.0.1";
  c->path = "/socket.io/";
  c->mode = -1;
  c->transport = TR_WS;
  c->polling_share = -1;
  c->clients = -1;
  c->duration = -1;
  c->warmup = -1;
  c->drain = -1;
  c->connect_timeout = -1;
  c->client_rate = 0.5;
  c->inflight = 1;
  c->senders = 10;
  c->rate = 10000;
  c->payload = -1;
  c->sources = 16;
  c->threads = 1;
  c->label = "";
  c->port = -1;
  c->sender_port = -1;
  c->sender_target = -1;
  c->tls_curves = "x25519,secp256r1,secp384r1";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--tls")) {
      c->tls = 1;
      continue;
    }
    if (!strcmp(a, "--tls-resume")) {
      c->tls = c->tls_resume = 1;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "sio-bench: %s: missing value or unknown option\n", a);
      return -1;
    }
    const char *v = argv[++i];
    double d = 0;
    int r = 0;
    if (!strcmp(a, "--port")) r = parse_ports(v);
    else if (!strcmp(a, "--host")) c->host = v;
    else if (!strcmp(a, "--sender-host")) c->sender_host = v;
    else if (!strcmp(a, "--sender-port")) r = parse_num(a, v, 1, 65535, &d), c->sender_port = (int)d;
    else if (!strcmp(a, "--cpu-pid")) r = parse_cpu_pid(v);
    else if (!strcmp(a, "--path")) c->path = v;
    else if (!strcmp(a, "--label")) c->label = v;
    else if (!strcmp(a, "--tls-curves")) c->tls_curves = v, c->tls = 1;
    else if (!strcmp(a, "--mode")) {
      c->mode = -1;
      for (int m = 0; m < N_MODES; m++)
        if (!strcmp(v, mode_names[m])) c->mode = m;
      if (c->mode < 0) {
        fprintf(stderr, "sio-bench: unknown mode '%s'\n", v);
        return -1;
      }
    } else if (!strcmp(a, "--transport")) {
      if (!strcmp(v, "websocket")) c->transport = TR_WS;
      else if (!strcmp(v, "polling")) c->transport = TR_POLL;
      else {
        fprintf(stderr, "sio-bench: unknown transport '%s'\n", v);
        return -1;
      }
    } else if (!strcmp(a, "--clients")) r = parse_num(a, v, 1, 1e7, &d), c->clients = (int)d;
    else if (!strcmp(a, "--duration")) r = parse_num(a, v, 0, 86400, &c->duration);
    else if (!strcmp(a, "--warmup")) r = parse_num(a, v, 0, 86400, &c->warmup);
    else if (!strcmp(a, "--drain")) r = parse_num(a, v, 0, 60, &c->drain);
    else if (!strcmp(a, "--connect-timeout")) r = parse_num(a, v, 0.1, 86400, &c->connect_timeout);
    else if (!strcmp(a, "--inflight")) r = parse_num(a, v, 1, 1e6, &d), c->inflight = (int)d;
    else if (!strcmp(a, "--senders")) r = parse_num(a, v, 1, 1e7, &d), c->senders = (int)d;
    else if (!strcmp(a, "--rate")) r = parse_num(a, v, 0, 1e9, &c->rate);
    else if (!strcmp(a, "--client-rate")) r = parse_num(a, v, 0, 1e6, &c->client_rate);
    else if (!strcmp(a, "--polling-share")) r = parse_num(a, v, 0, 1, &c->polling_share);
    else if (!strcmp(a, "--inject")) {
      static const char *const names[] = {"none", "dup", "skip", "swap"};
      c->inject = -1;
      for (int k = 0; k < 4; k++)
        if (!strcmp(v, names[k])) c->inject = k;
      if (c->inject < 0) {
        fprintf(stderr, "sio-bench: unknown fault '%s'\n", v);
        return -1;
      }
    }
    else if (!strcmp(a, "--payload")) r = parse_num(a, v, 0, 1 << 20, &d), c->payload = (int)d;
    else if (!strcmp(a, "--sources")) r = parse_num(a, v, 0, 254, &d), c->sources = (int)d;
    else if (!strcmp(a, "--threads")) r = parse_num(a, v, 1, 256, &d), c->threads = (int)d;
    else if (!strcmp(a, "--server-pid")) r = parse_num(a, v, 1, 1e9, &d), c->server_pid = (int)d;
    else if (!strcmp(a, "--ramp")) r = parse_num(a, v, 0, 1e9, &c->ramp);
    else {
      fprintf(stderr, "sio-bench: unknown option '%s'\n", a);
      return -1;
    }
    if (r) return -1;
  }
  if (c->port < 0 || c->mode < 0) {
    fprintf(stderr, "sio-bench: --port and --mode are required\n");
    return -1;
  }
  if (parse_host("--host", c->host, &c->host_addr) < 0) return -1;
  for (int t = 0; t < c->nrecv_targets; t++) {
    c->targets[t].host = c->host;
    c->targets[t].addr = c->host_addr;
  }
  c->ntargets = c->nrecv_targets;
  if (c->sender_host || c->sender_port > 0) {
    if (c->mode != MODE_FANOUT) {
      fprintf(stderr, "sio-bench: --sender-host/--sender-port are for --mode fanout\n");
      return -1;
    }
    bench_target_t *st = &c->targets[c->ntargets];
    st->host = c->sender_host ? c->sender_host : c->host;
    st->port = c->sender_port > 0 ? c->sender_port : c->port;
    if (parse_host("--sender-host", st->host, &st->addr) < 0) return -1;
    c->sender_target = c->ntargets++;
  }
  int soak = c->mode == MODE_SOAK;
  if (c->clients < 0) c->clients = soak ? 2000 : 100;
  if (c->duration < 0) c->duration = soak ? 60 : 10;
  if (c->drain < 0) c->drain = soak ? 15 : 3;
  if (c->connect_timeout < 0) c->connect_timeout = soak ? 30 : 5;
  if (c->payload < 0) c->payload = soak ? 0 : 32;
  if (c->polling_share < 0 && soak) c->polling_share = 0.1;
  if (soak && c->warmup > 0) {
    fprintf(stderr, "sio-bench: soak has no warmup (every line counts)\n");
    return -1;
  }
  if (c->warmup < 0) c->warmup = c->mode == MODE_IDLE || soak ? 0 : 1;
  if (c->senders > c->clients) c->senders = c->clients;
  if (c->threads > c->clients) c->threads = c->clients;
  return 0;
}

long bench_read_rss(int pid) {
  if (pid <= 0) return -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

/* CPU time (user + system) in seconds: the process pid's, or this one's
 * (pid 0); -1 if unknown. */
double bench_cpu_seconds(int pid) {
  if (pid == 0) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
  }
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long ut, st;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* One TCP connect to each server, to tell "nothing listening" from a run
 * with errors. */
int bench_probe(char *err, size_t errlen) {
  for (int t = 0; t < g_cfg.ntargets; t++) {
    const bench_target_t *tg = &g_cfg.targets[t];
    int seen = 0;
    for (int u = 0; u < t; u++) seen |= g_cfg.targets[u].addr == tg->addr && g_cfg.targets[u].port == tg->port;
    if (seen) continue;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      snprintf(err, errlen, "socket: %s", strerror(errno));
      return -1;
    }
    struct sockaddr_in dst;
    memset(&dst, 0, sizeof dst);
    dst.sin_family = AF_INET;
    dst.sin_port = htons((uint16_t)tg->port);
    dst.sin_addr.s_addr = tg->addr;
    int r = connect(fd, (struct sockaddr *)&dst, sizeof dst);
    if (r < 0 && errno == EINPROGRESS) {
      struct pollfd p = {.fd = fd, .events = POLLOUT};
      if (poll(&p, 1, 3000) != 1) {
        errno = ETIMEDOUT;
        r = -1;
      } else {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
        errno = e;
        r = e ? -1 : 0;
      }
    }
    if (r < 0) snprintf(err, errlen, "connect %s:%d: %s", tg->host, tg->port, strerror(errno));
    close(fd);
    if (r < 0) return -1;
  }
  return 0;
}

/* ---- JSON output --------------------------------------------------------- */

void jraw(jbuf_t *j, const char *key, const char *val) {
  if (j->n >= sizeof j->b - 256) return;
  j->n += (size_t)snprintf(j->b + j->n, sizeof j->b - j->n, "%s\"%s\":%s", j->first ? "" : ",", key,
                           val);
  j->first = 0;
}

void jnum(jbuf_t *j, const char *key, double v, int ok) {
  char tmp[64];
  if (!ok || !isfinite(v)) snprintf(tmp, sizeof tmp, "null");
  else if (v == floor(v) && fabs(v) < 1e15) snprintf(tmp, sizeof tmp, "%.0f", v);
  else snprintf(tmp, sizeof tmp, "%.3f", v);
  jraw(j, key, tmp);
}

void jstr(jbuf_t *j, const char *key, const char *s) {
  char tmp[1024];
  size_t n = 0;
  tmp[n++] = '"';
  for (; *s && n < sizeof tmp - 8; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') {
      tmp[n++] = '\\';
      tmp[n++] = (char)ch;
    } else if (ch < 0x20) {
      n += (size_t)snprintf(tmp + n, sizeof tmp - n, "\\u%04x", ch);
    } else {
      tmp[n++] = (char)ch;
    }
  }
  tmp[n++] = '"';
  tmp[n] = 0;
  jraw(j, key, tmp);
}

/* ---- main ---------------------------------------------------------------- */

bthread_t *g_threads;

uint64_t bench_sum_pub(size_t off) {
  uint64_t s = 0;
  for (int i = 0; i < g_cfg.threads; i++)
    s += atomic_load_explicit((_Atomic uint64_t *)((char *)&g_threads[i] + off), memory_order_relaxed);
  return s;
}

/* Which transport client gidx uses: with --polling-share F, client g polls
 * when floor((g + 1) F) > floor(g F), spreading the pollers evenly (and so
 * over the threads, which take every T-th client). */
static uint8_t transport_of(uint32_t g) {
  if (g_cfg.polling_share < 0) return (uint8_t)g_cfg.transport;
  uint64_t f = (uint64_t)(g_cfg.polling_share * 1000000.0 + 0.5); /* parts per million */
  return ((uint64_t)(g + 1) * f) / 1000000u > ((uint64_t)g * f) / 1000000u ? TR_POLL : TR_WS;
}

/* Which server client gidx connects to: fanout's senders (gidx < S) to
 * --sender-host/--sender-port when given; the others round robin over
 * --port's ports (receivers numbered after the senders in that case). */
static uint8_t target_of(uint32_t g, int S) {
  const bench_config_t *c = &g_cfg;
  if (c->sender_target >= 0) {
    if ((int)g < S) return (uint8_t)c->sender_target;
    g -= (uint32_t)S;
  }
  return (uint8_t)(g % (uint32_t)c->nrecv_targets);
}

static int n_polling(void) {
  int k = 0;
  for (int g = 0; g < g_cfg.clients; g++) k += transport_of((uint32_t)g) == TR_POLL;
  return k;
}

const char *bench_transport_name(void) {
  int p = n_polling();
  return p == 0 ? "websocket" : p == g_cfg.clients ? "polling" : "mixed";
}

void bench_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int bench_setup_threads(void) {
  int T = g_cfg.threads, N = g_cfg.clients;
  g_threads = calloc((size_t)T, sizeof *g_threads);
  if (!g_threads) return -1;
  int soak = g_cfg.mode == MODE_SOAK;
  int S = g_cfg.mode == MODE_FANOUT ? g_cfg.senders : soak ? N : 0;
  uint32_t msg_max = (uint32_t)g_cfg.payload + 128;
  for (int t = 0; t < T; t++) {
    bthread_t *th = &g_threads[t];
    th->idx = t;
    th->n = (uint32_t)(N / T + (t < N % T));
    th->conns = calloc(th->n ? th->n : 1, sizeof *th->conns);
    th->restart = calloc(th->n ? th->n : 1, sizeof *th->restart);
    th->snd = calloc(th->n ? th->n : 1, sizeof *th->snd);
    th->rscratch_cap = 256u << 10;
    th->rscratch = malloc(th->rscratch_cap);
    th->scratch_cap = msg_max;
    th->scratch = malloc(msg_max);
    th->ep = epoll_create1(EPOLL_CLOEXEC);
    th->tfd = -1;
    th->rng = 0x9e3779b9u ^ (uint32_t)(t * 7919 + 1) ^ (uint32_t)getpid();
    if (soak) th->seen = calloc((size_t)N * (th->n ? th->n : 1), sizeof *th->seen);
    if (!th->conns || !th->restart || !th->snd || !th->rscratch || !th->scratch || th->ep < 0 ||
        (soak && !th->seen))
      return -1;
    for (uint32_t i = 0; i < th->n; i++) {
      bconn_t *c = &th->conns[i];
      c->idx = i;
      c->gidx = (uint32_t)t + i * (uint32_t)T;
      c->s[0].fd = c->s[1].fd = -1;
      c->s[0].conn = c->s[1].conn = c;
      c->s[1].which = 1;
      c->tr = transport_of(c->gidx);
      c->tgt = target_of(c->gidx, S);
      if ((int)c->gidx < S) {
        c->sender = 1;
        th->snd[th->nsnd++] = i;
      }
    }
    if (soak ? th->nsnd && g_cfg.client_rate > 0 : th->nsnd && g_cfg.rate > 0) {
      th->rate = soak ? g_cfg.client_rate * th->nsnd : g_cfg.rate * th->nsnd / S;
      th->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      if (th->tfd < 0) return -1;
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
      epoll_ctl(th->ep, EPOLL_CTL_ADD, th->tfd, &ev);
    }
  }
  return 0;
}

int bench_start_threads(int n, char *err, size_t errlen) {
  for (int t = 0; t < n; t++) {
    if (pthread_create(&g_threads[t].tid, NULL, bench_thread_main, &g_threads[t]) != 0) {
      snprintf(err, errlen, "pthread_create failed");
      return t;
    }
  }
  return n;
}

int bench_join(int started) {
  int joined = 1;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 2; /* for all threads together */
  for (int t = 0; t < started; t++) {
    if (pthread_timedjoin_np(g_threads[t].tid, NULL, &ts) != 0) joined = 0;
  }
  if (!joined) fprintf(stderr, "sio-bench: a worker thread did not stop; results may be partial\n");
  return joined;
}

int main(int argc, char **argv) {
  t0_abs = mono_abs();
  if (parse_args(argc, argv) < 0) {
    usage(stderr);
    return 2;
  }
  const bench_config_t *cfg = &g_cfg;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  getrlimit(RLIMIT_NOFILE, &rl);
  size_t fds_needed = (size_t)cfg->clients + (size_t)n_polling() + 64;
  if (rl.rlim_cur < fds_needed)
    fprintf(stderr, "sio-bench: warning: %zu clients need ~%zu fds, limit is %llu\n",
            (size_t)cfg->clients, fds_needed, (unsigned long long)rl.rlim_cur);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  g_payload = malloc((size_t)cfg->payload + 1);
  if (!g_payload) return 1;
  memset(g_payload, 'x', (size_t)cfg->payload);
  g_payload[cfg->payload] = 0;
  char err[256] = "";
  if (cfg->tls && tls_global_init(err, sizeof err) < 0) {
    fprintf(stderr, "sio-bench: %s\n", err);
    return 1;
  }
  if (cfg->mode == MODE_SOAK) return soak_main();

  int fatal = bench_probe(err, sizeof err) < 0;
  long rss_before = bench_read_rss(cfg->server_pid), rss_after = -1;
  int64_t connect_begin = 0, connect_end = 0, t_run = 0;
  uint64_t up_at_win = 0, up_at_rss = 0;
  double cpu_srv0 = -1, cpu_srv1 = -1, cpu_self0 = -1, cpu_self1 = -1; /* over the window */
  double cpu_pid0[BENCH_MAX_CPU_PIDS], cpu_pid1[BENCH_MAX_CPU_PIDS];       /* --cpu-pid's */
  for (int k = 0; k < BENCH_MAX_CPU_PIDS; k++) cpu_pid0[k] = cpu_pid1[k] = -1;
  int started = 0;

  if (!fatal && bench_setup_threads() < 0) {
    snprintf(err, sizeof err, "out of memory or fds setting up threads");
    fatal = 1;
  }
  int connect_mode = cfg->mode == MODE_CONNECT;
  if (!fatal) {
    if (connect_mode) {
      t_run = now_ns();
      g_ctl.run_start = t_run;
      g_ctl.win_start = t_run + (int64_t)(cfg->warmup * 1e9);
      atomic_store(&g_ctl.win_end, g_ctl.win_start + (int64_t)(cfg->duration * 1e9));
      atomic_store(&g_ctl.phase, PH_RUN);
    } else {
      atomic_store(&g_ctl.win_end, INT64_MAX);
      g_ctl.win_start = INT64_MAX;
      atomic_store(&g_ctl.phase, PH_CONNECT);
    }
    started = bench_start_threads(cfg->threads, err, sizeof err);
    if (started < cfg->threads) fatal = 1;
  }

  if (!fatal && !connect_mode) {
    /* Connect phase. */
    connect_begin = now_ns();
    double budget = cfg->connect_timeout + (cfg->ramp > 0 ? cfg->clients / cfg->ramp : 0);
    int64_t deadline = now_ns() + (int64_t)(budget * 1e9);
    int64_t next_report = now_ns() + 1000000000LL;
    for (;;) {
      uint64_t done = SUM_PUB(pub_connected) + SUM_PUB(pub_failed);
      if (done >= (uint64_t)cfg->clients || g_signals || now_ns() >= deadline) break;
      if (now_ns() >= next_report) {
        fprintf(stderr, "sio-bench: connecting: %llu up, %llu failed of %d\n",
                (unsigned long long)SUM_PUB(pub_connected), (unsigned long long)SUM_PUB(pub_failed),
                cfg->clients);
        next_report += 1000000000LL;
      }
      bench_sleep_ms(5);
    }
    connect_end = now_ns();
    uint64_t up_now = SUM_PUB(pub_connected);
    if (up_now < (uint64_t)cfg->clients && !g_signals)
      fprintf(stderr, "sio-bench: connect phase over after %.1f s: %llu of %d clients up\n",
              (double)(connect_end - connect_begin) / 1e9, (unsigned long long)up_now, cfg->clients);
    if (SUM_PUB(pub_connected) == 0) {
      snprintf(err, sizeof err, "no client completed the handshake");
      fatal = 1;
    }
    t_run = now_ns();
    g_ctl.run_start = t_run;
    g_ctl.win_start = t_run + (int64_t)(cfg->warmup * 1e9);
    atomic_store(&g_ctl.win_end, g_ctl.win_start + (int64_t)(cfg->duration * 1e9));
    if (g_signals) atomic_store(&g_ctl.win_end, g_ctl.win_start);
    atomic_store_explicit(&g_ctl.phase, fatal ? PH_STOP : PH_RUN, memory_order_release);
  }

  if (!fatal) {
    /* Measured run. */
    int up_taken = 0;
    for (;;) {
      int64_t now = now_ns();
      if (!up_taken && now >= g_ctl.win_start) {
        up_at_win = SUM_PUB(pub_up);
        up_taken = 1;
        cpu_srv0 = cfg->server_pid > 0 ? bench_cpu_seconds(cfg->server_pid) : -1;
        cpu_self0 = bench_cpu_seconds(0);
        for (int k = 0; k < cfg->ncpu_pids; k++) cpu_pid0[k] = bench_cpu_seconds(cfg->cpu_pids[k].pid);
      }
      if (g_signals) {
        if (now < atomic_load(&g_ctl.win_end))
          atomic_store(&g_ctl.win_end, now > g_ctl.win_start ? now : g_ctl.win_start);
        break;
      }
      if (now >= atomic_load(&g_ctl.win_end)) break;
      bench_sleep_ms(2);
    }
    if (!up_taken) up_at_win = SUM_PUB(pub_up);
    if (up_taken) {
      cpu_srv1 = cfg->server_pid > 0 ? bench_cpu_seconds(cfg->server_pid) : -1;
      cpu_self1 = bench_cpu_seconds(0);
      for (int k = 0; k < cfg->ncpu_pids; k++) cpu_pid1[k] = bench_cpu_seconds(cfg->cpu_pids[k].pid);
    }
    rss_after = bench_read_rss(cfg->server_pid);
    up_at_rss = SUM_PUB(pub_up);
    if (cfg->mode == MODE_FANOUT) {
      atomic_store(&g_ctl.phase, PH_DRAIN);
      int64_t dl = now_ns() + (int64_t)(cfg->drain * 1e9);
      bench_sleep_ms(20); /* let the threads stop pacing and publish sent_win */
      while (now_ns() < dl && !g_signals) {
        uint64_t expected = SUM_PUB(pub_sent_win) * up_at_win;
        if (SUM_PUB(pub_received) >= expected) break;
        bench_sleep_ms(5);
      }
    }
  }
  atomic_store_explicit(&g_ctl.phase, PH_STOP, memory_order_release);
  bench_join(started);

  /* Merge. */
  bthread_t tot;
  memset(&tot, 0, sizeof tot);
  int64_t ping_interval = 0;
  for (int t = 0; g_threads && t < started; t++) {
    bthread_t *th = &g_threads[t];
    tot.connected += th->connected;
    tot.failed += th->failed;
    tot.up += th->up;
    tot.errors += th->errors;
    tot.closed += th->closed;
    tot.pings += th->pings;
    tot.other += th->other;
    tot.events += th->events;
    tot.deliveries += th->deliveries;
    tot.received += th->received;
    tot.sent_win += th->sent_win;
    tot.sent += th->sent;
    tot.dropped += th->dropped;
    tot.connects += th->connects;
    tot.err_refused += th->err_refused;
    tot.err_http += th->err_http;
    tot.err_closed += th->err_closed;
    tot.err_proto += th->err_proto;
    tot.err_tls += th->err_tls;
    tot.tls_handshakes += th->tls_handshakes;
    tot.tls_resumed += th->tls_resumed;
    if (!tot.tls_err_code) tot.tls_err_code = th->tls_err_code;
    if (th->ping_gap_max > tot.ping_gap_max) tot.ping_gap_max = th->ping_gap_max;
    if (th->ping_interval) ping_interval = th->ping_interval;
    hist_merge(&tot.lat, &th->lat);
  }
  if (!connect_mode && started) {
    /* clients never started count as failures */
    uint64_t attempted = tot.connected + tot.failed;
    if (attempted < (uint64_t)cfg->clients) tot.errors += (uint64_t)cfg->clients - attempted;
  }
  if (connect_mode && started && !fatal && tot.connected == 0) {
    snprintf(err, sizeof err, "no handshake completed");
    fatal = 1;
  }
  int64_t we = atomic_load(&g_ctl.win_end);
  double win_s = !fatal && started && we > g_ctl.win_start && we != INT64_MAX ? (double)(we - g_ctl.win_start) / 1e9 : 0;
  int has_win = win_s > 0;
  int m = cfg->mode;
  int lat_ok = (m == MODE_ECHO || m == MODE_FANOUT || m == MODE_CONNECT) && tot.lat.count > 0;
  double p50 = (double)hist_pct(&tot.lat, 0.50) / 1e6, p99 = (double)hist_pct(&tot.lat, 0.99) / 1e6,
         pmax = (double)tot.lat.max / 1e6;
  uint64_t expected = tot.sent_win * up_at_win;
  int rss_ok = rss_before >= 0 && rss_after >= 0;
  double rss_per = up_at_rss ? (double)(rss_after - rss_before) * 1024.0 / (double)up_at_rss : 0;
  double connect_s = connect_end > 0 ? (double)(connect_end - connect_begin) / 1e9 : 0;
  int hb_ok = tot.closed == 0 && (ping_interval == 0 || tot.ping_gap_max == 0 ||
                                  tot.ping_gap_max < (ping_interval + 5000) * 1000000LL);

  jbuf_t j = {.n = 0, .first = 1};
  j.b[j.n++] = '{';
  jstr(&j, "label", cfg->label);
  jstr(&j, "mode", mode_names[m]);
  jstr(&j, "transport", bench_transport_name());
  jnum(&j, "clients", cfg->clients, 1);
  jnum(&j, "threads", cfg->threads, 1);
  jnum(&j, "duration_s", win_s, 1);
  jnum(&j, "warmup_s", cfg->warmup, 1);
  jnum(&j, "events_per_s", has_win ? (double)tot.events / win_s : 0, m == MODE_ECHO && has_win);
  jnum(&j, "deliveries_per_s", has_win ? (double)tot.deliveries / win_s : 0, m == MODE_FANOUT && has_win);
  jnum(&j, "sent_per_s", has_win ? (double)tot.sent_win / win_s : 0, has_win && (m == MODE_ECHO || m == MODE_FANOUT));
  jnum(&j, "offered_per_s", cfg->rate, m == MODE_FANOUT);
  jnum(&j, "connects_per_s", has_win ? (double)tot.connects / win_s : 0, m == MODE_CONNECT && has_win);
  jnum(&j, "p50_ms", p50, lat_ok);
  jnum(&j, "p99_ms", p99, lat_ok);
  jnum(&j, "max_ms", pmax, lat_ok);
  jnum(&j, "samples", (double)tot.lat.count, m != MODE_IDLE);
  jnum(&j, "errors", (double)tot.errors, 1);
  jnum(&j, "connected", (double)(connect_mode ? tot.connects : tot.connected), 1);
  jnum(&j, "closed", (double)tot.closed, !connect_mode);
  jnum(&j, "connect_phase_s", connect_s, !connect_mode && connect_end > 0);
  jnum(&j, "pings", (double)tot.pings, 1);
  jnum(&j, "ping_interval_ms", (double)ping_interval, ping_interval > 0);
  jnum(&j, "ping_gap_max_ms", (double)tot.ping_gap_max / 1e6, tot.ping_gap_max > 0);
  jraw(&j, "heartbeats_ok", m == MODE_IDLE && !fatal ? (hb_ok ? "true" : "false") : "null");
  int srv_cpu_ok = has_win && cpu_srv0 >= 0 && cpu_srv1 >= 0, self_cpu_ok = has_win && cpu_self0 >= 0 && cpu_self1 >= 0;
  jnum(&j, "server_cpu_pct", srv_cpu_ok ? round(1000 * (cpu_srv1 - cpu_srv0) / win_s) / 10 : 0, srv_cpu_ok);
  jnum(&j, "bench_cpu_pct", self_cpu_ok ? round(1000 * (cpu_self1 - cpu_self0) / win_s) / 10 : 0, self_cpu_ok);
  if (cfg->ncpu_pids) { /* {"NAME":pct or null, ...} */
    char obj[1024];
    size_t on = 0;
    obj[on++] = '{';
    for (int k = 0; k < cfg->ncpu_pids && on < sizeof obj - 64; k++) {
      int ok = has_win && cpu_pid0[k] >= 0 && cpu_pid1[k] >= 0;
      char v[32];
      if (ok) snprintf(v, sizeof v, "%.1f", round(1000 * (cpu_pid1[k] - cpu_pid0[k]) / win_s) / 10);
      else snprintf(v, sizeof v, "null");
      on += (size_t)snprintf(obj + on, sizeof obj - on, "%s\"%s\":%s", k ? "," : "", cfg->cpu_pids[k].name, v);
    }
    obj[on++] = '}';
    obj[on] = 0;
    jraw(&j, "cpu_pct", obj);
  } else {
    jraw(&j, "cpu_pct", "null");
  }
  jnum(&j, "rss_before_kb", (double)rss_before, rss_before >= 0);
  jnum(&j, "rss_after_kb", (double)rss_after, rss_after >= 0);
  jnum(&j, "rss_per_client_b", round(rss_per), rss_ok && m == MODE_IDLE && up_at_rss > 0);
  jnum(&j, "expected", (double)expected, m == MODE_FANOUT);
  jnum(&j, "received", (double)tot.received, m == MODE_FANOUT);
  jnum(&j, "loss", expected ? 1.0 - (double)tot.received / (double)expected : 0, m == MODE_FANOUT);
  jnum(&j, "sent", (double)tot.sent, m == MODE_ECHO || m == MODE_FANOUT);
  jnum(&j, "dropped", (double)tot.dropped, 1);
  jnum(&j, "other_events", (double)tot.other, 1);
  jnum(&j, "inflight", cfg->inflight, m == MODE_ECHO);
  jnum(&j, "senders", cfg->senders, m == MODE_FANOUT);
  jnum(&j, "payload", cfg->payload, m == MODE_ECHO || m == MODE_FANOUT);
  jnum(&j, "err_refused", (double)tot.err_refused, 1);
  jnum(&j, "err_http", (double)tot.err_http, 1);
  jnum(&j, "err_closed", (double)tot.err_closed, 1);
  jnum(&j, "err_proto", (double)tot.err_proto, 1);
  jnum(&j, "err_tls", (double)tot.err_tls, 1);
  jraw(&j, "tls", cfg->tls ? "true" : "false");
  jraw(&j, "tls_resume", cfg->tls ? (cfg->tls_resume ? "true" : "false") : "null");
  jnum(&j, "tls_handshakes", (double)tot.tls_handshakes, cfg->tls);
  jnum(&j, "tls_resumed", (double)tot.tls_resumed, cfg->tls);
  char tls_err[160] = "";
  if (tot.tls_err_code) tls_strerror(tot.tls_err_code, tls_err, sizeof tls_err);
  if (cfg->tls && tls_suite()) jstr(&j, "tls_ciphersuite", tls_suite());
  else jraw(&j, "tls_ciphersuite", "null");
  if (*tls_err) jstr(&j, "tls_error", tls_err);
  else jraw(&j, "tls_error", "null");
  if (fatal) jstr(&j, "error", err);
  else jraw(&j, "error", "null");
  j.b[j.n++] = '}';
  j.b[j.n] = 0;

  /* Human summary. */
  fprintf(stderr, "sio-bench %s %s%s%s%s: %d clients, %d threads, window %.2f s\n", mode_names[m],
          bench_transport_name(), cfg->tls ? " over TLS" : "", *cfg->label ? " " : "", cfg->label,
          cfg->clients, cfg->threads, win_s);
  if (cfg->ntargets > 1) {
    fprintf(stderr, "  servers:");
    for (int t = 0; t < cfg->nrecv_targets; t++)
      fprintf(stderr, "%s %s:%d", t ? "," : "", cfg->targets[t].host, cfg->targets[t].port);
    if (cfg->sender_target >= 0)
      fprintf(stderr, "; senders on %s:%d", cfg->targets[cfg->sender_target].host,
              cfg->targets[cfg->sender_target].port);
    fprintf(stderr, "\n");
  }
  if (fatal) fprintf(stderr, "  could not run: %s\n", err);
  if (!connect_mode)
    fprintf(stderr, "  connected %llu (%.2f s), closed by server %llu\n",
            (unsigned long long)tot.connected, connect_s, (unsigned long long)tot.closed);
  fprintf(stderr, "  errors %llu (refused %llu, http %llu, closed %llu, protocol %llu, tls %llu), dropped %llu\n",
          (unsigned long long)tot.errors, (unsigned long long)tot.err_refused,
          (unsigned long long)tot.err_http, (unsigned long long)tot.err_closed,
          (unsigned long long)tot.err_proto, (unsigned long long)tot.err_tls,
          (unsigned long long)tot.dropped);
  if (cfg->tls)
    fprintf(stderr, "  TLS (mbedTLS %s): %llu handshakes, %llu abbreviated; %s%s%s\n", tls_version(),
            (unsigned long long)tot.tls_handshakes, (unsigned long long)tot.tls_resumed,
            tls_suite() ? tls_suite() : "no ciphersuite", *tls_err ? "; first error: " : "", tls_err);
  if (m == MODE_IDLE && !fatal)
    fprintf(stderr, "  pings %llu (interval %lld ms, longest gap %.0f ms), heartbeats %s\n",
            (unsigned long long)tot.pings, (long long)ping_interval, (double)tot.ping_gap_max / 1e6,
            hb_ok ? "on time" : "LATE or closed");
  if (rss_ok && m == MODE_IDLE)
    fprintf(stderr, "  server RSS %ld kB -> %ld kB (%+.0f B per client)\n", rss_before, rss_after,
            rss_per);
  else if (rss_ok)
    fprintf(stderr, "  server RSS %ld kB -> %ld kB\n", rss_before, rss_after);
  if (m == MODE_ECHO)
    fprintf(stderr, "  %.0f round trips/s (%llu in window)\n", has_win ? tot.events / win_s : 0,
            (unsigned long long)tot.events);
  if (m == MODE_FANOUT)
    fprintf(stderr,
            "  offered %.0f/s, sent %.0f/s; deliveries %.0f/s; received %llu of %llu expected "
            "(%llu senders' msgs x %llu clients), loss %.4f%%\n",
            cfg->rate, has_win ? tot.sent_win / win_s : 0, has_win ? tot.deliveries / win_s : 0,
            (unsigned long long)tot.received, (unsigned long long)expected,
            (unsigned long long)tot.sent_win, (unsigned long long)up_at_win,
            expected ? 100.0 * (1.0 - (double)tot.received / (double)expected) : 0.0);
  if (m == MODE_CONNECT)
    fprintf(stderr, "  %.0f handshakes/s (%llu in window)\n", has_win ? tot.connects / win_s : 0,
            (unsigned long long)tot.connects);
  if (srv_cpu_ok || self_cpu_ok)
    fprintf(stderr, "  CPU over the window: server %.0f %%, sio-bench %.0f %% (of one CPU)\n",
            srv_cpu_ok ? 100 * (cpu_srv1 - cpu_srv0) / win_s : -1,
            self_cpu_ok ? 100 * (cpu_self1 - cpu_self0) / win_s : -1);
  if (cfg->ncpu_pids) {
    fprintf(stderr, "  CPU over the window (--cpu-pid):");
    for (int k = 0; k < cfg->ncpu_pids; k++) {
      if (has_win && cpu_pid0[k] >= 0 && cpu_pid1[k] >= 0)
        fprintf(stderr, " %s %.0f %%", cfg->cpu_pids[k].name, 100 * (cpu_pid1[k] - cpu_pid0[k]) / win_s);
      else
        fprintf(stderr, " %s ?", cfg->cpu_pids[k].name);
    }
    fprintf(stderr, "\n");
  }
  if (lat_ok)
    fprintf(stderr, "  latency p50 %.3f ms, p99 %.3f ms, max %.3f ms (%llu samples)\n", p50, p99,
            pmax, (unsigned long long)tot.lat.count);
  printf("%s\n", j.b);
  fflush(stdout);
  return fatal ? 1 : 0;
}
