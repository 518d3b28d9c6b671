"""The institutional batch engine: Apache Spark through dagster-pyspark, on any master.

``master`` is ``local[*]`` by default; ``spark://``, ``yarn`` and ``k8s://`` masters work unchanged when the
export directory is storage every executor sees (a shared mount, or an ``hdfs://`` / ``s3a://`` URI).
The session is created on first use, not at resource start-up, so runs that never export start no JVM; it
is then reused for the life of the process (``getOrCreate``), which is what keeps tests to one JVM.

Partition replacement is Spark's ``partitionOverwriteMode=dynamic``: an overwrite replaces exactly the
(symbol, year) partitions present in the written frame (static mode would wipe the whole dataset).

Same files on a re-run: each (symbol, year) goes to one task, sorted by (symbol, year, ts), which is the
order the partitioned writer requires, so Spark adds no sort of its own and writes the rows in ts order
(the same bytes each run). Spark names files after its write job (``part-00003-<job uuid>.c000...``), so
after the commit each new file is renamed to ``part-<n>.<ext>`` (n counts the files of that directory),
through the Hadoop FileSystem API so that HDFS/S3 work and local ``.crc`` side files follow.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import pandas as pd
from pydantic import Field

from backbone_resources.batch import queries
from backbone_resources.batch.base import (
    COVERAGE_COLUMNS,
    BatchEngine,
    BatchUnavailable,
    Dataset,
    DatasetProfile,
    versions_frame,
)
from backbone_resources.batch.settings import SparkSettings
from backbone_resources.probe import Probe, probing

log = logging.getLogger(__name__)
_VIEW = {"daily_bars": "bars", "daily_returns": "returns"}
# Settings both engines' results depend on; spark_conf may add to them but should not change these.
SPARK_DEFAULTS = {
    "spark.app.name": "backbone-batch",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # symbol stays text ("1234" is a ticker, not a number); year is cast where the view is made.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Not about results but cost: writes count on adaptive execution to shrink each shuffle to the data's
    # size (a small export would otherwise run spark.sql.shuffle.partitions near-empty tasks per shuffle).
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}
# part-<split>-<job uuid>[.c<file>]<ext>, as Spark's commit protocol names what a write job produces.
_JOB_FILE = re.compile(r"^part-(?P<split>\d+)-[0-9a-f]{8}-[0-9a-f-]{27}(?:\.c(?P<file>\d+))?(?P<ext>\..+)$")
Listing = tuple[tuple[str, int, int], ...]
# Profiles of local datasets by path, with the listing each was measured on (see SparkBatch.profile).
_PROFILES: dict[str, tuple[Listing, DatasetProfile]] = {}
_PROFILES_KEPT = 16


class SparkBatch(BatchEngine):
    """Exports with Spark (see the module doc)."""

    spark: SparkSettings = Field(default_factory=SparkSettings, description="BACKBONE_SPARK_*, BACKBONE_JAVA_HOME")

    kinds: ClassVar[tuple[str, ...]] = ("spark", "parquet")

    @property
    def master(self) -> str:
        return self.spark.master

    def describe(self) -> dict[str, Any]:
        import pyspark

        return {
            "engine": "spark",
            "spark_version": pyspark.__version__,
            "master": self.master,
            "export_dir": self.export_dir,
        }

    def probe(self) -> Probe:
        """A standalone master must accept TCP, a local one needs Java: a Spark session costs 10 s and 600 MB."""
        import pyspark

        def check() -> str:
            if self.master.startswith("spark://"):
                for hostport in self.master.removeprefix("spark://").split(","):
                    host, _, port = hostport.rpartition(":")
                    socket.create_connection((host, int(port)), timeout=3).close()
            elif self.master.startswith("local") and not self._java():
                raise BatchUnavailable("no Java found for the local Spark master (BACKBONE_JAVA_HOME / JAVA_HOME)")
            return pyspark.__version__

        return probing("spark", f"{self.master}, exports at {self.export_dir}", check)

    def _java(self) -> bool:
        home = self.spark.java_home or os.environ.get("JAVA_HOME")
        return (Path(home) / "bin" / "java").exists() if home else shutil.which("java") is not None

    def session(self) -> Any:
        """The process's SparkSession, created with this resource's config on first use."""
        from dagster_pyspark.resources import spark_session_from_config

        if self.spark.java_home:
            os.environ["JAVA_HOME"] = self.spark.java_home
        # Workers must run this interpreter (the system one lacks pyarrow); local masters bind loopback only.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if self.master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        return spark_session_from_config({**SPARK_DEFAULTS, "spark.master": self.master, **self.spark.conf})

    def warm_up(self) -> None:
        # The JVM's ~10 s start then overlaps the store's steps instead of delaying the first export.
        # getOrCreate is locked: a first export that comes sooner waits for this session, never makes another.
        threading.Thread(target=self._start_quietly, name="backbone-spark-warm-up", daemon=True).start()

    def _start_quietly(self) -> None:
        try:
            self.session()
        except Exception as exc:  # noqa: BLE001 - any failure: the first real use raises it with its context
            log.info("Spark warm-up did not start a session: %s", exc)

    def write_bars(self, staged_dir: str) -> int:
        spark = self.session()
        spark.read.parquet(staged_dir).createOrReplaceTempView("staged")
        return self._replace(spark.sql(queries.STAGED_BARS), "daily_bars")

    def write_returns(self, first_year: int, last_year: int, symbols: Sequence[str] | None = None) -> int:
        if not self._register("daily_bars", symbols):
            return 0
        return self._replace(self.session().sql(queries.returns_sql(first_year, last_year)), "daily_returns")

    def profile(self, dataset: Dataset) -> DatasetProfile:
        """Measured by a Spark query, which costs a few jobs of fixed overhead whatever the rows; the batch
        checks ask for five profiles of two datasets after each export, so a local dataset's profile is kept
        with the listing it was measured on (every file's name, size and mtime) and reused while that
        listing is unchanged. Datasets on other filesystems (hdfs://, s3a://) are measured every time."""
        path = self.dataset_path(dataset)
        listing = _listing(path)
        known = _PROFILES.get(path)
        if listing and known and known[0] == listing:
            return known[1]
        if not self._register(dataset):
            return DatasetProfile({}, 0)
        measured = queries.profile_of(self.session().sql(queries.over(queries.PROFILE, _VIEW[dataset])).collect())
        if listing:
            _PROFILES.pop(path, None)
            _PROFILES[path] = (listing, measured)
            while len(_PROFILES) > _PROFILES_KEPT:
                del _PROFILES[next(iter(_PROFILES))]
        return measured

    def coverage(self, dataset: Dataset) -> pd.DataFrame:
        if not self._register(dataset):
            return pd.DataFrame({c: pd.Series(dtype=object) for c in COVERAGE_COLUMNS})
        rows = self.session().sql(queries.over(queries.COVERAGE, _VIEW[dataset]) + " ORDER BY symbol").collect()
        return pd.DataFrame([(r[0], r[1], r[2], int(r[3])) for r in rows], columns=list(COVERAGE_COLUMNS))

    def exported_versions(self) -> pd.DataFrame:
        if not self._register("daily_bars"):
            return versions_frame([])
        rows = self.session().sql(queries.over(queries.VERSIONS, "bars")).collect()
        return versions_frame([(r[0], r[1], r[2]) for r in rows])

    # -- helpers -----------------------------------------------------------------------------------------

    def _register(self, dataset: Dataset, symbols: Sequence[str] | None = None) -> bool:
        """Create the dataset's view (year as int; of ``symbols`` only, when given: partition pruning reads
        only their directories); False when the dataset does not exist yet."""
        from pyspark.errors import AnalysisException
        from pyspark.sql import functions as F

        path = self.dataset_path(dataset)
        try:
            frame = self.session().read.option("basePath", path).parquet(path)
        except AnalysisException as exc:
            if "PATH_NOT_FOUND" in str(exc) or "UNABLE_TO_INFER_SCHEMA" in str(exc):
                return False
            raise
        if symbols is not None:
            frame = frame.where(F.col("symbol").isin(list(symbols)))
        frame.withColumn("year", F.col("year").cast("int")).createOrReplaceTempView(_VIEW[dataset])
        return True

    def _replace(self, frame: Any, dataset: Dataset) -> int:
        """One sorted file per (symbol, year), replacing exactly the partitions in ``frame``; then stable names.
        Returns the rows written, observed during the write itself: a separate count() would run the query
        twice, and caching it instead pins the cached plan's shuffles at spark.sql.shuffle.partitions
        (adaptive execution may not change a cached plan's partitioning), hundreds of near-empty tasks."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        path = self.dataset_path(dataset)
        written = Observation(f"{dataset}_written")
        (
            frame.observe(written, F.count(F.lit(1)).alias("rows"))
            .repartition("symbol", "year")
            .sortWithinPartitions("symbol", "year", "ts")
            .write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy("symbol", "year")
            .parquet(path)
        )
        rows = int(written.get["rows"])
        if rows:
            self._stable_names(path)
        return rows

    def _stable_names(self, path: str) -> None:
        """Rename the job-named files under ``path`` to ``part-<n><ext>``, numbered per directory in
        (split, file) order. Only files written by the last job carry a job uuid, so only those move."""
        spark = self.session()
        hadoop = spark._jvm.org.apache.hadoop.fs
        root = hadoop.Path(path)
        fs = root.getFileSystem(spark._jsc.hadoopConfiguration())
        by_directory: dict[str, list[tuple[int, int, str, Any]]] = {}
        for status in fs.globStatus(hadoop.Path(f"{path.rstrip('/')}/symbol=*/year=*/part-*")) or []:
            file = status.getPath()
            match = _JOB_FILE.match(file.getName())
            if match:
                key = (int(match["split"]), int(match["file"] or 0), match["ext"], file)
                by_directory.setdefault(file.getParent().toString(), []).append(key)
        for directory, files in by_directory.items():
            for number, (_, _, ext, file) in enumerate(sorted(files, key=lambda f: f[:3])):
                target = hadoop.Path(directory, f"part-{number:05d}{ext}")
                if not fs.rename(file, target):
                    raise OSError(f"could not rename {file.toString()} to {target.toString()}")


def _listing(path: str) -> Listing | None:
    """(name, size, mtime) of every file of a dataset on the local filesystem, in name order; None when the
    dataset is elsewhere, or changed while being listed."""
    url = urlparse(path)
    if url.scheme not in ("", "file"):
        return None
    root = Path(url.path if url.scheme else path)
    try:
        return tuple(
            (str(file.relative_to(root)), (stat := file.stat()).st_size, stat.st_mtime_ns)
            for file in sorted(root.glob("symbol=*/year=*/*"))
        )
    except OSError:
        return None
