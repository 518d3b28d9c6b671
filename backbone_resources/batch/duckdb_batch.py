"""The bootstrap batch engine: an in-memory DuckDB per call that reads and writes Parquet.

It never opens the store's ``backbone.duckdb`` (the asset stages the bars first), so it takes no file lock.
Partition replacement: DuckDB writes the new (symbol, year) directories into a scratch directory beside the
dataset, then each one replaces its old directory by rename; partitions not written stay as they were.

Byte-identical re-runs: a partitioned COPY on several threads lets each thread append its own chunks to the
partition files, so row order and row-group boundaries inside a file vary from run to run, even under an
ORDER BY (duckdb/duckdb#14349). The rows are therefore computed on every thread into a temporary table in
(symbol, year, ts) order (insertion order is preserved), and only the COPY out of it runs on one thread,
which writes each file's rows in that order. The file names (``part-0.parquet``), compression and row-group
size are fixed, so the same rows give the same bytes.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pandas as pd
from pydantic import Field

from backbone_resources.batch import queries
from backbone_resources.batch.base import COVERAGE_COLUMNS, BatchEngine, Dataset, DatasetProfile, versions_frame
from backbone_resources.probe import Probe, probing

_VIEW = {"daily_bars": "bars", "daily_returns": "returns"}
# symbol stays text ("1234" is a ticker, not a number).
_COPY_PARTITIONED = """COPY (SELECT * FROM export_rows) TO $path
    (FORMAT parquet, PARTITION_BY (symbol, year), FILENAME_PATTERN 'part-{i}', COMPRESSION snappy,
     ROW_GROUP_SIZE 122880)"""
_READ_DATASET = (
    "SELECT * FROM read_parquet($files, hive_partitioning = true, hive_types = {'symbol': VARCHAR, 'year': INTEGER})"
)


class DuckDBBatch(BatchEngine):
    """Exports with DuckDB in this process (see the module doc)."""

    memory_limit: str = Field("2GB", description="DuckDB memory_limit; larger sorts spill to disk")
    threads: int | None = Field(None, ge=1, description="DuckDB threads; unset = one per core")

    kinds: ClassVar[tuple[str, ...]] = ("duckdb", "parquet")

    def probe(self) -> Probe:
        return probing("duckdb", f"in process, exports at {self.export_dir}", lambda: duckdb.__version__)

    def describe(self) -> dict[str, Any]:
        return {"engine": "duckdb", "duckdb_version": duckdb.__version__, "export_dir": self.export_dir}

    def write_bars(self, staged_dir: str) -> int:
        if not any(Path(staged_dir).glob("*.parquet")):
            return 0
        with self._connect() as con:
            con.sql("SELECT * FROM read_parquet($files)", params={"files": _glob(staged_dir)}).create_view("staged")
            return self._replace(con, queries.STAGED_BARS, "daily_bars")

    def write_returns(self, first_year: int, last_year: int, symbols: Sequence[str] | None = None) -> int:
        with self._connect() as con:
            if not self._register(con, "daily_bars", symbols):
                return 0
            return self._replace(con, queries.returns_sql(first_year, last_year), "daily_returns")

    def profile(self, dataset: Dataset) -> DatasetProfile:
        with self._connect() as con:
            if not self._register(con, dataset):
                return DatasetProfile({}, 0)
            return queries.profile_of(con.execute(queries.over(queries.PROFILE, _VIEW[dataset])).fetchall())

    def coverage(self, dataset: Dataset) -> pd.DataFrame:
        with self._connect() as con:
            if not self._register(con, dataset):
                return pd.DataFrame({c: pd.Series(dtype=object) for c in COVERAGE_COLUMNS})
            rows = con.execute(queries.over(queries.COVERAGE, _VIEW[dataset]) + " ORDER BY symbol").fetchall()
        return pd.DataFrame([(s, first, last, int(n)) for s, first, last, n in rows], columns=list(COVERAGE_COLUMNS))

    def exported_versions(self) -> pd.DataFrame:
        with self._connect() as con:
            if not self._register(con, "daily_bars"):
                return versions_frame([])
            return versions_frame(con.execute(queries.over(queries.VERSIONS, "bars")).fetchall())

    # -- helpers -----------------------------------------------------------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        config: dict[str, str | int] = {"memory_limit": self.memory_limit}
        if self.threads:
            config["threads"] = self.threads
        con = duckdb.connect(config=config)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def _register(self, con: duckdb.DuckDBPyConnection, dataset: Dataset, symbols: Sequence[str] | None = None) -> bool:
        """Create the dataset's view (of ``symbols`` only, when given); False when it has no files yet."""
        root = Path(self.dataset_path(dataset))
        if not any(root.glob("symbol=*/year=*/*.parquet")):
            return False
        files = {"files": _glob(root, "symbol=*/year=*/*.parquet")}
        if symbols is None:
            con.sql(_READ_DATASET, params=files).create_view(_VIEW[dataset])
        else:
            query = _READ_DATASET + " WHERE list_contains($symbols::VARCHAR[], symbol)"
            con.sql(query, params={**files, "symbols": list(symbols)}).create_view(_VIEW[dataset])
        return True

    def _replace(self, con: duckdb.DuckDBPyConnection, select: str, dataset: Dataset) -> int:
        """Write ``select`` (symbol, year first) partitioned into a scratch directory, then swap each
        written (symbol, year) directory in for the old one. See the module doc for the two steps."""
        root = Path(self.dataset_path(dataset))
        scratch = root.parent / f"_{dataset}.{secrets.token_hex(6)}.tmp"
        spill = scratch.with_suffix(".spill")  # beside the export, not in the working directory
        root.parent.mkdir(parents=True, exist_ok=True)
        try:
            con.execute("SET temp_directory = $dir", {"dir": str(spill)})
            con.sql(select).order("symbol, year, ts").to_table("export_rows")  # in-memory connection
            con.execute("SET threads = 1")
            (rows,) = con.execute(_COPY_PARTITIONED, {"path": str(scratch)}).fetchone()
            for written in sorted(scratch.glob("symbol=*/year=*")):
                target = root / written.parent.name / written.name
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    shutil.rmtree(target)
                written.rename(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(spill, ignore_errors=True)
        return int(rows)


def _glob(directory: Path | str, pattern: str = "*.parquet") -> str:
    return str(Path(directory) / pattern)
