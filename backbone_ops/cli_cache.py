"""`backbone bars` and `backbone cache …`: read-through reads and the cache's figures from the command line.

Builds only the cache and store resources (not the whole code location), so a read costs milliseconds of
set-up, not the start-up of every backend the tier has.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from typing import Any

import click
import pandas as pd

from backbone_domain import provisional
from backbone_domain.bar_history import known_then
from backbone_domain.hot_reader import Answer, read_last, read_on
from backbone_domain.provisional import ProvisionalBar
from backbone_ops import cli_input, exit_codes
from backbone_ops.exit_codes import expected_errors
from backbone_ops.resources import tier_resources
from backbone_ops.secrets import echo
from backbone_resources.cache.base import CacheUnavailable, HotCache
from backbone_resources.settings import load_settings
from backbone_resources.store.base import BarStore


@click.command()
@click.argument("symbol")
@click.option("--last", "last_n", type=click.IntRange(1, 10_000), default=1, show_default=True, help="newest N bars")
@click.option("--on", "on_date", type=click.DateTime(["%Y-%m-%d"]), help="the bar of this trading date")
@click.option(
    "--as-of",
    "as_of_text",
    metavar="TIMESTAMP",
    help=f"the bars as the store knew them then (ISO 8601 with a time zone, e.g. {cli_input.EXAMPLE_MOMENT}); "
    "read from the store, never the cache",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="one JSON document: symbol, served_by, note, as_of, bars (each with provisional: true or false)",
)
def bars(symbol: str, last_n: int, on_date: dt.datetime | None, as_of_text: str | None, as_json: bool) -> None:
    """Latest bars of SYMBOL: from the hot cache, else from the store (which then repopulates the cache); during a
    session also today's provisional bar (its minutes so far), last and marked provisional, until the day's final
    bar replaces it."""
    symbol = symbol.upper()
    day = None if on_date is None else on_date.date()
    pending: ProvisionalBar | None = None
    with expected_errors():
        as_of = None if as_of_text is None else cli_input.moment("--as-of", as_of_text)
        if as_of is not None:
            with tier_resources(load_settings(), "store") as r:
                answer = _as_of(r.store, symbol, as_of, day, last_n)
        else:
            with tier_resources(load_settings(), "cache", "store") as r:
                answer = read_on(r.cache, r.store, symbol, day) if day else read_last(r.cache, r.store, symbol, last_n)
                pending = _provisional(r.cache, symbol, answer, day)
                if answer.bars.empty and pending is None:
                    cli_input.require_known(r.store, symbol)
    rows = _rows(answer.bars) + ([] if pending is None else [_provisional_row(pending)])
    if as_json:
        doc = _document(symbol, answer) | {"bars": rows, "as_of": None if as_of is None else _iso(as_of)}
        click.echo(json.dumps(doc))
        return
    for bar in rows:
        click.echo(
            f"{bar['date']} {symbol:<10} o={bar['open']} h={bar['high']} l={bar['low']} c={bar['close']} "
            f"v={bar['volume']}"
            + (f" PROVISIONAL ({bar['bars']} intraday bars through {bar['through']})" if bar["provisional"] else "")
        )
    click.echo(f"served by {answer.served_by}" + (f" ({answer.note})" if answer.note else ""))
    if not rows:
        sys.exit(exit_codes.PROBLEM)


def _provisional(cache: HotCache, symbol: str, answer: Answer, day: dt.date | None) -> ProvisionalBar | None:
    """The provisional bar to show after ``answer``'s final bars (``provisional.shown``): for ``--on D`` only when
    D has no final bar. A cache that cannot answer shows none: the final bars came from the store anyway."""
    try:
        held = cache.provisional(symbol)
    except CacheUnavailable:
        return None
    if day is not None:
        return held if held is not None and held.session == day and answer.bars.empty else None
    return provisional.shown(held, None if answer.bars.empty else answer.bars["ts"].iloc[-1].date())


def _provisional_row(bar: ProvisionalBar) -> dict[str, Any]:
    values = {c: getattr(bar, c) for c in ("open", "high", "low", "close", "volume")}
    return {
        "date": bar.session.isoformat(),
        **values,
        "adj_close": None,
        "source": bar.source,
        "provisional": True,
        "bars": bar.bars,
        "through": _iso(bar.through),
    }


def _as_of(store: BarStore, symbol: str, as_of: dt.datetime, day: dt.date | None, last_n: int) -> Answer:
    """The store as it was at ``as_of``; the cache is neither read (it holds only current bars) nor filled."""
    bars = known_then(store, symbol, as_of, on=day, last=last_n)
    if bars.empty:
        cli_input.require_known(store, symbol)
    return Answer(bars, "store", f"as of {_iso(as_of)}: what the store knew then; the cache holds only current bars")


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _document(symbol: str, answer: Answer) -> dict[str, Any]:
    return {"symbol": symbol, "served_by": answer.served_by, "note": answer.note, "bars": _rows(answer.bars)}


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.itertuples(index=False):
        values = {c: _number(getattr(row, c)) for c in ("open", "high", "low", "close", "adj_close", "volume")}
        out.append({"date": row.ts.date().isoformat(), **values, "source": row.source, "provisional": False})
    return out


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


@click.group()
def cache() -> None:
    """The hot cache: figures and heartbeat."""


@cache.command()
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
def stats(as_json: bool) -> None:
    """Hits, misses, hit ratio, cached symbols and memory of this namespace (all processes together)."""
    with expected_errors(), tier_resources(load_settings(), "cache") as r:
        figures = r.cache.stats()
    ratio = figures.hit_ratio
    doc = {
        "backend": figures.backend,
        "namespace": figures.namespace,
        "hits": figures.hits,
        "misses": figures.misses,
        "hit_ratio": None if ratio is None else round(ratio, 4),
        "keys": figures.keys,
        "memory_bytes": figures.memory_bytes,
    }
    if as_json:
        click.echo(json.dumps(doc))
        return
    for key, value in doc.items():
        click.echo(f"{key + ':':<13} {'n/a (no reads yet)' if value is None else value}")


@cache.command()
def ping() -> None:
    """Heartbeat: endpoint (no secrets) and round-trip time; exit 1 when the cache is unreachable."""
    with expected_errors():
        try:
            with tier_resources(load_settings(), "cache") as r:
                described, ms = r.cache.describe(), r.cache.ping()
        except CacheUnavailable as exc:  # the heartbeat's own wording; the code is the table's
            echo(f"cache DOWN: {exc}", err=True)
            sys.exit(exit_codes.exit_code(exc))
    echo(f"cache ok: {described['backend']} {described['endpoint']} ns={described['namespace']} {ms:.1f} ms")
