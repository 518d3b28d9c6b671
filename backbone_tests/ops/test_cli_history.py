"""`backbone history` and `backbone bars --as-of` over a store written directly (no run: fast), in process, on
both tiers; the flow through real runs is test_versions_flow.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from backbone_domain.bar_history import BarLoad
from backbone_domain.bars import empty_rejected
from backbone_resources import tiers
from backbone_resources.settings import load_settings
from backbone_tests.builders import bars
from backbone_tests.ops.cli_runner import run_in_process as _run

DAY = dt.date(2024, 1, 2)
T1, T2, T3 = (pd.Timestamp(f"2024-03-{d}T08:00:00", tz="UTC") for d in (11, 12, 13))
RUN1, RUN2, RUN3 = "11111111-aaaa-4000-8000-000000000001", "22222222-bbbb-4000-8000-000000000002", None


@pytest.fixture(
    params=[
        pytest.param("bootstrap"),
        pytest.param("institutional", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ]
)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """A tier's store whose AAPL bar of DAY was written at T1, corrected at T2 (close) and T3 (high, volume;
    outside a run), and whose MSFT bar was never corrected: DuckDB, or a fresh PostgreSQL database and Redis
    namespace."""
    (tmp_path / "dagster").mkdir()
    env = {"BACKBONE_MODE": request.param, "BACKBONE_HOME": str(tmp_path / "home")}
    if request.param == "institutional":
        env["BACKBONE_TIMESCALE_URL"] = request.getfixturevalue("pg_database_url")
        env["BACKBONE_REDIS_URL"] = request.getfixturevalue("redis_server_url")
        env["BACKBONE_CACHE_NAMESPACE"] = request.getfixturevalue("redis_namespace")
    overrides = {k.removeprefix("BACKBONE_").lower(): v for k, v in env.items()}
    store = tiers.build_store(load_settings(**overrides))
    first = bars(["AAPL", "MSFT"], [DAY], ingested_at=T1, source="csv")
    second = first.iloc[[0]].assign(close=first["close"].iloc[0] + 0.5, ingested_at=T2)
    third = second.assign(high=second["high"] + 2, volume=2500.0, source="vendor", ingested_at=T3)
    try:
        for frame, run in [(first, RUN1), (second, RUN2), (third, RUN3)]:
            load = BarLoad(frame["ingested_at"].iloc[0].to_pydatetime(), run, frame["source"].iloc[0], DAY, DAY)
            store.write_validated(DAY, DAY, frame, empty_rejected(), load=load)
    finally:
        getattr(store, "close", lambda: None)()
    return env | {"DAGSTER_HOME": str(tmp_path / "dagster")}


def test_history_lists_the_versions_their_runs_and_what_changed(env: dict[str, str]) -> None:
    done = _run(env, "history", "aapl", "--on", "2024-01-02")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "AAPL 2024-01-02: 3 version(s), oldest first"
    assert lines[1].split() == ["#", "known", "from", "(UTC)", "known", "to", "(UTC)", "run", "source", "open",
                                "high", "low", "close", "adj_close", "volume"]  # fmt: skip
    assert lines[2].split()[:8] == ["1", "2024-03-11", "08:00:00", "2024-03-12", "08:00:00", "11111111", "csv", "99.5"]
    assert lines[3].split()[:7] == ["2", "2024-03-12", "08:00:00", "2024-03-13", "08:00:00", "22222222", "csv"]
    assert lines[4].split()[:5] == ["3", "2024-03-13", "08:00:00", "current", "unknown"]
    assert lines[5:] == [
        "changes:",
        "  1  first version",
        "  2  close 100 → 100.5",
        "  3  high 101 → 103; volume 1000 → 2500; source csv → vendor",
    ]

    doc = json.loads(_run(env, "history", "AAPL", "--on", "2024-01-02", "--json").stdout)
    versions = doc["versions"]
    assert [v["run_id"] for v in versions] == [RUN1, RUN2, None]
    assert [v["replaced_by_run"] for v in versions] == [RUN2, None, None]  # run 3 was recorded without a run id
    assert [v["replaced_by_source"] for v in versions] == ["csv", "vendor", None]
    assert [(v["known_from"], v["known_to"]) for v in versions] == [
        ("2024-03-11T08:00:00Z", "2024-03-12T08:00:00Z"),
        ("2024-03-12T08:00:00Z", "2024-03-13T08:00:00Z"),
        ("2024-03-13T08:00:00Z", None),
    ]
    assert [v["reason"] for v in versions] == ["corrected", "corrected", None]
    assert versions[1]["changes"] == {"close": {"old": 100.0, "new": 100.5}}
    assert versions[2]["values"]["high"] == 103.0


def test_bars_as_of_reads_the_store_then_and_leaves_the_cache_alone(env: dict[str, str]) -> None:
    then = json.loads(
        _run(env, "bars", "AAPL", "--on", "2024-01-02", "--as-of", "2024-03-12T07:59:59Z", "--json").stdout
    )
    assert (then["served_by"], then["as_of"], then["bars"][0]["close"]) == ("store", "2024-03-12T07:59:59Z", 100.0)
    later = _run(env, "bars", "AAPL", "--as-of", "2024-03-12T09:00:00+01:00")  # = 08:00 UTC: the correction
    assert later.returncode == 0, later.stderr
    assert " c=100.5 " in later.stdout
    assert later.stdout.splitlines()[-1] == (
        "served by store (as of 2024-03-12T08:00:00Z: what the store knew then; the cache holds only current bars)"
    )
    assert json.loads(_run(env, "cache", "stats", "--json").stdout)["keys"] == 0  # as-of reads never fill it

    now = json.loads(_run(env, "bars", "AAPL", "--json").stdout)
    assert (now["as_of"], now["bars"][0]["close"], now["bars"][0]["high"]) == (None, 100.5, 103.0)
    assert json.loads(_run(env, "cache", "stats", "--json").stdout)["keys"] == 1  # a plain read fills it

    before_anything = _run(env, "bars", "AAPL", "--as-of", "2024-03-11T07:00:00Z")
    assert before_anything.returncode == 1  # a known symbol with nothing known yet: no data, not a bad request
    assert before_anything.stdout.splitlines()[-1].startswith("served by store (as of 2024-03-11T07:00:00Z")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["bars", "AAPL", "--as-of", "2024-03-12T08:00:00"], "error: --as-of '2024-03-12T08:00:00' has no time zone"),
        (["bars", "AAPL", "--as-of", "12/03/2024 8am"], "error: --as-of '12/03/2024 8am' is not a timestamp"),
        (["bars", "ZZZ", "--as-of", "2024-03-12T08:00:00Z"], "error: unknown symbol ZZZ: the store holds no bar"),
        (["bars", "ZZZ"], "error: unknown symbol ZZZ: the store holds no bar of it (it holds AAPL, MSFT)"),
        (["history", "AAPL", "--on", "2024-13-01"], "error: --on '2024-13-01' is not a date: write YYYY-MM-DD"),
        (["history", "AAPL", "--on", "yesterday"], "error: --on 'yesterday' is not a date"),
        (["history", "ZZZ", "--on", "2024-01-02"], "error: unknown symbol ZZZ"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(env: dict[str, str], args: list[str], error: str) -> None:
    done = _run(env, *args)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()  # institutional `bars` also logs its Redis ping at INFO
    [line] = [line for line in lines if line.startswith("error:")]
    assert line == lines[-1]
    assert line.startswith(error)


def test_history_of_a_day_without_a_bar_says_so_and_exits_1(env: dict[str, str]) -> None:
    done = _run(env, "history", "MSFT", "--on", "2024-01-06")

    assert done.returncode == 1
    assert done.stderr.strip() == "no bar of MSFT on 2024-01-06 in the store (not a trading day, or not loaded yet)"
