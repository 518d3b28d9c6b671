"""Reading per-symbol files: CSV records with their line numbers, and the dates of a column, in either format.

Helpers of the file source (``files.py``), which owns the contract; kept apart so each module stays small.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from backbone_domain.arrow_text import utf8_cells

_DATE_NAMES: Final = frozenset({"date", "datetime", "timestamp", "time", "ts"})
_ISO: Final = (
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
_SLASH: Final = r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$"
# Python's \s over ASCII text; RE2's \s lacks \v and \x1c-\x1f (\d is [0-9] in both, over ASCII)
_SPACE: Final = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"
NO_DAY: Final = np.iinfo(np.int64).max
EPOCH: Final = dt.date(1970, 1, 1).toordinal()
# Years inside pandas' narrowest range (nanoseconds: 1677-09-21 to 2262-04-11), where ``_day_numbers`` needs no pandas
_FIRST_YEAR, _LAST_YEAR = 1678, 2261


def normal_name(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name.lower())


def unique_names(names: list[str]) -> list[str]:
    """Header names made unique the way pandas does (``x``, ``x.1``), so no original value is lost."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out


def date_column(names: list[str]) -> int | None:
    """Position of the date: a column named like one, else the first (where every supported layout has it,
    named or not); a first column that holds no dates only makes every row unreadable, never dropped."""
    for i, name in enumerate(names):
        if normal_name(name) in _DATE_NAMES:
            return i
    return 0 if names else None


def read_csv_records(path: Path) -> tuple[list[str], list[str], list[int], list[str | None]]:
    """Header, each record's raw text and first line, and its date cell. Blank lines are not records."""
    consumed: list[str] = []
    header: list[str] = []
    texts: list[str] = []
    lines: list[int] = []
    dates: list[str | None] = []
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:

        def feed() -> Iterator[str]:  # remembers the physical lines of the record being read
            for line in handle:
                consumed.append(line)
                yield line

        reader = csv.reader(feed())
        previous, date_at = 0, 0
        for cells in reader:
            start, previous = previous + 1, reader.line_num
            text = "".join(consumed)
            consumed.clear()
            if not cells:
                continue
            if not header:
                header = unique_names(cells)
                date_at = date_column(header) or 0
                continue
            texts.append(text if text.endswith(("\n", "\r")) else text + "\n")
            lines.append(start)
            dates.append(cells[date_at] if date_at < len(cells) else None)
    return header, texts, lines, dates


def _for_arrow(pattern: str) -> str:
    """A date pattern in RE2's dialect for ASCII text: capturing groups named (pyarrow wants names)."""
    names = iter("abc")
    return re.sub(r"\((?!\?)", lambda _: f"(?P<{next(names)}>", pattern).replace(r"\s", _SPACE)


def _ascii(texts: Sequence[object] | pa.Array) -> pa.Array | None:
    """The texts as an Arrow string array when they are all ASCII (nulls allowed), else None."""
    try:
        array = texts if isinstance(texts, pa.Array) else pa.array(list(texts), type=pa.string())
    except (pa.ArrowException, TypeError, ValueError):  # not all text, or a lone surrogate
        return None
    return array if pc.all(pc.string_is_ascii(array), min_count=0).as_py() else None


def _groups(texts: Sequence[object] | pa.Array, array: pa.Array | None, pattern: str) -> list[np.ndarray]:
    """The pattern's three numbers of each text as floats, NaN where it does not match: by pyarrow over ASCII
    text (one pass in C), by Python's ``re`` otherwise (its \\d and \\s also take non-ASCII digits and spaces)."""
    if array is None:
        items = texts.to_pylist() if isinstance(texts, pa.Array) else list(texts)
        found = pd.Series(items, dtype=object).str.extract(pattern).astype(float)
        return [found[i].to_numpy() for i in range(3)]
    matched = pc.extract_regex(array, _for_arrow(pattern))
    valid = matched.is_valid()
    fields = (pc.if_else(valid, pc.struct_field(matched, i), None) for i in range(3))
    return [pc.cast(f, pa.float64()).to_numpy(zero_copy_only=False) for f in fields]


def _fixed_iso(texts: pa.Array) -> list[np.ndarray] | None:
    """The year, month and day (as ``_groups`` gives them: floats) when every text is exactly ``YYYY-MM-DD``,
    read from the bytes; None otherwise.

    Why: the regex costs ~1 ms a file of ten years, half of a plain file's parse, and files written by pandas
    or Yahoo hold nothing else. Such a text matches ``_ISO`` with exactly these three groups, and all match,
    so ISO is the majority: ``text_days`` would read the same numbers."""
    if not pa.types.is_string(texts.type) or len(texts) == 0 or texts.null_count:
        return None
    ends, spelled = utf8_cells(texts)
    if not (np.diff(ends) == 10).all():
        return None
    cells = spelled.reshape(-1, 10)
    digits = cells - np.uint8(ord("0"))  # a byte below "0" wraps above 9
    if not ((cells[:, [4, 7]] == ord("-")).all() and (digits[:, [0, 1, 2, 3, 5, 6, 8, 9]] <= 9).all()):
        return None
    d = digits.astype(np.int64)
    year, month, day = (
        d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3],
        d[:, 5] * 10 + d[:, 6],
        d[:, 8] * 10 + d[:, 9],
    )
    return [year.astype(np.float64), month.astype(np.float64), day.astype(np.float64)]


def text_days(texts: Sequence[object] | pa.Array) -> np.ndarray:
    """Day numbers of date strings in the file's majority format; NO_DAY where unreadable."""
    fixed = _fixed_iso(texts) if isinstance(texts, pa.Array) else None
    if fixed is not None:
        return _day_numbers(*fixed)
    array = _ascii(texts)
    iso = _groups(texts, array, _ISO)
    iso_count = int(np.count_nonzero(~np.isnan(iso[0])))
    # no text matches both layouts, so ISO on half the rows or more wins without reading them as m/d/Y
    slash = None if 2 * iso_count >= len(iso[0]) else _groups(texts, array, _SLASH)
    if slash is None or iso_count >= np.count_nonzero(~np.isnan(slash[0])):
        year, month, day = iso[0], iso[1], iso[2]
    else:
        day_first = bool((slash[0] > 12).any()) and not bool((slash[1] > 12).any())
        year, month, day = slash[2], *((slash[1], slash[0]) if day_first else (slash[0], slash[1]))
    return _day_numbers(year, month, day)


def _day_numbers(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Day numbers of (year, month, day) given as floats (NaN: no match), NO_DAY where any is NaN or the three
    are not a date (Feb 30, month 13, day 0).

    In numpy when every year lies where each pandas resolution holds it: ``pd.to_datetime`` over the three
    columns, the reference, costs ~1 ms a call in pandas' own Python (twice a file: its dates, its header) and
    holds the GIL the parallel first pass (``files._load_all``) needs. Any other year goes to pandas."""
    known = ~(np.isnan(year) | np.isnan(month) | np.isnan(day))
    y, m, d = (np.where(known, v, fill).astype(np.int64) for v, fill in ((year, 1970), (month, 1), (day, 1)))
    if not ((y >= _FIRST_YEAR) & (y <= _LAST_YEAR)).all():
        parts = pd.DataFrame({"year": year, "month": month, "day": day})
        dates = pd.to_datetime(parts, errors="coerce")
        return np.where(dates.isna().to_numpy(), NO_DAY, dates.to_numpy(dtype="datetime64[D]").astype(np.int64))
    months = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (d - 1)  # a day past its month's end lands in the next month
    real = known & (m >= 1) & (m <= 12) & (d >= 1) & (dates.astype("datetime64[M]") == months)
    return np.where(real, dates.astype(np.int64), NO_DAY)


def typed_days(values: pd.Series) -> np.ndarray:
    """Day numbers of typed dates (Parquet): timestamps keep their wall-clock date; text goes through text."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        days = values.to_numpy(dtype="datetime64[D]").astype(np.int64)
        return np.where(values.isna().to_numpy(), NO_DAY, days)
    # pandas' string dtype (its default for Parquet text) holds a missing value as NaN, object columns as None
    items = [None if not isinstance(v, str) and pd.isna(v) else v for v in values.tolist()]
    if all(isinstance(v, str) or v is None for v in items):
        return text_days(items)
    return np.array(
        [v.toordinal() - EPOCH if isinstance(v, dt.date) and not pd.isna(v) else NO_DAY for v in items],
        dtype=np.int64,
    )
