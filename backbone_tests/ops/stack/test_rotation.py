"""Credential rotation on a running stack (docs/operations/runbooks/rotate-credentials.md), with real processes:
the part of the stack the bridge needs (PostgreSQL, Redis, the broker, the bridge) on free ports in tmp_path,
`backbone stack rotate postgres redis`, then: the old passwords are refused, a fresh `backbone` process (the next
run) works with the rewritten secret files, the bridge is back and authenticated after its rolling restart, and
no secret, old or new, is in any log of the stack or in the command's output.

Kafka is not rotated here: the stack's broker (tansu 0.6.0) cannot keep SCRAM users (see the runbook); the SASL
password file is proved in backbone_tests/resources/test_secret_files.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis
from click.testing import CliRunner

from backbone_ops.cli import main
from backbone_ops.stack import lifecycle, postgres_cluster
from backbone_ops.stack.services import REPO, StackPaths, backbone_env
from backbone_ops.stack.settings import HOST, StackSettings
from backbone_tests.fixtures.missing import service_missing
from backbone_tests.fixtures.ports import free_port

pytestmark = [pytest.mark.slow]
PORTS = ("postgres", "replica", "redis", "kafka", "spark_master", "spark_master_ui", "spark_worker_ui")
PORTS += ("code_server", "watcher_server", "webserver")


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch):
    """The bridge and what it needs, up; always down afterwards. Its directory is under /tmp, not pytest's
    tmp_path: the postgres OS user must reach the data directory, and pytest's base directory is 0700."""
    if shutil.which("redis-server") is None:
        service_missing("redis-server is not installed")
    if not (postgres_cluster.BIN / "postgres").exists():
        service_missing(f"PostgreSQL 15 is not installed ({postgres_cluster.BIN})")
    root = Path(tempfile.mkdtemp(prefix="backbone-rotation-"))
    root.chmod(0o755)
    env = {"BACKBONE_STACK_DIR": str(root / "stack")}
    env |= {f"BACKBONE_STACK_{name.upper()}_PORT": str(free_port()) for name in PORTS}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the stack's processes run this tree's code
    cfg = StackSettings()
    try:
        lifecycle.up(cfg, ["bridge"], say=lambda _: None)
        yield cfg
    finally:
        lifecycle.down(cfg, say=lambda _: None)
        shutil.rmtree(root, ignore_errors=True)


def _backbone(cfg: StackSettings, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh `backbone` process with the stack's environment: what the next run sees."""
    env, _ = backbone_env(cfg, StackPaths(cfg.root))
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_")}
    argv = [sys.executable, "-c", "from backbone_ops.cli import main; main()", *args]
    return subprocess.run(argv, env={**inherited, **env}, capture_output=True, text=True, timeout=60, check=False)


def _bridge_log(cfg: StackSettings) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((cfg.root / "logs").glob("bridge*.log")))


def test_rotating_postgres_and_redis_needs_no_code_change_and_leaks_no_secret(stack: StackSettings):
    paths = StackPaths(stack.root)
    old = {"pg": paths.secret("pg_backbone"), "redis": paths.secret("redis_backbone")}
    bridge_pid = next(p.pid for p in lifecycle.status(stack) if p.name == "bridge")
    authenticated_before = _bridge_log(stack).count(": ping ")

    rotated = CliRunner().invoke(main, ["stack", "rotate", "postgres", "redis"], catch_exceptions=False)
    assert rotated.exit_code == 0, rotated.output
    assert "restarted bridge" in rotated.output
    new = {"pg": paths.secret("pg_backbone"), "redis": paths.secret("redis_backbone")}
    assert new["pg"] != old["pg"]
    assert new["redis"] != old["redis"]
    assert all((paths.secrets / n).stat().st_mode & 0o077 == 0 for n in ("pg_backbone", "redis_backbone"))

    # The old passwords are refused, the new ones accepted.
    def pg(password: str) -> None:
        url = f"postgresql://backbone:{password}@{HOST}:{stack.postgres_port}/backbone"
        psycopg.connect(url, connect_timeout=5).close()

    def cache(password: str) -> None:
        redis.Redis(host=HOST, port=stack.redis_port, username="backbone", password=password).ping()

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg(old["pg"])
    with pytest.raises(redis.AuthenticationError):
        cache(old["redis"])
    pg(new["pg"])
    cache(new["redis"])

    # The next run: a fresh process reads the secret files; the store and the cache both answer it.
    bars = _backbone(stack, "bars", "AAPL", "--last", "1", "--json")
    assert bars.returncode == 2, bars.stderr
    assert "holds no bars yet" in bars.stderr  # the store answered
    assert "ping" in bars.stderr  # the cache authenticated
    assert "refused" not in bars.stderr

    # The bridge was restarted once and authenticated against Redis with the new password.
    bridge = next(p for p in lifecycle.status(stack) if p.name == "bridge")
    assert bridge.healthy
    assert bridge.pid != bridge_pid
    log = _bridge_log(stack)
    assert log.count(": ping ") == authenticated_before + 1
    assert "refused the credentials" not in log

    # No secret, old or new, in any log of the stack or in what the commands printed.
    texts = {str(p): p.read_text(errors="replace") for p in (stack.root / "logs").rglob("*") if p.is_file()}
    texts |= {"stack rotate": rotated.output, "bars": bars.stdout + bars.stderr}
    leaks = [(where, name) for where, text in texts.items() for name, s in {**old, **new}.items() if s in text]
    assert not leaks, leaks
