"""Bars from a directory of per-symbol files: Yahoo Finance exports, or CSV/Parquet written by pandas.

One file per symbol, ``<SYMBOL>.csv`` or ``<SYMBOL>.parquet`` (the stem, upper-cased, is the symbol). This
source is the first stop of user data, so it never drops or repairs a row: CSV values are passed through as
the text the file holds, and the validation layer decides, with reasons, what to quarantine. Every row comes
back with a JSON payload naming its file and line (Parquet: row), so whoever fixes a rejected bar can find it.

Dates: the date is the column named like one (Date, ts, ...) or else the first. A file's format (ISO
``Y-m-d``, optionally with a time; US ``m/d/Y``; ``d/m/Y`` when a day above 12 proves it) is chosen by
majority over its rows, so one stray row cannot flip it. A row is partitioned on its date when a partition
exists for it (``first_day`` through ``today``). Any other row (a date that cannot be read, gets ``ts = NaT``;
a typo in the future such as 2204; a date before the first partition) borrows the partition of the nearest
partitioned row before it in the file (after it, when none precedes): a run over the file's data examines it
and validation quarantines it with its reason, and it is returned exactly once over any partitioning.

Files that cannot be read as a whole are quarantined whole (``backbone_domain.quarantined_files``), named in
``quarantined_files()`` with their reason, and give no rows; the other files are unaffected: a name that is not a
symbol (``symbol_map`` maps a file name to one, e.g. ``BRK B`` -> ``BRK.B``), two files for one symbol, bytes that
are not UTF-8 text or not Parquet, a first line holding data instead of a header, no row dated within the
partitions.

Each file is read and parsed once per instance (and again only when its path, mtime or size changes): a
backfill asks for every file once per date chunk, so re-parsing would cost chunks × files. The first pass
(``quarantined_files``, or the first ``fetch``) parses two files at a time outside the lock and keeps them in
order under it, so the cache and the stage end as a pass one file at a time leaves them (two threads asking for
one new file at once may both parse it; the first kept is the one served). A parsed file is its dates plus its
cells, sorted by date, so a chunk is one slice per file. A plain CSV file (UTF-8, LF, no quotes,
no ragged rows: ``file_columns.py``) is read by pyarrow into string columns and its chunks are served and given
payloads column by column; any other CSV file keeps each record's raw text, read by ``csv``, and only the rows
returned are split into cells. Both give the same frames, byte for byte. Parsed files stay in memory up to a
total row count; beyond it the least recently used is spilled to a private on-disk stage (``file_stage.py``:
Arrow IPC, memory-mapped) and from then on served by slicing it, with only its partition days kept in memory.
``close()`` (Dagster calls it at teardown), garbage collection or interpreter exit removes the stage.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
from dagster import InitResourceContext
from pydantic import PrivateAttr

from backbone_domain.bars import RAW_COLUMNS, SYMBOL_PATTERN, VALUE_COLUMNS, empty_raw
from backbone_domain.quarantined_files import QuarantinedFile, printable, text_rows
from backbone_resources.source.base import BarSource, SourceUnavailable, SourceUnreadable
from backbone_resources.source.file_columns import PlainBatch, payload_parts, read_plain_csv, row_payloads
from backbone_resources.source.file_formats import (
    EPOCH,
    NO_DAY,
    date_column,
    normal_name,
    read_csv_records,
    text_days,
    typed_days,
)
from backbone_resources.source.file_stage import FileStage

SUFFIXES: Final = (".csv", ".parquet")
MAX_CACHED_ROWS: Final = 1_000_000  # in memory, ~100-150 bytes a CSV row: ~150 MB at most; then on disk
PARSE_WORKERS: Final = 2  # files parsed at once in the first pass (``_load_all``); 1: one after another
_PARSE_AHEAD: Final = 2 * PARSE_WORKERS  # parsed or parsing files not yet kept: the pass's extra memory
_VALUE_NAMES: Final = {"adjclose": "adj_close", "adjustedclose": "adj_close"} | {
    c: c for c in ("open", "high", "low", "close", "volume")
}
_INDEX: Final = ("_part", "_days", "_numbers")  # staged beside the data; data columns are named by position
_Key = tuple[str, int, int]  # path, mtime_ns, size
_Span = tuple[int, int]  # the day numbers of the first and last partition a row can have


class _Unusable(Exception):
    """The file as a whole cannot be read as bars of its symbol: ``reason``; it holds ``rows`` records."""

    def __init__(self, reason: str, rows: int | None) -> None:
        super().__init__(reason)
        self.reason, self.rows = reason, rows


@dataclass(frozen=True)
class _Parsed:
    """One file with records sorted by (partition date, date, line): a date range is one contiguous slice."""

    header: list[str]
    value_at: dict[str, int | None]  # VALUE_COLUMNS -> position in the header; None when the file lacks it
    part: np.ndarray  # int64 day number of each record's partition date (ascending)
    days: np.ndarray  # int64 day number of its readable date, NO_DAY where unreadable
    numbers: np.ndarray  # 1-based line (CSV, header included) or row (Parquet)
    number_key: str  # "line" or "row"
    records: np.ndarray | None  # CSV read by ``csv``: each record's raw text, split again only when returned
    frame: pd.DataFrame | None  # Parquet: the columns as stored, named by position, in record order
    table: pa.Table | None = None  # plain CSV (``file_columns``): the cells as string columns, by position

    def rows(self, lo: int, hi: int) -> list[list[Any]]:
        """Records [lo, hi) as lists of cells: as many as the file holds (a short row has fewer). Not for
        plain CSV, whose columns ``fetch`` takes as they are."""
        if self.records is not None:  # newline="": split lines as the file was read, a lone CR ends one too
            return list(csv.reader(io.StringIO("".join(self.records[lo:hi]), newline="")))
        assert self.frame is not None
        columns = (self.frame.iloc[lo:hi, i].to_numpy() for i in range(self.frame.shape[1]))
        return [list(r) for r in zip(*columns, strict=True)]

    def spill(self, stage: FileStage) -> _Staged:
        """Write this file to ``stage``; what stays in memory is its header and partition days."""
        if self.records is not None:
            table = pa.table({"records": pa.array(self.records, type=pa.large_string())})
        elif self.table is not None:
            table = self.table
        else:  # pandas metadata in the schema gives the slices back with the dtypes they had
            assert self.frame is not None
            table = pa.Table.from_pandas(self.frame, preserve_index=False)
        for name, values in zip(_INDEX, (self.part, self.days, self.numbers), strict=True):
            table = table.append_column(name, pa.array(values, type=pa.int64()))
        handle = stage.put(table)
        return _Staged(self.header, self.value_at, self.part, self.number_key, stage, handle)


@dataclass(frozen=True)
class _Staged:
    """A parsed file on the stage: partition days in memory to find a chunk's slice, the rest read by slice."""

    header: list[str]
    value_at: dict[str, int | None]
    part: np.ndarray
    number_key: str
    stage: FileStage
    handle: int

    def read(self, lo: int, hi: int) -> _Parsed:
        """Records [lo, hi) as a parsed file of their own, equal to the same slice of the file in memory."""
        table = self.stage.rows(self.handle, lo, hi - lo)
        part, days, numbers = (table.column(name).to_numpy() for name in _INDEX)
        data = table.drop_columns(list(_INDEX))
        if self.number_key == "line" and data.column_names != ["records"]:  # plain CSV: columns "0", "1", ...
            return _Parsed(self.header, self.value_at, part, days, numbers, "line", None, None, data)
        records = data.column(0).to_numpy() if self.number_key == "line" else None
        frame = None if records is not None else data.to_pandas()
        return _Parsed(self.header, self.value_at, part, days, numbers, self.number_key, records, frame)


class _Cache(OrderedDict[_Key, _Parsed]):
    """Parsed files in memory, least recently used first, with their total rows kept as they change."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0

    def add(self, key: _Key, parsed: _Parsed) -> None:
        self[key] = parsed
        self.rows += parsed.part.size

    def discard(self, key: _Key) -> None:
        parsed = self.pop(key, None)
        self.rows -= 0 if parsed is None else parsed.part.size

    def oldest(self) -> tuple[_Key, _Parsed]:
        key, parsed = self.popitem(last=False)
        self.rows -= parsed.part.size
        return key, parsed


def _parse(path: Path, span: _Span) -> _Parsed:
    """The file parsed and partitioned; ``_Unusable`` when it cannot be read as a whole."""
    records: np.ndarray | None = None
    frame: pd.DataFrame | None = None
    table: pa.Table | None = None
    data = path.read_bytes()
    if path.suffix.lower() == ".csv":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = f"byte 0x{data[exc.start]:02x} at offset {exc.start}"
            raise _Unusable(f"not UTF-8 text ({where}); save it as UTF-8 CSV", text_rows(data)) from None
    plain = read_plain_csv(data) if path.suffix.lower() == ".csv" else None
    if plain is not None:  # the common case, column-wise; what ``csv`` would return, cell for cell
        header, table, numbers = plain
        date_at = date_column(header)
        days = text_days(table.column(date_at).combine_chunks()) if date_at is not None and len(table) else np.array([])
        days, number_key = days.astype(np.int64), "line"
    elif path.suffix.lower() == ".csv":
        try:
            header, texts, numbers, dates = read_csv_records(path)
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit(): nothing sensible to return
            raise _Unusable(f"not readable as CSV: {exc}", text_rows(data)) from None
        date_at = date_column(header)
        days, number_key, records = text_days(dates), "line", np.array(texts, dtype=object)
    else:
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
            raise _Unusable(f"not readable as Parquet: {str(exc).splitlines()[0]}", _parquet_rows(data)) from None
        if not isinstance(frame.index, pd.RangeIndex):  # the date saved as the index
            frame = frame.reset_index(names=frame.index.name or "")
        header, numbers, number_key = [str(c) for c in frame.columns], list(range(1, len(frame) + 1)), "row"
        date_at = date_column(header)
        days = typed_days(frame.iloc[:, date_at]) if date_at is not None else np.full(len(frame), NO_DAY)
        frame = frame.set_axis([str(i) for i in range(frame.shape[1])], axis=1)

    part = _partitions(days, span, header, date_at if header else None, number_key)
    order = np.lexsort((np.asarray(numbers, dtype=np.int64), days, part))
    in_order = bool((order == np.arange(order.size)).all())  # a file sorted by date: nothing to move
    value_at: dict[str, int | None] = dict.fromkeys(VALUE_COLUMNS)
    for i in reversed(range(len(header))):  # the first of two columns meaning the same wins
        target = _VALUE_NAMES.get(normal_name(header[i]))
        if target is not None:
            value_at[target] = i
    return _Parsed(
        header=header,
        value_at=value_at,
        part=part[order],
        days=days[order],
        numbers=np.asarray(numbers, dtype=np.int64)[order],
        number_key=number_key,
        records=None if records is None else records[order],
        frame=None if frame is None else frame.take(order).reset_index(drop=True),
        table=None if table is None else table if in_order else table.take(pa.array(order)),
    )


def _partitions(days: np.ndarray, span: _Span, header: list[str], date_at: int | None, number_key: str) -> np.ndarray:
    """Each record's partition day: its own date within ``span``, else the nearest such record's before it in
    the file (after it, when none precedes). ``_Unusable`` when no record has one (its rows would land nowhere)."""
    named = header[date_at] if date_at is not None and date_at < len(header) else None
    # a name without a digit (any script's: Python's \d takes them all) is no date; why ask: text_days of one
    # text compiles its regexes again, ~1.5 ms a file, a third of a plain file's parse
    digits = named is not None and any(c.isdigit() for c in named)
    if number_key == "line" and digits and text_days([named])[0] != NO_DAY:
        # the first line is a record: read as the header, it would be lost
        raise _Unusable(f"the first line holds data ({named!r} is a date), not a header; add one", int(days.size) + 1)
    inside = (days >= span[0]) & (days <= span[1])
    if days.size and not inside.any():
        if (days == NO_DAY).all():
            separated = number_key == "line" and any(";" in h or "\t" in h for h in header)
            hint = "; is the separator a comma?" if separated else ""
            where = f"column {named!r}" if named is not None else "no column"
            reason = f"no row has a readable date ({where}, read as Y-m-d, m/d/Y or d/m/Y){hint}"
        else:
            first, last = (np.datetime64(int(d), "D") for d in span)
            reason = f"no row is dated within the partitions {first}..{last} (BACKBONE_START_DATE through today)"
        raise _Unusable(reason, int(days.size))
    anchor = pd.Series(np.where(inside, days.astype(np.float64), np.nan))
    return anchor.ffill().bfill().to_numpy().astype(np.int64) if days.size else days.astype(np.int64)


def _parquet_rows(data: bytes) -> int | None:
    """The row count a Parquet footer states, None without a readable footer."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)
    except (OSError, ValueError, pa.ArrowException):
        return None


@dataclass(frozen=True)
class _Listing:
    """The directory as the source sees it: symbol -> file, and the files set aside by name alone."""

    files: dict[str, Path]
    misnamed: list[QuarantinedFile]
    versions: dict[Path, _Key]  # each of ``files`` as it was when listed: the key it is parsed and kept under


class FileSource(BarSource):
    """Bars from ``<SYMBOL>.csv`` / ``.parquet`` files in ``directory``; ``symbols`` empty = every file.

    ``symbol_map`` maps a file's name (with or without its suffix) to the symbol it holds, for names that are not
    symbols themselves. ``first_day`` and ``today`` (ISO dates; empty: no first day, the clock's UTC date) bound
    the partitions a row can be landed in.
    """

    directory: str
    symbols: list[str] = []
    symbol_map: dict[str, str] = {}
    first_day: str = ""
    today: str = ""
    _cache: _Cache = PrivateAttr(default_factory=_Cache)
    _staged: dict[_Key, _Staged] = PrivateAttr(default_factory=dict)
    _unusable: dict[_Key, QuarantinedFile] = PrivateAttr(default_factory=dict)
    _span: _Span | None = PrivateAttr(default=None)
    _stage: FileStage = PrivateAttr(default_factory=FileStage)
    _guard: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    # file name -> its path, symbol and path text, once its name was read as a symbol: a listing of 1,000
    # files per fetch spent ~40 ms in pathlib building them again (the directory and symbol_map are fixed)
    _named: dict[str, tuple[Path, str, str]] = PrivateAttr(default_factory=dict)

    @property
    def name(self) -> str:
        return "csv"

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def release(self) -> None:
        self.close()

    def close(self) -> None:
        """Forget every parsed file and remove the stage; the source stays usable and parses again."""
        with self._guard:
            self._cache.clear()
            self._cache.rows = 0
            self._staged.clear()
            self._unusable.clear()
            self._stage.close()

    def universe(self) -> list[str]:
        return self._universe(None)

    def _universe(self, listing: _Listing | None) -> list[str]:
        """``universe()``, from ``listing`` when the caller has one (None: the directory is listed now)."""
        if self.symbols:
            return [s.upper() for s in self.symbols]
        return sorted((listing or self._listing()).files)

    def fetch_intraday(
        self, session: dt.date, symbols: Sequence[str] | None = None, interval_minutes: int = 1
    ) -> pd.DataFrame:
        """Bars of ``<directory>/intraday/`` (``file_intraday``: its layouts, and why a doubtful file fails)."""
        from backbone_resources.source import file_intraday

        wanted = [s.upper() for s in (self.universe() if symbols is None else symbols)]
        root = Path(self.directory).expanduser()
        return file_intraday.read_session(root, session, wanted, interval_minutes, self._symbol_of, self.name)

    def quarantined_files(self) -> list[QuarantinedFile]:
        """Every file set aside whole, by name or by content (each file of the universe is parsed, once)."""
        listing = self._listing()
        universe = set(self._universe(listing))
        wanted = [p for s, p in listing.files.items() if s in universe]
        loaded = self._load_all(wanted, [listing.versions[p] for p in wanted])
        unusable = [f for f in loaded if isinstance(f, QuarantinedFile)]
        return sorted([*listing.misnamed, *unusable], key=lambda f: f.path)

    def _load_all(self, paths: list[Path], keys: list[_Key]) -> Iterator[_Parsed | _Staged | QuarantinedFile]:
        """``_load`` of each of ``paths`` (at its version in ``keys``), in their order, parsing up to
        ``PARSE_WORKERS`` files at once; when every one is kept already (each chunk after a backfill's first),
        all are taken under the lock at once, with no pool.

        The first pass of a run parses every file, and pyarrow reads a CSV without the GIL, so a second core
        almost halves it. Only the parsing runs ahead: each file is kept (cache, stage, quarantine) in ``paths``
        order, under the lock, exactly as one ``_load`` after another would keep it, and at most
        ``_PARSE_AHEAD`` parsed files wait to be kept, so memory stays bounded."""
        span = self._days()
        with self._guard:  # taken, not yielded, under the lock: the caller runs between yields
            cache, staged, unusable = self._cache, self._staged, self._unusable  # pydantic attributes: ~4 us each
            all_kept = all(k in cache or k in staged or k in unusable for k in keys)
            kept = [self._kept(k) for k in keys] if all_kept else []  # the LRU order moves as _load's would
        if all_kept:
            yield from (k for k in kept if k is not None)  # none is: all were kept
            return
        if len(paths) < 2 or PARSE_WORKERS < 2:
            yield from (self._load(path, key) for path, key in zip(paths, keys, strict=True))
            return
        pending: deque[tuple[Path, _Key, Future[_Parsed | QuarantinedFile] | None]] = deque()
        pool = ThreadPoolExecutor(PARSE_WORKERS, thread_name_prefix="file-parse")
        try:
            for path, key in [*zip(paths, keys, strict=True), (None, None)]:
                if path is not None and key is not None:
                    pending.append((path, key, self._parse_ahead(pool, path, key, span)))
                while pending and (path is None or len(pending) > _PARSE_AHEAD):
                    done, key_done, ahead = pending.popleft()
                    if ahead is None or self._days() != span:  # kept already, or a new day: parsed again
                        yield self._load(done, key_done)
                    else:
                        yield self._keep(key_done, ahead.result())  # a parse's error is raised in its turn
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _parse_ahead(
        self, pool: ThreadPoolExecutor, path: Path, key: _Key, span: _Span
    ) -> Future[_Parsed | QuarantinedFile] | None:
        """The file's parse, started; None when it is kept already (its ``_load``, in its turn, returns it).
        Only looks: the least recently used order changes when files are kept."""
        with self._guard:
            if key in self._cache or key in self._staged or key in self._unusable:
                return None
        return pool.submit(self._read, path, span)

    def _listing(self) -> _Listing:
        """The directory is listed on every call so new files are seen without a restart (``fetch`` lists it
        once per call and works from that listing: one stat per file, taken here, is its version)."""
        root = Path(self.directory).expanduser()
        if not root.is_dir():
            raise SourceUnreadable(f"BACKBONE_SOURCE=csv:{self.directory}: directory {root} does not exist")
        claims: dict[str, list[Path]] = {}
        misnamed: list[QuarantinedFile] = []
        versions: dict[Path, _Key] = {}
        named = self._named
        with os.scandir(root) as found:  # is_file() from the directory entry's type: no stat per file
            listed = sorted((e for e in found if e.name.lower().endswith(SUFFIXES)), key=lambda e: e.name)
        for found_entry in listed:
            if not found_entry.is_file():
                continue
            known = named.get(found_entry.name)
            if known is not None:
                entry, symbol, text = known
            else:
                entry = root / found_entry.name
                if entry.suffix.lower() not in SUFFIXES:
                    continue
                symbol, text = self._symbol_of(entry), str(entry)
            if SYMBOL_PATTERN.match(symbol):
                named[found_entry.name] = entry, symbol, text
                try:
                    stat = found_entry.stat()  # as path.stat(): follows a symbolic link
                except OSError:  # gone since listed: as if it had not been listed
                    continue
                versions[entry] = _version(text, stat)
                claims.setdefault(symbol, []).append(entry)
                continue
            reason = (
                f"file name {printable(entry.stem)!r} is not a symbol (A-Z, 0-9, '.', '-', '=', '^'; at most 20 "
                "characters): rename the file, or map its name to a symbol in BACKBONE_SOURCE_SYMBOL_MAP"
            )
            misnamed.append(_quarantined(entry, None, reason))
        for symbol, paths in claims.items():
            if len(paths) > 1:
                reason = f"{' and '.join(p.name for p in paths)} all hold {symbol}; keep one"
                misnamed += [_quarantined(p, symbol, reason) for p in paths]
        return _Listing({s: paths[0] for s, paths in claims.items() if len(paths) == 1}, misnamed, versions)

    def _symbol_of(self, path: Path) -> str:
        """The symbol a file holds: mapped by its name (with or without the suffix), else its stem upper-cased."""
        return self.symbol_map.get(path.name, self.symbol_map.get(path.stem, path.stem.upper()))

    def _days(self) -> _Span:
        """The partitions a row can have, as day numbers; a new day forgets files parsed under the old one."""
        today = dt.date.fromisoformat(self.today) if self.today else dt.datetime.now(dt.UTC).date()
        first = dt.date.fromisoformat(self.first_day) if self.first_day else dt.date.min
        span = (first.toordinal() - EPOCH, today.toordinal() - EPOCH)
        if self._span is not None and span != self._span:
            self.close()
        self._span = span
        return span

    def _load(self, path: Path, key: _Key) -> _Parsed | _Staged | QuarantinedFile:
        """The file at version ``key`` parsed (from memory, from the stage, or now), or its quarantine record."""
        span = self._days()
        with self._guard:
            known = self._kept(key)
        return known if known is not None else self._keep(key, self._read(path, span))

    def _kept(self, key: _Key) -> _Parsed | _Staged | QuarantinedFile | None:
        """What is kept for this version of the file (now the most recently used), None when nothing is; the
        caller holds the lock."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        return self._staged.get(key, self._unusable.get(key))

    def _read(self, path: Path, span: _Span) -> _Parsed | QuarantinedFile:
        """The file parsed now (the only place ``_parse`` is called), or its quarantine record: no lock held,
        so several files can be read at once."""
        try:
            return _parse(path, span)
        except _Unusable as exc:
            return _quarantined(path, self._symbol_of(path), exc.reason, exc.rows)

    def _keep(self, key: _Key, loaded: _Parsed | QuarantinedFile) -> _Parsed | _Staged | QuarantinedFile:
        """Keep what ``_read`` returned, under the lock; the least recently used parsed files go to the stage
        beyond ``MAX_CACHED_ROWS``. Two threads may parse one file at once: the first kept wins, counted once."""
        with self._guard:
            known = self._kept(key)
            if known is not None:
                return known
            self._forget(key[0])  # an older version of the file
            if isinstance(loaded, QuarantinedFile):
                self._unusable[key] = loaded
                return loaded
            self._cache.add(key, loaded)
            while len(self._cache) > 1 and self._cache.rows > MAX_CACHED_ROWS:
                old_key, old = self._cache.oldest()
                try:
                    self._staged[old_key] = old.spill(self._stage)
                except OSError as exc:  # e.g. a full disk; the file is parsed again when next asked for
                    raise SourceUnavailable(
                        f"BACKBONE_SOURCE=csv:{self.directory}: cannot keep parsed files on disk under "
                        f"{tempfile.gettempdir()} ({exc}); free space there or point TMPDIR at a larger disk"
                    ) from None
            return loaded

    def _forget(self, path: str) -> None:
        for key in [k for k in self._cache if k[0] == path]:
            self._cache.discard(key)
        for key in [k for k in self._staged if k[0] == path]:
            self._stage.drop(self._staged.pop(key).handle)
        for key in [k for k in self._unusable if k[0] == path]:
            del self._unusable[key]

    def fetch(self, start: dt.date, end: dt.date, symbols: Sequence[str] | None = None) -> pd.DataFrame:
        listing = self._listing()
        files = listing.files
        held = {f.symbol for f in listing.misnamed if f.symbol}  # two files for one symbol: both set aside
        wanted = sorted({s.upper() for s in (self._universe(listing) if symbols is None else symbols)} - held)
        missing = [s for s in wanted if s not in files]
        if missing:
            raise SourceUnreadable(
                f"BACKBONE_SOURCE=csv:{self.directory}: no file for symbol {', '.join(missing)} "
                f"(expected <SYMBOL>.csv or <SYMBOL>.parquet)"
            )
        bounds = [start.toordinal() - EPOCH, end.toordinal() - EPOCH + 1]
        names, counts, days, part = [], [], [], []
        by_rows: list[tuple[int, dict[str, Any]]] = []  # not plain: each file's first row and its cells
        plain, at = PlainBatch(), 0
        # parsed ahead, two at a time, when this is the first pass (a backfill that never asked quarantined_files)
        paths = [files[s] for s in wanted]
        for symbol, loaded in zip(wanted, self._load_all(paths, [listing.versions[p] for p in paths]), strict=True):
            if isinstance(loaded, QuarantinedFile):  # set aside whole, named by quarantined_files()
                continue
            lo, hi = (int(i) for i in np.searchsorted(loaded.part, bounds))
            if hi <= lo:
                continue
            parsed = loaded if isinstance(loaded, _Parsed) else loaded.read(lo, hi)
            lo, hi = (lo, hi) if parsed is loaded else (0, hi - lo)
            parts = payload_parts(files[symbol].name, parsed.number_key, tuple(parsed.header))
            if parsed.table is not None:  # plain CSV: column by column, no row is split in Python
                table = parsed.table.slice(lo, hi - lo)
                plain.add(at, parsed.header, parsed.value_at, parts, parsed.numbers[lo:hi], table)
            else:
                rows = parsed.rows(lo, hi)
                cells: dict[str, Any] = {
                    column: [r[i] if i is not None and i < len(r) else None for r in rows]
                    for column, i in parsed.value_at.items()
                }
                numbers = parsed.numbers[lo:hi].tolist()
                cells["payload"] = row_payloads(*parts, numbers, rows, parsed.records is not None)
                by_rows.append((at, cells))
            names.append(symbol)
            counts.append(hi - lo)
            days.append(parsed.days[lo:hi])
            part.append(parsed.part[lo:hi])
            at += hi - lo
        if not days:
            return empty_raw()
        # object arrays filled in place: a missing value column stays None
        out = {c: np.full(at, None, dtype=object) for c in (*VALUE_COLUMNS, "payload")}
        for first, cells in by_rows:
            for column, values in cells.items():  # element by element: a cell that is a sequence stays one cell
                out[column][first : first + len(values)] = np.fromiter(values, dtype=object, count=len(values))
        plain.fill(out)
        out["symbol"] = np.repeat(np.array(names, dtype=object), counts)
        day_numbers = np.concatenate(days)
        stamps = np.where(day_numbers == NO_DAY, np.datetime64("NaT"), day_numbers.astype("datetime64[D]"))
        frame = {c: pd.Series(v, dtype=object, copy=False) for c, v in out.items()}
        frame["ts"] = pd.DatetimeIndex(stamps.astype("datetime64[us]"), tz="UTC")
        frame["source"] = pd.Series(np.full(at, self.name, dtype=object), dtype=object, copy=False)
        # one date object per distinct day, not one per row
        distinct, which = np.unique(np.concatenate(part), return_inverse=True)
        dates = distinct.astype("datetime64[D]").astype(object)[which]
        frame["partition_date"] = pd.Series(dates, dtype=object, copy=False)
        return pd.DataFrame({c: frame[c] for c in RAW_COLUMNS})


def _key_of(path: Path) -> _Key:
    """A file's version: a new mtime or size is a new file to parse."""
    return _version(str(path), path.stat())


def _version(path: str, stat: os.stat_result) -> _Key:
    """The version of the file at ``path`` that ``stat`` describes."""
    return (path, stat.st_mtime_ns, stat.st_size)


def _quarantined(path: Path, symbol: str | None, reason: str, rows: int | None = None) -> QuarantinedFile:
    """The record of a file set aside whole; ``rows`` when known, else counted here: a Parquet file's footer (None
    without one: its rows cannot be told), any other file's lines."""
    data = path.read_bytes()
    if rows is None:
        rows = _parquet_rows(data) if path.suffix.lower() == ".parquet" else text_rows(data)
    return QuarantinedFile.of(path, symbol, reason, rows, data)
