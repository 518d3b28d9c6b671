"""The Dagster UI end to end: `scripts/ui` (dagster dev over workspace.yaml) on a free loopback port, asked over
GraphQL what it lists, made to materialize a range, and read back for the checks' results; a headless Chromium
screenshot of the asset graph where Debian's `chromium` is installed.

One server per module (start-up ~10 s): the tests read it in file order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from dagster_graphql import DagsterGraphQLClient

from backbone_assets.definitions import build_defs
from backbone_assets.jobs import DAILY_BARS_JOB
from backbone_assets.partitions import daily_partitions, last_partition_date, range_tags
from backbone_resources.settings import load_settings
from backbone_tests.clock import PINNED, TODAY

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LOCATION = "backbone"
SYMBOLS = ["EURUSD", "AAPL"]
START_UP_S, RUN_S, STOP_S = 180, 600, 20
# The one WARNING a fresh instance logs: the run-retry daemon's first start has no event cursor yet and says
# it starts from now. It is about the instance being new, not about the code location.
FIRST_START_NOTICE = "No cursor for event type"
# A blank or still-loading page is ~7 KB as PNG, another page ~50 KB, the drawn lineage ~100 KB (docs/ui.md).
MIN_GRAPH_PNG_BYTES = 40_000
LOADED_LINE, DAEMON_LINE = "Serving dagster-webserver", "Instance is configured with the following daemons"

REPOSITORY_QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name }
    jobs { name } schedules { name } sensors { name }
    assetNodes {
      assetKey { path } groupName description kinds pools
      owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
      assetChecksOrError { ... on AssetChecks { checks { name description } } }
    }
} } } }
"""
LOCATION_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } }
} } } }
"""
CHECK_EXECUTIONS_QUERY = """
query ($key: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 1) {
    runId status
    evaluation { success severity metadataEntries {
      __typename label
      ... on FloatMetadataEntry { floatValue }
      ... on IntMetadataEntry { intValue }
      ... on TextMetadataEntry { text }
    } }
  }
}
"""

SENSOR_TICKS_QUERY = """
{ sensorsOrError(repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "backbone"}) {
    ... on Sensors { results { name sensorState { status ticks(limit: 1) { status } } } }
} }
"""
# In process: the run is launched, queued and executed by the UI's daemon and run worker as any other; its steps
# share the run worker's process (a step per process costs an interpreter and an import of the code location per
# step; test_dagster_cli_processes.py covers that executor).
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}

# "Which dates are stored?" and "what is stale?": the store's per-day status, each layer's staleness.
PARTITION_STATUS_QUERY = """
query ($keys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $keys) {
    assetKey { path } staleStatus
    partitionStats { numMaterialized numPartitions numFailed }
    assetPartitionStatuses { __typename ... on TimePartitionStatuses { ranges { status startKey endKey } } }
  }
}
"""


@dataclass
class UiServer:
    port: int
    log: Path
    start_date: dt.date
    home: Path
    load_log: list[str] = field(default_factory=list)  # what the server logged while starting, before any run

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def settings(self):
        return load_settings(mode="bootstrap", home=self.home, symbols=SYMBOLS, start_date=self.start_date, today=TODAY)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[UiServer]:
    tmp = tmp_path_factory.mktemp("ui")
    start_date = TODAY - dt.timedelta(days=12)  # a small partition set
    server = UiServer(port=_free_port(), log=tmp / "dagster_dev.log", start_date=start_date, home=tmp / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKBONE_", "DAGSTER_"))}
    env |= {
        "BACKBONE_MODE": "bootstrap",
        "BACKBONE_HOME": str(server.home),
        "DAGSTER_HOME": str(tmp / "dagster"),  # scripts/ui copies the repo's dagster.yaml there
        "BACKBONE_SYMBOLS": ",".join(SYMBOLS),
        "BACKBONE_START_DATE": start_date.isoformat(),
        **PINNED,
    }
    with server.log.open("wb") as log:
        # Its own process group: dagster dev starts a webserver, a daemon, code servers and run workers.
        proc = subprocess.Popen(
            [str(REPO / "scripts" / "ui"), "-p", str(server.port), "-h", "127.0.0.1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_loaded(server, proc)
        yield server
    finally:
        _stop(proc)


def _wait_loaded(server: UiServer, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_UP_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"dagster dev exited ({proc.returncode}):\n{server.log.read_text()[-3000:]}"
        try:
            entries = server.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except requests.RequestException:
            entries = []
        loaded = [e for e in entries if e["name"] == LOCATION and e["loadStatus"] == "LOADED"]
        lines = server.log.read_text(errors="replace").splitlines()
        if loaded and any(LOADED_LINE in line for line in lines) and any(DAEMON_LINE in line for line in lines):
            location = loaded[0]["locationOrLoadError"]
            assert location["__typename"] == "RepositoryLocation", location.get("message")
            _wait_first_sensor_ticks(server, deadline)  # what they log belongs to the start-up too
            server.load_log = server.log.read_text(errors="replace").splitlines()
            return
        time.sleep(1)
    pytest.fail(f"the UI did not load {LOCATION} within {START_UP_S} s:\n{server.log.read_text()[-3000:]}")


def _wait_first_sensor_ticks(server: UiServer, deadline: float) -> None:
    """Until the daemon has ticked every running sensor once (a condition, not a fixed sleep)."""
    while time.monotonic() < deadline:
        sensors = server.graphql(SENSOR_TICKS_QUERY)["sensorsOrError"]["results"]
        if sensors and all(s["sensorState"]["ticks"] for s in sensors if s["sensorState"]["status"] == "RUNNING"):
            return
        time.sleep(0.5)
    pytest.fail(f"the daemon did not tick every sensor within {START_UP_S} s:\n{server.log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """dagster dev may take long over SIGINT (its children drain) and may ignore SIGTERM: escalate to SIGKILL."""
    for sig, grace in ((signal.SIGINT, STOP_S), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    # The leader may be gone before its children: make sure the whole group is.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _repository(server: UiServer) -> dict[str, Any]:
    nodes = server.graphql(REPOSITORY_QUERY)["repositoriesOrError"]["nodes"]
    ours = [n for n in nodes if n["location"]["name"] == LOCATION]
    assert len(ours) == 1, nodes
    return ours[0]


def test_ui_lists_every_definition(ui: UiServer):
    defs = build_defs(ui.settings())
    graph = defs.resolve_asset_graph()
    repo = _repository(ui)
    assets = {node["assetKey"]["path"][-1]: node for node in repo["assetNodes"]}
    assert set(assets) == {key.path[-1] for key in graph.get_all_asset_keys()}
    listed_checks = {
        (name, check["name"]): check
        for name, node in assets.items()
        for check in node["assetChecksOrError"].get("checks", [])
    }
    assert set(listed_checks) == {(key.asset_key.path[-1], key.name) for key in graph.asset_check_keys}
    assert all(check["description"] for check in listed_checks.values())
    jobs = {job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    assert {job["name"] for job in repo["jobs"]} - {"__ASSET_JOB"} == jobs
    assert {s["name"] for s in repo["schedules"]} == {s.name for s in defs.schedules or []}
    assert {s["name"] for s in repo["sensors"]} == {s.name for s in defs.sensors or []}
    for name, node in assets.items():
        spec = graph.get(next(k for k in graph.get_all_asset_keys() if k.path[-1] == name))
        assert node["description"], name
        assert node["groupName"] == spec.group_name, name
        assert set(node["kinds"]) == set(spec.kinds), name
        assert set(node["pools"]) == set(spec.pools or ()), name
        assert [o.get("team") or o.get("email") for o in node["owners"]] == ["market-data"], name
    groups = {node["groupName"] for node in assets.values()}
    assert {"ingest", "storage", "cache", "stream", "batch"} <= groups
    assert set(assets["daily_bars"]["kinds"]) == {"duckdb"}  # the configured (bootstrap) tier's technology


def test_ui_loads_without_warnings(ui: UiServer):
    lines = ui.load_log
    assert any(LOADED_LINE in line for line in lines), lines[-20:]
    noisy = [
        line
        for line in lines
        if ("WARNING" in line or "Warning:" in line or "ERROR" in line) and FIRST_START_NOTICE not in line
    ]
    assert not noisy, "\n".join(noisy)


def test_launch_a_range_and_read_the_checks_back(ui: UiServer):
    settings = ui.settings()
    last = last_partition_date(daily_partitions(settings.start_date, settings.today))
    first = last - dt.timedelta(days=7)  # a week: the newest trading day of every symbol is in it
    client = DagsterGraphQLClient("127.0.0.1", port_number=ui.port, timeout=60)
    run_id = client.submit_job_execution(
        DAILY_BARS_JOB,
        repository_location_name=LOCATION,
        repository_name="__repository__",
        tags={**range_tags(first, last), "backbone/kind": "backfill"},
        run_config=IN_PROCESS,
    )
    deadline, status = time.monotonic() + RUN_S, None
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            break
        time.sleep(0.5)
    assert status == "SUCCESS", f"run {run_id} ended {status}; log tail:\n{ui.log.read_text()[-3000:]}"

    keys = [{"path": [name]} for name in ("daily_bars", "daily_bars_hot_cache")]
    nodes = {n["assetKey"]["path"][-1]: n for n in ui.graphql(PARTITION_STATUS_QUERY, {"keys": keys})["assetNodes"]}
    store = nodes["daily_bars"]
    assert store["assetPartitionStatuses"]["ranges"] == [
        {"status": "MATERIALIZED", "startKey": str(first), "endKey": str(last)}
    ]  # per day: exactly the range the run stored
    assert store["partitionStats"]["numMaterialized"] == (last - first).days + 1
    assert store["partitionStats"]["numFailed"] == 0
    assert nodes["daily_bars_hot_cache"]["partitionStats"] is None  # unpartitioned: one status, no per-day rows
    assert nodes["daily_bars_hot_cache"]["staleStatus"] == "FRESH"  # ran after the store's newest day

    graph = build_defs(settings).resolve_asset_graph()
    for key in sorted(graph.asset_check_keys, key=str):
        data = ui.graphql(CHECK_EXECUTIONS_QUERY, {"key": {"path": list(key.asset_key.path)}, "check": key.name})
        executions = data["assetCheckExecutions"]
        assert executions, key
        assert executions[0]["runId"] == run_id, (key, executions)
        execution = executions[0]
        assert execution["status"] == "SUCCEEDED", (key, execution)
        evaluation = execution["evaluation"]
        assert evaluation["success"], (key, evaluation)
        # Figures as numbers, so the UI plots them over time; disabled/empty checks still report some.
        numeric = [
            e for e in evaluation["metadataEntries"] if e["__typename"] in {"FloatMetadataEntry", "IntMetadataEntry"}
        ]
        assert numeric, (key, evaluation["metadataEntries"])
        texts = [e for e in evaluation["metadataEntries"] if e["__typename"] == "TextMetadataEntry"]
        assert not [e for e in texts if _looks_numeric(e.get("text", ""))], (key, texts)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_asset_graph_screenshot(ui: UiServer, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium (Debian package) is not installed: no screenshot")
    # The UI's first-visit "join the community" dialog would cover the graph; this is its own "Skip".
    assert ui.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True
    headless = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
    page = ["--window-size=1600,1000", "--virtual-time-budget=15000", f"{ui.url}/asset-groups"]
    png = tmp_path / "asset_graph.png"
    subprocess.run([*headless, f"--screenshot={png}", *page], check=True, capture_output=True, timeout=120)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (1600, 1000)
    assert len(data) > MIN_GRAPH_PNG_BYTES, len(data)
    # What was drawn: the lineage page with a node per layer group (the sidebar names each group once more).
    dom = subprocess.run([*headless, "--dump-dom", *page], check=True, capture_output=True, text=True, timeout=120)
    assert "Global asset lineage" in dom.stdout
    for group in ("ingest", "storage", "cache", "stream", "batch"):
        assert dom.stdout.count(f">{group}<") >= 2, group
