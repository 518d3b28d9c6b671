"""The file source over arbitrary bytes (Hypothesis): a file is read whole or quarantined whole, never thinned.

Each generated file is written as ``SYM.csv`` and read through the column-wise path and the exact per-record
path (``read_plain_csv`` switched off, as ``test_file_columns.py`` does). Either both quarantine the file (no row
returned, the file named in ``quarantined_files()`` with its reason and row count), or both return the same
frames, in which every non-blank record after the header comes back as exactly one row with its own line
number, whole and over any split of the date range. The records are counted here with Python's ``csv`` over the
same bytes (UTF-8 with a BOM allowed).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path
from unittest import mock

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from backbone_domain.quarantined_files import QuarantinedFile
from backbone_resources.source import files
from backbone_resources.source.files import FileSource
from backbone_tests.resources.source.test_file_columns import assert_same

D = dt.date
ALL = (D(1, 1, 1), D(9999, 12, 31))
HEADERS = [b"", b"Date,Open,High,Low,Close,Adj Close,Volume\n", b"\xef\xbb\xbfDate,Close\r\n", b"ts;close\n"]


def records(data: bytes) -> list[int] | None:
    """First line of each data record, as ``csv`` reads the text; None when ``csv`` refuses it."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    found: list[int] = []
    previous, header = 0, False
    try:
        for cells in reader:
            start, previous = previous + 1, reader.line_num
            if cells and header:
                found.append(start)
            header = header or bool(cells)
    except csv.Error:
        return None
    return found


def read(directory: str, ranges: list[tuple[dt.date, dt.date]]) -> tuple[list[pd.DataFrame], list[QuarantinedFile]]:
    source = FileSource(directory=directory)
    try:
        return [source.fetch(*ALL), *(source.fetch(*r) for r in ranges)], source.quarantined_files()
    finally:
        source.close()


def lines(frame: pd.DataFrame) -> list[int]:
    payloads = [json.loads(p) for p in frame["payload"]]
    assert {p["file"] for p in payloads} <= {"SYM.csv"}
    return sorted(p["line"] for p in payloads)


def split(cuts: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """[ALL] cut before each of ``cuts``: consecutive ranges that cover it exactly."""
    starts = [ALL[0], *sorted(set(cuts) - {ALL[0]})]
    ends = [*(s - dt.timedelta(days=1) for s in starts[1:]), ALL[1]]
    return list(zip(starts, ends, strict=True))


def check_file(data: bytes, cuts: list[dt.date]) -> None:
    ranges = split(cuts)
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "SYM.csv").write_bytes(data)
        fast = read(directory, ranges)
        with mock.patch.object(files, "read_plain_csv", return_value=None):
            exact = read(directory, ranges)
    (fast, set_aside), (exact, set_aside_exact) = fast, exact
    assert set_aside == set_aside_exact
    if set_aside:  # quarantined whole: named, counted, and none of its rows returned
        (file,) = set_aside
        assert Path(file.path).name == "SYM.csv"
        assert file.reason
        assert file.rows is not None
        assert file.rows >= 0
        assert all(frame.empty for frame in [*fast, *exact])
        return
    expected = records(data)
    assert expected is not None, "csv refuses this file, the source read it"
    for f, e in zip(fast, exact, strict=True):
        assert_same(f, e)
    whole, *parts = fast
    assert lines(whole) == expected  # every record once: nothing dropped, merged or split
    assert (whole["symbol"] == "SYM").all()
    assert sorted(line for part in parts for line in lines(part)) == expected  # once over the split too


cut_dates = st.lists(
    st.one_of(st.dates(D(2023, 12, 25), D(2024, 1, 15)), st.dates(), st.just(dt.date.today())), max_size=4
)


@given(st.builds(bytes.__add__, st.sampled_from(HEADERS), st.binary(max_size=200)), cut_dates)
def test_arbitrary_bytes_are_read_whole_or_refused_by_name(data: bytes, cuts: list[dt.date]) -> None:
    check_file(data, cuts)


DATES = ["2024-01-02", "1/3/2024", "04/01/2024", "2024-01-05T10:00:00Z", "2024-13-45", "", "??", "2204-01-02"]
CELLS = st.one_of(
    st.sampled_from(DATES),
    st.sampled_from(["1.5", "", " 12 ", "nan", "1e3", "-1", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "\x00"]),
    st.text(max_size=6),
)
NAMES = ["Date", "ts", "Open", "High", "Low", "Close", "Adj Close", "Volume", "file", "line", "", "Clôture"]


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A header and rows of random cells (ragged too), quoted or not, LF or CRLF, BOM, blank lines, encodings."""
    header = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=7))
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 1), max_size=12))
    rows = [row for row in rows if row]  # csv writes an empty row as a blank line, which is no record
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    ends = draw(st.sampled_from(["\n", "\r\n"]))
    out = io.StringIO()
    if draw(st.booleans()):
        csv.writer(out, quoting=quoting, lineterminator=ends).writerows([header, *rows])
    else:  # joined by hand: quotes, commas and line ends in cells are left to break the structure
        out.write(ends.join(",".join(row) for row in [header, *rows]) + draw(st.sampled_from(["", ends])))
    text = out.getvalue()
    if text and draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["\n", "\r\n", "\n\n", "\x00", "\ufeff", '"'])) + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(encoding, errors="replace")


@given(csv_files(), cut_dates)
def test_structured_csv_files_are_read_whole_or_refused_by_name(data: bytes, cuts: list[dt.date]) -> None:
    check_file(data, cuts)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_as_parquet_are_quarantined_by_name(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "SYM.parquet").write_bytes(data)
        (whole,), set_aside = read(directory, [])
    assert whole.empty
    assert [Path(f.path).name for f in set_aside] == ["SYM.parquet"]
    assert set_aside[0].reason.startswith("not readable as Parquet")
