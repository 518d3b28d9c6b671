"""The secrets test: with a PostgreSQL password in each of its three forms, a Redis ACL user's password and Kafka
SASL credentials configured, every `backbone` command is run and everything it leaves behind is grepped —
stdout/stderr (and file descriptors 1/2), log records, every Dagster event and the run's snapshot, the status
files and the Prometheus text — for the secrets: none may appear.

tansu (the tests' broker) has an ``--authentication`` switch, but its SCRAM users live in its storage engine,
which is per process in memory: no SASL handshake succeeds here. SASL is therefore exercised as configuration
(settings, ``describe()``, the client options, doctor/status) with PLAINTEXT on the wire, and as a refused
connection (SASL_PLAINTEXT against a broker that does not speak it).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster._serdes import serialize_value
from psycopg import sql

from backbone_resources.settings import load_settings
from backbone_tests.fixtures.ports import free_port
from backbone_tests.ops.cli_runner import run_in_process, run_process

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.kafka]
DAYS = ("--start", "2024-01-02", "--end", "2024-01-05")
SELECT = "daily_bars_raw,daily_bars,weekly_bars,daily_bars_hot_cache,daily_bars_kafka"


def _secret(kind: str) -> str:
    return f"{kind}S3cret{secrets.token_hex(6)}"


@pytest.fixture
def pg_role(pg_admin_url: str) -> Iterator[tuple[str, str, str]]:
    """(role, password, database): a login role with a password owning a scratch database; both dropped."""
    role, password, db = (
        f"backbone_secret_{secrets.token_hex(4)}",
        _secret("pg"),
        f"backbone_secret_{secrets.token_hex(4)}",
    )
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(role)))
    try:
        yield role, password, db
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def redis_user(redis_server_url: str, redis_namespace: str) -> Iterator[tuple[str, str]]:
    """(user, password): a Redis ACL user limited to the test's namespace; deleted afterwards."""
    import redis

    user, password = f"backbone_secret_{secrets.token_hex(4)}", _secret("redis")
    admin = redis.Redis.from_url(redis_server_url)
    admin.execute_command("ACL", "SETUSER", user, "on", f">{password}", f"~{redis_namespace}*", "+@all")
    try:
        yield user, password
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()


def _pg_forms(role: str, password: str, db: str, port: int = 5432) -> dict[str, str]:
    return {
        "userinfo": f"postgresql://{role}:{password}@127.0.0.1:{port}/{db}",
        "query": f"postgresql://{role}@127.0.0.1:{port}/{db}?password={password}&sslmode=disable",
        "dsn": f"host=127.0.0.1 port={port} user={role} password={password} dbname={db} sslmode=disable",
    }


def _env(tmp_path: Path, pg_url: str, redis_url: str, redis_auth: dict[str, str], kafka: dict[str, str]) -> dict:
    return {
        "BACKBONE_MODE": "institutional",
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SYMBOLS": "AAPL,EURUSD",
        "BACKBONE_TIMESCALE_URL": pg_url,
        "BACKBONE_REDIS_URL": redis_url,
        **redis_auth,
        "BACKBONE_METRICS_PUSHGATEWAY": f"http://push:{_secret('push')}@127.0.0.1:{free_port()}",
        "BACKBONE_KAFKA_TOPIC": f"test.secrets.{secrets.token_hex(4)}",
        "BACKBONE_KAFKA_PARTITIONS": "2",
        "BACKBONE_KAFKA_REPLICATION_FACTOR": "1",
        "BACKBONE_KAFKA_SASL_MECHANISM": "PLAIN",
        "BACKBONE_KAFKA_SASL_USERNAME": "backbone",
        "BACKBONE_KAFKA_SASL_PASSWORD": _secret("sasl"),
        "BACKBONE_KAFKA_CONSUMER_CONFIG": '{"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}',
        **kafka,
    }


class Outputs:
    """Everything the commands left behind, as (where, text) pairs."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def run(self, env: dict[str, str], *args: str, process: bool = False) -> int:
        done = (run_process if process else run_in_process)(env, *args)
        self.texts.append((f"`backbone {' '.join(args)}`", f"{done.stdout}\n{done.stderr}"))
        return done.returncode

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def assert_none_of(self, found: list[str]) -> None:
        leaks = [(where, s) for where, text in self.texts for s in found if s in text]
        assert not leaks, f"secrets leaked: {leaks[:5]}"


def _secrets_of(env: dict[str, str]) -> list[str]:
    """The secrets as the settings see them; each must be findable in the raw settings, so a grep would catch it."""
    raw = "\n".join(env.values())
    found = load_settings_from(env).secrets()
    assert found
    assert all(s in raw for s in found), found
    return found


def load_settings_from(env: dict[str, str]):
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        return load_settings()


def _dagster_records(dagster_home: Path) -> str:
    """Every event of every run, each run's record and its job snapshot (resource config defaults), serialized."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        parts = []
        for run in instance.get_runs():
            parts.append(serialize_value(run))
            parts.extend(serialize_value(entry) for entry in instance.all_logs(run.run_id))
            if run.job_snapshot_id:
                parts.append(serialize_value(instance.get_job_snapshot(run.job_snapshot_id)))
        assert parts, "no run recorded: the Dagster grep would prove nothing"
        return "\n".join(parts)


def _grep_files(outputs: Outputs, directory: Path) -> None:
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        outputs.add(str(path), path.read_text(errors="replace"))


@pytest.mark.parametrize("form", ["userinfo", "query", "dsn"])
def test_no_command_output_log_event_status_file_or_metric_holds_a_secret(
    form, tmp_path, pg_role, redis_user, redis_server_url, redis_namespace, kafka_bootstrap, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    role, pg_password, db = pg_role
    user, redis_password = redis_user
    (tmp_path / "dagster").mkdir()
    if form == "userinfo":  # the ACL user in the URL; the others through BACKBONE_REDIS_USERNAME / _PASSWORD
        redis_url, redis_auth = f"redis://{user}:{redis_password}@127.0.0.1:6379/0", {}
    else:
        redis_url = "redis://127.0.0.1:6379/0"
        redis_auth = {"BACKBONE_REDIS_USERNAME": user, "BACKBONE_REDIS_PASSWORD": redis_password}
    kafka = {"BACKBONE_KAFKA_BOOTSTRAP": kafka_bootstrap, "BACKBONE_KAFKA_CONSUMER_GROUPS": "audit"}
    env = _env(
        tmp_path,
        _pg_forms(role, pg_password, db)[form],
        redis_url,
        {**redis_auth, **dict(BACKBONE_CACHE_NAMESPACE=redis_namespace)},
        kafka,
    )
    found = _secrets_of(env)
    assert pg_password in found
    assert redis_password in found
    out = Outputs()

    assert out.run(env, "doctor", process=form == "userinfo") == 0, out.texts[-1]
    assert out.run(env, "materialize", *DAYS, "--select", SELECT) == 0, out.texts[-1]
    out.run(env, "check")
    out.run(env, "check", "--json")
    assert out.run(env, "bars", "AAPL", "--last", "2") == 0, out.texts[-1]
    assert out.run(env, "cache", "ping") == 0, out.texts[-1]
    out.run(env, "cache", "stats")
    assert out.run(env, "rejected", *DAYS) == 0, out.texts[-1]
    assert out.run(env, "replay", *DAYS, "--symbols", "AAPL") == 0, out.texts[-1]
    assert out.run(env, "consume", "--group", "audit", "--handler", "print", "--idle-timeout", "1") == 0
    out.run(env, "status", "--out", str(tmp_path / "status"))  # exit 1: the Pushgateway is not listening
    assert "push to http://push:***@" in out.texts[-1][1]

    _grep_files(out, tmp_path / "status")
    assert (tmp_path / "status" / "metrics.prom").read_text().startswith("#")
    out.add("Dagster events, runs and snapshots", _dagster_records(tmp_path / "dagster"))
    out.add("log records", caplog.text + "\n".join(str(r.__dict__) for r in caplog.records))
    captured = capfd.readouterr()
    out.add("fd 1/2", captured.out + captured.err)
    out.assert_none_of(found)


def test_refused_connections_name_the_endpoint_never_the_secret(
    tmp_path, pg_role, redis_user, redis_server_url, redis_namespace, kafka_bootstrap, caplog, capfd
):
    """Nothing listens on the PostgreSQL port (a DSN), Redis refuses the password, the broker cannot do SASL."""
    caplog.set_level(logging.DEBUG)
    role, pg_password, db = pg_role
    user, _ = redis_user
    (tmp_path / "dagster").mkdir()
    redis_auth = {"BACKBONE_REDIS_USERNAME": user, "BACKBONE_REDIS_PASSWORD": _secret("wrong")}
    kafka = {
        "BACKBONE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BACKBONE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "BACKBONE_KAFKA_REQUEST_TIMEOUT_S": "2",  # a refusal is what is grepped, not how long it takes
    }
    dsn = _pg_forms(role, pg_password, db, port=free_port())["dsn"]
    env = _env(
        tmp_path, dsn, "redis://127.0.0.1:6379/0", {**redis_auth, "BACKBONE_CACHE_NAMESPACE": redis_namespace}, kafka
    )
    found = _secrets_of(env)
    out = Outputs()

    assert out.run(env, "doctor") == 1
    assert "host=127.0.0.1" in out.texts[-1][1]
    assert "password=***" in out.texts[-1][1]
    assert out.run(env, "materialize", *DAYS) == 1
    assert out.run(env, "bars", "AAPL") == 1
    assert out.run(env, "cache", "ping") == 1
    assert "refused the credentials" in out.texts[-1][1]
    assert out.run(env, "rejected", *DAYS) == 1
    assert out.run(env, "status", "--out", str(tmp_path / "status")) == 1
    _grep_files(out, tmp_path / "status")
    out.add("log records", caplog.text + "\n".join(str(r.__dict__) for r in caplog.records))
    captured = capfd.readouterr()
    out.add("fd 1/2", captured.out + captured.err)
    out.assert_none_of(found)
