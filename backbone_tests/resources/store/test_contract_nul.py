"""NUL bytes through the store on every backend (fixtures: conftest.py): a raw row holding one lands as given,
validation quarantines it naming the NUL, and the quarantined row is stored with the NUL escaped visibly
(PostgreSQL's text and jsonb cannot hold one), the same on both tiers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from backbone_domain.pipeline import land_raw, validate_and_store
from backbone_domain.validation import validate_bars
from backbone_resources.source.files import FileSource
from backbone_resources.store.base import BarStore, WriteCounts
from backbone_tests.builders import MON, bars, raw_rows, rejected_rows

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
NUL = "\x00"


def _rows_with_nul() -> pd.DataFrame:
    """One clean row, then a NUL in a value, the symbol, a date cell (kept in the payload), the payload
    text (not JSON), and the source."""
    raw = pd.concat([raw_rows(MON).iloc[:1]] * 6, ignore_index=True)
    raw[["open", "high", "low", "close", "adj_close", "volume"]] = ["10", "12", "9", "11", None, "100"]
    raw["payload"] = [f'{{"line": {i}}}' for i in range(6)]
    raw.loc[1, "open"] = f"1{NUL}0"
    raw.loc[2, "symbol"] = f"AA{NUL}PL"
    raw.loc[3, "ts"] = pd.NaT
    raw.loc[3, "payload"] = json.dumps({"line": 3, "date": f"2024-01-01{NUL}"})  # JSON escapes it: \u0000
    raw.loc[4, "payload"] = f"line 4, raw{NUL}text"
    raw.loc[5, "source"] = f"csv:/da{NUL}ta"
    return raw


def test_a_nul_byte_lands_then_is_quarantined_with_its_reason(store: BarStore) -> None:
    raw = _rows_with_nul()
    assert store.replace_raw(MON, MON, raw) == 6

    landed = store.read_raw(MON, MON)
    assert sorted(landed["payload"]) == sorted(raw["payload"])  # landed exactly, NUL and all
    assert landed["open"].str.contains(NUL).sum() == 1
    result = validate_bars(landed, now=NOW)
    assert (len(result.accepted), len(result.rejected)) == (1, 5)
    store.write_validated(MON, MON, result.accepted, result.rejected)

    back = store.read_rejected(MON, MON)
    assert len(back) == 5
    lines = [json.loads(p)["line"] if p.startswith("{") else 4 for p in back["payload"]]  # 4's is a JSON string
    by_line = dict(zip(lines, back.itertuples(), strict=True))
    nul_reasons = {line: [r for r in row.reasons if "NUL" in r] for line, row in by_line.items()}
    assert nul_reasons == {
        1: ["open contains a NUL byte (stored as \\u0000)"],
        2: ["symbol contains a NUL byte (stored as \\u0000)"],
        3: ["payload contains a NUL byte (stored as \\u0000)"],
        4: ["payload contains a NUL byte (stored as \\u0000)"],
        5: ["source contains a NUL byte (stored as \\u0000)"],
    }
    assert not any(NUL in str(v) for v in back.drop(columns=["ts", "rejected_at"]).to_numpy().ravel())
    assert by_line[2].symbol == "AA\\u0000PL"
    assert by_line[5].source == "csv:/da\\u0000ta"
    assert json.loads(by_line[3].payload)["date"] == "2024-01-01\\u0000"
    assert json.loads(by_line[4].payload) == "line 4, raw\\u0000text"
    assert store.read_bars(MON, MON)["symbol"].tolist() == ["AAPL"]


def test_accepted_bars_holding_a_nul_are_refused_alike_and_nothing_is_written(store: BarStore) -> None:
    accepted = bars(["AAA", "BBB"], [MON])
    accepted.loc[1, "symbol"] = f"B{NUL}B"
    with pytest.raises(ValueError, match="NUL byte in symbol"):
        store.write_validated(MON, MON, accepted, rejected_rows([MON], 1))
    assert store.range_counts(MON, MON) == WriteCounts(bars=0, rejected=0)


def test_a_csv_file_with_nul_bytes_loses_no_row(store: BarStore, tmp_path: Path) -> None:
    """Issue 13's D1 file, end to end through the file source: NUL in a value cell, a date cell and the last cell."""
    (tmp_path / "AAPL.csv").write_bytes(
        b"Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,12,9,11,11,100\n"
        b"2024-01-03,1\x000,12,9,11,11,100\n2024-01-04\x00,10,12,9,11,11,100\n2024-01-05,10,12,9,11,11,100\x00\n"
    )
    start, end = dt.date(2024, 1, 1), dt.date(2024, 1, 31)

    assert land_raw(FileSource(directory=str(tmp_path)), store, start, end, 31).rows == 4
    report = validate_and_store(store, start, end, 31, NOW)

    assert (report.accepted, report.rejected) == (1, 3)
    back = store.read_rejected(start, end)
    assert sorted(json.loads(p)["line"] for p in back["payload"]) == [3, 4, 5]
    assert all("payload contains a NUL byte (stored as \\u0000)" in r for r in back["reasons"])
    assert {json.loads(p)["Date"] for p in back["payload"]} >= {"2024-01-04\\u0000"}
