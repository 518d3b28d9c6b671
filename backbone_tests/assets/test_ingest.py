"""daily_bars_raw (step daily_bars_flow, ``bars_flow``) when a file cannot be read as it stands: quarantined
whole, or (if so set) one failure naming it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg

from backbone_ops import runner
from backbone_ops.resources import all_resources
from backbone_resources.settings import load_settings
from backbone_tests.ops.cli_runner import run_in_process

DATA = Path(__file__).resolve().parents[1] / "data"
JAN = (dt.date(2024, 1, 1), dt.date(2024, 1, 31))
RAW = dg.AssetKey("daily_bars_raw")


def test_an_unreadable_file_is_quarantined_and_the_other_files_land(tmp_path, dagster_home) -> None:
    files = tmp_path / "files"
    shutil.copytree(DATA / "yahoo", files)
    (files / "BROKEN.parquet").write_bytes(b"PAR1 this is not parquet")
    settings = load_settings(mode="bootstrap", home=tmp_path / "home", source=f"csv:{files}")

    result = runner.materialize(settings, *JAN, ["daily_bars_raw"])

    assert result.success
    steps = [e for e in result.all_events if e.step_key == "daily_bars_flow"]
    assert not [e for e in steps if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    landings = [m for m in result.asset_materializations_for_node("daily_bars_flow") if m.asset_key == RAW]
    metadata = landings[-1].metadata  # the run's figures: its last day
    assert metadata["quarantined_files"].value == 1
    assert "BROKEN.parquet" in metadata["quarantined_file_list"].value
    assert set(metadata["rows_per_symbol"].value) == {"AAPL", "MSFT"}
    with all_resources(settings) as resources:
        (file,) = resources.store.read_quarantined_files().itertuples()
    assert (file.path, file.symbol, file.size) == (str(files / "BROKEN.parquet"), "BROKEN", 24)
    assert file.reason.startswith("not readable as Parquet")

    (files / "BROKEN.parquet").unlink()  # fixed: the next run's list no longer has it
    assert runner.materialize(settings, *JAN, ["daily_bars_raw"]).success
    with all_resources(settings) as resources:
        assert resources.store.read_quarantined_files().empty


def test_with_bad_files_fail_the_step_fails_once_naming_the_file(tmp_path, dagster_home) -> None:
    files = tmp_path / "files"
    shutil.copytree(DATA / "yahoo", files)
    (files / "BROKEN.parquet").write_bytes(b"PAR1 this is not parquet")
    settings = load_settings(mode="bootstrap", home=tmp_path / "home", source=f"csv:{files}", source_bad_files="fail")

    result = runner.materialize(settings, *JAN, ["daily_bars_raw"])

    assert not result.success
    steps = [e for e in result.all_events if e.step_key == "daily_bars_flow"]
    assert not [e for e in steps if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]  # same answer every time
    [failure] = [e for e in steps if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "BROKEN.parquet" in str(failure.step_failure_data.user_failure_data.description)  # type: ignore[union-attr]


def test_materialize_names_the_file_in_one_line_before_a_run_or_after_it(tmp_path, dagster_home) -> None:
    files = tmp_path / "files"
    shutil.copytree(DATA / "yahoo", files)
    (files / "BROKEN.parquet").write_bytes(b"PAR1 this is not parquet")
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home"), "BACKBONE_SOURCE": f"csv:{files}"}

    failing = run_in_process({**env, "BACKBONE_SOURCE_BAD_FILES": "fail"}, "materialize", "--start", "2024-01-02")
    assert failing.returncode == 1
    [line] = failing.stderr.strip().splitlines()
    assert line.startswith(f"error: {files / 'BROKEN.parquet'}: not readable as Parquet")
    assert "materializing" not in failing.stdout  # no run was started

    done = run_in_process(env, "materialize", "--start", "2024-01-02", "--end", "2024-01-31")
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = [line for line in done.stdout.splitlines() if line.startswith("quarantined:")]
    assert f"{files / 'BROKEN.parquet'}: not readable as Parquet" in line


def test_a_missing_source_directory_stops_materialize_before_a_run(tmp_path, dagster_home) -> None:
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home")}
    env["BACKBONE_SOURCE"] = f"csv:{tmp_path / 'nowhere'}"

    done = run_in_process(env, "materialize", "--start", "2024-01-02", "--end", "2024-01-05")

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: BACKBONE_SOURCE=csv:{tmp_path / 'nowhere'}: directory {tmp_path / 'nowhere'} does not exist"
    ]
    assert "materializing" not in done.stdout  # no run was started
