"""docker/compose.yaml is complete and consistent with backbone's settings, checked by parsing (no Docker engine
runs here): health checks, named volumes, interpolated variables, real BACKBONE_* settings, endpoints that name
services and ports that exist, and the Dagster wiring (workspace, instance config, code server command)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml
from dagster._config import validate_config
from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA

from backbone_resources.settings import load_settings
from backbone_tests.operations import stack

DAGSTER_SERVICES = ("dagster-code", "dagster-webserver", "dagster-daemon")


def test_every_service_has_a_healthcheck() -> None:
    for name, spec in stack.services().items():
        check = spec.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable"), name
        assert check.get("test"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_volumes_are_named_and_declared_and_bind_mounts_exist() -> None:
    declared = set(stack.compose()["volumes"])
    used: set[str] = set()
    for name, spec in stack.services().items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith(("./", "../", "/")):
                assert (stack.DOCKER / source).exists(), f"{name} mounts {source}, which is not in docker/"
            else:
                used.add(source)
    assert used == declared, f"used but undeclared: {used - declared}; declared but unused: {declared - used}"
    for stateful in ("timescaledb", "redis", "kafka", "prometheus", "grafana"):
        assert any(":" in v and not v.startswith(".") for v in stack.services()[stateful]["volumes"]), stateful


def test_every_interpolated_variable_is_in_env_example_and_nothing_else() -> None:
    used = stack.variables_in(stack.COMPOSE.read_text(encoding="utf-8"))
    listed = set(stack.env_example())

    assert used - listed == set(), "missing from docker/.env.example"
    assert listed - used == set(), "in docker/.env.example but unused"


def test_env_example_holds_placeholders_not_secrets() -> None:
    secrets = {k: v for k, v in stack.env_example().items() if "PASSWORD" in k}
    assert secrets, "no password variables found"
    assert all(v.startswith("change-me") for v in secrets.values()), secrets


def test_every_backbone_variable_is_a_real_setting() -> None:
    known = stack.setting_env_names()
    set_in_compose = {
        key for name in stack.services() for key in stack.environment(name) if key.startswith("BACKBONE_")
    }
    set_in_image = set(re.findall(r"\b(BACKBONE_[A-Z0-9_]+)=", (stack.DOCKER / "Dockerfile").read_text()))

    assert set_in_compose, "no BACKBONE_* variables found"
    assert set_in_compose - known == set(), "not a BackboneSettings field (docs/configuration.md)"
    assert set_in_image - known == set()


@pytest.mark.parametrize("service", [*DAGSTER_SERVICES, "backbone-metrics"])
def test_services_running_backbone_load_valid_institutional_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compose values (with .env.example's) pass the same validation a container's start does."""
    for key in [k for k in os.environ if k.startswith("BACKBONE_")]:
        monkeypatch.delenv(key)
    for key, value in stack.environment(service).items():
        monkeypatch.setenv(key, value)

    settings = load_settings()

    assert settings.tier().tier == "institutional"
    assert settings.require_timescale
    assert settings.stream.kafka.replication_factor == 1  # one broker in the stack
    assert settings.batch.spark.conf["spark.driver.host"] == "dagster-code"


def _host_port(endpoint: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    return parts.hostname or "", parts.port or default_port


@pytest.mark.parametrize(
    ("variable", "default_port"),
    [
        ("BACKBONE_TIMESCALE_URL", 5432),
        ("BACKBONE_REDIS_URL", 6379),
        ("BACKBONE_KAFKA_BOOTSTRAP", 9092),
        ("BACKBONE_SPARK_MASTER", 7077),
    ],
)
def test_institutional_endpoints_point_at_services_that_listen_there(variable: str, default_port: int) -> None:
    for service in DAGSTER_SERVICES:
        for endpoint in stack.environment(service)[variable].split(","):
            host, port = _host_port(endpoint, default_port)
            assert host in stack.services(), f"{variable} of {service} names {host}, not a service"
            assert port in stack.exposed_ports(host), f"{variable}: {host} does not listen on {port}"


def test_dagster_storage_points_at_the_database_service_and_its_variables_are_set() -> None:
    instance = (stack.DOCKER / "dagster" / "dagster.yaml").read_text(encoding="utf-8")
    wanted = set(re.findall(r"env:\s*([A-Z_][A-Z0-9_]*)", instance))
    assert wanted, "docker/dagster/dagster.yaml reads no environment variables"
    for service in (*DAGSTER_SERVICES, "timescaledb"):
        env = stack.environment(service)
        server_side = wanted - {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT"}  # what the init script needs
        missing = (server_side if service == "timescaledb" else wanted) - set(env)
        assert not missing, f"{service} lacks {missing}"
    host = stack.environment("dagster-code")["DAGSTER_PG_HOST"]
    port = int(stack.environment("dagster-code")["DAGSTER_PG_PORT"])
    assert port in stack.exposed_ports(host)
    init = stack.services()["timescaledb"]["volumes"]
    assert any("docker-entrypoint-initdb.d" in v for v in init), "nothing creates Dagster's database"


def test_workspace_points_at_the_code_server_the_image_starts() -> None:
    workspace = yaml.safe_load((stack.DOCKER / "dagster" / "workspace.yaml").read_text(encoding="utf-8"))
    result = validate_config(WORKSPACE_CONFIG_SCHEMA, workspace)
    assert result.success, result.errors
    grpc = workspace["load_from"][0]["grpc_server"]

    assert grpc["port"] in stack.exposed_ports(grpc["host"])
    cmd_line = re.search(r"^CMD (\[.*?\])$", (stack.DOCKER / "Dockerfile").read_text(), re.M | re.S)
    assert cmd_line, "no exec-form CMD in docker/Dockerfile"
    command = json.loads(cmd_line.group(1).replace("\\\n", ""))
    assert command[:3] == ["dagster", "code-server", "start"]
    assert command[command.index("--port") + 1] == str(grpc["port"])
    pyproject = tomllib.loads((stack.REPO / "pyproject.toml").read_text())["tool"]["dagster"]
    assert command[command.index("--module-name") + 1] == pyproject["module_name"]
    assert command[command.index("--location-name") + 1] == grpc["location_name"] == pyproject["code_location_name"]
    assert "code-server" not in str(stack.services()["dagster-code"].get("command", ""))  # the image's CMD runs


def test_dagster_services_share_instance_config_and_compute_logs() -> None:
    for service in DAGSTER_SERVICES:
        volumes = stack.services()[service]["volumes"]
        assert "./dagster/dagster.yaml:/opt/dagster/home/dagster.yaml:ro" in volumes, service
        assert any(v.startswith("dagster-storage:") for v in volumes), service
    assert "DAGSTER_HOME=/opt/dagster/home" in (stack.DOCKER / "Dockerfile").read_text()


def test_depends_on_targets_exist_and_wait_for_health() -> None:
    for name, spec in stack.services().items():
        for target, condition in (spec.get("depends_on") or {}).items():
            assert target in stack.services(), f"{name} depends on unknown {target}"
            assert target != name
            assert condition["condition"] in ("service_healthy", "service_started"), (name, target)


def test_the_bridge_consumes_as_the_group_whose_lag_is_measured() -> None:
    command = stack.services()["stream-bridge"]["command"]
    group = command[command.index("--group") + 1]

    assert command[:2] == ["backbone", "consume"]
    assert group in stack.environment("dagster-code")["BACKBONE_KAFKA_CONSUMER_GROUPS"].split(",")


def test_export_dir_is_shared_by_the_spark_driver_and_worker() -> None:
    export_dir = stack.environment("dagster-code")["BACKBONE_EXPORT_DIR"]
    for service in ("dagster-code", "spark-worker"):
        mounts = {v.split(":")[1]: v.split(":")[0] for v in stack.services()[service]["volumes"]}
        assert mounts.get(export_dir) == "exports", f"{service} does not mount the exports volume at {export_dir}"


def test_docker_compose_config_accepts_the_file(tmp_path) -> None:
    """The authoritative check, where the Compose plugin exists (it does not on the development machines)."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose (the Compose v2 plugin) is not installed: compose file checked by parsing only")
    result = subprocess.run(
        [docker, "compose", "-f", str(stack.COMPOSE), "--env-file", str(stack.ENV_EXAMPLE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
