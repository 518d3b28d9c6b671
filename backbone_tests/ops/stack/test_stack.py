"""`backbone stack` for real: the deployed topology up on loopback, runs launched the way production launches them,
read back through GraphQL, and `down` leaving nothing behind.

One stack per module (about 35 s to healthy): the CLI is run as a user runs it, in a clean environment on free
ports, with the daily schedule due a minute or two after start. While the daemon waits for that tick, a run
launched through GraphQL stores a day without publishing it (a gap), which the replay sensor must answer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from backbone_ops.stack import lifecycle
from backbone_ops.stack.services import StackPaths, backbone_env
from backbone_ops.stack.settings import HOST, StackSettings
from backbone_tests.fixtures.missing import service_missing
from backbone_tests.fixtures.ports import free_port

pytestmark = [pytest.mark.stack, pytest.mark.slow]
BACKBONE = str(Path(sys.executable).with_name("backbone"))
PORTS = (
    "postgres_port",
    "replica_port",
    "redis_port",
    "kafka_port",
    "spark_master_port",
    "spark_master_ui_port",
    "code_server_port",
    "watcher_server_port",
    "webserver_port",
)
GAP_DAY = "2026-12-02"  # stored by a run that skips the publish: the replay sensor's gap
_DEADLINE_S = 330  # the tick is at most ~2 min away, then the daily run (~60 s with the Spark session)


def _prerequisites() -> None:
    from backbone_ops.stack import postgres_cluster

    try:
        postgres_cluster.bin_dir()
    except FileNotFoundError as exc:
        service_missing(str(exc))
    if shutil.which("redis-server") is None:
        service_missing("redis-server is not installed: the stack's Redis cannot start")
    if not Path("/usr/lib/jvm/java-17-openjdk-amd64/bin/java").exists():
        service_missing("Java 17 (/usr/lib/jvm/java-17-openjdk-amd64) is missing: Spark cannot start")


def _newest_weekday_partition_today() -> dt.date:
    """A pinned 'today' whose newest partition (the day before) is a weekday, so the tick's run has bars."""
    today = dt.datetime.now(dt.UTC).date()
    while (today - dt.timedelta(days=1)).weekday() >= 5:
        today -= dt.timedelta(days=1)
    return today


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        ports = {name: free_port() for name in PORTS}
        self.webserver = ports["webserver_port"]
        self.spark_ui = ports["spark_master_ui_port"]
        first = free_port()
        while not _port_free(first + 1):  # the second worker's UI is the next port
            first = free_port()
        self.worker_ui = (first, first + 1)
        self.cfg = StackSettings(dir=root, spark_worker_ui_port=first, **ports)
        now = dt.datetime.now(dt.UTC)
        self.tick = (now.replace(second=0, microsecond=0) + dt.timedelta(minutes=2)).strftime("%H:%M")
        self.today = _newest_weekday_partition_today()
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "BACKBONE_STACK_DIR": str(root),
            **{f"BACKBONE_STACK_{name.upper()}": str(port) for name, port in ports.items()},
            "BACKBONE_STACK_SPARK_WORKER_UI_PORT": str(self.worker_ui[0]),
            "BACKBONE_TODAY": str(self.today),
            "BACKBONE_START_DATE": str(self.today - dt.timedelta(days=28)),
            "BACKBONE_SCHEDULE_TIMEZONE": "UTC",
            "BACKBONE_DAILY_SCHEDULE_TIME": self.tick,
        }

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BACKBONE, "stack", *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.webserver}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.load(response)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def spark(self, port: int) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=5) as response:
            return json.load(response)

    def supervisord(self) -> psutil.Process | None:
        pidfile = self.root / "supervisord.pid"
        return psutil.Process(int(pidfile.read_text())) if pidfile.exists() else None


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening(port: int) -> bool:
    """Something accepts connections on the port (a closed server's port may still be in TIME_WAIT: not this)."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def stack():
    _prerequisites()
    # Not pytest's tmp_path: its 0700 parents keep out the postgres user that initdb and the servers run as.
    root = Path(tempfile.mkdtemp(prefix="backbone-stack-"))
    root.chmod(0o755)
    stack = Stack(root)
    up = stack.cli("up")
    stack.up_output = up.stdout + up.stderr  # type: ignore[attr-defined]
    try:
        assert up.returncode == 0, stack.up_output + _log_tails(stack.root)
        yield stack
    finally:
        stack.cli("down", timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _log_tails(root: Path) -> str:
    logs = sorted((root / "logs").glob("*.log"))
    return "".join(f"\n--- {p.name}\n" + "".join(p.read_text().splitlines(True)[-15:]) for p in logs)


RUNS = """{ runsOrError(limit: 20) { ... on Runs { results { runId jobName status
  tags { key value } stepStats { stepKey status } } } } }"""
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } } }"""
EVENTS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection(afterCursor: null) {
  events { __typename ... on MessageEvent { message } } } } } }"""
MATERIALIZATIONS = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
  assetMaterializations(limit: 5) { runId partition metadataEntries { label
    ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text }
    ... on JsonMetadataEntry { jsonString } } } } } }"""


def _tags(run: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in run["tags"]}


def test_up_brings_every_process_up_healthy(stack):
    """`up` itself fails when a process is not healthy within BACKBONE_STACK_UP_TIMEOUT_S (110 s); how long it
    takes is measured by benchmarks/stack_up.py, not asserted here."""
    assert "stack: healthy in" in stack.up_output
    status = stack.cli("status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    rows = [json.loads(line) for line in status.stdout.splitlines()]
    assert {r["name"] for r in rows} == {
        "postgres", "postgres-replica", "redis", "kafka", "spark-master", "spark-worker-1", "spark-worker-2",
        "dagster-code", "dagster-watchers", "dagster-webserver", "dagster-daemon", "bridge",
    }  # fmt: skip
    assert all(r["healthy"] and r["state"] == "RUNNING" for r in rows), rows
    # the workspace: two code locations, each its own gRPC server, both loaded
    entries = stack.graphql("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")[
        "workspaceOrError"
    ]["locationEntries"]
    assert {(e["name"], e["loadStatus"]) for e in entries} == {("backbone", "LOADED"), ("backbone-watchers", "LOADED")}


def _bridge_log(stack: Stack) -> str:
    return "".join(p.read_text(errors="replace") for p in sorted((stack.root / "logs").glob("bridge*.log")))


def test_rotating_postgres_and_redis_needs_no_code_change_and_leaks_no_secret(stack):
    """While the daemon waits for the tick: `stack rotate postgres redis`. The old passwords are refused, a fresh
    process reads the rewritten secret files, the bridge is back after its rolling restart, no secret is in a
    log; the scheduled run of the next test then connects with the new password. Kafka is not rotated: the
    stack's broker (tansu 0.6.0) cannot keep SCRAM users (runbook rotate-credentials.md); the SASL password file
    is proved in backbone_tests/resources/test_secret_files.py."""
    paths = StackPaths(stack.root)
    old = {"pg": paths.secret("pg_backbone"), "redis": paths.secret("redis_backbone")}
    bridge_pid = next(p.pid for p in lifecycle.status(stack.cfg) if p.name == "bridge")
    authenticated_before = _bridge_log(stack).count(": ping ")

    rotated = stack.cli("rotate", "postgres", "redis")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "restarted bridge" in rotated.stdout
    new = {"pg": paths.secret("pg_backbone"), "redis": paths.secret("redis_backbone")}
    assert new["pg"] != old["pg"]
    assert new["redis"] != old["redis"]
    assert all((paths.secrets / n).stat().st_mode & 0o077 == 0 for n in ("pg_backbone", "redis_backbone"))

    def pg(password: str) -> None:
        psycopg.connect(
            f"postgresql://backbone:{password}@{HOST}:{stack.cfg.postgres_port}/backbone", connect_timeout=5
        ).close()

    def cache(password: str) -> None:
        redis.Redis(host=HOST, port=stack.cfg.redis_port, username="backbone", password=password).ping()

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        pg(old["pg"])
    with pytest.raises(redis.AuthenticationError):
        cache(old["redis"])
    pg(new["pg"])
    cache(new["redis"])

    # a fresh process with the stack's environment (what a run sees) reads the files: store and cache answer
    env, _ = backbone_env(stack.cfg, paths)
    bars = subprocess.run(
        [BACKBONE, "bars", "AAPL", "--last", "1", "--json"],
        env={"PATH": os.environ["PATH"], "HOME": stack.env["HOME"], **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "ping" in bars.stderr, bars.stderr  # the cache authenticated
    assert "refused" not in bars.stderr
    assert "cannot use the bar store" not in bars.stderr

    bridge = next(p for p in lifecycle.status(stack.cfg) if p.name == "bridge")
    assert bridge.healthy
    assert bridge.pid != bridge_pid
    log = _bridge_log(stack)
    assert log.count(": ping ") == authenticated_before + 1
    assert "refused the credentials" not in log

    texts = {str(p): p.read_text(errors="replace") for p in (stack.root / "logs").rglob("*") if p.is_file()}
    texts |= {"stack rotate": rotated.stdout + rotated.stderr, "bars": bars.stdout + bars.stderr}
    leaks = [(where, name) for where, text in texts.items() for name, s in {**old, **new}.items() if s in text]
    assert not leaks, leaks
    stack.rotated = new  # type: ignore[attr-defined]


def test_the_daemon_launches_the_scheduled_run_its_export_runs_on_both_spark_workers_and_a_gap_is_replayed(stack):
    selector = {"repositoryLocationName": "backbone", "repositoryName": "__repository__", "jobName": "daily_bars_job"}
    gap = stack.graphql(
        LAUNCH,
        {
            "p": {
                "selector": {**selector, "assetSelection": [{"path": ["daily_bars_raw"]}, {"path": ["daily_bars"]}]},
                "runConfigData": {},
                "executionMetadata": {"tags": [{"key": "dagster/partition", "value": GAP_DAY}]},
            }
        },
    )["launchRun"]
    assert gap["__typename"] == "LaunchRunSuccess", gap
    assert gap["run"]["status"] == "QUEUED"  # the QueuedRunCoordinator: the daemon dequeues and launches it

    deadline = time.monotonic() + _DEADLINE_S
    scheduled = replay = None
    while time.monotonic() < deadline and not (scheduled and replay):
        runs = stack.graphql(RUNS)["runsOrError"]["results"]
        scheduled = next(
            (r for r in runs if _tags(r).get("dagster/schedule_name") == "daily_ingest_schedule" and r["status"]
             in ("SUCCESS", "FAILURE", "CANCELED")), None,
        )  # fmt: skip
        replay = next((r for r in runs if r["jobName"] == "kafka_replay_job" and r["status"] == "SUCCESS"), None)
        time.sleep(3)
    assert scheduled is not None, f"no scheduled run ended by the deadline (tick {stack.tick} UTC): {runs}"
    assert scheduled["status"] == "SUCCESS", scheduled
    expected_day = str(stack.today - dt.timedelta(days=1))
    assert _tags(scheduled)["dagster/partition"] == expected_day
    steps = {s["stepKey"]: s["status"] for s in scheduled["stepStats"]}
    assert steps["daily_bars_parquet"] == steps["daily_returns"] == "SUCCESS"

    # launched by the run launcher in a process of its own, not in the daemon, webserver or code server
    messages = [
        e.get("message", "")
        for e in stack.graphql(EVENTS, {"id": scheduled["runId"]})["runOrError"]["eventConnection"]["events"]
    ]
    pid = int(next(m for m in map(re.compile(r"Started process for run \(pid: (\d+)\)").search, messages) if m)[1])
    services = {p.pid for p in stack.supervisord().children()}
    assert pid not in services
    assert pid != os.getpid()

    # the export ran on the standalone cluster: an application with an executor on each of the two workers
    master = stack.spark(stack.spark_ui)
    assert master["url"].startswith("spark://127.0.0.1:")
    assert len(master["workers"]) == 2
    apps = {a["id"] for a in master["completedapps"] + master["activeapps"] if a["name"] == "backbone-batch"}
    executors = [
        {e["appid"] for e in stack.spark(port)["executors"] + stack.spark(port)["finishedexecutors"]}
        for port in stack.worker_ui
    ]
    assert apps & executors[0] & executors[1], (apps, executors)

    # the gap run stored the day without publishing it; the replay sensor started a replay of that day
    assert replay is not None, f"the replay sensor started no replay by the deadline: {runs}"
    assert _tags(replay)["dagster/sensor_name"] == "kafka_replay_sensor"
    assert _tags(replay)["backbone/replay_reason"].startswith("gap ")

    # what the scheduled run exported, read back through GraphQL
    parquet = stack.graphql(MATERIALIZATIONS, {"key": {"path": ["daily_bars_parquet"]}})["assetOrError"]
    ours = [m for m in parquet["assetMaterializations"] if m["runId"] == scheduled["runId"]]
    assert len(ours) == 1
    meta = {e["label"]: e.get("intValue") or e.get("text") or e.get("jsonString") for e in ours[0]["metadataEntries"]}
    assert meta["date_range"] == f"{expected_day}..{expected_day}"
    assert meta["rows_written"] > 0
    assert f"spark://127.0.0.1:{stack.env['BACKBONE_STACK_SPARK_MASTER_PORT']}" in meta["engine"]

    # the run after the rotation connected with the new password; no secret in any log, runs' included
    secrets = [StackPaths(stack.root).secret(n) for n in ("pg_backbone", "pg_dagster", "redis_backbone")]
    # every process's output (supervisord's logs) and the runs' compute logs under DAGSTER_HOME
    logs = [p for d in ("logs", "dagster") for p in (stack.root / d).rglob("*") if p.is_file()]
    assert [str(p) for p in logs if any(s in p.read_text(errors="replace") for s in secrets)] == []


def test_down_stops_exactly_what_up_started_and_leaves_nothing_behind(stack):
    supervisord = stack.supervisord()
    assert supervisord is not None
    started = [supervisord, *supervisord.children(recursive=True)]
    assert len(started) >= 13  # supervisord and its twelve programs (with their children)
    down = stack.cli("down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stray" not in down.stdout
    _, alive = psutil.wait_procs(started, timeout=5)
    assert alive == [], [(p.pid, p.cmdline()[:3]) for p in alive]
    listening = [n for n in PORTS if _listening(int(stack.env[f"BACKBONE_STACK_{n.upper()}"]))]
    assert listening == []
    after = stack.cli("status")
    assert after.returncode == 1
    assert "not running" in after.stdout
