#!/usr/bin/env bash
# tests/layering/check_layers.sh: fails when a file under src/ includes a
# file of a higher layer, or of another subsystem of its own layer. The
# layers, lowest first (docs/ARCHITECTURE.md):
#   core < net, store, codec < svc, cluster < rt < runtime < api, grpc, console < serve/main
# Usage: check_layers.sh [repo root]. Run by ctest (label layering).
set -u
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root/src" || exit 2

rank() {
    case $1 in
    core) echo 0 ;;
    net | store | codec) echo 1 ;;
    svc | cluster) echo 2 ;;
    rt) echo 3 ;;
    runtime) echo 4 ;;
    api | grpc | console) echo 5 ;;
    main) echo 6 ;;
    *) echo -1 ;;
    esac
}

# Temporary exceptions "from->to-header", each with its reason. Keep this
# list empty; an entry is removed as soon as the code no longer needs it.
exceptions=(
)

# Same-layer uses that are the design, not debt: the gRPC adapter and the
# console's API explorer drive the API's transport-independent dispatch
# (api.h: route table, binding a request message, auth, handler call) so
# every call has one implementation; api includes neither.
allowed=(
    "grpc->api/api.h"
    "grpc->api/server.h"
    "console->api/api.h"
    "console->api/server.h"
)

is_exception() {
    local e
    for e in "${exceptions[@]}" "${allowed[@]}"; do
        [ "$e" = "$1" ] && return 0
    done
    return 1
}

bad=0
checked=0
while IFS= read -r file; do
    dir=${file%%/*}
    [ "$dir" = "$file" ] && dir=main # src/main.c, src/serve.c
    from=$(rank "$dir")
    [ "$from" -lt 0 ] && continue
    while IFS= read -r inc; do
        # resolve relative to the including file's directory
        base=$(dirname "$file")
        path=$(realpath -m --relative-to=. "$base/$inc")
        case $path in
        ../*) continue ;; # outside src/ (system or generated headers)
        esac
        [ -e "$path" ] || continue # generated (codec's *.pb-c.h) or system
        tdir=${path%%/*}
        [ "$tdir" = "$path" ] && tdir=main
        to=$(rank "$tdir")
        checked=$((checked + 1))
        [ "$tdir" = "$dir" ] && continue
        if [ "$to" -lt "$from" ]; then
            continue
        fi
        if is_exception "$dir->$path"; then
            continue
        fi
        echo "layering: src/$file includes src/$path ($dir may not include $tdir)"
        bad=$((bad + 1))
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find . -name '*.[ch]' | sed 's|^\./||' | sort)

if [ "$bad" -gt 0 ]; then
    echo "layering: $bad include(s) break the layer order"
    exit 1
fi
echo "layering: ok ($checked includes checked)"
