#!/usr/bin/env bash
# Side-by-side benchmark: sio against Node's socket.io 4.8 (tests/e2e/ref/),
# both driven by the same load generator (sio-bench) over loopback.
#
#   tests/bench/compare.sh                 full run, ~17 min on 2 CPUs: docs/BENCHMARKS.md,
#                                          docs/bench-fanout.png, docs/bench-results.jsonl
#   QUICK=1 tests/bench/compare.sh         smoke run, ~2 min, into build/bench-quick/
#   tests/bench/compare.sh --report-only   regenerate the report from the .jsonl
#
# Environment:
#   ROUNDS=N      rounds (default 3; QUICK: 1). Every round runs every scenario
#                 for both servers, alternating which one goes first.
#   QUICK=1       small client counts and short runs.
#   OUTDIR=DIR    where the .jsonl, .md and .png go.
#   SIO_BUILD=DIR the meson build (default build/).
#   SIO_BENCH=P   the load generator (default $SIO_BUILD/tests/bench/sio-bench).
#   PIN=0|1       pin the server to CPU 1 and sio-bench to CPU 0 (default 1 on
#                 2+ CPUs), so each side gets one core whatever the other does.
#   QUIET_PCT=10 QUIET_WAIT=600 NOISY_PCT=15 RETRY_NOISY=1
#                 this machine may be shared: before each run wait (at most
#                 QUIET_WAIT s) until other processes use at most QUIET_PCT % of
#                 a CPU; a run during which they used more than NOISY_PCT % is
#                 recorded as discarded and run once more.
#   ONLY="a b"    run only these scenarios (idle echo fanout sweep connect
#                 scale polling tls-idle tls-fanout tls-connect tls-resume);
#                 SCENARIOS="a b" is the same. The new runs replace those of
#                 the same scenarios in the .jsonl, the others are kept (merged
#                 by scenario), and the report covers everything it then holds:
#                   SCENARIOS="tls-fanout tls-connect" tests/bench/compare.sh
#   TLS_CERT=ec|rsa  the throwaway certificate of the tls-* scenarios, made by
#                 openssl in a temporary directory: ec (default) is ECDSA P-256,
#                 rsa is RSA-2048 (a handshake then costs the server an RSA
#                 signature, several times an ECDSA one, and the client less).
#
# The tls-* scenarios (https/wss, TLS 1.2: sio-bench is an mbedTLS 2.28
# client offering x25519, secp256r1, secp384r1 and session tickets, not
# verifying the certificate) run the same servers with --tls-cert/--tls-key:
#   tls-idle     2,000 WebSocket clients held: server RSS per TLS connection
#   tls-fanout   as fanout, over wss
#   tls-connect  full handshakes (TCP + TLS + Engine.IO + Socket.IO), 50 at a time
#   tls-resume   the same, each client resuming its previous TLS session
#
# Every run starts fresh servers on free loopback ports (--port 0, the port
# read back from the "listening on HOST:PORT" line), stops them by PID, and
# is bounded by `timeout`. A run that fails is recorded as failed, not fatal.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/bench
BUILD=${SIO_BUILD:-$ROOT/build}
BENCH=${SIO_BENCH:-$BUILD/tests/bench/sio-bench}
QUICK=${QUICK:-0}
[ "$QUICK" = 1 ] && ROUNDS=${ROUNDS:-1} || ROUNDS=${ROUNDS:-3}
if [ "$QUICK" = 1 ]; then OUTDIR=${OUTDIR:-$BUILD/bench-quick}; else OUTDIR=${OUTDIR:-$ROOT/docs}; fi
ONLY=${ONLY:-${SCENARIOS:-idle echo fanout sweep connect scale polling tls-idle tls-fanout tls-connect tls-resume}}
TLS_CERT=${TLS_CERT:-ec}
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then PIN=${PIN:-1}; else PIN=0; fi
PAUSE=${PAUSE:-0}           # extra seconds between runs (quiet_gate samples 1 s anyway)
QUIET_PCT=${QUIET_PCT:-10}  # before a run, wait until others use at most this % of a CPU ...
QUIET_WAIT=${QUIET_WAIT:-600} # ... for at most this many seconds
NOISY_PCT=${NOISY_PCT:-15}  # a run during which others used more is run again (once)
RETRY_NOISY=${RETRY_NOISY:-1}

JSONL=$OUTDIR/bench-results.jsonl
MD=$OUTDIR/BENCHMARKS.md
PNG=$OUTDIR/bench-fanout.png
PLOTDATA=${TMPDIR:-/tmp}/sio-bench-fanout.$$.dat # the plot's data, from report.py

# ---- scenario parameters -----------------------------------------------------
WARMUP=2                  # echo, connect
FAN_WARMUP=3              # fan-out: Node is still flushing the chat's "X connected" broadcasts
CONNECT_TIMEOUT=30        # sio-bench's connect phase limit (Node connects 1,000 chat clients slowly)
PING_ARGS=(--ping-interval 10000 --ping-timeout 10000) # idle holds see pings
RAMP=2000                 # connections opened per second
IDLE_CLIENTS=10000 IDLE_HOLD=20
ECHO_CLIENTS=200 ECHO_DUR=8
FAN_CLIENTS=1000 FAN_SENDERS=10 FAN_RATE=${FAN_RATE:-10000} FAN_DUR=8
SWEEP_CLIENTS=${SWEEP_CLIENTS:-100 250 500 1000} SWEEP_RATE=${SWEEP_RATE:-1000} SWEEP_DUR=4
CONNECT_CLIENTS=50 CONNECT_DUR=8
SCALE_POINTS=${SCALE_POINTS:-5000 10000 19000} SCALE_HOLD=30 SCALE_HOLD_SHORT=3 SCALE_RAMP=5000
POLL_CLIENTS=1000 POLL_SENDERS=10 POLL_RATE=${POLL_RATE:-10000} POLL_DUR=8
TLS_IDLE_CLIENTS=2000 TLS_IDLE_HOLD=10 TLS_RAMP=1000 # TLS: handshakes cost ms each
# TLS fan-out: 1,000 msgs/s (1 M deliveries/s): 10,000 (row 3's 10 M/s) swamps both servers
# and sio-bench's decryption alike, so that nothing sent in the window arrives in it.
TLS_FAN_CLIENTS=$FAN_CLIENTS TLS_FAN_RATE=${TLS_FAN_RATE:-1000} TLS_FAN_DUR=$FAN_DUR
TLS_CONNECT_CLIENTS=$CONNECT_CLIENTS TLS_CONNECT_DUR=$CONNECT_DUR
if [ "$QUICK" = 1 ]; then
  WARMUP=1 FAN_WARMUP=1 CONNECT_TIMEOUT=10
  IDLE_CLIENTS=2000 IDLE_HOLD=5
  ECHO_DUR=3
  FAN_CLIENTS=200 FAN_DUR=3
  SWEEP_CLIENTS="50 200" SWEEP_DUR=2
  CONNECT_DUR=3
  SCALE_POINTS="1000 2000 4000" SCALE_HOLD=5 SCALE_HOLD_SHORT=2
  POLL_CLIENTS=200 POLL_DUR=3 POLL_RATE=1000
  TLS_IDLE_CLIENTS=500 TLS_IDLE_HOLD=3 TLS_FAN_CLIENTS=200 TLS_FAN_DUR=3 TLS_CONNECT_DUR=3
fi

# ---- helpers -----------------------------------------------------------------
say() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

report() {
  python3 "$HERE/report.py" report --jsonl "$JSONL" --md "$MD" --png "$PNG" \
    --plot-data "$PLOTDATA" --template "$ROOT/docs/BENCHMARKS.md" || return 1
  if ! grep -q '^[0-9]' "$PLOTDATA"; then
    say "no sweep in the results: $PNG not drawn"
  elif command -v gnuplot >/dev/null; then
    gnuplot -e "datafile='$PLOTDATA'; outfile='$PNG'" "$HERE/plot.gp" || return 1
  else
    say "gnuplot missing: $PNG not drawn (apt-get install gnuplot-nox)"
  fi
  rm -f "$PLOTDATA"
  say "wrote $MD"
}

if [ "${1:-}" = "--report-only" ]; then
  [ -s "$JSONL" ] || die "no $JSONL"
  report
  exit
fi

[ -x "$BENCH" ] || die "no load generator at $BENCH (ninja -C $BUILD)"
SIO_ECHO=$BUILD/tests/e2e/sio-echo-server
SIO_CHAT=$BUILD/server/sio-chat
REF=$ROOT/tests/e2e/ref
for f in "$SIO_ECHO" "$SIO_CHAT"; do [ -x "$f" ] || die "no $f (ninja -C $BUILD)"; done
[ -d "$ROOT/tests/e2e/node_modules/socket.io" ] || die "no socket.io in tests/e2e/node_modules (cd tests/e2e && npm ci)"
command -v node >/dev/null || die "no node"
command -v timeout >/dev/null || die "no timeout (coreutils)"

# The idle scenarios hold up to 19,000 sockets in each process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then
  SERVER_PREFIX=(taskset -c 1) BENCH_PREFIX=(taskset -c 0)
else
  PIN=0 SERVER_PREFIX=() BENCH_PREFIX=()
fi

mkdir -p "$OUTDIR"
LOGDIR=$BUILD/bench-logs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$LOGDIR"
TMPJSONL=$LOGDIR/results.jsonl
: >"$TMPJSONL"

# A throwaway certificate for the tls-* scenarios.
TLS_DIR="" TLS_ARGS=()
if [[ " $ONLY " == *" tls-"* ]]; then
  command -v openssl >/dev/null || die "no openssl (for the tls-* scenarios' certificate)"
  TLS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sio-bench-tls.XXXXXX")
  case $TLS_CERT in
    ec) KEYOPT=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) TLS_CERT_DESC="ECDSA P-256" ;;
    rsa) KEYOPT=(-newkey rsa:2048) TLS_CERT_DESC="RSA-2048" ;;
    *) die "TLS_CERT=$TLS_CERT: ec or rsa" ;;
  esac
  openssl req -x509 "${KEYOPT[@]}" -sha256 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>"$TLS_DIR/openssl.log" ||
    die "openssl could not make a certificate: $(tail -n2 "$TLS_DIR/openssl.log")"
  TLS_ARGS=(--tls-cert "$TLS_DIR/cert.pem" --tls-key "$TLS_DIR/key.pem")
fi

SERVER_PID="" BENCH_PID="" PORT=""
cleanup() {
  [ -n "$TLS_DIR" ] && rm -rf "$TLS_DIR"
  TLS_DIR=
  [ -n "$BENCH_PID" ] && kill -TERM "$BENCH_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null
  [ -n "$SERVER_PID" ] && { sleep 1; kill -KILL "$SERVER_PID" 2>/dev/null; }
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

# start_server sio|node echo|chat LOG [extra args]: sets SERVER_PID, PORT, SERVER_CMD.
start_server() {
  local who=$1 app=$2 log=$3; shift 3
  local cmd
  case $who/$app in
    sio/echo) cmd=("$SIO_ECHO" --host 127.0.0.1 --port 0) ;;
    sio/chat) cmd=("$SIO_CHAT" --host 127.0.0.1 --port 0) ;;
    node/echo) cmd=(node "$REF/ref-echo-server.mjs" --host 127.0.0.1 --port 0) ;;
    node/chat) cmd=(node "$REF/ref-chat-server.mjs" --host 127.0.0.1 --port 0) ;;
  esac
  cmd+=("$@")
  : >"$log" # before the server's own redirection, which may come after the first look
  SERVER_CMD="${SERVER_PREFIX[*]} ${cmd[*]#$ROOT/}"
  SERVER_CMD=${SERVER_CMD# }
  "${SERVER_PREFIX[@]}" "${cmd[@]}" </dev/null >/dev/null 2>"$log" &
  SERVER_PID=$!
  PORT=""
  local i
  for i in $(seq 100); do
    PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$PORT" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  say "server $who/$app did not start: $(tail -n3 "$log")"
  stop_server
  return 1
}

# stop_server: SIGTERM by PID, SIGKILL after 5 s; sets SERVER_RC.
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  local i
  for i in $(seq 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_RC=$?
  SERVER_PID=""
}

# Other processes' CPU time, in clock ticks (this machine may be shared):
# everything but this script, its children and kernel threads; see
# `report.py cpu-others`.
TICKS=$(getconf CLK_TCK)
others_ticks() { python3 "$HERE/report.py" cpu-others --self $$; }

RUN_NO=0
# run_once ATTEMPT SCENARIO sio|node echo|chat LIMIT_S [--server ARGS... --] BENCH ARGS...
run_once() {
  local attempt=$1 scenario=$2 who=$3 app=$4 limit=$5; shift 5
  local sargs=()
  if [ "${1:-}" = "--server" ]; then
    shift
    while [ "$1" != "--" ]; do sargs+=("$1"); shift; done
    shift
  fi
  RUN_NO=$((RUN_NO + 1))
  local tag="$scenario-$who-r$ROUND-$RUN_NO"
  local slog=$LOGDIR/$tag.server.log blog=$LOGDIR/$tag.bench.log bout=$LOGDIR/$tag.bench.out
  local died=0 rc=0 t0 t1 bcmd
  : >"$bout"
  if ! start_server "$who" "$app" "$slog" "${sargs[@]}"; then
    python3 "$HERE/report.py" record --scenario "$scenario" --server "$who" --round "$ROUND" \
      --server-cmd "$SERVER_CMD" --bench-cmd "" --rc 255 --t0 0 --t1 0 --server-died 1 \
      --stderr "$slog" --args "$*" <"$bout" >>"$TMPJSONL"
    RUN_NOISY=0
    return
  fi
  local cmd=("$BENCH" --host 127.0.0.1 --port "$PORT" --server-pid "$SERVER_PID" --label "$scenario/$who/r$ROUND" "$@")
  bcmd="timeout -k 5 $limit ${BENCH_PREFIX[*]} ${cmd[*]#$ROOT/}"
  say "$scenario $who round $ROUND: sio-bench $*"
  local o0 o1
  o0=$(others_ticks)
  t0=$EPOCHREALTIME
  timeout -k 5 "$limit" "${BENCH_PREFIX[@]}" "${cmd[@]}" >"$bout" 2>"$blog" </dev/null &
  BENCH_PID=$!
  wait "$BENCH_PID"
  rc=$?
  BENCH_PID=""
  t1=$EPOCHREALTIME
  o1=$(others_ticks)
  kill -0 "$SERVER_PID" 2>/dev/null || died=1
  stop_server
  # Other processes' CPU time in percent of one CPU over the run.
  local other=$((o1 - o0)) ms=$(((${t1/./} - ${t0/./}) / 1000)) discard=""
  RUN_OTHER_PCT=$((ms > 0 ? other * 100000 / TICKS / ms : 0))
  if [ "$RUN_OTHER_PCT" -gt "$NOISY_PCT" ] && [ "$attempt" = 1 ] && [ "$RETRY_NOISY" = 1 ]; then
    discard="other processes used ${RUN_OTHER_PCT}% of a CPU during the run; run again"
    RUN_NOISY=1
  else
    RUN_NOISY=0
  fi
  python3 "$HERE/report.py" record --scenario "$scenario" --server "$who" --round "$ROUND" \
    --server-cmd "$SERVER_CMD" --bench-cmd "$bcmd" --rc "$rc" --t0 "$t0" --t1 "$t1" \
    --server-died "$died" --stderr "$blog" --server-stderr "$slog" --args "$*" \
    --other-cpu="$other/$TICKS" --discard="$discard" <"$bout" |
    tee -a "$TMPJSONL" | python3 "$HERE/report.py" brief >&2
  sleep "$PAUSE"
}

# quiet_gate: wait (at most QUIET_WAIT s) until other processes leave the
# CPUs alone: at most QUIET_PCT % of one CPU busy over a second.
quiet_gate() {
  local waited=0 a b pct
  while :; do
    a=$(others_ticks)
    sleep 1
    b=$(others_ticks)
    pct=$(((b - a) * 100 / TICKS))
    [ "$pct" -le "$QUIET_PCT" ] && break
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      say "other processes keep ${pct}% of a CPU busy; going on after ${waited} s"
      break
    fi
    [ "$waited" = 0 ] && say "waiting for other processes to leave the CPUs (${pct}% of a CPU busy)"
    waited=$((waited + 1))
  done
}

# run SCENARIO sio|node echo|chat LIMIT [--server ARGS... --] BENCH ARGS...:
# one measurement, once the machine is quiet; again (once) if something else
# used the CPUs meanwhile.
run() {
  local attempt
  for attempt in 1 2; do
    quiet_gate
    run_once "$attempt" "$@"
    [ "$RUN_NOISY" = 1 ] || break
    say "other processes used ${RUN_OTHER_PCT}% of a CPU during the run: once more"
  done
}

# both SCENARIO APP LIMIT [ --server ARGS -- ] BENCH ARGS: sio and Node in this
# round's order.
both() {
  local who
  for who in "${ORDER[@]}"; do run "$1" "$who" "${@:2}"; done
}

wants() { [[ " $ONLY " == *" $1 "* ]]; }

# ---- the run -------------------------------------------------------------------
say "rounds=$ROUNDS quick=$QUICK pin=$PIN nofile=$NOFILE logs in $LOGDIR"
python3 "$HERE/report.py" meta --root "$ROOT" --build "$BUILD" --rounds "$ROUNDS" --quick "$QUICK" \
  --pin "$PIN" --nofile "$NOFILE" \
  --command "$(env | grep -E '^(ROUNDS|QUICK|PIN|ONLY|SCENARIOS|TLS_CERT|FAN_RATE|TLS_FAN_RATE|SWEEP_RATE|SWEEP_CLIENTS|POLL_RATE|SCALE_POINTS)=' | sort | tr '\n' ' ')tests/bench/compare.sh $*" \
  --params "idle=$IDLE_CLIENTS/${IDLE_HOLD}s echo=$ECHO_CLIENTS/${ECHO_DUR}s fanout=$FAN_CLIENTS@$FAN_RATE/${FAN_DUR}s sweep=[$SWEEP_CLIENTS]@$SWEEP_RATE/${SWEEP_DUR}s connect=$CONNECT_CLIENTS/${CONNECT_DUR}s scale=[$SCALE_POINTS]/${SCALE_HOLD}s polling=$POLL_CLIENTS@$POLL_RATE/${POLL_DUR}s" \
  --fan-rate "$FAN_RATE" --sweep-rate "$SWEEP_RATE" --poll-rate "$POLL_RATE" \
  --scenarios "$ONLY" --tls-cert-desc "${TLS_CERT_DESC:-}" \
  --tls-params "tls-idle=$TLS_IDLE_CLIENTS/${TLS_IDLE_HOLD}s tls-fanout=$TLS_FAN_CLIENTS@$TLS_FAN_RATE/${TLS_FAN_DUR}s tls-connect=$TLS_CONNECT_CLIENTS/${TLS_CONNECT_DUR}s tls-resume=$TLS_CONNECT_CLIENTS/${TLS_CONNECT_DUR}s" >>"$TMPJSONL" ||
  die "report.py meta failed"

lim() { # LIMIT for a run of WARMUP DURATION CLIENTS RAMP: sio-bench's own bound + 30 s
  echo $((CONNECT_TIMEOUT + $3 / $4 + $1 + $2 + 5 + 30))
}
CT=(--connect-timeout "$CONNECT_TIMEOUT")

for ROUND in $(seq "$ROUNDS"); do
  if [ $((ROUND % 2)) = 1 ]; then ORDER=(sio node); else ORDER=(node sio); fi
  say "round $ROUND of $ROUNDS (${ORDER[*]})"

  wants idle && both idle echo "$(lim 0 "$IDLE_HOLD" "$IDLE_CLIENTS" "$RAMP")" --server "${PING_ARGS[@]}" -- \
    --mode idle --clients "$IDLE_CLIENTS" --duration "$IDLE_HOLD" --ramp "$RAMP" "${CT[@]}"

  wants echo && both echo echo "$(lim "$WARMUP" "$ECHO_DUR" "$ECHO_CLIENTS" "$RAMP")" \
    --mode echo --clients "$ECHO_CLIENTS" --inflight 1 --duration "$ECHO_DUR" --warmup "$WARMUP" \
    --ramp "$RAMP" "${CT[@]}"

  wants fanout && both fanout chat "$(lim "$FAN_WARMUP" "$FAN_DUR" "$FAN_CLIENTS" "$RAMP")" \
    --mode fanout --clients "$FAN_CLIENTS" --senders "$FAN_SENDERS" --rate "$FAN_RATE" \
    --duration "$FAN_DUR" --warmup "$FAN_WARMUP" --ramp "$RAMP" "${CT[@]}"

  if wants sweep; then
    for n in $SWEEP_CLIENTS; do
      both sweep chat "$(lim "$FAN_WARMUP" "$SWEEP_DUR" "$n" "$RAMP")" \
        --mode fanout --clients "$n" --senders "$FAN_SENDERS" --rate "$SWEEP_RATE" \
        --duration "$SWEEP_DUR" --warmup "$FAN_WARMUP" --ramp "$RAMP" "${CT[@]}"
    done
  fi

  wants connect && both connect echo "$(lim "$WARMUP" "$CONNECT_DUR" 0 "$RAMP")" \
    --mode connect --clients "$CONNECT_CLIENTS" --duration "$CONNECT_DUR" --warmup "$WARMUP"

  if wants scale; then # sio only: as many clients as the file limit allows
    for n in $SCALE_POINTS; do
      hold=$SCALE_HOLD_SHORT
      [ "$n" = "${SCALE_POINTS##* }" ] && hold=$SCALE_HOLD
      if [ "$n" -gt $((NOFILE - 500)) ]; then
        say "scale: $n clients > the file limit $NOFILE - 500, skipped"
        continue
      fi
      run scale sio echo "$(lim 0 "$hold" "$n" "$SCALE_RAMP")" --server "${PING_ARGS[@]}" -- \
        --mode idle --clients "$n" --duration "$hold" --ramp "$SCALE_RAMP" "${CT[@]}"
    done
  fi

  wants polling && both polling chat "$(lim "$FAN_WARMUP" "$POLL_DUR" "$POLL_CLIENTS" "$RAMP")" \
    --mode fanout --transport polling --clients "$POLL_CLIENTS" --senders "$POLL_SENDERS" \
    --rate "$POLL_RATE" --duration "$POLL_DUR" --warmup "$FAN_WARMUP" --ramp "$RAMP" "${CT[@]}"

  wants tls-idle && both tls-idle echo "$(lim 0 "$TLS_IDLE_HOLD" "$TLS_IDLE_CLIENTS" "$TLS_RAMP")" \
    --server "${PING_ARGS[@]}" "${TLS_ARGS[@]}" -- \
    --mode idle --tls --clients "$TLS_IDLE_CLIENTS" --duration "$TLS_IDLE_HOLD" --ramp "$TLS_RAMP" "${CT[@]}"

  wants tls-fanout && both tls-fanout chat "$(lim "$FAN_WARMUP" "$TLS_FAN_DUR" "$TLS_FAN_CLIENTS" "$TLS_RAMP")" \
    --server "${TLS_ARGS[@]}" -- \
    --mode fanout --tls --clients "$TLS_FAN_CLIENTS" --senders "$FAN_SENDERS" --rate "$TLS_FAN_RATE" \
    --duration "$TLS_FAN_DUR" --warmup "$FAN_WARMUP" --ramp "$TLS_RAMP" "${CT[@]}"

  wants tls-connect && both tls-connect echo "$(lim "$WARMUP" "$TLS_CONNECT_DUR" 0 "$RAMP")" \
    --server "${TLS_ARGS[@]}" -- \
    --mode connect --tls --clients "$TLS_CONNECT_CLIENTS" --duration "$TLS_CONNECT_DUR" --warmup "$WARMUP"

  wants tls-resume && both tls-resume echo "$(lim "$WARMUP" "$TLS_CONNECT_DUR" 0 "$RAMP")" \
    --server "${TLS_ARGS[@]}" -- \
    --mode connect --tls-resume --clients "$TLS_CONNECT_CLIENTS" --duration "$TLS_CONNECT_DUR" --warmup "$WARMUP"
done

# Merge: these runs replace the earlier ones of the same scenarios.
if [ -s "$JSONL" ]; then
  python3 "$HERE/report.py" merge --old "$JSONL" --new "$TMPJSONL" >"$LOGDIR/merged.jsonl" ||
    die "report.py merge failed (the new runs are in $TMPJSONL)"
  cp "$LOGDIR/merged.jsonl" "$JSONL"
else
  cp "$TMPJSONL" "$JSONL"
fi
say "raw results: $JSONL"
report || die "report failed"
