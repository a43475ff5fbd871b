"""The `ovc` database schema, materialised by applying the migrations in `sql/`.

Migrations also run outside Dagster (`ovc db migrate`, `ovc demo`, `ovc dev`); those record
a runless materialisation of `ovc_database_schema` on the OVC Dagster instance
(`migrate_and_record`), so the UI shows the schema's true state instead of "Never
materialized" and a "Materialize" click downstream does not warn about it.
"""

import dagster as dg

from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.metadata import markdown_table
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.settings import Settings
from ovc_assets.storage.catalog import table_row_counts
from ovc_assets.storage.migrations import MigrationResult, migrate
from ovc_assets.storage.postgres import connect, mask_dsn

OVC_DATABASE_SCHEMA = dg.AssetKey("ovc_database_schema")


def schema_metadata(dsn: str, result: MigrationResult) -> dict[str, object]:
    """What a migration did and what the schema holds now."""
    with connect(dsn) as conn:
        counts = table_row_counts(conn)
    return {
        "database": mask_dsn(dsn),
        "migrations_applied": dg.MetadataValue.int(len(result.applied)),
        "migrations_total": dg.MetadataValue.int(len(result.applied) + len(result.already_applied)),
        "latest_migration": (result.applied or result.already_applied or [""])[-1],
        "tables": dg.MetadataValue.md(markdown_table(("table", "rows"), sorted(counts.items()))),
    }


@dg.asset(key=OVC_DATABASE_SCHEMA, group_name="storage", kinds={"postgres"})
def ovc_database_schema(context: dg.AssetExecutionContext, ovc_database: PostgresResource) -> dg.MaterializeResult:
    """The `ovc` schema in Postgres with every table of the design (raw events, blocks, details,
    outcomes, run reports, run manifest). Materialising applies pending `sql/` migrations in order,
    each in its own transaction; with nothing pending it changes nothing. `ovc db migrate`,
    `ovc demo` and `ovc dev` record their migrations here too."""
    dsn = ovc_database.dsn()
    result = migrate(dsn)
    context.log.info(f"applied {len(result.applied)} migration(s): {result.applied}")
    return dg.MaterializeResult(metadata=schema_metadata(dsn, result))


def migrate_and_record(dsn: str, settings: Settings | None = None) -> MigrationResult:
    """Apply pending migrations outside Dagster and record the schema's state on the OVC
    instance: a runless materialisation when migrations were applied or none is recorded yet."""
    result = migrate(dsn)
    instance = open_dagster_instance(dsn, settings)
    try:
        if result.applied or instance.get_latest_materialization_event(OVC_DATABASE_SCHEMA) is None:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=OVC_DATABASE_SCHEMA,
                    description=f"migrated outside Dagster: {len(result.applied)} migration(s) applied",
                    metadata=schema_metadata(dsn, result),
                )
            )
    finally:
        instance.dispose()
    return result
