"""Corrections into compressed chunks (issue 14, item 3): 1% of 10 years of bars restated, through the store's
write path, on compressed chunks against the same correction on an uncompressed copy.

Two stores (schemas) on one server get the same 10 years of business-day bars; on TimescaleDB the first has
every chunk compressed (``compress_chunk``), the second none. 1% of the bars, drawn uniformly over the 10 years
and the symbols, are then restated (close + 0.01, a newer ``ingested_at``) through ``write_validated`` in two
ways, each timed on both stores, after 10 of them alone (``few``: a day's restatement):

- ``restated``: only the restated bars, one write a year (what a vendor's correction file delivers);
- ``redelivered``: every bar of a year, 1% of them changed, one write a year (a re-run over restated files);

then ``rerun``: the same again, nothing changed (a re-run of a backfill), and ``sparse``: 10 bars of 10 symbols
spread over the 10 years restated in one write (a correction file covering a long range).

After each, on the compressed store: the rows moved out of the columnstore (the chunks' own tables, ``FROM
ONLY``), the (chunk, symbol) batches they came from against all batches, and whether every chunk still reads as
compressed; then the time ``compress_chunk`` takes to fold the moved rows back (what the compression policy does
on its next run). Prints one JSON object.

The server: ``--url`` (a TimescaleDB or a plain PostgreSQL; on plain PostgreSQL there is only the uncompressed
store: the reference), ``--postgres`` (a scratch database on ``BACKBONE_BENCH_PG_URL``), else the WASM
TimescaleDB of ``../shared/timescale-wasm`` started for the run. The WASM server is not a performance model (one
backend, interpreted code, its README says so): its figures compare the two stores on the same server, nothing
more.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from backbone_domain.bar_history import BarLoad
from backbone_domain.bars import BAR_COLUMNS, BAR_DTYPES, empty_rejected
from backbone_resources.store.postgres_store import PostgresBarStore
from backbone_tests.builders import random_walk_bars

YEARS = range(2014, 2024)
T_LOAD, T_FEW, T_RESTATED, T_REDELIVERED, T_RERUN, T_SPARSE = (
    pd.Timestamp(f"2024-06-0{d}T08:00:00", tz="UTC") for d in range(1, 7)
)


def ten_years(symbols: int, seed: int = 7) -> pd.DataFrame:
    """Business-day random-walk bars of ``symbols`` made-up tickers over 2014..2023."""
    tickers = [f"S{k:04d}" for k in range(symbols)]
    bars = random_walk_bars(tickers, f"{YEARS[0]}-01-01", f"{YEARS[-1]}-12-31", seed)
    return bars.assign(source="bench", ingested_at=T_LOAD)[list(BAR_COLUMNS)].astype(BAR_DTYPES)


def by_year(frame: pd.DataFrame) -> Iterator[tuple[dt.date, dt.date, pd.DataFrame]]:
    for year in YEARS:
        part = frame[frame["ts"].dt.year == year]
        if len(part):
            yield dt.date(year, 1, 1), dt.date(year, 12, 31), part


def write(store: PostgresBarStore, frame: pd.DataFrame, at: pd.Timestamp, whole: bool = False) -> tuple[int, float]:
    """Bars written and seconds, one ``write_validated`` a year (each with its load, as a run records it), or
    one for the whole ten years (``whole``)."""
    began, written = time.perf_counter(), 0
    parts = [(dt.date(YEARS[0], 1, 1), dt.date(YEARS[-1], 12, 31), frame)] if whole else by_year(frame)
    for first, last, part in parts:
        load = BarLoad(at.to_pydatetime(), f"bench-{at.day}", "bench", first, last)
        written += store.write_validated(first, last, part, empty_rejected(), load=load).bars
    return written, time.perf_counter() - began


def chunk_state(conn: psycopg.Connection, schema: str) -> dict[str, Any]:
    """Chunks, how many read as compressed, rows outside the columnstore and the batches they came from."""
    chunks = conn.execute(
        "SELECT chunk_schema, chunk_name, is_compressed FROM timescaledb_information.chunks"
        " WHERE hypertable_schema = %s AND hypertable_name = 'daily_bars'",
        (schema,),
    ).fetchall()
    moved, batches, every = 0, 0, 0
    for chunk_schema, chunk_name, _ in chunks:
        chunk = sql.Identifier(chunk_schema, chunk_name)
        query = sql.SQL(
            "SELECT count(*), count(DISTINCT symbol), (SELECT count(DISTINCT symbol) FROM {0}) FROM ONLY {0}"
        )
        rows, symbols, all_symbols = conn.execute(query.format(chunk)).fetchone() or (0, 0, 0)
        moved, batches, every = moved + rows, batches + symbols, every + all_symbols
    compressed = sum(1 for *_, is_compressed in chunks if is_compressed)
    return {
        "chunks": len(chunks),
        "compressed": compressed,
        "rows_moved": moved,
        "batches_moved": batches,
        "batches": every,
    }


def compress_all(conn: psycopg.Connection, schema: str) -> float:
    began = time.perf_counter()
    daily = sql.Identifier(schema, "daily_bars").as_string(conn)
    conn.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks(%s::regclass) c", (daily,))
    return time.perf_counter() - began


@contextmanager
def wasm_server() -> Iterator[str]:
    from backbone_tests.fixtures.timescale import TIMESCALE_START, WasmTimescale

    server = WasmTimescale(TIMESCALE_START, 120)
    try:
        yield server.url
    finally:
        server.stop()


def run(url: str, symbols: int, share: float, wasm: bool) -> dict[str, Any]:
    bars = ten_years(symbols)
    rng = np.random.default_rng(11)
    picked = np.sort(rng.choice(len(bars), size=round(len(bars) * share), replace=False))
    few = bars.iloc[picked[:: max(1, len(picked) // 10)][:10]].assign(
        close=lambda f: f["close"] + 0.005, ingested_at=T_FEW
    )
    restated = bars.iloc[picked].assign(close=lambda f: f["close"] + 0.01, ingested_at=T_RESTATED)
    redelivered = bars.assign(ingested_at=T_REDELIVERED)
    redelivered.loc[redelivered.index[picked], "close"] += 0.02
    rerun = redelivered.assign(ingested_at=T_RERUN)
    spread = picked[:: max(1, len(picked) // 10)][:10]
    sparse = redelivered.iloc[spread].assign(close=lambda f: f["close"] + 0.03, ingested_at=T_SPARSE)
    options: dict[str, Any] = {"prepared_statements": False, "pool_size": 1} if wasm else {}
    tag = uuid.uuid4().hex[:6]
    result: dict[str, Any] = {"bars": len(bars), "symbols": symbols, "years": len(YEARS), "restated": len(restated)}
    probe = PostgresBarStore(url=url, schema_name=f"bench_probe_{tag}", **options)
    described = probe.describe()  # migrations run here: CREATE EXTENSION timescaledb where the server offers it
    probe.close()
    timescale = described["timescaledb"]
    result["server"], result["timescaledb"] = described["server_version"], described["timescaledb_version"]
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(probe.schema_name)))
        for label in ("compressed", "uncompressed") if timescale else ("uncompressed",):
            schema = f"bench_{label}_{tag}"
            store = PostgresBarStore(url=url, schema_name=schema, **options)
            try:
                stored, seconds = write(store, bars, T_LOAD)
                figures: dict[str, Any] = {"load_s": round(seconds, 2), "loaded": stored}
                if label == "compressed" and timescale:
                    figures["compress_s"] = round(compress_all(conn, schema), 2)
                    figures["before"] = chunk_state(conn, schema)
                scenarios = [("few", few), ("restated", restated), ("redelivered", redelivered), ("rerun", rerun)]
                for name, frame in [*scenarios, ("sparse", sparse)]:
                    written, seconds = write(store, frame, frame["ingested_at"].iloc[0], whole=name == "sparse")
                    figures[name] = {"written": written, "seconds": round(seconds, 2)}
                    if label == "compressed" and timescale:
                        figures[name] |= chunk_state(conn, schema)
                        figures[name]["recompress_s"] = round(compress_all(conn, schema), 2)
                check = store.read_bars(dt.date(YEARS[0], 1, 1), dt.date(YEARS[-1], 12, 31))
                expected = redelivered["close"].copy()
                expected.iloc[spread] = sparse["close"].to_numpy()
                figures["reads_back"] = bool(np.allclose(check["close"], expected))
                result[label] = figures
            finally:
                store.close()
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    result["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a TimescaleDB or PostgreSQL database; default: start the WASM TimescaleDB")
    parser.add_argument("--symbols", type=int, default=40, help="symbols (x 10 years of business days)")
    parser.add_argument("--share", type=float, default=0.01, help="share of the bars restated")
    parser.add_argument(
        "--one-backend", action="store_true", help="--url is a WASM TimescaleDB already running (one connection)"
    )
    parser.add_argument(
        "--postgres", action="store_true", help="a scratch database on BACKBONE_BENCH_PG_URL (uncompressed reference)"
    )
    args = parser.parse_args()
    if args.postgres:
        from benchmarks._pg import scratch_database

        with scratch_database() as url:
            print(json.dumps(run(url, args.symbols, args.share, wasm=False)))
        return
    if args.url:
        print(json.dumps(run(args.url, args.symbols, args.share, wasm=args.one_backend)))
        return
    with wasm_server() as url:
        print(json.dumps(run(url, args.symbols, args.share, wasm=True) | {"server_kind": "timescale-wasm"}))


if __name__ == "__main__":
    main()
