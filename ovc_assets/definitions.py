"""The Dagster code location `ovc_assets.definitions:defs`: assembles the domains, nothing more."""

import dagster as dg

from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.blocks.history import build_hist_backfill_job
from ovc_assets.defs.blocks.jobs import build_live_ingest_job
from ovc_assets.defs.blocks.schedules import (
    build_live_blocks_schedule,
    schedule_grace_minutes,
)
from ovc_assets.defs.blocks.sensors import build_late_events_sensor
from ovc_assets.defs.partitions import blocks_2h_partitions, partitions_start
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.defs.run_reports import run_report_assets, run_report_sensors
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.settings import load_settings


def build_definitions() -> dg.Definitions:
    """All assets, checks, jobs, schedules and sensors, on partitions starting at `OVC_PARTITIONS_START`."""
    blocks_2h = blocks_2h_partitions(partitions_start())
    live_ingest_job = build_live_ingest_job(blocks_2h)
    return dg.Definitions(
        assets=[ovc_database_schema, *build_block_assets(blocks_2h), *run_report_assets],
        jobs=[live_ingest_job, build_hist_backfill_job()],
        schedules=[build_live_blocks_schedule(live_ingest_job, schedule_grace_minutes())],
        sensors=[build_late_events_sensor(live_ingest_job, blocks_2h), *run_report_sensors],
        resources={
            "ovc_database": PostgresResource(),
            "pipeline": PipelineSettings(symbols=list(load_settings().symbols)),
        },
    )


defs = build_definitions()
