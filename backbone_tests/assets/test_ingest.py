"""daily_bars_raw when the source cannot be read as it stands: no retries, one line naming the file."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg

from backbone_ops import runner
from backbone_resources.settings import load_settings
from backbone_tests.ops.cli_runner import run_in_process

DATA = Path(__file__).resolve().parents[1] / "data"
JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))


def test_an_unreadable_file_fails_the_step_once_naming_the_file(tmp_path, dagster_home) -> None:
    files = tmp_path / "files"
    shutil.copytree(DATA / "yahoo", files)
    (files / "BROKEN.parquet").write_bytes(b"PAR1 this is not parquet")
    settings = load_settings(mode="bootstrap", home=tmp_path / "home", source=f"csv:{files}")

    result = runner.materialize(settings, *JAN, ["daily_bars_raw"])

    assert not result.success
    steps = [e for e in result.all_events if e.step_key == "daily_bars_raw"]
    assert not [e for e in steps if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]  # same answer every time
    [failure] = [e for e in steps if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "BROKEN.parquet" in str(failure.step_failure_data.user_failure_data.description)  # type: ignore[union-attr]


def test_materialize_ends_with_one_line_naming_the_unreadable_file(tmp_path, dagster_home) -> None:
    files = tmp_path / "files"
    shutil.copytree(DATA / "yahoo", files)
    (files / "BROKEN.parquet").write_bytes(b"PAR1 this is not parquet")
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home"), "BACKBONE_SOURCE": f"csv:{files}"}

    done = run_in_process(env, "materialize", "--start", "2024-01-02", "--end", "2024-01-31")

    assert done.returncode == 1
    [line] = [line for line in done.stdout.splitlines() if "step daily_bars_raw failed" in line]
    assert line.strip().startswith(f"step daily_bars_raw failed: cannot read {files / 'BROKEN.parquet'}: ")


def test_a_missing_source_directory_stops_materialize_before_a_run(tmp_path, dagster_home) -> None:
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home")}
    env["BACKBONE_SOURCE"] = f"csv:{tmp_path / 'nowhere'}"

    done = run_in_process(env, "materialize", "--start", "2024-01-02", "--end", "2024-01-05")

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: BACKBONE_SOURCE=csv:{tmp_path / 'nowhere'}: directory {tmp_path / 'nowhere'} does not exist"
    ]
    assert "materializing" not in done.stdout  # no run was started
