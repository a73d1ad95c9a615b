#!/usr/bin/env bash
# scripts/test.sh: install what is missing and run the whole test suite:
#   1. release build with -Werror, C unit tests (ctest)
#   2. ASan+UBSan build, C unit tests again; each libFuzzer target for 30 s
#   3. acceptance tests (node's test runner + nakama-js) on SQLite, against the
#      sanitizer build, so a memory error anywhere fails the run
#      (cluster.test.mjs starts its own nats-server and three nodes)
#   4. the same acceptance tests on PostgreSQL (a server started on loopback in
#      a temporary directory), against the release build
#   5. the container image built with podman and the compose stack, tested
#      through its published ports (TOMO_SKIP_CONTAINER=1 leaves it out)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=$(nproc)

bash scripts/deps.sh --test

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOMO_WERROR=ON >/dev/null
cmake --build build -j"$JOBS"
echo "== unit tests (release)"
(cd build && ctest --output-on-failure)

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTOMO_WERROR=ON -DTOMO_ASAN=ON -DTOMO_UBSAN=ON >/dev/null
cmake --build build-asan -j"$JOBS"
echo "== unit tests (sanitizers)"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure)

echo "== fuzzing: 30 s per libFuzzer target (clang, ASan + UBSan; scripts/fuzz.sh)"
FUZZ_SEED=1 bash scripts/fuzz.sh 30

echo "== acceptance test dependencies (npm)"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

# The realtime files that run a second time with socket.loops 3 (3b):
# sockets land on any loop, so parties, tickets, authoritative matches and
# socket RPCs are reached from loops other than their owner (loop 0);
# console_api.test.mjs: the console's process-wide counts and bans that close
# sockets on any loop; cluster.test.mjs: bus frames handed from loop 0 to
# the others (a dead node's presences must leave on every loop).
LOOPS_FILES=(realtime.test.mjs realtime_abuse.test.mjs chat.test.mjs party.test.mjs
  matchmaker.test.mjs match_authoritative.test.mjs runtime.test.mjs runtime_nk.test.mjs
  console_api.test.mjs cluster.test.mjs)

run_acceptance() {
  local label=$1
  echo "== acceptance tests: $label"
  # The timeout also bounds each file as a whole (node's runner treats a
  # file as a test): a file of many server start-ups on a loaded Postgres
  # box can take minutes, a hang still ends within the bound.
  (cd tests/integration && node --test --test-concurrency=1 --test-timeout=300000 .)
}

# 3. SQLite, sanitizer build. Leak checking is off for the server process:
# it exits through a signal path where libuv keeps a few static buffers.
TOMO_BIN="$ROOT/build-asan/tomo" TOMO_TEST_BACKEND=sqlite \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_acceptance "sqlite (asan+ubsan build)"

# 3b. The realtime files again with three event loops (socket.loops 3,
# README "Several event loops"): sockets land on different loops, so
# presences, messages and events cross loops. loops.test.mjs pins clients to
# loops itself and ran above.
echo "== acceptance tests: realtime files with socket.loops 3 (sqlite, asan+ubsan build)"
(cd tests/integration && TOMO_BIN="$ROOT/build-asan/tomo" TOMO_TEST_BACKEND=sqlite TOMO_TEST_LOOPS=3 \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  node --test --test-concurrency=1 --test-timeout=300000 "${LOOPS_FILES[@]}")

# 4. Postgres, release build. A throwaway server on a free loopback port in a
# temporary directory: password auth over TCP (so a wrong password can be
# tested), trust only on its private Unix socket.
RUN_POSTGRES=1
if [[ $RUN_POSTGRES -eq 0 ]]; then
  echo "== all tests passed (postgres stage not enabled yet)"
  exit 0
fi
PGDIR=$(mktemp -d /tmp/tomo-pg.XXXXXX)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
PGPASS=tomo-test-pw
chown postgres:postgres "$PGDIR" 2>/dev/null || true
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup_pg() { as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap cleanup_pg EXIT
echo "$PGPASS" >"$PGDIR/pwfile"
chown postgres:postgres "$PGDIR/pwfile" 2>/dev/null || true
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U tomo --pwfile="$PGDIR/pwfile" --auth-local=trust \
  --auth-host=scram-sha-256 >/dev/null
PGOPTS="-c listen_addresses=127.0.0.1 -c port=$PGPORT -c unix_socket_directories=$PGDIR -c max_connections=300 -c fsync=off"
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -o "$PGOPTS" start >/dev/null
export TOMO_TEST_PG_ADMIN="postgres://tomo:$PGPASS@127.0.0.1:$PGPORT/postgres"
# for tests that stop and restart the server (tests/integration/postgres.test.mjs)
export TOMO_TEST_PG_DATA="$PGDIR/data" TOMO_TEST_PG_BIN="$PGBIN" TOMO_TEST_PG_PORT="$PGPORT"
export TOMO_TEST_PG_OPTS="$PGOPTS" TOMO_TEST_PG_LOG="$PGDIR/log"
# C tests that need a server (store_pg, and suites that also run on Postgres
# when TOMO_TEST_PG_ADMIN is set) run again here, with it set.
echo "== unit tests on postgres (release and sanitizers)"
(cd build && ctest --output-on-failure)
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure)
TOMO_BIN="$ROOT/build/tomo" TOMO_TEST_BACKEND=postgres run_acceptance "postgres (release build)"

# 5. The container image and the compose stack (scripts/container-test.sh:
# podman as root, a Debian 12 base built with mmdebstrap from the Debian
# mirror, nakama-js through the published ports). Bounded at 15 minutes.
# TOMO_SKIP_CONTAINER=1 leaves it out (a developer's quick run); CI runs it.
if [[ ${TOMO_SKIP_CONTAINER:-0} == 1 ]]; then
  echo "== container test skipped (TOMO_SKIP_CONTAINER=1)"
else
  echo "== container image and compose stack"
  timeout 900 bash scripts/container-test.sh
fi

echo "== all tests passed"
