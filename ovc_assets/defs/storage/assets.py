"""The `ovc` database schema, materialised by applying the migrations in `sql/`."""

import dagster as dg

from ovc_assets.defs.metadata import markdown_table
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.storage.catalog import table_row_counts
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import mask_dsn


@dg.asset(group_name="storage", kinds={"postgres"})
def ovc_database_schema(context: dg.AssetExecutionContext, ovc_database: PostgresResource) -> dg.MaterializeResult:
    """The `ovc` schema in Postgres with every table of the design (raw events, blocks, details,
    outcomes, run reports, run manifest). Materialising applies pending `sql/` migrations in order,
    each in its own transaction; with nothing pending it changes nothing."""
    dsn = ovc_database.dsn()
    result = migrate(dsn)
    context.log.info(f"applied {len(result.applied)} migration(s): {result.applied}")
    with ovc_database.connection() as conn:
        counts = table_row_counts(conn)
    return dg.MaterializeResult(
        metadata={
            "database": mask_dsn(dsn),
            "migrations_applied": dg.MetadataValue.int(len(result.applied)),
            "migrations_total": dg.MetadataValue.int(len(result.applied) + len(result.already_applied)),
            "tables": dg.MetadataValue.md(markdown_table(("table", "rows"), sorted(counts.items()))),
        }
    )
