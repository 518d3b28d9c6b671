"""The deployment stack's files, read the way Docker Compose reads them, for the tests of this package.

No Docker engine runs on the development machines, so the tests parse instead: PyYAML for the compose file
(anchors and ``<<`` merges included), the ``.env`` format for ``.env.example``, and Compose's interpolation
rules (``${VAR}``, ``$$`` for a literal ``$``) for the values the containers will see.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from backbone_resources.env import env_names
from backbone_resources.settings import BackboneSettings

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


@cache
def env_example() -> dict[str, str]:
    """KEY=VALUE lines of docker/.env.example (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def variables_in(text: str) -> set[str]:
    """Names Compose interpolates in ``text`` (``$$`` is an escaped ``$`` for the container, not a variable)."""
    return {m.group(1) or m.group(2) for m in _VARIABLE.finditer(text) if m.group(0) != "$$"}


def interpolate(value: object, env: dict[str, str]) -> str:
    """``value`` as the container sees it: variables replaced from ``env``, ``$$`` turned into ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env[match.group(1) or match.group(2)]

    return _VARIABLE.sub(replace, str(value))


def environment(service: str) -> dict[str, str]:
    """The service's environment after interpolation with .env.example (list or mapping form)."""
    raw = services()[service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(value, env_example()) for key, value in raw.items()}


def exposed_ports(service: str) -> set[int]:
    """Container ports the service listens on: its ``expose`` entries and the container side of ``ports``."""
    spec = services()[service]
    ports = {int(p) for p in spec.get("expose", [])}
    for mapping in spec.get("ports", []):
        ports.add(int(str(mapping).rsplit(":", 1)[1].split("/")[0]))
    return ports


def setting_env_names(model: type[BaseSettings] = BackboneSettings, prefix: str | None = None) -> set[str]:
    """Every environment variable a settings model reads, nested settings models included (they read the
    same ``BACKBONE_`` prefix with their own field names)."""
    prefix = model.model_config.get("env_prefix", "") if prefix is None else prefix
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= setting_env_names(annotation)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and not extra:
            names |= setting_env_names(annotation, prefix)  # a plain holder of family settings (CacheSettings)
        elif "env_prefix" in extra:  # a family's typed settings, read with their own prefix (env.from_env_field)
            names |= env_names(annotation, str(extra["env_prefix"]))  # type: ignore[arg-type]
        else:
            names.add(f"{prefix}{name}".upper())
    return names
