"""Ctrl-C and SIGTERM while a run executes in this process: stopped within seconds, the run marked failed,
only whole chunks in the store.

Inside a step's work Dagster raises the interrupt at once and the chunk's open transaction rolls back. But
Dagster defers an interrupt that arrives while it records a step's events (a long range records one per day
and asset), and it retries an interrupted step whose asset has a retry policy. So a watchdog thread hears
every SIGINT/SIGTERM through ``signal.set_wakeup_fd`` (which reports signals whichever Python handler Dagster
has installed), and when the process is still running ``GRACE_S`` later it records the run as failed and ends
the process. No chunk is half-written by that: a chunk is one transaction, and a transaction still open when
the process ends is rolled back by the database.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from backbone_ops.exit_codes import INTERRUPTED as EXIT_INTERRUPTED

GRACE_S = 3.0
STOPPED = "stopped by Ctrl-C/SIGTERM; every chunk written is whole: re-run the range to finish"
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


@contextmanager
def stop_promptly(instance: dg.DagsterInstance, run_id: str, grace_s: float = GRACE_S) -> Iterator[None]:
    """Around ``execute_in_process(run_id=run_id)`` on the main thread (elsewhere: no signal handling)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    done = threading.Event()
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    # Before the run starts and after it ends, Dagster's handlers are not installed: SIGTERM does what Ctrl-C does.
    previous_term = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda signo, frame: signal.getsignal(signal.SIGINT)(signo, frame))
    watchdog = threading.Thread(
        target=_watch, args=(instance, run_id, grace_s, read_end, done), name="backbone-interrupts", daemon=True
    )
    watchdog.start()
    try:
        yield
    finally:
        done.set()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGTERM, previous_term)
        watchdog.join()
        os.close(read_end)
        os.close(write_end)


def _watch(instance: dg.DagsterInstance, run_id: str, grace_s: float, signals: int, done: threading.Event) -> None:
    heard_at: float | None = None
    while not done.is_set():
        ready, _, _ = select.select([signals], [], [], 0.2)
        heard = set(os.read(signals, 512)) if ready else set()
        if heard_at is None and _STOP_SIGNALS & heard:
            heard_at = time.monotonic()
        if heard_at is not None and time.monotonic() - heard_at >= grace_s and not done.is_set():
            run = instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                instance.report_run_failed(run, STOPPED)
            print(f"interrupted: run {run_id} is marked failed; {STOPPED}", file=sys.stderr, flush=True)
            os._exit(EXIT_INTERRUPTED)


def interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Whether the run stopped because of Ctrl-C or SIGTERM inside a step."""
    return any(
        failure.event_specific_data.error.cls_name == "DagsterExecutionInterruptedError"  # type: ignore[union-attr]
        for failure in result.get_step_failure_events()
    )
