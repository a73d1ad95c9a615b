#!/usr/bin/env bash
# bench/amatch_run.sh: the authoritative-match benchmark (docs/BENCHMARKS.md).
# A fresh tomo with runtime.path = bench/modules (bench_match.lua); for each
# N in BENCH_AMATCH_NS, tomo-bench amatch runs N Lua matches x 4 players at
# 10 Hz (every player sends every tick, the match broadcasts the batch to
# all 4), and this script reads the server's match_tick_lateness_ms
# histogram before and after the run to report the tick lateness p99 (the
# bucket bound at or above the 99th percentile) and the share of ticks
# at most 5 ms late. A match ends when its last player leaves, so each step
# starts from none.
# BENCH_RELAY_REF=1 adds, after each step, the same load on relayed matches
# (N x 4 players at 10 Hz, each message to the 3 others) as a baseline
# measured in the same conditions (a loaded box slows both alike).
# Knobs: BENCH_AMATCH_NS ("100 250 500 1000"), BENCH_DURATION (10),
# BENCH_THREADS (1), BENCH_RELAY_REF, TOMO_BIN, TOMO_BENCH_BIN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tomo=${TOMO_BIN:-$repo/build/tomo}
bench=${TOMO_BENCH_BIN:-$repo/build/bench/tomo-bench}
ns=${BENCH_AMATCH_NS:-100 250 500 1000}
dur=${BENCH_DURATION:-10}
threads=${BENCH_THREADS:-1}
log() { echo "amatch_run: $*" >&2; }
# shellcheck source=bench/common.sh
. "$here/common.sh" tomo-amatch-bench
ulimit -n "$(ulimit -Hn)" 2>/dev/null
"$tomo" --data_dir "$data" --socket.address 127.0.0.1 --socket.port "$api" --socket.ws_port "$ws" \
    --console.port "$console" --metrics.prometheus_port "$metrics" --metrics.address 127.0.0.1 \
    --session.token_expiry_sec 7200 --logger.level warn --runtime.path "$here/modules" \
    --runtime.lua_max_count 8 >"$data/tomo.log" 2>&1 &
srv_pid=$!
until curl -sf -m 1 "http://127.0.0.1:$api/healthcheck" >/dev/null; do
    kill -0 "$srv_pid" 2>/dev/null || { log "tomo exited"; tail "$data/tomo.log" >&2; exit 2; }
    sleep 0.05
done

# "le count" lines of the lateness histogram.
buckets() {
    curl -sf -m 5 "http://127.0.0.1:$metrics/metrics" |
        sed -n 's/^match_tick_lateness_ms_bucket{[^}]*le="\([^"]*\)"[^}]*} \([0-9.e+]*\)$/\1 \2/p'
}

# One step: tomo-bench <scenario> with N matches; prints the table row.
step() {
    local sc=$1 n=$2 name=$3
    local before after stats="- -" t0 t1 cpu0 cpu1 out dl lat lat99 loss cpu p50 p99
    before=$(buckets)
    cpu0=$(awk '{print $14 + $15}' "/proc/$srv_pid/stat")
    t0=$(date +%s.%N)
    out=$(timeout -k 5 300 "$bench" "$sc" --host 127.0.0.1 --http-port "$api" --ws-port "$ws" \
        --server-pid "$srv_pid" --threads "$threads" --matches "$n" --players 4 --rate 10 \
        --duration "$dur" --warmup 2 --device-prefix "$sc$total-" --quiet 2>&1)
    t1=$(date +%s.%N)
    cpu1=$(awk '{print $14 + $15}' "/proc/$srv_pid/stat")
    total=$((total + n))
    after=$(buckets)
    [ -n "${BENCH_VERBOSE:-}" ] && echo "$out" >&2
    field() { echo "$out" | sed -n "s/^| $1 *| *\([^|]*\) |.*/\1/p" | sed 's/ *$//'; }
    dl=$(field 'delivered msgs\/s')
    lat=$(field 'latency p50 (us)')
    lat99=$(field 'latency p99 (us)')
    loss=$(field loss)
    if [ "$sc" = amatch ]; then
        stats=$( { echo "$before" | sed 's/^/b /'; echo "$after" | sed 's/^/a /'; } | awk '
            $1 == "b" { b[$2] = $3; next }
            $1 == "a" { n++; le[n] = $2; d[n] = $3 - b[$2] }
            END {
                tot = d[n]; if (tot <= 0) { print "- -"; exit }
                p = "-"; for (i = 1; i <= n; i++) if (d[i] >= 0.99 * tot) { p = le[i]; break }
                for (i = 1; i <= n; i++) if (le[i] == "5") f = d[i] / tot
                printf "%s %.2f%%\n", p, f * 100
            }')
    fi
    cpu=$(echo "$cpu0 $cpu1 $t0 $t1 $(getconf CLK_TCK)" |
        awk '{ printf "%.0f%%", ($2 - $1) / $5 / ($4 - $3) * 100 }')
    p50=$(echo "${lat:-}" | awk '{ if ($1 != "") printf "%.1f", $1 / 1000; else print "-" }')
    p99=$(echo "${lat99:-}" | awk '{ if ($1 != "") printf "%.1f", $1 / 1000; else print "-" }')
    echo "| $name | ${dl:--} | $p50 / $p99 | ${loss:--} | ${stats% *} | ${stats#* } | $cpu |"
}

echo "# authoritative matches: N Lua matches x 4 players, 10 Hz"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "- machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| N | delivered msgs/s | delivery p50 / p99 (ms; amatch includes the tick wait) | loss | tick lateness p99 (ms) | ticks <= 5 ms late | server CPU |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
total=0
for n in $ns; do
    step amatch "$n" "$n"
    [ -n "${BENCH_RELAY_REF:-}" ] && step relay "$n" "$n relayed (baseline)"
done
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg); matches alive at the end: $(curl -sf "http://127.0.0.1:$metrics/metrics" | sed -n 's/^authoritative_match_count[^ ]* \(.*\)/\1/p')"
