"""Versioned, re-runnable migrations of the PostgreSQL / TimescaleDB bar store.

Python rather than ``.sql`` files because every statement names the configurable schema (composed with
``psycopg.sql``, never string formatting) and some steps exist only with or only without TimescaleDB.

Each migration runs in its own transaction under ``pg_advisory_xact_lock`` keyed on the schema, re-checks
``<schema>.schema_migrations`` under the lock and records itself there: Dagster step processes starting at
once apply each migration exactly once, and a second run changes nothing.

A database that gains TimescaleDB later: the ``timescale`` migrations were skipped (not recorded) while the
extension was missing, so the next start applies them. ``daily_bars`` becomes a hypertable
(``migrate_data`` moves the rows into chunks under an exclusive lock for as long as the copy takes: do it in a
quiet window), the plain ``weekly_bars`` view is replaced by the continuous aggregate, and ``migrate``
refreshes that over the stored history. A database that loses the extension is not supported (restore it
into a TimescaleDB server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql

# Daily data is ~250 rows a symbol a year: a year per chunk keeps a few thousand symbols at tens of MB a
# chunk, well under the "chunk fits in a quarter of memory" guidance, with one chunk to touch per year of
# backfill (365 days, not '1 year', which TimescaleDB turns into 360 days).
CHUNK_INTERVAL = "365 days"
# Bars older than a quarter are rarely rewritten; upserts into compressed chunks still work (2.11+).
COMPRESS_AFTER = "90 days"
# Intraday bars: ~400 rows a symbol a session (1,440 for FX), so a few thousand symbols make millions of rows a
# day: a day per chunk. A session is rewritten only while it runs or is replayed soon after; a week on, its
# chunk is compressed (segmentby symbol like the daily bars: reads are one symbol's session).
INTRADAY_CHUNK_INTERVAL = "1 day"
INTRADAY_COMPRESS_AFTER = "7 days"

Applies = Literal["always", "timescale", "plain"]


@dataclass(frozen=True)
class Names:
    """Identifiers of one store's objects, for composition into statements."""

    schema: str

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    def regclass(self, name: str) -> str:
        """The quoted qualified name, passed as a parameter to TimescaleDB functions taking a regclass."""
        return sql.Identifier(self.schema, name).as_string()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    applies: Applies
    apply: Callable[[psycopg.Connection, Names], None]


def _base_tables(conn: psycopg.Connection, n: Names) -> None:
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {daily} (
                symbol text NOT NULL, ts timestamptz NOT NULL,
                open double precision NOT NULL, high double precision NOT NULL,
                low double precision NOT NULL, close double precision NOT NULL,
                adj_close double precision, volume double precision NOT NULL,
                source text NOT NULL, ingested_at timestamptz NOT NULL,
                PRIMARY KEY (symbol, ts))"""
        ).format(daily=n.table("daily_bars"))
    )
    # Raw values stay text: exactly what the source said, so a bad value can be shown as it came in;
    # id keeps the landing order for reads.
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {raw} (
                id bigint GENERATED ALWAYS AS IDENTITY,
                partition_date date NOT NULL, source text NOT NULL, symbol text, ts timestamptz,
                open text, high text, low text, close text, adj_close text, volume text,
                payload text, landed_at timestamptz NOT NULL DEFAULT now())"""
        ).format(raw=n.table("raw_bars"))
    )
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {rejected} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                partition_date date NOT NULL, source text NOT NULL, symbol text, ts timestamptz,
                payload jsonb, reasons text[] NOT NULL, rejected_at timestamptz NOT NULL DEFAULT now())"""
        ).format(rejected=n.table("rejected_bars"))
    )
    for table in ("raw_bars", "rejected_bars"):
        conn.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} (partition_date)").format(
                index=sql.Identifier(f"{table}_partition_date_idx"), table=n.table(table)
            )
        )


def _hypertable(conn: psycopg.Connection, n: Names) -> None:
    daily = n.regclass("daily_bars")
    conn.execute(
        "SELECT create_hypertable(%s::regclass, by_range('ts', %s::interval),"
        " if_not_exists => TRUE, migrate_data => TRUE)",
        (daily, CHUNK_INTERVAL),
    )
    # segmentby symbol: reads are per symbol and time range, so a compressed batch holds one symbol's run.
    conn.execute(
        sql.SQL(
            "ALTER TABLE {daily} SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts DESC')"
        ).format(daily=n.table("daily_bars"))
    )
    conn.execute(
        "SELECT add_compression_policy(%s::regclass, compress_after => %s::interval, if_not_exists => TRUE)",
        (daily, COMPRESS_AFTER),
    )


def _weekly_view(conn: psycopg.Connection, n: Names) -> None:
    # date_trunc('week') starts weeks on Monday (ISO), like time_bucket('1 week'); UTC regardless of session.
    conn.execute(
        sql.SQL(
            """CREATE OR REPLACE VIEW {weekly} AS
            SELECT symbol,
                   date_trunc('week', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS week,
                   (array_agg(open ORDER BY ts))[1] AS open, max(high) AS high, min(low) AS low,
                   (array_agg(close ORDER BY ts DESC))[1] AS close,
                   sum(volume) AS volume, count(*) AS bars
            FROM {daily} GROUP BY 1, 2"""
        ).format(weekly=n.table("weekly_bars"), daily=n.table("daily_bars"))
    )


def _weekly_cagg(conn: psycopg.Connection, n: Names) -> None:
    is_cagg = conn.execute(
        "SELECT 1 FROM timescaledb_information.continuous_aggregates"
        " WHERE view_schema = %s AND view_name = 'weekly_bars'",
        (n.schema,),
    ).fetchone()
    if is_cagg:
        return
    conn.execute(sql.SQL("DROP VIEW IF EXISTS {weekly}").format(weekly=n.table("weekly_bars")))
    # materialized_only: reads see what refresh_weekly (or the policy) materialized, on every version.
    conn.execute(
        sql.SQL(
            """CREATE MATERIALIZED VIEW {weekly}
            WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
            SELECT symbol, time_bucket(INTERVAL '1 week', ts) AS week,
                   first(open, ts) AS open, max(high) AS high, min(low) AS low, last(close, ts) AS close,
                   sum(volume) AS volume, count(*) AS bars
            FROM {daily} GROUP BY symbol, week
            WITH NO DATA"""
        ).format(weekly=n.table("weekly_bars"), daily=n.table("daily_bars"))
    )
    # A safety net for late corrections; writers call refresh_weekly for the weeks they touched.
    conn.execute(
        "SELECT add_continuous_aggregate_policy(%s::regclass, start_offset => INTERVAL '8 weeks',"
        " end_offset => NULL, schedule_interval => INTERVAL '1 day', if_not_exists => TRUE)",
        (n.regclass("weekly_bars"),),
    )


def _raw_batches(conn: psycopg.Connection, n: Names) -> None:
    """The raw landing as one compressed Arrow batch per partition day (``raw_batches``). Rows already in
    ``raw_bars`` stay there and are still read (``postgres_raw``) until their days are landed again: no data
    moves under the migration lock, and nothing landed is lost."""
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {batches} (
                partition_date date PRIMARY KEY,
                row_count bigint NOT NULL CHECK (row_count > 0),
                batch bytea NOT NULL,
                landed_at timestamptz NOT NULL DEFAULT now())"""
        ).format(batches=n.table("raw_batches"))
    )
    # Already zstd-compressed: stored out of line without TOAST spending time compressing it again.
    conn.execute(
        sql.SQL("ALTER TABLE {batches} ALTER COLUMN batch SET STORAGE EXTERNAL").format(batches=n.table("raw_batches"))
    )


def _quarantined_files(conn: psycopg.Connection, n: Names) -> None:
    """Files set aside whole (``backbone_domain.quarantined_files``): the source's list as of its last run."""
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {files} (
                source text NOT NULL, path text NOT NULL, symbol text, size bigint NOT NULL,
                sha256 text NOT NULL, rows bigint, reason text NOT NULL, first_bytes text NOT NULL,
                seen_at timestamptz NOT NULL, PRIMARY KEY (source, path))"""
        ).format(files=n.table("quarantined_files"))
    )


def _bar_versions(conn: psycopg.Connection, n: Names) -> None:
    """Superseded versions of daily_bars rows: known from ingested_at until superseded_at (docs/versions.md)."""
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {versions} (
                symbol text NOT NULL, ts timestamptz NOT NULL,
                open double precision NOT NULL, high double precision NOT NULL,
                low double precision NOT NULL, close double precision NOT NULL,
                adj_close double precision, volume double precision NOT NULL,
                source text NOT NULL, ingested_at timestamptz NOT NULL,
                superseded_at timestamptz NOT NULL, reason text NOT NULL)"""
        ).format(versions=n.table("bar_versions"))
    )
    conn.execute(
        sql.SQL("CREATE INDEX IF NOT EXISTS {index} ON {versions} (symbol, ts)").format(
            index=sql.Identifier("bar_versions_key_idx"), versions=n.table("bar_versions")
        )
    )


def _bar_loads(conn: psycopg.Connection, n: Names) -> None:
    """Which run and source each ingested_at stamp belongs to (``bar_history.BarLoad``). Bars stored before it
    have no load, so their run reads as unknown (NULL): nothing is rewritten, no compressed chunk touched."""
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {loads} (
                ingested_at timestamptz PRIMARY KEY, run_id text, source text NOT NULL,
                first_day date NOT NULL, last_day date NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())"""
        ).format(loads=n.table("bar_loads"))
    )


def _intraday_bars(conn: psycopg.Connection, n: Names) -> None:
    """N-minute bars of sessions; ``session``: the trading date whose daily bar they aggregate to."""
    conn.execute(
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {intraday} (
                symbol text NOT NULL, session date NOT NULL, ts timestamptz NOT NULL, interval_s integer NOT NULL,
                open double precision NOT NULL, high double precision NOT NULL,
                low double precision NOT NULL, close double precision NOT NULL,
                volume double precision NOT NULL, source text NOT NULL, ingested_at timestamptz NOT NULL,
                PRIMARY KEY (symbol, ts, interval_s))"""
        ).format(intraday=n.table("intraday_bars"))
    )


def _intraday_hypertable(conn: psycopg.Connection, n: Names) -> None:
    """The intraday table as a hypertable of daily chunks with its own compression policy."""
    intraday = n.regclass("intraday_bars")
    conn.execute(
        "SELECT create_hypertable(%s::regclass, by_range('ts', %s::interval),"
        " if_not_exists => TRUE, migrate_data => TRUE)",
        (intraday, INTRADAY_CHUNK_INTERVAL),
    )
    conn.execute(
        sql.SQL(
            "ALTER TABLE {intraday} SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = 'ts DESC, interval_s')"
        ).format(intraday=n.table("intraday_bars"))
    )
    conn.execute(
        "SELECT add_compression_policy(%s::regclass, compress_after => %s::interval, if_not_exists => TRUE)",
        (intraday, INTRADAY_COMPRESS_AFTER),
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "base_tables", "always", _base_tables),
    Migration(2, "daily_bars_hypertable_compression", "timescale", _hypertable),
    Migration(3, "weekly_bars_view", "plain", _weekly_view),
    Migration(4, "weekly_bars_continuous_aggregate", "timescale", _weekly_cagg),
    Migration(5, "raw_batches", "always", _raw_batches),
    Migration(6, "quarantined_files", "always", _quarantined_files),
    Migration(7, "bar_versions", "always", _bar_versions),
    Migration(8, "bar_loads", "always", _bar_loads),
    Migration(9, "intraday_bars", "always", _intraday_bars),
    Migration(10, "intraday_bars_hypertable_compression", "timescale", _intraday_hypertable),
)


NOT_PRELOADED = (
    "CREATE EXTENSION timescaledb ended the connection, as TimescaleDB does when it is installed but not "
    "preloaded: add timescaledb to shared_preload_libraries in postgresql.conf and restart PostgreSQL"
)


def enable_timescale(conn: psycopg.Connection) -> tuple[str | None, str]:
    """The TimescaleDB version (created here when the server offers the extension), or None and why not."""
    offered = conn.execute(
        "SELECT installed_version FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    problem = "the server does not offer the timescaledb extension"
    if offered is not None and offered[0] is None:
        try:
            with conn.transaction():  # serialized: concurrent CREATE EXTENSION IF NOT EXISTS can collide
                _lock(conn, "timescaledb extension")
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        except psycopg.Error as exc:  # e.g. no privilege
            problem = f"CREATE EXTENSION timescaledb failed: {' '.join(str(exc).split())}"
        if conn.closed:  # the server ended the session: what TimescaleDB does when it is not preloaded
            return None, NOT_PRELOADED
    installed = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return (installed[0] if installed else None), problem


def timescale_features(cur: psycopg.Cursor[Any], schema: str, timescale: bool) -> dict[str, bool]:
    """Which TimescaleDB features the schema's objects use, read from the catalog (not assumed)."""
    features = {"hypertable": False, "compression": False, "continuous_aggregate": False}
    if not timescale:
        return features
    row = cur.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_schema = %s AND hypertable_name = 'daily_bars'",
        (schema,),
    ).fetchone()
    features["hypertable"], features["compression"] = row is not None, bool(row and row[0])
    cagg = cur.execute(
        "SELECT 1 FROM timescaledb_information.continuous_aggregates"
        " WHERE view_schema = %s AND view_name = 'weekly_bars'",
        (schema,),
    ).fetchone()
    features["continuous_aggregate"] = cagg is not None
    return features


def _lock(conn: psycopg.Connection, scope: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"backbone.store.migrations:{scope}",))


def _applied(conn: psycopg.Connection, n: Names) -> set[int]:
    exists = conn.execute("SELECT to_regclass(%s)", (n.regclass("schema_migrations"),)).fetchone()
    if not exists or exists[0] is None:
        return set()
    rows = conn.execute(sql.SQL("SELECT version FROM {t}").format(t=n.table("schema_migrations")))
    return {version for (version,) in rows}


def pending(timescale: bool, applied: set[int]) -> list[Migration]:
    """Migrations this server should have and has not recorded, in order."""
    wanted = {"always", "timescale" if timescale else "plain"}
    return [m for m in MIGRATIONS if m.applies in wanted and m.version not in applied]


def migrate(conn: psycopg.Connection, schema: str, timescale: bool) -> list[str]:
    """Apply what is pending on an autocommit connection; returns the names applied (empty on a re-run)."""
    n = Names(schema)
    if not pending(timescale, _applied(conn, n)):
        return []
    with conn.transaction():
        _lock(conn, schema)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {s}").format(s=sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {t} (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            ).format(t=n.table("schema_migrations"))
        )
    done: list[str] = []
    for migration in pending(timescale, set()):
        with conn.transaction():
            _lock(conn, schema)
            if migration.version in _applied(conn, n):
                continue
            migration.apply(conn, n)
            conn.execute(
                sql.SQL("INSERT INTO {t} (version, name) VALUES (%s, %s)").format(t=n.table("schema_migrations")),
                (migration.version, migration.name),
            )
        done.append(migration.name)
    if "weekly_bars_continuous_aggregate" in done:
        _backfill_weekly(conn, n)
    return done


def _backfill_weekly(conn: psycopg.Connection, n: Names) -> None:
    """Materialize history when the aggregate replaced the view over existing bars (outside a transaction)."""
    has_rows = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {d})").format(d=n.table("daily_bars")))
    row = has_rows.fetchone()
    if row and row[0]:
        conn.execute("CALL refresh_continuous_aggregate(%s::regclass, NULL, NULL)", (n.regclass("weekly_bars"),))
