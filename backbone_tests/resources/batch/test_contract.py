"""The batch contract, run over every engine: DuckDB always, Spark with a real local session (marker spark)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backbone_domain.bars import empty_rejected
from backbone_domain.changes import since_watermark
from backbone_resources.batch.exports import export_bars, export_changed_bars, export_changed_returns, export_returns
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_tests.builders import random_walk_bars
from backbone_tests.resources.batch.conftest import (
    dataset_files,
    file_digests,
    python_reference,
    read_dataset,
    stage,
    unsorted_files,
)

BAR_VALUES = ["open", "high", "low", "close", "adj_close", "volume", "source", "ingested_at"]
RERUNS = 5
# |engine - math.log / statistics.stdev reference|: a few ulps, far below the 1e-12 the definition asks.
LOG_RETURN_ATOL, VOL_ATOL = 1e-16, 1e-15


def test_bars_round_trip_partitioned_by_symbol_and_year(engine, tmp_path):
    bars = random_walk_bars()
    assert engine.write_bars(stage(bars, tmp_path / "stage")) == len(bars)
    written = read_dataset(engine, "daily_bars")
    pd.testing.assert_frame_equal(written[["symbol", "ts", *BAR_VALUES]], bars, check_dtype=False)
    assert (written["year"] == written["ts"].dt.year).all()
    profile = engine.profile("daily_bars")
    assert profile.duplicate_keys == 0
    assert profile.rows_by_year == bars.groupby(bars["ts"].dt.year).size().to_dict()


def test_exported_versions_name_each_bar_as_the_store_stamped_it(engine, tmp_path):
    bars = random_walk_bars()
    engine.write_bars(stage(bars, tmp_path / "stage"))
    versions = engine.exported_versions()
    expected = bars[["symbol", "ts", "ingested_at"]].sort_values(["symbol", "ts"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(versions, expected, check_dtype=False)
    assert str(versions["ts"].dt.tz) == str(versions["ingested_at"].dt.tz) == "UTC"


def test_rewrite_replaces_only_the_partitions_written(engine, tmp_path):
    bars = random_walk_bars()
    engine.write_bars(stage(bars, tmp_path / "all"))
    before = dataset_files(engine, "daily_bars")
    changed = bars[(bars["symbol"] == "AAA") & (bars["ts"].dt.year == 2020)].copy()
    changed["volume"] = 7.0
    engine.write_bars(stage(changed, tmp_path / "one"))
    after = dataset_files(engine, "daily_bars")
    assert {k for k in after if after[k] != before[k]} == {"AAA/2020"}
    assert set(after) == set(before)
    assert (read_dataset(engine, "daily_bars").query("symbol == 'AAA' and year == 2020")["volume"] == 7.0).all()


def test_a_profile_follows_every_change_of_the_files(engine, tmp_path):
    """A profile may be reused only while the dataset's files are unchanged (Spark keeps them): a partition
    rewritten smaller, rewritten back, and deleted by hand are each seen by the next profile."""
    bars = random_walk_bars()
    engine.write_bars(stage(bars, tmp_path / "all"))
    assert engine.profile("daily_bars").rows == len(bars)
    aaa_2020 = bars[(bars["symbol"] == "AAA") & (bars["ts"].dt.year == 2020)]
    engine.write_bars(stage(aaa_2020.iloc[:10], tmp_path / "fewer"))
    assert engine.profile("daily_bars").rows == len(bars) - len(aaa_2020) + 10
    engine.write_bars(stage(aaa_2020, tmp_path / "again"))
    assert engine.profile("daily_bars").rows == len(bars)
    shutil.rmtree(Path(engine.dataset_path("daily_bars")) / "symbol=BBB" / "year=2019")
    bbb_2019 = int(((bars["symbol"] == "BBB") & (bars["ts"].dt.year == 2019)).sum())
    assert engine.profile("daily_bars").rows == len(bars) - bbb_2019


def test_rerunning_a_range_leaves_byte_identical_files(engine, tmp_path):
    """RERUNS re-runs, each from a fresh stage cut and ordered differently (as a restage from the store
    may be), rewriting daily_bars before daily_returns as the flow does: every file keeps its name and bytes.
    DuckDB gets ~137k rows, above the size where its multi-threaded partitioned COPY reordered rows within
    files; Spark's job-named files differ at any size, and each of its files costs ~50 ms, so it gets 10 symbols."""
    symbols = 100 if engine.describe()["engine"] == "duckdb" else 10
    bars = random_walk_bars(symbols=tuple(f"S{i:03d}" for i in range(symbols)), start="2016-01-01", seed=3)
    first: dict[str, dict[str, str]] = {}
    for run in range(RERUNS):
        shuffled = bars.sample(frac=1, random_state=run)
        assert engine.write_bars(stage(shuffled, tmp_path / "stage", chunks=2 + run)) == len(bars)
        assert engine.write_returns(2016, 2021) == len(bars)
        digests = {d: file_digests(engine, d) for d in ("daily_bars", "daily_returns")}
        for dataset, files in digests.items():
            assert len(files) == bars["symbol"].nunique() * 6  # one file per (symbol, year), 2016..2021
            assert unsorted_files(engine, dataset) == []
            profile = engine.profile(dataset)
            assert profile.duplicate_keys == 0
            assert profile.rows == len(bars)
        first = first or digests
        changed = {d: sorted(set(files.items()) ^ set(first[d].items()))[:3] for d, files in digests.items()}
        assert changed == {"daily_bars": [], "daily_returns": []}, f"run {run} differs from run 0"


def test_returns_match_the_reference_and_windows_reach_before_the_range(engine, tmp_path):
    bars = random_walk_bars()
    engine.write_bars(stage(bars, tmp_path / "stage"))
    # Only 2021 is computed: its first 20 days need 2020's closes for their returns and volatility windows.
    assert engine.write_returns(2021, 2021) == int((bars["ts"].dt.year == 2021).sum())
    got = read_dataset(engine, "daily_returns")
    expected = python_reference(bars)
    expected = expected[expected["ts"].dt.year == 2021].reset_index(drop=True)
    assert got["realized_vol_20d"].notna().all()  # no window restarted at the range start
    np.testing.assert_allclose(got["log_return"], expected["log_return"], rtol=0, atol=LOG_RETURN_ATOL)
    np.testing.assert_allclose(got["realized_vol_20d"], expected["realized_vol_20d"], rtol=0, atol=VOL_ATOL)


def test_every_return_matches_the_python_reference(engine, tmp_path):
    bars = random_walk_bars(symbols=("AAA", "BBB", "CCC"), seed=11)
    engine.write_bars(stage(bars, tmp_path / "stage"))
    engine.write_returns(2019, 2021)
    got, expected = read_dataset(engine, "daily_returns"), python_reference(bars)
    pd.testing.assert_frame_equal(got[["symbol", "ts"]], expected[["symbol", "ts"]], check_dtype=False)
    for column, atol in (("log_return", LOG_RETURN_ATOL), ("realized_vol_20d", VOL_ATOL)):
        assert got[column].isna().equals(expected[column].isna())
        np.testing.assert_allclose(got[column], expected[column], rtol=0, atol=atol)


def test_returns_are_null_until_twenty_returns_exist(engine, tmp_path):
    bars = random_walk_bars()
    engine.write_bars(stage(bars, tmp_path / "stage"))
    engine.write_returns(2019, 2021)
    got = read_dataset(engine, "daily_returns").query("symbol == 'AAA'").reset_index(drop=True)
    assert got["log_return"].isna().tolist()[:2] == [True, False]
    assert got["realized_vol_20d"].isna().sum() == 20  # the first bar has no return, then 19 short windows
    assert got["realized_vol_20d"].iloc[20] > 0


def test_coverage_and_an_empty_export(engine, tmp_path):
    assert engine.profile("daily_bars").rows == 0
    assert engine.exported_versions().empty
    assert engine.coverage("daily_returns").empty
    assert engine.write_returns(2020, 2020) == 0
    # a first run on a weekend day: nothing stored in the year, so nothing staged and nothing to read
    empty = DuckDBBarStore(path=str(tmp_path / "empty.duckdb"))
    report = export_bars(empty, engine, dt.date(2026, 12, 5), dt.date(2026, 12, 5), chunk_days=30)
    assert (report.staged, report.written) == (0, 0)
    bars = random_walk_bars()
    engine.write_bars(stage(bars, tmp_path / "stage"))
    coverage = engine.coverage("daily_bars")
    assert coverage.to_dict("records") == [
        {"symbol": s, "first": pd.Timestamp("2019-11-01").date(), "last": pd.Timestamp("2021-03-31").date(), "rows": n}
        for s, n in bars.groupby("symbol").size().items()
    ]


@pytest.mark.spark
@pytest.mark.slow
def test_spark_and_duckdb_produce_the_same_rows_and_returns(spark_options, tmp_path):
    from backbone_resources.batch.duckdb_batch import DuckDBBatch
    from backbone_resources.batch.spark_batch import SparkBatch

    directory = stage(random_walk_bars(symbols=("AAA", "BBB", "CCC"), seed=7), tmp_path / "stage")
    duck = DuckDBBatch(export_dir=str(tmp_path / "duck"))
    spark = SparkBatch(export_dir=str(tmp_path / "spark"), **spark_options)
    for engine in (duck, spark):
        engine.write_bars(directory)
        engine.write_returns(2019, 2021)
    pd.testing.assert_frame_equal(
        read_dataset(spark, "daily_bars"), read_dataset(duck, "daily_bars"), check_dtype=False
    )
    s, d = read_dataset(spark, "daily_returns"), read_dataset(duck, "daily_returns")
    pd.testing.assert_frame_equal(s[["symbol", "ts", "year"]], d[["symbol", "ts", "year"]], check_dtype=False)
    for column in ("log_return", "realized_vol_20d"):
        assert s[column].isna().equals(d[column].isna())
        np.testing.assert_allclose(s[column], d[column], rtol=0, atol=1e-9)


def test_an_export_as_of_a_moment_is_the_export_made_then_byte_for_byte(engine, tmp_path):
    """Export at T (the first run: every year), correct five bars after T and export the changes (only their
    (symbol, year) partitions are rewritten, the others keep their bytes and mtime), then export as_of=T into
    another directory: the same files, names and bytes as at T, in both datasets."""
    store = DuckDBBarStore(path=str(tmp_path / "store.duckdb"))
    bars = random_walk_bars(symbols=("AAA", "BBB", "CCC"), start="2022-06-01", end="2024-03-29", seed=5)
    first, last = bars["ts"].min().date(), bars["ts"].max().date()
    store.write_validated(first, last, bars, empty_rejected())
    export_bars(store, engine, first, last, chunk_days=400)
    export_returns(engine, first, last)
    datasets = ("daily_bars", "daily_returns")
    then = {d: file_digests(engine, d) for d in datasets}
    then_mtimes = _mtimes(engine, "daily_bars")
    moment = dt.datetime.now(dt.UTC)

    picked = bars[bars["symbol"].isin(["AAA", "CCC"]) & (bars["ts"].dt.year == 2023)].iloc[[3, 50, 100, 300, 400]]
    corrected = picked.assign(close=picked["close"] * 1.01, ingested_at=pd.Timestamp.now(tz="UTC"))
    corrected = corrected.assign(high=corrected[["high", "close"]].max(axis=1))
    store.write_validated(first, last, corrected, empty_rejected())
    changes = since_watermark(store.keys_changed_since(moment), moment)
    report = export_changed_bars(store, engine, changes)
    export_changed_returns(engine, changes)
    touched = {f"symbol={s}/year={y}" for s, y in report.partitions}
    assert touched == {"symbol=AAA/year=2023", "symbol=CCC/year=2023"}
    now = file_digests(engine, "daily_bars")
    assert {k.rsplit("/", 1)[0] for k in now if now[k] != then["daily_bars"][k]} == touched
    untouched_mtimes = {k: v for k, v in _mtimes(engine, "daily_bars").items() if k.rsplit("/", 1)[0] not in touched}
    assert untouched_mtimes == {k: v for k, v in then_mtimes.items() if k.rsplit("/", 1)[0] not in touched}

    later = engine.model_copy(update={"export_dir": str(tmp_path / "as_of")})
    export_bars(store, later, first, last, chunk_days=400, as_of=moment)
    export_returns(later, first, last)
    assert {d: file_digests(later, d) for d in datasets} == then
    assert file_digests(engine, "daily_returns") != then["daily_returns"]  # the current export moved on


def _mtimes(engine, dataset) -> dict[str, int]:
    root = Path(engine.dataset_path(dataset))
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*.parquet"))}
