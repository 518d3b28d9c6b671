"""Bus handlers that plug in without editing backbone, and backbone's own two.

``backbone consume --handler REF`` (repeatable) takes either ``package.module:callable`` or a name registered in
the ``backbone.handlers`` entry-point group, so a package adds a handler by declaring, in its pyproject.toml::

    [project.entry-points."backbone.handlers"]
    record = "mypkg.handlers:record"

The object may be a plain handler (``def record(bar: BarMessage) -> None``, or ``async def``) or a
``HandlerSpec`` when it needs backbone's resources (the hot cache, the store), is optional, or follows the
intraday topic (``topic=BARS_INTRADAY``; backbone's own ``intraday-store``). Entry points are read from
the installed package metadata: backbone's own (``cache``, ``print``) appear once the package is installed
(``pip install -e .``), and reappear changed only after reinstalling.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import click

from backbone_domain.bar_messages import BarMessage
from backbone_domain.bridge import CacheInvalidator
from backbone_domain.bus import BARS_DAILY, BARS_INTRADAY, Handler, Topic
from backbone_domain.intraday_messages import IntradayBar
from backbone_domain.intraday_recorder import IntradayRecorder
from backbone_ops.exit_codes import UsageError

GROUP = "backbone.handlers"


@dataclass(frozen=True)
class HandlerSpec:
    """A handler that needs more than the event: ``build(resources)`` returns the bus handler, given the command's
    resources (``resources.cache`` when ``needs`` names ``"cache"``, ``resources.store`` for ``"store"``).
    ``topic``: the bus topic it subscribes to, which decides the stream ``consume`` reads (the daily or the
    intraday topic). Optional handlers never hold the bridge back and never gate a commit (``EventBus.subscribe``).
    """

    build: Callable[[Any], Handler[Any]]
    needs: tuple[str, ...] = ()
    required: bool = True
    topic: Topic[Any] = BARS_DAILY


@dataclass(frozen=True)
class LoadedHandler:
    name: str  # the entry point's name, or the REF as given
    spec: HandlerSpec


def load_handler(ref: str) -> LoadedHandler:
    """The handler ``ref`` names; raises UsageError naming what is wrong (and, for a name, what is registered)."""
    target = ref if ":" in ref else _registered(ref)
    module, _, attribute = target.partition(":")
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"handler {ref}: cannot load {target}: {exc}") from None
    if isinstance(found, HandlerSpec):
        return LoadedHandler(ref, found)
    if not callable(found):
        raise UsageError(f"handler {ref}: {target} is a {type(found).__name__}, not a callable or a HandlerSpec")
    return LoadedHandler(ref, HandlerSpec(build=lambda _resources: found))


def _registered(name: str) -> str:
    registered = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    if name not in registered:
        known = ", ".join(sorted(registered)) or "none"
        raise UsageError(
            f"no handler named {name!r} in the {GROUP} entry points (registered: {known}); give "
            "package.module:callable, or install the package that registers it (backbone's own: `pip install -e .`)"
        )
    return registered[name]


def _cache_invalidator(resources: Any) -> Handler[BarMessage]:
    invalidate = CacheInvalidator(resources.cache)

    def invalidate_bar(bar: BarMessage) -> None:
        invalidate([bar])

    return invalidate_bar


cache = HandlerSpec(build=_cache_invalidator, needs=("cache",))  # the default: keep the hot cache current


def printer(bar: BarMessage) -> None:
    """One JSON line per new bar on stdout."""
    click.echo(json.dumps({"symbol": bar.symbol, "ts": bar.ts.isoformat(), "close": bar.close, "origin": bar.origin}))


def _intraday_recorder(resources: Any) -> Handler[IntradayBar]:
    return IntradayRecorder(resources.store, resources.cache)


# Intraday bars into the store, and each symbol's provisional daily bar into the hot cache (docs/streaming.md).
intraday_store = HandlerSpec(build=_intraday_recorder, needs=("cache", "store"), topic=BARS_INTRADAY)
