"""The daily-bars flow as plain functions: land raw, validate, store — in bounded date chunks.

Dagster assets call these (``ingest`` when a run builds both layers, ``land_raw`` or ``validate_and_store``
when it builds one); so do the benchmarks and the tests. Memory is bounded by a few chunks (``chunk_days`` of
every symbol; ``ingest`` holds three: one fetched, one landed and validated, one written), never by the length
of the range, so a 25-year backfill runs in the memory of a month or two. Rows bound memory, not days:
``chunk_days_for`` sizes a chunk from the universe.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

from backbone_domain.bar_history import BarLoad
from backbone_domain.bars import empty_bars
from backbone_domain.progress import Progress, quiet
from backbone_domain.source_truth import Reconciled, Vanished, reconcile
from backbone_domain.validation import ValidationResult, validate_bars

# Bars a chunk holds at most when its length is derived from the universe (``chunk_days_for``). ``ingest`` has
# three chunks in flight (one fetched, one landed and validated, one written); at 150,000 bars a 500-file
# backfill peaked at 1.2 GiB, at 100,000 under 1 GiB in the same time (docs/benchmarks.md).
CHUNK_BARS: Final = 100_000

if TYPE_CHECKING:
    import pandas as pd

    from backbone_resources.source.base import BarSource
    from backbone_resources.store.base import BarStore, WriteCounts

_Item = TypeVar("_Item")
_Done = TypeVar("_Done")

# The most sessions a symbol has per calendar day: FX trades six days a week, equities ~252 days a year.
_SESSIONS_PER_DAY: Final = 6 / 7


def chunk_days_for(symbols: int, rows_per_chunk: int = CHUNK_BARS, most: int = 3660) -> int:
    """Calendar days a chunk may span so that it holds at most ~``rows_per_chunk`` bars of ``symbols`` symbols.

    Memory follows the rows of a chunk, not its days, and per-chunk costs (a transaction, a round trip, a
    validation pass, a COPY's start) are paid less often by larger chunks: 500 symbols fit 233 days in a chunk,
    5,000 about three weeks, 3 symbols ten years (31-day chunks made a 20-year backfill of 3 symbols pay those
    costs 236 times for 15,000 bars). The default keeps a backfill's peak RSS under 1 GiB (docs/benchmarks.md).
    """
    return max(1, min(most, int(rows_per_chunk / (max(symbols, 1) * _SESSIONS_PER_DAY))))


def date_chunks(start: dt.date, end: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Consecutive inclusive sub-ranges of [start, end], each at most ``days`` long."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    step = dt.timedelta(days=days)
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(chunk_start + step - dt.timedelta(days=1), end)
        yield chunk_start, chunk_end
        chunk_start = chunk_end + dt.timedelta(days=1)


@dataclass
class LandingReport:
    rows: int = 0
    chunks: int = 0
    per_symbol: Counter[str] = field(default_factory=Counter)


@dataclass
class StoreReport:
    accepted: int = 0
    changed: int = 0  # accepted bars that were new or differed from the stored ones (a re-run changes none)
    rejected: int = 0
    kept_over_source: int = 0  # rejected rows whose stored value stays served (source_truth)
    retired: int = 0  # stored bars deleted because the source no longer has them
    chunks: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected

    @property
    def rejected_rate(self) -> float:
        return self.rejected / self.total if self.total else 0.0


def land_raw(
    source: BarSource,
    store: BarStore,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    progress: Callable[[str], None] = quiet,
    progress_every_s: float = 5.0,
) -> LandingReport:
    """Copy what the source returns for [start, end] into the store's raw landing table, chunk by chunk.

    Each chunk is one transaction in the store: an interrupt between or inside chunks leaves whole chunks only.
    The next chunk is fetched on a worker thread while the store writes this one: the source's work (parsing,
    generating, downloading) overlaps the server's. One fetch at a time, in chunk order, so a source needs
    no more thread safety than being called from a thread other than the one that built it. (No write-behind
    here, unlike ``validate_and_store``: landing is the caller's CPU, not a wait on the server, and a third
    chunk of text rows in memory cost ~180 MiB at 500 symbols.)
    """
    report = LandingReport()
    meter = Progress("landing", start, end, chunk_days, progress, progress_every_s)
    for (chunk_start, chunk_end), raw in _ahead(source.fetch, date_chunks(start, end, chunk_days), True):
        rows = store.replace_raw(chunk_start, chunk_end, raw)
        report.rows += rows
        report.chunks += 1
        report.per_symbol.update(raw["symbol"].astype(str).value_counts().to_dict())
        meter.advance(chunk_end, rows)
    source.release()  # what it parsed to serve the chunks is not needed by validation, which needs the memory
    return report


def validate_and_store(
    store: BarStore,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = quiet,
    progress_every_s: float = 5.0,
    first_day: dt.date | None = None,
    vanished: Vanished = "keep",
    *,
    run_id: str | None = None,
    source: str = "unknown",
) -> StoreReport:
    """Validate the landed rows of [start, end] and write accepted and rejected rows, one transaction a chunk.

    ``first_day``: the first partition; a row dated before it is quarantined (no partition would show it).
    Each chunk is compared with what the store holds for its days (``source_truth.reconcile``, only where it
    holds some): a refused correction and a stored bar the source no longer has are reported as rejected rows,
    and with ``vanished="retire"`` such a bar is deleted in the chunk's transaction.
    Each chunk is stamped with its own ``ingested_at`` (``now``, default the clock when it is validated), and a
    chunk that stores or retires bars records that stamp with ``run_id`` and ``source`` (``BarLoad``): which run
    and source produced each version (``BarStore.bar_history``).
    When the store serves a read during a write (``BarStore.overlapping_reads``), three chunks are in flight:
    the next one's raw rows are read and this one is validated while the previous one is written.
    """
    meter = Progress("validating", start, end, chunk_days, progress, progress_every_s)
    overlap = store.overlapping_reads
    landed = _ahead(store.read_raw, date_chunks(start, end, chunk_days), overlap)
    return _store_chunks(store, landed, _Stamping(now, first_day, vanished, run_id, source), meter, overlap)


def ingest(
    source: BarSource,
    store: BarStore,
    start: dt.date,
    end: dt.date,
    chunk_days: int,
    now: dt.datetime | None = None,
    progress: Callable[[str], None] = quiet,
    progress_every_s: float = 5.0,
    first_day: dt.date | None = None,
    vanished: Vanished = "keep",
    *,
    run_id: str | None = None,
) -> tuple[LandingReport, StoreReport]:
    """``land_raw`` then ``validate_and_store`` of [start, end] in one pass, with the same outcome: each chunk is
    landed (``BarStore.land``), and the rows the landing holds are validated and written at once, not read back
    later. Three chunks are in flight: the next is fetched while this one is landed and validated and the
    previous one is written (where the store overlaps reads and writes; ``validate_and_store``).

    Why: run as two passes, a range's raw rows were read back and decoded after all of them had landed, and
    the server sat idle while the source parsed and the landing encoded (docs/benchmarks.md). The landing and
    the bars are still separate transactions, the landing first: a failure leaves whole chunks landed, and
    ``validate_and_store`` of the range gives the same bars from them.
    """
    landing = LandingReport()
    meter = Progress("ingesting", start, end, chunk_days, progress, progress_every_s)

    def landed() -> Iterator[tuple[tuple[dt.date, dt.date], pd.DataFrame]]:
        for span, raw in _ahead(source.fetch, date_chunks(start, end, chunk_days), True):
            rows = store.land(*span, raw)
            landing.rows += len(rows)
            landing.chunks += 1
            landing.per_symbol.update(raw["symbol"].astype(str).value_counts().to_dict())
            yield span, rows

    stamping = _Stamping(now, first_day, vanished, run_id, source.name)
    stored = _store_chunks(store, landed(), stamping, meter, store.overlapping_reads)
    source.release()
    return landing, stored


@dataclass(frozen=True)
class _Stamping:
    """How a chunk is validated and stamped (``validate_and_store``'s arguments)."""

    now: dt.datetime | None
    first_day: dt.date | None
    vanished: Vanished
    run_id: str | None
    source: str


def _store_chunks(
    store: BarStore,
    landed: Iterable[tuple[tuple[dt.date, dt.date], pd.DataFrame]],
    stamping: _Stamping,
    meter: Progress,
    overlap: bool,
) -> StoreReport:
    """Validate each chunk of ``landed`` rows and write it behind the next (``_behind``), counting as it goes."""
    report = StoreReport()

    def stamp_and_validate(span: tuple[dt.date, dt.date], raw: pd.DataFrame) -> tuple[Reconciled, BarLoad]:
        stamp = stamping.now if stamping.now is not None else dt.datetime.now(dt.UTC)
        load = BarLoad(stamp, stamping.run_id, stamping.source, *span)
        result = validate_bars(raw, now=stamp, first_day=stamping.first_day)
        return _against_store(store, span, result, stamping.vanished), load

    def write(chunk_start: dt.date, chunk_end: dt.date, item: tuple[Reconciled, BarLoad]) -> WriteCounts:
        checked, load = item
        result = checked.result
        return store.write_validated(
            chunk_start, chunk_end, result.accepted, result.rejected, checked.retired, load=load
        )

    validated = ((span, stamp_and_validate(span, raw)) for span, raw in landed)
    for (_, chunk_end), (checked, _), counts in _behind(validated, write, overlap):
        result = checked.result
        report.accepted += len(result.accepted)
        report.changed += counts.bars
        report.rejected += counts.rejected
        report.kept_over_source += checked.kept
        report.retired += len(checked.retired)
        report.chunks += 1
        for reasons in result.rejected["reasons"]:
            report.reasons.update(reason_kind(r) for r in reasons)
        meter.advance(chunk_end, len(result.accepted) + counts.rejected)
    return report


def _against_store(
    store: BarStore, span: tuple[dt.date, dt.date], result: ValidationResult, vanished: Vanished
) -> Reconciled:
    """The chunk reconciled with the bars stored for its days; a fresh range (nothing stored) costs one probe."""
    if not store.holds_bars(*span):
        return reconcile(result, empty_bars(), *span, vanished)
    return reconcile(result, store.read_bars(*span), *span, vanished)


def _ahead(
    load: Callable[[dt.date, dt.date], pd.DataFrame], chunks: Iterable[tuple[dt.date, dt.date]], overlap: bool
) -> Iterator[tuple[tuple[dt.date, dt.date], pd.DataFrame]]:
    """Each chunk with ``load(chunk)``; with ``overlap``, the next chunk loads on a worker thread while the
    caller works on this one (two chunks in memory). Loads run one at a time, in order; when the caller stops
    (a failed chunk), nothing after the chunk already loading is loaded."""
    spans = list(chunks)
    if not overlap:
        yield from ((span, load(*span)) for span in spans)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backbone-chunk") as worker:
        upcoming: Future[pd.DataFrame] = worker.submit(load, *spans[0])
        try:
            for at, span in enumerate(spans):
                loaded = upcoming.result()
                if at + 1 < len(spans):
                    upcoming = worker.submit(load, *spans[at + 1])
                yield span, loaded
        finally:
            upcoming.cancel()


def _behind(
    items: Iterable[tuple[tuple[dt.date, dt.date], _Item]],
    write: Callable[[dt.date, dt.date, _Item], _Done],
    overlap: bool,
) -> Iterator[tuple[tuple[dt.date, dt.date], _Item, _Done]]:
    """Each chunk of ``items`` with what ``write(chunk, item)`` returned, in chunk order; with ``overlap``, each
    write runs on a worker thread while the next item is produced, so the store's work (the server's side of
    a COPY, mostly waiting) overlaps the caller's (validating, encoding). One write at a time: the next starts
    once the previous has returned, so chunks commit in order and an error stops everything after it. When
    the caller or the items fail, the write already running ends (commits or rolls back) before the error
    leaves: never half a chunk."""
    if not overlap:
        yield from ((span, item, write(*span, item)) for span, item in items)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backbone-write") as worker:
        running: tuple[tuple[dt.date, dt.date], _Item, Future[_Done]] | None = None
        for span, item in items:  # produced while the previous write runs
            if running is not None:
                done, running = running, None
                yield done[0], done[1], done[2].result()
            running = (span, item, worker.submit(write, *span, item))
        if running is not None:
            yield running[0], running[1], running[2].result()


def reason_kind(reason: str) -> str:
    """A reason without its values ("open is not a number: 'x'" -> "open is not a number"), for counting."""
    return reason.split(":", 1)[0]
