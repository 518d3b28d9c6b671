"""The institutional instance's storage: dagster-postgres, with a check evaluation planned in one row and a
buffer of asset events written as one cached statement (``event_batches``).

``storage: custom`` in ``docker/dagster/dagster.yaml`` names this class with dagster-postgres' own
``postgres_db`` settings; runs, schedules and the event log are dagster-postgres' tables in the same database,
so an instance made with ``storage: postgres`` keeps its history. Why the event log differs: ``check_plans``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dagster._core.event_api import EventLogEntry
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from backbone_assets.check_plans import OneRowPerCheckPlan
from backbone_assets.event_batches import batchable, insert_returning_ids, last_per_asset


class CheckPlanningPostgresEventLogStorage(OneRowPerCheckPlan, PostgresEventLogStorage):
    """dagster-postgres' event log, a planned check evaluation stored as one row, asset events in batches
    through one cached statement."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not batchable(events):
            super().store_event_batch(events)  # anything unusual: Dagster's own path
            return
        rows = [self._event_to_row(event) for event in events]
        with self._connect() as conn:
            event_ids = insert_returning_ids(conn, rows)
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, event_ids)
            for event, event_id in last_per_asset(events, event_ids).values():
                self._store_asset_event(conn, event, event_id)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> CheckPlanningPostgresEventLogStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )


class BackbonePostgresStorage(DagsterPostgresStorage):
    """dagster-postgres' storage with the event log above (run and schedule storage unchanged)."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        # Dagster's own constructor with the event log swapped: building the default one first would connect
        # and check its tables twice.
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        tables = {"should_autocreate_tables": should_autocreate_tables, "token_provider": token_provider}
        self._run_storage = PostgresRunStorage(postgres_url, **tables)
        self._event_log_storage = CheckPlanningPostgresEventLogStorage(postgres_url, **tables)
        self._schedule_storage = PostgresScheduleStorage(postgres_url, **tables)
        super(DagsterPostgresStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> BackbonePostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )

    @property
    def event_storage_data(self) -> ConfigurableClassData | None:
        if self.inst_data is None:
            return None
        event_log = CheckPlanningPostgresEventLogStorage.__name__
        return ConfigurableClassData(__name__, event_log, self.inst_data.config_yaml)
