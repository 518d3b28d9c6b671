"""The stack's description and docker/compose.yaml kept in step: the same processes, programs, settings and
Dagster instance. Parsed only (no process starts): a change to one file that the other misses fails here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backbone_ops.stack.services import INSTANCE_YAML, StackPaths, backbone_env, build_services
from backbone_ops.stack.settings import StackSettings
from backbone_tests.operations.stack import COMPOSE, compose, environment, services

# Compose services the loopback stack leaves out on purpose (docs/deployment.md): monitoring only.
NOT_ON_LOOPBACK = {"backbone-metrics", "pushgateway", "prometheus", "grafana"}
# Settings only one side sets, and why: compose takes the universe from .env (the stack passes the caller's
# BACKBONE_* through); the stack has a replica, a Redis ACL user, and no image to carry its paths and Java.
COMPOSE_ONLY = {"BACKBONE_START_DATE", "BACKBONE_SYMBOLS"}
STACK_ONLY = {
    "BACKBONE_TIMESCALE_READ_URL",
    "BACKBONE_REDIS_USERNAME",
    "BACKBONE_HOME",
    "BACKBONE_JAVA_HOME",
    "DAGSTER_HOME",
    "JAVA_HOME",
    "PYSPARK_PYTHON",
    "SPARK_LOCAL_IP",
}


@pytest.fixture(scope="module")
def stack_services():
    return build_services(StackSettings(dir=Path("/nonexistent/stack")))


def _setting(name: str) -> str:
    return name.removesuffix("_FILE")  # a secret's file variable stands for the secret


def test_every_compose_process_has_its_stack_process_and_no_other(stack_services):
    assert {s.compose for s in stack_services} == set(services()) - NOT_ON_LOOPBACK


def test_the_same_programs_run(stack_services):
    by_compose = {s.compose: s for s in stack_services}
    for name in ("spark-master", "spark-worker"):
        main_class = next(arg for arg in services()[name]["command"] if arg.startswith("org.apache.spark"))
        assert main_class in by_compose[name].command
    assert Path(by_compose["dagster-daemon"].command[0]).name == services()["dagster-daemon"]["command"][0]
    assert Path(by_compose["dagster-webserver"].command[0]).name == services()["dagster-webserver"]["command"][0]
    bridge = by_compose["stream-bridge"].command
    assert [Path(bridge[0]).name, *bridge[1:]] == services()["stream-bridge"]["command"]
    code = by_compose["dagster-code"].command
    assert code[1:3] == ("api", "grpc")  # compose's image runs `dagster code-server start`, the same server


def test_the_same_settings_reach_the_backbone_processes(monkeypatch):
    for name in [n for n in os.environ if n.startswith("BACKBONE_")]:  # the caller's choices pass through
        monkeypatch.delenv(name)
    cfg = StackSettings(dir=Path("/nonexistent/stack"))
    env, secret_env = backbone_env(cfg, StackPaths(cfg.root))
    ours = {_setting(k) for k in (*env, *secret_env)}
    theirs = set(environment("dagster-code"))
    assert theirs - ours == COMPOSE_ONLY
    assert ours - theirs == STACK_ONLY


def test_the_same_dagster_instance_file():
    mounted = [v.split(":")[0] for v in compose()["services"]["dagster-daemon"]["volumes"] if "dagster.yaml" in v]
    assert [(COMPOSE.parent / m).resolve() for m in mounted] == [INSTANCE_YAML]
