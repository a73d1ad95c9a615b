#!/usr/bin/env bash
# scripts/deps.sh: install the Debian packages tomo needs to build, run and
# test, skipping what is already installed. Needs root (or sudo).
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config libuv1-dev libwslay-dev libssl-dev libjansson-dev
  libyaml-dev uuid-dev libcrypt-dev libsqlite3-dev libpq-dev zlib1g-dev libprotobuf-c-dev protobuf-c-compiler
  node-llhttp libluajit-5.1-dev libcurl4-openssl-dev libnghttp2-dev libnats-dev)
TEST_PKGS=(nodejs npm postgresql postgresql-client curl python3-yaml prometheus sqlite3 clang
  libclang-rt-14-dev pgbouncer openssl chromium nghttp2-client nats-server)
# Optional for tests (skipped, saying so, when the package is not in the
# machine's apt sources): kubectl renders deploy/k8s with its built-in kustomize.
OPTIONAL_TEST_PKGS=(kubectl)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  # node/npm may come from elsewhere (e.g. a newer Node install): accept a binary on PATH
  if [[ "$p" == nodejs ]] && command -v node >/dev/null; then continue; fi
  if [[ "$p" == npm ]] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

optional=()
if [[ "${1:-}" == "--test" ]]; then
  for p in "${OPTIONAL_TEST_PKGS[@]}"; do
    command -v "$p" >/dev/null || optional+=("$p")
  done
fi

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ((${#optional[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  for p in "${optional[@]}"; do
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" \
      >/dev/null 2>&1 || echo "optional package $p is not available here; its tests are skipped"
  done
fi
