"""Corrections end to end on the bootstrap tier, as a user runs them (in process): a month from CSV files, then
the same month from files that correct 5 bars; `bars --as-of` between the runs shows the old values, a plain
`bars` the new ones, and `history` lists both versions with the run that wrote each."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest

from backbone_tests.ops.cli_runner import run_in_process as _run

DATA = Path(__file__).resolve().parents[1] / "data"
FLOW = ("materialize", "--start", "2024-01-02", "--end", "2024-01-31", "--select", "daily_bars_raw,daily_bars")
# (file, line as the vendor first sent it, line as restated): 5 bars, each still a valid bar.
CORRECTIONS = [
    ("AAPL.csv", "183.919998,186.190002,", "183.919998,186.000000,"),
    ("AAPL.csv", ",184.482376,49128400", ",184.482376,49128500"),
    ("AAPL.csv", "185.919998,184.810410,", "185.919998,184.900000,"),
    ("MSFT.csv", "376.320007,382.769989,", "376.320007,383.000000,"),
    ("MSFT.csv", ",381.398499,27850800", ",381.398499,27850900"),
]  # fmt: skip
CORRECTED = [("AAPL", "2024-01-10"), ("AAPL", "2024-01-11"), ("AAPL", "2024-01-12"), ("MSFT", "2024-01-10"),
             ("MSFT", "2024-01-11")]  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    shutil.copytree(DATA / "yahoo", tmp_path / "files")
    (tmp_path / "dagster").mkdir()
    return {
        "BACKBONE_MODE": "bootstrap",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SOURCE": f"csv:{tmp_path / 'files'}",
        "BACKBONE_STREAMING_ENABLED": "false",
    }


def _materialize(env: dict[str, str]) -> tuple[str, str]:
    """The run's id and its output."""
    done = _run(env, *FLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    [run_id] = re.findall(r"^run (\S+): SUCCESS$", done.stdout, re.MULTILINE)
    return run_id, done.stdout


def _json(env: dict[str, str], *args: str) -> dict:
    done = _run(env, *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_a_corrected_month_keeps_what_was_known_and_names_the_runs(env: dict[str, str], tmp_path: Path) -> None:
    first_run, _ = _materialize(env)
    between = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    for name, before, after in CORRECTIONS:
        path = tmp_path / "files" / name
        text = path.read_text()
        assert text.count(before) == 1, before
        path.write_text(text.replace(before, after))

    second_run, output = _materialize(env)

    assert "'rows_changed': 5," in output
    then = _json(env, "bars", "AAPL", "--on", "2024-01-10", "--as-of", between)
    assert (then["served_by"], then["bars"][0]["close"]) == ("store", 186.190002)
    now = _json(env, "bars", "AAPL", "--on", "2024-01-10")
    assert now["bars"][0]["close"] == 186.0
    msft_then = _json(env, "bars", "MSFT", "--last", "20", "--as-of", between)
    assert [b["close"] for b in msft_then["bars"] if b["date"] == "2024-01-10"] == [382.769989]
    assert len(msft_then["bars"]) == 10

    history = _json(env, "history", "AAPL", "--on", "2024-01-10")["versions"]
    assert [v["run_id"] for v in history] == [first_run, second_run]
    assert [v["reason"] for v in history] == ["corrected", None]
    assert history[0]["replaced_by_run"] == second_run
    assert history[0]["known_from"] < between < history[0]["known_to"] == history[1]["known_from"]
    assert history[1]["changes"] == {"close": {"old": 186.190002, "new": 186.0}}
    for symbol, day in CORRECTED:
        assert len(_json(env, "history", symbol, "--on", day)["versions"]) == 2, (symbol, day)
    [untouched] = _json(env, "history", "AAPL", "--on", "2024-01-09")["versions"]
    assert (untouched["run_id"], untouched["known_to"]) == (first_run, None)

    table = _run(env, "history", "AAPL", "--on", "2024-01-10").stdout.splitlines()
    assert table[2].split()[5:7] == [first_run[:8], "csv"]
    assert table[3].split()[3:6] == ["current", second_run[:8], "csv"]
    assert table[-1] == "  2  close 186.190002 → 186"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_an_export_as_of_before_the_correction_equals_the_export_made_then(env: dict[str, str], tmp_path: Path):
    exports = Path(env["BACKBONE_HOME"]) / "exports"
    with_exports = (*FLOW[:-1], "daily_bars_raw,daily_bars,daily_bars_parquet,daily_returns")
    first = _run(env, *with_exports)
    assert first.returncode == 0, first.stdout + first.stderr
    made_then = _files(exports)
    between = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    for name, before, after in CORRECTIONS:
        path = tmp_path / "files" / name
        path.write_text(path.read_text().replace(before, after))
    second = _run(env, *with_exports)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _files(exports) != made_then  # the corrected symbols' partitions were rewritten

    reproduced = _run(
        env,
        "export",
        "--as-of",
        between,
        "--start",
        "2024-01-02",
        "--end",
        "2024-01-31",
        "--to",
        str(tmp_path / "then"),
    )
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert _files(tmp_path / "then") == made_then  # byte for byte, every file of both datasets
    assert made_then
    assert {k.split("/")[0] for k in made_then} == {"daily_bars", "daily_returns"}

    naive = _run(env, "export", "--as-of", "2024-01-31T08:00:00")
    assert naive.returncode == 2
    assert "has no time zone" in naive.stderr
