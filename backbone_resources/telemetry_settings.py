"""Telemetry settings (``BACKBONE_STATUS_DIR``, ``BACKBONE_METRICS_*``), typed and validated once.

Kept apart from the core settings so the telemetry code owns its knobs; ``BackboneSettings.telemetry`` nests
them. The Pushgateway URL may carry basic-auth credentials, so it is a ``SecretStr`` and only ever shown through
``redact_url``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from backbone_resources.env import SecretFileSettings

DEFAULT_METRICS_PORT = 9464


class TelemetrySettings(SecretFileSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    status_dir: Path | None = Field(None, description="where `backbone status` writes its files; $BACKBONE_HOME/status")
    metrics_pushgateway: SecretStr | None = Field(
        None, description="Pushgateway URL (http[s]://[user:pass@]host:9091); every `backbone status` pushes there"
    )
    metrics_port: int = Field(DEFAULT_METRICS_PORT, ge=1, le=65535, description="port of `backbone status --serve`")
    metrics_addr: str = Field("127.0.0.1", min_length=1, description="address `--serve` binds; 0.0.0.0 for scrapers")
    health_every_s: float = Field(
        300.0, gt=0, description="the longest gap between two health events the health sensor publishes"
    )

    @field_validator("metrics_pushgateway")
    @classmethod
    def _check_gateway(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value
