"""`backbone bars` with a provisional bar in the hot cache, on bootstrap, in process and without a Dagster run:
where it is shown, where not, and how it is marked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from backbone_domain.bars import empty_rejected
from backbone_domain.provisional import ProvisionalBar
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_cache, build_store
from backbone_tests.builders import bars
from backbone_tests.ops.cli_runner import run_in_process

BEFORE, SESSION = dt.date(2024, 1, 2), dt.date(2024, 1, 3)
PENDING = ProvisionalBar(
    symbol="AAPL",
    session=SESSION,
    open=100.0,
    high=102.5,
    low=99.0,
    close=101.75,
    volume=1_000.0,
    bars=12,
    through=dt.datetime(2024, 1, 3, 15, 30, tzinfo=dt.UTC),
    source="synthetic",
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home")}
    settings = load_settings(mode="bootstrap", home=env["BACKBONE_HOME"])
    cache = build_cache(settings)
    cache.put_provisional(PENDING)
    cache.close()  # type: ignore[attr-defined]
    return env


def _doc(env: dict[str, str], *args: str) -> dict:
    done = run_in_process(env, "bars", "AAPL", "--json", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _store_day(env: dict[str, str], day: dt.date) -> None:
    store = build_store(load_settings(mode="bootstrap", home=env["BACKBONE_HOME"]))
    store.write_validated(day, day, bars(["AAPL"], [day]), empty_rejected())


def test_only_a_provisional_bar_is_still_an_answer(env) -> None:
    (only,) = _doc(env)["bars"]

    assert only == {
        "date": "2024-01-03",
        "open": 100.0,
        "high": 102.5,
        "low": 99.0,
        "close": 101.75,
        "volume": 1000.0,
        "adj_close": None,
        "source": "synthetic",
        "provisional": True,
        "bars": 12,
        "through": "2024-01-03T15:30:00Z",
    }
    text = run_in_process(env, "bars", "AAPL")
    assert text.returncode == 0
    assert "2024-01-03 AAPL       o=100.0 h=102.5 l=99.0 c=101.75 v=1000.0 PROVISIONAL (12 intraday bars" in text.stdout


def test_shown_after_older_final_bars_and_on_its_own_date_gone_once_its_date_is_final(env) -> None:
    _store_day(env, BEFORE)
    final, pending = _doc(env)["bars"]
    assert (final["date"], final["provisional"], pending["date"], pending["provisional"]) == (
        "2024-01-02",
        False,
        "2024-01-03",
        True,
    )
    assert [b["provisional"] for b in _doc(env, "--on", "2024-01-03")["bars"]] == [True]
    assert [b["provisional"] for b in _doc(env, "--on", "2024-01-02")["bars"]] == [False]

    _store_day(env, SESSION)  # the day's final bar: the cache misses on it and takes it from the store
    answer = _doc(env, "--on", "2024-01-03")
    assert [(b["date"], b["provisional"]) for b in answer["bars"]] == [("2024-01-03", False)]
    assert [(b["date"], b["provisional"]) for b in _doc(env)["bars"]] == [("2024-01-03", False)]
