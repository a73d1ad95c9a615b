#!/usr/bin/env bash
# bench/amatch_run.sh: the authoritative-match benchmark (docs/BENCHMARKS.md).
# A fresh tomo with runtime.path = bench/modules (bench_match.lua); for each
# N in BENCH_AMATCH_NS, tomo-bench amatch runs N Lua matches x 4 players at
# 10 Hz (every player sends every tick, the match broadcasts the batch to
# all 4), and this script reads the server's match_tick_lateness_ms
# histogram as tomo-bench's measured window opens and closes to report the
# tick lateness p99 over the window (the bucket bound at or above the 99th
# percentile) and the share of ticks at most 5 ms late, with the server's
# CPU over the window and per delivered message. A match ends when its
# last player leaves, so each step starts from none.
# BENCH_RELAY_REF=1 adds, after each step, the same load on relayed matches
# (N x 4 players at 10 Hz, each message to the 3 others) as a baseline
# measured in the same conditions (a loaded box slows both alike).
# Knobs: BENCH_AMATCH_NS ("100 250 500 1000"), BENCH_DURATION (10),
# BENCH_THREADS (1), BENCH_RELAY_REF, TOMO_BIN, TOMO_BENCH_BIN; BENCH_ON_WINDOW=CMD
# runs `CMD start|end <server pid>` in the background at the window's edges
# (e.g. to start perf on the server for exactly the measured load).
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

# The window's edges: tomo-bench runs `$data/win.sh start|end` right as
# its measured window opens and closes, so the lateness histogram covers
# the window only, not the setup before it (logins, sockets, match
# creation), when ticks wait for a CPU for reasons this does not measure.
# It also notes each server thread's CPU ticks, by name (match threads are
# tomo-match-N), to split the server's CPU between them and the rest.
cat >"$data/win.sh" <<EOF
#!/bin/sh
for t in /proc/$srv_pid/task/*; do
    echo "\$(cat \$t/comm) \$(sed 's/.*) //' \$t/stat | awk '{ print \$12 + \$13 }')"
done >"$data/tasks.\$1" 2>/dev/null
curl -sf -m 30 "http://127.0.0.1:$metrics/metrics" >"$data/win.\$1"
${BENCH_ON_WINDOW:+$BENCH_ON_WINDOW "\$1" $srv_pid &}
EOF
chmod +x "$data/win.sh"

# "le count" lines of the lateness histogram in a metrics dump.
buckets() {
    sed -n 's/^match_tick_lateness_ms_bucket{[^}]*le="\([^"]*\)"[^}]*} \([0-9.e+]*\)$/\1 \2/p' "$1"
}

# One step: tomo-bench <scenario> with N matches; prints the table row.
# Server CPU is over tomo-bench's window (the threads' ticks in /proc).
step() {
    local sc=$1 n=$2 name=$3
    local stats="- -" out dl lat lat99 loss cpu bcpu sends p50 p99 us mcpu
    rm -f "$data/win.start" "$data/win.end" "$data/tasks.start" "$data/tasks.end"
    out=$(timeout -k 5 300 "$bench" "$sc" --host 127.0.0.1 --http-port "$api" --ws-port "$ws" \
        --server-pid "$srv_pid" --threads "$threads" --matches "$n" --players 4 --rate 10 \
        --duration "$dur" --warmup 2 --device-prefix "$sc$total-" --window-cmd "$data/win.sh" \
        --quiet 2>&1)
    total=$((total + n))
    [ -n "${BENCH_VERBOSE:-}" ] && echo "$out" >&2
    field() { echo "$out" | sed -n "s/^| $1 *| *\([^|]*\) |.*/\1/p" | sed 's/ *$//'; }
    dl=$(field 'delivered msgs\/s')
    sends=$(field 'achieved sends\/s')
    lat=$(field 'latency p50 (us)')
    lat99=$(field 'latency p99 (us)')
    loss=$(field loss)
    cpu=$(field 'server CPU (% of one core)')
    bcpu=$(field 'tomo-bench CPU (% of one core)')
    if [ "$sc" = amatch ] && [ -s "$data/win.start" ] && [ -s "$data/win.end" ]; then
        stats=$( { buckets "$data/win.start" | sed 's/^/b /'; buckets "$data/win.end" | sed 's/^/a /'; } | awk '
            $1 == "b" { b[$2] = $3; next }
            $1 == "a" { n++; le[n] = $2; d[n] = $3 - b[$2] }
            END {
                tot = d[n]; if (tot <= 0) { print "- -"; exit }
                p = "-"; for (i = 1; i <= n; i++) if (d[i] >= 0.99 * tot) { p = le[i]; break }
                for (i = 1; i <= n; i++) if (le[i] == "5") f = d[i] / tot
                printf "%s %.2f%%\n", p, f * 100
            }')
    fi
    p50=$(echo "${lat:-}" | awk '{ if ($1 != "") printf "%.1f", $1 / 1000; else print "-" }')
    p99=$(echo "${lat99:-}" | awk '{ if ($1 != "") printf "%.1f", $1 / 1000; else print "-" }')
    # the server's CPU over the window from its threads' ticks, and the
    # match threads' part (threads that ended within it are missed: none do
    # in a step); tomo-bench's own figure as a fallback
    local tcpu
    tcpu=$( { sed 's/^/b /' "$data/tasks.start"; sed 's/^/a /' "$data/tasks.end"; } 2>/dev/null |
        awk -v hz="$(getconf CLK_TCK)" -v t="$dur" '
            $1 == "b" { b += $3; if ($2 ~ /^tomo-match/) mb += $3 }
            $1 == "a" { a += $3; if ($2 ~ /^tomo-match/) ma += $3 }
            END { if (a > 0) printf "%.0f %.0f%%", (a - b) / hz / t * 100, (ma - mb) / hz / t * 100 }')
    if [ -n "$tcpu" ]; then
        cpu=${tcpu% *}
        mcpu=${tcpu#* }
    fi
    us=$(echo "${cpu:-} ${dl:-}" | awk '{ if ($2 > 0) printf "%.2f", $1 / 100 / $2 * 1e6; else print "-" }')
    echo "| $name | ${sends:--} | ${dl:--} | $p50 / $p99 | ${loss:--} | ${stats% *} | ${stats#* } | ${cpu:--}% | ${mcpu:--} | $us | ${bcpu:--}% |"
}

echo "# authoritative matches: N Lua matches x 4 players, 10 Hz"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "- machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| N | sends/s | delivered msgs/s | delivery p50 / p99 (ms; amatch includes the tick wait) | loss | tick lateness p99 (ms) | ticks <= 5 ms late | server CPU | of which match threads | us of server CPU per delivery | tomo-bench CPU |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
total=0
for n in $ns; do
    step amatch "$n" "$n"
    [ -n "${BENCH_RELAY_REF:-}" ] && step relay "$n" "$n relayed (baseline)"
done
echo
echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg); matches alive at the end: $(curl -sf "http://127.0.0.1:$metrics/metrics" | sed -n 's/^authoritative_match_count[^ ]* \(.*\)/\1/p')"
