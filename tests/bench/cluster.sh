#!/usr/bin/env bash
# Cross-node fan-out: what a broadcast costs when it crosses Redis between
# two sio-chat nodes (--redis), against the same load on one node.
#
#   tests/bench/cluster.sh             3 rounds, ~7 min on 2 CPUs, into build/bench-cluster/
#   QUICK=1 tests/bench/cluster.sh     1 short round, ~30 s, into build/bench-cluster-quick/
#   tests/bench/cluster.sh --report-only   the table again from the .jsonl
#
# Scenarios (every one is sio-chat with sio-bench --mode fanout; SCENARIOS="a b"
# to pick some):
#   single        one node, no Redis: senders and receivers on it (compare.sh's
#                 fan-out, the baseline)
#   single-redis  one node with --redis and no other: the publish overhead alone
#                 (every broadcast is also PUBLISHed; Redis sends it back to the
#                 node, which drops it by its uid)
#   cross         nodes A and B on one Redis: the senders on A, the receivers on
#                 B (sio-bench --port B --sender-port A), so every delivery but
#                 the senders' own copies (S of N clients) crosses Redis
#   cross-split   the same with the receivers half on A, half on B
#                 (--port A,B --sender-port A): a cluster behind a balancer
# Each run starts fresh servers (Redis too) on free loopback ports, waits until
# every node's adapter is up (sio_redis_connected 1 on /metrics), stops them by
# PID afterwards, and is bounded by `timeout`. Latency is emit -> delivery as
# in compare.sh: the senders are sio-bench clients too, on the same clock.
#
# Environment:
#   ROUNDS=N       rounds (3; QUICK: 1); scenarios alternate order every round
#   QUICK=1        200 clients, 1,000 msgs/s, 3 s measured after 1 s of warm-up
#   CLIENTS="N.."  client counts (1000)             RATES="R.."  msgs/s offered (1000 10000)
#   SENDERS=S      senders (10)  DURATION=S (8)  WARMUP=S (3)  PAYLOAD=B (32)
#   SCENARIOS="single single-redis cross cross-split"
#   OUTDIR=DIR     where cluster-results.jsonl and cluster.md go
#   SIO_BUILD=DIR  the meson build (build/); SIO_BENCH=P sio-bench; REDIS_SERVER=P
#   PIN=0|1        pin with taskset (default 1 on 2+ CPUs): sio-bench on CPU 0; on 4+
#                  CPUs node A, node B and Redis on CPUs 1, 2, 3, on 2-3 CPUs all three
#                  share CPU 1 (then the cluster has the single node's one core, and
#                  "cross" measures what crossing costs, not what scaling out gains).
#                  BENCH_CPU= A_CPU= B_CPU= REDIS_CPU= override.
#   QUIET_PCT=10 QUIET_WAIT=600 NOISY_PCT=15 RETRY_NOISY=1
#                  wait (at most QUIET_WAIT s; QUICK: 20) until other processes use
#                  at most QUIET_PCT % of a CPU before each run; a run during which
#                  they used more than NOISY_PCT % is discarded and run once more
#                  (RETRY_NOISY=0: kept and flagged "noisy" in the table).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/bench
BUILD=${SIO_BUILD:-$ROOT/build}
BENCH=${SIO_BENCH:-$BUILD/tests/bench/sio-bench}
CHAT=$BUILD/server/sio-chat
REDIS_SERVER=${REDIS_SERVER:-redis-server}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  ROUNDS=${ROUNDS:-1} OUTDIR=${OUTDIR:-$BUILD/bench-cluster-quick}
  CLIENTS=${CLIENTS:-200} RATES=${RATES:-1000} DURATION=${DURATION:-3} WARMUP=${WARMUP:-1}
  QUIET_WAIT=${QUIET_WAIT:-20}
else
  ROUNDS=${ROUNDS:-3} OUTDIR=${OUTDIR:-$BUILD/bench-cluster}
  CLIENTS=${CLIENTS:-1000} RATES=${RATES:-1000 10000} DURATION=${DURATION:-8} WARMUP=${WARMUP:-3}
fi
SENDERS=${SENDERS:-10} PAYLOAD=${PAYLOAD:-32}
SCENARIOS=${SCENARIOS:-${ONLY:-single single-redis cross cross-split}}
RAMP=2000 CONNECT_TIMEOUT=30 DRAIN=3
QUIET_PCT=${QUIET_PCT:-10} QUIET_WAIT=${QUIET_WAIT:-600} NOISY_PCT=${NOISY_PCT:-15} RETRY_NOISY=${RETRY_NOISY:-1}
NCPU=$(nproc)
JSONL=$OUTDIR/cluster-results.jsonl
MD=$OUTDIR/cluster.md

say() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- the table (python: medians over the rounds) -------------------------------
table() {
  python3 - "$JSONL" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = next((r["meta"] for r in rows if "meta" in r), {})
runs = [r for r in rows if "scenario" in r and not r.get("discarded")]
discarded = [r for r in rows if "scenario" in r and r.get("discarded")]
order = ["single", "single-redis", "cross", "cross-split"]
def med(xs):
    xs = [x for x in xs if isinstance(x, (int, float))]
    return statistics.median(xs) if xs else None
def f(x, d=3):
    if x is None: return "—"
    if abs(x) >= 1000: return f"{x:,.0f}"
    return f"{x:.{d}g}" if abs(x) >= 1 else f"{x:.{d}f}".rstrip("0").rstrip(".") or "0"
def pc(x): return "—" if x is None else f"{f(x)} %"
groups = {}
for r in runs:
    groups.setdefault((r["clients"] or 0, r["offered_per_s"] or 0), {}).setdefault(r["scenario"], []).append(r)
print(f"{meta.get('when', '')}; {meta.get('machine', '')}")
print(f"sio {meta.get('commit', '?')}; {meta.get('pinning', '')}; {meta.get('rounds', '?')} round(s), medians over the runs that completed.")
if meta.get("quick"): print("QUICK run: short and small, a smoke test, not a measurement.")
print()
print("| Scenario | Clients | Offered msgs/s (deliveries/s) | Deliveries/s | Loss | p50 ms | p99 ms | p50 − single | CPU node A | CPU node B | CPU Redis | sio-bench CPU | Runs |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
for (clients, rate) in sorted(groups):
    g = groups[(clients, rate)]
    base = None
    for sc in sorted(g, key=lambda s: order.index(s) if s in order else 99):
        rs = g[sc]
        ok = [r for r in rs if not r.get("failed")]
        cpu = lambda k: med([(r.get("cpu_pct") or {}).get(k) for r in ok])
        p50 = med([r.get("p50_ms") for r in ok])
        if sc == "single": base = p50
        delta = "—"
        if p50 is not None and base is not None and sc != "single":
            delta = ("+" if p50 >= base else "−") + f(abs(p50 - base))
        loss = med([r.get("loss") for r in ok])
        # saturated: under 99 % delivered by the end of the drain, under 95 % of the rate sent,
        # or under 95 % of the offered deliveries made within the window
        sat = [r for r in ok if (r.get("loss") or 0) > 0.01 or (r.get("sent_per_s") or 0) < 0.95 * rate
               or (r.get("deliveries_per_s") or 0) < 0.95 * rate * clients]
        notes = f"{len(ok)}/{len(rs)}"
        if sat: notes += f", {len(sat)} saturated"
        noisy = [r for r in ok if r.get("noisy")]
        if noisy: notes += f", {len(noisy)} noisy"
        print(f"| {sc} | {clients:,} | {rate:,.0f} ({rate * clients:,.0f}) | {f(med([r.get('deliveries_per_s') for r in ok]))} | "
              f"{'—' if loss is None else f'{100 * loss:.2f} %'} | {f(p50)} | {f(med([r.get('p99_ms') for r in ok]))} | {delta} | "
              f"{pc(cpu('A'))} | {pc(cpu('B'))} | {pc(cpu('redis'))} | {pc(med([r.get('bench_cpu_pct') for r in ok]))} | {notes} |")
if discarded:
    print()
    print(f"{len(discarded)} run(s) discarded and run again: other processes used the CPUs meanwhile.")
fails = [r for r in runs if r.get("failed")]
if fails:
    print()
    for r in fails: print(f"- failed: {r['scenario']} r{r['round']} {r['clients']}@{r['offered_per_s']}: {r['failed']}")
cross = [r for r in runs if r["scenario"] == "cross" and not r.get("failed")]
if cross:
    r = cross[0]
    a, b = r.get("metrics_A") or {}, r.get("metrics_B") or {}
    print()
    print(f"Check (cross, first run): node A published {a.get('sio_redis_published_total', '?')} broadcasts to Redis, "
          f"node B received {b.get('sio_redis_received_total', '?')} and made {b.get('sio_redis_deliveries_total', '?')} "
          f"deliveries from them; publish failures A {a.get('sio_redis_publish_failed_total', '?')}, "
          f"B {b.get('sio_redis_publish_failed_total', '?')} (whole run, connections included).")
EOF
}

if [ "${1:-}" = "--report-only" ]; then
  [ -s "$JSONL" ] || die "no $JSONL"
  table | tee "$MD"
  exit
fi

[ -x "$BENCH" ] || die "no load generator at $BENCH (ninja -C $BUILD)"
[ -x "$CHAT" ] || die "no $CHAT (ninja -C $BUILD)"
command -v "$REDIS_SERVER" >/dev/null || die "no redis-server (apt-get install redis-server)"
for c in timeout curl python3; do command -v $c >/dev/null || die "no $c"; done
for s in $SCENARIOS; do
  case $s in single | single-redis | cross | cross-split) ;; *) die "unknown scenario '$s'" ;; esac
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PIN=${PIN:-$([ "$NCPU" -ge 2 ] && echo 1 || echo 0)}
if [ "$PIN" = 1 ] && command -v taskset >/dev/null && [ "$NCPU" -ge 2 ]; then
  if [ "$NCPU" -ge 4 ]; then
    BENCH_CPU=${BENCH_CPU:-0} A_CPU=${A_CPU:-1} B_CPU=${B_CPU:-2} REDIS_CPU=${REDIS_CPU:-3}
  else
    BENCH_CPU=${BENCH_CPU:-0} A_CPU=${A_CPU:-1} B_CPU=${B_CPU:-1} REDIS_CPU=${REDIS_CPU:-1}
  fi
  pin() { echo taskset -c "$1"; }
  PINNING="sio-bench on CPU $BENCH_CPU, node A on $A_CPU, node B on $B_CPU, Redis on $REDIS_CPU (taskset)"
else
  PIN=0 PINNING="not pinned" BENCH_CPU="" A_CPU="" B_CPU="" REDIS_CPU=""
  pin() { :; }
fi

mkdir -p "$OUTDIR"
LOGDIR=$BUILD/bench-logs/cluster-$(date +%Y%m%d-%H%M%S)
mkdir -p "$LOGDIR"
TMPJSONL=$LOGDIR/results.jsonl
: >"$TMPJSONL"

# ---- processes ------------------------------------------------------------------
# Every process is a direct child of this shell (never started from a $(...)),
# so that other_ticks can leave them out, and is stopped by its PID.
PIDS=()      # everything alive that this script started
BENCH_PID=""
stop_pid() { # PID: SIGTERM, SIGKILL after 5 s, reaped
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
  PIDS=("${keep[@]}")
}
stop_all() { # the newest first: the nodes before their Redis
  local i all=("${PIDS[@]}")
  for ((i = ${#all[@]} - 1; i >= 0; i--)); do stop_pid "${all[i]}"; done
}
cleanup() {
  [ -n "$BENCH_PID" ] && kill -TERM "$BENCH_PID" 2>/dev/null
  stop_all
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis LOG: sets REDIS_PID, REDIS_PORT (a few tries: the free port may be taken meanwhile)
start_redis() {
  local log=$1 try i
  for try in 1 2 3; do
    REDIS_PORT=$(free_port)
    : >"$log"
    $(pin "$REDIS_CPU") "$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --protected-mode no --loglevel notice </dev/null >"$log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    for i in $(seq 50); do
      grep -q "Ready to accept connections" "$log" && return 0
      kill -0 "$REDIS_PID" 2>/dev/null || break
      sleep 0.1
    done
    stop_pid "$REDIS_PID"
  done
  say "redis-server did not start: $(tail -n3 "$log")"
  return 1
}

# start_node NAME CPU LOG [--redis URL]: sets NODE_PID, NODE_PORT
start_node() {
  local name=$1 cpu=$2 log=$3 i; shift 3
  : >"$log"
  $(pin "$cpu") "$CHAT" --host 127.0.0.1 --port 0 "$@" </dev/null >/dev/null 2>"$log" &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  NODE_PORT=""
  for i in $(seq 100); do
    NODE_PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$NODE_PORT" ] && return 0
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.1
  done
  say "node $name did not start: $(tail -n3 "$log")"
  return 1
}

metrics() { curl -s --max-time 2 "http://127.0.0.1:$1/metrics"; }

# wait_redis_up PORT: the node's adapter is connected (at most 10 s)
wait_redis_up() {
  local i
  for i in $(seq 100); do
    metrics "$1" | grep -qx 'sio_redis_connected 1' && return 0
    sleep 0.1
  done
  return 1
}

# The node's sio_redis_* samples as a JSON object ({} without --redis).
redis_json() {
  metrics "$1" | python3 -c '
import json, sys
print(json.dumps({k: int(float(v)) for k, v in (l.split() for l in sys.stdin if l.startswith("sio_redis_"))}))'
}

# Other processes' CPU ticks: all but this shell, its children, kernel threads.
TICKS=$(getconf CLK_TCK)
others_ticks() { python3 "$HERE/report.py" cpu-others --self $$; }
quiet_gate() {
  local waited=0 a b pct
  while :; do
    a=$(others_ticks); sleep 1; b=$(others_ticks)
    pct=$(((b - a) * 100 / TICKS))
    [ "$pct" -le "$QUIET_PCT" ] && return
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      say "other processes keep ${pct}% of a CPU busy; going on after ${waited} s"
      return
    fi
    [ "$waited" = 0 ] && say "waiting for other processes to leave the CPUs (${pct}% of a CPU busy)"
    waited=$((waited + 1))
  done
}

# ---- one run --------------------------------------------------------------------
RUN_NO=0
# run_once ATTEMPT SCENARIO CLIENTS RATE: sets RUN_NOISY (1: run it again)
run_once() {
  local attempt=$1 sc=$2 clients=$3 rate=$4
  RUN_NO=$((RUN_NO + 1))
  local tag=$sc-r$ROUND-$RUN_NO-$clients-$rate
  local url="" a_port="" b_port="" a_pid="" b_pid="" fail="" rc=0
  local bargs=() cpu=()
  quiet_gate
  if [ "$sc" != single ]; then
    start_redis "$LOGDIR/$tag.redis.log" || fail="redis-server did not start"
    url=redis://127.0.0.1:$REDIS_PORT
    cpu+=(--cpu-pid "redis=$REDIS_PID")
  fi
  if [ -z "$fail" ]; then
    if start_node A "$A_CPU" "$LOGDIR/$tag.A.log" ${url:+--redis "$url"}; then
      a_port=$NODE_PORT a_pid=$NODE_PID
      cpu+=(--cpu-pid "A=$a_pid")
    else
      fail="node A did not start"
    fi
  fi
  if [ -z "$fail" ] && [[ $sc == cross* ]]; then
    if start_node B "$B_CPU" "$LOGDIR/$tag.B.log" --redis "$url"; then
      b_port=$NODE_PORT b_pid=$NODE_PID
      cpu+=(--cpu-pid "B=$b_pid")
    else
      fail="node B did not start"
    fi
  fi
  if [ -z "$fail" ] && [ -n "$url" ]; then
    for p in $a_port $b_port; do wait_redis_up "$p" || fail="a node's adapter did not connect to Redis in 10 s"; done
  fi
  case $sc in
    single | single-redis) bargs=(--port "$a_port" --server-pid "$a_pid") ;;
    cross) bargs=(--port "$b_port" --sender-port "$a_port" --server-pid "$b_pid") ;;
    cross-split) bargs=(--port "$a_port,$b_port" --sender-port "$a_port" --server-pid "$b_pid") ;;
  esac
  local limit=$((CONNECT_TIMEOUT + clients / RAMP + WARMUP + DURATION + DRAIN + 5 + 30))
  local cmd=("$BENCH" --host 127.0.0.1 "${bargs[@]}" "${cpu[@]}" --label "$sc/r$ROUND"
    --mode fanout --clients "$clients" --senders "$SENDERS" --rate "$rate" --payload "$PAYLOAD"
    --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" --ramp "$RAMP" --connect-timeout "$CONNECT_TIMEOUT")
  local bout=$LOGDIR/$tag.bench.out blog=$LOGDIR/$tag.bench.log o0 o1 t0 t1 died=0
  : >"$bout"
  : >"$blog"
  if [ -z "$fail" ]; then
    say "$sc round $ROUND: $clients clients, $rate msgs/s"
    o0=$(others_ticks)
    t0=$EPOCHREALTIME
    timeout -k 5 "$limit" $(pin "$BENCH_CPU") "${cmd[@]}" >"$bout" 2>"$blog" </dev/null &
    BENCH_PID=$!
    wait "$BENCH_PID"
    rc=$?
    BENCH_PID=""
    t1=$EPOCHREALTIME
    o1=$(others_ticks)
    for p in $a_pid $b_pid ${url:+$REDIS_PID}; do kill -0 "$p" 2>/dev/null || died=1; done
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && fail="timeout after $limit s"
    [ "$died" = 1 ] && fail="${fail:-a server exited during the run}"
  fi
  local ma='{}' mb='{}'
  [ -n "$url" ] && [ -n "$a_port" ] && ma=$(redis_json "$a_port")
  [ -n "$url" ] && [ -n "$b_port" ] && mb=$(redis_json "$b_port")
  stop_all
  local other_pct=0 ms
  if [ -n "${t0:-}" ] && [ -n "${t1:-}" ]; then
    ms=$(((${t1/./} - ${t0/./}) / 1000))
    other_pct=$((ms > 0 ? (o1 - o0) * 100000 / TICKS / ms : 0))
  fi
  RUN_NOISY=0
  [ -z "$fail" ] && [ "$other_pct" -gt "$NOISY_PCT" ] && [ "$attempt" = 1 ] && [ "$RETRY_NOISY" = 1 ] && RUN_NOISY=1
  SC=$sc ROUND=$ROUND CLIENTS_=$clients RATE_=$rate RC=$rc FAIL=$fail MA=$ma MB=$mb \
    OTHER=$other_pct NOISY=$((other_pct > NOISY_PCT)) DISCARD=$RUN_NOISY CMD="${cmd[*]#$ROOT/}" BLOG=$blog \
    python3 - "$bout" >>"$TMPJSONL" <<'EOF'
import json, os, sys
e = os.environ
line = {}
for text in reversed(open(sys.argv[1]).read().splitlines()):
    if text.startswith("{"):
        try:
            line = json.loads(text); break
        except ValueError:
            pass
rec = {"scenario": e["SC"], "round": int(e["ROUND"])}
rec.update(line)
rec["clients"] = rec.get("clients") or int(e["CLIENTS_"])
rec["offered_per_s"] = rec.get("offered_per_s") or float(e["RATE_"])
rec["rc"] = int(e["RC"])
rec["metrics_A"], rec["metrics_B"] = json.loads(e["MA"] or "{}"), json.loads(e["MB"] or "{}")
rec["other_cpu_pct"] = int(e["OTHER"])
rec["noisy"] = e["NOISY"] == "1"
if e["DISCARD"] == "1":
    rec["discarded"] = f"other processes used {e['OTHER']} % of a CPU during the run; run again"
fail = e["FAIL"] or (None if line else f"no JSON line (exit {e['RC']})") or (line.get("error") and f"sio-bench: {line['error']}")
if fail:
    rec["failed"] = fail
    rec["stderr_tail"] = "\n".join(open(e["BLOG"], errors="replace").read().splitlines()[-5:])
rec["bench_cmd"] = e["CMD"]
print(json.dumps(rec))
b = [f"{rec['scenario']} r{rec['round']}:"]
if fail: b.append("FAILED: " + fail)
for k in ("deliveries_per_s", "loss", "p50_ms", "p99_ms", "server_cpu_pct", "bench_cpu_pct"):
    if rec.get(k) is not None: b.append(f"{k}={rec[k]}")
if rec.get("cpu_pct"): b.append("cpu=" + json.dumps(rec["cpu_pct"]))
b.append(f"others={rec['other_cpu_pct']}%" + (" (discarded: noisy)" if rec.get("discarded") else ""))
print("  -> " + " ".join(b), file=sys.stderr)
EOF
}

# run SCENARIO CLIENTS RATE: once, or twice if others used the CPUs meanwhile
run() {
  local attempt
  for attempt in 1 2; do
    run_once "$attempt" "$@"
    [ "$RUN_NOISY" = 1 ] || break
    say "other processes were busy during the run: once more"
  done
}

# ---- the runs -----------------------------------------------------------------------
say "rounds=$ROUNDS quick=$QUICK clients=[$CLIENTS] rates=[$RATES] scenarios=[$SCENARIOS]; $PINNING; logs in $LOGDIR"
python3 - >>"$TMPJSONL" <<EOF
import json, platform, subprocess, time
def sh(c):
    try: return subprocess.run(c, shell=True, capture_output=True, text=True, cwd="$ROOT").stdout.strip()
    except Exception: return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
print(json.dumps({"meta": {
  "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
  "machine": f"$NCPU CPUs: {cpu}; Linux {platform.release()}; {sh('$REDIS_SERVER --version')}",
  "commit": sh("git rev-parse --short=12 HEAD") + (" (modified)" if sh("git status --porcelain --untracked-files=no") else ""),
  "pinning": "$PINNING", "rounds": $ROUNDS, "quick": $QUICK == 1,
  "params": "clients=[$CLIENTS] rates=[$RATES] senders=$SENDERS duration=${DURATION}s warmup=${WARMUP}s payload=$PAYLOAD",
  "scenarios": "$SCENARIOS".split()}}))
EOF

read -r -a SCEN <<<"$SCENARIOS"
for ROUND in $(seq "$ROUNDS"); do
  order=("${SCEN[@]}")
  if [ $((ROUND % 2)) = 0 ]; then # every other round backwards: drift touches all alike
    order=()
    for ((i = ${#SCEN[@]} - 1; i >= 0; i--)); do order+=("${SCEN[i]}"); done
  fi
  say "round $ROUND of $ROUNDS (${order[*]})"
  for clients in $CLIENTS; do
    for rate in $RATES; do
      for sc in "${order[@]}"; do run "$sc" "$clients" "$rate"; done
    done
  done
done

cp "$TMPJSONL" "$JSONL"
say "raw results: $JSONL"
table | tee "$MD"
say "wrote $MD"
