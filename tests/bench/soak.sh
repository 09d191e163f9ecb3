#!/usr/bin/env bash
# The ordering-and-loss soak (`make soak`): the bundled chat server with
# 2,000 clients talking for a minute over loopback, websocket and polling
# mixed; every line the server accepted must reach every connected client
# exactly once, in order per sender. Not part of `make test`.
#
# Builds nothing: it runs $SIO_BUILD/server/sio-chat (default build/) and
# that build's sio-bench --mode soak (see tests/bench/bench_soak.c for what
# is counted). Prints sio-bench's progress and summary, a few lines of its
# own, then sio-bench's JSON line; exits 0 only when the soak passed and the
# server stayed up and exited 0 on SIGTERM.
#
# Environment (defaults in brackets):
#   SOAK_CLIENTS=N        clients [2000]
#   SOAK_SECONDS=S        sending phase [60]
#   SOAK_RATE=R           lines per second sent by each client [0.5]
#   SOAK_POLLING=F        fraction of the clients on long-polling, the rest on
#                         websocket [0.1]
#   SOAK_DRAIN=S          longest wait for the last deliveries [15]
#   SOAK_PAYLOAD=B        bytes of padding per line [0]
#   SOAK_THREADS=T        sio-bench threads [1]
#   SOAK_CONNECT_TIMEOUT=S  longest wait for all clients to join [30]
#   SOAK_JSON=FILE        also append the JSON line to FILE
#   SIO_BUILD=DIR         the build directory [build]
#
# The whole run is bounded: connect timeout + seconds + drain + 30 s for
# sio-bench, 10 s each for the server to start and to stop. The default run
# takes about 62 s; on a 2-core machine it offers 1,000 lines/s, i.e. 2 M
# deliveries/s, which keeps the server near one core busy and sio-bench at
# about two thirds of the other (SOAK_RATE=0.25 halves that traffic).
set -u -o pipefail
# Job control: the server and sio-bench get process groups of their own, so
# a Ctrl-C reaches only this script, which passes one SIGINT on to sio-bench
# (it then cuts the run short and still reports) and stops the server itself.
set -m

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${SIO_BUILD:-$root/build}
CLIENTS=${SOAK_CLIENTS:-2000}
SECONDS_=${SOAK_SECONDS:-60}
RATE=${SOAK_RATE:-0.5}
POLLING=${SOAK_POLLING:-0.1}
DRAIN=${SOAK_DRAIN:-15}
PAYLOAD=${SOAK_PAYLOAD:-0}
THREADS=${SOAK_THREADS:-1}
CONNECT_TIMEOUT=${SOAK_CONNECT_TIMEOUT:-30}

SERVER=$BUILD/server/sio-chat
BENCH=$BUILD/tests/bench/sio-bench
say() { echo "soak: $*" >&2; }
for b in "$SERVER" "$BENCH"; do
  if [ ! -x "$b" ]; then
    say "$b not found: build first (ninja -C ${BUILD#"$root"/})"
    exit 2
  fi
done
for v in CLIENTS SECONDS_ RATE POLLING DRAIN PAYLOAD THREADS CONNECT_TIMEOUT; do
  if ! [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    say "bad value for SOAK_${v%_}: '${!v}'"
    exit 2
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sio-soak.XXXXXX")
srv_pid=""
cleanup() {
  if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
    kill -KILL "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
interrupted=0
trap 'say interrupted; exit 130' INT TERM

rss_kb() { # VmRSS of pid $1 in kB, or "?"
  local v
  v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
  echo "${v:-?}"
}

# ---- the server, on a free loopback port ---------------------------------
"$SERVER" --host 127.0.0.1 --port 0 2>"$tmp/server.log" &
srv_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/server.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$srv_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  say "sio-chat did not start; its output:"
  cat "$tmp/server.log" >&2
  exit 1
fi
rss_before=$(rss_kb "$srv_pid")
say "sio-chat pid $srv_pid on 127.0.0.1:$port (RSS $rss_before kB); $CLIENTS clients" \
    "($POLLING polling), $RATE lines/s each for $SECONDS_ s"

# ---- the soak ---------------------------------------------------------------
limit=$(awk -v a="$CONNECT_TIMEOUT" -v b="$SECONDS_" -v c="$DRAIN" 'BEGIN { printf "%d", a + b + c + 30 }')
cmd=("$BENCH" --mode soak --host 127.0.0.1 --port "$port" --server-pid "$srv_pid"
     --clients "$CLIENTS" --duration "$SECONDS_" --client-rate "$RATE"
     --polling-share "$POLLING" --drain "$DRAIN" --payload "$PAYLOAD" --threads "$THREADS"
     --connect-timeout "$CONNECT_TIMEOUT" --label "${CLIENTS}x${SECONDS_}s")
say "running: timeout -k 5 $limit ${cmd[*]#"$root"/}"
t0=$(date +%s.%N)
timeout -k 5 "$limit" "${cmd[@]}" >"$tmp/bench.out" &
bench_pid=$!
# Interrupted: one SIGINT to sio-bench itself (timeout would pass on two,
# and a second one makes sio-bench exit without a report).
on_interrupt() {
  interrupted=1
  say "interrupted: stopping sio-bench early"
  local child
  child=$(pgrep -P "$bench_pid" 2>/dev/null | head -n 1)
  [ -n "$child" ] && kill -INT "$child" 2>/dev/null
}
trap on_interrupt INT TERM
while :; do
  wait "$bench_pid"
  bench_rc=$?
  kill -0 "$bench_pid" 2>/dev/null || break # else wait was cut short by the trap
done
trap 'say interrupted; exit 130' INT TERM
t1=$(date +%s.%N)
json=$(grep '^{' "$tmp/bench.out" | tail -n 1)

# ---- the server afterwards -------------------------------------------------
server_alive=1
kill -0 "$srv_pid" 2>/dev/null || server_alive=0
sleep 1 # the clients' connections are gone: let the server see it
rss_after=$(rss_kb "$srv_pid")
server_rc=""
if [ "$server_alive" = 1 ]; then
  kill -TERM "$srv_pid"
  for _ in $(seq 100); do
    kill -0 "$srv_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$srv_pid" 2>/dev/null; then
    say "sio-chat did not exit within 10 s of SIGTERM"
    kill -KILL "$srv_pid" 2>/dev/null
    wait "$srv_pid" 2>/dev/null
    server_rc="hung"
  else
    wait "$srv_pid"
    server_rc=$?
  fi
else
  wait "$srv_pid" 2>/dev/null
  server_rc=$?
fi
srv_pid=""

# ---- report -------------------------------------------------------------------
fail=()
case $bench_rc in
  0) ;;
  3) [ "$interrupted" = 1 ] || fail+=("sio-bench found loss, duplicates, reordering or disconnects") ;;
  124|137) fail+=("sio-bench did not finish within $limit s") ;;
  *) fail+=("sio-bench exited $bench_rc") ;;
esac
[ -n "$json" ] || fail+=("no result line from sio-bench")
[ "$interrupted" = 0 ] || fail+=("interrupted")
if [ "$server_alive" = 1 ]; then
  [ "$server_rc" = 0 ] || fail+=("sio-chat exit status on SIGTERM: $server_rc")
else
  fail+=("sio-chat died during the soak: exit status $server_rc")
fi

if [ -n "$json" ]; then
  python3 - "$json" "$rss_before" "$rss_after" "$t0" "$t1" <<'EOF' >&2
import json, sys
j = json.loads(sys.argv[1])
rss_before, rss_after = sys.argv[2], sys.argv[3]
wall = float(sys.argv[5]) - float(sys.argv[4])
def n(k):
    v = j.get(k)
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) >= 1000:
        v = round(v)
    return f"{v:,}" if isinstance(v, int) else str(v)
print("soak: ---- summary ----")
print(f"soak: clients {n('clients')} ({n('clients_websocket')} websocket, {n('clients_polling')} polling),"
      f" joined {n('joined')} in {n('connect_phase_s')} s")
print(f"soak: sent {n('sent')} lines in {n('duration_s')} s ({n('sent_per_s')}/s), drain {n('drain_s')} s,"
      f" wall {wall:.1f} s")
print(f"soak: deliveries expected {n('expected')}, received {n('received')} ({n('deliveries_per_s')}/s)")
print(f"soak: missing {n('missing')} (websocket {n('missing_websocket')}, polling {n('missing_polling')}),"
      f" duplicates {n('duplicates')}, reordered {n('reordered')}, late {n('late')},"
      f" disconnects {n('disconnects')}")
print(f"soak: corrupt {n('corrupt')}, misattributed {n('misattributed')}, unexpected {n('unexpected')},"
      f" connect errors {n('errors')}, generator dropped {n('dropped')}")
print(f"soak: latency p50 {n('p50_ms')} ms, p99 {n('p99_ms')} ms, max {n('max_ms')} ms")
print(f"soak: CPU during run + drain: server {n('server_cpu_s')} s, sio-bench {n('bench_cpu_s')} s")
def kb(v):
    return f"{int(v):,} kB" if str(v).isdigit() else "? kB"
# 1 s after sio-bench exited: polling sessions whose client left with no
# request pending still wait for their heartbeat timeout (45 s by default)
print(f"soak: server RSS {kb(rss_before)} idle -> {kb(j.get('rss_after_kb') or '?')} with the clients"
      f" at the end -> {kb(rss_after)} 1 s after they left")
if j.get("first_loss"):
    print(f"soak: first loss: {j['first_loss']}")
if j.get("error"):
    print(f"soak: error: {j['error']}")
EOF
fi
if [ ${#fail[@]} -eq 0 ]; then
  say "server exited 0 on SIGTERM; PASS"
else
  for f in "${fail[@]}"; do say "FAIL: $f"; done
  if [ -s "$tmp/server.log" ]; then
    say "sio-chat's output (last 20 lines):"
    tail -n 20 "$tmp/server.log" >&2
  fi
fi
if [ -n "$json" ]; then
  echo "$json"
  [ -z "${SOAK_JSON:-}" ] || echo "$json" >>"$SOAK_JSON"
fi
[ ${#fail[@]} -eq 0 ]
