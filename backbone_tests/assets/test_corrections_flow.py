"""Corrections through every layer, exactly once, on both tiers (issue 14, item 3): a month materialized from
files, then the same month from files that correct five bars, then the same again.

The corrected bars, and nothing else: the hot cache serves their new values (replaced in place), the topic gets
each corrected version once, only the weeks holding them are refreshed, and (bootstrap: the DuckDB engine; the
institutional tier's is Spark, whose partition rewrites the batch contract covers) only their (symbol, year)
export partitions are rewritten, and an export as_of a moment before the correction, made after it, holds the
bytes exported then. A re-run that changes nothing touches nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from backbone_assets.definitions import build_defs
from backbone_assets.jobs import DAILY_BARS_JOB
from backbone_assets.partitions import range_tags
from backbone_assets.stream_sensors import kafka_replay_sensor
from backbone_domain.bar_messages import BarMessage, decode
from backbone_domain.calendars import trading_days
from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.tiers import build_store, build_stream
from backbone_tests.assets.stream_support import streaming

pytestmark = pytest.mark.slow

SYMBOLS = ("AAPL", "MSFT", "IBM")
MONTH = (dt.date(2023, 12, 11), dt.date(2024, 1, 12))  # across a year's end: two year partitions per symbol
CORRECTED = [
    ("AAPL", dt.date(2023, 12, 13)),
    ("AAPL", dt.date(2023, 12, 14)),
    ("AAPL", dt.date(2024, 1, 11)),
    ("MSFT", dt.date(2024, 1, 3)),
    ("MSFT", dt.date(2024, 1, 10)),
]
WEEKS_TOUCHED = ["2023-12-11..2023-12-17", "2024-01-01..2024-01-14"]
BARS_TOUCHED = {"symbol=AAPL/year=2023", "symbol=AAPL/year=2024", "symbol=MSFT/year=2024"}
# AAPL's December bars are in its first January windows (BarStore -> returns reach into the next year).
RETURNS_TOUCHED = BARS_TOUCHED
BUT_BATCH = ["daily_bars_raw", "daily_bars", "weekly_bars", "daily_bars_hot_cache", "daily_bars_kafka"]


def _write_files(directory: Path, corrected: bool) -> None:
    """Yahoo-style CSV files, one a symbol; ``corrected``: the five CORRECTED bars get another close."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for k, symbol in enumerate(SYMBOLS):
        days = trading_days(symbol, *MONTH)
        close = 100.0 * (k + 1) + np.cumsum(rng.normal(0, 1, len(days)))
        rows = []
        for day, c in zip(days, close, strict=True):
            high, low = c + 2.0, c - 2.0
            if corrected and (symbol, day) in CORRECTED:
                c = round(c + 0.75, 6)
            rows.append((f"{day.month}/{day.day}/{day.year}", c - 0.5, high, low, c, c * 0.99, 1_000_000 + k))
        frame = pd.DataFrame(rows, columns=["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"])
        frame.to_csv(directory / f"{symbol}.csv", index=False)


def _topic(settings, expect: int) -> list[BarMessage]:
    """Every message on the topic, copies included, read by a fresh group until ``expect`` came and a quiet
    second and a half brought nothing more (an extra message would arrive in it)."""
    seen: list[BarMessage] = []
    with build_stream(settings).consumer(f"audit-{secrets.token_hex(3)}") as consumer:
        deadline, quiet_since = time.monotonic() + 90, None
        while time.monotonic() < deadline:
            records = consumer.poll(500, 0.5)
            if records:
                seen += [decode(r.value, r.headers) for r in records]
                quiet_since = None
            elif len(seen) >= expect:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 1.5:
                    break
    return seen


def _files(export_dir: Path, dataset: str) -> dict[str, tuple[bytes, int]]:
    """Each partition directory's file bytes and mtime."""
    root = export_dir / dataset
    return {
        str(p.parent.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(root.rglob("*.parquet"))
    }


def _metadata(result, asset: str) -> dict:
    (*_, mat) = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset]
    return {k: getattr(v, "value", v) for k, v in mat.event_specific_data.materialization.metadata.items()}


@pytest.mark.parametrize(
    "tier", ["bootstrap", pytest.param("institutional", marks=[pytest.mark.postgres, pytest.mark.kafka])]
)
def test_five_corrections_reach_every_layer_once_and_nothing_else(tier, request, tmp_path):
    files = tmp_path / "files"
    _write_files(files, corrected=False)
    base = request.getfixturevalue(tier)
    settings = streaming(base.model_copy(update={"source": f"csv:{files}", "symbols": list(SYMBOLS)}), request)
    select = [] if tier == "bootstrap" else BUT_BATCH
    exports = Path(settings.batch.export_dir or settings.home / "exports")

    first = runner.materialize(settings, *MONTH, select)
    assert first.success
    with all_resources(settings) as resources:
        before = resources.store.read_bars(*MONTH)
    published = _topic(settings, len(before))
    assert len(published) == len(before) == sum(len(trading_days(s, *MONTH)) for s in SYMBOLS)
    exported = {d: _files(exports, d) for d in ("daily_bars", "daily_returns")} if tier == "bootstrap" else {}
    known_then = dt.datetime.now(dt.UTC)

    _write_files(files, corrected=True)
    second = runner.materialize(settings, *MONTH, select)
    assert second.success
    assert _metadata(second, "daily_bars")["rows_changed"] == len(CORRECTED)
    with all_resources(settings) as resources:
        after = resources.store.read_bars(*MONTH)
        key = after.assign(day=after["ts"].dt.date).set_index(["symbol", "day"])
        for symbol, day in CORRECTED:
            hit = resources.cache.bar_on(symbol, day)  # served by the cache, with the corrected value
            assert hit is not None
            assert hit["close"].item() == key.loc[(symbol, day), "close"]
            assert hit["ingested_at"].item() == key.loc[(symbol, day), "ingested_at"]
        weekly = resources.store.read_weekly(dt.date(2023, 12, 11), dt.date(2023, 12, 11), ["AAPL"])
        december = after[(after["symbol"] == "AAPL") & (after["ts"] < "2023-12-18")]
        assert weekly["close"].item() == december["close"].iloc[-1]
    changed = after.merge(before, on=["symbol", "ts"], suffixes=("", "_before"))
    changed = changed[changed["close"] != changed["close_before"]]
    assert sorted(zip(changed["symbol"], changed["ts"].dt.date, strict=True)) == sorted(CORRECTED)

    cache = _metadata(second, "daily_bars_hot_cache")
    assert (cache["bars_corrected_in_place"], cache["bars_cached"], cache["keys_changed"]) == (5, 0, 5)
    assert _metadata(second, "weekly_bars")["weeks_refreshed"] == WEEKS_TOUCHED

    topic = _topic(settings, len(before) + len(CORRECTED))
    assert len(topic) == len(before) + len(CORRECTED)  # the five corrections, and nothing else new
    new = [m for m in topic if m not in published]
    assert sorted((m.symbol, m.ts.date()) for m in new) == sorted(CORRECTED)
    for message in new:
        stored = key.loc[(message.symbol, message.ts.date())]
        assert (message.close, message.ingested_at) == (stored["close"], stored["ingested_at"].to_pydatetime())
        old = before[(before["symbol"] == message.symbol) & (before["ts"] == pd.Timestamp(message.ts))]
        assert message.ingested_at > old["ingested_at"].item().to_pydatetime()  # a higher version

    if tier == "bootstrap":
        _assert_only_touched_partitions(exported, exports)
        # the export as known before the correction, made now: the bytes exported then, file for file
        as_of = _export_as_of(settings, known_then, tmp_path / "as_of")
        then = {d: {p: b for p, (b, _) in files.items()} for d, files in exported.items()}
        assert {d: _bytes(as_of, d) for d in exported} == then
        assert {d: _bytes(exports, d) for d in exported} != then  # the current export moved on
        exported = {d: _files(exports, d) for d in ("daily_bars", "daily_returns")}

    third = runner.materialize(settings, *MONTH, select)  # nothing changed: nothing moves downstream
    assert third.success
    assert _metadata(third, "daily_bars")["rows_changed"] == 0
    assert _metadata(third, "weekly_bars")["weeks_refreshed"] == []
    assert _metadata(third, "daily_bars_kafka")["messages_delivered"] == 0
    assert len(_topic(settings, len(before) + len(CORRECTED))) == len(before) + len(CORRECTED)
    resources = {"store": build_store(settings), "stream": build_stream(settings)}
    with runner.instance(settings) as instance, dg.build_sensor_context(instance=instance, resources=resources) as ctx:
        tick = kafka_replay_sensor(ctx)  # five messages for a month is not a gap to replay
    assert isinstance(tick, dg.SkipReason), tick
    if tier == "bootstrap":
        assert _metadata(third, "daily_bars_parquet")["partitions_rewritten"] == 0
        assert {d: _files(exports, d) for d in ("daily_bars", "daily_returns")} == exported  # bytes and mtimes


def _export_as_of(settings, moment: dt.datetime, directory: Path) -> Path:
    """The two exports as_of ``moment`` into ``directory`` (ExportConfig), in process over the month."""
    config = {"config": {"as_of": moment.isoformat(), "as_of_dir": str(directory)}}
    job = build_defs(settings).resolve_job_def(DAILY_BARS_JOB)
    with runner.instance(settings) as inst:
        result = job.execute_in_process(
            run_config={"ops": {"daily_bars_parquet": config, "daily_returns": config}},
            instance=inst,
            tags=range_tags(*MONTH),
            asset_selection=[dg.AssetKey("daily_bars_parquet"), dg.AssetKey("daily_returns")],
        )
    assert result.success
    assert _metadata(result, "daily_bars_parquet")["as_of"] == moment.isoformat()
    return directory


def _bytes(export_dir: Path, dataset: str) -> dict[str, bytes]:
    return {p: b for p, (b, _) in _files(export_dir, dataset).items()}


def _assert_only_touched_partitions(exported: dict, exports: Path) -> None:
    for dataset, touched in (("daily_bars", BARS_TOUCHED), ("daily_returns", RETURNS_TOUCHED)):
        now = _files(exports, dataset)
        assert set(now) == set(exported[dataset])
        rewritten = {p for p in now if now[p][1] != exported[dataset][p][1]}
        assert rewritten == touched, dataset
        assert {p for p in now if now[p][0] != exported[dataset][p][0]} == touched, dataset


def test_a_watermark_belongs_to_the_store_it_was_taken_on(bootstrap, tmp_path):
    """One Dagster instance, two stores (another BACKBONE_HOME): a layer's watermark taken on one store is not
    read against the other, whose bars were all learned before it and would otherwise never reach the layer."""
    january = (dt.date(2024, 1, 2), dt.date(2024, 1, 31))
    other = bootstrap.model_copy(update={"home": tmp_path / "other"})
    assert runner.materialize(other, *january, ["daily_bars_raw", "daily_bars"]).success  # stored first
    assert runner.materialize(bootstrap, *january, ["daily_bars_raw", "daily_bars", "daily_bars_hot_cache"]).success
    run = runner.materialize(other, *january, ["daily_bars_hot_cache"])
    assert run.success
    cache = _metadata(run, "daily_bars_hot_cache")
    assert cache["changes_since"] == "first run: the whole range"
    assert cache["bars_cached"] == sum(len(trading_days(s, *january)) for s in bootstrap.symbols)
    assert cache["changes_store"].endswith(str(other.home / "backbone.duckdb"))
