"""The instance storages' batched event writes (bootstrap: SQLite; institutional: dagster-postgres), each with
``event_batches``' one cached statement: a range run's per-day events in a few transactions, and the instance
reads exactly what Dagster's own storage would (partition status, latest materialization)."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from backbone_assets import instance_tuning
from backbone_assets.partitions import range_tags
from backbone_tests.fixtures.postgres import scratch_database

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = {"bootstrap": ROOT / "dagster.yaml", "institutional": ROOT / "docker" / "dagster" / "dagster.yaml"}
STORAGES = {"bootstrap": "BatchingSqliteEventLogStorage", "institutional": "CheckPlanningPostgresEventLogStorage"}
DAYS = dg.DailyPartitionsDefinition(start_date="2020-01-01", end_date="2021-01-01")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def first(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[first])
def second(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@pytest.fixture(params=["bootstrap", pytest.param("institutional", marks=pytest.mark.postgres)], ids=lambda tier: tier)
def instance(request, tmp_path, monkeypatch):
    tier = request.param
    shutil.copyfile(CONFIGS[tier], tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    for name, value in instance_tuning.EVENT_ENV_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    if tier == "bootstrap":
        with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
            yield inst
        return
    with scratch_database(request.getfixturevalue("pg_admin_url")) as url:
        info = psycopg.conninfo.conninfo_to_dict(url)
        for name, key, default in [("HOST", "host", "127.0.0.1"), ("PORT", "port", 5432), ("USER", "user", "postgres")]:
            monkeypatch.setenv(f"DAGSTER_PG_{name}", str(info.get(key, default)))
        monkeypatch.setenv("DAGSTER_PG_PASSWORD", str(info.get("password", "")))
        monkeypatch.setenv("DAGSTER_PG_DB", str(info["dbname"]))
        with dg.DagsterInstance.from_config(str(tmp_path)) as inst:
            yield inst


def _stores(instance: dg.DagsterInstance) -> list[int]:
    """Counts the batches the storage writes (a spy on the instance's own storage object)."""
    storage = instance.event_log_storage
    sizes: list[int] = []
    original = storage.store_event_batch

    def spy(events):
        sizes.append(len(events))
        return original(events)

    storage.store_event_batch = spy  # type: ignore[method-assign]
    return sizes


def test_a_range_run_writes_its_days_in_batches_and_reads_back_like_dagsters_storage(instance):
    assert type(instance.event_log_storage).__name__ in STORAGES.values()
    batches = _stores(instance)
    job = dg.Definitions(assets=[first, second], jobs=[dg.define_asset_job("j")]).resolve_job_def("j")
    tags = range_tags(dt.date(2020, 1, 1), dt.date(2020, 12, 31))
    result = job.execute_in_process(instance=instance, tags=tags)
    assert result.success
    assert batches == [2, 366, 366]  # the planned events (one per asset), then a batch per step: every day
    for key in (first.key, second.key):
        assert len(instance.get_materialized_partitions(key)) == 366
        latest = instance.get_latest_materialization_event(key)
        assert latest is not None
        assert latest.dagster_event.partition == "2020-12-31"
        records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=400, ascending=True)
        assert [r.partition_key for r in records.records] == DAYS.get_partition_keys()[:366]  # in order, one each
        ids = [r.storage_id for r in records.records]
        assert ids == sorted(set(ids))
        planned = instance.fetch_planned_materializations(dg.AssetRecordsFilter(asset_key=key), limit=10).records
        assert len(planned) == 1  # one planned event per asset, with the range as a subset
    again = job.execute_in_process(instance=instance, tags=tags)  # a re-run: same partitions, newer records
    assert again.success
    assert len(instance.get_materialized_partitions(second.key)) == 366
    assert instance.get_latest_materialization_event(second.key).run_id == again.run_id


def _open_fresh_instance(home: str, barrier) -> str:
    """A first run's start: the instance (and its schemas) opened on a fresh $DAGSTER_HOME, all at once."""
    import os

    os.environ["DAGSTER_HOME"] = home
    barrier.wait()
    try:
        with dg.DagsterInstance.get() as instance:
            instance.get_runs(limit=1)
    except Exception as exc:  # noqa: BLE001 - the test reports what each process met
        return f"{type(exc).__name__}: {exc}"
    return "ok"


def _default_sigterm() -> None:
    """Pool workers start with SIGTERM at its default. An ignored SIGTERM survives exec: a test process started
    with SIGINT ignored (a background job) has SIGTERM ignored too after any in-process Dagster run (Dagster maps
    SIGTERM to SIGINT's handler), and the pool's exit (terminate, then join) then waits forever on a worker."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_first_runs_opening_a_fresh_home_together_all_start(tmp_path):
    """Without the schema lock, 3 trials out of 3 failed here: a UNIQUE violation on alembic_version, or two
    heads left in it (every later start then fails)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    for trial in range(2):
        home = tmp_path / f"home{trial}"
        home.mkdir()
        shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
        with context.Manager() as manager:
            barrier = manager.Barrier(4)
            with context.Pool(4, initializer=_default_sigterm) as pool:
                outcomes = pool.starmap(_open_fresh_instance, [(str(home), barrier)] * 4)
        assert outcomes == ["ok"] * 4
        print(f"first runs on a fresh instance, trial {trial + 1}: 4 processes at once, all started")
