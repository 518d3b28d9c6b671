"""Schedule settings (``BACKBONE_SCHEDULES_ENABLED``, ``BACKBONE_SCHEDULE_TIMEZONE``, ``BACKBONE_DAILY_*``,
``BACKBONE_BACKFILL_*``), typed and validated once.

Kept apart from the core settings so the schedules own their knobs; ``BackboneSettings.schedules`` nests them.
A zone that is not in the IANA database or a time that is not ``HH:MM`` fails at load naming the variable,
not at the first tick hours later inside the daemon.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")


class ScheduleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKBONE_", extra="ignore", frozen=True)

    schedules_enabled: bool = Field(False, description="true: schedules start RUNNING in dagster dev/daemon")
    schedule_timezone: str = Field("America/New_York", description="IANA zone the schedule times are in")
    daily_schedule_time: str = Field("20:30", description="HH:MM in the schedule zone, after the close")
    backfill_partitions: int = Field(10, ge=1, le=366, description="newest partitions the weekly backfill redoes")
    backfill_cron: str = Field("0 6 * * 6", description="cron of the weekly backfill (default Saturday 06:00)")

    @field_validator("schedule_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/New_York, UTC)") from None
        return value

    @field_validator("daily_schedule_time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if not _HH_MM.match(value):
            raise ValueError(f"{value!r} is not a 24-hour HH:MM time (e.g. 20:30)")
        return value

    @field_validator("backfill_cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"{value!r} is not a five-field cron expression (e.g. '0 6 * * 6')")
        return " ".join(fields)

    def daily_time(self) -> dt.time:
        hour, minute = (int(part) for part in self.daily_schedule_time.split(":"))
        return dt.time(hour, minute)
