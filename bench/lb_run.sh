#!/usr/bin/env bash
# bench/lb_run.sh: the leaderboard benchmark (docs/BENCHMARKS.md):
#   1. a board "bench" with BENCH_LB_RECORDS (1,000,000) records is seeded
#      straight into a fresh database (SQLite, or Postgres via TOMO_BENCH_PG);
#   2. tomo starts; we time how long until /healthcheck answers (start-up
#      ready) and until the log reports the rank cache filled;
#   3. storage writes and leaderboard writes (an incr board: every write
#      changes the row) in the same run (the same
#      durable-write path), then around-owner and top-100 listings.
# Knobs: BENCH_LB_RECORDS, BENCH_DURATION (10), BENCH_CONNS (16),
# BENCH_USERS (2000), TOMO_BIN, TOMO_BENCH_BIN, TOMO_BENCH_PG.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tomo=${TOMO_BIN:-$repo/build/tomo}
bench=${TOMO_BENCH_BIN:-$repo/build/bench/tomo-bench}
records=${BENCH_LB_RECORDS:-1000000}
dur=${BENCH_DURATION:-10}
conns=${BENCH_CONNS:-16}
users=${BENCH_USERS:-2000}
log() { echo "lb_run: $*" >&2; }
# shellcheck source=bench/common.sh
. "$here/common.sh" tomo-lb-bench
args=(--data_dir "$data" --socket.address 127.0.0.1 --socket.port "$api" --socket.ws_port "$ws"
    --console.port "$console" --metrics.prometheus_port "$metrics" --session.token_expiry_sec 7200
    --logger.level info)
[ -n "${TOMO_BENCH_PG:-}" ] && args+=(--database.address "$TOMO_BENCH_PG")
"$tomo" migrate up "${args[@]}" >"$data/migrate.log" 2>&1 || {
    log "migrate failed"; cat "$data/migrate.log" >&2; exit 2; }

log "seeding $records records"
t0=$(date +%s.%N)
if [ -n "${TOMO_BENCH_PG:-}" ]; then
    psql -q "$TOMO_BENCH_PG" -v ON_ERROR_STOP=1 <<SQL || exit 2
DELETE FROM leaderboard_record WHERE leaderboard_id = 'bench';
DELETE FROM leaderboard WHERE id = 'bench';
INSERT INTO leaderboard (id, operator, create_time) VALUES ('bench', 2, 0);
INSERT INTO leaderboard_record (leaderboard_id, owner_id, username, score, subscore, num_score,
  max_num_score, metadata, create_time, update_time, expiry_time)
SELECT 'bench', lpad(to_hex(x), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(x), 12, '0'),
  'u' || x, (random() * 1000000)::bigint, 0, 1, 1000000, '{}', 0, 0, 0
FROM generate_series(1, $records) AS x;
ANALYZE leaderboard_record;
SQL
else
    sqlite3 "$data/tomo.db" <<SQL || exit 2
INSERT INTO leaderboard (id, operator, create_time) VALUES ('bench', 2, 0);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $records)
INSERT INTO leaderboard_record (leaderboard_id, owner_id, username, score, subscore, num_score,
  max_num_score, metadata, create_time, update_time, expiry_time)
SELECT 'bench', printf('%08x-0000-4000-8000-%012x', x, x), 'u' || x, abs(random()) % 1000000, 0,
  1, 1000000, '{}', 0, 0, 0 FROM c;
ANALYZE;
SQL
fi
log "seeded in $(echo "$(date +%s.%N) - $t0" | bc) s"

t0=$(date +%s%N)
"$tomo" "${args[@]}" >"$data/tomo.log" 2>&1 &
srv_pid=$!
until curl -sf -m 1 "http://127.0.0.1:$api/healthcheck" >/dev/null; do
    kill -0 "$srv_pid" 2>/dev/null || { log "tomo exited"; tail "$data/tomo.log" >&2; exit 2; }
    sleep 0.005
done
ready_ms=$((($(date +%s%N) - t0) / 1000000))
# a ranked answer while the cache fills (the COUNT fallback)
probe_owner=$(printf '%08x-0000-4000-8000-%012x' 777 777)
basic="Basic $(printf 'defaultkey:' | base64)"
tok=$(curl -s -X POST "http://127.0.0.1:$api/v2/account/authenticate/device" \
    -H "Authorization: $basic" -d '{"id":"lb-bench-probe-0001"}' |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
early=$(curl -s -H "Authorization: Bearer $tok" \
    "http://127.0.0.1:$api/v2/leaderboard/bench/owner/$probe_owner?limit=1" |
    sed -n 's/.*"rank":"\([0-9]*\)".*/\1/p')
until grep -q "rank cache filled" "$data/tomo.log"; do
    kill -0 "$srv_pid" 2>/dev/null || exit 2
    sleep 0.05
done
fill_ms=$(grep "rank cache filled" "$data/tomo.log" | sed -n 's/.*"ms":"\([0-9]*\)".*/\1/p')
late=$(curl -s -H "Authorization: Bearer $tok" \
    "http://127.0.0.1:$api/v2/leaderboard/bench/owner/$probe_owner?limit=1" |
    sed -n 's/.*"rank":"\([0-9]*\)".*/\1/p')
rss=$(awk '/VmRSS/ {print $2}' "/proc/$srv_pid/status")

echo "# leaderboard benchmark"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null)"
echo "- machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "- backend: ${TOMO_BENCH_PG:+postgres}${TOMO_BENCH_PG:-sqlite}, board with $records records"
echo
echo "| start-up | value |"
echo "|---|---|"
echo "| process start to /healthcheck 200 | ${ready_ms} ms |"
echo "| rank cache filled (background, from the log) | ${fill_ms} ms |"
echo "| rank of one owner during the fill / after it | ${early:-?} / ${late:-?} |"
echo "| server RSS after the fill | $((rss / 1024)) MB |"
echo
common=(--http-port "$api" --duration "$dur" --conns "$conns" --users "$users" --server-pid "$srv_pid" --quiet)
"$bench" storage --write-ratio 1 --keys 1 "${common[@]}" --device-prefix lb-st-
echo
for op in write around top; do
    "$bench" leaderboard --lb-op "$op" "${common[@]}" --device-prefix lb-bench-
    echo
done
