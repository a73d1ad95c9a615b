#!/usr/bin/env bash
# scripts/container-test.sh: build the container image with podman and run the
# compose stack (deploy/compose.yml) with nakama-js tests through its
# published ports. Everything (the mmdebstrap-built Debian 12 base, podman's
# image store, volumes) lives in one temporary directory that is removed at
# the end; only the Debian mirror and the npm registry are used.
#   bash scripts/container-test.sh            (as root; ~10-20 min, mostly apt)
# Needs: podman, runc, mmdebstrap, podman-compose (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0))s] $*"; }

missing=()
for p in podman runc mmdebstrap podman-compose; do
  command -v "$p" >/dev/null || missing+=("$p")
done
# Service names resolve inside a compose network only with the CNI dnsname
# plugin (a Recommends of podman, so not there with --no-install-recommends).
dpkg -s golang-github-containernetworking-plugin-dnsname >/dev/null 2>&1 \
  || missing+=(golang-github-containernetworking-plugin-dnsname)
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

TMP=$(mktemp -d /tmp/tomo-container.XXXXXX)
export CONTAINERS_STORAGE_CONF="$TMP/storage.conf"
cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$TMP/storage"
runroot = "$TMP/run"
CONF
# runc: crun fails on some kernels' cgroups; low ulimits: a container's
# default nofile can exceed what an unprivileged host grants.
export CONTAINERS_CONF="$TMP/containers.conf"
cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
PODMAN=(podman --runtime runc)
PROJECT=tomoct$$
COMPOSE=(podman-compose -p "$PROJECT" -f "$ROOT/deploy/compose.yml")
cleanup() {
  step "cleanup"
  "${COMPOSE[@]}" down -v >/dev/null 2>&1 || true
  "${PODMAN[@]}" rm -af >/dev/null 2>&1 || true
  "${PODMAN[@]}" volume prune -f >/dev/null 2>&1 || true
  "${PODMAN[@]}" rmi -af >/dev/null 2>&1 || true
  umount -R "$TMP/storage/overlay" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# mmdebstrap (apt underneath, parallel downloads) takes a fraction of
# debootstrap's time and writes the tarball podman imports directly.
step "mmdebstrap Debian 12 (minbase) -> docker.io/library/debian:12-slim"
# shellcheck disable=SC2016 # $1 is the hook's argument, expanded by mmdebstrap
mmdebstrap --variant=minbase --quiet --aptopt='Acquire::Retries "3"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  bookworm "$TMP/base.tar" "$MIRROR" >"$TMP/mmdebstrap.log" 2>&1 \
  || { tail -20 "$TMP/mmdebstrap.log"; exit 1; }
"${PODMAN[@]}" import "$TMP/base.tar" docker.io/library/debian:12-slim >/dev/null
rm -f "$TMP/base.tar"

step "build the tomo image from the committed tree"
mkdir "$TMP/src"
git archive HEAD | tar -x -C "$TMP/src"
BUILD=("${PODMAN[@]}" build --format docker --pull=never --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
"${BUILD[@]}" -t localhost/tomo:latest "$TMP/src" >"$TMP/build.log" 2>&1 || { tail -30 "$TMP/build.log"; exit 1; }
"${BUILD[@]}" -t localhost/tomo-postgres:15 -f "$TMP/src/tests/deploy/postgres.Dockerfile" "$TMP/src" \
  >"$TMP/build-pg.log" 2>&1 || { tail -30 "$TMP/build-pg.log"; exit 1; }
"${PODMAN[@]}" image inspect localhost/tomo:latest --format '{{.Config.User}} {{json .Config.Healthcheck.Test}}'

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API=$(free_port); WS=$(free_port); CON=$(free_port); MET=$(free_port)
"${PODMAN[@]}" run --rm localhost/tomo:latest keys generate | sed -n '/^TOMO_/p' >"$TMP/.env"
{
  echo "POSTGRES_PASSWORD=$(openssl rand -hex 16)"
  echo "TOMO_CONSOLE_PASSWORD=$(openssl rand -hex 16)"
  echo "POSTGRES_IMAGE=localhost/tomo-postgres:15"
  echo "TOMO_IMAGE=localhost/tomo:latest"
  echo "TOMO_API_PORT=$API"; echo "TOMO_WS_PORT=$WS"
  echo "TOMO_CONSOLE_HOST_PORT=$CON"; echo "TOMO_METRICS_HOST_PORT=$MET"
} >>"$TMP/.env"
chmod 600 "$TMP/.env"
set -a
# shellcheck disable=SC1091
. "$TMP/.env"
set +a

# podman-compose 1.0 ignores depends_on conditions: drive the order here.
step "compose: postgres"
"${COMPOSE[@]}" up -d postgres >"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log"; exit 1; }
for _ in $(seq 60); do
  "${PODMAN[@]}" exec "${PROJECT}_postgres_1" pg_isready -U tomo -d tomo >/dev/null 2>&1 && break
  sleep 1
done
step "compose: config render, migrate up (once), tomo"
"${COMPOSE[@]}" run --rm config >>"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log"; exit 1; }
"${COMPOSE[@]}" run --rm migrate >>"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log"; exit 1; }
"${COMPOSE[@]}" up -d tomo >>"$TMP/compose.log" 2>&1 || { cat "$TMP/compose.log"; exit 1; }
ready=0
for _ in $(seq 60); do
  curl -fs "http://127.0.0.1:$API/readyz" >/dev/null && { ready=1; break; }
  sleep 1
done
if ((!ready)); then
  echo "tomo did not become ready; /readyz says:"
  curl -s "http://127.0.0.1:$API/readyz" || true
  echo; "${PODMAN[@]}" logs "${PROJECT}_tomo_1" 2>&1 | tail -30
  exit 1
fi
"${PODMAN[@]}" exec "${PROJECT}_tomo_1" /usr/local/bin/tomo healthcheck
"${PODMAN[@]}" inspect "${PROJECT}_tomo_1" \
  --format 'user={{.Config.User}} readonly={{.HostConfig.ReadonlyRootfs}} capdrop={{.HostConfig.CapDrop}} secopt={{.HostConfig.SecurityOpt}}'

step "nakama-js against the published ports"
if [[ ! -d tests/integration/node_modules ]]; then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd tests/integration && TOMO_CONTAINER_API_PORT=$API TOMO_CONTAINER_WS_PORT=$WS \
  TOMO_CONTAINER_METRICS_PORT=$MET TOMO_CONTAINER_SERVER_KEY=$TOMO_SOCKET_SERVER_KEY \
  node --test --test-concurrency=1 container.test.mjs)
step "container test passed"
