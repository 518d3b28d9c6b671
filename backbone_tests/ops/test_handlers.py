"""Handlers plugged into `backbone consume` without editing backbone: ``--handler package.module:callable``, a
name another package registers in the ``backbone.handlers`` entry points, and backbone's own two. In process
(Click's runner) on the bootstrap tier's local log."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from backbone_domain.bus import BARS_INTRADAY
from backbone_domain.streaming import bar_messages
from backbone_ops.handlers import HandlerSpec, load_handler
from backbone_resources.settings import load_settings
from backbone_resources.tiers import build_stream
from backbone_tests.builders import daily_bars
from backbone_tests.fixtures.entry_points import install_distribution
from backbone_tests.ops.cli_runner import run_in_process

SYMBOLS = ("AAPL", "MSFT")
_HANDLERS = """
    RECORDED = []


    def record(bar):
        RECORDED.append((bar.symbol, bar.ts.day))


    BROKEN = "not callable"
"""


@pytest.fixture
def mypkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A package "installed" for this test: its module on sys.path and its metadata registering ``record``."""
    site = tmp_path / "site"
    (site / "mypkg").mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text("")
    (site / "mypkg" / "handlers.py").write_text(textwrap.dedent(_HANDLERS))
    install_distribution(site, "mypkg", "0.1", {"backbone.handlers": {"record": "mypkg.handlers:record"}})
    monkeypatch.syspath_prepend(str(site))
    import mypkg.handlers

    yield mypkg.handlers
    for name in [m for m in sys.modules if m == "mypkg" or m.startswith("mypkg.")]:
        del sys.modules[name]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The bootstrap tier with 10 days of two symbols on its local log."""
    env = {"BACKBONE_MODE": "bootstrap", "BACKBONE_HOME": str(tmp_path / "home"), "BACKBONE_SYMBOLS": ",".join(SYMBOLS)}
    stream = build_stream(load_settings(mode="bootstrap", home=env["BACKBONE_HOME"]))
    stream.publish(bar_messages(daily_bars(SYMBOLS, days=10), "ingest"))
    return env


def _lag(env: dict[str, str], group: str) -> int:
    return sum(p.lag for p in build_stream(load_settings(mode="bootstrap", home=env["BACKBONE_HOME"])).lag(group))


def test_consume_loads_a_handler_by_module_and_callable(env, mypkg) -> None:
    done = run_in_process(env, "consume", "--group", "g", "--handler", "mypkg.handlers:record", "--idle-timeout", "0.3")

    assert done.returncode == 0, done.stderr
    assert [(s, d) for s in SYMBOLS for d in range(1, 11)] == mypkg.RECORDED
    assert "mypkg.handlers:record: 20 handled, 0 restarts" in done.stderr
    assert _lag(env, "g") == 0


def test_consume_finds_handlers_by_name_in_the_entry_points(env, mypkg) -> None:
    done = run_in_process(
        env, "consume", "--group", "g", "--handler", "record", "--optional-handler", "print", "--idle-timeout", "0.3"
    )

    assert done.returncode == 0, done.stderr
    assert len(mypkg.RECORDED) == 20
    assert done.stdout.count('"origin": "ingest"') == 20  # backbone's own printer, found the same way
    assert "print: 20 handled, 0 restarts, 0 dropped" in done.stderr


def test_backbone_registers_its_cache_invalidator_and_printer() -> None:
    cache, printer = load_handler("cache"), load_handler("print")

    assert cache.spec.needs == ("cache",)  # consume builds the hot cache only for the handlers that need it
    assert printer.spec.needs == ()
    assert isinstance(cache.spec, HandlerSpec)
    assert printer.spec.build(None).__name__ == "printer"


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("nosuch", "no handler named 'nosuch' in the backbone.handlers entry points (registered: "),
        ("mypkg.nosuch:record", "cannot load mypkg.nosuch:record: No module named 'mypkg.nosuch'"),
        ("mypkg.handlers:nosuch", "cannot load mypkg.handlers:nosuch"),
        ("mypkg.handlers:BROKEN", "mypkg.handlers:BROKEN is a str, not a callable or a HandlerSpec"),
    ],
)
def test_a_handler_that_cannot_be_loaded_is_a_usage_error_before_anything_is_consumed(env, mypkg, ref, says) -> None:
    done = run_in_process(env, "consume", "--group", "g", "--handler", ref, "--idle-timeout", "0.3")

    assert done.returncode == 2
    assert says in done.stderr
    assert _lag(env, "g") == 20


def test_backbone_registers_the_intraday_store_on_the_intraday_topic() -> None:
    loaded = load_handler("intraday-store")

    assert loaded.spec.needs == ("cache", "store")
    assert loaded.spec.topic is BARS_INTRADAY  # consume reads the intraday topic for it


def test_handlers_of_different_topics_or_intraday_bars_off_are_refused_before_anything_is_consumed(env) -> None:
    mixed = run_in_process(env, "consume", "--group", "g", "--handler", "cache", "--handler", "intraday-store")
    assert mixed.returncode == 2
    assert "handlers follow different topics (cache: bars.daily; intraday-store: bars.intraday)" in mixed.stderr

    off = run_in_process(env, "consume", "--group", "g", "--handler", "intraday-store", "--idle-timeout", "0.3")
    assert off.returncode == 2
    assert "intraday bars are off (BACKBONE_INTRADAY_ENABLED=false, the default): nothing to consume" in off.stderr
    assert _lag(env, "g") == 20
