#!/usr/bin/env bash
# scripts/fuzz.sh: build the libFuzzer targets (tests/fuzz, clang with
# -fsanitize=fuzzer,address,undefined) and run each for SECONDS.
#   bash scripts/fuzz.sh              # 600 s (10 minutes) each, every target
#   bash scripts/fuzz.sh 30           # what scripts/test.sh runs
#   bash scripts/fuzz.sh 120 http ws  # some targets
# Targets: http ws envelope protobuf config jwt. Each starts from the seed
# corpus in tests/fuzz/corpus/<target> (read only); what it finds goes to
# build-fuzz/corpus/<target> (kept between runs; FUZZ_BUILD=DIR builds in
# another directory). A crash, leak or sanitizer report stops the script with exit 1 and leaves the input in
# build-fuzz/crashes/<target>/ (reproduce: build-fuzz/tests/fuzz/fuzz_<target>
# <file>). The last line of each run (coverage, corpus size, executions) is
# printed as a summary table. FUZZ_SEED=N fixes libFuzzer's seed (the test
# suite uses 1, so a CI run explores the same inputs every time; unset, each
# run picks a new seed).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(http ws envelope protobuf config jwt)
B=${FUZZ_BUILD:-build-fuzz}
CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTOMO_FUZZ=ON -DTOMO_WERROR=ON -DTOMO_ASAN=ON \
  -DTOMO_UBSAN=ON >/dev/null
cmake --build "$B" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${TARGETS[@]}") >/dev/null
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "$B/corpus/$t" "$B/crashes/$t"
  log="$B/fuzz_$t.log"
  echo "== fuzz $t: ${SECS}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$B/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -max_len=8192 -timeout=60 -rss_limit_mb=2048 \
      -print_final_stats=1 ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -artifact_prefix="$B/crashes/$t/" \
      "$B/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -20 || true
    echo "fuzz $t FAILED: full log $log, input in $B/crashes/$t/"
    exit 1
  fi
  done_line=$(grep -E "DONE" "$log" | tail -1)
  execs=$(grep -E "stat::number_of_executed_units" "$log" | awk '{print $2}')
  summary+=("| $t | ${SECS} | $(sed -E 's/.*cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+)\/([0-9a-zA-Z]+).*exec\/s: ([0-9]+).*/\1 | \2 | \3 (\4) | \5/' <<<"$done_line") | ${execs:-?} |")
done
echo
echo "| target | seconds | edges (cov) | features (ft) | corpus | exec/s | executions |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
echo "no crash, leak or sanitizer report"
