#!/usr/bin/env bash
# bench/run.sh - catfish side by side with a bare httputil.ReverseProxy.
#
# Builds catfish and the three tools of bench/cmd into bench/.bin, then for
# every repetition, scenario and target starts a fresh mock upstream and a
# fresh target (pinned with taskset), waits until the target answers a real
# chat completion, runs the closed-loop load, stops both, and at the end
# prints a Markdown table with the ratios catfish/baseline.
# Results: bench/results/<timestamp>/ (results.jsonl, table.md, meta.txt, logs/).
#
#   bench/run.sh --quick          # smoke test: 1 repetition of 2 s per cell
#   bench/run.sh                  # 3 repetitions of 5 s
#   bench/run.sh --help
#
# Only processes this script started are stopped, by their process-group id.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BIN="$HERE/.bin"

REPS=3
DUR=5s
WARMUP=1s
PIN=split
PORT_BASE=19200 # mock = base, catfish = base+1, baseline = base+2
ONLY=""
SCEN_FILTER=""
OUT=""
CATFISH_BIN=""
STRICT=""
KEEP_DATA=0
OPEN_STREAMS=""
declare -a CATFISH_ENV=()

usage() {
  cat <<'EOF'
bench/run.sh - catfish against a bare httputil.ReverseProxy (loopback only)

Options:
  --quick              smoke test: 1 repetition, 2 s measured, 0.5 s warm-up
  --reps N             repetitions per cell (default 3)
  --duration D         measured time per run (default 5s)
  --warmup D           unmeasured warm-up per run, after the ramp (default 1s)
  --scenarios A,B      only these scenarios (default: all, see below)
  --only T             only this target: catfish or baseline
  --pin split|none     split (default): load generator + mock on CPU 0,
                       target on CPU 1; none: no pinning (the target then
                       gets two cores: make one such pass for correctness)
  --port-base P        mock on P, catfish on P+1, baseline on P+2 (default 19200)
  --catfish-bin PATH   measure this catfish binary instead of building the tree
  --catfish-env K=V    extra environment for catfish (repeatable), e.g. GOGC=200
  --strict             load generator JSON-decodes every stream event
  --keep-data          keep catfish's DATA_DIR of every run
  --open-streams N     streams of st-c10000 (default 10000, lowered to what
                       `ulimit -n` allows; a number given here is used as is)
  --out DIR            results directory (default bench/results/<timestamp>)

Scenarios (targets: catfish and baseline unless noted):
  ns-c1      non-stream, 1 in flight: latency added per request
  ns-c64     non-stream, 64 in flight: throughput and CPU per request
  ns-c256    non-stream, 256 in flight
  st-c64     stream, 20 chunks of 16 B 5 ms apart + usage, 64 in flight: TTFB
  st-c1000   stream, 20 chunks 50 ms apart, 1,000 open (starts over 1 s): RSS
  st-c10000  catfish only: 10,000 open streams (20 chunks 500 ms apart,
             starts over 10 s; at least 5 s warm-up and 5 s measured, since
             a stream lasts 10 s); fewer if `ulimit -n` cannot be raised enough
  ch1000     catfish only: ns-c64 with 1,000 channels of equal priority in
             the scheme (compared with ns-c64's single channel)
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick)       REPS=1; DUR=2s; WARMUP=0.5s; shift ;;
    --reps)        REPS="$2"; shift 2 ;;
    --duration)    DUR="$2"; shift 2 ;;
    --warmup)      WARMUP="$2"; shift 2 ;;
    --scenarios)   SCEN_FILTER="$2"; shift 2 ;;
    --only)        ONLY="$2"; shift 2 ;;
    --pin)         PIN="$2"; shift 2 ;;
    --port-base)   PORT_BASE="$2"; shift 2 ;;
    --catfish-bin) CATFISH_BIN="$2"; shift 2 ;;
    --catfish-env) CATFISH_ENV+=("$2"); shift 2 ;;
    --strict)      STRICT="-strict"; shift ;;
    --keep-data)   KEEP_DATA=1; shift ;;
    --open-streams) OPEN_STREAMS="$2"; shift 2 ;;
    --out)         OUT="$2"; shift 2 ;;
    -h|--help)     usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

[[ "$REPS" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --reps wants a positive number" >&2; exit 2; }
[[ "$PORT_BASE" =~ ^[0-9]+$ && $PORT_BASE -ge 1024 && $PORT_BASE -le 65000 ]] || { echo "run.sh: --port-base wants 1024..65000" >&2; exit 2; }
[[ "$PIN" == split || "$PIN" == none ]] || { echo "run.sh: --pin wants split or none" >&2; exit 2; }
[[ -z "$ONLY" || "$ONLY" == catfish || "$ONLY" == baseline ]] || { echo "run.sh: --only wants catfish or baseline" >&2; exit 2; }
for kv in "${CATFISH_ENV[@]}"; do
  [[ "$kv" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "run.sh: --catfish-env wants NAME=VALUE, got '$kv'" >&2; exit 2; }
done
MOCK_PORT=$PORT_BASE
declare -A PORT=([catfish]=$((PORT_BASE + 1)) [baseline]=$((PORT_BASE + 2)))

# ---- file descriptors: 10,000 open streams need about 20,000 in catfish ----
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ "$NOFILE" == unlimited ]] && NOFILE=1048576
C10K=10000
C10K_NOTE=""
if [[ -n "$OPEN_STREAMS" ]]; then
  [[ "$OPEN_STREAMS" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --open-streams wants a positive number" >&2; exit 2; }
  C10K=$OPEN_STREAMS
elif (( NOFILE < 2 * C10K + 1000 )); then
  # Each open stream holds a client socket and an upstream socket in the
  # proxy; keep 1,000 descriptors of headroom for connection churn (at the
  # very limit, dials fail with EMFILE).
  C10K=$(( (NOFILE - 1000) / 2 / 100 * 100 ))
  C10K_NOTE="ulimit -n is $NOFILE here (the hard limit; it cannot be raised) and a proxy holds 2 descriptors per open stream (+1,000 headroom): st-c10000 runs $C10K streams instead of 10,000"
fi

# ---- scenarios: name | targets | channels | mock flags | load flags ----
STREAM="-stream -include-usage -expect-events 23"
SCENARIOS=(
  "ns-c1|catfish baseline|1||-c 1"
  "ns-c64|catfish baseline|1||-c 64"
  "ns-c256|catfish baseline|1||-c 256"
  "st-c64|catfish baseline|1|-chunks 20 -chunk-size 16 -chunk-delay 5ms|-c 64 $STREAM"
  "st-c1000|catfish baseline|1|-chunks 20 -chunk-size 16 -chunk-delay 50ms|-c 1000 -ramp 1s $STREAM"
  "st-c10000|catfish|1|-chunks 20 -chunk-size 16 -chunk-delay 500ms|-c $C10K -ramp 10s -min-warmup 5s -min-d 5s $STREAM"
  "ch1000|catfish|1000||-c 64"
)
scen_selected() { [[ -z "$SCEN_FILTER" ]] || [[ ",$SCEN_FILTER," == *",$1,"* ]]; }
if [[ -n "$SCEN_FILTER" ]]; then
  IFS=, read -ra want <<<"$SCEN_FILTER"
  for w in "${want[@]}"; do
    found=0
    for s in "${SCENARIOS[@]}"; do [[ "${s%%|*}" == "$w" ]] && found=1; done
    (( found )) || { echo "run.sh: unknown scenario '$w'" >&2; exit 2; }
  done
fi

# ---- pinning ----
NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
PIN_CLIENT=() PIN_TARGET=()
if [[ $PIN == split ]]; then
  if command -v taskset >/dev/null && (( NCPU >= 2 )); then
    PIN_CLIENT=(taskset -c 0) PIN_TARGET=(taskset -c 1)
  else
    echo "run.sh: cannot pin (need taskset and 2 CPUs); running unpinned" >&2
    PIN=none
  fi
fi

# ---- build ----
mkdir -p "$BIN"
echo "building into $BIN ..."
if [[ -n "$CATFISH_BIN" ]]; then
  [[ -x "$CATFISH_BIN" ]] || { echo "run.sh: --catfish-bin $CATFISH_BIN is not an executable" >&2; exit 2; }
  CATFISH="$(cd "$(dirname "$CATFISH_BIN")" && pwd)/$(basename "$CATFISH_BIN")"
else
  (cd "$ROOT" && go build -o "$BIN/catfish" .)
  CATFISH="$BIN/catfish"
fi
(cd "$ROOT" && go build -o "$BIN/" ./bench/cmd/mock ./bench/cmd/baseline ./bench/cmd/load)
LOAD="$BIN/load"

TS=$(date +%Y%m%d-%H%M%S)
OUT="${OUT:-$HERE/results/$TS}"
mkdir -p "$OUT/logs" "$OUT/data"
OUT="$(cd "$OUT" && pwd)"
RES="$OUT/results.jsonl"
NOTES="$OUT/anomalies.txt"
: >"$RES"
: >"$NOTES"

# ---- process bookkeeping: only groups started here are ever signalled ----
declare -a PGIDS=()
LAST_PID=""
start_bg() { # dir logfile cmd...: runs cmd in dir as a new session; LAST_PID = its pid = pgid
  local dir=$1 log=$2; shift 2
  (cd "$dir" && exec setsid "$@") >"$log" 2>&1 </dev/null &
  LAST_PID=$!
  PGIDS+=("$LAST_PID")
}
STOP_FORCED=0
stop_pg() { # pid: TERM its group, wait up to 10 s, then KILL
  local pid=$1 i p keep=()
  STOP_FORCED=0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 -- "-$pid" 2>/dev/null; then
    STOP_FORCED=1
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  for p in "${PGIDS[@]}"; do [[ "$p" != "$pid" ]] && keep+=("$p"); done
  PGIDS=("${keep[@]}") # never signal a group id twice: it could be reused
}
cleanup() { local p; for p in "${PGIDS[@]}"; do stop_pg "$p"; done; return 0; }
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$MOCK_PORT" "${PORT[catfish]}" "${PORT[baseline]}"; do
  if port_busy "$p"; then echo "run.sh: port $p is in use; free it or pass --port-base" >&2; exit 1; fi
done

# write_config dir channels: catfish imports dir/config.json on a fresh DATA_DIR.
write_config() {
  local dir=$1 n=$2 i sep=""
  {
    printf '{"default":['
    for ((i = 1; i <= n; i++)); do
      printf '%s{"id":"bench-%04d","name":"mock %d","priority":1,"url":"http://127.0.0.1:%d/v1","api_key":"sk-upstream-mock-%04d"}' \
        "$sep" "$i" "$i" "$MOCK_PORT" "$i"
      sep=","
    done
    printf ']}\n'
  } >"$dir/config.json"
}

note() { echo "  ! $*" | tee -a "$NOTES" >&2; }

{
  echo "# catfish benchmark, $(date -u +%FT%TZ)"
  echo "# host: $(uname -n), $NCPU CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
  echo "# $(go version)"
  if [[ -n "$CATFISH_BIN" ]]; then
    echo "# catfish: $CATFISH (given with --catfish-bin)"
  else
    echo "# catfish: built from the working tree at $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)"
  fi
  echo "# pin=$PIN reps=$REPS duration=$DUR warmup=$WARMUP ulimit-n=$NOFILE ports=$MOCK_PORT..$((PORT_BASE + 2))"
  if [[ ${#CATFISH_ENV[@]} -gt 0 ]]; then echo "# catfish extra env: ${CATFISH_ENV[*]}"; fi
  if [[ -n "$C10K_NOTE" ]]; then echo "# note: $C10K_NOTE"; fi
} | tee "$OUT/meta.txt"

ENV_BASE=(env -i "PATH=$PATH" "HOME=${HOME:-/root}" TZ=UTC)
nruns=0 nfail=0
for rep in $(seq 1 "$REPS"); do
  for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r sname stargets nchan mflags lflags <<<"$s"
    scen_selected "$sname" || continue
    read -ra tlist <<<"$stargets"
    # Alternate the order per repetition so slow drift hits both alike.
    if (( rep % 2 == 0 )) && (( ${#tlist[@]} == 2 )); then tlist=("${tlist[1]}" "${tlist[0]}"); fi
    for t in "${tlist[@]}"; do
      [[ -n "$ONLY" && "$t" != "$ONLY" ]] && continue
      tag="$sname.r$rep"
      port=${PORT[$t]}
      url="http://127.0.0.1:$port/v1/chat/completions"

      # shellcheck disable=SC2086
      start_bg "$OUT" "$OUT/logs/mock.$t.$tag.log" "${PIN_CLIENT[@]}" "$BIN/mock" -addr "127.0.0.1:$MOCK_PORT" $mflags
      mpid=$LAST_PID
      if ! "$LOAD" -q -probe 10s -key sk-upstream-mock -url "http://127.0.0.1:$MOCK_PORT/v1/chat/completions"; then
        echo "run.sh: the mock did not come up (see $OUT/logs/mock.$t.$tag.log)" >&2
        exit 1
      fi

      dd=""
      if [[ $t == catfish ]]; then
        dd="$OUT/data/$t.$tag"
        mkdir -p "$dd"
        write_config "$dd" "$nchan"
        start_bg "$dd" "$OUT/logs/catfish.$tag.log" "${PIN_TARGET[@]}" "${ENV_BASE[@]}" \
          ADMIN_KEY=sk-bench HOST=127.0.0.1 PORT="$port" DATA_DIR="$dd" LOG_FORMAT=json \
          SHUTDOWN_TIMEOUT=5s "${CATFISH_ENV[@]}" "$CATFISH"
      else
        start_bg "$OUT" "$OUT/logs/baseline.$tag.log" "${PIN_TARGET[@]}" "${ENV_BASE[@]}" \
          "$BIN/baseline" -addr "127.0.0.1:$port" -upstream "http://127.0.0.1:$MOCK_PORT/v1" \
          -key sk-bench -upstream-key sk-upstream-mock
      fi
      tpid=$LAST_PID
      printf '%-9s %-8s rep %d: ' "$sname" "$t" "$rep"
      # Ready = one real chat completion answered (up to 60 s, less if it dies).
      ready=0
      for _ in $(seq 1 60); do
        if "$LOAD" -q -probe 1s -key sk-bench -url "$url" 2>>"$OUT/logs/load.$t.$tag.log"; then ready=1; break; fi
        kill -0 "$tpid" 2>/dev/null || break
      done
      if (( ! ready )); then
        tlog="$OUT/logs/$t.$tag.log"
        if kill -0 "$tpid" 2>/dev/null; then why="no chat completion within 60 s"; else why="exited at start"; fi
        echo "$why; skipped"
        detail=$(grep -m2 -E '^panic:|fatal|error' "$tlog" || tail -n 3 "$tlog")
        note "$t $tag: $why (logs/$t.$tag.log): $(echo "$detail" | tr '\n' ' ' | cut -c1-400)"
        stop_pg "$tpid"; stop_pg "$mpid"; nfail=$((nfail + 1))
        continue
      fi

      # shellcheck disable=SC2086
      line=$("${PIN_CLIENT[@]}" "$LOAD" -q -json $lflags $STRICT -d "$DUR" -warmup "$WARMUP" \
        -url "$url" -key sk-bench -pid-port "$port" -mock-port "$MOCK_PORT" \
        -target "$t" -scenario "$sname" -rep "$rep" -pin "$PIN" 2>>"$OUT/logs/load.$t.$tag.log") || true
      nruns=$((nruns + 1))
      if [[ "$line" == \{* ]]; then
        echo "$line" >>"$RES"
        echo "$line" | sed -E 's/.*"rps":([0-9.]+),"p50_us":([0-9.]+),.*"errors":([0-9]+),.*"cpu_us_per_req":([0-9.]+),.*"peak_rss_mib":([0-9.]+),.*"noise_pct":([0-9.]+).*/\1 req\/s, p50 \2 µs, CPU \4 µs\/req, peak RSS \5 MiB, errors \3, noise \6 %/'
        if [[ "$line" != *'"errors":0,'* ]]; then
          note "$t $tag: errors: $(echo "$line" | grep -o '"error_kinds":{[^}]*}'); first ones in logs/load.$t.$tag.log"
        fi
      else
        echo "no result (see logs/load.$t.$tag.log)"
        nfail=$((nfail + 1))
      fi

      if ! kill -0 "$tpid" 2>/dev/null; then
        note "$t $tag: $t exited during the run: $(grep -m3 -E 'panic|fatal' "$OUT/logs/$t.$tag.log" | tr '\n' ' ' | cut -c1-400)"
      fi
      stop_pg "$tpid"
      (( STOP_FORCED )) && note "$t $tag: $t did not stop within 10 s of SIGTERM (killed)"
      stop_pg "$mpid"
      if grep -q '"rejected":[1-9]' "$OUT/logs/mock.$t.$tag.log"; then
        note "$t $tag: the mock refused requests (wrong upstream key or body): $(grep -o '{"aborted.*' "$OUT/logs/mock.$t.$tag.log")"
      fi

      tlog="$OUT/logs/$t.$tag.log"
      if [[ $t == catfish ]]; then
        nerr=$(grep -c '"level":"ERROR"' "$tlog" || true)
        npanic=$(grep -c -E '^panic:|fatal error:' "$tlog" || true)
        (( npanic > 0 )) && note "$t $tag: catfish log shows a panic / fatal error (logs/$(basename "$tlog"))"
        (( nerr > 0 )) && note "$t $tag: catfish logged $nerr ERROR lines, e.g. $(grep -m1 '"level":"ERROR"' "$tlog" | cut -c1-300)"
        if (( KEEP_DATA == 0 )); then rm -rf "$dd"; fi
      fi
      # Keep logs small: one JSON line per request adds up.
      if [[ $(stat -c %s "$tlog") -gt 1048576 ]]; then gzip -1 -f "$tlog"; fi
    done
  done
done

echo
{
  cat "$OUT/meta.txt"
  echo
  "$LOAD" -report "$RES"
  if [[ -s "$NOTES" ]]; then
    echo
    echo "### Anomalies"
    echo
    sed 's/^  ! /- /' "$NOTES"
  fi
} | tee "$OUT/table.md"
echo
echo "runs: $nruns measured, $nfail failed or skipped; results in $OUT"
