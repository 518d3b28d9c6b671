"""Runs whose `backbone` process died (``kill -9``, the OOM killer, a closed laptop) are failed at the next start.

A CLI run executes inside the `backbone` process (``execute_in_process``): no run worker, so Dagster's run
monitoring never looks at it, and a process killed outright leaves its run STARTED in the UI for ever (issue
13, D9). Every CLI run carries its host and pid as tags; ``backbone materialize|check`` first marks failed the
STARTED runs of this host whose process is gone. A pid reused by an unrelated process keeps its run STARTED
until that process ends: never a live run failed.
"""

from __future__ import annotations

import os
import socket

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRunStatus

HOST_TAG = "backbone/host"
PID_TAG = "backbone/pid"


def process_tags() -> dict[str, str]:
    """The tags that let a later start tell whether this process still runs its run."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def fail_orphans(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every STARTED run of this host whose `backbone` process is gone; returns their ids."""
    started = instance.get_runs(
        filters=dg.RunsFilter(statuses=[DagsterRunStatus.STARTED], tags={HOST_TAG: socket.gethostname()})
    )
    failed = []
    for run in started:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid > 0 and not _alive(pid):
            instance.report_run_failed(run, f"the backbone process (pid {pid}) running it is gone; re-run the range")
            failed.append(run.run_id)
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds the pid now: not ours to judge
        return True
    return True
