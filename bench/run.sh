#!/usr/bin/env bash
# bench/run.sh: build tomo and tomo-bench if needed, start a fresh tomo on
# free loopback ports with a temporary data_dir (SQLite, or Postgres when
# TOMO_BENCH_PG=postgres://... is set), run the benchmark suite against it
# and print every table. Exit status: 0 if every scenario that ran passed.
#
# Usage: bench/run.sh [scenario ...]
#   scenarios: http rpc rpc-unwrap auth auth-new storage friends groups relay chat idle
#   (default: http rpc rpc-unwrap auth storage relay chat idle)
# Environment (all optional):
#   TOMO_BIN         tomo binary (default: <repo>/build/tomo, built if missing)
#   TOMO_BENCH_BIN   tomo-bench binary (default: <repo>/build/bench/tomo-bench,
#                    built by the root CMake project if missing or stale)
#   TOMO_BENCH_PG    Postgres URL for --database.address (migrated first)
#   BENCH_DURATION   measured seconds per load scenario (10)
#   BENCH_THREADS    tomo-bench threads (1)
#   BENCH_SESSIONS   idle sockets (10000; capped by RLIMIT_NOFILE)
#   BENCH_HOLD       idle hold seconds (35: two server ping periods)
#   BENCH_SOURCE_IPS idle source addresses 127.0.0.2.. (1)
#   BENCH_MATCHES, BENCH_PLAYERS, BENCH_RATE     relay (200, 4, 50)
#   BENCH_MEMBERS, BENCH_CHAT_RATE               chat (100, 5)
#   BENCH_FRIENDS, BENCH_GROUP_MEMBERS           friends, groups (1000, 10000)
#   TOMO_LOOPS       socket.loops for the server (default: the server's own);
#                    each scenario then also prints the CPU of every loop thread
#   BENCH_OUT        also append the output to this file (default:
#                    bench/results/run-<UTC time>.md, ignored by git; '' = none)
# Only loopback traffic; every scenario is bounded in time by its flags.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tmp=${TMPDIR:-/tmp}

scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(http rpc rpc-unwrap auth storage relay chat idle)
duration=${BENCH_DURATION:-10}
if [ -z "${BENCH_OUT+set}" ]; then
    mkdir -p "$here/results"
    BENCH_OUT=$here/results/run-$(date -u +%Y%m%dT%H%M%SZ).md
fi
threads=${BENCH_THREADS:-1}

log() { echo "run.sh: $*" >&2; }

# --- build -------------------------------------------------------------------
tomo=${TOMO_BIN:-$repo/build/tomo}
if [ ! -x "$tomo" ]; then
    log "building tomo in $repo/build"
    cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build "$repo/build" -j"$(nproc)" --target tomo >/dev/null || {
        log "tomo build failed"
        exit 2
    }
fi
bench=${TOMO_BENCH_BIN:-}
if [ -z "$bench" ]; then
    if [ -x "$repo/build/bench/tomo-bench" ] &&
        [ -z "$(find "$here" -newer "$repo/build/bench/tomo-bench" -name '*.[ch]' -print -quit)" ]; then
        bench=$repo/build/bench/tomo-bench
    else
        cmake --build "$repo/build" -j"$(nproc)" --target tomo-bench >/dev/null || exit 2
        bench=$repo/build/bench/tomo-bench
    fi
fi

# --- free ports ----------------------------------------------------------------
# Five consecutive free ports: base (left free: Nakama's gRPC port is
# socket.port-1), api, ws, console, metrics.
port_busy() { ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .; }
base=
for _ in $(seq 1 50); do
    b=$((20000 + RANDOM % 30000))
    ok=1
    for p in $b $((b + 1)) $((b + 2)) $((b + 3)) $((b + 4)); do
        port_busy "$p" && ok=0
    done
    [ $ok = 1 ] && base=$b && break
done
[ -n "$base" ] || { log "no free ports"; exit 2; }
api=$((base + 1)) ws=$((base + 2)) console=$((base + 3)) metrics=$((base + 4))

# --- server --------------------------------------------------------------------
data=$(mktemp -d "$tmp/tomo-bench-data.XXXXXX")
srv_pid=
cleanup() {
    if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
        kill "$srv_pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$srv_pid" 2>/dev/null
    fi
    rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sockets need descriptors, in the server and in tomo-bench alike.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
args=(--data_dir "$data" --socket.address 127.0.0.1 --socket.port "$api" --socket.ws_port "$ws"
    --console.port "$console" --metrics.prometheus_port "$metrics"
    --session.token_expiry_sec 7200 --logger.level warn)
[ -n "${TOMO_LOOPS:-}" ] && args+=(--socket.loops "$TOMO_LOOPS")
if [ -n "${TOMO_BENCH_PG:-}" ]; then
    args+=(--database.address "$TOMO_BENCH_PG")
    "$tomo" migrate up "${args[@]}" >"$data/migrate.log" 2>&1 || {
        log "migrate up failed:"; cat "$data/migrate.log" >&2; exit 2; }
fi
# The echo RPC (Lua) for the rpc scenario.
mkdir -p "$data/modules" && cp "$here/modules/echo.lua" "$data/modules/"
"$tomo" "${args[@]}" >"$data/tomo.log" 2>&1 &
srv_pid=$!
for _ in $(seq 1 100); do
    curl -sf -m 1 "http://127.0.0.1:$api/healthcheck" >/dev/null && break
    kill -0 "$srv_pid" 2>/dev/null || { log "tomo exited:"; tail -20 "$data/tomo.log" >&2; exit 2; }
    sleep 0.1
done
curl -sf -m 1 "http://127.0.0.1:$api/healthcheck" >/dev/null || { log "tomo not healthy"; exit 2; }

# --- what the server supports ------------------------------------------------------
basic="Basic $(printf 'defaultkey:' | base64)"
auth_body=$(curl -s -m 5 -X POST "http://127.0.0.1:$api/v2/account/authenticate/device?create=true&" \
    -H "Authorization: $basic" -H 'Content-Type: application/json' \
    -d '{"id":"tomo-bench-probe-0001"}')
token=$(printf '%s' "$auth_body" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
has_auth=0 has_storage=0 has_ws=0 has_rpc=0
code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X POST \
    "http://127.0.0.1:$api/v2/rpc/echo?http_key=defaulthttpkey" -d '"{}"')
[ "$code" = 200 ] && has_rpc=1
if [ -n "$token" ]; then
    has_auth=1
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -X PUT "http://127.0.0.1:$api/v2/storage" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        -d '{"objects":[{"collection":"bench","key":"probe","value":"{\"a\":1}"}]}')
    [ "$code" = 200 ] && has_storage=1
    up=$(curl -s -i -m 2 -N "http://127.0.0.1:$ws/ws?token=$token&format=json&status=false" \
        -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
        -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' 2>/dev/null | head -1)
    case "$up" in *101*) has_ws=1 ;; esac
fi

# --- machine ---------------------------------------------------------------------
out() { if [ -n "${BENCH_OUT:-}" ]; then tee -a "$BENCH_OUT"; else cat; fi; }
{
    echo "# tomo benchmark suite"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- tomo: $("$tomo" version 2>/dev/null | head -1), commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
    echo "- database: $([ -n "${TOMO_BENCH_PG:-}" ] && echo Postgres || echo SQLite in a temp data_dir)"
    echo "- server: pid $srv_pid, api port $api, ws port $ws; tomo-bench threads $threads; RLIMIT_NOFILE $(ulimit -n)"
    echo "- server supports: device auth=$has_auth storage=$has_storage socket=$has_ws lua rpc=$has_rpc"
    echo "- idle RSS: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$srv_pid/status)"
    echo
} | out

# --- scenarios -------------------------------------------------------------------------
common=(--host 127.0.0.1 --http-port "$api" --ws-port "$ws" --server-pid "$srv_pid" --threads "$threads")
nofile=$(ulimit -n)
sessions=${BENCH_SESSIONS:-10000}
# Leave room for the server's other descriptors and tomo-bench's HTTP pool.
[ "$sessions" -gt $((nofile - 200)) ] && sessions=$((nofile - 200))

# CPU ticks of the loop threads: loop 0 is the main thread (tid = pid), the
# others are named tomo-loop-<k> (serve.c).
loop_ticks() {
    for t in /proc/"$srv_pid"/task/*; do
        local tid=${t##*/} comm
        comm=$(cat "$t/comm" 2>/dev/null) || continue
        if [ "$tid" = "$srv_pid" ]; then comm=loop-0; fi
        case "$comm" in loop-0 | tomo-loop-*) ;; *) continue ;; esac
        awk -v c="${comm#tomo-}" '{ sub(/^.*\) /, ""); print c, $12 + $13 }' "$t/stat"
    done | sort
}
hz=$(getconf CLK_TCK)

failed=0 ran=0
for sc in "${scenarios[@]}"; do
    need=0
    case "$sc" in
    http) cmd=(http --duration "$duration" --conns 16) ;;
    rpc) need=$has_rpc; cmd=(http --duration "$duration" --conns 16
        --path '/v2/rpc/echo?http_key=defaulthttpkey' --body '"{\"hello\":\"world\"}"') ;;
    rpc-unwrap) need=$has_rpc; cmd=(http --duration "$duration" --conns 16
        --path '/v2/rpc/echo?http_key=defaulthttpkey&unwrap' --body '{"hello":"world"}') ;;
    auth) need=$has_auth; cmd=(auth --mode existing --duration "$duration" --conns 32 --pool 1000) ;;
    auth-new) need=$has_auth; cmd=(auth --mode new --duration "$duration" --conns 32) ;;
    storage) need=$has_storage; cmd=(storage --duration "$duration" --conns 32 --write-ratio 0.5) ;;
    relay) need=$has_ws; cmd=(relay --duration "$duration" --matches "${BENCH_MATCHES:-200}"
        --players "${BENCH_PLAYERS:-4}" --rate "${BENCH_RATE:-50}") ;;
    chat) need=$has_ws; cmd=(chat --duration "$duration" --members "${BENCH_MEMBERS:-100}"
        --rate "${BENCH_CHAT_RATE:-5}") ;;
    friends) need=$has_auth; cmd=(social --mode friends --users "${BENCH_FRIENDS:-1000}"
        --duration "$duration" --conns 16) ;;
    groups) need=$has_auth; cmd=(social --mode groups --users "${BENCH_GROUP_MEMBERS:-10000}"
        --duration "$duration" --conns 16) ;;
    # --source-ips: tomo-bench picks its local ports (see docs/BENCHMARKS.md).
    idle) need=$has_ws; cmd=(idle --sessions "$sessions" --hold "${BENCH_HOLD:-35}" --conns 32
        --source-ips "${BENCH_SOURCE_IPS:-1}") ;;
    *) log "unknown scenario $sc"; failed=1; continue ;;
    esac
    case "$sc" in http) need=1 ;; esac
    if [ "$need" != 1 ]; then
        echo "## $sc: skipped (the server does not support it yet)" | out
        echo | out
        continue
    fi
    kill -0 "$srv_pid" 2>/dev/null || { echo "## $sc: skipped (tomo is gone)" | out; failed=1; continue; }
    ran=$((ran + 1))
    # Hard bound per scenario, on top of its own time limits.
    t0=$(loop_ticks) s0=$(date +%s.%N)
    timeout -k 5 170 "$bench" "${cmd[@]}" "${common[@]}" --quiet 2>&1 | out
    rc=${PIPESTATUS[0]}
    if [ -n "${TOMO_LOOPS:-}" ]; then
        t1=$(loop_ticks) s1=$(date +%s.%N)
        echo "- server CPU per loop thread (socket.loops $TOMO_LOOPS, % of one core over the run):" \
            "$(join <(echo "$t0") <(echo "$t1") | awk -v hz="$hz" -v d="$(echo "$s1 - $s0" | bc)" \
                '{ printf "%s %.0f%%  ", $1, 100 * ($3 - $2) / hz / d }')" | out
    fi
    [ "$rc" != 0 ] && failed=1 && echo "($sc exited $rc)" | out
    echo | out
done
echo "- server RSS at the end: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$srv_pid/status 2>/dev/null)" | out
[ -n "${BENCH_OUT:-}" ] && log "results also in $BENCH_OUT"
[ "$ran" = 0 ] && { log "no scenario ran"; exit 1; }
exit $failed
