"""Schedules: which partition a tick takes, the weekly backfill as one run, settings and default status."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from backbone_assets.definitions import build_defs
from backbone_assets.jobs import DAILY_BARS_JOB, KIND_TAG
from backbone_assets.schedules import BACKFILL_SCHEDULE, DAILY_SCHEDULE
from backbone_ops import runner
from backbone_resources.schedule_settings import ScheduleSettings
from backbone_resources.settings import SettingsError, load_settings

NEW_YORK = ZoneInfo("America/New_York")
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _defs(tmp_path, start=dt.date(2024, 1, 1), **schedule_settings) -> dg.Definitions:
    settings = load_settings(
        mode="bootstrap", home=tmp_path, start_date=start, schedules=ScheduleSettings(**schedule_settings)
    )
    return build_defs(settings)


def _schedules_of(defs: dg.Definitions) -> dict[str, dg.ScheduleDefinition]:
    return {s.name: s for s in defs.schedules or []}  # type: ignore[union-attr]


def _schedules(tmp_path, **kwargs) -> dict[str, dg.ScheduleDefinition]:
    return _schedules_of(_defs(tmp_path, **kwargs))


def _evaluate(defs: dg.Definitions, name: str, at: dt.datetime):
    """One tick as the daemon evaluates it: run requests resolved against the job's partitions."""
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=defs.get_repository_def()
        )
        return _schedules_of(defs)[name].evaluate_tick(context)


def _tick(defs: dg.Definitions, name: str, at: dt.datetime) -> list[dg.RunRequest]:
    data = _evaluate(defs, name, at)
    assert not data.skip_message, data.skip_message
    return list(data.run_requests or [])


@pytest.mark.parametrize(
    ("at", "partition"),
    [
        # EDT: 20:30 New York is 00:30 UTC of the next day, so the UTC day of the session just closed is complete.
        (dt.datetime(2024, 3, 28, 20, 30, tzinfo=NEW_YORK), "2024-03-28"),
        # EST: 01:30 UTC; the same session.
        (dt.datetime(2024, 1, 16, 20, 30, tzinfo=NEW_YORK), "2024-01-16"),
        # The days the clocks change (EDT starts 10 March, ends 3 November 2024).
        (dt.datetime(2024, 3, 10, 20, 30, tzinfo=NEW_YORK), "2024-03-10"),
        (dt.datetime(2024, 11, 3, 20, 30, tzinfo=NEW_YORK), "2024-11-03"),
    ],
)
def test_daily_tick_takes_the_session_that_just_closed(tmp_path, at, partition):
    [request] = _tick(_defs(tmp_path), DAILY_SCHEDULE, at)
    assert request.partition_key == partition
    assert request.tags["dagster/partition"] == partition  # resolved against the job's partitions
    assert request.tags[KIND_TAG] == "ingest"
    assert request.run_key == f"ingest:{partition}"


def test_daily_tick_before_utc_midnight_takes_the_previous_day(tmp_path):
    defs = _defs(tmp_path, daily_schedule_time="18:00")
    assert _schedules_of(defs)[DAILY_SCHEDULE].cron_schedule == "0 18 * * *"
    [request] = _tick(
        defs, DAILY_SCHEDULE, dt.datetime(2024, 3, 28, 18, 0, tzinfo=NEW_YORK)
    )  # 22:00 UTC: 28th not over
    assert request.partition_key == "2024-03-27"


def test_schedule_time_and_zone_come_from_settings(tmp_path):
    defs = _defs(tmp_path, schedule_timezone="Europe/London", daily_schedule_time="07:05")
    daily = _schedules_of(defs)[DAILY_SCHEDULE]
    assert (daily.cron_schedule, daily.execution_timezone) == ("5 7 * * *", "Europe/London")
    [request] = _tick(defs, DAILY_SCHEDULE, dt.datetime(2024, 3, 28, 7, 5, tzinfo=ZoneInfo("Europe/London")))
    assert request.partition_key == "2024-03-27"
    default = _schedules(tmp_path)
    assert default[DAILY_SCHEDULE].execution_timezone == "America/New_York"
    assert default[DAILY_SCHEDULE].cron_schedule == "30 20 * * *"
    assert default[BACKFILL_SCHEDULE].cron_schedule == "0 6 * * 6"


def test_weekly_backfill_is_one_range_run_over_the_last_n_days(tmp_path):
    saturday = dt.datetime(2024, 3, 30, 6, 0, tzinfo=NEW_YORK)
    [request] = _tick(_defs(tmp_path), BACKFILL_SCHEDULE, saturday)
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2024-03-20", "2024-03-29")  # 10 days
    assert request.partition_key is None
    assert request.tags[KIND_TAG] == "backfill"

    [three] = _tick(_defs(tmp_path, backfill_partitions=3), BACKFILL_SCHEDULE, saturday)
    assert (three.tags[RANGE_START], three.tags[RANGE_END]) == ("2024-03-27", "2024-03-29")


def test_weekly_backfill_is_clipped_to_the_first_partition(tmp_path):
    defs = _defs(tmp_path, start=dt.date(2024, 3, 26))
    [request] = _tick(defs, BACKFILL_SCHEDULE, dt.datetime(2024, 3, 30, 6, 0, tzinfo=NEW_YORK))
    assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2024-03-26", "2024-03-29")


def test_ticks_before_the_first_partition_skip(tmp_path):
    defs = _defs(tmp_path, start=dt.date(2024, 6, 1))
    at = dt.datetime(2024, 3, 30, 6, 0, tzinfo=NEW_YORK)
    for name in (DAILY_SCHEDULE, BACKFILL_SCHEDULE):
        data = _evaluate(defs, name, at)
        assert "no complete partition" in (data.skip_message or ""), name
        assert not data.run_requests


def test_schedules_are_stopped_unless_enabled(tmp_path):
    assert {s.default_status for s in _schedules(tmp_path).values()} == {dg.DefaultScheduleStatus.STOPPED}
    enabled = _schedules(tmp_path, schedules_enabled=True)
    assert {s.default_status for s in enabled.values()} == {dg.DefaultScheduleStatus.RUNNING}


def test_schedule_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("BACKBONE_SCHEDULES_ENABLED", "true")
    monkeypatch.setenv("BACKBONE_SCHEDULE_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("BACKBONE_DAILY_SCHEDULE_TIME", "16:45")
    monkeypatch.setenv("BACKBONE_BACKFILL_PARTITIONS", "5")
    monkeypatch.setenv("BACKBONE_BACKFILL_CRON", "15 3  * * 0")
    settings = load_settings().schedules
    assert settings.schedules_enabled is True
    assert (settings.schedule_timezone, settings.daily_time()) == ("Asia/Tokyo", dt.time(16, 45))
    assert (settings.backfill_partitions, settings.backfill_cron) == (5, "15 3 * * 0")


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("BACKBONE_SCHEDULE_TIMEZONE", "Mars/Olympus_Mons", "not an IANA time zone"),
        ("BACKBONE_SCHEDULE_TIMEZONE", "../etc/passwd", "not an IANA time zone"),
        ("BACKBONE_DAILY_SCHEDULE_TIME", "24:00", "HH:MM"),
        ("BACKBONE_DAILY_SCHEDULE_TIME", "8:30", "HH:MM"),
        ("BACKBONE_BACKFILL_PARTITIONS", "0", "greater than or equal to 1"),
        ("BACKBONE_BACKFILL_CRON", "every saturday", "five-field cron"),
        ("BACKBONE_SCHEDULES_ENABLED", "maybe", "valid boolean"),
    ],
)
def test_bad_schedule_settings_fail_naming_the_variable(monkeypatch, variable, value, says):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert f"{variable}:" in str(error.value)
    assert says in str(error.value)


def test_definitions_with_schedules_load_for_dagster_dev(tmp_path):
    settings = load_settings(mode="bootstrap", home=tmp_path, schedules=ScheduleSettings(schedules_enabled=True))
    defs = build_defs(settings)
    dg.Definitions.validate_loadable(defs)
    assert {s.name: s.job_name for s in defs.schedules or []} == {  # type: ignore[union-attr]
        DAILY_SCHEDULE: DAILY_BARS_JOB,
        BACKFILL_SCHEDULE: DAILY_BARS_JOB,
    }


@pytest.mark.slow
def test_weekly_backfill_request_runs_once_over_its_range(bootstrap):
    """The backfill tick's tags, launched as the daemon would, give ONE run that materializes every day."""
    settings = bootstrap.model_copy(update={"start_date": dt.date(2024, 1, 1)})
    defs = build_defs(settings)
    [request] = _tick(defs, BACKFILL_SCHEDULE, dt.datetime(2024, 3, 30, 6, 0, tzinfo=NEW_YORK))
    with runner.instance(settings) as instance:
        result = defs.resolve_job_def(DAILY_BARS_JOB).execute_in_process(
            instance=instance, tags=request.tags, asset_selection=[dg.AssetKey("daily_bars_raw")]
        )
        assert result.success
        assert len(instance.get_runs()) == 1
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        assert run.tags[KIND_TAG] == "backfill"
        records = instance.fetch_materializations(dg.AssetKey("daily_bars_raw"), limit=100).records
    partitions = sorted(r.partition_key for r in records if r.run_id == result.run_id)
    assert partitions == [f"2024-03-{day}" for day in range(20, 30)]


@pytest.mark.slow
def test_cli_runs_carry_their_kind(bootstrap):
    day = dt.date(2024, 1, 2)
    one = runner.materialize(bootstrap, day, day, ["daily_bars_raw"])
    several = runner.materialize(bootstrap, day, dt.date(2024, 1, 4), ["daily_bars_raw"])
    checks = runner.run_checks(bootstrap)
    with runner.instance(bootstrap) as instance:
        kinds = {r.run_id: instance.get_run_by_id(r.run_id).tags.get(KIND_TAG) for r in (one, several, checks)}  # type: ignore[union-attr]
    assert kinds == {one.run_id: "ingest", several.run_id: "backfill", checks.run_id: "checks"}
