"""The source is the truth, visibly (issue 13, D4), on every store backend: a correction that fails validation
and a row gone from its file are reported; a vanished bar is kept or retired as set; re-runs are exact."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from backbone_domain.pipeline import land_raw, validate_and_store
from backbone_domain.source_truth import KEPT, VANISHED_KEPT, VANISHED_RETIRED, verdict
from backbone_resources.source.files import FileSource
from backbone_resources.store.base import BarStore

JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))
NOW = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
HEADER = "Date,Open,High,Low,Close,Volume\n"
ROWS = ["2024-01-02,10,11,9,10.5,100\n", "2024-01-03,10,11,9,10.5,100\n", "2024-01-04,10,11,9,10.5,100\n"]


def run(directory: Path, store: BarStore, vanished: str = "keep"):
    source = FileSource(directory=str(directory))
    land_raw(source, store, *JAN, chunk_days=31)
    return validate_and_store(store, *JAN, chunk_days=31, now=NOW, vanished=vanished)  # type: ignore[arg-type]


def state(store: BarStore) -> tuple[pd.DataFrame, list[tuple[str, list[str]]]]:
    bars = store.read_bars(*JAN)[["symbol", "ts", "high", "low"]]
    rejected = store.read_rejected(*JAN)
    return bars, [
        (str(ts.date()), list(reasons)) for ts, reasons in zip(rejected["ts"], rejected["reasons"], strict=True)
    ]


def test_a_refused_correction_and_a_vanished_row_are_reported_kept_then_retired(store: BarStore, tmp_path) -> None:
    (tmp_path / "ACME.csv").write_text(HEADER + "".join(ROWS))
    first = run(tmp_path, store)
    assert (first.accepted, first.rejected, first.kept_over_source) == (3, 0, 0)

    # the source now says high 8 < low 9 for Jan 3 (refused) and no longer has Jan 4
    (tmp_path / "ACME.csv").write_text(HEADER + ROWS[0] + "2024-01-03,10,8,9,10.5,100\n")
    kept = run(tmp_path, store)

    bars, rejected = state(store)
    assert bars["high"].tolist() == [11.0, 11.0, 11.0]  # upsert-only: the stored values are still served
    assert [day for day, _ in rejected] == ["2024-01-03", "2024-01-04"]
    assert rejected[0][1][-1] == KEPT
    assert rejected[1][1] == [VANISHED_KEPT]
    assert json.loads(store.read_rejected(*JAN)["payload"].iloc[1])["stored"]["high"] == 11.0
    assert kept.kept_over_source == store.quality_counts().kept_over_source == 2
    assert not verdict(2)[0]
    assert run(tmp_path, store).kept_over_source == 2  # a re-run reports the same, changes nothing
    assert state(store)[0].equals(bars)

    retired = run(tmp_path, store, vanished="retire")
    bars, rejected = state(store)
    assert bars["ts"].dt.day.tolist() == [2, 3]  # Jan 4 is gone from the store's current view,
    # ... and kept as a version, superseded at the retiring run's stamp (NOW, as every stamp of this test's clock)
    [version] = store.bar_history("ACME", dt.date(2024, 1, 4)).itertuples()
    assert (version.reason, version.known_to, version.high) == ("retired", pd.Timestamp(NOW), 11.0)
    assert rejected[1][1] == [VANISHED_RETIRED]
    assert (retired.retired, retired.kept_over_source) == (1, 1)  # the refused correction stays served
    assert store.quality_counts().kept_over_source == 1


def test_a_fresh_range_reads_no_stored_bars(store: BarStore, tmp_path, monkeypatch) -> None:
    (tmp_path / "ACME.csv").write_text(HEADER + "".join(ROWS))
    reads: list[object] = []
    monkeypatch.setattr(type(store), "read_bars", lambda self, *a, **k: reads.append(a) or pd.DataFrame())
    assert run(tmp_path, store).accepted == 3
    assert reads == []  # one count told it nothing was stored: a backfill pays no reconciling read
