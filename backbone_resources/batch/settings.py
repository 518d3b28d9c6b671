"""Settings of the batch engine, read from ``BACKBONE_*`` variables like the rest of backbone.

A separate class so the batch family owns its knobs; ``BackboneSettings.batch`` holds one. The export
directory defaults to ``BACKBONE_HOME/exports``, resolved in ``tiers.build_batch`` where the home is known.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    spark_master: str = Field("local[*]", description="Spark master: local[*], spark://host:7077, yarn, k8s://...")
    spark_conf: dict[str, str] = Field(
        default_factory=dict, description='free Spark config as JSON, e.g. {"spark.executor.memory": "4g"}'
    )
    export_dir: Path | None = Field(None, description="root of the Parquet exports; unset = BACKBONE_HOME/exports")
    java_home: Path | None = Field(None, description="JAVA_HOME for the Spark driver (Java 17); unset = inherited")
