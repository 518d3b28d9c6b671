"""The `backbone` command in process (Click's runner) or as a separate process, with the same result shape.

In process is the default: no interpreter start, no re-import of the asset graph. The environment is what a user
would have: every inherited ``BACKBONE_*`` variable removed, the test's own set (and the pinned "today",
backbone_tests/clock.py, unless the test sets its own), all restored afterwards. A few tests per command still
start the console script, to prove the installed entry point works end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from backbone_ops.cli import main
from backbone_tests.clock import PINNED

BACKBONE = str(Path(sys.executable).parent / "backbone")


def run_in_process(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: None for k in os.environ if k.startswith("BACKBONE_")}
    result = CliRunner().invoke(main, list(args), env={**inherited, **PINNED, **env}, catch_exceptions=False)
    return subprocess.CompletedProcess(["backbone", *args], result.exit_code, result.stdout, result.stderr)


def run_process(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_")}
    return subprocess.run(
        [BACKBONE, *args], env={**clean, **PINNED, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )
