#!/bin/sh
# Run once by the official postgres image when it initializes a new data directory
# (/docker-entrypoint-initdb.d): lets the `replica` service of docker-compose.yml stream WAL
# from this server (pg_basebackup, then streaming replication) with the same password.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
