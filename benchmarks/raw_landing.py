"""The raw landing alone on PostgreSQL: a row per record (``raw_bars``, the store before migration 5) against a
batch per day (``raw_batches``), same chunks, same process, interleaved so that other load hits both alike.

500 synthetic symbols x 10 years by default, in ``chunk_days_for`` chunks. Per chunk and per side: land it
(``frames.raw_table``, the delete, the COPY, in one transaction) and read it back as the frame ``read_raw``
returns. The source's time is not counted. Prints one JSON line with each side's seconds and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time

import pandas as pd

from backbone_domain import frames
from backbone_domain.bars import RAW_DTYPES
from backbone_domain.pipeline import chunk_days_for, date_chunks
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.store import postgres_copy as pgcopy
from backbone_resources.store.postgres_sql import Statements
from backbone_resources.store.postgres_store import PostgresBarStore
from benchmarks._pg import scratch_database, universe


def _rows_side(store: PostgresBarStore, start: dt.date, end: dt.date, raw: pd.DataFrame) -> tuple[float, float]:
    """The landing as it was: one SQL row per record, read back by a sorted COPY parsed by Arrow."""
    statements = Statements(store.schema_name)
    began = time.perf_counter()
    table = frames.raw_table(raw)
    with store._cursor(transaction=True) as cur:  # the store's own pool: a fair comparison
        cur.execute(statements.delete_partitions(statements.raw), (start, end))
        pgcopy.copy_in(cur, statements.raw, table)
    landed = time.perf_counter()
    with store._cursor() as cur:
        back = pgcopy.copy_out(cur, statements.read_raw(), (start, end), pgcopy.RAW_TYPES)
    frame = pgcopy.to_frame(back, ["ts"], RAW_DTYPES)
    assert len(frame) == len(raw)
    return landed - began, time.perf_counter() - landed


def _batches_side(store: PostgresBarStore, start: dt.date, end: dt.date, raw: pd.DataFrame) -> tuple[float, float]:
    began = time.perf_counter()
    store.replace_raw(start, end, raw)
    landed = time.perf_counter()
    assert len(store.read_raw(start, end)) == len(raw)
    return landed - began, time.perf_counter() - landed


def run(symbols: int, years: int) -> dict[str, object]:
    end = dt.date(2023, 12, 31)
    start = dt.date(end.year - years + 1, 1, 1)
    source = SyntheticSource(symbols=universe(symbols))
    totals = {"rows_land_s": 0.0, "rows_read_s": 0.0, "batches_land_s": 0.0, "batches_read_s": 0.0}
    records = 0
    with scratch_database() as url:
        store = PostgresBarStore(url=url)
        store.ping()
        for at, (first, last) in enumerate(date_chunks(start, end, chunk_days_for(symbols))):
            raw = source.fetch(first, last)
            records += len(raw)
            sides = [("rows", _rows_side), ("batches", _batches_side)]
            for name, side in sides if at % 2 == 0 else reversed(sides):
                land, read = side(store, first, last, raw)
                totals[f"{name}_land_s"] += land
                totals[f"{name}_read_s"] += read
        store.close()
    return {
        "symbols": symbols,
        "years": years,
        "records": records,
        **{name: round(seconds, 2) for name, seconds in totals.items()},
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(run(args.symbols, args.years)))


if __name__ == "__main__":
    main()
