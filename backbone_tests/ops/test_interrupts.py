"""`backbone materialize` over a long range, as a person runs it: progress lines while it works, and SIGTERM
ends it within seconds with the run marked failed and only whole chunks in the store."""

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from backbone_domain.pipeline import date_chunks
from backbone_resources.settings import load_settings
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store.duckdb_store import DuckDBBarStore
from backbone_tests.clock import PINNED

pytestmark = pytest.mark.slow

BACKBONE = str(Path(sys.executable).parent / "backbone")
ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = [f"SYM{i:03d}" for i in range(60)]
START, END = dt.date(1995, 1, 2), dt.date(2019, 12, 31)
CHUNK_DAYS = 91
STOP_WITHIN_S = 10


def test_progress_then_sigterm_stops_within_seconds_leaving_whole_chunks(tmp_path, monkeypatch):
    home, dagster_home = tmp_path / "home", tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKBONE_", "DAGSTER_"))}
    env |= {
        "BACKBONE_MODE": "bootstrap",
        **PINNED,
        "BACKBONE_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "BACKBONE_SYMBOLS": ",".join(SYMBOLS),
        "BACKBONE_START_DATE": str(START),
        "BACKBONE_CHUNK_DAYS": str(CHUNK_DAYS),
        "BACKBONE_PROGRESS_EVERY_S": "0.2",
    }
    command = [
        BACKBONE,
        "materialize",
        "--start",
        str(START),
        "--end",
        str(END),
        "--select",
        "daily_bars_raw,daily_bars",
    ]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # until the first progress line with figures
            lines.append(line)
            if "chunks (through" in line:
                break
        progress = lines[-1]
        assert "bars/s" in progress, "".join(lines[-20:])
        assert "ETA" in progress
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert stopped_after < STOP_WITHIN_S, output[-3000:]
    assert proc.returncode == 130, output[-3000:]
    assert "interrupted: run" in output

    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))  # the instance's storage reads its base_dir from it
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.FAILURE

    # Each chunk is one transaction: in the landing table and in the store, a chunk is all there or absent.
    source = SyntheticSource(symbols=SYMBOLS, seed=load_settings().seed)
    store = DuckDBBarStore(path=str(home / "backbone.duckdb"))
    landed_chunks = 0
    for first, last in date_chunks(START, END, CHUNK_DAYS):
        expected = len(source.fetch(first, last))
        landed, stored = len(store.read_raw(first, last)), len(store.read_bars(first, last))
        assert landed in (0, expected), (first, last, landed, expected)
        assert stored in (0, expected), (first, last, stored, expected)
        landed_chunks += landed > 0
    assert 0 < landed_chunks < len(list(date_chunks(START, END, CHUNK_DAYS)))  # stopped part-way
