"""Runs launched the way Dagster itself launches them: every step in its own process, with readers polling
the bootstrap store at the same time (the UI, the CLI). DuckDB's single-writer file lock must not fail them.

The step processes are forked from Dagster's forkserver, which imports the code location once: with the default
spawn, each of the ~30 step processes spends seconds importing Dagster and backbone before its work of well under
a second. Each step is still its own process with its own DuckDB connection, which is what the file lock sees.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backbone_ops import runner
from backbone_resources.settings import load_settings
from backbone_tests.clock import PINNED, TODAY

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).parent / "dagster")
FORKSERVER = {"forkserver": {"preload_modules": ["backbone_assets.definitions"]}}
STEP_PROCESSES = json.dumps({"execution": {"config": {"multiprocess": {"start_method": FORKSERVER}}}})
READ_EVERY_S = 0.02  # as often as a busy UI, while leaving the two cores to the runs' step processes


def _poll_store(path: str, stop: mp.synchronize.Event, deadline_s: float, results: mp.Queue) -> None:
    """A reader that keeps querying while the runs write, as the UI does, until told to stop."""
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    store, reads, deadline = DuckDBBarStore(path=path), 0, time.monotonic() + deadline_s
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            store.quality_counts()
            store.latest_bar_dates()
            reads += 1
            time.sleep(READ_EVERY_S)
        results.put(("ok", reads))
    except Exception as exc:  # noqa: BLE001 - the reader failing is what this test measures: report it
        results.put(("error", repr(exc)))


def _dagster(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DAGSTER, *args, "-m", "backbone_assets.definitions", "-c", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_multiprocess_runs_and_concurrent_readers_share_the_duckdb_file(tmp_path, monkeypatch):
    home, dagster_home = tmp_path / "home", tmp_path / "dagster"
    dagster_home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_")},
        "BACKBONE_MODE": "bootstrap",
        **PINNED,
        "BACKBONE_HOME": str(home),
        "BACKBONE_SYMBOLS": "EURUSD,AAPL",
        "DAGSTER_HOME": str(dagster_home),
    }
    # The store file the readers open: one day, in process (no readers yet; the runs below are what is tested).
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    settings = load_settings(mode="bootstrap", home=home, symbols=["EURUSD", "AAPL"], today=TODAY)
    seed = runner.materialize(settings, dt.date(2024, 1, 2), dt.date(2024, 1, 2), ["daily_bars_raw", "daily_bars"])
    assert seed.success

    config = tmp_path / "step_processes.yaml"  # JSON is YAML
    config.write_text(STEP_PROCESSES)
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    stop = ctx.Event()
    readers = [
        ctx.Process(target=_poll_store, args=(str(home / "backbone.duckdb"), stop, 540, results)) for _ in range(2)
    ]
    for reader in readers:
        reader.start()
    try:
        backfill = _dagster(
            env, config, "asset", "materialize", "--select", "*", "--partition-range", "2024-01-03...2024-01-05"
        )
        checks = _dagster(env, config, "job", "execute", "-j", "asset_checks_job")  # one process per check step
    finally:
        stop.set()  # the readers polled for as long as the runs wrote
        for reader in readers:
            reader.join(timeout=60)
    outcomes = [results.get(timeout=5) for _ in readers]

    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert checks.returncode == 0, checks.stderr[-3000:]
    assert "RUN_SUCCESS" in checks.stderr + checks.stdout
    assert all(status == "ok" and reads > 0 for status, reads in outcomes), outcomes
    assert "Could not set lock" not in backfill.stderr + checks.stderr
