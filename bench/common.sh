# shellcheck shell=bash
# bench/common.sh: sourced by the bench scripts that start their own tomo
# (lb_run.sh, amatch_run.sh). Given $tomo, $bench and $1 (the data dir's
# name), it checks the binaries, picks five free loopback ports (api, ws,
# console, metrics), makes a temp data dir ($data) and removes it, with the
# server ($srv_pid once set), on exit.
[ -x "$tomo" ] && [ -x "$bench" ] || {
    log "build first: cmake --build build --target tomo tomo-bench"; exit 2; }
port_busy() { ss -Htan "( sport = :$1 )" 2>/dev/null | grep -q .; }
for _ in $(seq 1 50); do
    b=$((20000 + RANDOM % 30000)); ok=1
    for p in $b $((b + 1)) $((b + 2)) $((b + 3)) $((b + 4)); do port_busy "$p" && ok=0; done
    [ $ok = 1 ] && break
done
api=$((b + 1)) ws=$((b + 2)) console=$((b + 3)) metrics=$((b + 4))
data=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    rm -rf "$data"
}
trap cleanup EXIT
