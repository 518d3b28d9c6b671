"""Files a source saw and could not use as a whole: the third way a row can end, beside stored and rejected.

A row of input ends in exactly one place: stored in ``daily_bars``, quarantined with its reasons in
``rejected_bars``, or inside a file that is quarantined whole. A file is quarantined whole when no row of it can
be read as a row of *this* file's symbol: its name is not a symbol, two files claim one symbol, its bytes are
not the text or Parquet they claim to be, or no row has a date any partition reaches. The record keeps what
whoever fixes the file needs to find and recognise it: path, size, checksum, the reason, how many rows it holds
and its first bytes.

Unlike rejected rows, quarantined files are not partitioned: the list says what is wrong with the source *now*.
Each landing run replaces the source's list (``BarStore.replace_quarantined_files``), so a fixed file leaves it
on the next run, and no run's date range can miss a file.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

QUARANTINED_FILE_COLUMNS: Final = (
    "source",
    "path",
    "symbol",
    "size",
    "sha256",
    "rows",
    "reason",
    "first_bytes",
    "seen_at",
)
QUARANTINED_FILE_DTYPES: Final = dict.fromkeys(QUARANTINED_FILE_COLUMNS, "object") | {
    "size": "int64",
    "rows": "Int64",
    "seen_at": "datetime64[us, UTC]",
}
FIRST_BYTES: Final = 64  # enough to recognise a PNG, a Parquet file or a header; short enough for a terminal


@dataclass(frozen=True)
class QuarantinedFile:
    """One file set aside whole. ``rows`` is how many records it holds: a Parquet footer's row count, a text
    file's non-empty lines after the first; None when it cannot be told (a Parquet file without its footer)."""

    path: str
    symbol: str | None
    size: int
    sha256: str
    rows: int | None
    reason: str
    first_bytes: str

    @classmethod
    def of(cls, path: Path, symbol: str | None, reason: str, rows: int | None, data: bytes | None = None):
        """The record of ``path``; ``data`` is its content when the caller already read it."""
        data = path.read_bytes() if data is None else data
        return cls(
            path=printable(str(path)),
            symbol=symbol,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            rows=rows,
            reason=reason,
            first_bytes=shown_bytes(data[:FIRST_BYTES]),
        )


def printable(name: str) -> str:
    """A file name as text any store can hold: bytes the file system gave that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def shown_bytes(data: bytes) -> str:
    """Bytes as printable text: ASCII as is, anything else (NUL, control bytes, non-ASCII) as ``\\xNN``."""
    return "".join(chr(b) if 32 <= b < 127 else f"\\x{b:02x}" for b in data)


def text_rows(data: bytes) -> int:
    """Records in a text file as ``csv`` would count unquoted lines: non-empty lines (any line end) after the
    first. UTF-16 text (with its byte-order mark, as spreadsheets export it) is counted as text, not as bytes."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        data = data.decode("utf-16", errors="replace").encode()
    lines = [line for line in data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n") if line]
    return max(len(lines) - 1, 0)


def quarantine_frame(source: str, files: list[QuarantinedFile], seen_at: dt.datetime) -> pd.DataFrame:
    """The records as the store keeps them (QUARANTINED_FILE_COLUMNS), one row a file."""
    rows = [(source, f.path, f.symbol, f.size, f.sha256, f.rows, f.reason, f.first_bytes, seen_at) for f in files]
    frame = pd.DataFrame(rows, columns=list(QUARANTINED_FILE_COLUMNS))
    return frame.astype(QUARANTINED_FILE_DTYPES)


def rows_in_quarantine(frame: pd.DataFrame) -> int:
    """Rows held by quarantined files whose row count is known."""
    return int(frame["rows"].fillna(0).sum()) if len(frame) else 0


def refusal(files: list[QuarantinedFile]) -> str:
    """The one line that stops a run under BACKBONE_SOURCE_BAD_FILES=fail: the first file and why, and how many."""
    first = files[0]
    return (
        f"{first.path}: {first.reason} ({len(files)} file(s) set aside; "
        "BACKBONE_SOURCE_BAD_FILES=quarantine lands the other files)"
    )


def describe_quarantine(frame: pd.DataFrame) -> str:
    """The verdict's one line: which files are set aside and why (the first three named), or that none is."""
    if not len(frame):
        return "no file is quarantined"
    named = "; ".join(f"{path}: {reason}" for path, reason in zip(frame["path"][:3], frame["reason"][:3], strict=True))
    more = f"; and {len(frame) - 3} more" if len(frame) > 3 else ""
    return f"{len(frame)} file(s) quarantined whole, {rows_in_quarantine(frame)} row(s) in them: {named}{more}"
