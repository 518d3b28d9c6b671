"""Prometheus and markdown renderings of a snapshot; the textfile, a real HTTP scrape and a real Pushgateway PUT."""

from __future__ import annotations

import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backbone_domain.health import (
    CacheFigures,
    Component,
    Freshness,
    GroupLag,
    HealthSnapshot,
    LatestRun,
    RunFailures,
    StreamFigures,
)
from backbone_ops.status import prometheus, push, render
from backbone_resources.telemetry_settings import TelemetrySettings

GENERATED = "2026-11-30T12:00:00+00:00"


def full() -> HealthSnapshot:
    return HealthSnapshot(
        tier="institutional",
        tier_reason="BACKBONE_MODE=institutional",
        generated_at=GENERATED,
        components=[Component(n, "up", "x") for n in ("store", "cache", "stream", "batch")],
        freshness=Freshness("2026-11-29", "2026-11-27", 1, 1, 3, []),
        bars_stored=1234,
        latest_run=LatestRun("r1", GENERATED, "2026-11-27..2026-11-27", 95, 5, 0.05),
        cache=CacheFigures("redis", 30, 10, 3, 0.8, 20),
        stream=StreamFigures(
            "kafka",
            "market-data.daily-bars",
            10_000,
            [GroupLag("trading-runtime", 42, 17, 6, 12.5), GroupLag("replayer", 3, 3, 6, None)],
            900.0,
        ),
        failures=RunFailures({"daily_bars_job": 2}, []),
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_prometheus_text_parses_back_with_the_fixed_names_and_the_tier_label():
    got = samples(prometheus.render_text(full()))
    tier = ("tier", "institutional")
    assert got[("backbone_up", (("component", "cache"), tier))] == 1.0
    assert got[("backbone_freshness_lag_days", (tier,))] == 1.0
    assert got[("backbone_last_bar_timestamp_seconds", (tier,))] == 1795737600.0  # 2026-11-27T00:00Z
    assert got[("backbone_bars_stored", (tier,))] == 1234.0
    assert got[("backbone_rows_ingested", (tier,))] == 100.0
    assert got[("backbone_rejected_rate", (tier,))] == 0.05
    assert got[("backbone_cache_hit_ratio", (tier,))] == 0.75
    assert got[("backbone_consumer_lag_messages", (("group", "trading-runtime"), tier))] == 42.0
    assert got[("backbone_consumer_lag_max_messages", (("group", "trading-runtime"), tier))] == 17.0
    assert got[("backbone_consumer_lag_seconds", (("group", "trading-runtime"), tier))] == 12.5
    # a wait that could not be read is left out, never 0: 3 messages of unknown age are not "no lag"
    assert ("backbone_consumer_lag_seconds", (("group", "replayer"), tier)) not in got
    assert got[("backbone_consumer_lag_messages", (("group", "replayer"), tier))] == 3.0
    assert got[("backbone_run_failures_total", (("job", "daily_bars_job"), tier))] == 2.0
    assert got[("backbone_status_generated_timestamp_seconds", (tier,))] == 1796040000.0
    assert all(dict(labels).get("tier") == "institutional" for _, labels in got)


def test_an_unavailable_component_is_up_0_and_its_figures_are_absent_not_zero():
    snap = HealthSnapshot(
        tier="institutional",
        tier_reason="t",
        generated_at=GENERATED,
        components=[
            Component("store", "up", "x"),
            Component("cache", "unavailable", "Redis at redis://:***@127.0.0.1:1/0 is not reachable"),
            Component("stream", "disabled", "streaming disabled"),
        ],
    )
    got = samples(prometheus.render_text(snap))
    assert got[("backbone_up", (("component", "cache"), ("tier", "institutional")))] == 0.0
    assert not any(name == "backbone_up" and ("component", "stream") in labels for name, labels in got)
    names = {name for name, _ in got}
    assert not names & {"backbone_cache_hit_ratio", "backbone_consumer_lag_messages", "backbone_freshness_lag_days"}
    text = render.console(snap)
    assert "cache:        unavailable: Redis at redis://:***@127.0.0.1:1/0" in text
    assert "DEGRADED: cache unavailable" in text


def test_textfile_is_what_the_renderer_says(tmp_path):
    path = tmp_path / "metrics.prom"
    prometheus.write_textfile(full(), str(path))
    assert samples(path.read_text()) == samples(prometheus.render_text(full()))
    assert not list(tmp_path.glob("*.tmp*"))  # the temp file was renamed, not left behind


def test_markdown_has_the_verdict_and_every_figure():
    md = render.markdown(full())
    # 5% rejected is at the threshold, not over it; 0.75 over 40 reads is under the 0.8 hit ratio.
    assert "**DEGRADED: cache hit ratio 0.750 < 0.8**" in md
    for figure in ("lag 1 trading day(s)", "100 rows ingested", "hit ratio 0.750 over 40 reads", "trading-runtime: 42"):
        assert figure in md
    assert "oldest unconsumed 12.5 s (threshold 10000, 900 s," in md
    assert "replayer: 3 total, 3 max per partition over 6 partition(s), oldest unconsumed unknown" in md


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_a_real_scrape_and_re_measures_on_the_next_one():
    taken = []

    def measure() -> HealthSnapshot:
        taken.append(1)
        snap = full()
        return HealthSnapshot(**{**snap.__dict__, "bars_stored": 1234 + len(taken)})

    port = _free_port()
    stop = prometheus.serve(prometheus.RefreshingSource(measure, 0.0, full()), port, "127.0.0.1")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        first = urllib.request.urlopen(url, timeout=5).read().decode()
        second = urllib.request.urlopen(url, timeout=5).read().decode()
    finally:
        stop()
    key = ("backbone_bars_stored", (("tier", "institutional"),))
    assert (samples(first)[key], samples(second)[key]) == (1235.0, 1236.0)
    with pytest.raises(OSError, match="refused"):  # stopped means stopped
        urllib.request.urlopen(url, timeout=2)


def test_push_puts_one_group_for_backbone_and_one_per_failed_dagster_job_with_credentials_as_a_header():
    puts: list[tuple[str, str | None, str]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            puts.append((self.path, self.headers.get("Authorization"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        groups = push.push(full(), f"http://ops:s3cret@127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert groups == [
        "job=backbone/tier=institutional",
        "job=daily_bars_job/tier=institutional/source=backbone_run_failures",
    ]
    (main_path, auth, main_body), (failures_path, _, failures_body) = puts
    assert main_path == "/metrics/job/backbone/tier/institutional"
    assert failures_path == "/metrics/job/daily_bars_job/source/backbone_run_failures/tier/institutional"
    assert auth == "Basic b3BzOnMzY3JldA=="  # ops:s3cret, never in the address
    # the gateway overwrites a pushed `job` label: the failure count travels in its own job's group instead
    expected = samples(prometheus.render_text(full()))
    failures_key = ("backbone_run_failures_total", (("job", "daily_bars_job"), ("tier", "institutional")))
    assert samples(main_body) == {k: v for k, v in expected.items() if k != failures_key}
    assert samples(failures_body) == {("backbone_run_failures_total", (("tier", "institutional"),)): 2.0}


def test_settings_read_the_environment_and_refuse_a_non_http_gateway(monkeypatch):
    monkeypatch.setenv("BACKBONE_STATUS_DIR", "/var/lib/node_exporter/textfile")
    monkeypatch.setenv("BACKBONE_METRICS_PORT", "9999")
    monkeypatch.setenv("BACKBONE_METRICS_PUSHGATEWAY", "https://u:p@gw:9091")
    conf = TelemetrySettings()
    assert (str(conf.status_dir), conf.metrics_port, conf.metrics_addr) == (
        "/var/lib/node_exporter/textfile",
        9999,
        "127.0.0.1",
    )
    assert "p@" not in repr(conf)
    monkeypatch.setenv("BACKBONE_METRICS_PUSHGATEWAY", "gw:9091")
    with pytest.raises(ValueError, match="http"):
        TelemetrySettings()
