"""The code location loads, and its assets materialise through Dagster on a real database."""

from __future__ import annotations

import dagster as dg

from ovc_assets.defs.resources import PostgresResource
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.storage.migrations import discover_migrations


def test_definitions_load_with_every_asset_bound_to_its_resources() -> None:
    from ovc_assets.definitions import defs

    defs.validate_loadable(defs)
    asset_keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert "ovc_database_schema" in asset_keys


def test_schema_asset_migrates_then_reports_nothing_to_do(empty_database_url: str) -> None:
    resources = {"ovc_database": PostgresResource(database_url=empty_database_url)}
    instance = dg.DagsterInstance.ephemeral()

    first = dg.materialize([ovc_database_schema], resources=resources, instance=instance)
    metadata = first.asset_materializations_for_node("ovc_database_schema")[0].metadata
    assert metadata["migrations_applied"].value == len(discover_migrations())
    assert "| raw_events | 0 |" in metadata["tables"].value

    second = dg.materialize([ovc_database_schema], resources=resources, instance=instance)
    metadata = second.asset_materializations_for_node("ovc_database_schema")[0].metadata
    assert metadata["migrations_applied"].value == 0
    assert metadata["migrations_total"].value == len(discover_migrations())
