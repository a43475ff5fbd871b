"""The event-log storage of the OVC Dagster instance (named in `dagster.yaml`).

dagster-postgres asks PostgreSQL's catalog whether a table or column exists before many of its
writes and reads: each asset check evaluation, each asset event carrying tags, each read of
asset records. Each question is a catalog round trip through SQLAlchemy's reflection; in a
60-partition range run they were a fifth of what the run costs beyond an empty one. Dagster only
ever adds tables and columns (`dagster instance migrate`) and never drops them under a running
process, so this storage remembers what it has found; what is missing is asked again each time,
so a migration run beside a live webserver is still seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config


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

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]) -> OvcEventLogStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
