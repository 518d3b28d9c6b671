"""Cache settings: Redis connection options (``BACKBONE_REDIS_*``) and the hot-cache policy (``BACKBONE_CACHE_*``).

Each knob is one field here; the backends hold these objects (``RedisHotCache.redis``, ``HotCache.policy``), so
a new option is a field here plus its use in the backend. The Redis URL itself stays ``BACKBONE_REDIS_URL`` on
the core settings because it takes part in tier detection. The password is hidden from ``repr`` and reaches
Redis only through a Dagster ``EnvVar`` when it came from the environment, or as the path of its file
(``BACKBONE_REDIS_PASSWORD_FILE``, read by the backend when it connects; ``env.with_env_vars``).
"""

from __future__ import annotations

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, field_validator

from backbone_resources.env import from_env_field

SECRET = {"secret": True}


class RedisSettings(dg.Config):
    """``BACKBONE_REDIS_<FIELD>``."""

    username: str | None = Field(None, description="ACL user (else the one in the URL, else default)")
    password: str | None = Field(
        None, description="ACL password (else the one in the URL)", repr=False, json_schema_extra=SECRET
    )
    password_file: str | None = Field(None, description="file holding the password, read at each connect")
    ssl_ca_certs: str | None = Field(None, description="CA bundle for rediss:// (else the system's)")
    ssl_certfile: str | None = Field(None, description="client certificate for mutual TLS")
    ssl_keyfile: str | None = Field(None, description="client key for mutual TLS")
    pool_size: int = Field(16, ge=1, le=1024, description="connections in the client's pool")
    socket_timeout_s: float = Field(2.0, gt=0, le=60, description="per-command socket timeout")
    connect_timeout_s: float = Field(2.0, gt=0, le=60, description="TCP/TLS connect timeout")


class CachePolicy(dg.Config):
    """``BACKBONE_CACHE_<FIELD>``: what every cache backend keeps and when its check warns (docs/cache.md)."""

    namespace: str = Field("backbone", description="prefix of every cache key; one per deployment")
    bars: int = Field(260, ge=1, le=10_000, description="latest bars kept per symbol")
    ttl_s: int = Field(7 * 86_400, ge=60, description="seconds a symbol's bars live after their last write")
    max_symbols: int = Field(5_000, ge=1, description="cached symbols; least recently used ones go first")
    hit_ratio_warn: float = Field(0.8, ge=0, le=1, description="hit ratio below which the check warns")
    min_reads: int = Field(20, ge=1, description="reads a check window needs before a ratio is judged")
    retry_delay_s: float = Field(3.0, ge=0, description="first wait before the cache asset retries (doubling)")

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not value or any(c in value for c in " :*?[]"):
            raise ValueError(f"{value!r} must be non-empty without spaces, ':' or glob characters")
        return value


class CacheSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    redis: RedisSettings = from_env_field(RedisSettings, "BACKBONE_REDIS_")
    policy: CachePolicy = from_env_field(CachePolicy, "BACKBONE_CACHE_")
