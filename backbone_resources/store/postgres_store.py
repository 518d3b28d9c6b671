"""The institutional bar store: PostgreSQL, using TimescaleDB when the server has the extension.

With TimescaleDB ``daily_bars`` is a compressed hypertable and ``weekly_bars`` a continuous aggregate; on
plain PostgreSQL the same tables and an ordinary ``weekly_bars`` view, so the store also runs where the
extension cannot be installed (``describe()`` says which). Migrations (``postgres_migrations``) run on
first use; bulk data moves through COPY (``postgres_copy``). With a read replica (BACKBONE_TIMESCALE_READ_URL)
the read methods go to it once it has caught up with the primary, else to the primary (``postgres_replica``:
the policy); writes and migrations always go to the primary. Pool connections are in autocommit: writes open
explicit transactions, and ``refresh_continuous_aggregate`` (which refuses to run inside one) works on any
of them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd
import psycopg
import pyarrow as pa
from dagster import InitResourceContext
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import Field, PrivateAttr

from backbone_domain import frames
from backbone_domain.bar_history import HISTORY_COLUMNS, HISTORY_DTYPES, BarLoad
from backbone_domain.bars import KEY, REJECTED_DTYPES, WEEKLY_DTYPES, utc_midnight
from backbone_domain.changes import CHANGED_KEY_DTYPES
from backbone_domain.quarantined_files import QUARANTINED_FILE_COLUMNS, QUARANTINED_FILE_DTYPES
from backbone_domain.redaction import redact, redact_url, secrets_in
from backbone_domain.replica_lag import ReplicaLag
from backbone_domain.source_truth import KEPT_REASONS
from backbone_resources.env import secret
from backbone_resources.probe import Probe, probing
from backbone_resources.store import postgres_copy as pgcopy
from backbone_resources.store import postgres_intraday, postgres_raw
from backbone_resources.store.base import (
    BAR_ARROW_SCHEMA,
    VERSION_KEY_SCHEMA,
    BarStore,
    PrunedVersions,
    QualityCounts,
    StoreUnavailable,
    VersionCounts,
    WriteCounts,
)
from backbone_resources.store.postgres_bar_writes import replace_rejected, write_bars
from backbone_resources.store.postgres_migrations import Names, enable_timescale, migrate, timescale_features
from backbone_resources.store.postgres_replica import ReplicaReads
from backbone_resources.store.postgres_sql import Statements

log = logging.getLogger(__name__)
_ATTEMPTS = 3  # a chunk's write, then twice more through staging if concurrent writers keep racing it


@dataclass(frozen=True)
class _Server:
    version: str
    timescaledb_version: str | None


class PostgresBarStore(BarStore):
    """Bars in PostgreSQL/TimescaleDB at BACKBONE_TIMESCALE_URL (see the module docstring)."""

    url: str = Field("", description="BACKBONE_TIMESCALE_URL, e.g. postgresql://user:password@host:5432/db")
    url_file: str | None = Field(None, description="BACKBONE_TIMESCALE_URL_FILE: a file holding the URL instead")
    read_url: str | None = Field(
        None, description="BACKBONE_TIMESCALE_READ_URL: a streaming replica of url for the reads; unset: url"
    )
    read_url_file: str | None = Field(
        None, description="BACKBONE_TIMESCALE_READ_URL_FILE: a file holding the read URL instead"
    )
    read_max_wait_s: float = Field(
        1.0, ge=0, le=60, description="BACKBONE_TIMESCALE_READ_MAX_WAIT_S: how long a read waits for the replica"
    )
    require_timescale: bool = Field(False, description="BACKBONE_REQUIRE_TIMESCALE: fail without it")
    pool_size: int = Field(4, ge=1, le=64, description="BACKBONE_PG_POOL_SIZE: connections at most")
    schema_name: str = Field("market_data", description="schema holding the store's tables")
    connect_timeout_s: float = Field(10, gt=0, description="how long to wait for the server")
    prepared_statements: bool = Field(
        True,
        description="psycopg's automatic prepared statements; turn off behind a pooler that shares one "
        "server session among clients (PgBouncer transaction mode)",
    )

    overlapping_reads: ClassVar[bool] = True  # pool connections: a read does not wait for a write
    # TimescaleDB features are used when the extension exists (known only at run time), so both are named.
    kinds: ClassVar[tuple[str, ...]] = ("timescale", "postgres")

    _pool: ConnectionPool | None = PrivateAttr(default=None)
    _server: _Server | None = PrivateAttr(default=None)
    _replica: ReplicaReads | None = PrivateAttr(default=None)
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._connect()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        with self._guard:
            if self._pool is not None:
                self._pool.close()
            self._pool = None
            if self._replica is not None:
                self._replica.close()
            self._replica = None

    def _unavailable(self, cause: object) -> StoreUnavailable:
        """The short cause (one line, no traceback), naming the setting; the password never appears."""
        secrets = [*secrets_in(self._url()), *secrets_in(self._read_url() or "")]
        text = redact(" ".join(str(cause).split()) or type(cause).__name__, secrets)
        where = redact_url(self._url())
        return StoreUnavailable(f"cannot use the bar store at {where} (BACKBONE_TIMESCALE_URL): {text}")

    def _url(self) -> str:
        """The configured URL, or its file's content read now: a pool opened after a rotation uses the new one."""
        return secret(self.url, self.url_file, "BACKBONE_TIMESCALE_URL") or ""

    def _read_url(self) -> str | None:
        """The replica's URL, or its file's content read now (as ``_url``)."""
        return secret(self.read_url, self.read_url_file, "BACKBONE_TIMESCALE_READ_URL")

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(2, round(self.connect_timeout_s)),
        }
        if not self.prepared_statements:
            kwargs["prepare_threshold"] = None
        return kwargs

    def _connect(self) -> ConnectionPool:
        """The pool, created on first use after checking the server and applying migrations."""
        with self._guard:
            if self._pool is not None:
                return self._pool
            if not self._url():
                raise StoreUnavailable("BACKBONE_TIMESCALE_URL is empty: set it to postgresql://user:password@host/db")
            try:
                with psycopg.connect(self._url(), **self._connect_kwargs()) as conn:
                    self._server = self._prepare(conn)
            except psycopg.Error as exc:
                raise self._unavailable(exc) from None
            pool = ConnectionPool(
                self._url(),
                kwargs=self._connect_kwargs(),
                min_size=1,
                max_size=self.pool_size,
                open=False,
                timeout=self.connect_timeout_s,
                check=ConnectionPool.check_connection,  # a server restart must not hand out dead connections
                name=f"backbone-store-{self.schema_name}",
            )
            try:
                pool.open(wait=True, timeout=self.connect_timeout_s)
            except PoolTimeout as exc:
                pool.close()
                raise self._unavailable(exc) from None
            self._pool = pool
            return pool

    def _prepare(self, conn: psycopg.Connection) -> _Server:
        version = conn.execute("SHOW server_version").fetchone()
        timescale, problem = enable_timescale(conn)
        if timescale is None and self.require_timescale:
            raise StoreUnavailable(
                f"BACKBONE_REQUIRE_TIMESCALE is set but {redact_url(self._url())} (BACKBONE_TIMESCALE_URL) "
                f"has no TimescaleDB: {problem}"
            )
        if conn.closed:  # not preloaded: the session ended; plain PostgreSQL on a new one, as configured
            with psycopg.connect(self._url(), **self._connect_kwargs()) as fresh:
                return self._migrate(fresh, version, None, problem)
        return self._migrate(conn, version, timescale, problem)

    def _migrate(self, conn: psycopg.Connection, version: Any, timescale: str | None, problem: str) -> _Server:
        applied = migrate(conn, self.schema_name, timescale is not None)
        log.info(
            "bar store %s schema %s: timescaledb %s; migrations applied: %s",
            redact_url(self._url()),
            self.schema_name,
            timescale or f"off ({problem})",
            ", ".join(applied) or "none pending",
        )
        return _Server(version[0] if version else "unknown", timescale)

    def _replicas(self) -> ReplicaReads | None:
        """The read replica, when one is configured (and is not the primary's own URL)."""
        read_url = self._read_url()
        if not read_url or read_url == self._url():
            return None
        with self._guard:
            if self._replica is None:
                self._replica = ReplicaReads(read_url, self._connect_kwargs, self.pool_size, self.read_max_wait_s)
            return self._replica

    @contextmanager
    def _cursor(self, *, transaction: bool = False, read: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """Every method's way in, and the one place that picks a read's server: ``read`` goes to the replica
        when one is configured and has caught up with the primary (``postgres_replica``), else to the primary,
        where everything else goes. A pool that cannot connect in time (PoolTimeout) or a connection lost
        mid-work (OperationalError: a restart, a dropped link; also deadlocks, serialization failures and a
        replica's recovery conflicts) is StoreUnavailable, which the assets retry: a write is one transaction,
        so it is re-run whole."""
        try:
            primary = self._connect()
            replicas = self._replicas() if read else None
            with primary.connection() if replicas is None else replicas.connection(primary) as conn:
                if transaction:
                    with conn.transaction(), conn.cursor() as cur:
                        yield cur
                else:
                    with conn.cursor() as cur:
                        yield cur
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self._unavailable(exc) from None

    @property
    def _sql(self) -> Statements:
        return Statements(self.schema_name)

    # -- BarStore ----------------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        self._connect()
        assert self._server is not None
        with self._cursor() as cur:
            features = timescale_features(cur, self.schema_name, self._server.timescaledb_version is not None)
        return {
            "backend": "postgresql",
            "endpoint": redact_url(self._url()),
            "read_replica": None if self._replicas() is None else redact_url(self._read_url() or ""),
            "schema": self.schema_name,
            "server_version": self._server.version,
            "timescaledb": self._server.timescaledb_version is not None,
            "timescaledb_version": self._server.timescaledb_version,
            **features,
            "weekly_bars": "continuous_aggregate" if features["continuous_aggregate"] else "view",
            "features_off": [name for name, on in features.items() if not on],
        }

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1")

    def probe(self) -> Probe:
        def version() -> str:
            self.ping()
            assert self._server is not None
            timescale = self._server.timescaledb_version
            return self._server.version + (f", timescaledb {timescale}" if timescale else "")

        return probing("postgresql", redact_url(self._url()), version)

    def replica_lag(self) -> ReplicaLag | None:
        replicas = self._replicas()
        if replicas is None:
            return None
        try:
            return replicas.lag(self._connect())
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise self._unavailable(exc) from None

    def replace_raw(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> int:
        return self._replace_raw(start, end, raw).num_rows

    def land(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> pd.DataFrame:
        # The day batches just written, as ``read_raw`` decodes them: no round trip (1.26M rows: ~2.6 s of decoding).
        return frames.raw_frame(self._replace_raw(start, end, raw))

    def _replace_raw(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> pa.Table:
        table = frames.raw_table(raw, keep_numbers=True)  # a day's batch holds numbers as numbers
        frames.check_partitions(table, start, end, "raw")
        with self._cursor(transaction=True) as cur:
            return postgres_raw.replace(cur, self._sql, start, end, table)

    def read_raw(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        with self._cursor(read=True) as cur:
            table = postgres_raw.read(cur, self._sql, start, end)
        return frames.raw_frame(table)

    def read_rejected(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        with self._cursor(read=True) as cur:
            table = pgcopy.copy_out(cur, self._sql.read_rejected(), (start, end), pgcopy.REJECTED_TYPES)
        frame = pgcopy.to_frame(table, ["ts", "rejected_at"], REJECTED_DTYPES)
        frame["reasons"] = pd.Series([json.loads(r) for r in frame["reasons"]], index=frame.index, dtype=object)
        return frame

    def write_validated(
        self,
        start: dt.date,
        end: dt.date,
        accepted: pd.DataFrame,
        rejected: pd.DataFrame,
        retired: pd.DataFrame | None = None,
        load: BarLoad | None = None,
    ) -> WriteCounts:
        if accepted.duplicated(list(KEY)).any():  # one row a key: the newest delivery
            accepted = accepted.sort_values("ingested_at", kind="stable")
            accepted = accepted.drop_duplicates(list(KEY), keep="last")
        bars = frames.bars_table(accepted)
        refusals = frames.rejected_table(rejected)
        frames.check_partitions(refusals, start, end, "rejected")
        refused = pgcopy.rejected_rows(refusals, dt.datetime.now(dt.UTC))
        gone = frames.keys_table(retired) if retired is not None and len(retired) else None
        for attempt in range(_ATTEMPTS):
            try:
                return self._write(start, end, bars, refused, gone, load, direct=attempt == 0)
            except psycopg.errors.UniqueViolation:
                if attempt == _ATTEMPTS - 1:
                    raise
                # A concurrent writer stored some of these keys after this write looked: the transaction
                # rolled back whole, and the staged path sees (and compares against) what it stored.
                log.info("bars of %s..%s were stored concurrently; writing them again through staging", start, end)
        raise AssertionError("unreachable")

    def _write(
        self,
        start: dt.date,
        end: dt.date,
        bars: pa.Table,
        refused: list[tuple[object, ...]],
        retired: pa.Table | None,
        load: BarLoad | None,
        direct: bool,
    ) -> WriteCounts:
        """One transaction: the range's rejected rows replaced, then the bars. The rejected rows go first because
        their replacement starts by taking the range's locks (``postgres_locks``): taken before any row lock,
        an overlapping write waits at the door instead of deadlocking with this one over bars."""
        with self._cursor(transaction=True) as cur:
            replace_rejected(cur, self._sql, start, end, refused)
            retired_at = None if load is None else load.ingested_at
            if retired is not None:
                symbols, stamps = retired.column("symbol").to_pylist(), retired.column("ts").to_pylist()
                cur.execute(self._sql.delete_keys(), (symbols, stamps, retired_at))
            columnstore = self._server is not None and self._server.timescaledb_version is not None
            written = write_bars(cur, self._sql, bars, direct=direct, columnstore=columnstore) if bars.num_rows else 0
            if load is not None and (written or retired is not None):
                cur.execute(
                    self._sql.record_load(),
                    (load.ingested_at, load.run_id, load.source, load.first_day, load.last_day),
                )
        return WriteCounts(bars=written, rejected=len(refused))

    def replace_quarantined_files(self, source: str, files: pd.DataFrame) -> None:
        rows = [
            tuple(None if pd.isna(v) else v for v in row)
            for row in files[list(QUARANTINED_FILE_COLUMNS)].itertuples(index=False)
        ]
        with self._cursor(transaction=True) as cur:
            cur.execute(self._sql.delete_quarantined(), (source,))
            cur.executemany(self._sql.insert_quarantined(), rows)

    def read_quarantined_files(self) -> pd.DataFrame:
        with self._cursor(read=True) as cur:
            rows = cur.execute(self._sql.read_quarantined()).fetchall()
        frame = pd.DataFrame(rows, columns=list(QUARANTINED_FILE_COLUMNS))
        frame["seen_at"] = pd.to_datetime(frame["seen_at"], utc=True)
        return frames.typed(frame, QUARANTINED_FILE_DTYPES)

    def refresh_weekly(self, start: dt.date, end: dt.date) -> None:
        self._connect()
        if self._server is None or self._server.timescaledb_version is None:
            return  # weekly_bars is a view: always current
        # Only buckets wholly inside the window are refreshed: widen to the Mondays around [start, end].
        first = start - dt.timedelta(days=start.weekday())
        stop = end - dt.timedelta(days=end.weekday()) + dt.timedelta(days=7)
        with self._cursor() as cur:  # autocommit: the procedure refuses to run inside a transaction
            cur.execute(
                "CALL refresh_continuous_aggregate(%s::regclass, %s, %s)",
                (Names(self.schema_name).regclass("weekly_bars"), _midnight(first), _midnight(stop)),
            )

    def read_bars_table(
        self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None, as_of: dt.datetime | None = None
    ) -> pa.Table:
        query, params = self._sql.read_bars(symbols is not None), _span(start, end, symbols)
        if as_of is not None:
            if as_of.tzinfo is None:
                raise ValueError(f"as_of must be timezone-aware, got {as_of!r}")
            query = self._sql.read_bars_as_of(symbols is not None)
            params = {"start": params[0], "stop": params[1], "as_of": as_of, "symbols": list(symbols or [])}
        with self._cursor(read=True) as cur:
            table = pgcopy.copy_out(cur, query, params, pgcopy.BAR_TYPES)
        return pgcopy.epoch_to_utc(table, ["ts", "ingested_at"]).cast(BAR_ARROW_SCHEMA)

    def bar_history(self, symbol: str, day: dt.date) -> pd.DataFrame:
        day_span = _span(day, day, None)
        with self._cursor(read=True) as cur:
            rows = cur.execute(self._sql.bar_history(), (symbol, *day_span, symbol, *day_span)).fetchall()
        frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
        for column in ("ts", "known_from", "known_to"):
            frame[column] = pd.to_datetime(frame[column].astype("Int64"), unit="us", utc=True)
        return frames.typed(frame, HISTORY_DTYPES)

    def prune_versions(self, superseded_before: dt.datetime) -> PrunedVersions:
        if superseded_before.tzinfo is None:
            raise ValueError(f"superseded_before must be timezone-aware, got {superseded_before!r}")
        with self._cursor(transaction=True) as cur:
            versions = cur.execute(self._sql.prune_versions(), (superseded_before,)).rowcount
            loads = cur.execute(self._sql.prune_loads(), {"before": superseded_before}).rowcount if versions else 0
        return PrunedVersions(versions=versions, loads=loads)

    def version_counts(self) -> VersionCounts:
        with self._cursor(read=True) as cur:
            current, superseded, oldest = cur.execute(self._sql.version_counts()).fetchone() or (0, 0, None)
        at = None if oldest is None else dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=oldest)
        return VersionCounts(current, superseded, at)

    def version_keys(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        with self._cursor(read=True) as cur:
            query, types = self._sql.version_keys(symbols is not None), pgcopy.VERSION_KEY_TYPES
            table = pgcopy.copy_out(cur, query, _span(start, end, symbols), types)
        return pgcopy.epoch_to_utc(table, ["ts", "ingested_at"]).cast(VERSION_KEY_SCHEMA).to_pandas()

    def read_weekly(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        query = self._sql.read_weekly(symbols is not None)
        with self._cursor(read=True) as cur:
            table = pgcopy.copy_out(cur, query, _span(start, end, symbols), pgcopy.WEEKLY_TYPES)
        return pgcopy.to_frame(table, ["week"], WEEKLY_DTYPES)

    def write_intraday(self, bars: pd.DataFrame | pa.Table) -> int:
        with self._cursor(transaction=True) as cur:
            return postgres_intraday.write(cur, self.schema_name, bars)

    def read_intraday(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        with self._cursor(read=True) as cur:
            return postgres_intraday.fetch(cur, self.schema_name, start, end, symbols)

    def latest_bar_dates(self) -> dict[str, dt.date]:
        with self._cursor(read=True) as cur:
            return {symbol: dt.date.fromisoformat(day) for symbol, day in cur.execute(self._sql.latest_dates())}

    def quality_counts(self) -> QualityCounts:
        with self._cursor(read=True) as cur:
            row = cur.execute(self._sql.quality_counts(), (self.schema_name, list(KEPT_REASONS))).fetchone()
        bars, violations, duplicates, rejected, kept = row or (0, 0, 0, 0, 0)
        return QualityCounts(bars, duplicates, violations, rejected, kept)

    def holds_bars(self, start: dt.date, end: dt.date) -> bool:
        with self._cursor(read=True) as cur:
            row = cur.execute(self._sql.holds_bars(), _span(start, end, None)).fetchone()
        return bool(row and row[0])

    def range_counts(self, start: dt.date, end: dt.date) -> WriteCounts:
        with self._cursor(read=True) as cur:
            row = cur.execute(self._sql.range_counts(), (*_span(start, end, None), start, end)).fetchone()
        bars, rejected = row or (0, 0)
        return WriteCounts(bars=bars, rejected=rejected)

    def keys_changed_since(self, since: dt.datetime) -> pd.DataFrame:
        if since.tzinfo is None:
            raise ValueError(f"since must be timezone-aware, got {since!r}")
        types = {"symbol": pa.string(), "ts": pa.int64(), "changed_at": pa.int64(), "retired": pa.int8()}
        with self._cursor(read=True) as cur:
            table = pgcopy.copy_out(cur, self._sql.keys_changed_since(), {"since": since}, types)
        return pgcopy.to_frame(table, ["ts", "changed_at"], CHANGED_KEY_DTYPES)


def _midnight(day: dt.date) -> dt.datetime:
    return utc_midnight(day).to_pydatetime()


def _span(start: dt.date, end: dt.date, symbols: Sequence[str] | None) -> tuple[Any, ...]:
    """[midnight of start, midnight after end) and, when given, the symbols."""
    span = (_midnight(start), _midnight(end + dt.timedelta(days=1)))
    return span if symbols is None else (*span, list(symbols))
