#!/usr/bin/env bash
# bench/cluster_run.sh: the cluster benchmarks (docs/BENCHMARKS.md,
# "Cluster"). Starts a nats-server and three tomo nodes on loopback sharing
# one database (TOMO_BENCH_PG=postgres://... migrated first, else one SQLite
# file in a temp dir), then runs with tomo-bench, each on the same processes:
#   chat   BENCH_MEMBERS (100) members at BENCH_CHAT_RATE (5) Hz in one room,
#          sockets spread round-robin over the three nodes, then all on node a
#   relay  BENCH_MATCHES (200) relayed matches x 4 players at BENCH_RATE (20) Hz,
#          each match's players spread over nodes a and b, then all on node a
# and prints tomo-bench's tables (deliveries/s, latency percentiles, loss)
# and, per run, the CPU the whole cluster spent (three nodes + nats-server,
# from /proc: compare runs of one invocation, the box may be loaded).
# Usage: bench/cluster_run.sh            (one line; BENCH_DURATION=10 by default)
# Knobs: BENCH_DURATION, BENCH_THREADS (1), BENCH_MEMBERS, BENCH_CHAT_RATE,
#        BENCH_MATCHES, BENCH_RATE, TOMO_BIN, TOMO_BENCH_BIN, TOMO_BENCH_PG,
#        TOMO_LOOPS (socket.loops of every node, default 1).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tomo=${TOMO_BIN:-$repo/build/tomo}
bench=${TOMO_BENCH_BIN:-$repo/build/bench/tomo-bench}
dur=${BENCH_DURATION:-10}
threads=${BENCH_THREADS:-1}
log() { echo "cluster_run: $*" >&2; }
if [ ! -x "$tomo" ] || [ ! -x "$bench" ]; then
    log "build first: cmake --build build --target tomo tomo-bench"; exit 2
fi
command -v nats-server >/dev/null || { log "nats-server not found (apt-get install nats-server)"; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

port_busy() { ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .; }
for _ in $(seq 1 50); do
    b=$((20000 + RANDOM % 30000)); ok=1
    for p in $(seq "$b" $((b + 7))); do port_busy "$p" && ok=0; done
    [ $ok = 1 ] && break
done
nats_port=$b
data=$(mktemp -d "${TMPDIR:-/tmp}/tomo-cluster-bench.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$data"
}
trap cleanup EXIT

nats-server -a 127.0.0.1 -p "$nats_port" >"$data/nats.log" 2>&1 &
pids+=($!)
dbargs=()
if [ -n "${TOMO_BENCH_PG:-}" ]; then
    dbargs=(--database.address "$TOMO_BENCH_PG")
    "$tomo" migrate up "${dbargs[@]}" >/dev/null || { log "migration failed"; exit 2; }
fi
declare -A api
i=1
for n in a b c; do
    api[$n]=$((b + i)); i=$((i + 1))
    "$tomo" --name "node-$n" --cluster.nats_url "nats://127.0.0.1:$nats_port" \
        --data_dir "$data" "${dbargs[@]}" --socket.address 127.0.0.1 --socket.port "${api[$n]}" \
        --socket.ws_port 0 --console.port 0 --grpc.port 0 --metrics.prometheus_port 0 \
        --session.token_expiry_sec 7200 --socket.loops "${TOMO_LOOPS:-1}" \
        --logger.level warn >"$data/tomo-$n.log" 2>&1 &
    pids+=($!)
    until curl -sf -m 1 "http://127.0.0.1:${api[$n]}/healthcheck" >/dev/null; do
        kill -0 "${pids[-1]}" 2>/dev/null || { log "node $n exited"; tail "$data/tomo-$n.log" >&2; exit 2; }
        sleep 0.05
    done
done
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:${api[a]}/readyz" | grep -q '"nodes":\["node-[bc]","node-[bc]"\]' && break
    sleep 0.1
done
pid_a=${pids[1]}
log "3 nodes up, socket.loops ${TOMO_LOOPS:-1} (nats :$nats_port; api ${api[a]} ${api[b]} ${api[c]}; $([ ${#dbargs[@]} -gt 0 ] && echo postgres || echo 'shared sqlite'))"

tck=$(getconf CLK_TCK)
# CPU ticks (user + system) of nats-server and the three nodes.
cluster_ticks() {
    local t=0 p f
    for p in "${pids[@]}"; do
        read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
        t=$((t + f[13] + f[14]))
    done
    echo "$t"
}
run() {
    local title=$1; shift
    echo
    echo "### $title"
    local t0 t1
    t0=$(cluster_ticks)
    timeout -k 5 300 "$bench" "$@" --host 127.0.0.1 --http-port "${api[a]}" --server-pid "$pid_a" \
        --threads "$threads" --duration "$dur" --warmup 2 --quiet 2>&1
    t1=$(cluster_ticks)
    echo "cluster CPU for this run (3 nodes + nats, set-up and warm-up included):" \
        "$(awk -v t=$((t1 - t0)) -v h="$tck" 'BEGIN { printf "%.2f s", t / h }')"
}
members=${BENCH_MEMBERS:-100} crate=${BENCH_CHAT_RATE:-5}
matches=${BENCH_MATCHES:-200} rate=${BENCH_RATE:-20}
run "chat: $members members over 3 nodes" chat --members "$members" --rate "$crate" \
    --room cluster3 --device-prefix cc3- --ws-ports "${api[a]},${api[b]},${api[c]}"
run "chat: $members members on one node" chat --members "$members" --rate "$crate" \
    --room cluster1 --device-prefix cc1- --ws-port "${api[a]}"
run "relay: $matches matches x 4 players over 2 nodes" relay --matches "$matches" --players 4 \
    --rate "$rate" --device-prefix cr2- --ws-ports "${api[a]},${api[b]}"
run "relay: $matches matches x 4 players on one node" relay --matches "$matches" --players 4 \
    --rate "$rate" --device-prefix cr1- --ws-port "${api[a]}"
echo
echo "(server CPU/RSS columns are node a's; cluster_* metrics on each node's /metrics)"
