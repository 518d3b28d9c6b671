"""`backbone status` as an operator runs it, settings from the environment, real services: in process (Click's
runner), and the long-running `--serve` endpoint as the console script, stopped by SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backbone_domain import health_messages
from backbone_domain.calendars import last_trading_day
from backbone_ops.status.measure import redact
from backbone_ops.status.publish import on_health_topic
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_stream
from backbone_tests.clock import AWKWARD_DAYS
from backbone_tests.fixtures.ports import free_port
from backbone_tests.ops.cli_runner import BACKBONE, run_in_process
from backbone_tests.resources.stream.conftest import KAFKA_TEST_PRODUCER, consumer_config_for

FLOW = "daily_bars_raw,daily_bars,daily_bars_hot_cache,daily_bars_kafka"
GROUP = "trading-runtime"
SUNDAY, _, NEW_YEAR = AWKWARD_DAYS  # yesterday a Saturday; yesterday the year's last session

_run = run_in_process


def _samples(text: str) -> dict[tuple[str, str], float]:
    """(name, the label other than tier) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            other = [v for k, v in s.labels.items() if k != "tier"]
            out[(s.name, other[0] if other else "")] = s.value
    return out


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    (tmp_path / "dagster").mkdir()
    return {
        "BACKBONE_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "BACKBONE_SYMBOLS": "EURUSD,GBPUSD,AAPL",
        "BACKBONE_KAFKA_CONSUMER_GROUPS": GROUP,
    }


def _recent_range(symbols: str, today: dt.date) -> tuple[str, str, str]:
    """The last ten days up to the newest complete one before the pinned ``today`` (fresh data, so a healthy
    status exits 0), and the newest bar those symbols' calendars hold in it: on a weekend or a holiday that is an
    earlier day than the end."""
    end = today - dt.timedelta(days=1)
    newest = max(last_trading_day(symbol, end) for symbol in symbols.split(","))
    return str(end - dt.timedelta(days=9)), str(end), str(newest)


def test_redact_masks_url_passwords_and_configured_secrets():
    settings = load_settings(
        mode="institutional", timescale_url="postgresql://u:pgpass@h/db", redis_url="redis://h:6379"
    )
    text = "failed at redis://:hunter2@10.0.0.1:6379/0 and\n again with pgpass inside"
    assert redact(text, settings) == "failed at redis://:***@10.0.0.1:6379/0 and again with *** inside"


class _Gateway(BaseHTTPRequestHandler):
    bodies: list[tuple[str, str]] = []

    def do_PUT(self) -> None:
        self.bodies.append((self.path, self.rfile.read(int(self.headers["Content-Length"])).decode()))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_bootstrap_status_prints_figures_writes_files_pushes_and_serves(env, tmp_path):
    boot = {**env, "BACKBONE_MODE": "bootstrap", "BACKBONE_TODAY": str(SUNDAY)}
    start, end, newest = _recent_range(env["BACKBONE_SYMBOLS"], SUNDAY)
    done = _run(boot, "materialize", "--start", start, "--end", end, "--select", FLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _run(boot, "bars", "AAPL", "--last", "3").returncode == 0  # one read: a cache hit
    failures = Path(env["BACKBONE_HOME"]) / "telemetry" / "run_failures.jsonl"
    failures.parent.mkdir(parents=True)
    row = {"run_id": "r1", "job_name": "daily_bars_job", "failed_at": f"{end}T06:00:00+00:00", "kind": "ingest"}
    failures.write_text(json.dumps({**row, "error": "source timed out"}) + "\n")

    gateway = HTTPServer(("127.0.0.1", 0), _Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    out = tmp_path / "status"
    try:
        status = _run(boot, "status", "--out", str(out), "--push", f"http://127.0.0.1:{gateway.server_port}")
    finally:
        gateway.shutdown()
        gateway.server_close()
    assert status.returncode == 0, status.stdout + status.stderr
    lines = dict(line.split(":", 1) for line in status.stdout.splitlines() if ":" in line[:14])
    assert f"newest bar {newest}, lag 0 trading day(s) (threshold 1" in lines["freshness"]
    assert "hit ratio 1.000 over 1 reads (1 hits, 0 misses" in lines["cache"]
    assert "0 rejected (rate 0.0000" in lines["latest run"]
    assert lines["run failures"].strip() == "1 (daily_bars_job 1)"
    assert lines["status"].strip() == "OK"

    doc = json.loads((out / "status.json").read_text())
    stored = doc["bars_stored"]
    assert doc["latest_run"]["rows_ingested"] == stored > 20
    [group] = doc["stream"]["groups"]
    assert (group["group"], group["total"], group["partitions"]) == (GROUP, stored, 6)
    assert 0 < group["max_partition"] < stored
    assert f"{GROUP}: {stored} total" in lines["consumer lag"]
    metrics = _samples((out / "metrics.prom").read_text())
    assert [metrics[("backbone_up", c)] for c in ("store", "cache", "stream", "batch")] == [1.0] * 4
    assert metrics[("backbone_consumer_lag_messages", GROUP)] == stored
    assert metrics[("backbone_run_failures_total", "daily_bars_job")] == 1.0
    assert "**OK**" in (out / "status.md").read_text()
    assert [path for path, _ in _Gateway.bodies] == [
        "/metrics/job/backbone/tier/bootstrap",
        "/metrics/job/daily_bars_job/source/backbone_run_failures/tier/bootstrap",
    ]
    failed = ("backbone_run_failures_total", "daily_bars_job")
    assert _samples(_Gateway.bodies[0][1]) == {k: v for k, v in metrics.items() if k != failed}
    assert _samples(_Gateway.bodies[1][1]) == {("backbone_run_failures_total", ""): 1.0}

    # the bridge catches up, then a long-running endpoint shows lag 0 on a real scrape and stops on SIGTERM
    assert _run(boot, "consume", "--group", GROUP, "--handler", "print", "--idle-timeout", "2").returncode == 0
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKBONE_")}
    server = subprocess.Popen(
        [BACKBONE, "status", "--out", str(out), "--serve", str(port), "--serve-for", "120", "--refresh", "0"],
        env={**clean, **boot},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        scraped = _scrape(f"http://127.0.0.1:{port}/metrics", server, deadline_s=60)
        assert _samples(scraped)[("backbone_consumer_lag_messages", GROUP)] == 0.0
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    assert server.returncode == 0, err
    assert "stopped serving" in err


def _scrape(url: str, server: subprocess.Popen[str], deadline_s: float) -> str:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            return urllib.request.urlopen(url, timeout=10).read().decode()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {deadline_s}s")


@pytest.mark.slow
def test_unreachable_endpoints_are_reported_redacted_and_the_files_still_written(env, tmp_path):
    down = {
        **env,
        "BACKBONE_MODE": "institutional",
        "BACKBONE_TIMESCALE_URL": "postgresql://u:hunter2@127.0.0.1:1/x",
        "BACKBONE_REDIS_URL": "redis://:hunter2@127.0.0.1:1/0",
        "BACKBONE_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "BACKBONE_KAFKA_CONFIG": '{"log_level": "0"}',  # librdkafka's connect retries are not the point here
        "BACKBONE_KAFKA_REQUEST_TIMEOUT_S": "2",  # nor is waiting the default 15 s for a refused connection
    }
    out = tmp_path / "status"
    status = _run(down, "status", "--out", str(out))
    assert status.returncode == 1, status.stdout + status.stderr
    lines = dict(line.split(":", 1) for line in status.stdout.splitlines() if ":" in line[:14])
    assert (
        "unavailable: cannot use the bar store at postgresql://u:***@127.0.0.1:1/x (BACKBONE_TIMESCALE_URL)"
        in lines["freshness"]
    )
    assert "unavailable: Redis at redis://:***@127.0.0.1:1/0 is not reachable (BACKBONE_REDIS_URL)" in lines["cache"]
    assert "unavailable: Kafka at 127.0.0.1:1 (BACKBONE_KAFKA_BOOTSTRAP)" in lines["consumer lag"]
    assert lines["status"].strip() == "DEGRADED: store unavailable; cache unavailable; stream unavailable"
    written = {p.name: p.read_text() for p in out.iterdir()}
    assert sorted(written) == ["metrics.prom", "status.json", "status.md"]
    assert "hunter2" not in status.stdout + status.stderr + "".join(written.values())
    metrics = _samples(written["metrics.prom"])
    assert [metrics[("backbone_up", c)] for c in ("store", "cache", "stream")] == [0.0] * 3
    assert ("backbone_freshness_lag_days", "") not in metrics
    assert json.loads(written["status.json"])["unavailable"] == ["store", "cache", "stream"]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.kafka
def test_institutional_status_on_postgres_redis_and_kafka(
    env, pg_database_url, redis_server_url, redis_namespace, kafka_bootstrap, tmp_path
):
    inst = {
        **env,
        "BACKBONE_MODE": "institutional",
        "BACKBONE_TIMESCALE_URL": pg_database_url,
        "BACKBONE_REDIS_URL": redis_server_url,
        "BACKBONE_CACHE_NAMESPACE": redis_namespace,
        "BACKBONE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BACKBONE_KAFKA_TOPIC": f"test.status.{secrets.token_hex(4)}",
        "BACKBONE_KAFKA_PARTITIONS": "3",
        "BACKBONE_KAFKA_REPLICATION_FACTOR": "1",
        "BACKBONE_KAFKA_PRODUCER_CONFIG": json.dumps(KAFKA_TEST_PRODUCER),  # tansu: exact lag needs 1 record a batch
        "BACKBONE_KAFKA_CONSUMER_CONFIG": json.dumps(consumer_config_for(kafka_bootstrap)),
        "BACKBONE_KAFKA_CONSUMER_GROUPS": f"{GROUP}-{secrets.token_hex(3)}",
        "BACKBONE_TODAY": str(NEW_YEAR),
    }
    start, end, newest = _recent_range(env["BACKBONE_SYMBOLS"], NEW_YEAR)
    done = _run(inst, "materialize", "--start", start, "--end", end, "--select", FLOW)
    assert done.returncode == 0, done.stdout + done.stderr
    for _ in range(3):
        assert _run(inst, "bars", "EURUSD", "--last", "2").returncode == 0
    out = tmp_path / "status"
    status = _run(inst, "status", "--out", str(out), "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    doc = json.loads(status.stdout)
    assert [(c["name"], c["state"]) for c in doc["components"]] == [
        ("store", "up"),
        ("cache", "up"),
        ("stream", "up"),
        ("batch", "up"),
    ]
    assert doc["components"][0]["detail"].startswith("postgresql postgresql://postgres@127.0.0.1")
    assert (doc["freshness"]["max_lag_days"], doc["freshness"]["newest_bar"]) == (0, newest)
    assert (doc["cache"]["backend"], doc["cache"]["hits"], doc["cache"]["hit_ratio"]) == ("redis", 3, 1.0)
    [group] = doc["stream"]["groups"]
    assert (doc["stream"]["backend"], group["total"], group["partitions"]) == ("kafka", doc["bars_stored"], 3)
    metrics = _samples((out / "metrics.prom").read_text())
    assert metrics[("backbone_consumer_lag_messages", group["group"])] == doc["bars_stored"]
    assert metrics[("backbone_cache_hit_ratio", "")] == 1.0
    assert json.loads((out / "status.json").read_text())["tier"] == "institutional"


def test_status_publish_puts_the_snapshot_it_wrote_on_the_health_topic(env, tmp_path):
    """`backbone status --publish` (a deployment without the daemon's health sensor): the event on the local log
    is the snapshot of status.json, not a second measurement."""
    done = _run(env, "status", "--publish", "--out", str(tmp_path / "out"))
    assert "published the health event to telemetry.ingest.health" in done.stderr
    written = json.loads((tmp_path / "out" / "status.json").read_text())
    settings = load_settings(mode="bootstrap", home=tmp_path / "home")
    health = build_stream(on_health_topic(settings))
    with health.consumer("reader") as consumer:
        [record] = consumer.poll(10, 1.0)
    event = health_messages.decode(record.value, record.headers)
    assert event.generated_at == written["generated_at"]
    assert event.to_dict() == written
