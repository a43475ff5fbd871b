"""`ovc demo`: the main job on the embedded default, end to end, printing what it did."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from ovc_assets.settings import load_settings
from ovc_assets.storage.catalog import table_row_counts
from ovc_assets.storage.postgres import connect, mask_dsn, resolve_dsn, server_version
from ovc_assets.storage.raw_store import open_raw_store


def demo_command() -> None:
    """Start the database (embedded unless OVC_DATABASE_URL is set), materialise the graph
    through Dagster in-process, and print what was done."""
    from ovc_assets.definitions import defs

    console = Console()
    settings = load_settings()
    started = time.perf_counter()
    dsn = resolve_dsn(settings)
    console.print(f"database: {mask_dsn(dsn)} (PostgreSQL {server_version(dsn)})")

    raw_store = open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
    raw_store.check()
    console.print(f"raw store: {raw_store.location}")

    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}}, raise_on_error=False
    )
    if not result.success:
        raise SystemExit("the Dagster run failed; see the log above")
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        console.print(f"materialised {materialization.asset_key.to_user_string()}")

    with connect(dsn) as conn:
        counts = table_row_counts(conn)
    table = Table(title="ovc schema")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in sorted(counts.items()):
        table.add_row(name, str(rows))
    console.print(table)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
