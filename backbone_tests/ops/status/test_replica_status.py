"""`backbone status` with a read replica (BACKBONE_TIMESCALE_READ_URL): its lag in the console, status.json,
status.md and metrics.prom, against the session's real primary and hot standby; nothing at all without one."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from backbone_domain import health_messages
from backbone_tests.fixtures.postgres_replica import APP_PASSWORD, ReplicatedPostgres
from backbone_tests.ops.cli_runner import run_in_process


def _env(tmp_path: Path, pg: ReplicatedPostgres) -> dict[str, str]:
    (tmp_path / "dagster").mkdir(exist_ok=True)
    return {
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_MODE": "institutional",
        "BACKBONE_SYMBOLS": "AAPL",
        "BACKBONE_STREAMING_ENABLED": "false",
        "BACKBONE_TIMESCALE_URL": pg.primary_url,
    }


def test_status_reports_the_replica_lag_and_nothing_without_a_replica(
    replicated_postgres: ReplicatedPostgres, tmp_path: Path
) -> None:
    pg = replicated_postgres
    env = {**_env(tmp_path, pg), "BACKBONE_TIMESCALE_READ_URL": pg.replica_url}
    pg.caught_up()
    with pg.replay_paused():
        pg.wal_written_on_primary()
        status = run_in_process(env, "status", "--out", str(tmp_path / "status"))

    files = {p.name: p.read_text() for p in (tmp_path / "status").iterdir()}
    doc = json.loads(files["status.json"])
    replica = doc["replica"]
    assert replica["state"] == "up"
    assert replica["bytes_behind"] > 0
    assert replica["seconds"] >= 0
    assert replica["endpoint"] == pg.replica_url.replace(APP_PASSWORD, "***")
    line = next(line for line in status.stdout.splitlines() if line.startswith("read replica:"))
    assert f"{replica['bytes_behind']} byte(s) of WAL behind" in line
    assert "| read replica |" in files["status.md"]
    metrics = {s.name: s.value for f in text_string_to_metric_families(files["metrics.prom"]) for s in f.samples}
    assert metrics["backbone_replica_lag_bytes"] == replica["bytes_behind"]
    assert metrics["backbone_replica_lag_seconds"] == replica["seconds"]
    assert APP_PASSWORD not in status.stdout + status.stderr + "".join(files.values())
    assert health_messages.from_dict(json.loads(files["status.json"])).replica is not None  # the health event too

    plain = run_in_process(_env(tmp_path, pg), "status", "--out", str(tmp_path / "plain"))
    assert json.loads((tmp_path / "plain" / "status.json").read_text())["replica"] is None
    assert "read replica" not in plain.stdout + (tmp_path / "plain" / "metrics.prom").read_text()
    assert "backbone_replica_lag" not in (tmp_path / "plain" / "metrics.prom").read_text()
