"""A corpus of malformed input files, each with the number of records a person would count in it.

Shared by the invariant test (``assets/test_malformed_corpus.py``) on both tiers: every record of every file
ends stored, rejected with its reasons, or inside a file quarantined whole. The cases are those an independent
probe found rows vanishing on (issue 13, D1 and D2: NUL bytes, names that are not symbols, no readable date,
``;`` separators, Parquet with integer dates, dates in the future, a binary file named ``.csv``) and the
everyday damage of hand-edited and exported files. Data is dated in 2024; "today" is ``clock.TODAY``.

``rows`` is counted by construction (the records written), not by the code under test. It is None for a
Parquet file without a readable footer: nobody can tell its rows, so the invariant counts the file, not rows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
MAP = {"BRK B": "BRK.B"}  # BACKBONE_SOURCE_SYMBOL_MAP of the runs over this corpus


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    rows: int | None
    whole_file_quarantined: bool = False

    @property
    def symbol(self) -> str:
        stem = self.name.rsplit(".", 1)[0]
        return MAP.get(stem, stem.upper())


def _bar(day: str, close: float = 10.0) -> str:
    return f"{day},{close - 0.5},{close + 1},{close - 1},{close},{close},1000"


def _days(n: int, month: int = 1) -> list[str]:
    return [f"2024-{month:02d}-{d:02d}" for d in range(2, 2 + n)]


def _csv(name: str, lines: list[str], header: str = HEADER, end: str = "\n", **kw: object) -> Case:
    text = end.join([header, *lines]) + end
    return Case(name, text.encode(), sum(1 for line in lines if line), **kw)  # type: ignore[arg-type]


def _parquet(frame: pd.DataFrame, index: bool = False) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=index)
    return out.getvalue()


def _prices(n: int) -> dict[str, list[float]]:
    return {"Open": [9.5] * n, "High": [11.0] * n, "Low": [9.0] * n, "Close": [10.0] * n, "Volume": [1e3] * n}


def _row_level() -> list[Case]:
    """Files read row by row: each record stored or rejected with its reasons."""
    good = [_bar(d) for d in _days(5)]
    return [
        _csv("GOOD.csv", good),
        _csv("lower.csv", good[:2]),
        _csv("NULVALUE.csv", [_bar("2024-01-02"), "2024-01-03,1\x002,11,9,10,10,1000", _bar("2024-01-04")]),
        _csv("NULDATE.csv", ["2024-01-0\x002,9.5,11,9,10,10,1000", _bar("2024-01-03")]),
        _csv("NULEXTRA.csv", [_bar("2024-01-02") + ",x\x00y", _bar("2024-01-03")], HEADER + ",Note"),
        _csv("NULHEADER.csv", good[:2], HEADER.replace("Volume", "Vol\x00ume")),
        _csv("FUTURE.csv", [_bar("2024-01-02"), _bar("2204-01-02"), _bar("2024-01-04")]),
        _csv("TOMORROW.csv", [_bar("2024-01-02"), _bar("2025-03-05")]),
        _csv("ANCIENT.csv", [_bar("1850-01-02"), _bar("1999-12-31"), _bar("2024-01-02")]),
        _csv(
            "BADDATES.csv", [_bar("2024-01-02"), _bar("not a date"), _bar("2024-02-30"), _bar("2024-13-01"), _bar("")]
        ),
        _csv("LEADUNREAD.csv", [_bar("??"), _bar("2024-01-03")]),
        _csv("TRAILUNREAD.csv", [_bar("2024-01-02"), _bar("tbd"), _bar("n/a")]),
        _csv("USDATES.csv", [_bar("1/2/2024"), _bar("1/3/2024"), _bar("01/04/2024")]),
        _csv("DAYFIRST.csv", [_bar("02/01/2024"), _bar("15/01/2024"), _bar("16/01/2024")]),
        _csv("TIMES.csv", [_bar("2024-01-02T00:00:00Z"), _bar("2024-01-03 10:00"), _bar("2024-01-04T00:00:00+05:00")]),
        _csv("SERIALMIX.csv", [_bar("45293"), _bar("2024-01-03"), _bar("2024-01-04")]),
        _csv("SPACEDATE.csv", [_bar(" 2024-01-02 "), _bar("\t2024-01-03")]),
        _csv(
            "BADNUMBERS.csv",
            [
                "2024-01-02,abc,11,9,10,10,1000",
                "2024-01-03,,11,9,10,10,1000",
                "2024-01-04,NaN,11,9,10,10,1000",
                "2024-01-05,inf,11,9,10,10,1000",
                "2024-01-08,1e400,11,9,10,10,1000",
                "2024-01-09,0x10,11,9,10,10,1000",
                '2024-01-10,"1,000",11,9,10,10,1000',
                "2024-01-11,+9.5,11,9,10,10,1000",
                "2024-01-12, 9.5 ,11,9,10,10,1000",
                "2024-01-15,9.5,11,9,10,10,1e3",
            ],
        ),
        _csv("NEGATIVE.csv", ["2024-01-02,-9.5,11,9,10,10,1000", "2024-01-03,9.5,11,9,10,10,-5"]),
        _csv("ZERO.csv", ["2024-01-02,0,0,0,0,0,0", _bar("2024-01-03")]),
        _csv("OHLC.csv", ["2024-01-02,9.5,8,9,10,10,1000", "2024-01-03,9.5,11,10.5,10,10,1000"]),
        _csv("DUPDATES.csv", [_bar("2024-01-02"), _bar("2024-01-02"), _bar("2024-01-03", 10), _bar("2024-01-03", 12)]),
        _csv("SHORTROWS.csv", ["2024-01-02,9.5", "2024-01-03", _bar("2024-01-04")]),
        _csv("LONGROWS.csv", [_bar("2024-01-02") + ",surplus,more", _bar("2024-01-03")]),
        Case(
            "QUOTED.csv",
            f'{HEADER}\n2024-01-02,"9.5\n",11,9,10,10,1000\n"2024-01-03",9.5,11,9,10,10,1000\n'.encode(),
            2,
        ),
        Case("BOM.csv", ("\ufeff" + HEADER + "\n" + "\n".join(good[:3]) + "\n").encode(), 3),
        _csv("CRLF.csv", good[:3], end="\r\n"),
        _csv("LONECR.csv", good[:3], end="\r"),
        Case("BLANKLINES.csv", f"{HEADER}\n\n{good[0]}\n\n\n{good[1]}\n   \n".encode(), 3),  # "   " is a record
        _csv(
            "UNICODE.csv", ["2024-01-02,９.５,11,9,10,10,1000", _bar("2024-01-03")], HEADER.replace("Close", "Clôture")
        ),
        _csv("EXTRACOLS.csv", [_bar(d) + ",x,y" for d in _days(2)], HEADER + ",Dividends,Splits"),
        _csv("ONLYCLOSE.csv", ["2024-01-02,10", "2024-01-03,11"], "Date,Close"),
        _csv("TWOCLOSE.csv", [_bar("2024-01-02") + ",99"], HEADER + ",Close"),
        _csv("WEEKEND.csv", [_bar("2024-01-06"), _bar("2024-01-07"), _bar("2024-01-08")]),
        _csv("EMPTYCELLS.csv", ["2024-01-02,,,,,,", _bar("2024-01-03")]),
        _csv("HUGE.csv", ["2024-01-02,9.5,11,9,10,10,1e20", "2024-01-03,1e300,1e301,1e299,1e300,1e300,1"]),
        _csv("HEADERONLY.csv", []),
        Case("EMPTY.csv", b"", 0),
        _csv("BRK B.csv", good[:3]),  # mapped to BRK.B
        Case("PQGOOD.parquet", _parquet(pd.DataFrame({"Date": _days(3), **_prices(3)})), 3),
        Case(
            "PQINDEX.parquet",
            _parquet(pd.DataFrame(_prices(2), index=pd.DatetimeIndex(_days(2), name="Date")), index=True),
            2,
        ),
        Case(
            "PQTEXT.parquet",
            _parquet(pd.DataFrame({"Date": _days(2), "Open": ["abc", "9.5"], "Close": ["10", "x"]})),
            2,
        ),
        Case(
            "PQNAN.parquet",
            _parquet(pd.DataFrame({"Date": _days(2), **_prices(2)}).assign(Close=[float("nan"), 10.0])),
            2,
        ),
        Case(
            "PQTZ.parquet",
            _parquet(pd.DataFrame({"Date": pd.to_datetime(_days(2)).tz_localize("America/New_York"), **_prices(2)})),
            2,
        ),
        Case("PQNULLDATE.parquet", _parquet(pd.DataFrame({"Date": [_days(1)[0], None], **_prices(2)})), 2),
    ]


def _whole_file() -> list[Case]:
    """Files set aside whole: their records cannot be read as rows of the file's symbol."""
    good = [_bar(d) for d in _days(3)]
    pq = _parquet(pd.DataFrame({"Date": _days(4), **_prices(4)}))
    cases = [
        _csv("X'; DROP TABLE bars;--.csv", good),
        _csv("..%2F..%2Fetc.csv", good[:2]),
        _csv("ÄPFEL.csv", good),
        _csv("has space.csv", good[:1]),
        _csv("TOOLONGSYMBOLNAME1234567.csv", good),
        _csv(".hidden.csv", good[:2]),
        _csv("DUPA.csv", good),
        Case("dupa.parquet", pq, 4),
        Case("PNG.csv", b"\x89PNG\r\n\x1a\x00\xff\xfe\n\x1a\x00\xff\xfe\n\x00\x00\x00\rIHDR\n", 4),
        Case("LATIN1.csv", (HEADER.replace("Close", "Clôture") + "\n" + "\n".join(good) + "\n").encode("latin-1"), 3),
        Case("UTF16.csv", (HEADER + "\n" + "\n".join(good) + "\n").encode("utf-16"), 3),
        _csv("SEMICOLON.csv", [g.replace(",", ";") for g in good], HEADER.replace(",", ";")),
        _csv("TABS.csv", [g.replace(",", "\t") for g in good], HEADER.replace(",", "\t")),
        _csv("NODATE.csv", [g.split(",", 1)[1] for g in good], HEADER.split(",", 1)[1]),
        Case("HEADLESS.csv", ("\n".join(good) + "\n").encode(), 3),
        Case("INTDATES.parquet", _parquet(pd.DataFrame({"Date": [20240102, 20240103], **_prices(2)})), 2),
        Case("CORRUPT.parquet", b"PAR1" + bytes(range(14, 200)) + b"PAR1", None),
        Case("TRUNCATED.parquet", pq[: len(pq) // 2], None),
        Case("PQASCSV.csv", pq, None),  # set aside by content; its "rows" are whatever lines the bytes hold
        Case("CSVASPQ.parquet", (HEADER + "\n" + "\n".join(good) + "\n").encode(), None),
        Case("FIELDLIMIT.csv", f'{HEADER}\n{good[0]}\n2024-01-03,"{"9" * 140_000}",11,9,10,10,1000\n'.encode(), 2),
        _csv("ALLFUTURE.csv", [_bar("2204-01-02"), _bar("2204-01-05")]),
        _csv("ALLSERIAL.csv", [_bar("45293"), _bar("45294")]),
        _csv("ALLANCIENT.csv", [_bar("1850-01-02"), _bar("1850-01-03")]),
        _csv("ALLUNREAD.csv", [_bar("soon"), _bar("later")]),
    ]
    return [Case(c.name, c.data, c.rows, True) for c in cases]


def corpus() -> list[Case]:
    return [*_row_level(), *_whole_file()]


def write_corpus(directory: Path) -> list[Case]:
    """Write every case into ``directory`` (plus one file whose name is not even UTF-8); returns the cases."""
    directory.mkdir(parents=True, exist_ok=True)
    cases = corpus()
    for case in cases:
        (directory / case.name).write_bytes(case.data)
    undecodable = Case("\udcffNAME.csv", f"{HEADER}\n{_bar('2024-01-02')}\n".encode(), 1, True)  # byte 0xff
    (directory / undecodable.name).write_bytes(undecodable.data)
    return [*cases, undecodable]
