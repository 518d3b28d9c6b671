"""A run whose `backbone` process was killed outright is marked failed by the next start, and only such a run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from backbone_ops import orphans
from backbone_ops.runner import PROJECT_DAGSTER_YAML


def _started_run(instance: dg.DagsterInstance, pid: int) -> str:
    run = DagsterRun(job_name="daily_bars_job", status=DagsterRunStatus.STARTED, tags={**orphans.process_tags()})
    run = run.with_tags({**run.tags, orphans.PID_TAG: str(pid)})
    instance.add_run(run)
    return run.run_id


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_start_fails_the_runs_of_dead_processes_only(tmp_path, monkeypatch) -> None:
    shutil.copyfile(PROJECT_DAGSTER_YAML, tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with dg.DagsterInstance.get() as instance:
        dead = _started_run(instance, _dead_pid())
        alive = _started_run(instance, os.getpid())

        assert orphans.fail_orphans(instance) == [dead]

        assert instance.get_run_by_id(dead).status == DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        assert instance.get_run_by_id(alive).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]
        assert orphans.fail_orphans(instance) == []  # idempotent
