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
#   bench/run.sh --compare ac9d642   # and catfish built at ac9d642 as a third target
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
CATFISH_REV=""
COMPARE_REV=""
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
  --scenarios A,B      only these scenarios; shell patterns work, quoted:
                       --scenarios 'tr-*,ns-c64,st-c64,st-c1000' (default: all)
  --only T             only this target: catfish, baseline or compare
  --pin split|none     split (default): load generator + mock on CPU 0,
                       target on CPU 1; none: no pinning (the target then
                       gets two cores: make one such pass for correctness)
  --port-base P        mock on P, catfish on P+1, baseline on P+2, the --compare
                       build on P+3 (default 19200)
  --catfish-bin PATH   measure this catfish binary instead of building the tree
  --catfish-rev REV    build catfish at git revision REV (in a temporary
                       directory) instead of the working tree
  --compare REV        also build catfish at git revision REV and measure it
                       as a third target, "catfish@<short REV>", in every
                       scenario catfish runs (it skips what it does not
                       serve); the table then compares the two builds and
                       gives the gates' ratios for each (e.g. ac9d642, the
                       tree before the redesign of #11)
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

Dialects (catfish only; compared with catfish's own ns-c64, st-c64, st-c1000).
Streams carry the same 20 content events of 16 B as st-c64 / st-c1000:
  pt-msg-ns-c64, pt-msg-st-c64     Messages client, anthropic channel (passthrough)
  pt-resp-ns-c64, pt-resp-st-c64   Responses client, openai channel with
                                   responses: true (passthrough)
  tr-X-ns-c64, tr-X-st-c64, tr-X-st-c1000, for each translation X:
    msg-chat    Messages client (/v1/messages, x-api-key), openai channel
    chat-msg    chat client, anthropic channel
    resp-chat   Responses client (/v1/responses), openai channel
    resp-msg    Responses client, anthropic channel
Client keys (catfish only; compared with ns-c64, which uses ADMIN_KEY):
  keys-ns-c64       1,000 client keys made through POST /admin/keys before
                    the run; every request uses the next one
  keys-lim-ns-c64   the same with rpm and tpm limits set too high to reach
A build that answers a dialect or /admin/keys with 400, 404, 405 or 501 has
that scenario skipped, with the answer in the table.
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
    --catfish-rev) CATFISH_REV="$2"; shift 2 ;;
    --compare)     COMPARE_REV="$2"; shift 2 ;;
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
[[ -z "$ONLY" || "$ONLY" == catfish || "$ONLY" == baseline || "$ONLY" == compare ]] || { echo "run.sh: --only wants catfish, baseline or compare" >&2; exit 2; }
[[ -z "$CATFISH_BIN" || -z "$CATFISH_REV" ]] || { echo "run.sh: --catfish-bin and --catfish-rev exclude each other" >&2; exit 2; }
[[ "$ONLY" != compare || -n "$COMPARE_REV" ]] || { echo "run.sh: --only compare needs --compare REV" >&2; exit 2; }
for kv in "${CATFISH_ENV[@]}"; do
  [[ "$kv" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "run.sh: --catfish-env wants NAME=VALUE, got '$kv'" >&2; exit 2; }
done
MOCK_PORT=$PORT_BASE
declare -A PORT=([catfish]=$((PORT_BASE + 1)) [baseline]=$((PORT_BASE + 2)))

# resolve_rev REV: the full commit id of REV in this repository.
resolve_rev() {
  git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}" 2>/dev/null ||
    { echo "run.sh: '$1' is not a commit of $ROOT" >&2; exit 2; }
}
CMP_T="" # the compare target's name: catfish@<short rev>
if [[ -n "$COMPARE_REV" ]]; then
  COMPARE_FULL=$(resolve_rev "$COMPARE_REV")
  CMP_T="catfish@$(git -C "$ROOT" rev-parse --short "$COMPARE_FULL")"
  PORT[$CMP_T]=$((PORT_BASE + 3))
fi
if [[ -n "$CATFISH_REV" ]]; then CATFISH_FULL=$(resolve_rev "$CATFISH_REV"); fi
is_catfish() { [[ "$1" == catfish || ( -n "$CMP_T" && "$1" == "$CMP_T" ) ]]; }

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

# ---- scenarios ----
# name | targets | channels | mock flags | load flags | client dialect |
#   channel kind | setup
# "catfish" in targets also means the --compare build. Client dialect: chat,
# messages or responses (load -dialect). Channel kind: openai (as ever),
# anthropic ("type": "anthropic") or responses (an openai channel with
# "responses": true). Setup: keys (1,000 client keys, one per request) or
# keys-lim (the same with limits). A scenario with an empty dialect is one
# of the original seven and runs exactly as it always did.
STREAM="-stream -include-usage -expect-events 23"
MS5="-chunks 20 -chunk-size 16 -chunk-delay 5ms"
MS50="-chunks 20 -chunk-size 16 -chunk-delay 50ms"
TRST="-stream -expect-content 20"
SCENARIOS=(
  "ns-c1|catfish baseline|1||-c 1"
  "ns-c64|catfish baseline|1||-c 64"
  "ns-c256|catfish baseline|1||-c 256"
  "st-c64|catfish baseline|1|$MS5|-c 64 $STREAM"
  "st-c1000|catfish baseline|1|$MS50|-c 1000 -ramp 1s $STREAM"
  "st-c10000|catfish|1|-chunks 20 -chunk-size 16 -chunk-delay 500ms|-c $C10K -ramp 10s -min-warmup 5s -min-d 5s $STREAM"
  "ch1000|catfish|1000||-c 64"
  "pt-msg-ns-c64|catfish|1||-c 64|messages|anthropic|"
  "pt-msg-st-c64|catfish|1|$MS5|-c 64 $TRST -expect-events 25|messages|anthropic|"
  "pt-resp-ns-c64|catfish|1||-c 64|responses|responses|"
  "pt-resp-st-c64|catfish|1|$MS5|-c 64 $TRST -expect-events 28|responses|responses|"
)
# The translations: name, client dialect, channel kind, extra load flags.
for tr in "msg-chat messages openai" "chat-msg chat anthropic" "resp-chat responses openai" "resp-msg responses anthropic"; do
  read -r trn trd trc <<<"$tr"
  ns_extra="" st_extra=""
  if [[ $trd == chat ]]; then ns_extra="-check-usage"; st_extra="-include-usage"; fi
  SCENARIOS+=(
    "tr-$trn-ns-c64|catfish|1||-c 64 $ns_extra|$trd|$trc|"
    "tr-$trn-st-c64|catfish|1|$MS5|-c 64 $TRST $st_extra|$trd|$trc|"
    "tr-$trn-st-c1000|catfish|1|$MS50|-c 1000 -ramp 1s $TRST $st_extra|$trd|$trc|"
  )
done
SCENARIOS+=(
  "keys-ns-c64|catfish|1||-c 64|chat|openai|keys"
  "keys-lim-ns-c64|catfish|1||-c 64|chat|openai|keys-lim"
)
NKEYS=1000
# scen_selected NAME: true if a --scenarios pattern matches NAME.
scen_selected() {
  [[ -z "$SCEN_FILTER" ]] && return 0
  local p
  IFS=, read -ra pats <<<"$SCEN_FILTER"
  for p in "${pats[@]}"; do
    # shellcheck disable=SC2053
    [[ "$1" == $p ]] && return 0
  done
  return 1
}
if [[ -n "$SCEN_FILTER" ]]; then
  IFS=, read -ra want <<<"$SCEN_FILTER"
  for w in "${want[@]}"; do
    found=0
    # shellcheck disable=SC2053
    for s in "${SCENARIOS[@]}"; do [[ "${s%%|*}" == $w ]] && found=1; done
    (( found )) || { echo "run.sh: no scenario matches '$w'" >&2; exit 2; }
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
# build_rev COMMIT: catfish as of COMMIT, built from `git archive` in a
# temporary directory into $BIN/catfish-COMMIT (kept: a commit's build does
# not change). The working tree is not touched.
build_rev() {
  local full=$1 out="$BIN/catfish-$1" tmp
  if [[ -x "$out" ]]; then echo "$out"; return 0; fi
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/catfish-bench-src.XXXXXX")
  if ! git -C "$ROOT" archive --format=tar "$full" | tar -x -C "$tmp"; then
    rm -rf "$tmp"; echo "run.sh: git archive $full failed" >&2; return 1
  fi
  echo "building catfish at $(git -C "$ROOT" rev-parse --short "$full") ..." >&2
  if ! (cd "$tmp" && go build -o "$out.tmp" .) >&2; then
    rm -rf "$tmp" "$out.tmp"; echo "run.sh: catfish at $full does not build" >&2; return 1
  fi
  rm -rf "$tmp"
  mv "$out.tmp" "$out"
  echo "$out"
}
if [[ -n "$CATFISH_BIN" ]]; then
  [[ -x "$CATFISH_BIN" ]] || { echo "run.sh: --catfish-bin $CATFISH_BIN is not an executable" >&2; exit 2; }
  CATFISH="$(cd "$(dirname "$CATFISH_BIN")" && pwd)/$(basename "$CATFISH_BIN")"
elif [[ -n "$CATFISH_REV" ]]; then
  CATFISH=$(build_rev "$CATFISH_FULL") || exit 1
else
  if ! (cd "$ROOT" && go build -o "$BIN/catfish" .); then
    echo "run.sh: the working tree does not build; measure a commit that does with --catfish-rev REV (or --catfish-bin PATH)" >&2
    exit 1
  fi
  CATFISH="$BIN/catfish"
fi
declare -A CATBIN=([catfish]="$CATFISH")
if [[ -n "$CMP_T" ]]; then
  CATBIN[$CMP_T]=$(build_rev "$COMPARE_FULL") || exit 1
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
for p in "$MOCK_PORT" "${PORT[@]}"; do
  if port_busy "$p"; then echo "run.sh: port $p is in use; free it or pass --port-base" >&2; exit 1; fi
done

# write_config dir channels [kind]: catfish imports dir/config.json on a
# fresh DATA_DIR. kind: openai (the default: no type written, as ever),
# anthropic ("type": "anthropic"), responses ("responses": true).
write_config() {
  local dir=$1 n=$2 kind=${3:-openai} i sep="" extra=""
  case $kind in
    anthropic) extra=',"type":"anthropic"' ;;
    responses) extra=',"type":"openai","responses":true' ;;
  esac
  {
    printf '{"default":['
    for ((i = 1; i <= n; i++)); do
      printf '%s{"id":"bench-%04d","name":"mock %d","priority":1,"url":"http://127.0.0.1:%d/v1","api_key":"sk-upstream-mock-%04d"%s}' \
        "$sep" "$i" "$i" "$MOCK_PORT" "$i" "$extra"
      sep=","
    done
    printf ']}\n'
  } >"$dir/config.json"
}

# skip_record scenario target rep why: a line for the report saying why a
# cell was not measured.
skip_record() {
  local why
  why=$(printf '%s' "$4" | tr -d '\000-\037' | cut -c1-300)
  why=${why//\\/\\\\}
  why=${why//\"/\\\"}
  printf '{"scenario":"%s","target":"%s","rep":%d,"skipped":"%s"}\n' "$1" "$2" "$3" "$why" >>"$RES"
}

note() { echo "  ! $*" | tee -a "$NOTES" >&2; }

{
  echo "# catfish benchmark, $(date -u +%FT%TZ)"
  echo "# host: $(uname -n), $NCPU CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
  echo "# $(go version)"
  if [[ -n "$CATFISH_BIN" ]]; then
    echo "# catfish: $CATFISH (given with --catfish-bin)"
  elif [[ -n "$CATFISH_REV" ]]; then
    echo "# catfish: built at $CATFISH_REV = $CATFISH_FULL (--catfish-rev)"
  else
    echo "# catfish: built from the working tree at $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo unknown)"
  fi
  if [[ -n "$CMP_T" ]]; then echo "# $CMP_T: built at $COMPARE_REV = $COMPARE_FULL (--compare), port ${PORT[$CMP_T]}"; fi
  echo "# pin=$PIN reps=$REPS duration=$DUR warmup=$WARMUP ulimit-n=$NOFILE ports=$MOCK_PORT..$((PORT_BASE + ${#PORT[@]}))"
  if [[ ${#CATFISH_ENV[@]} -gt 0 ]]; then echo "# catfish extra env: ${CATFISH_ENV[*]}"; fi
  if [[ -n "$C10K_NOTE" ]]; then echo "# note: $C10K_NOTE"; fi
} | tee "$OUT/meta.txt"

ENV_BASE=(env -i "PATH=$PATH" "HOME=${HOME:-/root}" TZ=UTC)
nruns=0 nfail=0 nskip=0
for rep in $(seq 1 "$REPS"); do
  for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r sname stargets nchan mflags lflags sdialect skind ssetup <<<"$s"
    scen_selected "$sname" || continue
    # The original seven scenarios run exactly as they always did; the
    # others (a dialect given) speak that dialect to a channel of that kind.
    newstyle=0
    [[ -n "$sdialect" ]] && newstyle=1
    sdialect=${sdialect:-chat} skind=${skind:-openai}
    read -ra tlist <<<"${stargets/catfish/catfish $CMP_T}"
    # Rotate the order per repetition so slow drift hits every target alike
    # (with two targets: swapped on even repetitions).
    if (( ${#tlist[@]} > 1 )); then
      k=$(( (rep - 1) % ${#tlist[@]} ))
      tlist=("${tlist[@]:k}" "${tlist[@]:0:k}")
    fi
    for t in "${tlist[@]}"; do
      if [[ -n "$ONLY" ]]; then
        want=$ONLY
        [[ $ONLY == compare ]] && want=$CMP_T
        [[ "$t" != "$want" ]] && continue
      fi
      tag="$sname.r$rep"
      port=${PORT[$t]}
      case $sdialect in
        messages) path=/v1/messages ;;
        responses) path=/v1/responses ;;
        *) path=/v1/chat/completions ;;
      esac
      url="http://127.0.0.1:$port$path"

      # The mock of a new scenario serves only its channel's dialect, so a
      # request sent to the wrong endpoint fails (404) instead of passing.
      mdial=chat mpath=/v1/chat/completions mdflags=""
      if (( newstyle )); then
        case $skind in
          anthropic) mdial=messages mpath=/v1/messages ;;
          responses) mdial=responses mpath=/v1/responses ;;
        esac
        mdflags="-dialects $mdial"
      fi
      # shellcheck disable=SC2086
      start_bg "$OUT" "$OUT/logs/mock.$t.$tag.log" "${PIN_CLIENT[@]}" "$BIN/mock" -addr "127.0.0.1:$MOCK_PORT" $mflags $mdflags
      mpid=$LAST_PID
      if ! "$LOAD" -q -probe 10s -key sk-upstream-mock -dialect "$mdial" -url "http://127.0.0.1:$MOCK_PORT$mpath"; then
        echo "run.sh: the mock did not come up (see $OUT/logs/mock.$t.$tag.log)" >&2
        exit 1
      fi

      dd=""
      tlog="$OUT/logs/$t.$tag.log"
      if is_catfish "$t"; then
        dd="$OUT/data/$t.$tag"
        mkdir -p "$dd"
        write_config "$dd" "$nchan" "$skind"
        start_bg "$dd" "$tlog" "${PIN_TARGET[@]}" "${ENV_BASE[@]}" \
          ADMIN_KEY=sk-bench HOST=127.0.0.1 PORT="$port" DATA_DIR="$dd" LOG_FORMAT=json \
          SHUTDOWN_TIMEOUT=5s "${CATFISH_ENV[@]}" "${CATBIN[$t]}"
      else
        start_bg "$OUT" "$tlog" "${PIN_TARGET[@]}" "${ENV_BASE[@]}" \
          "$BIN/baseline" -addr "127.0.0.1:$port" -upstream "http://127.0.0.1:$MOCK_PORT/v1" \
          -key sk-bench -upstream-key sk-upstream-mock
      fi
      tpid=$LAST_PID
      printf '%-22s %-16s rep %d: ' "$sname" "$t" "$rep"
      ready=0 why="" keyflags=()
      llog="$OUT/logs/load.$t.$tag.log"
      if (( ! newstyle )); then
        # Ready = one real chat completion answered (up to 60 s, less if it dies).
        for _ in $(seq 1 60); do
          if "$LOAD" -q -probe 1s -key sk-bench -url "$url" 2>>"$llog"; then ready=1; break; fi
          kill -0 "$tpid" 2>/dev/null || break
        done
        if (( ! ready )); then
          if kill -0 "$tpid" 2>/dev/null; then why="no chat completion within 60 s"; else why="exited at start"; fi
        fi
      else
        # Up = the port answers (up to 60 s, less if it dies).
        for _ in $(seq 1 600); do
          port_busy "$port" && { ready=1; break; }
          kill -0 "$tpid" 2>/dev/null || break
          sleep 0.1
        done
        if (( ! ready )); then
          if kill -0 "$tpid" 2>/dev/null; then why="port $port not open within 60 s"; else why="exited at start"; fi
        fi
        # Client keys, through the admin API.
        if (( ready )) && [[ $ssetup == keys* ]]; then
          kflags=()
          [[ $ssetup == keys-lim ]] && kflags=(-key-rpm 1000000000 -key-tpm 1000000000000)
          rc=0
          "$LOAD" -make-keys "$NKEYS" -keys-out "$dd/keys.txt" -url "http://127.0.0.1:$port" -key sk-bench \
            "${kflags[@]}" 2>>"$llog" || rc=$?
          if (( rc != 0 )); then
            ready=0
            detail=$(grep 'make-keys' "$llog" | tail -n 1 | cut -c1-300 || true)
            if (( rc == 3 )); then why="unsupported: no client keys ($detail)"; else why="making $NKEYS client keys failed: $detail"; fi
          else
            keyflags=(-keys-file "$dd/keys.txt")
          fi
        fi
        # Does it serve this dialect over this channel kind? One verified
        # request; 400/404/405/501 means no (exit 3): skipped. Any other
        # refusal (exit 4) or a wrong answer is a failure of the build.
        if (( ready )); then
          rc=0
          # shellcheck disable=SC2086
          "$LOAD" -probe 10s -probe-unsupported -dialect "$sdialect" -key sk-bench "${keyflags[@]}" \
            -url "$url" $lflags 2>>"$llog" || rc=$?
          if (( rc != 0 )); then
            ready=0
            detail=$(grep -E '^load: ' "$llog" | tail -n 1 | cut -c1-300 || true)
            case $rc in
              3) why="unsupported: $sdialect client, $skind channel: $detail" ;;
              4) why="$sdialect client, $skind channel: refused: $detail" ;;
              *) why="$sdialect client, $skind channel: no verified answer within 10 s: $detail" ;;
            esac
          fi
        fi
      fi
      if (( ! ready )); then
        if [[ $why == unsupported:* ]] || { [[ $t == "$CMP_T" ]] && (( newstyle )); }; then
          # Not served by this build: skipped cleanly, said in the table.
          echo "skipped: ${why#unsupported: }"
          skip_record "$sname" "$t" "$rep" "${why#unsupported: }"
          nskip=$((nskip + 1))
        else
          echo "$why; skipped"
          detail=$(grep -m2 -E '^panic:|fatal|error' "$tlog" || tail -n 3 "$tlog")
          note "$t $tag: $why (logs/$t.$tag.log): $(echo "$detail" | tr '\n' ' ' | cut -c1-400)"
          skip_record "$sname" "$t" "$rep" "failed: $why"
          nfail=$((nfail + 1))
        fi
        stop_pg "$tpid"; stop_pg "$mpid"
        if is_catfish "$t" && (( KEEP_DATA == 0 )); then rm -rf "$dd"; fi
        continue
      fi

      dflags=()
      (( newstyle )) && dflags=(-dialect "$sdialect")
      # shellcheck disable=SC2086
      line=$("${PIN_CLIENT[@]}" "$LOAD" -q -json $lflags $STRICT -d "$DUR" -warmup "$WARMUP" \
        -url "$url" -key sk-bench "${dflags[@]}" "${keyflags[@]}" -pid-port "$port" -mock-port "$MOCK_PORT" \
        -target "$t" -scenario "$sname" -rep "$rep" -pin "$PIN" 2>>"$llog") || true
      nruns=$((nruns + 1))
      if [[ "$line" == \{* ]]; then
        echo "$line" >>"$RES"
        echo "$line" | sed -E 's/.*"rps":([0-9.]+),"p50_us":([0-9.]+),.*"errors":([0-9]+),.*"cpu_us_per_req":([0-9.]+),.*"peak_rss_mib":([0-9.]+),.*"noise_pct":([0-9.]+).*/\1 req\/s, p50 \2 µs, CPU \4 µs\/req, peak RSS \5 MiB, errors \3, noise \6 %/'
        if [[ "$line" != *'"errors":0,'* ]]; then
          note "$t $tag: errors: $(echo "$line" | grep -o '"error_kinds":{[^}]*}'); first ones in logs/load.$t.$tag.log"
        fi
        if [[ "$line" == *'"requests":0,'* ]]; then
          note "$t $tag: no request completed inside the measured window (a starved machine, or requests longer than --duration): its figures mean nothing"
        fi
      else
        echo "no result (see logs/load.$t.$tag.log)"
        nfail=$((nfail + 1))
      fi

      if ! kill -0 "$tpid" 2>/dev/null; then
        note "$t $tag: $t exited during the run: $(grep -m3 -E 'panic|fatal' "$tlog" | tr '\n' ' ' | cut -c1-400)"
      fi
      stop_pg "$tpid"
      (( STOP_FORCED )) && note "$t $tag: $t did not stop within 10 s of SIGTERM (killed)"
      stop_pg "$mpid"
      if grep -q '"rejected":[1-9]' "$OUT/logs/mock.$t.$tag.log"; then
        note "$t $tag: the mock refused requests (wrong upstream key, body or endpoint): $(grep -o '{"aborted.*' "$OUT/logs/mock.$t.$tag.log")"
      fi

      if is_catfish "$t"; then
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
echo "runs: $nruns measured, $nfail failed, $nskip skipped (not served by the build); results in $OUT"
