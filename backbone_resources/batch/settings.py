"""Settings of the batch engine, read from ``BACKBONE_*`` variables like the rest of backbone.

``SparkSettings`` is what ``SparkBatch.spark`` holds: a new Spark option is a field here plus its use in the
engine. The export directory defaults to ``BACKBONE_HOME/exports``, resolved in ``tiers`` where the home is known.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from backbone_resources.env import from_env_field


class SparkSettings(dg.Config):
    """``BACKBONE_SPARK_<FIELD>``, and ``BACKBONE_JAVA_HOME``."""

    master: str = Field("local[*]", description="Spark master: local[*], spark://host:7077, yarn, k8s://...")
    conf: dict[str, str] = Field(
        default_factory=dict, description='free Spark config as JSON, e.g. {"spark.executor.memory": "4g"}'
    )
    java_home: str | None = Field(
        None,
        description="JAVA_HOME for the Spark driver (Java 17); unset = inherited",
        json_schema_extra={"env": "BACKBONE_JAVA_HOME"},
    )


class BatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    export_dir: Path | None = Field(None, description="root of the Parquet exports; unset = BACKBONE_HOME/exports")
    spark: SparkSettings = from_env_field(SparkSettings, "BACKBONE_SPARK_")
