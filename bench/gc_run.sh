#!/usr/bin/env bash
# bench/gc_run.sh: storage group commit, old build against new, alternating.
# For each round and each build in $BUILDS ("name=path/to/tomo ..."), starts a
# fresh server (SQLite in a temp data_dir, or TOMO_BENCH_PG's database, reset
# to an empty schema first), runs `tomo-bench storage` (50/50 PUT/POST
# /v2/storage, $CONNS connections) and prints req/s, write p50/p99, server CPU
# per request (utime+stime from /proc, ticks) and, when the server exports
# them, the group-commit batch size and commit time from /metrics.
# Environment: BUILDS (required), ROUNDS (2), CONNS (32), BENCH_DURATION (8),
#   TOMO_BENCH_BIN (default build/bench/tomo-bench), TOMO_BENCH_PG,
#   a BUILDS entry may add server flags: "w4=build/tomo,--database.max_open_conns,4".
# The counts include the preload's writes. On Postgres the last column is
# the server's WAL syncs (pg_stat_wal.wal_sync, over the whole run) per write
# request of the window.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { echo "gc_run.sh: $*" >&2; }
bench=${TOMO_BENCH_BIN:-$repo/build/bench/tomo-bench}
[ -n "${BUILDS:-}" ] || { log "set BUILDS='old=/path/tomo new=/path/tomo'"; exit 2; }
rounds=${ROUNDS:-2} conns=${CONNS:-32} duration=${BENCH_DURATION:-8}
hz=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null
wal_syncs() { [ -n "${TOMO_BENCH_PG:-}" ] && psql -Atq "$TOMO_BENCH_PG" -c 'SELECT wal_sync FROM pg_stat_wal' 2>/dev/null; }
if [ -n "${TOMO_BENCH_PG:-}" ]; then
    echo "| build | round | req/s | write p50 / p99 (ms) | server CPU | CPU/req (ms) | writes per commit | commits with <=2 / 3-8 / >8 writes | WAL syncs per write |"
    echo "|---|---:|---:|---|---:|---:|---:|---|---:|"
else
    echo "| build | round | req/s | write p50 / p99 (ms) | server CPU | CPU/req (ms) | writes per fsync | fsyncs with <=2 / 3-8 / >8 writes |"
    echo "|---|---:|---:|---|---:|---:|---:|---|"
fi
for r in $(seq 1 "$rounds"); do
    for spec in $BUILDS; do
        name=${spec%%=*} rest=${spec#*=}
        tomo=${rest%%,*} extra=()
        [ "$rest" != "$tomo" ] && IFS=, read -r -a extra <<<"${rest#*,}"
        # shellcheck source=bench/common.sh
        source "$here/common.sh" tomo-gc
        args=(--data_dir "$data" --socket.address 127.0.0.1 --socket.port "$api"
            --socket.ws_port "$ws" --console.port "$console" --metrics.prometheus_port "$metrics"
            --session.token_expiry_sec 7200 --logger.level warn "${extra[@]}")
        if [ -n "${TOMO_BENCH_PG:-}" ]; then
            psql -q "$TOMO_BENCH_PG" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' >/dev/null
            args+=(--database.address "$TOMO_BENCH_PG")
            "$tomo" migrate up "${args[@]}" >"$data/migrate.log" 2>&1 || {
                log "migrate failed"; cat "$data/migrate.log" >&2; exit 2; }
        fi
        "$tomo" "${args[@]}" >"$data/tomo.log" 2>&1 &
        srv_pid=$!
        for _ in $(seq 1 100); do
            curl -sf -m 1 "http://127.0.0.1:$api/healthcheck" >/dev/null && break
            sleep 0.1
        done
        # BUILDS entries may carry extra server flags after a comma:
        # name=path,--flag,value
        syncs0=$(wal_syncs)
        out=$("$bench" storage --duration "$duration" --conns "$conns" --write-ratio 0.5 \
            --host 127.0.0.1 --http-port "$api" --ws-port "$ws" --threads 1 \
            --server-pid "$srv_pid" --quiet 2>&1)
        m=$(curl -s -m 2 "http://127.0.0.1:$metrics/metrics")
        syncs1=$(wal_syncs)
        syncs=$(( ${syncs1:-0} - ${syncs0:-0} ))
        kill "$srv_pid"; wait "$srv_pid" 2>/dev/null; srv_pid=
        rm -rf "$data"
        echo "$out" >"${TMPDIR:-/tmp}/gc_run-$name-$r.txt"
        # CPU per request: the server's CPU over the window / requests in it
        echo "$out" | awk -F'|' -v name="$name" -v r="$r" -v dur="$duration" -v m="$m" \
            -v pg="${TOMO_BENCH_PG:+1}" -v syncs="$syncs" '
            /\| write \(PUT/ { wn = $3; wp50 = $5 / 1000; wp99 = $6 / 1000 }
            /\| all / { n = $3; rps = $4 }
            /server CPU \(% of one core\)/ { cpu = $3 }
            END {
                split(m, lines, "\n")
                for (i in lines) {
                    l = lines[i]
                    if (l ~ /^database_group_commit_batch_size_bucket.*le="2"/) { split(l, a, " "); b2 = a[2] }
                    if (l ~ /^database_group_commit_batch_size_bucket.*le="8"/) { split(l, a, " "); b8 = a[2] }
                    if (l ~ /^database_group_commit_batch_size_count/) { split(l, a, " "); bn = a[2] }
                    if (l ~ /^database_group_commits_total/) { split(l, a, " "); c = a[2] }
                    if (l ~ /^database_group_commit_writes_total/) { split(l, a, " "); w = a[2] }
                }
                cpr = (n > 0 && cpu != "") ? sprintf("%.3f", cpu / 100 * dur * 1000 / n) : "-"
                printf "| %s | %s | %d | %.1f / %.1f | %s | %s | %s | %s |", name, r, rps, wp50, wp99,
                    cpu == "" ? "-" : cpu "%", cpr, c ? sprintf("%.1f", w / c) : "-",
                    bn ? sprintf("%d / %d / %d", b2, b8 - b2, bn - b8) : "-"
                if (pg) printf(" %s |", (wn > 0) ? sprintf("%.2f", syncs / wn) : "-")
                printf "\n"
            }'
    done
done
