#!/usr/bin/env bash
# Runs once, when the timescaledb service initialises an empty data volume (docker-entrypoint-initdb.d):
# a role and a database of their own for Dagster's run/event/schedule storage, beside backbone's market data.
# Values reach SQL as psql variables (:'name' quotes a literal, :"name" an identifier), never spliced.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="$DAGSTER_PG_USER" -v password="$DAGSTER_PG_PASSWORD" -v db="$DAGSTER_PG_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
