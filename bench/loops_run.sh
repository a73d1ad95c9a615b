#!/usr/bin/env bash
# bench/loops_run.sh: the socket.loops comparison of docs/BENCHMARKS.md in one
# command: /healthcheck, device auth and relay (200 matches x 4 players x
# 105 Hz) against a fresh server with socket.loops 1, then 2 (or the list in
# LOOPS="1 2 4"), each scenario followed by the CPU of every loop thread.
# Environment: LOOPS, BENCH_DURATION (10), BENCH_MATCHES/PLAYERS/RATE
# (200/4/105) and everything bench/run.sh reads.
set -u
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for n in ${LOOPS:-1 2}; do
    echo "# socket.loops $n"
    TOMO_LOOPS=$n BENCH_RATE=${BENCH_RATE:-105} BENCH_MATCHES=${BENCH_MATCHES:-200} \
        BENCH_PLAYERS=${BENCH_PLAYERS:-4} "$here/run.sh" http auth relay || rc=1
done
exit $rc
