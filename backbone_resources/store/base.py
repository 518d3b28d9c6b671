"""The store seam: the time-series store every asset writes to and every check reads from.

Two backends implement it (``duckdb_store``, ``postgres_store``) and pass the same contract tests
(``backbone_tests/resources/store/test_contract.py``). Assets only see this interface.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pandas as pd
import pyarrow as pa
from dagster import ConfigurableResource

from backbone_domain import frames
from backbone_domain.bar_history import BarLoad
from backbone_domain.bars import BAR_DTYPES
from backbone_domain.changes import CHANGED_KEY_DTYPES
from backbone_domain.replica_lag import ReplicaLag
from backbone_resources.probe import Probe
from backbone_resources.unavailable import StoreUnavailable

__all__ = [
    "CHANGED_KEY_DTYPES",
    "BarStore",
    "PrunedVersions",
    "QualityCounts",
    "StoreUnavailable",
    "VersionCounts",
    "WriteCounts",
]

BAR_ARROW_SCHEMA: Final = pa.schema(
    [
        ("symbol", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        *((name, pa.float64()) for name in ("open", "high", "low", "close", "adj_close", "volume")),
        ("source", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)

VERSION_KEY_SCHEMA: Final = pa.schema(
    [("symbol", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("ingested_at", pa.timestamp("us", tz="UTC"))]
)


@dataclass(frozen=True)
class WriteCounts:
    bars: int
    rejected: int


@dataclass(frozen=True)
class QualityCounts:
    """Whole-store figures behind the asset checks."""

    bars: int
    duplicate_keys: int
    ohlc_violations: int
    rejected: int
    kept_over_source: int = 0  # rejected rows saying the stored value stays served (``source_truth.disagrees``)


@dataclass(frozen=True)
class PrunedVersions:
    """What ``prune_versions`` deleted."""

    versions: int
    loads: int


@dataclass(frozen=True)
class VersionCounts:
    """The versions the store holds (``version_counts``): what as-of reads can still answer."""

    current: int  # rows of daily_bars
    superseded: int  # rows of bar_versions
    oldest_superseded_at: dt.datetime | None  # the earliest kept version's end (UTC); None when none is kept


class BarStore(ConfigurableResource, ABC):
    """Daily bars keyed by (symbol, ts), their raw landing rows, the rejected rows and weekly bars.

    Dates are inclusive trading-date ranges; timestamps are tz-aware UTC. Writes covering a date range happen
    in one transaction: a reader sees all of a range's rows or none of them. Re-running a write with the same
    input leaves the same state.
    """

    # Whether a read may run in this process while a write is in flight (each on its own connection), so a
    # pipeline can read the next chunk during this one's write. False where they would only wait on each other.
    overlapping_reads: ClassVar[bool] = False
    kinds: ClassVar[tuple[str, ...]] = ()  # what the UI's kind tags name for assets this backend serves

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend, endpoint (no secrets), and which TimescaleDB features are in use, for metadata."""

    @abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable, naming the setting, when the store cannot be reached."""

    @abstractmethod
    def probe(self) -> Probe:
        """Reachable or not, and the server's version; never raises for an unreachable store."""

    def replica_lag(self) -> ReplicaLag | None:
        """How far the read replica is behind (``backbone status``); None when reads have no replica (the default:
        one server answers every read and write). An unreachable replica is reported as such, not raised."""
        return None

    @abstractmethod
    def replace_raw(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> int:
        """Make ``raw`` (RAW_COLUMNS) the landed rows of partitions [start, end]; returns rows landed."""

    def land(self, start: dt.date, end: dt.date, raw: pd.DataFrame) -> pd.DataFrame:
        """``replace_raw``, then the landed rows exactly as ``read_raw`` of the same span would return them.

        Why: a range that is landed and validated in one pass (``pipeline.ingest``) validates what the landing
        holds, not what the source said, so that validating the span again later (``validate_and_store`` alone)
        decides the same. This default reads the rows back; a store that can give the same frame from what it
        just wrote, without the round trip, overrides it.
        """
        self.replace_raw(start, end, raw)
        return self.read_raw(start, end)

    @abstractmethod
    def read_raw(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Landed rows of partitions [start, end] (RAW_COLUMNS), ordered by partition_date, symbol (NULL last),
        ts (NULL first), then the order they were landed in.

        Values come back as text (``frames.raw_table``: a number the source delivered reads as its repr), except
        where a store keeps a column the source delivered as numbers as numbers (PostgreSQL does, when every
        day read holds that column as the same kind of number): float64, or Int64 for integers, NULL for a
        NaN. Either way ``frames.raw_values_as_text`` of the two is the same text: nothing is lost or added.
        """

    @abstractmethod
    def write_validated(
        self,
        start: dt.date,
        end: dt.date,
        accepted: pd.DataFrame,
        rejected: pd.DataFrame,
        retired: pd.DataFrame | None = None,
        load: BarLoad | None = None,
    ) -> WriteCounts:
        """Upsert ``accepted`` (BAR_COLUMNS; newest ``ingested_at`` wins per key), delete the stored bars keyed
        by ``retired`` (symbol, ts: bars the source no longer has, ``source_truth``) and make ``rejected``
        (REJECTED_COLUMNS) the rejected rows of partitions [start, end], in one transaction.

        A replaced or retired bar is kept in ``bar_versions``. ``load``: the run and source behind the write's
        ``ingested_at``, recorded in ``bar_loads`` in the same transaction when the write stores or retires a
        bar (a write that changes nothing records nothing); retired bars are superseded at its ``ingested_at``
        (without a load: at the time of the write)."""

    @abstractmethod
    def read_rejected(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """The quarantined rows of partitions [start, end], ordered by partition_date then insertion order.

        Returns:
            REJECTED_COLUMNS (``bars.REJECTED_DTYPES``), empty with those columns when there are none:
            ``reasons`` a list[str] per row; ``payload`` the JSON document as stored (the backend's own text of
            it: equal as JSON to what was written, text that was not JSON coming back as a JSON string), or
            None; ``partition_date`` a datetime.date; ``ts`` tz-aware UTC or NaT; ``rejected_at`` tz-aware
            UTC (the write's time when the row came without one).
        """

    @abstractmethod
    def replace_quarantined_files(self, source: str, files: pd.DataFrame) -> None:
        """Make ``files`` (``quarantined_files.QUARANTINED_FILE_COLUMNS``, all of ``source``) the files of
        ``source`` set aside whole, in one transaction: the list says what is wrong with the source now."""

    @abstractmethod
    def read_quarantined_files(self) -> pd.DataFrame:
        """Every file set aside whole, ordered by source and path (``QUARANTINED_FILE_DTYPES``; empty with
        those columns when there are none)."""

    @abstractmethod
    def refresh_weekly(self, start: dt.date, end: dt.date) -> None:
        """Bring weekly bars of the ISO weeks touching [start, end] up to date (no-op for a plain view)."""

    @abstractmethod
    def read_bars_table(
        self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None, as_of: dt.datetime | None = None
    ) -> pa.Table:
        """Stored bars in [start, end] as Arrow, ordered by symbol, ts: the bulk read (publishing, exports).
        ``as_of`` (tz-aware): the bars as the store knew them then: each key's version whose ``ingested_at`` is
        at or before it and that nothing had superseded by then (a bar first learned later is absent).

        Returns:
            BAR_COLUMNS typed ``BAR_ARROW_SCHEMA``: symbol and source as string, ts and ingested_at as
            timestamp[us, UTC], the values as float64 with a missing adj_close as NULL. No pandas on the way.
        """

    def read_bars(
        self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None, as_of: dt.datetime | None = None
    ) -> pd.DataFrame:
        """Stored bars in [start, end] (BAR_COLUMNS, ``BAR_DTYPES``; NULL adj_close as NaN), ordered by symbol, ts;
        ``as_of`` as ``read_bars_table`` has it."""
        return frames.typed(self.read_bars_table(start, end, symbols, as_of).to_pandas(), BAR_DTYPES)

    @abstractmethod
    def bar_history(self, symbol: str, day: dt.date) -> pd.DataFrame:
        """Every version of ``symbol``'s bar of trading date ``day``, oldest first (by known_from).

        Returns:
            ``bar_history.HISTORY_COLUMNS`` typed ``HISTORY_DTYPES``, empty when the store never held that bar:
            the superseded versions (``known_to`` their superseded_at, ``reason`` why) and the current one
            (``known_to`` NaT, ``reason`` None); ``run_id`` / ``replaced_by_run`` / ``replaced_by_source`` from
            ``bar_loads``, None where no load was recorded. Consecutive versions meet: one's ``known_to`` is
            the next one's ``known_from`` when a correction replaced it.
        """

    @abstractmethod
    def prune_versions(self, superseded_before: dt.datetime) -> PrunedVersions:
        """Delete the superseded versions whose ``superseded_at`` is before ``superseded_before`` (tz-aware), and
        the loads (``bar_loads``) stamped before it that neither a current bar nor a kept version refers to any
        more, in one transaction. Current bars are never touched.

        Afterwards as-of reads at ``superseded_before`` or later are exact; earlier ones miss the deleted versions
        (a bar corrected since reads as absent then). Run it once per run, not per chunk: it scans
        ``bar_versions`` and, only when it deleted versions, looks up their loads in ``daily_bars``.
        """

    @abstractmethod
    def version_counts(self) -> VersionCounts:
        """Current bars, superseded versions kept, and the earliest ``superseded_at`` among them."""

    @abstractmethod
    def version_keys(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Every version the store holds of the bars in [start, end]: the current ones and the kept superseded
        ones, as ``version_audit.VERSION_KEY`` (symbol; ts and ingested_at tz-aware UTC, microseconds), ordered
        by symbol, ts, ingested_at. What a layer's versions are checked against (``retention_audit``)."""

    @abstractmethod
    def read_weekly(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Weekly bars whose week starts in [start, end] (WEEKLY_COLUMNS), ordered by symbol, week."""

    @abstractmethod
    def write_intraday(self, bars: pd.DataFrame | pa.Table) -> int:
        """Upsert intraday bars (``intraday_bars.STORED_INTRADAY_COLUMNS``, or the Arrow table
        ``intraday_bars.intraday_table`` makes of them) by (symbol, ts, interval_s), in one
        transaction: a newer ``ingested_at`` replaces the stored values, an older one never does, and a bar equal
        to the stored one is left alone, so a replayed session writes the same rows again and changes nothing.
        Duplicate keys in ``bars``: the newest ``ingested_at`` wins. Returns the bars inserted or changed."""

    @abstractmethod
    def read_intraday(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        """Stored intraday bars of sessions [start, end] (by ``session``, the trading date they aggregate to),
        ordered by symbol, ts, interval_s.

        Returns:
            ``STORED_INTRADAY_COLUMNS`` typed ``INTRADAY_DTYPES`` (``session`` as datetime.date, timestamps
            tz-aware UTC), empty with those columns when there are none.
        """

    @abstractmethod
    def latest_bar_dates(self) -> dict[str, dt.date]:
        """The trading date of each symbol's newest stored bar."""

    @abstractmethod
    def quality_counts(self) -> QualityCounts:
        """Row, duplicate-key, OHLC-violation and rejected counts over the whole store."""

    @abstractmethod
    def range_counts(self, start: dt.date, end: dt.date) -> WriteCounts:
        """Stored bars and rejected rows whose trading date / partition is in [start, end]."""

    def holds_bars(self, start: dt.date, end: dt.date) -> bool:
        """Whether any bar is stored with its trading date in [start, end]: what a write asks before comparing
        a chunk with the store. A backend may answer it cheaper than counting."""
        return self.range_counts(start, end).bars > 0

    @abstractmethod
    def keys_changed_since(self, since: dt.datetime) -> pd.DataFrame:
        """The keys whose stored state changed after ``since`` (tz-aware): the change feed that lets every layer
        downstream of the store touch only what a run changed (docs/versions.md, "Corrections through the
        layers").

        A key changed when its current version was learned after ``since`` (a new bar, or a correction:
        ``ingested_at > since``) or when it was retired after it (``bar_versions`` reason ``retired``,
        ``superseded_at > since``) and is not stored now. A re-run that changes nothing changes no key.

        Returns:
            CHANGED_KEY_DTYPES ordered by symbol, ts, one row a key: ``symbol`` str, ``ts`` tz-aware UTC,
            ``changed_at`` tz-aware UTC (``ingested_at`` of the current version, or the retirement's time),
            ``retired`` bool. The newest ``changed_at`` is the ``since`` that picks up after these.
        """
