#!/bin/sh
# The primary (db service), at its first start only (/docker-entrypoint-initdb.d): let the
# replica service stream from it (pg_basebackup, then streaming replication) with the same
# password authentication as the app. wal_level=replica is PostgreSQL's default.
set -eu
echo "host replication ${POSTGRES_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
