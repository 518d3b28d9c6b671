"""Reading a family's typed settings from ``BACKBONE_*`` variables, and handing secrets to Dagster as ``EnvVar``.

A family declares each knob once, as a field of a ``dagster.Config`` class (e.g. ``RedisSettings``); the backend
resource holds that object as a nested config field, so the Dagster UI shows the knobs the run used. The
variable of a field is the family's prefix plus the field name in capitals (``BACKBONE_REDIS_`` + ``pool_size``),
unless the field names its own (``json_schema_extra={"env": "BACKBONE_JAVA_HOME"}``). A field marked
``json_schema_extra={"secret": True}`` is passed to the resource as ``EnvVar`` when its value came from the
environment, so the UI shows the variable's name, never the value.

Secret files (the Docker-secrets convention): ``<VARIABLE>_FILE`` names a file whose content is the secret's
value, read each time settings are loaded, so every run (each run worker loads them afresh) sees a rotated file.
Dagster has no file counterpart of ``EnvVar``, so a file-sourced secret reaches a resource as the file's *path*
(its ``<field>_file`` field, shown in the UI) and the backend reads the file when it connects (``secret``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypeVar, get_args

import dagster as dg
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

ENV_PREFIX = "BACKBONE_"
FILE_SUFFIX = "_FILE"
C = TypeVar("C", bound=dg.Config)


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _extra(config: type[dg.Config], name: str, key: str) -> Any:
    extra = config.model_fields[name].json_schema_extra
    return extra.get(key) if isinstance(extra, dict) else None


def secret_file(variable: str) -> str | None:
    """The path ``<variable>_FILE`` names, if set."""
    return os.environ.get(variable + FILE_SUFFIX) or None


def read_secret_file(path: str, variable: str) -> str:
    """The secret in ``path`` (one trailing newline dropped); SettingsError naming ``variable`` when unreadable
    or empty. The message never holds the content."""
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SettingsError(f"{variable}: cannot read the secret file {path}: {reason}") from None
    if not value:
        raise SettingsError(f"{variable}: the secret file {path} is empty")
    return value


def secret_from_file(variable: str) -> str | None:
    """The value of secret ``variable`` read now from the file ``<variable>_FILE`` names, or None when that is
    unset. Setting both the variable and its file is ambiguous and refused."""
    path = secret_file(variable)
    if path is None:
        return None
    if variable in os.environ:
        raise SettingsError(f"both {variable} and {variable}{FILE_SUFFIX} are set: keep one")
    return read_secret_file(path, variable + FILE_SUFFIX)


def secret(value: str | None, path: str | None, variable: str) -> str | None:
    """What a backend connects with: the value it was given, else the content of its secret file, read now."""
    return value or (read_secret_file(path, variable + FILE_SUFFIX) if path else None)


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
        if _extra(config, name, "secret") and (value := secret_from_file(env_name(config, prefix, name))):
            values[name] = value
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
    """``settings`` as a resource gets them: each secret field that came from the environment replaced by its
    EnvVar, and one that came from a file emptied, its ``<field>_file`` holding the path the backend reads."""
    config = type(settings)
    swapped: dict[str, Any] = {}
    for name in config.model_fields:
        if not _extra(config, name, "secret"):
            continue
        variable = env_name(config, prefix, name)
        path = secret_file(variable)
        if path is not None and f"{name}_file" in config.model_fields:
            swapped |= {name: None, f"{name}_file": path}
        else:
            swapped[name] = value_or_env_var(variable, getattr(settings, name))
    return settings.model_copy(update=swapped) if swapped else settings


def endpoint(variable: str, value: str, field: str) -> dict[str, Any]:
    """Keyword arguments handing a secret endpoint to a resource's ``field``: its EnvVar (from the environment),
    the path of its file in ``<field>_file`` (from ``<variable>_FILE``), or the value itself (set in code)."""
    path = secret_file(variable)
    if path is not None:
        return {f"{field}_file": path}
    return {field: value_or_env_var(variable, value)}


class SecretFiles(PydanticBaseSettingsSource):
    """A settings source: ``<PREFIX><FIELD>_FILE`` for every ``SecretStr`` field of a ``BaseSettings`` model, the
    file read when the settings are loaded (``SecretFileSettings`` adds it)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        prefix = self.settings_cls.model_config.get("env_prefix", "")
        found = {}
        for name, info in self.settings_cls.model_fields.items():
            if info.annotation is SecretStr or SecretStr in get_args(info.annotation):
                value = secret_from_file(f"{prefix}{name}".upper())
                if value is not None:
                    found[name] = value
        return found


class SecretFileSettings(BaseSettings):
    """A ``BaseSettings`` whose ``SecretStr`` fields may also come from the file ``<PREFIX><FIELD>_FILE`` names,
    read when the settings are loaded (``SecretFiles``, after the constructor's arguments)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, SecretFiles(settings_cls), env_settings, dotenv_settings, file_secret_settings
