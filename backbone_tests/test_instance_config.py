"""The two Dagster instance configs: valid for Dagster's own schema, and loaded into working instances.

The bootstrap one on SQLite in a temp DAGSTER_HOME; the institutional one on the local PostgreSQL, in a
throw-away database, with its credentials from the DAGSTER_PG_* variables as in the deployment.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from dagster._cli import create_dagster_cli
from dagster._core.instance.config import dagster_instance_config
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from dagster._utils.tags import TagConcurrencyLimitsCounter

from backbone_tests.fixtures.postgres import scratch_database

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP = ROOT / "dagster.yaml"
INSTITUTIONAL = ROOT / "docker" / "dagster" / "dagster.yaml"
POOLS = ("store", "cache", "stream", "batch")
KIND_LIMITS = [
    {"key": "backbone/kind", "value": "backfill", "limit": 1},
    {"key": "backbone/kind", "value": "replay", "limit": 1},
    {"key": "dagster/backfill", "limit": 1},
]


def _home(tmp_path: Path, config: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(config, home / "dagster.yaml")
    return home


@pytest.mark.parametrize("config", [BOOTSTRAP, INSTITUTIONAL], ids=["bootstrap", "institutional"])
def test_config_passes_dagsters_schema(config):
    """Dagster's own loader: schema, and the cross-field rules (pools vs run_queue) it checks on top."""
    value, custom_class = dagster_instance_config(str(config.parent))
    assert custom_class is None
    assert value["concurrency"]["runs"]["tag_concurrency_limits"] == KIND_LIMITS
    assert value["concurrency"]["pools"]["default_limit"] >= 1
    assert value["run_retries"] == {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": True}


def _assert_policy(instance: dg.DagsterInstance) -> None:
    assert instance.run_retries_enabled
    assert instance.run_retries_max_retries == 1
    concurrency = instance.get_concurrency_config()
    assert concurrency.run_queue_config is not None
    assert concurrency.run_queue_config.tag_concurrency_limits == KIND_LIMITS
    assert concurrency.pool_config.default_pool_limit == 4
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"


def _assert_pool_limits_apply(instance: dg.DagsterInstance) -> None:
    """An unset pool gets the default limit; a set one holds back the step over its limit."""
    storage = instance.event_log_storage
    for pool in POOLS:
        info = storage.get_concurrency_info(pool)
        assert (info.limit, info.using_default_limit) == (4, True), pool
    storage.set_concurrency_slots("store", 2)
    claims = [storage.claim_concurrency_slot("store", "run-a", f"step-{i}").is_claimed for i in range(3)]
    assert claims == [True, True, False]
    storage.free_concurrency_slots_for_run("run-a")
    assert storage.claim_concurrency_slot("store", "run-b", "step-0").is_claimed


def _assert_tag_limits_hold_back_a_second_backfill(instance: dg.DagsterInstance) -> None:
    """The check the daemon's run queue makes, with the limits this instance loaded."""

    def run(kind: str, status: DagsterRunStatus) -> dg.DagsterRun:
        return dg.DagsterRun(job_name="daily_bars_job", tags={"backbone/kind": kind}, status=status)

    in_progress = [run("backfill", DagsterRunStatus.STARTED), run("ingest", DagsterRunStatus.STARTED)]
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits  # type: ignore[union-attr]
    counter = TagConcurrencyLimitsCounter(limits, in_progress)
    assert counter.is_blocked(run("backfill", DagsterRunStatus.NOT_STARTED))
    assert not counter.is_blocked(run("replay", DagsterRunStatus.NOT_STARTED))
    assert not counter.is_blocked(run("ingest", DagsterRunStatus.NOT_STARTED))


@dg.op
def _noop() -> None:
    pass


@dg.job
def _noop_job() -> None:
    _noop()


def test_bootstrap_instance_keeps_everything_in_dagster_home(tmp_path, monkeypatch):
    home = _home(tmp_path, BOOTSTRAP)
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the storage's base_dir, as for every process of the instance
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.event_log_storage).__name__ == "BatchingSqliteEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "SqliteScheduleStorage"
        _assert_policy(instance)
        _assert_pool_limits_apply(instance)
        _assert_tag_limits_hold_back_a_second_backfill(instance)
        assert _noop_job.execute_in_process(instance=instance).success
        _assert_a_ranged_run_plans_each_check_once(instance)
    assert (home / "history" / "runs.db").exists()


_DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01")


@dg.asset(partitions_def=_DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def ranged_asset() -> None:
    """A daily-partitioned asset materialized over a range in one run, as `backbone materialize` does."""


@dg.asset_check(asset=ranged_asset)
def whole_asset_check() -> dg.AssetCheckResult:
    """Unpartitioned, like every backbone check: it judges the whole layer once per run."""
    return dg.AssetCheckResult(passed=True)


def _assert_a_ranged_run_plans_each_check_once(instance: dg.DagsterInstance) -> None:
    """Dagster 1.13 plans an unpartitioned check once per partition of a ranged run and never resolves those
    rows (``backbone_assets/check_plans.py``); both instance configs store one planned row, then its result."""
    job = dg.define_asset_job("ranged_job", partitions_def=_DAYS)
    defs = dg.Definitions(assets=[ranged_asset], asset_checks=[whole_asset_check], jobs=[job])
    range_tags = {ASSET_PARTITION_RANGE_START_TAG: "2024-01-01", ASSET_PARTITION_RANGE_END_TAG: "2024-01-31"}
    assert defs.resolve_job_def("ranged_job").execute_in_process(instance=instance, tags=range_tags).success
    key = dg.AssetCheckKey(dg.AssetKey("ranged_asset"), "whole_asset_check")
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=100)
    assert [record.status for record in history] == [AssetCheckExecutionRecordStatus.SUCCEEDED]


@pytest.mark.postgres
def test_institutional_instance_on_postgresql(tmp_path, monkeypatch, pg_admin_url):
    with scratch_database(pg_admin_url) as url:
        info = psycopg.conninfo.conninfo_to_dict(url)
        monkeypatch.setenv("DAGSTER_PG_HOST", str(info.get("host", "127.0.0.1")))
        monkeypatch.setenv("DAGSTER_PG_PORT", str(info.get("port", 5432)))
        monkeypatch.setenv("DAGSTER_PG_USER", str(info.get("user", "postgres")))
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", str(info.get("password", "")))
        monkeypatch.setenv("DAGSTER_PG_DB", str(info["dbname"]))
        home = _home(tmp_path, INSTITUTIONAL)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "CheckPlanningPostgresEventLogStorage"  # check_plans
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            _assert_policy(instance)
            _assert_pool_limits_apply(instance)
            _assert_tag_limits_hold_back_a_second_backfill(instance)
            # the key-value store the sensors keep their state in, and a real run's events
            instance.run_storage.set_cursor_values({"backbone.test": "1"})
            result = _noop_job.execute_in_process(instance=instance)
            assert result.success
            _assert_a_ranged_run_plans_each_check_once(instance)
        with psycopg.connect(url) as conn:
            kv = conn.execute("SELECT value FROM kvs WHERE key = %s", ("backbone.test",)).fetchone()
            events = conn.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (result.run_id,)).fetchone()
        assert kv == ("1",)
        assert events is not None
        assert events[0] > 0
        assert not any(home.glob("history/*.db"))  # nothing fell back to SQLite


def test_pool_commands_from_the_docs_set_the_limits(tmp_path, monkeypatch):
    """`dagster instance concurrency set <pool> <n>` as docs/operations.md gives it, against our dagster.yaml."""
    home = _home(tmp_path, BOOTSTRAP)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    docs = (ROOT / "docs" / "operations.md").read_text()
    commands = [line.split() for line in docs.splitlines() if line.startswith("dagster instance concurrency set ")]
    assert {c[4] for c in commands} == set(POOLS)
    cli = create_dagster_cli()  # the `dagster` console script's command group, run in-process
    for command in commands:
        result = CliRunner().invoke(cli, command[1:], env={"DAGSTER_HOME": str(home)})
        assert result.exit_code == 0, result.output
        assert f"Set concurrency limit for {command[4]} to {command[5]}" in result.output
    with dg.DagsterInstance.from_config(str(home)) as instance:
        infos = {pool: instance.event_log_storage.get_concurrency_info(pool) for pool in POOLS}
    assert {pool: info.limit for pool, info in infos.items()} == {c[4]: int(c[5]) for c in commands}
    assert not any(info.using_default_limit for info in infos.values())
