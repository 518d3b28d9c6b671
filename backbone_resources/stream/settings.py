"""Stream settings (``BACKBONE_KAFKA_*`` and ``BACKBONE_STREAMING_ENABLED``), typed and validated once.

Kept apart from the core settings so the stream family owns its knobs; ``BACKBONE_KAFKA_BOOTSTRAP`` stays in
the core settings because tier auto-detection reads it. The SASL password is a ``SecretStr``: it only leaves
this object when a client is configured, never in ``describe()`` output, logs or metadata.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_TOPIC = "market-data.daily-bars"
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class StreamSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    streaming_enabled: bool = Field(True, description="false: daily_bars_kafka reports 'streaming disabled'")
    kafka_topic: str = Field(DEFAULT_TOPIC, min_length=1, max_length=249)
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_location: str | None = None
    kafka_ssl_certificate_location: str | None = None
    kafka_ssl_key_location: str | None = None
    kafka_client_id: str = "backbone"
    # Free-form librdkafka properties as JSON objects: all clients, then producer- / consumer-only ones.
    kafka_config: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    kafka_producer_config: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    kafka_consumer_config: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    kafka_partitions: int = Field(6, ge=1, le=10_000)
    kafka_replication_factor: int = Field(3, ge=1, le=32)
    kafka_topic_config: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=lambda: {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}
    )
    kafka_auto_create_topic: bool = True
    kafka_consumer_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    kafka_lag_warn: int = Field(10_000, ge=0, description="a group's total lag above which kafka_consumer_lag warns")
    kafka_delivery_timeout_s: float = Field(120.0, gt=0)

    @field_validator(
        "kafka_config", "kafka_producer_config", "kafka_consumer_config", "kafka_topic_config", mode="before"
    )
    @classmethod
    def _json_object(cls, value: object) -> object:
        if isinstance(value, str):
            parsed = json.loads(value) if value.strip() else {}
            if not isinstance(parsed, dict):
                raise ValueError("must be a JSON object of librdkafka properties")
            return {str(k): str(v) for k, v in parsed.items()}
        return value

    @field_validator("kafka_consumer_groups", mode="before")
    @classmethod
    def _split_groups(cls, value: object) -> object:
        if isinstance(value, str):
            return [g.strip() for g in value.split(",") if g.strip()]
        return value
