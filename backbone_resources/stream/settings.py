"""Stream settings: the topic every backend keeps and Kafka's client options (``BACKBONE_KAFKA_*``), typed once.

Each knob is one field here; the backends hold these objects (``StreamResource.policy``, ``KafkaStream.kafka``),
so a new option is a field here plus its use in the backend. ``BACKBONE_KAFKA_BOOTSTRAP`` stays in the core
settings because tier auto-detection reads it. The SASL password is hidden from ``repr`` and reaches the client
only through a Dagster ``EnvVar`` when it came from the environment, or as the path of its file
(``BACKBONE_KAFKA_SASL_PASSWORD_FILE``, read when a client is built); never in ``describe()``, logs or metadata.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import dagster as dg
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backbone_resources.env import from_env_field

DEFAULT_TOPIC = "market-data.daily-bars"
DEFAULT_INTRADAY_TOPIC = "market-data.intraday-bars"
DEFAULT_HEALTH_TOPIC = "telemetry.ingest.health"
KAFKA_PREFIX = "BACKBONE_KAFKA_"
INTRADAY_PREFIX = "BACKBONE_INTRADAY_"
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Properties = Annotated[dict[str, str], NoDecode]  # librdkafka properties, a JSON object in the environment


class StreamPolicy(dg.Config):
    """``BACKBONE_KAFKA_<FIELD>``: the topic's name and shape, and the lag check, on every stream backend."""

    topic: str = Field(DEFAULT_TOPIC, min_length=1, max_length=249)
    partitions: int = Field(6, ge=1, le=10_000)
    consumer_groups: Annotated[list[str], NoDecode] = Field(default_factory=list)
    lag_warn: int = Field(10_000, ge=0, description="a group's total lag above which kafka_consumer_lag warns")
    lag_warn_s: float = Field(
        900.0, ge=0, description="seconds a group's oldest unconsumed message may wait before kafka_consumer_lag warns"
    )
    retry_delay_s: float = Field(10.0, ge=0, description="first wait before daily_bars_kafka republishes (doubling)")

    @field_validator("consumer_groups", mode="before")
    @classmethod
    def _split_groups(cls, value: object) -> object:
        if isinstance(value, str):
            return [g.strip() for g in value.split(",") if g.strip()]
        return value


class KafkaSettings(dg.Config):
    """``BACKBONE_KAFKA_<FIELD>``: how the Kafka clients connect and how a created topic is configured."""

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512")
    sasl_username: str | None = None
    sasl_password: str | None = Field(None, repr=False, json_schema_extra={"secret": True})
    sasl_password_file: str | None = Field(None, description="file holding the SASL password, read per client")
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    client_id: str = "backbone"
    # Free-form librdkafka properties: all clients, then producer- / consumer-only ones.
    config: Properties = Field(default_factory=dict)
    producer_config: Properties = Field(default_factory=dict)
    consumer_config: Properties = Field(default_factory=dict)
    replication_factor: int = Field(3, ge=1, le=32)
    topic_config: Properties = Field(
        default_factory=lambda: {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}
    )
    auto_create_topic: bool = True
    delivery_timeout_s: float = Field(120.0, gt=0)
    request_timeout_s: float = Field(15.0, gt=0, description="admin and metadata requests; an unreachable broker")

    @field_validator("config", "producer_config", "consumer_config", "topic_config", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        if isinstance(value, str):
            parsed = json.loads(value) if value.strip() else {}
            if not isinstance(parsed, dict):
                raise ValueError("must be a JSON object of librdkafka properties")
            return {str(k): str(v) for k, v in parsed.items()}
        return value


class IntradaySettings(dg.Config):
    """``BACKBONE_INTRADAY_<FIELD>``: the intraday bars' stream (docs/streaming.md, "Intraday bars").

    Off by default: a local run that only wants daily bars never publishes or reads a second topic. The topic
    lives on the same stream backend as the daily one (same partitions and Kafka settings), under its own name.
    """

    enabled: bool = Field(False, description="true: `backbone stream intraday` publishes; false: it says it is off")
    topic: str = Field(DEFAULT_INTRADAY_TOPIC, min_length=1, max_length=249)
    interval_minutes: int = Field(1, ge=1, le=240, description="length of a bar, from the session's open")
    check_tolerance: float = Field(
        0.0, ge=0, le=0.1, description="relative difference daily_bars_match_intraday still counts as equal"
    )


class StreamSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    streaming_enabled: bool = Field(True, description="false: daily_bars_kafka reports 'streaming disabled'")
    policy: StreamPolicy = from_env_field(StreamPolicy, KAFKA_PREFIX)
    kafka: KafkaSettings = from_env_field(KafkaSettings, KAFKA_PREFIX)
    intraday: IntradaySettings = from_env_field(IntradaySettings, INTRADAY_PREFIX)
    health_topic: str = Field(
        DEFAULT_HEALTH_TOPIC, min_length=1, max_length=249, description="BACKBONE_HEALTH_TOPIC: health snapshots"
    )

    def for_intraday(self) -> StreamSettings:
        """These settings with the intraday topic in place of the daily one: the tier's stream backend built from
        them publishes and consumes intraday bars, with every other knob unchanged."""
        return self._for_topic(self.intraday.topic)

    def for_health(self) -> StreamSettings:
        """These settings with the health topic in place of the daily one (docs/telemetry.md, "Health events")."""
        return self._for_topic(self.health_topic)

    def _for_topic(self, topic: str) -> StreamSettings:
        policy = StreamPolicy(**{**self.policy.model_dump(), "topic": topic})
        return self.model_copy(update={"policy": policy})
