#!/bin/sh
# The read replica (replica service, profile "replica"): at its first start, a base backup of
# the primary with the standby configuration (pg_basebackup -R: standby.signal and
# primary_conninfo), then the official image's entrypoint runs PostgreSQL as a hot standby that
# streams the primary's WAL. The app reads it through DATABASE_REPLICA_URL (docs/deployment.md).
set -eu

: "${PRIMARY_HOST:=db}"
: "${PRIMARY_PORT:=5432}"
: "${PRIMARY_USER:=sales}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    until gosu postgres pg_isready -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER"; do
        sleep 1
    done
    # PGPASSWORD (the primary's password) comes from the service's environment.
    gosu postgres pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PRIMARY_USER" \
        -D "$PGDATA" -R -X stream -c fast
fi

exec docker-entrypoint.sh postgres -c hot_standby=on
