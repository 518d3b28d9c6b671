"""`backbone history SYMBOL --on D`: every version the store kept of one bar, who wrote it, and what changed.

Builds only the store (a read of one key), like `backbone bars`. The versions come from
``BarStore.bar_history``; what changed between two versions from ``bar_history.changes``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from typing import Any

import click
import pandas as pd

from backbone_domain.bar_history import changes
from backbone_domain.bars import VALUE_COLUMNS
from backbone_ops import cli_input, exit_codes
from backbone_ops.exit_codes import expected_errors
from backbone_ops.resources import tier_resources
from backbone_resources.settings import load_settings

_SHORT_RUN = 8  # as Dagster's UI shortens a run id; --json has it whole


@click.command()
@click.argument("symbol")
@click.option("--on", "on_text", required=True, metavar="YYYY-MM-DD", help="the trading date of the bar")
@click.option("--json", "as_json", is_flag=True, help="one JSON document: symbol, date, versions")
def history(symbol: str, on_text: str, as_json: bool) -> None:
    """Every version of SYMBOL's bar on a date, oldest first: its values, when the platform knew it, which run
    and source wrote it and which replaced it, and what changed from the version before."""
    symbol = symbol.upper()
    with expected_errors():
        day = cli_input.day("--on", on_text)
        with tier_resources(load_settings(), "store") as r:
            versions = r.store.bar_history(symbol, day)
            if versions.empty:
                cli_input.require_known(r.store, symbol)
    if versions.empty:
        click.echo(f"no bar of {symbol} on {day} in the store (not a trading day, or not loaded yet)", err=True)
        sys.exit(exit_codes.PROBLEM)
    document = _document(symbol, day, versions)
    if as_json:
        click.echo(json.dumps(document))
        return
    for line in _render(document):
        click.echo(line)


def _document(symbol: str, day: dt.date, versions: pd.DataFrame) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    previous: pd.Series | None = None
    for number, (_, version) in enumerate(versions.iterrows(), start=1):
        changed = {} if previous is None else changes(previous, version)
        rows.append(
            {
                "version": number,
                "known_from": _iso(version["known_from"]),
                "known_to": _iso(version["known_to"]),
                "reason": version["reason"],
                "run_id": version["run_id"],
                "source": version["source"],
                "replaced_by_run": version["replaced_by_run"],
                "replaced_by_source": version["replaced_by_source"],
                "values": {c: _number(version[c]) for c in VALUE_COLUMNS},
                "changes": {c: {"old": old, "new": new} for c, (old, new) in changed.items()},
            }
        )
        previous = version
    return {"symbol": symbol, "date": day.isoformat(), "versions": rows}


def _render(document: dict[str, Any]) -> list[str]:
    """A table of the versions, then one line a version saying what it changed and how it ended."""
    versions = document["versions"]
    header = ["#", "known from (UTC)", "known to (UTC)", "run", "source", *VALUE_COLUMNS]
    table = [
        [
            str(v["version"]),
            _clock(v["known_from"]),
            _clock(v["known_to"]) if v["known_to"] else "current",
            _run(v["run_id"]),
            v["source"],
            *(_text(v["values"][c]) for c in VALUE_COLUMNS),
        ]
        for v in versions
    ]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    lines = [f"{document['symbol']} {document['date']}: {len(versions)} version(s), oldest first"]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *table]
    ]
    lines.append("changes:")
    for v in versions:
        changed = "; ".join(f"{c} {_text(d['old'])} → {_text(d['new'])}" for c, d in v["changes"].items())
        what = "first version" if v["version"] == 1 else changed or "no value changed"
        lines.append(f"  {v['version']}  {what}")
        if v["reason"] == "retired":
            by = _run(v["replaced_by_run"])
            lines.append(f"     retired at {_clock(v['known_to'])} by run {by}: the source no longer has it")
    return lines


def _iso(stamp: pd.Timestamp | None) -> str | None:
    if stamp is None or pd.isna(stamp):
        return None
    return stamp.isoformat().replace("+00:00", "Z")


def _clock(iso: str) -> str:
    return iso.replace("T", " ").removesuffix("Z")


def _run(run_id: str | None) -> str:
    return "unknown" if run_id is None else run_id[:_SHORT_RUN]


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _text(value: object) -> str:
    """A value as it is stored (the shortest text that reads back as the same float), '-' when missing."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)
