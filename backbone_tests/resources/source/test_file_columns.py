"""The column-wise path for plain CSV files returns exactly what the exact per-record path returns.

Generated Yahoo-style files, plain and not (quotes, CR line ends, blank and ragged lines, BOMs, bad bytes,
escapes in cells, odd headers, unreadable and unsorted dates), are read twice: once as the source reads them,
once with the plain reader switched off, so every file goes through ``csv``. The frames must agree in values,
dtypes, cell types, order and payload bytes, whole and by date range, in memory and from the stage.
"""

import datetime as dt
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from backbone_resources.source import file_formats, files
from backbone_resources.source.file_columns import read_plain_csv
from backbone_resources.source.files import FileSource

D = dt.date
DATA = Path(__file__).resolve().parents[2] / "data"
ALL = (D(1990, 1, 1), D(2100, 12, 31))
HEADERS = [
    ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"],
    ["date", "open", "high", "low", "close", "volume"],
    ["Unnamed: 0", "OPEN", "Close", "AdjClose", "VOLUME"],
    ["Date", "Close", "Close", "file", "line", "Clôture", "100% sure"],
    ["ts", "close"],
    ["Date"],
]
CELLS = ["1.5", "", "nan", " 1.50 ", "-500", "1e3", "abc", "é", "a\\b", "a\tb", "—", "𝟙", "\x01", "\x7f", "x\x0b"]
DATES = ["??", "", "2024-13-45", "not a date", " 2024-01-05 ", "2024-1-5T10:00:00Z", "\x1c2024-01-05", "٢٠٢٤-01-02"]


def _date(rng: random.Random, day: dt.date, layout: str) -> str:
    if rng.random() < 0.05:
        return rng.choice(DATES)
    if layout == "us":
        return f"{day.month}/{day.day}/{day.year}"
    if layout == "eu":
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    return day.isoformat() if layout == "iso" else f"{day.isoformat()} 00:00:00"


def yahoo_text(rng: random.Random) -> str:
    """One generated file: mostly a plain Yahoo export, sometimes with whatever real files hold."""
    header = list(rng.choice(HEADERS))
    layout = rng.choice(["iso", "iso", "iso", "us", "eu", "time"])
    first = D(2023, 11, 1) + dt.timedelta(days=rng.randrange(60))
    days = [first + dt.timedelta(days=i) for i in range(rng.randrange(0, 40))]
    if rng.random() < 0.2:
        rng.shuffle(days)
    lines = []
    for day in days:
        cells = [_date(rng, day, layout)]
        for _ in header[1:]:
            cells.append(rng.choice(CELLS) if rng.random() < 0.1 else f"{rng.uniform(1, 500):.6f}")
        lines.append(",".join(cells))
    lines = [",".join(header), *lines]
    quirks = rng.random()
    if quirks < 0.1 and len(lines) > 2:
        lines.insert(rng.randrange(1, len(lines)), "")  # a blank line
    elif quirks < 0.15 and len(lines) > 2:
        lines[-1] += ",surplus"  # ragged
    elif quirks < 0.2 and len(lines) > 2:
        lines[1] = lines[1].split(",", 1)[0]  # short
    elif quirks < 0.25 and len(lines) > 2:
        lines[-1] = '"' + lines[-1].replace(",", '",', 1) + ("" if "," in lines[-1] else '"')  # a quoted date
    elif quirks < 0.28 and len(lines) > 2:
        lines[1] += ',"multi\nline"'  # a quoted cell over two lines, one too many cells
    text = "\n".join(lines) + ("" if rng.random() < 0.1 else "\n")
    if rng.random() < 0.05:
        text = text.replace("\n", "\r\n")
    if rng.random() < 0.05:
        text = "\n\n" + text  # blank lines before the header
    if rng.random() < 0.05:
        text = text.replace("\n", "\n\ufeff", 1)  # a BOM opening the first record: csv keeps it
    return text


def write_files(directory: Path, seed: int, count: int = 30) -> None:
    rng = random.Random(seed)
    for i in range(count):
        text = yahoo_text(rng)
        data = text.encode()
        odd = rng.random()
        if odd < 0.05:
            data = b"\xef\xbb\xbf" + data
        elif odd < 0.08:
            data = data.replace(b"1", b"\xff", 1)  # not UTF-8
        (directory / f"S{i:03d}.csv").write_bytes(data)


def _exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "read_plain_csv", lambda data: None)


def fetch_all(directory: Path, ranges: list[tuple[dt.date, dt.date]]) -> list[pd.DataFrame]:
    source = FileSource(directory=str(directory))
    try:
        return [source.fetch(*r) for r in ranges]
    finally:
        source.close()


def assert_same(fast: pd.DataFrame, exact: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, exact, check_exact=True)
    for column in fast.columns:
        assert fast[column].map(type).tolist() == exact[column].map(type).tolist(), column
    assert fast["payload"].tolist() == exact["payload"].tolist()  # the bytes, not just the parsed JSON


RANGES = [ALL, (D(2023, 11, 20), D(2023, 12, 10)), (D(2024, 1, 1), D(2024, 1, 31))]


@pytest.mark.parametrize("seed", range(8))
def test_generated_files_give_the_same_frames_both_ways(tmp_path, monkeypatch, seed):
    write_files(tmp_path, seed)
    plain = [read_plain_csv(p.read_bytes()) is not None for p in tmp_path.iterdir()]
    assert 0 < sum(plain) < len(plain)  # both paths are exercised
    fast = fetch_all(tmp_path, RANGES)
    with monkeypatch.context() as patch:
        _exact(patch)
        exact = fetch_all(tmp_path, RANGES)
    for f, e in zip(fast, exact, strict=True):
        assert_same(f, e)


@pytest.mark.parametrize("seed", range(3))
def test_staged_files_give_the_same_frames_both_ways(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 30)
    write_files(tmp_path, seed)
    first = D(2023, 11, 1)
    chunks = [(first + dt.timedelta(days=d), first + dt.timedelta(days=d + 9)) for d in range(0, 90, 10)]
    fast = fetch_all(tmp_path, [ALL, *chunks, ALL])
    with monkeypatch.context() as patch:
        _exact(patch)
        exact = fetch_all(tmp_path, [ALL, *chunks, ALL])
    for f, e in zip(fast, exact, strict=True):
        assert_same(f, e)


@pytest.mark.parametrize("directory", ["yahoo", "malformed"])
def test_fixtures_give_the_same_frames_both_ways(tmp_path, monkeypatch, directory):
    shutil.copytree(DATA / directory, tmp_path / directory)
    fast = fetch_all(tmp_path / directory, RANGES)
    with monkeypatch.context() as patch:
        _exact(patch)
        exact = fetch_all(tmp_path / directory, RANGES)
    for f, e in zip(fast, exact, strict=True):
        assert_same(f, e)


def test_plain_files_take_the_column_path_and_unusual_ones_do_not():
    for path in [*(DATA / "yahoo").glob("*.csv"), DATA / "malformed" / "ACME.csv"]:  # blank lines are plain
        assert read_plain_csv(path.read_bytes()) is not None, path
    header, table, lines = read_plain_csv((DATA / "malformed" / "ACME.csv").read_bytes()) or ([], None, None)
    assert header[0] == "Date"
    assert table is not None
    assert lines.tolist() == [2, 3, 4, 5, 6, 8, 9, 10, 11, 12]
    for text in ('Date,Close\n2024-01-02,"1"\n', "Date,Close\r\n2024-01-02,1\r\n", "Date,Close\n2024-01-02\n", ""):
        assert read_plain_csv(text.encode()) is None, text
    assert read_plain_csv(b"Date,Close\n2024-01-02,\xff\n") is None
    assert read_plain_csv("Date,Close\n\ufeff2024-01-02,1\n".encode()) is None  # pyarrow would drop the BOM
    assert read_plain_csv(b"Date,Close\n2024-01-02," + b"9" * 200_000 + b"\n") is None  # csv refuses it
    assert read_plain_csv(b"Date," + b"C" * 200_000 + b"\n2024-01-02,1\n") is None


def _random_date(rng: random.Random) -> str:
    """A date text near both layouts: valid, out of range, mis-padded, with odd spaces and digits."""
    space = ["", "", " ", "\t", "\x0b", "\x1c", "\n", "\xa0"]
    year = rng.choice(["2024", "1999", "0024", "20245", "٢٠٢٤", "24"])
    month, day = (rng.choice(["1", "01", "12", "13", "0", "123", ""]) for _ in range(2))
    time = rng.choice(["", "", "T10:00", " 10:00:00", "T1:00:00.5Z", " 10:00+01:00", "T10:00:00 -0500", "T10", "x"])
    if rng.random() < 0.5:
        return f"{rng.choice(space)}{year}-{month}-{day}{time}{rng.choice(space)}"
    return f"{rng.choice(space)}{month}/{day}/{year}{rng.choice(space)}"


def test_vectorised_dates_match_pythons_regexes():
    rng = random.Random(5)
    texts: list[str | None] = [_random_date(rng) for _ in range(4000)]
    texts += [*DATES, None, "2024-01-02", "1/2/2024", "2024-01-02T10:00:00.123+0100 "]
    readable = file_formats.text_days(texts[:200]) != file_formats.NO_DAY
    assert 0 < readable.sum() < readable.size  # the sample holds both
    for size in (1, 3, 50, len(texts)):  # small groups: the majority rule sees every mix of layouts
        for start in range(0, len(texts), size * 31 + 1):
            group = texts[start : start + size]
            ascii_only = [t for t in group if t is None or t.isascii()]
            for sample in (group, ascii_only):
                fast = file_formats.text_days(pa.array(sample, type=pa.string()))
                exact = _python_days(sample)
                np.testing.assert_array_equal(fast, exact)


def _python_days(texts: list[str | None]) -> np.ndarray:
    """``text_days`` with pyarrow's regexes switched off."""
    real = file_formats._ascii
    try:
        file_formats._ascii = lambda texts: None  # type: ignore[assignment]
        return file_formats.text_days(texts)
    finally:
        file_formats._ascii = real


def test_day_numbers_are_what_pandas_makes_of_the_same_year_month_and_day():
    rng = np.random.default_rng(11)
    size = 50_000
    year = rng.integers(1678, 2262, size).astype(float)
    month, day = rng.integers(0, 14, size).astype(float), rng.integers(0, 33, size).astype(float)
    month[::7], day[::5] = rng.integers(0, 100, month[::7].size), rng.integers(0, 100, day[::5].size)  # \d{1,2}
    for values in (year, month, day):
        values[rng.random(size) < 0.02] = np.nan  # no match
    edges = [(1678, 1, 1), (2261, 12, 31), (1900, 2, 29), (2000, 2, 29), (2023, 2, 29), (2024, 4, 31), (2024, 0, 1)]
    year, month, day = (np.concatenate([v, [e[i] for e in edges]]) for i, v in enumerate((year, month, day)))
    for y, m, d in ((year, month, day), (np.array([1677.0, 2262.0, 0.0, 9999.0]), np.ones(4), np.ones(4))):
        dates = pd.to_datetime(pd.DataFrame({"year": y, "month": m, "day": d}), errors="coerce")
        reference = np.where(dates.isna(), file_formats.NO_DAY, dates.to_numpy(dtype="datetime64[D]").astype(np.int64))
        np.testing.assert_array_equal(file_formats._day_numbers(y, m, d), reference)


@pytest.mark.parametrize("kind", [pa.string(), pa.large_string()])
def test_the_byte_check_finds_the_cells_the_escape_regex_finds(kind):
    """``_encodes_as_itself`` looks at the data buffer instead of running the regex: the same answer on every
    cell, alone and inside a slice (a non-zero offset), whichever the offset width."""
    import re

    from backbone_resources.source.file_columns import _NEEDS_ESCAPE, _encodes_as_itself

    cells = ["1.5", "", "abc", " x~ ", *CELLS, *DATES, '"', "a\\", "\x1f", "~", " "]
    for cell in cells:
        column = pa.array(["plain", cell, "plain"], type=kind)
        expected = re.search(_NEEDS_ESCAPE, cell) is None
        assert _encodes_as_itself(column) is expected, cell
        assert _encodes_as_itself(column.slice(1, 1)) is expected, cell
        assert _encodes_as_itself(column.slice(0, 1))
        assert _encodes_as_itself(column.slice(2, 1))
    assert _encodes_as_itself(pa.array([], type=kind))


def test_fixed_width_iso_dates_read_from_bytes_match_the_regexes():
    """``_fixed_iso`` reads ``YYYY-MM-DD`` texts from the bytes instead of the regex: the same day numbers,
    real dates or not, whole or sliced; any other text makes it step aside."""
    rng = np.random.default_rng(3)
    days = rng.integers(-200_000, 200_000, 3000).astype("datetime64[D]")
    texts = [str(d) for d in days if len(str(d)) == 10]
    texts += ["2024-13-45", "0000-00-00", "9999-12-31", "2024-02-30", "1600-02-29", "2000-02-29", "1677-09-21"]
    array = pa.array(texts, type=pa.string())
    for sample in (array, array.slice(1000, 7), array.slice(len(texts) - 7)):
        assert file_formats._fixed_iso(sample) is not None
        np.testing.assert_array_equal(file_formats.text_days(sample), _python_days(sample.to_pylist()))
    for odd in ("2024/01/02", "2024-1-002", "2024-01-0a", " 2024-0105", "2024-01-02 ", "2024-01-0:", "١٢٣٤-01-02"):
        mixed = pa.array([texts[0], odd], type=pa.string())
        assert file_formats._fixed_iso(mixed) is None, odd
        np.testing.assert_array_equal(file_formats.text_days(mixed), _python_days(mixed.to_pylist()))
