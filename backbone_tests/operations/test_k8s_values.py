"""deploy/k8s/ is consistent with backbone and with docker/dagster/dagster.yaml, checked by parsing (no cluster
here): every BACKBONE_* name is a real setting, the run queue has the same limits as the Docker instance, the
code location loads backbone_assets.definitions, every Secret/ConfigMap a pod names is defined, and the files
hold placeholders (`change-me`), never a secret."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import yaml

from backbone_tests.operations import stack

K8S = stack.REPO / "deploy" / "k8s"
PLACEHOLDER = "change-me"
_BACKBONE_NAME = re.compile(r"\bBACKBONE_[A-Z0-9_]+\b")
_SECRET_KEY = re.compile(r"password|passwd|token", re.IGNORECASE)
_REFERENCE_KEY = re.compile(r"(Key|Name)$|^existing")  # names a Secret or a key in it (existingSecretPasswordKey)


@cache
def documents() -> dict[str, list[dict[str, Any]]]:
    """Each file's YAML documents, comments gone (a name only mentioned in a comment is not set)."""
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for path in sorted(K8S.glob("*.yaml"))
    }


def values() -> dict[str, Any]:
    return documents()["dagster-values.yaml"][0]


def walk(node: object, key: str = "") -> list[tuple[str, object]]:
    """Every (key, scalar) pair under ``node``; list items keep the key of their list."""
    if isinstance(node, dict):
        return [pair for k, v in node.items() for pair in walk(v, str(k))]
    if isinstance(node, list):
        return [pair for item in node for pair in walk(item, key)]
    return [(key, node)]


def test_every_backbone_name_is_a_real_setting() -> None:
    text = json.dumps(documents())
    names = set(_BACKBONE_NAME.findall(text))
    assert {"BACKBONE_TIMESCALE_URL", "BACKBONE_KAFKA_BOOTSTRAP", "BACKBONE_SPARK_CONF"} <= names
    assert names - stack.setting_env_names() == set(), "not a backbone setting (docs/configuration.md)"


def test_run_limits_are_the_docker_instances() -> None:
    docker = yaml.safe_load((stack.DOCKER / "dagster" / "dagster.yaml").read_text(encoding="utf-8"))["concurrency"]
    chart = values()["concurrency"]
    daemon = values()["dagsterDaemon"]["runCoordinator"]

    assert chart["enabled"] is True
    assert (daemon["enabled"], daemon["type"]) == (True, "QueuedRunCoordinator")
    assert chart["runs"]["maxConcurrentRuns"] == docker["runs"]["max_concurrent_runs"]
    assert chart["runs"]["tagConcurrencyLimits"] == docker["runs"]["tag_concurrency_limits"]
    assert chart["pools"] == {
        "defaultLimit": docker["pools"]["default_limit"],
        "granularity": docker["pools"]["granularity"],
    }


def test_the_code_location_is_backbones_definitions_and_runs_launch_as_k8s_jobs() -> None:
    (deployment,) = values()["dagster-user-deployments"]["deployments"]
    args = deployment["codeServerArgs"]
    assert args[args.index("--module-name") + 1] == "backbone_assets.definitions"
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert values()["runLauncher"]["type"] == "K8sRunLauncher"


def test_every_secret_and_config_map_a_pod_names_is_defined() -> None:
    defined = {(doc["kind"], doc["metadata"]["name"]) for docs in documents().values() for doc in docs if "kind" in doc}
    named: set[tuple[str, str]] = set()
    for docs in documents().values():
        for doc in docs:
            named |= _env_sources(doc)
            named |= {("Secret", str(v)) for k, v in walk(doc) if k in ("existingSecret", "postgresqlSecretName")}
    named.discard(("Secret", "backbone-kafka-cluster-ca-cert"))  # made by Strimzi for the Kafka resource
    assert named, "no references found"
    assert named - defined == set()


def _env_sources(node: object) -> set[tuple[str, str]]:
    """(kind, name) of every envConfigMaps/envSecrets/configMapRef/secretRef/secretKeyRef entry under ``node``."""
    found: set[tuple[str, str]] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            kind = {"envConfigMaps": "ConfigMap", "configMapRef": "ConfigMap", "envSecrets": "Secret",
                    "secretRef": "Secret", "secretKeyRef": "Secret"}.get(key)  # fmt: skip
            items = value if isinstance(value, list) else [value]
            if kind:
                found |= {(kind, item["name"]) for item in items if isinstance(item, dict)}
            found |= _env_sources(value)
    elif isinstance(node, list):
        for item in node:
            found |= _env_sources(item)
    return found


def test_no_secret_is_written_down() -> None:
    pairs = [pair for docs in documents().values() for doc in docs for pair in walk(doc)]
    secrets = [
        (k, v) for k, v in pairs if isinstance(v, str) and _SECRET_KEY.search(k) and not _REFERENCE_KEY.search(k)
    ]
    urls = [v for _, v in pairs if isinstance(v, str) and "://" in v and urlsplit(v).password]
    stored = [
        v for docs in documents().values() for doc in docs if doc.get("kind") == "Secret"
        for v in doc.get("stringData", {}).values()
    ]  # fmt: skip

    assert secrets, "no password found: the file set changed shape"
    assert urls, "no URL with a password found"
    assert stored, "no Secret found"
    assert [k for k, v in secrets if v != PLACEHOLDER] == []
    assert [u for u in urls if urlsplit(u).password != PLACEHOLDER] == []
    assert [v for v in stored if PLACEHOLDER not in v] == []
    assert not any(doc.get("kind") == "Secret" and "data" in doc for docs in documents().values() for doc in docs)
