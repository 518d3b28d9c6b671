"""Issue 15 item 2 end to end on bootstrap, in process: a replayed session of 3 synthetic symbols is drained from
the local log by `backbone consume --handler intraday-store`, the store holds its minutes, `backbone bars` shows
the provisional bar equal to their aggregate, and once the day's daily bar is materialized `bars` shows the final
bar and the check comparing the two passes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest

from backbone_domain.intraday_bars import aggregate
from backbone_resources.settings import load_settings
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.tiers import build_store
from backbone_tests.ops.cli_runner import run_in_process

pytestmark = pytest.mark.slow
SYMBOLS = ("AAPL", "EURUSD", "MSFT")
SESSION = dt.date(2024, 1, 3)
BEFORE = dt.date(2024, 1, 2)
FLOW = "daily_bars_raw,daily_bars,daily_bars_hot_cache"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "dagster").mkdir()
    return {
        "BACKBONE_MODE": "bootstrap",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SYMBOLS": ",".join(SYMBOLS),
        "BACKBONE_INTRADAY_ENABLED": "true",
        "BACKBONE_INTRADAY_INTERVAL_MINUTES": "30",
    }


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _bars(env: dict[str, str], symbol: str) -> list[dict]:
    return json.loads(_ok(run_in_process(env, "bars", symbol, "--json")).stdout)["bars"]


def test_a_replayed_session_is_stored_shown_provisional_then_superseded_by_the_daily_bar(env) -> None:
    _ok(run_in_process(env, "materialize", "--start", str(BEFORE), "--end", str(BEFORE), "--select", FLOW))
    _ok(run_in_process(env, "stream", "intraday", "--date", str(SESSION), "--speed", "inf"))

    drained = _ok(
        run_in_process(env, "consume", "--group", "intraday", "--handler", "intraday-store", "--idle-timeout", "1")
    )

    source = SyntheticSource(symbols=list(SYMBOLS))
    sent = source.fetch_intraday(SESSION, interval_minutes=30)
    assert f"intraday-store: {len(sent)} handled, 0 restarts" in drained.stderr
    store = build_store(load_settings(mode="bootstrap", home=env["BACKBONE_HOME"]))
    minutes = store.read_intraday(SESSION, SESSION)
    assert len(minutes) == len(sent)
    folded = aggregate(minutes).set_index("symbol")

    for symbol in SYMBOLS:
        before, during = _bars(env, symbol)  # yesterday's final bar, then today's provisional one
        assert (before["date"], before["provisional"]) == (str(BEFORE), False)
        assert (during["date"], during["provisional"]) == (str(SESSION), True)
        expected = folded.loc[symbol]
        assert [during[c] for c in ("open", "high", "low", "close", "volume")] == [
            expected[c] for c in ("open", "high", "low", "close", "volume")
        ]
        assert during["bars"] == len(sent[sent["symbol"] == symbol])
    text = _ok(run_in_process(env, "bars", "AAPL")).stdout
    assert f"{SESSION} AAPL" in text
    assert "PROVISIONAL (13 intraday bars through 2024-01-03T21:00:00Z)" in text

    _ok(run_in_process(env, "materialize", "--start", str(SESSION), "--end", str(SESSION), "--select", FLOW))

    daily = source.fetch(SESSION, SESSION).set_index("symbol")
    for symbol in SYMBOLS:
        (final,) = _bars(env, symbol)
        assert (final["date"], final["provisional"]) == (str(SESSION), False)
        assert final["close"] == float(daily.loc[symbol, "close"]) == folded.loc[symbol, "close"]
    checked = json.loads(run_in_process(env, "check", "--json").stdout)
    (match,) = [row for row in checked if row["check"].endswith(":daily_bars_match_intraday")]
    assert match["passed"] is True, match
    assert (match["metadata"]["session"], match["metadata"]["compared_symbols"]) == (str(SESSION), 3)
