# tomo container image: a multi-stage build on Debian 12 slim.
#   podman build --format docker -t tomo .     (or: docker build -t tomo .)
# The runtime stage runs as an unprivileged user, writes only to /data (SQLite
# and nothing else; with Postgres it stays empty) and reads its config from
# /config, so the root filesystem can be mounted read-only. Lua modules and C
# plugins (*.lua, *.so) are read from /modules (runtime.path in
# deploy/tomo.yml.tpl), empty here: bake them into an image built FROM this
# one (deploy/plugins/Dockerfile) or mount a directory there read-only. The
# plugin header ships at /usr/local/include/tomo/plugin.h, so plugins are
# built against exactly the ABI of the image they run on.
ARG DEBIAN_IMAGE=docker.io/library/debian:12-slim

FROM ${DEBIAN_IMAGE} AS build
WORKDIR /src
# Build dependencies come from the same list the repository uses (scripts/deps.sh).
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN rm -rf build && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
    && cmake --build build -j"$(nproc)" --target tomo \
    && strip --strip-debug build/tomo \
    && install -D -m 0755 build/tomo /out/usr/local/bin/tomo \
    && install -D -m 0644 deploy/tomo.yml.tpl /out/etc/tomo/tomo.yml.tpl \
    && install -D -m 0644 include/tomo/plugin.h /out/usr/local/include/tomo/plugin.h
# The runtime packages are whatever Debian packages ship the libraries the
# binary links, so this list cannot drift from the build.
RUN set -e; for lib in $(ldd build/tomo | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do \
      real=$(readlink -f "$lib"); \
      dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null \
        || dpkg -S "/usr$real" 2>/dev/null || { echo "no package ships $lib" >&2; exit 1; }; \
    done | cut -d: -f1 | sort -u | grep -v '^libc6$' > /out/runtime-packages; \
    cat /out/runtime-packages

FROM ${DEBIAN_IMAGE}
COPY --from=build /out/runtime-packages /tmp/runtime-packages
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       $(cat /tmp/runtime-packages) ca-certificates \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
    && groupadd --system --gid 10001 tomo \
    && useradd --system --uid 10001 --gid tomo --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin tomo \
    && install -d -o tomo -g tomo -m 0750 /data /config \
    && install -d -m 0755 /modules
COPY --from=build /out/ /
USER 10001:10001
WORKDIR /data
ENV TOMO_DATA_DIR=/data
VOLUME ["/data"]
# 7350 REST + WebSocket, 7349 WebSocket, 7351 console, 9100 Prometheus metrics
EXPOSE 7350 7349 7351 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/tomo", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tomo"]
CMD ["serve"]
