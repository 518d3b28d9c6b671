"""The source backends every contract test runs over, and a fake ``yfinance`` module (``yahoo_fake.py``).

Every backend serves the same origin: the synthetic source's bars of ``SYMBOLS`` over [``START``, ``END``],
written as Yahoo exports (``builders.yahoo_exports``) to CSV files (plain, read column-wise; or with CRLF line
ends, read record by record), to Parquet files, or served by the fake ``yfinance``. The file source runs both
from memory and with a row budget of one, which spills all but its newest file to its on-disk stage.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from backbone_resources.source import files
from backbone_resources.source.base import BarSource
from backbone_resources.source.files import FileSource
from backbone_resources.source.synthetic import SyntheticSource
from backbone_resources.source.yahoo import YahooSource, yahoo_ticker
from backbone_tests.builders import yahoo_exports
from backbone_tests.resources.source.yahoo_fake import FakeYfinance

SYMBOLS = ("AAPL", "EURUSD", "MSFT")  # sorted; an FX pair trades on Sundays, the equities on NYSE days
START, END = dt.date(2024, 1, 1), dt.date(2024, 2, 29)  # New Year's Day, MLK Day and a leap day inside
FILE_FORMATS = ("csv", "csv-records", "parquet")
BACKENDS = ("synthetic", *FILE_FORMATS, *(f"{f}-staged" for f in FILE_FORMATS), "yahoo")


@dataclass(frozen=True)
class Backend:
    """A way to build sources over the origin; ``make(symbols)`` narrows them as the ``symbols`` setting does."""

    name: str
    make: Callable[..., BarSource]
    break_origin: Callable[[], None] | None  # makes the origin unreadable; None: a computed source has none
    payloads: bool  # each row carries its record's JSON (file and line/row); otherwise payload is None


@pytest.fixture
def fake_yfinance(monkeypatch: pytest.MonkeyPatch) -> FakeYfinance:
    """``import yfinance`` gives the fake for this test; set its ``answer`` or ``serve`` it bars."""
    module = FakeYfinance()
    monkeypatch.setitem(sys.modules, "yfinance", module)
    return module


@pytest.fixture(scope="session")
def origin() -> pd.DataFrame:
    """The bars every backend serves (do not modify)."""
    return SyntheticSource(symbols=list(SYMBOLS)).fetch(START, END)


def write_files(directory: Path, origin: pd.DataFrame, kind: str) -> None:
    directory.mkdir()
    for symbol, frame in yahoo_exports(origin).items():
        if kind == "parquet":
            frame.to_parquet(directory / f"{symbol}.parquet", index=False)
        else:
            ends = "\r\n" if kind == "csv-records" else "\n"  # a CR sends a file to the record reader
            frame.to_csv(directory / f"{symbol}.csv", index=False, lineterminator=ends)


@pytest.fixture(params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, origin: pd.DataFrame
) -> Iterator[Backend]:
    name: str = request.param
    if name == "synthetic":
        yield Backend(name, lambda symbols=SYMBOLS: SyntheticSource(symbols=list(symbols)), None, False)
        return
    if name == "yahoo":
        fake: FakeYfinance = request.getfixturevalue("fake_yfinance")
        fake.serve({yahoo_ticker(s): frame for s, frame in yahoo_exports(origin).items()})

        def outage() -> None:
            fake.answer = ConnectionError("Failed to resolve 'query2.finance.yahoo.com'")

        yield Backend(name, lambda symbols=SYMBOLS: YahooSource(symbols=list(symbols)), outage, False)
        return
    directory = tmp_path / "bars"
    write_files(directory, origin, name.removesuffix("-staged"))
    if name.endswith("-staged"):
        monkeypatch.setattr(files, "MAX_CACHED_ROWS", 1)
    made: list[FileSource] = []

    def make(symbols: Sequence[str] = ()) -> FileSource:
        made.append(FileSource(directory=str(directory), symbols=list(symbols)))
        return made[-1]

    yield Backend(name, make, lambda: shutil.rmtree(directory), True)
    for source in made:
        source.close()


@pytest.fixture
def source(backend: Backend) -> BarSource:
    """A source over the origin's universe, as the backend builds it with no ``symbols`` setting of its own."""
    return backend.make()
