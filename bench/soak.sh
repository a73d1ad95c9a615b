#!/usr/bin/env bash
# bench/soak.sh: bounded soak test. Starts tomo (SQLite in a temp data_dir,
# or TOMO_BENCH_PG), then runs SOAK_ROUNDS rounds of mixed load at once for
# SOAK_SECONDS each: device auth, storage writes/reads, a chat room and
# relayed matches (tomo-bench auth, storage, chat and relay side by side),
# with a pause between rounds. The server's RSS and open descriptors are
# sampled every second; the table shows them at start, the peak during each
# round and after each round's pause. Exit 1 when a load run failed, or when
# after-round RSS grew by more than SOAK_MAX_GROWTH_KB (default 2048) or the
# descriptor count grew at all from round 2 to the last round (the first
# round warms caches and pools; growth after it is a leak).
#   bench/soak.sh                         # 3 rounds x 60 s
#   SOAK_ROUNDS=5 SOAK_SECONDS=120 bench/soak.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
rounds=${SOAK_ROUNDS:-3}
secs=${SOAK_SECONDS:-60}
pause=${SOAK_PAUSE:-5}
max_growth=${SOAK_MAX_GROWTH_KB:-2048}
tomo=${TOMO_BIN:-$repo/build/tomo}
bench=${TOMO_BENCH_BIN:-$repo/build/bench/tomo-bench}
log() { echo "soak.sh: $*" >&2; }
if [ ! -x "$tomo" ] || [ ! -x "$bench" ]; then
    cmake -S "$repo" -B "$repo/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build "$repo/build" -j"$(nproc)" --target tomo tomo-bench >/dev/null ||
        { log "build failed"; exit 2; }
fi

port_busy() { ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .; }
base=
for _ in $(seq 1 50); do
    b=$((20000 + RANDOM % 30000)); ok=1
    for p in $b $((b + 1)) $((b + 2)) $((b + 3)); do port_busy "$p" && ok=0; done
    [ $ok = 1 ] && base=$b && break
done
[ -n "$base" ] || { log "no free ports"; exit 2; }
api=$base ws=$((base + 1)) console=$((base + 2)) metrics=$((base + 3))
data=$(mktemp -d "${TMPDIR:-/tmp}/tomo-soak.XXXXXX")
srv_pid='' sampler=''
cleanup() {
    [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
        kill "$srv_pid"; for _ in $(seq 1 50); do kill -0 "$srv_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$srv_pid" 2>/dev/null
    fi
    rm -rf "$data"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null
args=(--data_dir "$data" --socket.address 127.0.0.1 --socket.port "$api" --socket.ws_port "$ws"
    --console.port "$console" --metrics.prometheus_port "$metrics"
    --session.token_expiry_sec 7200 --logger.level warn)
if [ -n "${TOMO_BENCH_PG:-}" ]; then
    args+=(--database.address "$TOMO_BENCH_PG")
    "$tomo" migrate up "${args[@]}" >"$data/migrate.log" 2>&1 || { log "migrate failed"; exit 2; }
fi
"$tomo" "${args[@]}" >"$data/tomo.log" 2>&1 &
srv_pid=$!
for _ in $(seq 1 100); do
    curl -sf -m 1 "http://127.0.0.1:$api/healthcheck" >/dev/null && break
    kill -0 "$srv_pid" 2>/dev/null || { log "tomo exited:"; tail -20 "$data/tomo.log" >&2; exit 2; }
    sleep 0.1
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$srv_pid/status"; }
fds() { ls "/proc/$srv_pid/fd" 2>/dev/null | wc -l; }
# background sampler: "rss fds" once a second
(while kill -0 "$srv_pid" 2>/dev/null; do echo "$(rss) $(fds)" >>"$data/samples"; sleep 1; done) &
sampler=$!

common=(--host 127.0.0.1 --http-port "$api" --ws-port "$ws" --warmup 0 --duration "$secs" --quiet
    --max-error-rate 0.001)
start_rss=$(rss) start_fds=$(fds)
declare -a peak_rss peak_fds after_rss after_fds status
failed=0
for r in $(seq 1 "$rounds"); do
    : >"$data/samples"
    pids=()
    "$bench" auth "${common[@]}" --mode existing --conns 8 --pool 200 \
        --device-prefix "soak-a-" >"$data/auth.$r" 2>&1 & pids+=($!)
    "$bench" storage "${common[@]}" --conns 8 --write-ratio 0.5 \
        --device-prefix "soak-s-" >"$data/storage.$r" 2>&1 & pids+=($!)
    "$bench" chat "${common[@]}" --members 50 --rate 2 --room "soak$r" \
        --device-prefix "soak-c-" >"$data/chat.$r" 2>&1 & pids+=($!)
    "$bench" relay "${common[@]}" --matches 25 --players 4 --rate 20 \
        --device-prefix "soak-r-" >"$data/relay.$r" 2>&1 & pids+=($!)
    st=ok
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            st=FAILED; failed=1
            n=(auth storage chat relay); log "round $r: ${n[$i]} failed:"; tail -5 "$data/${n[$i]}.$r" >&2
        fi
    done
    peak_rss[$r]=$(awk 'BEGIN{m=0} $1>m{m=$1} END{print m}' "$data/samples")
    peak_fds[$r]=$(awk 'BEGIN{m=0} $2>m{m=$2} END{print m}' "$data/samples")
    sleep "$pause"
    after_rss[$r]=$(rss) after_fds[$r]=$(fds) status[$r]=$st
    kill -0 "$srv_pid" 2>/dev/null || { log "tomo died:"; tail -20 "$data/tomo.log" >&2; exit 1; }
done

echo "## soak: $rounds rounds x ${secs}s of auth + storage + chat + relay at once ($([ -n "${TOMO_BENCH_PG:-}" ] && echo Postgres || echo SQLite)), ${pause}s pause"
echo
echo "| round | peak RSS (KiB) | peak fds | after RSS (KiB) | after fds | load |"
echo "|---|---:|---:|---:|---:|---|"
echo "| start | | | $start_rss | $start_fds | |"
for r in $(seq 1 "$rounds"); do
    echo "| $r | ${peak_rss[$r]} | ${peak_fds[$r]} | ${after_rss[$r]} | ${after_fds[$r]} | ${status[$r]} |"
done
verdict=0
if [ "$rounds" -ge 2 ]; then
    growth=$(( after_rss[rounds] - after_rss[2] ))
    [ "$rounds" -eq 2 ] && growth=$(( after_rss[2] - after_rss[1] ))
    fdg=$(( after_fds[rounds] - after_fds[2] ))
    echo
    echo "RSS growth after round 2 -> last: ${growth} KiB (limit ${max_growth}); fds: ${fdg}"
    [ "$growth" -gt "$max_growth" ] && verdict=1
    [ "$fdg" -gt 0 ] && verdict=1
fi
[ $failed = 1 ] && verdict=1
[ $verdict = 0 ] && echo "soak: ok" || echo "soak: FAILED"
exit $verdict
