"""Column-wise reading and payloads for the file source (``files.py``, which owns the contract).

Why: per-row Python (the ``csv`` module's records, splitting the returned rows, one JSON payload per row) was
most of a backfill's time (docs/benchmarks.md). Most files are plain: UTF-8, LF line ends, no quote character
anywhere, every row as wide as the header. In such a file a cell is exactly the text between two commas, so
pyarrow's reader, told that every column is text and that nothing is a quote or a null, returns what ``csv``
would, a column at a time. Anything else (a quote, a CR, a NUL, a ragged row, bytes that are not UTF-8, a cell
longer than ``csv.field_size_limit()``) makes ``read_plain_csv`` return None and the exact per-record reader
(``file_formats.read_csv_records``) reads the file: this module decides how a file is read, never what comes
back. ``backbone_tests/resources/source/test_file_columns.py`` holds both paths to the same frames.

Payloads are built here for both paths from the same pre-encoded keys: per row for records and Parquet rows,
per column (one string join over the columns) for plain files.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from backbone_domain.arrow_text import utf8_cells
from backbone_resources.source.file_formats import unique_names

_BOM: Final = b"\xef\xbb\xbf"
_NOT_PLAIN: Final = (b'"', b"\r", b"\x00")  # quoting, CR line ends (a lone CR ends a csv record), NUL
# a cell that json encodes as itself between quotes: printable ASCII but the quote and the backslash
_NEEDS_ESCAPE: Final = r'[^ -~]|["\\]'
# one JSON string, C-accelerated: what JSONEncoder(ensure_ascii=True).encode does for a str, minus its Python frame
_encode_string: Final = encode_basestring_ascii


def read_plain_csv(data: bytes) -> tuple[list[str], pa.Table, np.ndarray] | None:
    """Header, the cells as string columns named by position, and each record's 1-based line; None when the
    file is not plain (see the module docstring) and only the exact reader may judge it."""
    if data.startswith(_BOM):  # what the exact reader's utf-8-sig does: only at the very start
        data = data[len(_BOM) :]
    if any(mark in data for mark in _NOT_PLAIN):
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(data)]))
    filled = np.flatnonzero(stops > starts)  # blank lines are not records, as for csv
    if filled.size == 0:
        return None  # empty: the exact reader's answer (no header) costs nothing
    first = int(filled[0])
    try:
        header = unique_names(data[starts[first] : stops[first]].decode("utf-8").split(","))
    except UnicodeDecodeError:
        return None
    limit = csv.field_size_limit()  # the exact reader refuses a longer cell, header included; let it say so
    if max(len(name) for name in header) > limit:
        return None
    names = [str(i) for i in range(len(header))]
    numbers = filled[1:] + 1
    if numbers.size == 0:
        return header, pa.table({n: pa.array([], type=pa.string()) for n in names}), numbers.astype(np.int64)
    body = data[int(stops[first]) + 1 :]
    if body.startswith(_BOM):  # pyarrow would drop it; csv keeps it in the first cell
        return None
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body),
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pa_csv.ParseOptions(quote_char=False, escape_char=False, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):  # ragged rows, invalid UTF-8, a row longer than a block
        return None
    if table.num_rows != numbers.size:
        return None
    if any((pc.max(pc.binary_length(c)).as_py() or 0) > limit for c in table.columns):  # bytes >= characters
        return None
    return header, table.combine_chunks(), numbers.astype(np.int64)


@functools.lru_cache(maxsize=4096)  # asked for once per file and chunk; the answer changes with the header only
def payload_parts(file: str, number_key: str, header: tuple[str, ...]) -> tuple[str, list[str]]:
    """The JSON text before a record's number, and before each cell (a header named like a provenance key
    gets a ``_``, so the file's own column is kept beside it). Callers must not change the list."""
    names = [n if n not in ("file", number_key) else f"_{n}" for n in header]
    return "{" + f'"file":{json.dumps(file)},"{number_key}":', [f",{json.dumps(n)}:" for n in names]


@dataclass
class PlainBatch:
    """The plain files' slices of one fetch, filled into its columns together: pyarrow's per-call cost is
    paid per header and column, not per file and column (a chunk holds a few hundred rows of each file)."""

    groups: dict[tuple[str, ...], list[_Slice]] = field(default_factory=dict)

    def add(
        self,
        at: int,
        header: list[str],
        value_at: dict[str, int | None],
        payload: tuple[str, list[str]],
        numbers: np.ndarray,
        table: pa.Table,
    ) -> None:
        """Rows ``at`` onwards of the fetch's columns come from ``table`` (cells by position); ``value_at``
        says which cell is which value, ``payload`` is ``payload_parts`` of the file."""
        head, keys = payload
        self.groups.setdefault((*header, *keys), []).append(_Slice(at, value_at, head, keys, numbers, table))

    def fill(self, out: dict[str, np.ndarray]) -> None:
        """Write each slice's values and payloads into ``out`` (object arrays, one per column) at its rows; the
        other rows are not touched."""
        for slices in self.groups.values():
            # one contiguous array per column: kernels pay per chunk, and a slice is often ~20 rows; one
            # concat_tables, not a Python loop over every slice's every column
            columns = [c.combine_chunks() for c in pa.concat_tables([s.table for s in slices]).columns]
            heads = pa.array([s.head for s in slices], type=pa.string())
            counts = np.array([s.table.num_rows for s in slices], dtype=np.int64)
            head = pc.take(heads, pa.array(np.repeat(np.arange(len(slices)), counts), type=pa.int32()))
            numbers = np.concatenate([s.numbers for s in slices])
            filled = {"payload": _objects(_join(head, slices[0].keys, numbers, columns))}
            filled |= {c: _objects(columns[i]) for c, i in slices[0].value_at.items() if i is not None}
            # row r of the group goes to out row r + shift[r]: one slice assignment when the slices follow
            # each other in the fetch (one header throughout), else one fancy-indexed assignment
            shift = np.array([s.at for s in slices], dtype=np.int64) - (np.cumsum(counts) - counts)
            if (shift == shift[0]).all():
                where: slice | np.ndarray = slice(int(shift[0]), int(shift[0]) + int(counts.sum()))
            else:
                where = np.arange(int(counts.sum())) + np.repeat(shift, counts)
            for column, values in filled.items():
                out[column][where] = values


@dataclass(frozen=True)
class _Slice:
    at: int
    value_at: dict[str, int | None]
    head: str
    keys: list[str]
    numbers: np.ndarray
    table: pa.Table


def _objects(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow strings as an object array of Python str, the way the frame holds them (object columns)."""
    return values.to_numpy(zero_copy_only=False)


def _encodes_as_itself(column: pa.Array) -> bool:
    """Whether every cell json-encodes as itself between quotes (no byte that ``_NEEDS_ESCAPE`` matches).

    Why bytes: a regex over every cell of a chunk cost ~90 ms of a ~1 s fetch; the column's data buffer
    holds the same answer (UTF-8: a non-ASCII character is bytes >= 0x80, all escaped). Its min and max
    (bytes outside space..tilde) and two equality scans (quote, backslash) are ~10x faster than a 256-entry
    lookup table."""
    _, cells = utf8_cells(column)
    if cells.size == 0:
        return True
    if cells.min() < ord(" ") or cells.max() > ord("~"):
        return False
    return not ((cells == ord('"')).any() or (cells == ord("\\")).any())


def _join(head: pa.Array, keys: list[str], numbers: np.ndarray, cells: Sequence[pa.Array]) -> pa.Array:
    """Compact JSON of each record, built by one element-wise join over the columns: a column whose cells
    all encode as themselves is joined as it is, any other column is encoded cell by cell first."""
    text = pa.large_string()  # 64-bit offsets: a fetch's payloads may outgrow 2 GiB where its cells did not
    if len(numbers) == 0:
        return pa.array([], type=text)
    parts: list[Any] = [head.cast(text), pc.cast(pa.array(numbers, type=pa.int64()), text)]
    for key, column in zip(keys, cells, strict=True):
        if not _encodes_as_itself(column):
            parts += [key, pa.array([_encode_string(v) for v in column.to_pylist()], type=text)]
        else:
            parts += [key + '"', column.cast(text), '"']
    parts.append("}")
    merged: list[Any] = []
    for part in parts:  # adjacent literals as one scalar: fewer arrays to walk
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    joined = [pa.scalar(p, type=text) if isinstance(p, str) else p for p in merged]
    return pc.binary_join_element_wise(*joined, pa.scalar("", type=text))


def _text(value: Any) -> str | None:
    """A cell as payload text: strings as they are, typed values as str, missing as null."""
    if value is None or isinstance(value, str):
        return value
    return None if isinstance(value, float) and np.isnan(value) else str(value)


def _encode(text: str | None) -> str:
    return "null" if text is None else _encode_string(text)


def row_payloads(head: str, keys: list[str], numbers: list[int], rows: list[list[Any]], text_cells: bool) -> list[str]:
    """Compact JSON of each record with its provenance, one row at a time (records read by ``csv``, Parquet
    rows): a short row has fewer keys, a long one its surplus cells under ``_extra``."""
    width = len(keys)
    # CSV cells are always text, so a full row is one %-format of its encoded cells: no per-cell Python loop
    template = head.replace("%", "%%") + "%d" + "".join(k.replace("%", "%%") + "%s" for k in keys) + "}"
    out = []
    for number, row in zip(numbers, rows, strict=True):
        if text_cells and len(row) == width:
            out.append(template % (number, *map(_encode_string, row)))
            continue
        cells = "".join(k + _encode(_text(v)) for k, v in zip(keys, row, strict=False))  # short rows: fewer
        extra = "" if len(row) <= width else ',"_extra":' + json.dumps([_text(v) for v in row[width:]])
        out.append(f"{head}{number}{cells}{extra}}}")
    return out
