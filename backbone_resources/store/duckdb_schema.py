"""The DuckDB store's versioned migrations and the statements ``duckdb_store`` runs.

Tables mirror the institutional ones under a ``market_data`` schema. Every statement is a constant: values
travel as ``$name`` parameters or as a registered Arrow table named ``incoming`` (built by
``backbone_domain.frames``).
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Migration(NamedTuple):
    version: int
    name: str
    statements: tuple[str, ...]


# Re-runnable on their own (IF NOT EXISTS / OR REPLACE), so a half-recorded migration can be applied again.
MIGRATIONS: Final = (
    Migration(
        1,
        "daily, raw and rejected bars",
        (
            """CREATE TABLE IF NOT EXISTS market_data.daily_bars (
                symbol VARCHAR NOT NULL,
                ts TIMESTAMPTZ NOT NULL,
                open DOUBLE NOT NULL,
                high DOUBLE NOT NULL,
                low DOUBLE NOT NULL,
                close DOUBLE NOT NULL,
                adj_close DOUBLE,
                volume DOUBLE NOT NULL,
                source VARCHAR NOT NULL,
                ingested_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (symbol, ts))""",
            """CREATE TABLE IF NOT EXISTS market_data.raw_bars (
                partition_date DATE NOT NULL,
                source VARCHAR NOT NULL,
                symbol VARCHAR,
                ts TIMESTAMPTZ,
                open VARCHAR,
                high VARCHAR,
                low VARCHAR,
                close VARCHAR,
                adj_close VARCHAR,
                volume VARCHAR,
                payload VARCHAR,
                landed_at TIMESTAMPTZ NOT NULL)""",
            """CREATE TABLE IF NOT EXISTS market_data.rejected_bars (
                partition_date DATE NOT NULL,
                source VARCHAR NOT NULL,
                symbol VARCHAR,
                ts TIMESTAMPTZ,
                payload JSON,
                reasons VARCHAR[] NOT NULL,
                rejected_at TIMESTAMPTZ NOT NULL)""",
        ),
    ),
    Migration(
        2,
        "weekly bars view",
        # Weeks are cut on the UTC clock whatever the reading session's TimeZone: make_timestamp(epoch_us(ts))
        # is the naive UTC time, truncated without time-zone rules (~5x cheaper than timezone('UTC', ..)).
        (
            """CREATE OR REPLACE VIEW market_data.weekly_bars AS
            SELECT symbol,
                   make_timestamptz(epoch_us(date_trunc('week', make_timestamp(epoch_us(ts))))) AS week,
                   arg_min(open, ts) AS open,
                   max(high) AS high,
                   min(low) AS low,
                   arg_max(close, ts) AS close,
                   sum(volume) AS volume,
                   count(*) AS bars
            FROM market_data.daily_bars
            GROUP BY symbol, week""",
        ),
    ),
    Migration(
        3,
        "quarantined files",
        (
            """CREATE TABLE IF NOT EXISTS market_data.quarantined_files (
                source VARCHAR NOT NULL,
                path VARCHAR NOT NULL,
                symbol VARCHAR,
                size BIGINT NOT NULL,
                sha256 VARCHAR NOT NULL,
                rows BIGINT,
                reason VARCHAR NOT NULL,
                first_bytes VARCHAR NOT NULL,
                seen_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (source, path))""",
        ),
    ),
    Migration(
        4,
        "bar versions",
        # Superseded versions of daily_bars rows: known from ingested_at until superseded_at (docs/versions.md).
        (
            """CREATE TABLE IF NOT EXISTS market_data.bar_versions (
                symbol VARCHAR NOT NULL,
                ts TIMESTAMPTZ NOT NULL,
                open DOUBLE NOT NULL,
                high DOUBLE NOT NULL,
                low DOUBLE NOT NULL,
                close DOUBLE NOT NULL,
                adj_close DOUBLE,
                volume DOUBLE NOT NULL,
                source VARCHAR NOT NULL,
                ingested_at TIMESTAMPTZ NOT NULL,
                superseded_at TIMESTAMPTZ NOT NULL,
                reason VARCHAR NOT NULL)""",
        ),
    ),
    Migration(
        5,
        "bar loads",
        # Which run and source each ingested_at stamp belongs to (backbone_domain.bar_history.BarLoad). Bars
        # stored before it have no load: their run reads as unknown (NULL); nothing is rewritten.
        (
            """CREATE TABLE IF NOT EXISTS market_data.bar_loads (
                ingested_at TIMESTAMPTZ PRIMARY KEY,
                run_id VARCHAR,
                source VARCHAR NOT NULL,
                first_day DATE NOT NULL,
                last_day DATE NOT NULL,
                loaded_at TIMESTAMPTZ NOT NULL)""",
        ),
    ),
    Migration(
        6,
        "intraday bars",
        # N-minute bars of sessions (docs/streaming.md, "Storing intraday bars"); session: the trading date
        # whose daily bar they aggregate to (an FX Monday session starts on Sunday).
        (
            """CREATE TABLE IF NOT EXISTS market_data.intraday_bars (
                symbol VARCHAR NOT NULL,
                session DATE NOT NULL,
                ts TIMESTAMPTZ NOT NULL,
                interval_s INTEGER NOT NULL,
                open DOUBLE NOT NULL,
                high DOUBLE NOT NULL,
                low DOUBLE NOT NULL,
                close DOUBLE NOT NULL,
                volume DOUBLE NOT NULL,
                source VARCHAR NOT NULL,
                ingested_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (symbol, ts, interval_s))""",
        ),
    ),
)

CREATE_MIGRATIONS_TABLE: Final = (
    "CREATE SCHEMA IF NOT EXISTS market_data",
    """CREATE TABLE IF NOT EXISTS market_data.schema_migrations (
        version INTEGER PRIMARY KEY,
        name VARCHAR NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)""",
)
HAS_MIGRATIONS_TABLE: Final = """SELECT count(*) FROM duckdb_tables()
    WHERE schema_name = 'market_data' AND table_name = 'schema_migrations'"""
APPLIED_VERSIONS: Final = "SELECT version FROM market_data.schema_migrations"
RECORD_MIGRATION: Final = "INSERT INTO market_data.schema_migrations (version, name) VALUES ($version, $name)"

# The stored versions an upsert of `incoming` replaces, kept before it runs (the same rule as its WHERE).
KEEP_REPLACED: Final = """INSERT INTO market_data.bar_versions
    SELECT d.symbol, d.ts, d.open, d.high, d.low, d.close, d.adj_close, d.volume, d.source, d.ingested_at,
           i.ingested_at, 'corrected'
    FROM market_data.daily_bars AS d JOIN incoming AS i ON d.symbol = i.symbol AND d.ts = i.ts
    WHERE d.ts BETWEEN (SELECT min(ts) FROM incoming) AND (SELECT max(ts) FROM incoming)
      AND d.ingested_at <= i.ingested_at
      AND (d.open, d.high, d.low, d.close, d.adj_close, d.volume, d.source)
          IS DISTINCT FROM (i.open, i.high, i.low, i.close, i.adj_close, i.volume, i.source)"""
# Retired at the retiring load's stamp ($retired_at), or now when the write names no load.
KEEP_RETIRED: Final = """INSERT INTO market_data.bar_versions
    SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at,
           coalesce($retired_at::TIMESTAMPTZ, current_timestamp), 'retired'
    FROM market_data.daily_bars WHERE (symbol, ts) IN (SELECT (symbol, ts) FROM incoming)"""
# A run stamping several chunks alike (a fixed clock) records one load spanning them; the first run keeps it.
RECORD_LOAD: Final = """INSERT INTO market_data.bar_loads
    VALUES ($ingested_at, $run_id, $source, $first_day, $last_day, current_timestamp)
    ON CONFLICT (ingested_at) DO UPDATE SET
        first_day = least(bar_loads.first_day, excluded.first_day),
        last_day = greatest(bar_loads.last_day, excluded.last_day)
    WHERE bar_loads.run_id IS NOT DISTINCT FROM excluded.run_id"""

# `incoming` holds each key once (ON CONFLICT cannot touch a row twice in one statement); an older
# ingested_at never overwrites a newer one, and a bar whose values did not change keeps its stored version, so a
# re-run leaves the store (and every export, message version and cache entry derived from it) exactly as it was.
# DuckDB reports the rows inserted or updated.
UPSERT_BARS: Final = """INSERT INTO market_data.daily_bars
    SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at
    FROM incoming
    ON CONFLICT (symbol, ts) DO UPDATE SET
        open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
        adj_close = excluded.adj_close, volume = excluded.volume, source = excluded.source,
        ingested_at = excluded.ingested_at
    WHERE daily_bars.ingested_at <= excluded.ingested_at
      AND (daily_bars.open, daily_bars.high, daily_bars.low, daily_bars.close, daily_bars.adj_close,
           daily_bars.volume, daily_bars.source)
          IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.adj_close,
           excluded.volume, excluded.source)"""

DELETE_RETIRED: Final = """DELETE FROM market_data.daily_bars
    WHERE (symbol, ts) IN (SELECT (symbol, ts) FROM incoming)"""
DELETE_REJECTED: Final = "DELETE FROM market_data.rejected_bars WHERE partition_date BETWEEN $start AND $end"
# A payload that is not JSON is kept as a JSON string rather than refused.
INSERT_REJECTED: Final = """INSERT INTO market_data.rejected_bars
    SELECT partition_date, source, symbol, ts,
           CASE WHEN json_valid(payload) THEN payload::JSON ELSE to_json(payload) END,
           reasons, coalesce(rejected_at, current_timestamp)
    FROM incoming"""

DELETE_QUARANTINED: Final = "DELETE FROM market_data.quarantined_files WHERE source = $source"
INSERT_QUARANTINED: Final = """INSERT INTO market_data.quarantined_files
    SELECT source, path, symbol, size, sha256, rows, reason, first_bytes, seen_at FROM incoming"""
READ_QUARANTINED: Final = """SELECT source, path, symbol, size, sha256, rows, reason, first_bytes, seen_at
    FROM market_data.quarantined_files ORDER BY source, path"""

DELETE_RAW: Final = "DELETE FROM market_data.raw_bars WHERE partition_date BETWEEN $start AND $end"
INSERT_RAW: Final = """INSERT INTO market_data.raw_bars
    SELECT partition_date, source, symbol, ts, open, high, low, close, adj_close, volume, payload,
           current_timestamp
    FROM incoming"""
READ_RAW: Final = """SELECT symbol, ts, open, high, low, close, adj_close, volume, source, partition_date,
        payload
    FROM market_data.raw_bars
    WHERE partition_date BETWEEN $start AND $end
    ORDER BY partition_date, symbol, ts NULLS FIRST, rowid"""
# rowid: the insertion order within a partition. payload::VARCHAR is the JSON text as stored.
READ_REJECTED: Final = """SELECT symbol, ts, partition_date, source, payload::VARCHAR AS payload, reasons, rejected_at
    FROM market_data.rejected_bars
    WHERE partition_date BETWEEN $start AND $end
    ORDER BY partition_date, rowid"""

# $stop is the midnight after the last day; $symbols is NULL for every symbol.
READ_BARS: Final = """SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at
    FROM market_data.daily_bars
    WHERE ts >= $start AND ts < $stop
      AND ($symbols::VARCHAR[] IS NULL OR list_contains($symbols::VARCHAR[], symbol))
    ORDER BY symbol, ts"""
# As known at $as_of: the current rows learned by then, and the superseded versions valid then.
READ_BARS_AS_OF: Final = """SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at
    FROM (
        SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at
        FROM market_data.daily_bars WHERE ingested_at <= $as_of
        UNION ALL
        SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at
        FROM market_data.bar_versions WHERE ingested_at <= $as_of AND superseded_at > $as_of
    )
    WHERE ts >= $start AND ts < $stop
      AND ($symbols::VARCHAR[] IS NULL OR list_contains($symbols::VARCHAR[], symbol))
    ORDER BY symbol, ts"""
READ_WEEKLY: Final = """SELECT symbol, week, open, high, low, close, volume, bars
    FROM market_data.weekly_bars
    WHERE week >= $start AND week < $stop
      AND ($symbols::VARCHAR[] IS NULL OR list_contains($symbols::VARCHAR[], symbol))
    ORDER BY symbol, week"""

LATEST_BARS: Final = "SELECT symbol, max(ts) FROM market_data.daily_bars GROUP BY symbol ORDER BY symbol"
QUALITY_COUNTS: Final = """SELECT
    (SELECT count(*) FROM market_data.daily_bars),
    (SELECT count(*) - count(DISTINCT (symbol, ts)) FROM market_data.daily_bars),
    (SELECT count(*) FROM market_data.daily_bars
        WHERE low > least(open, close) OR high < greatest(open, close) OR least(open, high, low, close) <= 0),
    (SELECT count(*) FROM market_data.rejected_bars),
    (SELECT count(*) FROM market_data.rejected_bars WHERE list_has_any(reasons, $kept::VARCHAR[]))"""
RANGE_COUNTS: Final = """SELECT
    (SELECT count(*) FROM market_data.daily_bars WHERE ts >= $start_ts AND ts < $stop),
    (SELECT count(*) FROM market_data.rejected_bars WHERE partition_date BETWEEN $start AND $end)"""
# Every version of one bar ($start <= ts < $stop: its trading date), oldest first, with the loads that wrote
# and replaced it.
BAR_HISTORY: Final = """SELECT v.symbol, v.ts, v.open, v.high, v.low, v.close, v.adj_close, v.volume, v.source,
        v.ingested_at AS known_from, v.known_to, v.reason,
        wrote.run_id, replaced.run_id AS replaced_by_run, replaced.source AS replaced_by_source
    FROM (
        SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at,
               superseded_at AS known_to, reason
        FROM market_data.bar_versions WHERE symbol = $symbol AND ts >= $start AND ts < $stop
        UNION ALL
        SELECT symbol, ts, open, high, low, close, adj_close, volume, source, ingested_at,
               NULL::TIMESTAMPTZ, NULL::VARCHAR
        FROM market_data.daily_bars WHERE symbol = $symbol AND ts >= $start AND ts < $stop
    ) AS v
    LEFT JOIN market_data.bar_loads AS wrote ON wrote.ingested_at = v.ingested_at
    LEFT JOIN market_data.bar_loads AS replaced ON replaced.ingested_at = v.known_to
    ORDER BY v.ts, known_from, known_to NULLS LAST"""

# Retention (``BarStore.prune_versions``): versions superseded before $before, then the loads stamped before it
# that no current bar and no kept version refers to (run only when versions went: nothing else orphans a load).
PRUNE_VERSIONS: Final = "DELETE FROM market_data.bar_versions WHERE superseded_at < $before"
PRUNE_LOADS: Final = """DELETE FROM market_data.bar_loads AS l WHERE l.ingested_at < $before
    AND NOT EXISTS (SELECT 1 FROM market_data.bar_versions AS v
                    WHERE v.ingested_at = l.ingested_at OR v.superseded_at = l.ingested_at)
    AND NOT EXISTS (SELECT 1 FROM market_data.daily_bars AS d WHERE d.ingested_at = l.ingested_at)"""
VERSION_COUNTS: Final = """SELECT (SELECT count(*) FROM market_data.daily_bars),
    count(*), min(superseded_at) FROM market_data.bar_versions"""
# Every version the store holds in a span (``BarStore.version_keys``): the current ones and the kept ones.
VERSION_KEYS: Final = """SELECT symbol, ts, ingested_at FROM (
        SELECT symbol, ts, ingested_at FROM market_data.daily_bars
        UNION ALL
        SELECT symbol, ts, ingested_at FROM market_data.bar_versions)
    WHERE ts >= $start AND ts < $stop
      AND ($symbols::VARCHAR[] IS NULL OR list_contains($symbols::VARCHAR[], symbol))
    ORDER BY symbol, ts, ingested_at"""
# The keys changed after $since (BarStore.keys_changed_since): current versions learned since, and retirements
# since whose key is not stored again. ingested_at correlates with insertion order, so zone maps skip most of
# daily_bars.
KEYS_CHANGED_SINCE: Final = """SELECT symbol, ts, changed_at, retired FROM (
        SELECT symbol, ts, ingested_at AS changed_at, false AS retired
        FROM market_data.daily_bars WHERE ingested_at > $since
        UNION ALL
        SELECT v.symbol, v.ts, max(v.superseded_at), true
        FROM market_data.bar_versions AS v
        WHERE v.reason = 'retired' AND v.superseded_at > $since
          AND NOT EXISTS (SELECT 1 FROM market_data.daily_bars AS d WHERE d.symbol = v.symbol AND d.ts = v.ts)
        GROUP BY v.symbol, v.ts
    )
    ORDER BY symbol, ts"""
