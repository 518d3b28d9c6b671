import csv
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backbone_domain.bars import RAW_COLUMNS
from backbone_resources.source import files
from backbone_resources.source.base import SourceUnavailable
from backbone_resources.source.files import FileSource

D = dt.date
DATA = Path(__file__).resolve().parents[2] / "data"
ALL = (D(1990, 1, 1), D(2100, 12, 31))
VALUES = ["open", "high", "low", "close", "adj_close", "volume"]


def file_rows(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return [row for row in csv.reader(handle) if row][1:]


def lines_of(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return [(p["file"], p["line"]) for p in map(json.loads, frame["payload"])]


def test_yahoo_export_round_trips_exactly():
    bars = FileSource(directory=str(DATA / "yahoo")).fetch(*ALL, symbols=["AAPL"])
    rows = file_rows(DATA / "yahoo" / "AAPL.csv")
    assert len(bars) == len(rows) == 21
    assert bars[VALUES].values.tolist() == [r[1:] for r in rows]  # the text, untouched
    assert bars["ts"].iloc[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert (bars["partition_date"] == bars["ts"].dt.date).all()
    assert str(bars["ts"].dtype) == "datetime64[us, UTC]"
    assert tuple(bars.columns) == RAW_COLUMNS
    assert (bars["source"] == "csv").all()
    assert (bars["symbol"] == "AAPL").all()


def test_us_and_iso_dates_are_both_read():
    bars = FileSource(directory=str(DATA / "yahoo")).fetch(D(2024, 1, 10), D(2024, 1, 12))
    assert bars["symbol"].tolist() == ["AAPL"] * 3 + ["MSFT"] * 3
    expected = [pd.Timestamp(f"2024-01-{d}", tz="UTC") for d in (10, 11, 12)] * 2
    assert bars["ts"].tolist() == expected
    msft = bars[bars["symbol"] == "MSFT"]
    assert msft["close"].tolist() == ["382.769989", "384.630005", "388.470001"]


def test_payload_names_file_line_and_original_text():
    bars = FileSource(directory=str(DATA / "yahoo")).fetch(D(2024, 1, 3), D(2024, 1, 3), symbols=["AAPL"])
    payload = json.loads(bars["payload"].iloc[0])
    assert payload == {
        "file": "AAPL.csv",
        "line": 3,
        "Date": "1/3/2024",
        "Open": "184.220001",
        "High": "185.880005",
        "Low": "183.429993",
        "Close": "184.250000",
        "Adj Close": "183.150375",
        "Volume": "58414500",
    }


def test_malformed_rows_are_all_returned_with_their_line():
    bars = FileSource(directory=str(DATA / "malformed")).fetch(*ALL)
    assert lines_of(bars) == [("ACME.csv", n) for n in (2, 3, 4, 5, 6, 8, 9, 10, 11, 12)]  # 7 is blank
    by_line = {line: row for (_, line), (_, row) in zip(lines_of(bars), bars.iterrows(), strict=True)}
    assert pd.isna(by_line[4]["ts"])  # 2024-13-45
    assert by_line[4]["partition_date"] == D(2024, 1, 3)  # borrowed from the row before
    assert pd.isna(by_line[11]["ts"])  # "not a date"
    assert by_line[11]["partition_date"] == D(2024, 1, 10)
    assert by_line[5]["open"] == "abc"
    assert by_line[6]["volume"] == ""
    assert (by_line[8]["high"], by_line[8]["low"]) == ("11.00", "11.40")
    assert by_line[9]["volume"] == "-500"
    assert by_line[9]["ts"] == by_line[10]["ts"]  # the duplicate date is kept twice
    assert by_line[12]["adj_close"] == "nan"  # text, not a float NaN


@pytest.mark.parametrize("directory", ["yahoo", "malformed"])
def test_us_dates_and_unreadable_dates_are_returned_exactly_once_over_any_partitioning(directory):
    """The contract suite's origin has clean ISO dates; these files have US dates and rows whose date cannot be
    read, which borrow a neighbour's partition date."""
    source = FileSource(directory=str(DATA / directory))
    everything = sorted(lines_of(source.fetch(*ALL)))
    start, end = D(2023, 12, 25), D(2024, 2, 10)
    daily = [source.fetch(start + dt.timedelta(days=i), start + dt.timedelta(days=i)) for i in range(48)]
    weekly = [source.fetch(start + dt.timedelta(days=i), start + dt.timedelta(days=i + 6)) for i in range(0, 48, 7)]
    for parts in (daily, weekly):
        assert sorted(lines_of(pd.concat(parts))) == everything
    assert source.fetch(start, end)["partition_date"].map(type).eq(dt.date).all()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_pandas_written_csv_with_unnamed_index(tmp_path):
    frame = pd.DataFrame(
        {
            "open": [1.5, 2.25],
            "high": [2.0, 2.5],
            "low": [1.0, 2.0],
            "close": [1.75, 2.4],
            "volume": [10, 20],
        },
        index=pd.DatetimeIndex(["2024-03-01", "2024-03-04"]),
    )
    frame.to_csv(tmp_path / "abc.csv")
    assert (tmp_path / "abc.csv").read_text().startswith(",open")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["symbol"].tolist() == ["ABC", "ABC"]
    assert bars["ts"].dt.date.tolist() == [D(2024, 3, 1), D(2024, 3, 4)]
    assert bars["open"].tolist() == ["1.5", "2.25"]
    assert [float(v) for v in bars["close"]] == frame["close"].tolist()
    assert bars["adj_close"].tolist() == [None, None]  # no such column in the file


def test_unnamed_0_header_and_case_insensitive_columns(tmp_path):
    write(tmp_path / "X.csv", "Unnamed: 0,OPEN,High,low,CLOSE,AdjClose,VOLUME\n2024-03-01,1,2,0.5,1.5,1.4,7\n")
    write(tmp_path / "Y.csv", "date,Open,HIGH,Low,close,adj_close,volume\n2024-03-01,1,2,0.5,1.5,1.3,7\n")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars[["symbol", *VALUES]].values.tolist() == [
        ["X", "1", "2", "0.5", "1.5", "1.4", "7"],
        ["Y", "1", "2", "0.5", "1.5", "1.3", "7"],
    ]
    assert bars["ts"].notna().all()


def test_parquet_with_date_index_and_with_date_column(tmp_path):
    frame = pd.DataFrame(
        {
            "Open": [1.5, 2.25],
            "High": [2.0, 2.5],
            "Low": [1.0, 2.0],
            "Close": [1.75, 2.4],
            "Volume": [10, 20],
        },
        index=pd.DatetimeIndex(["2024-03-01", "2024-03-04"], tz="America/New_York"),
    )
    frame.to_parquet(tmp_path / "IDX.parquet")
    frame.reset_index(names="Date").assign(Date=lambda f: f["Date"].dt.date).to_parquet(tmp_path / "COL.parquet")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["symbol"].tolist() == ["COL", "COL", "IDX", "IDX"]
    assert bars["partition_date"].tolist() == [D(2024, 3, 1), D(2024, 3, 4)] * 2  # wall-clock dates
    assert bars["close"].tolist() == [1.75, 2.4] * 2  # typed values pass through as numbers
    assert bars["volume"].tolist() == [10, 20] * 2
    assert json.loads(bars["payload"].iloc[2])["row"] == 1


def test_day_first_dates_are_detected(tmp_path):
    write(tmp_path / "EU.csv", "Date,Close\n02/01/2024,1\n13/01/2024,2\n")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["partition_date"].tolist() == [D(2024, 1, 2), D(2024, 1, 13)]


def test_leading_unreadable_date_takes_the_following_rows_date(tmp_path):
    write(tmp_path / "A.csv", "Date,Close\n??,1\n2024-01-05,2\n")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["partition_date"].tolist() == [D(2024, 1, 5), D(2024, 1, 5)]
    assert bars["ts"].isna().tolist() == [False, True]  # within a date, the unreadable row sorts last


def test_file_without_any_readable_date_is_quarantined_whole(tmp_path):
    write(tmp_path / "A.csv", "Date,Close\nx,1\ny,2\n")
    write(tmp_path / "B.csv", "Date;Open;Close\n2024-01-02;1;2\n")
    source = FileSource(directory=str(tmp_path))
    assert source.fetch(dt.date(1970, 1, 1), dt.date(2100, 1, 1)).empty
    a, b = source.quarantined_files()
    assert (a.symbol, a.rows, a.reason) == (
        "A",
        2,
        "no row has a readable date (column 'Date', read as Y-m-d, m/d/Y or d/m/Y)",
    )
    assert b.reason.endswith("is the separator a comma?")
    assert a.first_bytes == "Date,Close\\x0ax,1\\x0ay,2\\x0a"
    assert a.sha256 == hashlib.sha256(b"Date,Close\nx,1\ny,2\n").hexdigest()
    assert a.size == 19


def test_rows_dated_outside_the_partitions_borrow_a_neighbours_partition(tmp_path):
    write(tmp_path / "A.csv", "Date,Close\n1999-12-31,0\n2024-01-02,1\n2204-01-02,2\n2024-01-04,3\n")
    source = FileSource(directory=str(tmp_path), first_day="2000-01-03", today="2024-06-01")
    bars = source.fetch(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert bars["close"].tolist() == ["0", "1", "2", "3"]  # every row reaches a run over the file's dates
    assert bars["partition_date"].tolist() == [D(2024, 1, 2), D(2024, 1, 2), D(2024, 1, 2), D(2024, 1, 4)]
    assert bars["ts"].dt.year.tolist() == [1999, 2024, 2204, 2024]  # validation judges the dates as written
    write(tmp_path / "A.csv", "Date,Close\n2204-01-02,2\n")
    (only,) = source.quarantined_files()
    assert (
        only.reason
        == "no row is dated within the partitions 2000-01-03..2024-06-01 (BACKBONE_START_DATE through today)"
    )


def test_files_that_are_not_what_they_claim_are_quarantined_whole(tmp_path):
    (tmp_path / "PNG.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n\xff\xfe")
    (tmp_path / "TXT.parquet").write_bytes(b"Date,Close\n2024-01-02,1\n")
    write(tmp_path / "HEADLESS.csv", "2024-01-02,1,2,0.5,1.5,100\n2024-01-03,1,2,0.5,1.5,100\n")
    write(tmp_path / "GOOD.csv", "Date,Close\n2024-01-02,1\n")
    source = FileSource(directory=str(tmp_path))
    assert source.universe() == ["GOOD", "HEADLESS", "PNG", "TXT"]
    assert source.fetch(*ALL)["symbol"].tolist() == ["GOOD"]
    reasons = {Path(f.path).name: (f.rows, f.reason) for f in source.quarantined_files()}
    assert reasons["PNG.csv"] == (4, "not UTF-8 text (byte 0x89 at offset 0); save it as UTF-8 CSV")
    assert reasons["TXT.parquet"][0] is None  # no footer: its rows cannot be told
    assert reasons["TXT.parquet"][1].startswith("not readable as Parquet")
    assert reasons["HEADLESS.csv"] == (2, "the first line holds data ('2024-01-02' is a date), not a header; add one")


def test_names_that_are_not_symbols_are_quarantined_unless_mapped(tmp_path):
    for name in ("BRK B.csv", "X'; DROP TABLE bars;--.csv", "ÄPFEL.csv", "OK.csv"):
        write(tmp_path / name, "Date,Close\n2024-01-02,1\n")
    plain = FileSource(directory=str(tmp_path))
    assert plain.universe() == ["OK"]
    assert sorted(Path(f.path).name for f in plain.quarantined_files()) == [
        "BRK B.csv",
        "X'; DROP TABLE bars;--.csv",
        "ÄPFEL.csv",
    ]
    assert all("not a symbol" in f.reason and f.symbol is None and f.rows == 1 for f in plain.quarantined_files())
    mapped = FileSource(directory=str(tmp_path), symbol_map={"BRK B": "BRK.B", "ÄPFEL.csv": "APFEL"})
    assert mapped.universe() == ["APFEL", "BRK.B", "OK"]
    assert mapped.fetch(*ALL)["symbol"].tolist() == ["APFEL", "BRK.B", "OK"]
    assert [Path(f.path).name for f in mapped.quarantined_files()] == ["X'; DROP TABLE bars;--.csv"]


def test_short_and_long_rows_are_kept(tmp_path):
    write(tmp_path / "A.csv", "Date,Open,Close\n2024-01-02,1\n2024-01-03,1,2,surplus\n")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["close"].tolist() == [None, "2"]
    assert json.loads(bars["payload"].iloc[1])["_extra"] == ["surplus"]


def test_quoted_multiline_cells_keep_line_numbers_right(tmp_path):
    write(tmp_path / "A.csv", 'Date,Close\n2024-01-02,"1\n2"\n\n2024-01-03,3\n')
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["close"].tolist() == ["1\n2", "3"]
    assert lines_of(bars) == [("A.csv", 2), ("A.csv", 5)]


def test_empty_and_header_only_files_give_no_rows(tmp_path):
    write(tmp_path / "EMPTY.csv", "")
    write(tmp_path / "HEAD.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n")
    source = FileSource(directory=str(tmp_path))
    assert source.universe() == ["EMPTY", "HEAD"]
    bars = source.fetch(*ALL)
    assert bars.empty
    assert tuple(bars.columns) == RAW_COLUMNS


def test_universe_is_the_files_named_like_symbols(tmp_path):
    for name in ("aapl.csv", "MSFT.parquet", "notes.txt", "has space.csv"):
        write(tmp_path / name, "")
    assert FileSource(directory=str(tmp_path)).universe() == ["AAPL", "MSFT"]
    assert FileSource(directory=str(tmp_path)).name == "csv"


def test_missing_directory_names_the_setting_and_path(tmp_path):
    gone = tmp_path / "nowhere"
    with pytest.raises(SourceUnavailable, match="BACKBONE_SOURCE") as err:
        FileSource(directory=str(gone)).fetch(*ALL)
    assert str(gone) in str(err.value)


def test_symbol_without_a_file_is_named():
    source = FileSource(directory=str(DATA / "yahoo"))
    with pytest.raises(SourceUnavailable, match="no file for symbol TSLA"):
        source.fetch(*ALL, symbols=["AAPL", "TSLA"])


def test_two_files_for_one_symbol_are_both_quarantined_and_the_others_served(tmp_path):
    write(tmp_path / "AAPL.csv", "Date,Close\n2024-01-02,1\n")
    pd.DataFrame({"Date": ["2024-01-02"], "Close": [1.0]}).to_parquet(tmp_path / "aapl.parquet")
    write(tmp_path / "MSFT.csv", "Date,Close\n2024-01-02,1\n")
    source = FileSource(directory=str(tmp_path))
    assert source.universe() == ["MSFT"]
    assert source.fetch(*ALL)["symbol"].tolist() == ["MSFT"]
    assert source.fetch(*ALL, symbols=["AAPL", "MSFT"])["symbol"].tolist() == ["MSFT"]
    files = source.quarantined_files()
    assert [(Path(f.path).name, f.symbol) for f in files] == [("AAPL.csv", "AAPL"), ("aapl.parquet", "AAPL")]
    assert {f.reason for f in files} == {"AAPL.csv and aapl.parquet all hold AAPL; keep one"}


def test_parsed_files_are_cached_until_they_change(tmp_path, monkeypatch):
    shutil.copy(DATA / "yahoo" / "MSFT.csv", tmp_path / "MSFT.csv")
    calls = []
    real_parse = files._parse
    monkeypatch.setattr(files, "_parse", lambda path, span: calls.append(path) or real_parse(path, span))
    source = FileSource(directory=str(tmp_path))
    for day in range(2, 13):
        source.fetch(D(2024, 1, day), D(2024, 1, day))
    assert len(calls) == 1
    path = tmp_path / "MSFT.csv"
    write(path, path.read_text() + "2024-01-17,1,2,0.5,1.5,1.5,100\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    assert source.fetch(D(2024, 1, 17), D(2024, 1, 17))["close"].tolist() == ["1.5"]
    assert len(calls) == 2


def test_cache_is_bounded_by_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 25)
    for name in ("A", "B", "C"):
        shutil.copy(DATA / "yahoo" / "MSFT.csv", tmp_path / f"{name}.csv")  # 10 rows each
    source = FileSource(directory=str(tmp_path))
    source.fetch(*ALL)
    assert sum(len(p.days) for p in source._cache.values()) <= 25
    assert [Path(key[0]).stem for key in source._cache] == ["B", "C"]  # least recently used went first


def test_files_parsed_side_by_side_are_kept_as_one_after_another_would_keep_them(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_CACHED_ROWS", 25)  # the pass spills while it parses
    for name in ("A", "C", "E", "G", "H"):
        shutil.copy(DATA / "yahoo" / "MSFT.csv", tmp_path / f"{name}.csv")  # 10 rows each
    (tmp_path / "B.csv").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "D.parquet").write_bytes(b"Date,Close\n2024-01-02,1\n")
    write(tmp_path / "F.csv", "2024-01-02,1,2,0.5,1.5,100\n")
    write(tmp_path / "bad name.csv", "Date,Close\n2024-01-02,1\n")
    kept = {}
    for workers in (1, 2):
        monkeypatch.setattr(files, "PARSE_WORKERS", workers)
        source = FileSource(directory=str(tmp_path))
        quarantined = [(Path(f.path).name, f.rows, f.reason) for f in source.quarantined_files()]
        cached = [Path(key[0]).name for key in source._cache]
        assert source._cache.rows == sum(p.part.size for p in source._cache.values()) <= 25
        staged = sorted(Path(key[0]).name for key in source._staged)
        kept[workers] = quarantined, cached, staged, source.fetch(*ALL)
        source.close()
        first = source.fetch(*ALL)  # a first pass by fetch: parsed ahead too, kept in the same order
        assert [Path(key[0]).name for key in source._cache] == cached
        assert sorted(Path(key[0]).name for key in source._staged) == staged
        pd.testing.assert_frame_equal(first, kept[workers][3])
    (quarantined, cached, staged, frame), (*parallel, parallel_frame) = kept[1], kept[2]
    assert [q[0] for q in quarantined] == ["B.csv", "D.parquet", "F.csv", "bad name.csv"]
    assert (cached, staged) == (["G.csv", "H.csv"], ["A.csv", "C.csv", "E.csv"])
    assert parallel == [quarantined, cached, staged]
    pd.testing.assert_frame_equal(parallel_frame, frame)


def test_a_file_parsed_by_two_threads_at_once_is_kept_and_counted_once(tmp_path):
    path = Path(shutil.copy(DATA / "yahoo" / "MSFT.csv", tmp_path / "MSFT.csv"))
    source = FileSource(directory=str(tmp_path))
    key, span = files._key_of(path), source._days()
    first, second = source._read(path, span), source._read(path, span)  # both parsed outside the lock
    assert source._keep(key, first) is first
    assert source._keep(key, second) is first
    assert (len(source._cache), source._cache.rows) == (1, 10)


def test_values_are_never_coerced(tmp_path):
    write(tmp_path / "A.csv", "Date,Open,Volume\n2024-01-02, 1.50 ,1e3\n2024-01-03,NaN,\n")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["open"].tolist() == [" 1.50 ", "NaN"]
    assert bars["volume"].tolist() == ["1e3", ""]
    assert bars["open"].map(type).eq(str).all()
    assert not np.issubdtype(bars["open"].dtype, np.number)


def test_payload_is_compact_json_of_the_record_whatever_the_header(tmp_path):
    write(tmp_path / "A.csv", 'Date,"100% ""sure""",Close,file,Clôture\n2024-01-02,x,"é\\n",f,1\n2024-01-03,short\n')
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    full = {"file": "A.csv", "line": 2, "Date": "2024-01-02", '100% "sure"': "x", "Close": "é\\n", "_file": "f"}
    assert bars["payload"].iloc[0] == json.dumps(full | {"Clôture": "1"}, separators=(",", ":"))
    short = {"file": "A.csv", "line": 3, "Date": "2024-01-03", '100% "sure"': "short"}
    assert bars["payload"].iloc[1] == json.dumps(short, separators=(",", ":"))


def test_cr_line_ends_are_read_like_any_other(tmp_path):
    """Old Mac / some Excel exports end lines with a lone CR; csv.Error escaped fetch (test_file_properties)."""
    (tmp_path / "SYM.csv").write_bytes(b"Date,Close\r2024-01-02,1\r2024-01-03,2\r")
    bars = FileSource(directory=str(tmp_path)).fetch(*ALL)
    assert bars["close"].tolist() == ["1", "2"]
    assert lines_of(bars) == [("SYM.csv", 2), ("SYM.csv", 3)]
