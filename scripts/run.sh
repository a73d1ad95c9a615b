#!/usr/bin/env bash
# scripts/run.sh: install what is missing, build, and start tomo on the
# embedded SQLite default (data under ./data). Extra arguments go to tomo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/tomo "$@"
