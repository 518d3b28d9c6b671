"""`backbone stack up` to healthy, `status`, and `down` to nothing left: the deployed topology's start-up on this
machine (issue 16: under 2 minutes), measured through the CLI as a user runs it.

Each round starts a fresh stack in a new directory on free loopback ports (a first `up` includes initdb and the
replica's clone), times `up` until every process is healthy, `status`, a second `up` on the running stack (a
no-op), and `down`; it checks that no process of the stack is left.

    python -m benchmarks.stack_up [--rounds 3]

Prints one JSON line per round, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from backbone_ops.stack.settings import StackSettings
from backbone_tests.fixtures.ports import free_port

BACKBONE = str(Path(sys.executable).with_name("backbone"))


def _env(root: Path) -> dict[str, str]:
    first = free_port()
    ports = {f"BACKBONE_STACK_{n.upper()}": str(free_port()) for n in StackSettings.model_fields if n.endswith("_port")}
    ports["BACKBONE_STACK_SPARK_WORKER_UI_PORT"] = str(first)  # the second worker takes first + 1
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "BACKBONE_STACK_DIR": str(root)}
    return base | ports


def _timed(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.monotonic()
    done = subprocess.run([BACKBONE, "stack", *args], env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - began, done


def round_once() -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="backbone-stack-bench-"))
    root.chmod(0o755)  # the postgres OS user must reach its data directory
    env = _env(root)
    load_before = os.getloadavg()[0]
    try:
        up_s, up = _timed(env, "up")
        if up.returncode != 0:
            raise SystemExit(f"up failed:\n{up.stdout}{up.stderr}")
        status_s, status = _timed(env, "status")
        again_s, _ = _timed(env, "up")
        supervisord = psutil.Process(int((root / "supervisord.pid").read_text()))
        started = [supervisord, *supervisord.children(recursive=True)]
        down_s, _ = _timed(env, "down")
        _, alive = psutil.wait_procs(started, timeout=5)
    finally:
        subprocess.run([BACKBONE, "stack", "down"], env=env, capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
    return {
        "up_to_healthy_s": round(up_s, 1),
        "status_s": round(status_s, 1),
        "status_healthy": status.returncode == 0,
        "second_up_s": round(again_s, 1),
        "down_s": round(down_s, 1),
        "processes": len(started),
        "left_behind": len(alive),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    for _ in range(parser.parse_args().rounds):
        print(json.dumps(round_once()), flush=True)


if __name__ == "__main__":
    main()
