"""The event-log storage of the OVC Dagster instance (named in `dagster.yaml`).

dagster-postgres asks PostgreSQL's catalog whether a table or column exists before many of its
writes and reads: each asset check evaluation, each asset event carrying tags, each read of
asset records. Each question is a catalog round trip through SQLAlchemy's reflection; in a
60-partition range run they were a fifth of what the run costs beyond an empty one. Dagster only
ever adds tables and columns (`dagster instance migrate`) and never drops them under a running
process, so this storage remembers what it has found; what is missing is asked again each time,
so a migration run beside a live webserver is still seen.

It also stores a run's asset check evaluation in one statement
(`sql/queries/dagster_store_run_check_evaluation.sql`). dagster-postgres sends four: the event,
its NOTIFY, an UPDATE of the check's planned row and, when none was planned (`ovc_blocks` records
its checks itself), an INSERT, serialising the event for each write (benchmarks/RESULTS.md: about
a third of the time). The rows are the same (`ovc_assets_tests/test_event_log_storage.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as db
from dagster import DagsterEventType
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.event_log.event_log import CHANNEL_NAME
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from ovc_assets.project_files import load_query

STORE_RUN_CHECK_EVALUATION = db.text(load_query("dagster_store_run_check_evaluation"))


class OvcEventLogStorage(PostgresEventLogStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before the parent's constructor, which may already ask while creating the tables.
        self._schema_found: set[tuple[str, str]] = set()
        super().__init__(*args, **kwargs)

    def _found(self, kind: str, name: str, ask: Callable[[], bool]) -> bool:
        if (kind, name) in self._schema_found:
            return True
        exists = ask()
        if exists:
            self._schema_found.add((kind, name))
        return exists

    def has_table(self, table_name: str) -> bool:
        return self._found("table", table_name, lambda: super(OvcEventLogStorage, self).has_table(table_name))

    def has_asset_key_col(self, column_name: str) -> bool:
        return self._found("asset_keys column", column_name, lambda: super(OvcEventLogStorage, self).has_asset_key_col(column_name))

    def store_event(self, event: EventLogEntry) -> None:
        if event.run_id and event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            self._store_run_check_evaluation(event)
        else:
            super().store_event(event)

    def _store_run_check_evaluation(self, event: EventLogEntry) -> None:
        """What dagster-postgres stores for a run's check evaluation (the event, its NOTIFY, the
        check's execution row), in one statement instead of four, serialising the event once."""
        if not self.supports_asset_checks:
            super().store_event(event)  # Dagster's own message: the schema needs a migration
            return
        evaluation = event.get_dagster_event().asset_check_evaluation_data
        row = self._event_to_row(event)
        materialization = evaluation.target_materialization_data
        with self._connect() as conn:
            _, _, rows_written = conn.execute(
                STORE_RUN_CHECK_EVALUATION,
                {
                    **row,
                    "execution_status": (
                        AssetCheckExecutionRecordStatus.SUCCEEDED if evaluation.passed else AssetCheckExecutionRecordStatus.FAILED
                    ).value,
                    "materialization_event_storage_id": materialization.storage_id if materialization else None,
                    "check_asset_key": evaluation.asset_key.to_string(),
                    "check_name": evaluation.check_name,
                    "check_partition": evaluation.partition,
                    "channel": CHANNEL_NAME,
                },
            ).one()
        if rows_written > 1:
            raise DagsterInvariantViolationError(
                f"Updated {rows_written} rows for asset check evaluation {evaluation.asset_check_key} "
                "as a result of duplicate AssetCheckPlanned events."
            )

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> OvcEventLogStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
