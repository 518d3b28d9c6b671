"""The stack's knobs (``BACKBONE_STACK_*``): where it keeps its state and the loopback port of each process.

Ports are settings so two stacks (or a stack and the test suite's own servers) never collide; the defaults sit
above the machine's usual services (PostgreSQL 5432, Redis 6379, Kafka 9092, Dagster 3000).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

HOST = "127.0.0.1"  # the stack never listens on anything but loopback


class StackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_STACK_", extra="ignore", frozen=True)

    dir: Path = Field(Path(".stack"), description="state of the stack: data, logs, secrets, supervisord files")
    postgres_port: int = Field(15432, description="the stack's PostgreSQL primary (market data + Dagster storage)")
    replica_port: int = Field(15433, description="its streaming replica (BACKBONE_TIMESCALE_READ_URL)")
    redis_port: int = Field(16379, description="Redis (hot cache), password-protected")
    kafka_port: int = Field(19092, description="the Kafka-protocol broker")
    spark_master_port: int = Field(17077, description="Spark standalone master")
    spark_master_ui_port: int = Field(18080, description="Spark master web UI (and its /json status)")
    spark_worker_ui_port: int = Field(18081, description="first Spark worker's web UI; the second uses the next port")
    spark_worker_cores: int = Field(1, ge=1, description="cores each Spark worker offers")
    spark_worker_memory: str = Field("1g", description="memory each Spark worker offers")
    code_server_port: int = Field(14000, description="gRPC code server of the `backbone` location (pipeline)")
    watcher_server_port: int = Field(14001, description="gRPC code server of the `backbone-watchers` location")
    webserver_port: int = Field(13000, description="Dagster webserver (UI and GraphQL)")
    up_timeout_s: float = Field(110.0, gt=0, description="seconds `stack up` waits for every process to be healthy")

    @property
    def root(self) -> Path:
        return self.dir.resolve()
