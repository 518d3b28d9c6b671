"""The health snapshot model: freshness summary, thresholds, run-failure file, JSON document, hit-ratio verdict."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest

from backbone_domain.freshness import SymbolLag
from backbone_domain.health import (
    CacheFigures,
    Component,
    GroupLag,
    HealthSnapshot,
    LatestRun,
    PartitionLagFigures,
    SourceAgreement,
    StreamFigures,
    hit_ratio_verdict,
    lag_breach,
    lag_seconds,
    read_run_failures,
    summarize_freshness,
    to_json,
)
from backbone_resources.cache.base import CacheWindow

UP = [Component(name, "up", "x") for name in ("store", "cache", "stream", "batch")]
D = dt.date


def snapshot(**overrides: object) -> HealthSnapshot:
    base: dict[str, object] = {
        "tier": "bootstrap",
        "tier_reason": "test",
        "generated_at": "2026-11-30T12:00:00+00:00",
        "components": UP,
    }
    return HealthSnapshot(**{**base, **overrides})  # type: ignore[arg-type]


def test_freshness_takes_the_worst_symbol_and_counts_a_symbol_without_bars_as_stale():
    lags = [
        SymbolLag("AAPL", D(2026, 11, 27), D(2026, 11, 25), 2),
        SymbolLag("EURUSD", D(2026, 11, 27), D(2026, 11, 27), 0),
        SymbolLag("NEW", D(2026, 11, 27), None, None),
    ]
    fresh = summarize_freshness(lags, threshold=1, as_of=D(2026, 11, 29))
    assert (fresh.max_lag_days, fresh.newest_bar, fresh.symbols) == (2, "2026-11-27", 3)
    assert fresh.stale_symbols == ["AAPL", "NEW"]
    assert summarize_freshness(lags[1:2], threshold=1, as_of=D(2026, 11, 29)).breached is False
    empty = summarize_freshness([SymbolLag("NEW", D(2026, 11, 27), None, None)], 1, D(2026, 11, 29))
    assert (empty.max_lag_days, empty.newest_bar, empty.breached) == (None, None, True)


def test_each_threshold_breach_is_named_and_an_unavailable_component_is_unhealthy():
    run = LatestRun("r1", "2026-11-30T06:00:00+00:00", "2026-11-27..2026-11-27", 90, 10, 0.05)
    cache = CacheFigures("redis", hits=10, misses=30, keys=3, threshold_hit_ratio=0.8, min_reads=20)
    stream = StreamFigures("kafka", "t", threshold_lag=100, groups=[GroupLag("a", 101, 60, 6), GroupLag("b", 5, 5, 6)])
    snap = snapshot(latest_run=run, cache=cache, stream=stream)
    assert (run.rows_ingested, run.rejected_rate) == (100, 0.1)
    assert snap.breaches() == [
        "rejected rate 0.1000 > 0.05",
        "cache hit ratio 0.250 < 0.8",
        "consumer group a lags 101 > 100 messages",
    ]
    assert not snap.healthy
    assert snapshot().healthy
    down = snapshot(components=[*UP[:1], Component("cache", "unavailable", "Redis at redis://:***@h:1/0")])
    assert [c.name for c in down.unavailable()] == ["cache"]
    assert not down.healthy


def test_a_low_hit_ratio_over_too_few_reads_is_not_a_breach():
    few = CacheFigures("diskcache", hits=0, misses=3, keys=1, threshold_hit_ratio=0.8, min_reads=20)
    none = CacheFigures("diskcache", hits=0, misses=0, keys=0, threshold_hit_ratio=0.8, min_reads=20)
    assert (few.hit_ratio, few.breached) == (0.0, False)
    assert (none.hit_ratio, none.breached) == (None, False)


def test_run_failures_missing_file_is_none_and_torn_lines_are_counted(tmp_path):
    assert read_run_failures(tmp_path / "absent.jsonl").total == 0
    path = tmp_path / "run_failures.jsonl"
    rows = [
        {
            "run_id": "a",
            "job_name": "daily_bars_job",
            "failed_at": "2026-11-29T06:01:00+00:00",
            "kind": "ingest",
            "error": "x",
        },
        {
            "run_id": "b",
            "job_name": "daily_bars_job",
            "failed_at": "2026-11-30T06:01:00+00:00",
            "kind": None,
            "error": "y",
        },
        {
            "run_id": "c",
            "job_name": "kafka_replay_job",
            "failed_at": "2026-11-28T06:01:00+00:00",
            "kind": "replay",
            "error": "z",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + '\n{"run_id": "torn', encoding="utf-8")
    failures = read_run_failures(path)
    assert failures.by_job == {"daily_bars_job": 2, "kafka_replay_job": 1}
    assert (failures.total, failures.unreadable_lines) == (3, 1)
    assert [f.run_id for f in failures.latest] == ["b", "a", "c"]


def test_json_document_carries_derived_figures_and_the_verdict():
    cache = CacheFigures("redis", hits=3, misses=1, keys=2, threshold_hit_ratio=0.8, min_reads=20)
    doc = json.loads(to_json(snapshot(cache=cache, components=[Component("stream", "unavailable", "down")])))
    assert (doc["cache"]["reads"], doc["cache"]["hit_ratio"]) == (4, 0.75)
    assert (doc["unavailable"], doc["healthy"], doc["breaches"]) == (["stream"], False, [])
    assert (doc["freshness"], doc["failures"]["total"]) == (None, 0)


@pytest.mark.parametrize(
    ("hits", "misses", "passed", "ratio", "says"),
    [(3, 1, True, None, "not enough reads"), (80, 20, True, 0.8, "hit ratio 0.800"), (70, 30, False, 0.7, "below")],
)
def test_hit_ratio_verdict(hits, misses, passed, ratio, says):
    verdict = hit_ratio_verdict(CacheWindow(hits, misses), threshold=0.8, min_reads=20)
    assert (verdict.passed, verdict.hit_ratio) == (passed, ratio)
    assert says in verdict.description


def test_status_reports_stored_values_kept_over_the_source_and_quarantined_files() -> None:
    assert SourceAgreement(0, 0).breaches() == []
    kept, files = SourceAgreement(2, 1).breaches()
    assert kept.startswith("2 stored bar(s) are served although the source no longer says so")
    assert files == "1 source file(s) quarantined whole (`backbone rejected` lists them)"


@dataclass(frozen=True)
class _Part:
    partition: int
    lag: int
    oldest_unconsumed_at: dt.datetime | None


NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)


def test_a_group_waits_as_long_as_its_worst_partition_and_a_caught_up_one_waits_0():
    parts = [_Part(0, 4, NOW - dt.timedelta(seconds=90)), _Part(1, 1, NOW - dt.timedelta(seconds=5)), _Part(2, 0, None)]
    group = GroupLag.measure("risk", parts, NOW)
    assert (group.total, group.max_partition, group.partitions, group.max_seconds) == (5, 4, 3, 90.0)
    assert group.by_partition == [
        PartitionLagFigures(0, 4, 90.0),
        PartitionLagFigures(1, 1, 5.0),
        PartitionLagFigures(2, 0, 0.0),
    ]
    assert lag_breach(group, threshold=10, threshold_s=60) == "risk lags 90 s > 60 s"
    assert lag_breach(group, threshold=4, threshold_s=60) == "risk lags 5 > 4 messages and 90 s > 60 s"
    assert lag_breach(group, threshold=10, threshold_s=90) is None


def test_an_unknown_wait_is_none_not_0_and_a_clock_behind_the_producer_is_0():
    assert lag_seconds(None, 3, NOW) is None  # records older than the log's timestamps: unknown
    assert lag_seconds(NOW + dt.timedelta(seconds=2), 3, NOW) == 0.0  # never a negative wait
    assert lag_seconds(None, 0, NOW) == 0.0
    partly = GroupLag.measure("g", [_Part(0, 3, None), _Part(1, 2, NOW - dt.timedelta(seconds=9))], NOW)
    assert partly.max_seconds == 9.0  # the worst wait that could be read still counts
    assert [p.seconds for p in partly.by_partition] == [None, 9.0]
    unknown = GroupLag.measure("g", [_Part(0, 3, None)], NOW)
    assert unknown.max_seconds is None
    assert lag_breach(unknown, threshold=10, threshold_s=1) is None  # unmeasured breaches nothing; messages count
    assert lag_breach(unknown, threshold=2, threshold_s=1) == "g lags 3 > 2 messages"
    assert GroupLag.measure("g", [], NOW).max_seconds == 0.0  # no partition: nothing waits
