"""Reading a family's typed settings from ``BACKBONE_*`` variables, and handing secrets to Dagster as ``EnvVar``.

A family declares each knob once, as a field of a ``dagster.Config`` class (e.g. ``RedisSettings``); the backend
resource holds that object as a nested config field, so the Dagster UI shows the knobs the run used. The
variable of a field is the family's prefix plus the field name in capitals (``BACKBONE_REDIS_`` + ``pool_size``),
unless the field names its own (``json_schema_extra={"env": "BACKBONE_JAVA_HOME"}``). A field marked
``json_schema_extra={"secret": True}`` is passed to the resource as ``EnvVar`` when its value came from the
environment, so the UI shows the variable's name, never the value.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import dagster as dg
from pydantic import Field, ValidationError
from pydantic_settings import EnvSettingsSource

ENV_PREFIX = "BACKBONE_"
C = TypeVar("C", bound=dg.Config)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _extra(config: type[dg.Config], name: str, key: str) -> Any:
    extra = config.model_fields[name].json_schema_extra
    return extra.get(key) if isinstance(extra, dict) else None


def env_name(config: type[dg.Config], prefix: str, name: str) -> str:
    """The variable that sets field ``name`` of ``config``."""
    return _extra(config, name, "env") or f"{prefix}{name.upper()}"


def from_env(config: type[C], prefix: str) -> C:
    """``config`` with every field its variable sets; errors name the variable (SettingsError)."""
    values = EnvSettingsSource(config, env_prefix=prefix, case_sensitive=False)()  # type: ignore[arg-type]
    for name in config.model_fields:
        own = _extra(config, name, "env")
        if own and own in os.environ:
            values[name] = os.environ[own]
    try:
        return config(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(config, prefix, str(err['loc'][0]))}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None


def from_env_field(config: type[C], prefix: str) -> Any:
    """A settings field holding ``config`` read from the environment (``from_env``); the prefix is kept on the
    field so that every variable a settings model reads can be listed (``env_names``)."""
    return Field(default_factory=lambda: from_env(config, prefix), json_schema_extra={"env_prefix": prefix})


def env_names(config: type[dg.Config], prefix: str) -> set[str]:
    """Every variable that sets a field of ``config``."""
    return {env_name(config, prefix, name) for name in config.model_fields}


def value_or_env_var(variable: str, value: Any) -> Any:
    """An EnvVar when ``value`` came from ``variable``, so the UI shows the variable, not the value."""
    return dg.EnvVar(variable) if value and os.environ.get(variable) == value else value


def with_env_vars(settings: C, prefix: str) -> C:
    """``settings`` with each secret field that came from the environment replaced by its EnvVar."""
    config = type(settings)
    swapped = {
        name: value_or_env_var(env_name(config, prefix, name), getattr(settings, name))
        for name in config.model_fields
        if _extra(config, name, "secret")
    }
    return settings.model_copy(update=swapped) if swapped else settings
