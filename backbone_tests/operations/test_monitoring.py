"""The monitoring half of the stack: Prometheus scrapes services that exist, and the Grafana dashboard queries
exactly backbone's fixed metric names (shared with `backbone status`, docs/telemetry.md) through the
provisioned data source."""

from __future__ import annotations

import json
import re

import yaml

from backbone_tests.operations import stack

# The names every engineer uses (telemetry, dashboard, alerts); a rename breaks dashboards silently.
METRICS = {
    "backbone_up",
    "backbone_freshness_lag_days",
    "backbone_last_bar_timestamp_seconds",
    "backbone_bars_stored",
    "backbone_rows_ingested",
    "backbone_rejected_rate",
    "backbone_cache_hit_ratio",
    "backbone_consumer_lag_messages",
    "backbone_consumer_lag_max_messages",
    "backbone_run_failures_total",
    "backbone_status_generated_timestamp_seconds",
}
GRAFANA = stack.DOCKER / "grafana"


def _dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "backbone.json").read_text(encoding="utf-8"))


def _exprs(dashboard: dict) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_queries_exactly_the_fixed_metric_names() -> None:
    queried = {name for expr in _exprs(_dashboard()) for name in re.findall(r"\bbackbone_[a-z_]+\b", expr)}

    assert queried - METRICS == set(), "not a backbone metric name"
    assert METRICS - queried == set(), "metric without a panel"


def test_dashboard_panels_use_the_provisioned_prometheus() -> None:
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    source = provisioned["datasources"][0]
    dashboard = _dashboard()

    assert source["type"] == "prometheus"
    host, port = source["url"].removeprefix("http://").split(":")
    assert int(port) in stack.exposed_ports(host)
    assert dashboard["uid"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == source["uid"], panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"]["uid"] == source["uid"] for t in panel["targets"]), panel["title"]


def test_grafana_loads_the_dashboard_folder_it_mounts() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "backbone.yaml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in stack.services()["grafana"]["volumes"]}

    assert mounts[path] == "./grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"


def test_prometheus_scrapes_services_that_exist() -> None:
    config = yaml.safe_load((stack.DOCKER / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = [t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]

    assert {"pushgateway:9091", "backbone-metrics:9464"} <= set(targets)
    for target in targets:
        host, port = target.split(":")
        assert int(port) in stack.exposed_ports(host), target
    # backbone_run_failures_total carries the Dagster job as `job`: keep it rather than exported_job.
    assert all(job.get("honor_labels") for job in config["scrape_configs"])


def test_metrics_service_serves_on_the_port_prometheus_scrapes() -> None:
    env = stack.environment("backbone-metrics")
    command = stack.services()["backbone-metrics"]["command"]

    assert command[:2] == ["backbone", "status"]
    assert "--serve" in command
    assert env["BACKBONE_METRICS_ADDR"] == "0.0.0.0"  # inside the compose network, for Prometheus
    assert int(env["BACKBONE_METRICS_PORT"]) in stack.exposed_ports("backbone-metrics")
