"""Files through the whole flow: Yahoo exports round-trip exactly; malformed rows are quarantined, not lost."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.settings import load_settings

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[1] / "data"
JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))


def _load(tmp_path: Path, folder: str):
    settings = load_settings(mode="bootstrap", home=tmp_path / "home", source=f"csv:{DATA / folder}")
    assert runner.materialize(settings, *JAN).success
    with all_resources(settings) as resources:
        store = resources.store
        return store.read_bars(*JAN), store.quality_counts(), store


def test_yahoo_exports_round_trip_exactly(tmp_path, dagster_home):
    bars, counts, _ = _load(tmp_path, "yahoo")
    for symbol in ("AAPL", "MSFT"):
        raw = pd.read_csv(DATA / "yahoo" / f"{symbol}.csv")
        raw["ts"] = pd.to_datetime(raw["Date"], format="mixed", utc=True)
        raw = raw[(raw["ts"] >= "2024-01-01") & (raw["ts"] < "2024-02-01")].reset_index(drop=True)
        stored = bars[bars["symbol"] == symbol].reset_index(drop=True)
        assert len(stored) == len(raw) > 0
        assert list(stored["ts"]) == list(raw["ts"])
        for ours, theirs in [("open", "Open"), ("high", "High"), ("low", "Low"), ("close", "Close")]:
            assert stored[ours].tolist() == raw[theirs].tolist()
        assert stored["adj_close"].tolist() == raw["Adj Close"].tolist()
        assert stored["volume"].tolist() == raw["Volume"].astype(float).tolist()
        assert set(stored["source"]) == {"csv"}
    assert counts.rejected == 0


def test_malformed_file_lands_good_rows_and_quarantines_bad_ones(tmp_path, dagster_home):
    bars, counts, store = _load(tmp_path, "malformed")
    source_rows = sum(1 for line in (DATA / "malformed" / "ACME.csv").read_text().splitlines()[1:] if line.strip())
    assert counts.bars + counts.rejected == source_rows
    assert sorted(bars["ts"].dt.date.astype(str)) == ["2024-01-02", "2024-01-03", "2024-01-10"]
    assert bars.loc[bars["ts"] == "2024-01-10", "volume"].tolist() == [81000.0]
    assert counts.rejected == 7

    rejected = store.read_rejected(*JAN)
    reasons = " | ".join("; ".join(r) for r in rejected["reasons"])
    for expected in [
        "date could not be read",
        "open is not a number: 'abc'",
        "volume is missing",
        "volume is negative",
        "high 11.0 is below max(open, close) 11.25",
        "adj_close is not finite",
    ]:
        assert expected in reasons
    # the original record is kept: file, line and the text as it was
    assert rejected["payload"].str.contains('"line"').all()
    assert rejected["payload"].str.contains("not a date").any()


def test_rejected_command_shows_every_quarantined_record(tmp_path, dagster_home, monkeypatch):
    from click.testing import CliRunner

    from backbone_ops.cli import main

    _load(tmp_path, "malformed")
    monkeypatch.setenv("BACKBONE_MODE", "bootstrap")
    monkeypatch.setenv("BACKBONE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BACKBONE_SOURCE", f"csv:{DATA / 'malformed'}")
    result = CliRunner().invoke(main, ["rejected", "--start", "2024-01-01", "--end", "2024-01-31", "--json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == 7
    assert {r["payload"]["file"] for r in records} == {"ACME.csv"}
    assert sorted(r["payload"]["line"] for r in records) == [4, 5, 6, 8, 9, 11, 12]
    assert all(r["reasons"] for r in records)
