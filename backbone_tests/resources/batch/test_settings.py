"""Batch settings reach the tier's engine."""

from __future__ import annotations

from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_batch


def test_bootstrap_exports_under_home_with_duckdb(tmp_path):
    engine = build_batch(load_settings(mode="bootstrap", home=tmp_path))
    assert type(engine).__name__ == "DuckDBBatch"
    assert engine.dataset_path("daily_bars") == f"{tmp_path.resolve()}/exports/daily_bars"


def test_institutional_spark_takes_master_conf_and_export_dir_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BACKBONE_SPARK_MASTER", "spark://10.0.0.5:7077")
    monkeypatch.setenv("BACKBONE_SPARK_CONF", '{"spark.executor.memory": "4g"}')
    monkeypatch.setenv("BACKBONE_EXPORT_DIR", str(tmp_path / "shared"))
    engine = build_batch(load_settings(mode="institutional", timescale_url="postgresql://u:p@127.0.0.1:1/x"))
    assert type(engine).__name__ == "SparkBatch"
    assert engine.master == "spark://10.0.0.5:7077"
    assert engine.spark.conf == {"spark.executor.memory": "4g"}
    assert engine.export_dir == str(tmp_path / "shared")
