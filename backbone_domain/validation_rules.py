"""The row rules of bar validation, as vectorized masks with reasons written only for the rows that fail.

Each rule returns a ``Failures``: a boolean mask over the raw rows (vectorized, computed for every row) and
a ``describe`` function that writes one reason per failing row (Python, called only with the failing
positions), so a clean batch never builds a string. ``validation.py`` puts the rules together; the wording
of the reasons is part of the contract (tests assert it), e.g. ``"open is not a number: 'abc'"``.

Values are shown as the landing kept them: text quoted (``'-1'``), numbers bare (``-1.0``, ``-5``, ``inf``).
A store that keeps a source's numeric columns as numbers (PostgreSQL) shows them bare; one that lands every
value as text (DuckDB) quotes the same number's repr.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from backbone_domain.arrow_text import utf8_cells
from backbone_domain.bars import SYMBOL_PATTERN
from backbone_domain.nul_bytes import SHOWN, has_nul, payload_has_nul

_EPOCH = dt.date(1970, 1, 1)
_PLAIN_BYTES = np.zeros(256, dtype=bool)  # what a plain decimal is spelled with (see _plain_spelling)
_PLAIN_BYTES[list(b"0123456789.-+eE")] = True
_UNIT_PER_DAY = {"s": 86_400, "ms": 86_400 * 10**3, "us": 86_400 * 10**6, "ns": 86_400 * 10**9}


@dataclass(frozen=True)
class Failures:
    """Rows (by position) that broke one rule, and how to say why for just those rows."""

    mask: np.ndarray
    describe: Callable[[np.ndarray], list[str]]


@dataclass(frozen=True)
class Numbers:
    """One value column parsed to float64: NaN where missing or unreadable, with the masks that tell which."""

    values: np.ndarray
    missing: np.ndarray
    unreadable: np.ndarray  # present but not a number, or text that parses to NaN ("nan")


def shown(value: object) -> str:
    """A raw value as a reason quotes it: text in quotes, numbers as numbers."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value)


def is_null(value: object) -> bool:
    """None, NA, NaT or NaN (not blank text: that is still a str)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def is_missing(value: object) -> bool:
    """Null or blank text: the source had no value here."""
    return is_null(value) or (isinstance(value, str) and not value.strip())


def parse_numbers(column: pd.Series) -> Numbers:
    """Numbers as floats; text via ``pd.to_numeric`` (so "1e3" and " 12.5 " parse, "1,234.5" does not).

    A NaN in a numeric column is how pandas writes "no value", so it counts as missing; the text "nan" was
    written by someone and counts as unreadable (reported as not finite). Bools are not numbers.
    """
    n = len(column)
    if ptypes.is_bool_dtype(column.dtype):
        missing = column.isna().to_numpy()
        return Numbers(np.full(n, np.nan), missing, ~missing)
    if ptypes.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        return Numbers(values, np.isnan(values), np.zeros(n, dtype=bool))
    text = _as_text(column)
    values = _plain_decimals(text) if text is not None else None
    if values is None:
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan, copy=True)
        _reread_signed(column, text, values)
    missing = np.zeros(n, dtype=bool)
    unreadable = np.zeros(n, dtype=bool)
    raw = column.to_numpy(dtype=object)
    # to_numeric reads True/False as 1/0: look for bools among those values only.
    zero_or_one = np.flatnonzero((values == 0) | (values == 1))
    bools = zero_or_one[[isinstance(v, bool | np.bool_) for v in raw[zero_or_one]]]
    values[bools] = np.nan
    unreadable[bools] = True
    nan_at = np.flatnonzero(np.isnan(values) & ~unreadable)
    gone = np.fromiter((is_missing(v) for v in raw[nan_at]), dtype=bool, count=len(nan_at))
    missing[nan_at[gone]] = True
    unreadable[nan_at[~gone]] = True
    return Numbers(values, missing, unreadable)


def _as_text(column: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The column as Arrow text, converted once for both readings; None when it mixes text with numbers."""
    try:
        return pa.array(column, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _plain_decimals(text: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Text that is all plain decimals (``-12.5``, ``3e-4``) or NULL, parsed in bulk by Arrow; None otherwise.

    Landed rows are text, so this is the common case, and ``pd.to_numeric`` over Python strings was most of the
    cost of validating them. Only the spelling both parsers read alike takes this path (Arrow also rounds
    correctly: the value equals Python's ``float`` of the text); anything else, including " 1" or "+1", goes
    through ``pd.to_numeric`` as before. That spelling is ``-?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?``:
    ``_plain_spelling`` keeps out what Arrow reads and that does not match ("+1", "inf", "nan"), and Arrow's
    cast refuses the rest ("1-2", "1e", "", "."); ``test_validation_rules`` holds the two against the regex.
    """
    if not _plain_spelling(text):
        return None
    try:
        numbers = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        return None
    return numbers.to_numpy(zero_copy_only=False).astype("float64", copy=True)


def _plain_spelling(text: pa.Array | pa.ChunkedArray) -> bool:
    """Every value is spelled with ASCII digits, ".", "-", "e", "E" and "+", and none starts with "+".

    Why bytes and not a regex: a numpy pass over the UTF-8 data costs ~2 ms a 150k-row column, where
    ``pc.match_substring_regex`` with the full pattern cost ~10 ms (~2.6 s of a 1.3M-row backfill's six columns).
    Bytes under a NULL count too: they can only send a column to ``pd.to_numeric``, never let one through.
    """
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        if not len(chunk):
            continue
        ends, spelled = utf8_cells(chunk)
        if not np.take(_PLAIN_BYTES, spelled).all():
            return False
        starts = ends[:-1][ends[:-1] < ends[1:]] - ends[0]  # of the non-empty values
        if (spelled[starts] == ord("+")).any():
            return False
    return True


def _reread_signed(column: pd.Series, text: pa.Array | pa.ChunkedArray | None, values: np.ndarray) -> None:
    """Text with a leading ``+`` read again by Python's ``float``: ``pd.to_numeric`` (pandas 3.1) reads about half
    of such spellings one ulp off (``"+180144.98017032706"``), every other spelling it parses as ``float`` does
    (found by ``test_validation_properties``). ``text``: the column as ``_as_text`` gave it."""
    if text is not None:
        signed = pc.fill_null(pc.match_substring_regex(text, r"^\s*\+"), False).to_numpy(zero_copy_only=False)
    else:  # mixed text and numbers: look at the text only
        signed = np.fromiter((isinstance(v, str) and v.lstrip().startswith("+") for v in column), bool, len(column))
    raw = column.to_numpy(dtype=object)
    for at in np.flatnonzero(signed & np.isfinite(values)).tolist():
        with contextlib.suppress(ValueError):  # pandas read what Python does not: keep its reading
            values[at] = float(raw[at])


def number_failures(name: str, raw: pd.Series, parsed: Numbers, *, optional: bool, positive: bool) -> Failures:
    """Missing / not a number / not finite / out of range: one reason per failing row (they exclude each other).

    ``optional`` columns may be missing; ``positive`` means > 0, otherwise >= 0.
    """
    values = parsed.values
    finite = np.isfinite(values)
    out_of_range = finite & ((values <= 0) if positive else (values < 0))
    mask = parsed.unreadable | np.isinf(values) | out_of_range
    if not optional:
        mask = mask | parsed.missing

    range_text = "must be positive" if positive else "is negative"

    def describe(positions: np.ndarray) -> list[str]:
        items = raw.take(positions).to_numpy(dtype=object)
        flags = (a[positions].tolist() for a in (parsed.missing, out_of_range, parsed.unreadable))
        reasons = []
        for item, gone, low, unread in zip(items, *flags, strict=True):
            if gone:
                reasons.append(f"{name} is missing")
            elif low:
                reasons.append(f"{name} {range_text}: {shown(item)}")
            elif unread and not _spells_nan(item):
                reasons.append(f"{name} is not a number: {shown(item)}")
            else:
                reasons.append(f"{name} is not finite: {shown(item)}")
        return reasons

    return Failures(mask, describe)


def _spells_nan(item: object) -> bool:
    """Text such as "nan" that Python reads as NaN: a number, just not a finite one."""
    try:
        return isinstance(item, str) and math.isnan(float(item))
    except ValueError:
        return False


def nul_failures(name: str, column: pd.Series, among: np.ndarray | None = None) -> Failures:
    """Text holding a NUL byte, which PostgreSQL cannot store: the row is refused on every tier, and the reason
    says the NUL is kept as the text ``SHOWN`` (``nul_bytes``). The payload's check also sees JSON's escape.

    ``among``: a mask of the only rows that can hold one (a value with a NUL is never a number, a symbol with
    one never matches the pattern), so a clean batch is not scanned again.
    """
    if among is not None:
        mask = np.zeros(len(column), dtype=bool)
        at = np.flatnonzero(among)
        mask[at] = has_nul(column.take(at))
    else:
        mask = payload_has_nul(column) if name == "payload" else has_nul(column)
    return Failures(mask, lambda positions: [f"{name} contains a NUL byte (stored as {SHOWN})"] * len(positions))


def ohlc_failures(o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray) -> list[Failures]:
    """high >= max(open, close) and low <= min(open, close), judged only where all four prices are finite."""
    judged = np.isfinite(o) & np.isfinite(h) & np.isfinite(low) & np.isfinite(c)
    top, bottom = np.maximum(o, c), np.minimum(o, c)

    def high(positions: np.ndarray) -> list[str]:
        return [f"high {float(h[p])!r} is below max(open, close) {float(top[p])!r}" for p in positions]

    def low_(positions: np.ndarray) -> list[str]:
        return [f"low {float(low[p])!r} is above min(open, close) {float(bottom[p])!r}" for p in positions]

    return [Failures(judged & (h < top), high), Failures(judged & (low > bottom), low_)]


def symbol_failures(symbols: pd.Series) -> tuple[Failures, np.ndarray]:
    """Symbols must be text matching SYMBOL_PATTERN as given (no upper-casing on the source's behalf).

    The pattern runs once per distinct symbol, not per row. Returns the failures and the symbol codes
    (position in the distinct values, -1 for missing) that key duplicate detection.
    """
    codes, uniques = pd.factorize(symbols, use_na_sentinel=True)
    good = [isinstance(u, str) and SYMBOL_PATTERN.match(u) is not None for u in uniques]
    mask = ~np.array([*good, False], dtype=bool)[codes]  # code -1 (missing) picks the trailing False

    def describe(positions: np.ndarray) -> list[str]:
        items = symbols.take(positions).to_numpy(dtype=object)
        return [
            "symbol is missing" if is_missing(v) else f"symbol {shown(v)} is not a known symbol format" for v in items
        ]

    return Failures(mask, describe), codes


def ts_failures(ts: pd.Series, today: dt.date, first_day: dt.date | None = None) -> tuple[list[Failures], np.ndarray]:
    """Readable, midnight UTC, not after ``today``, not before ``first_day`` (the first partition: a bar before it
    would be stored on a day no partition shows). Returns the failures and the day number of each row.

    Works on the integer ticks in the column's own unit: no per-row Timestamp objects on the clean path.
    """
    array = ts.array
    per_day = _UNIT_PER_DAY[array.unit]
    ticks = array.asi8
    unread = ts.isna().to_numpy()
    day = ticks // per_day
    off_midnight = ~unread & (ticks % per_day != 0)
    future = ~unread & (day > (today - _EPOCH).days)
    early = ~unread & (day < ((first_day or dt.date.min) - _EPOCH).days)

    def not_midnight(positions: np.ndarray) -> list[str]:
        return [f"ts {ts.iloc[p].isoformat()} is not midnight UTC" for p in positions]

    def in_future(positions: np.ndarray) -> list[str]:
        return [f"ts {np.datetime64(int(day[p]), 'D')} is in the future" for p in positions]

    def too_early(positions: np.ndarray) -> list[str]:
        first = f"the first partition, BACKBONE_START_DATE {first_day}"
        return [f"ts {np.datetime64(int(day[p]), 'D')} is before {first}" for p in positions]

    failures = [
        Failures(unread, lambda positions: ["date could not be read"] * len(positions)),
        Failures(off_midnight, not_midnight),
        Failures(future, in_future),
        Failures(early, too_early),
    ]
    return failures, day


def duplicate_failures(
    eligible: np.ndarray, codes: np.ndarray, day: np.ndarray, values: list[np.ndarray], symbols: pd.Series
) -> Failures:
    """Among ``eligible`` rows, one (symbol, day) twice: drop identical copies, or refuse all that disagree.

    Copies are compared on the parsed values (so "10" and 10.0 agree; two missing adj_close agree).

    Detection counts keys with ``np.bincount`` over a dense (symbol, day) index when the span is small (the
    usual case: a batch covers a few hundred symbols and days), falling back to hashing otherwise.
    """
    mask = np.zeros(len(eligible), dtype=bool)
    rows = np.flatnonzero(eligible)
    if len(rows) < 2:
        return Failures(mask, lambda positions: [])
    first_day = int(day[rows].min())
    span = int(day[rows].max()) - first_day + 1
    key = codes[rows].astype(np.int64) * span + (day[rows] - first_day)
    if (int(codes[rows].max()) + 1) * span <= 8 * len(rows) + 1_000_000:
        copies = np.bincount(key)[key] > 1
    else:
        copies = pd.Series(key).duplicated(keep=False).to_numpy()
    if not copies.any():
        return Failures(mask, lambda positions: [])

    group = pd.DataFrame({"key": key[copies], **{str(i): v[rows[copies]] for i, v in enumerate(values)}})
    value_columns = [str(i) for i in range(len(values))]
    disagree = (group.groupby("key")[value_columns].nunique(dropna=False) > 1).any(axis=1)
    size = group.groupby("key").size()
    conflicting = disagree.reindex(group["key"]).to_numpy()
    extra_copy = group.duplicated(subset="key", keep="first").to_numpy()
    positions = rows[copies]
    mask[positions[conflicting | extra_copy]] = True
    rows_in_group = dict(zip(positions, size.reindex(group["key"]).to_numpy(), strict=True))
    is_conflict = dict(zip(positions, conflicting, strict=True))

    def describe(failing: np.ndarray) -> list[str]:
        reasons = []
        for p in failing:
            where = f"({symbols.iloc[p]}, {np.datetime64(int(day[p]), 'D')})"
            if is_conflict[p]:
                reasons.append(f"duplicate key {where}: {rows_in_group[p]} rows disagree")
            else:
                reasons.append(f"duplicate of an identical row {where}")
        return reasons

    return Failures(mask, describe)
