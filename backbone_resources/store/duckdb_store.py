"""The bootstrap time-series store: one DuckDB file, shared by parallel Dagster steps, the UI and the CLI.

A DuckDB file is held by one read-write process at a time, and while it is, no other process can open it at
all. So no connection outlives a call: each public method opens the file, does its work in one transaction and
closes it; an open that meets another process's lock is retried with jittered exponential backoff until
``lock_timeout_s``, then fails with StoreUnavailable naming the file and the holder. Reads open the file
read-only, so readers in different processes do not wait for one another.

Writers in different processes are therefore serialized by the file lock. Within one process DuckDB is not:
connections share one database, and two transactions landing the same empty partition both commit (MVCC only
refuses two deletions of one row), so each file's writing calls also take that file's ``threading.Lock``.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pandas as pd
import pyarrow as pa
from pydantic import Field, PrivateAttr
from tenacity import Retrying, retry_if_exception, stop_before_delay, wait_random_exponential

from backbone_domain import frames
from backbone_domain.bar_history import HISTORY_DTYPES, BarLoad
from backbone_domain.bars import KEY, RAW_DTYPES, REJECTED_DTYPES, WEEKLY_DTYPES, utc_midnight
from backbone_domain.changes import CHANGED_KEY_DTYPES
from backbone_domain.intraday_bars import INTRADAY_DTYPES, intraday_table
from backbone_domain.quarantined_files import QUARANTINED_FILE_COLUMNS, QUARANTINED_FILE_DTYPES
from backbone_domain.source_truth import KEPT_REASONS
from backbone_resources.probe import Probe, probing
from backbone_resources.store import duckdb_intraday
from backbone_resources.store import duckdb_schema as sql
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

_HOLDER = re.compile(r"Conflicting lock is held in (.*?\(PID \d+\))")
# Two store instances of one process migrating at once would conflict on the catalog; processes serialize on
# the file lock instead.
_MIGRATING = threading.Lock()
_WRITERS: dict[str, threading.Lock] = {}  # per resolved file path: one writing call at a time in this process
_WRITERS_GUARD = threading.Lock()


def _is_lock_conflict(exc: BaseException) -> bool:
    """DuckDB refusing the open because the file is held: by another process (its file lock), or in this
    process by a connection opened in the other mode (read-only vs read-write). Nothing else is retried."""
    if isinstance(exc, duckdb.IOException):
        return "Could not set lock on file" in str(exc)
    if isinstance(exc, duckdb.ConnectionException):
        return "different configuration than existing connections" in str(exc)
    return False


class DuckDBBarStore(BarStore):
    """Bars in a DuckDB file under BACKBONE_HOME, shared safely between processes (see the module doc)."""

    path: str = Field(description="the DuckDB file, e.g. <BACKBONE_HOME>/backbone.duckdb")
    lock_timeout_s: float = Field(
        120.0, gt=0, description="how long a call waits for another process to release the file"
    )

    kinds: ClassVar[tuple[str, ...]] = ("duckdb",)

    _migrated: bool = PrivateAttr(default=False)

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "duckdb",
            "endpoint": self.path,
            "duckdb_version": duckdb.__version__,
            "timescaledb": False,
            "hypertable": False,
            "compression": False,
            "continuous_aggregate": False,
            "weekly_bars": "view",
        }

    def ping(self) -> None:
        with self._transaction(read_only=True) as con:
            con.execute("SELECT 1")

    def probe(self) -> Probe:
        def version() -> str:
            self.ping()
            return duckdb.__version__

        return probing("duckdb", self.path, version)

    def replace_raw(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> int:
        incoming = frames.raw_table(raw)
        frames.check_partitions(incoming, start, end, "raw")
        with self._transaction() as con:
            con.execute(sql.DELETE_RAW, {"start": start, "end": end})
            con.register("incoming", incoming)
            con.execute(sql.INSERT_RAW)
        return incoming.num_rows

    def read_raw(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        with self._transaction(read_only=True) as con:
            frame = con.execute(sql.READ_RAW, {"start": start, "end": end}).df()
        frame["partition_date"] = frame["partition_date"].dt.date
        return frames.typed(frame, RAW_DTYPES)

    def read_rejected(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        with self._transaction(read_only=True) as con:
            table = con.sql(sql.READ_REJECTED, params={"start": start, "end": end}).to_arrow_table()
        # Arrow rather than .df(): reasons come out as lists (not numpy arrays), partition_date as datetime.date.
        frame = table.drop_columns(["reasons"]).to_pandas()
        frame["reasons"] = pd.Series(table.column("reasons").to_pylist(), index=frame.index, dtype=object)
        return frames.typed(frame, REJECTED_DTYPES)

    def write_validated(
        self,
        start: dt.date,
        end: dt.date,
        accepted: pd.DataFrame,
        rejected: pd.DataFrame,
        retired: pd.DataFrame | None = None,
        load: BarLoad | None = None,
    ) -> WriteCounts:
        if accepted.duplicated(list(KEY)).any():  # the newest delivery per key; ties go to the last row
            accepted = accepted.sort_values("ingested_at", kind="stable").drop_duplicates(list(KEY), keep="last")
        bars = frames.bars_table(accepted)
        refused = frames.rejected_table(rejected)
        frames.check_partitions(refused, start, end, "rejected")
        with self._transaction() as con:
            con.register("incoming", bars)
            con.execute(sql.KEEP_REPLACED)
            (written,) = con.execute(sql.UPSERT_BARS).fetchone()
            con.unregister("incoming")
            if retired is not None and len(retired):
                con.register("incoming", frames.keys_table(retired))
                con.execute(sql.KEEP_RETIRED, {"retired_at": None if load is None else load.ingested_at})
                con.execute(sql.DELETE_RETIRED)
                con.unregister("incoming")
            if load is not None and (written or (retired is not None and len(retired))):
                con.execute(sql.RECORD_LOAD, _load(load))
            con.execute(sql.DELETE_REJECTED, {"start": start, "end": end})
            con.register("incoming", refused)
            con.execute(sql.INSERT_REJECTED)
        return WriteCounts(bars=int(written), rejected=refused.num_rows)

    def replace_quarantined_files(self, source: str, files: pd.DataFrame) -> None:
        incoming = pa.Table.from_pandas(files[list(QUARANTINED_FILE_COLUMNS)], preserve_index=False)
        with self._transaction() as con:
            con.execute(sql.DELETE_QUARANTINED, {"source": source})
            con.register("incoming", incoming)
            con.execute(sql.INSERT_QUARANTINED)

    def read_quarantined_files(self) -> pd.DataFrame:
        with self._transaction(read_only=True) as con:
            frame = con.sql(sql.READ_QUARANTINED).to_arrow_table().to_pandas()
        return frames.typed(frame, QUARANTINED_FILE_DTYPES)

    def refresh_weekly(self, start: dt.date, end: dt.date) -> None:
        """Nothing to do: ``weekly_bars`` is a plain view over ``daily_bars``."""

    def read_bars_table(
        self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None, as_of: dt.datetime | None = None
    ) -> pa.Table:
        # con.sql(...).to_arrow_table() hands DuckDB's vectors over as they are (execute() would copy them).
        query, params = sql.READ_BARS, _span(start, end, symbols)
        if as_of is not None:
            query, params = sql.READ_BARS_AS_OF, params | {"as_of": _utc(as_of, "as_of")}
        with self._transaction(read_only=True) as con:
            table = con.sql(query, params=params).to_arrow_table()
        return table.cast(BAR_ARROW_SCHEMA)

    def bar_history(self, symbol: str, day: dt.date) -> pd.DataFrame:
        key = {"symbol": symbol, "start": _midnight(day), "stop": _midnight(day, 1)}
        with self._transaction(read_only=True) as con:
            frame = con.sql(sql.BAR_HISTORY, params=key).to_arrow_table().to_pandas()
        return frames.typed(frame, HISTORY_DTYPES)

    def prune_versions(self, superseded_before: dt.datetime) -> PrunedVersions:
        before = {"before": _utc(superseded_before, "superseded_before")}
        with self._transaction() as con:
            (versions,) = con.execute(sql.PRUNE_VERSIONS, before).fetchone()
            (loads,) = con.execute(sql.PRUNE_LOADS, before).fetchone() if versions else (0,)
        return PrunedVersions(versions=int(versions), loads=int(loads))

    def version_counts(self) -> VersionCounts:
        with self._transaction(read_only=True) as con:
            current, superseded, oldest = con.execute(sql.VERSION_COUNTS).fetchone()
        return VersionCounts(current, superseded, None if oldest is None else oldest.astimezone(dt.UTC))

    def version_keys(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        with self._transaction(read_only=True) as con:
            table = con.sql(sql.VERSION_KEYS, params=_span(start, end, symbols)).to_arrow_table()
        return table.cast(VERSION_KEY_SCHEMA).to_pandas()

    def read_weekly(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        with self._transaction(read_only=True) as con:
            frame = con.execute(sql.READ_WEEKLY, _span(start, end, symbols)).df()
        return frames.typed(frame, WEEKLY_DTYPES)

    def write_intraday(self, bars: pd.DataFrame | pa.Table) -> int:
        incoming = intraday_table(bars)
        with self._transaction() as con:
            con.register("incoming", incoming)
            (written,) = con.execute(duckdb_intraday.UPSERT_INTRADAY).fetchone()
        return int(written)

    def read_intraday(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        params = {"start": start, "end": end, "symbols": None if symbols is None else list(symbols)}
        with self._transaction(read_only=True) as con:
            table = con.sql(duckdb_intraday.READ_INTRADAY, params=params).to_arrow_table()
        return frames.typed(table.to_pandas(), INTRADAY_DTYPES)

    def latest_bar_dates(self) -> dict[str, dt.date]:
        with self._transaction(read_only=True) as con:
            rows = con.execute(sql.LATEST_BARS).fetchall()
        return {symbol: ts.astimezone(dt.UTC).date() for symbol, ts in rows}

    def quality_counts(self) -> QualityCounts:
        with self._transaction(read_only=True) as con:
            row = con.execute(sql.QUALITY_COUNTS, {"kept": list(KEPT_REASONS)}).fetchone()
        bars, duplicates, violations, rejected, kept = row
        return QualityCounts(bars, duplicates, violations, rejected, kept)

    def range_counts(self, start: dt.date, end: dt.date) -> WriteCounts:
        span = {"start": start, "end": end, "start_ts": _midnight(start), "stop": _midnight(end, 1)}
        with self._transaction(read_only=True) as con:
            bars, rejected = con.execute(sql.RANGE_COUNTS, span).fetchone()
        return WriteCounts(bars=bars, rejected=rejected)

    def keys_changed_since(self, since: dt.datetime) -> pd.DataFrame:
        with self._transaction(read_only=True) as con:
            table = con.sql(sql.KEYS_CHANGED_SINCE, params={"since": _utc(since, "since")}).to_arrow_table()
        return frames.typed(table.to_pandas(), CHANGED_KEY_DTYPES)

    # -- connections -------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A fresh connection in one transaction, committed on success, always closed (releasing the file)."""
        self._migrate()
        with nullcontext() if read_only else _writer(self.path), self._open(read_only=read_only) as con:
            con.begin()
            yield con
            con.commit()

    @contextmanager
    def _open(self, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_conflict),
            wait=wait_random_exponential(multiplier=0.02, max=0.5),
            stop=stop_before_delay(self.lock_timeout_s),
            reraise=True,
        )
        try:
            if not read_only:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            con = retrying(duckdb.connect, self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise StoreUnavailable(self._unavailable(exc)) from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the directory of DuckDB file {self.path}: {exc}") from exc
        try:
            # date_trunc and the TIMESTAMPTZ -> pandas conversion follow the session TimeZone.
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def _unavailable(self, exc: duckdb.Error) -> str:
        if not _is_lock_conflict(exc):
            return f"cannot open DuckDB file {self.path} (check BACKBONE_HOME): {exc}"
        holder = _HOLDER.search(str(exc))
        by = holder.group(1) if holder else "another connection"
        return (
            f"DuckDB file {self.path} stayed locked by {by} for the whole lock_timeout_s="
            f"{self.lock_timeout_s:g}s; close that process or raise lock_timeout_s"
        )

    def _migrate(self) -> None:
        """Apply pending migrations once per instance. A quick read-only look first, so that processes that
        only read never take the write lock once the file is up to date."""
        if self._migrated:
            return
        if Path(self.path).exists():
            with self._open(read_only=True) as con:
                self._migrated = not _pending(con)
        if not self._migrated:
            with _MIGRATING, self._open(read_only=False) as con:
                con.begin()
                for statement in sql.CREATE_MIGRATIONS_TABLE:
                    con.execute(statement)
                for migration in _pending(con):
                    for statement in migration.statements:
                        con.execute(statement)
                    con.execute(sql.RECORD_MIGRATION, {"version": migration.version, "name": migration.name})
                con.commit()
            self._migrated = True


def _writer(path: str) -> threading.Lock:
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(str(Path(path).resolve()), threading.Lock())


def _pending(con: duckdb.DuckDBPyConnection) -> list[sql.Migration]:
    applied: set[int] = set()
    if con.execute(sql.HAS_MIGRATIONS_TABLE).fetchone()[0]:
        applied = {version for (version,) in con.execute(sql.APPLIED_VERSIONS).fetchall()}
    return [m for m in sql.MIGRATIONS if m.version not in applied]


# -- parameters ------------------------------------------------------------------------------------------


def _midnight(day: dt.date, plus_days: int = 0) -> dt.datetime:
    return utc_midnight(day + dt.timedelta(days=plus_days)).to_pydatetime()


def _span(start: dt.date, end: dt.date, symbols: Sequence[str] | None) -> dict[str, Any]:
    return {
        "start": _midnight(start),
        "stop": _midnight(end, 1),
        "symbols": None if symbols is None else list(symbols),
    }


def _load(load: BarLoad) -> dict[str, Any]:
    return {
        "ingested_at": _utc(load.ingested_at, "ingested_at"),
        "run_id": load.run_id,
        "source": load.source,
        "first_day": load.first_day,
        "last_day": load.last_day,
    }


def _utc(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment.astimezone(dt.UTC)
