# A PostgreSQL 15 image for scripts/container-test.sh, built from the same
# debootstrapped Debian 12 base (no registry here). It honours the official
# image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB and data path, so
# deploy/compose.yml runs unchanged with POSTGRES_IMAGE pointing at it.
ARG DEBIAN_IMAGE=docker.io/library/debian:12-slim
FROM ${DEBIAN_IMAGE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
    && install -d -o postgres -g postgres /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY tests/deploy/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
EXPOSE 5432
ENTRYPOINT ["/bin/sh", "/usr/local/bin/postgres-entrypoint.sh"]
