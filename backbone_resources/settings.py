"""Typed settings read from the environment once, validated at start.

Every setting is a ``BACKBONE_*`` variable. Errors name the variable, so a mistyped date or an institutional
tier without its database URL fails before any run starts instead of deep inside a step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from backbone_domain.bars import SYMBOL_PATTERN
from backbone_domain.pipeline import CHUNK_BARS
from backbone_domain.redaction import secrets_in
from backbone_resources.batch.settings import BatchSettings
from backbone_resources.cache.settings import CacheSettings
from backbone_resources.env import ENV_PREFIX, SecretFileSettings, SettingsError
from backbone_resources.schedule_settings import ScheduleSettings
from backbone_resources.stream.settings import StreamSettings
from backbone_resources.telemetry_settings import TelemetrySettings

Tier = Literal["bootstrap", "institutional"]
__all__ = ["ENV_PREFIX", "BackboneSettings", "SettingsError", "TierChoice", "load_settings"]


@dataclass(frozen=True)
class TierChoice:
    tier: Tier
    reason: str


class BackboneSettings(SecretFileSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    mode: Tier | None = Field(None, description="bootstrap | institutional; unset = auto-detect")
    home: Path = Field(Path(".backbone"), description="where the bootstrap tier keeps its files")
    source: str = Field("synthetic", description="synthetic | csv:<dir> | yahoo")
    symbols: Annotated[list[str], NoDecode] = Field(default_factory=list, description="comma list")
    source_symbol_map: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="file name=SYMBOL pairs, comma-separated, for files not named by symbol"
    )
    vanished_rows: Literal["keep", "retire"] = Field(
        "keep", description="a stored bar the source no longer has: keep serving it (reported) or retire it"
    )
    version_retention_days: int | None = Field(
        None, ge=0, description="days a superseded bar version is kept after it was replaced; unset: forever"
    )
    source_bad_files: Literal["quarantine", "fail"] = Field(
        "quarantine", description="a file set aside whole: quarantine it and go on, or fail the run naming it"
    )
    start_date: dt.date = Field(dt.date(2000, 1, 3), description="first daily partition")
    today: dt.date | None = Field(None, description="pinned 'today' (UTC); the newest partition is the day before")
    seed: int = Field(42, description="seed of the synthetic source")
    chunk_days: int | None = Field(None, ge=1, le=3660, description="days a chunk spans; unset: from chunk_bars")
    chunk_bars: int = Field(CHUNK_BARS, ge=1_000, description="bars a backfill chunk holds in memory at most")
    progress_every_s: float = Field(5.0, gt=0, description="seconds between progress lines of a long step")
    run_executor: Literal["in_process", "multiprocess"] = Field(
        "in_process", description="how a launched run executes its steps: one process, or a process a step"
    )

    timescale_url: SecretStr | None = None
    timescale_read_url: SecretStr | None = Field(None, description="a streaming replica for the store's reads")
    timescale_read_max_wait_s: float = Field(
        1.0, ge=0, le=60, description="how long a read waits for the replica to catch up before the primary"
    )
    dagster_pg_url: SecretStr | None = Field(None, description="PostgreSQL for the CLI's Dagster instance")
    require_timescale: bool = Field(False, description="fail when the timescaledb extension is missing")
    pg_pool_size: int = Field(4, ge=1, le=64)
    pg_connect_timeout_s: float = Field(10.0, gt=0, le=300, description="how long the store waits for PostgreSQL")
    store_retry_delay_s: float = Field(10.0, ge=0, description="first wait before a store/source step retries")
    redis_url: SecretStr | None = None
    kafka_bootstrap: str | None = None
    cache: CacheSettings = Field(default_factory=CacheSettings, description="BACKBONE_REDIS_* and BACKBONE_CACHE_*")
    stream: StreamSettings = Field(default_factory=StreamSettings, description="BACKBONE_KAFKA_* and the flag")
    batch: BatchSettings = Field(default_factory=BatchSettings, description="BACKBONE_SPARK_* and BACKBONE_EXPORT_DIR")
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings, description="BACKBONE_SCHEDULE*, _BACKFILL_*")
    telemetry: TelemetrySettings = Field(
        default_factory=TelemetrySettings, description="BACKBONE_STATUS_DIR, _METRICS_*"
    )

    freshness_max_lag_days: int = Field(1, ge=0, description="trading days the newest bar may lag")
    rejected_rate_warn: float = Field(0.05, ge=0, le=1, description="rejected share that warns")

    @field_validator("symbols", mode="before")
    @classmethod
    def _split_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            return [s.strip().upper() for s in value.split(",") if s.strip()]
        return value

    @field_validator("source_symbol_map", mode="before")
    @classmethod
    def _split_symbol_map(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        malformed = [name for name, sep, symbol in pairs if not sep or not name.strip() or not symbol.strip()]
        if malformed:
            raise ValueError(f"expected 'file name=SYMBOL' pairs, comma-separated; got {', '.join(malformed)}")
        return {name.strip(): symbol.strip().upper() for name, _, symbol in pairs}

    @field_validator("source_symbol_map")
    @classmethod
    def _check_mapped_symbols(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [s for s in value.values() if not SYMBOL_PATTERN.match(s)]
        if bad:
            raise ValueError(f"not a symbol: {', '.join(bad)}")
        return value

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, value: list[str]) -> list[str]:
        bad = [s for s in value if not SYMBOL_PATTERN.match(s)]
        if bad:
            raise ValueError(f"not a symbol: {', '.join(bad)}")
        return value

    @field_validator("source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if value in ("synthetic", "yahoo") or (value.startswith("csv:") and len(value) > 4):
            return value
        raise ValueError(f"{value!r} is not one of synthetic, csv:<dir>, yahoo")

    def tier(self) -> TierChoice:
        """The tier and why: explicit mode wins; otherwise institutional only when every endpoint is set."""
        if self.mode is not None:
            return TierChoice(self.mode, f"{ENV_PREFIX}MODE={self.mode}")
        endpoints = {
            "BACKBONE_TIMESCALE_URL": self.timescale_url,
            "BACKBONE_REDIS_URL": self.redis_url,
            "BACKBONE_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
        }
        missing = [name for name, value in endpoints.items() if not value]
        if not missing:
            return TierChoice("institutional", "BACKBONE_MODE unset and every institutional endpoint is set")
        return TierChoice("bootstrap", f"BACKBONE_MODE unset and {', '.join(missing)} not set")

    def secrets(self) -> list[str]:
        """Every secret these settings hold, as literals to remove from any text a client or server echoes: the
        passwords of each connection URL or DSN, the Redis and SASL passwords, and secret librdkafka options."""
        urls = (
            self.timescale_url,
            self.timescale_read_url,
            self.dagster_pg_url,
            self.redis_url,
            self.telemetry.metrics_pushgateway,
        )
        found = [s for url in urls if url is not None for s in secrets_in(url.get_secret_value())]
        kafka = self.stream.kafka
        options = " ".join(
            f"{k}={v}" for conf in (kafka.config, kafka.producer_config, kafka.consumer_config) for k, v in conf.items()
        )
        bare = [self.cache.redis.password, kafka.sasl_password, *secrets_in(options)]
        return [*found, *(s for s in bare if s)]

    def require(self, name: str) -> str:
        """The value of an endpoint the chosen tier needs, or an error naming its variable."""
        value = getattr(self, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value:
            tier = self.tier()
            raise SettingsError(
                f"{ENV_PREFIX}{name.upper()} is not set, but the {tier.tier} tier needs it ({tier.reason})"
            )
        return value


def load_settings(**overrides: object) -> BackboneSettings:
    """Settings from the environment (overrides win), with errors that name the variable."""
    try:
        return BackboneSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid settings: {problems}") from None
