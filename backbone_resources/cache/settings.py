"""Cache settings: Redis connection options and the hot-cache policy, read from ``BACKBONE_*`` variables.

Kept apart from the core settings so the cache family owns its knobs; ``BackboneSettings.cache`` nests them.
The Redis URL itself stays ``BACKBONE_REDIS_URL`` on the core settings because it takes part in tier detection.
Secrets are ``SecretStr``: they print as ``**********`` and reach Redis only through Dagster ``EnvVar``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CacheSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    redis_username: str | None = Field(None, description="ACL user (else the one in the URL, else default)")
    redis_password: SecretStr | None = Field(None, description="ACL password (else the one in the URL)")
    redis_ssl_ca_certs: str | None = Field(None, description="CA bundle for rediss:// (else the system's)")
    redis_ssl_certfile: str | None = Field(None, description="client certificate for mutual TLS")
    redis_ssl_keyfile: str | None = Field(None, description="client key for mutual TLS")
    redis_pool_size: int = Field(16, ge=1, le=1024, description="connections in the client's pool")
    redis_socket_timeout_s: float = Field(2.0, gt=0, le=60, description="per-command socket timeout")
    redis_connect_timeout_s: float = Field(2.0, gt=0, le=60, description="TCP/TLS connect timeout")

    cache_namespace: str = Field("backbone", description="prefix of every cache key; one per deployment")
    cache_bars: int = Field(260, ge=1, le=10_000, description="latest bars kept per symbol")
    cache_ttl_s: int = Field(7 * 86_400, ge=60, description="seconds a symbol's bars live after their last write")
    cache_max_symbols: int = Field(5_000, ge=1, description="cached symbols; least recently used ones go first")
    cache_hit_ratio_warn: float = Field(0.8, ge=0, le=1, description="hit ratio below which the check warns")
    cache_min_reads: int = Field(20, ge=1, description="reads a check window needs before a ratio is judged")

    @field_validator("cache_namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not value or any(c in value for c in " :*?[]"):
            raise ValueError(f"{value!r} must be non-empty without spaces, ':' or glob characters")
        return value
