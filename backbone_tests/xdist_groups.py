"""pytest-xdist grouping: tests that share an expensive session service run on one worker.

``scripts/test`` runs pytest with ``-n 2 --dist loadgroup`` (pyproject ``addopts``). Session fixtures are per
worker process, so without grouping each worker would start its own Spark JVM (~10 s, ~600 MB) and its own WASM
TimescaleDB (~5 s, ~0.5 GB). Every test that uses one of them gets ``xdist_group("spark")`` or
``xdist_group("timescale")`` here, from its fixtures or its marker, so one worker starts each service once.
Tests that start Spark only as a side effect (in-process ``backbone check`` on the institutional tier runs the
batch checks: test_secrets, test_cli_cache, test_cli_run, test_cache_flow) are left ungrouped on purpose: with
them the spark group was longer than half the suite and became the tail; without them the other worker starts at
most one JVM of its own. Tests that share a module-scoped fixture
are grouped by module. Explicit ``@pytest.mark.xdist_group`` marks win. The tansu broker starts in about a
second, so its users are not grouped: each worker that needs it starts its own, on a free port.

pytest-xdist 3.8 passes a group to its scheduler by appending ``@group`` to the node id, which pytest 9.2's
structured node ids no longer allow (pytest-dev/pytest-xdist#1386: loadgroup silently degrades to ``load``, each
worker starting its own JVM). So each worker also writes the groups it computed to a file the controller names
(``pytest_configure_node``), and the controller's scheduler (``pytest_xdist_make_scheduler``: xdist's loadgroup
scheduler with its node-id-to-scope step taught to read that file) keeps each group on one worker. Node ids that
do carry ``@group`` (an xdist with the fix) are scheduled by xdist's own rule.

Under xdist the grouped tests, then the slowest known tests, are moved to the front of the collection: loadgroup
hands out work units in collection order, and the longest ones must start first or they form the tail. Without
xdist (``-n 0`` or ``-p no:xdist``) nothing here changes the order.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# (group, fixtures that start the service, marker): the first match wins, so a test is in at most one group.
GROUPS: tuple[tuple[str, frozenset[str], str], ...] = (
    ("spark", frozenset({"spark_options"}), "spark"),
    ("timescale", frozenset({"timescale_url", "timescale_store_options"}), "timescale"),
    ("pg_replica", frozenset({"replicated_postgres"}), "pg_replica"),  # a primary and its replica, ~2 s
)

# Tests that alone take a large share of one worker's time (seconds on the 2-core machine): started first.
SLOWEST = (
    "test_dagster_cli_processes.py::test_multiprocess_runs_and_concurrent_readers_share_the_duckdb_file",
    "test_secrets.py::test_no_command_output_log_event_status_file_or_metric_holds_a_secret",
    "test_cli_run.py::test_bootstrap_half_year_twice_then_check_reports_stale",
    "test_interrupts.py::",
    "test_store_drills.py::",
    "test_stream_drills.py::",
    "test_malformed_corpus.py::",
)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """With ``-p no:xdist`` the ``-n 2 --dist loadgroup`` of pyproject's addopts would be unknown options: accept
    them and run serially, so ``scripts/test -p no:xdist`` works as well as ``scripts/test -n 0``."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "pytest-xdist is disabled (-p no:xdist): these are accepted and ignored")
    group._addoption("-n", "--numprocesses", dest="numprocesses", default=None, help="ignored")  # -n is reserved
    group.addoption("--dist", dest="dist", default="no", help="ignored")


def service_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that uses an expensive session service; else its module's, when the test uses
    a module-scoped fixture (the UI's ``dagster dev`` server: one per module, not one per worker); else None."""
    fixtures = set(getattr(item, "fixturenames", ()))
    for group, starters, marker in GROUPS:
        if fixtures & starters or item.get_closest_marker(marker) is not None:
            return group
    fixture_info = getattr(item, "_fixtureinfo", None)
    definitions = fixture_info.name2fixturedefs.values() if fixture_info is not None else ()
    if any(d.scope in ("module", "class", "package") for defs in definitions for d in defs):
        return f"module:{item.nodeid.split('::', 1)[0]}"
    return None


GROUPS_FILE = "backbone_xdist_groups"  # workerinput key: where a worker writes {node id: group}


def _running_under_xdist(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # set in xdist's worker processes, which are the ones that collect


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("xdist_group") is not None:
        return 0
    if any(slow in item.nodeid for slow in SLOWEST):
        return 1
    return 2


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the mark into the node id's @group suffix
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("xdist_group") is None and (group := service_group(item)) is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    if _running_under_xdist(config):
        items.sort(key=_rank)  # stable: collection order inside each rank
        if target := config.workerinput.get(GROUPS_FILE):  # type: ignore[attr-defined]
            groups = {item.nodeid: service_group(item) or _explicit_group(item) for item in items}
            _write_atomically(Path(target), {nodeid: group for nodeid, group in groups.items() if group})


def _explicit_group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    if mark is None:
        return None
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))


def _write_atomically(path: Path, data: dict[str, str]) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(data))
    partial.replace(path)  # every worker collects the same tests: whichever lands last is as good


@pytest.hookimpl(optionalhook=True)  # an xdist hook: optional, so -p no:xdist loads this module too
def pytest_configure_node(node) -> None:  # type: ignore[no-untyped-def]
    """Controller side, per worker: where that worker writes its groups."""
    config = node.config
    if not hasattr(config, "_backbone_groups_dir"):
        config._backbone_groups_dir = Path(tempfile.mkdtemp(prefix="backbone-xdist-groups-"))
    node.workerinput[GROUPS_FILE] = str(config._backbone_groups_dir / "groups.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = getattr(config, "_backbone_groups_dir", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.hookimpl(optionalhook=True, tryfirst=True)  # before xdist's own (a firstresult hook)
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    """``--dist loadgroup``: xdist's scheduler, with the groups the workers wrote (see the module docstring)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ServiceGroupScheduling(LoadGroupScheduling):
        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if "@" not in nodeid.rsplit("]", 1)[-1]:  # no group in the node id: look it up
                if self._groups is None:
                    # Written by every worker during its collection, before it reported that collection.
                    self._groups = json.loads((config._backbone_groups_dir / "groups.json").read_text())
                if group := self._groups.get(nodeid):
                    return group
            return super()._split_scope(nodeid)

    return ServiceGroupScheduling(config, log)
