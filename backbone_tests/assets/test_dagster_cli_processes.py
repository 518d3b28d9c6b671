"""Runs launched the way Dagster itself launches them: every step in its own process, with readers polling
the bootstrap store at the same time (the UI, the CLI). DuckDB's single-writer file lock must not fail them."""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backbone_tests.clock import PINNED

pytestmark = pytest.mark.slow
DAGSTER = str(Path(sys.executable).parent / "dagster")


def _poll_store(path: str, stop_at: float, results: mp.Queue) -> None:
    """A reader that keeps querying while the run writes, as the UI does."""
    from backbone_resources.store.duckdb_store import DuckDBBarStore

    store, reads = DuckDBBarStore(path=path), 0
    try:
        while time.monotonic() < stop_at:
            store.quality_counts()
            store.latest_bar_dates()
            reads += 1
        results.put(("ok", reads))
    except Exception as exc:  # noqa: BLE001 - the reader failing is what this test measures: report it
        results.put(("error", repr(exc)))


def _dagster(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DAGSTER, *args, "-m", "backbone_assets.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_multiprocess_runs_and_concurrent_readers_share_the_duckdb_file(tmp_path):
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
    seed = _dagster(env, "asset", "materialize", "--select", "*", "--partition", "2024-01-02")
    assert seed.returncode == 0, seed.stderr[-3000:]

    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    readers = [
        ctx.Process(target=_poll_store, args=(str(home / "backbone.duckdb"), time.monotonic() + 40, results))
        for _ in range(2)
    ]
    for reader in readers:
        reader.start()
    backfill = _dagster(env, "asset", "materialize", "--select", "*", "--partition-range", "2024-01-03...2024-01-05")
    checks = _dagster(env, "job", "execute", "-j", "asset_checks_job")  # four check steps, four processes
    for reader in readers:
        reader.join(timeout=120)
    outcomes = [results.get(timeout=5) for _ in readers]

    assert backfill.returncode == 0, backfill.stderr[-3000:]
    assert checks.returncode == 0, checks.stderr[-3000:]
    assert "RUN_SUCCESS" in checks.stderr + checks.stdout
    assert all(status == "ok" and reads > 0 for status, reads in outcomes), outcomes
    assert "Could not set lock" not in backfill.stderr + checks.stderr
