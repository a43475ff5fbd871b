"""The Dagster code location `ovc_assets.definitions:defs`: assembles the domains, nothing more."""

import dagster as dg

from ovc_assets.dagster_warnings import quiet_dagster_warnings
from ovc_assets.defs.alerts.sensors import AlertSettings, build_alerts_sensor
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, build_block_assets
from ovc_assets.defs.blocks.checks import build_blocks_checks
from ovc_assets.defs.blocks.jobs import build_hist_backfill_job, build_live_ingest_job
from ovc_assets.defs.blocks.schedules import (
    build_live_blocks_schedule,
    schedule_grace_minutes,
)
from ovc_assets.defs.blocks.sensors import build_late_events_sensor
from ovc_assets.defs.outcomes.assets import build_outcome_assets
from ovc_assets.defs.outcomes.jobs import build_outcome_compute_job
from ovc_assets.defs.outcomes.sensors import build_outcomes_sensor
from ovc_assets.defs.partitions import blocks_2h_partitions, partitions_start
from ovc_assets.defs.repair.sensors import build_missing_blocks_repair_sensor
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.defs.run_reports import build_run_report_sensors, run_report_assets
from ovc_assets.defs.run_reports.sensors import report_sensor_seconds
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.settings import load_settings


def build_definitions(executor: dg.ExecutorDefinition = dg.in_process_executor) -> dg.Definitions:
    """All assets, checks, jobs, schedules and sensors, on partitions starting at `OVC_PARTITIONS_START`.

    Every job's steps run in the run's own process by default: a run covers one window or
    range, its steps (the asset, then its checks) run one after the other, and each extra
    Python process of Dagster's multiprocess executor cost 8-15 s of start-up on this machine
    (benchmarks/RESULTS.md, "UI"), more than the steps themselves."""
    quiet_dagster_warnings()
    blocks_2h = blocks_2h_partitions(partitions_start())
    live_ingest_job = build_live_ingest_job()
    outcome_compute_job = build_outcome_compute_job()
    return dg.Definitions(
        assets=[ovc_database_schema, *build_block_assets(blocks_2h), *build_outcome_assets(blocks_2h), *run_report_assets],
        asset_checks=[build_blocks_checks(OVC_BLOCKS)],
        jobs=[live_ingest_job, build_hist_backfill_job(), outcome_compute_job],
        schedules=[build_live_blocks_schedule(live_ingest_job, schedule_grace_minutes())],
        sensors=[
            build_late_events_sensor(live_ingest_job, blocks_2h),
            build_outcomes_sensor(outcome_compute_job, blocks_2h),
            *build_run_report_sensors(report_sensor_seconds()),
            build_alerts_sensor(),
            build_missing_blocks_repair_sensor(),
        ],
        executor=executor,
        resources={
            "ovc_database": PostgresResource(),
            "pipeline": PipelineSettings(symbols=list(load_settings().symbols)),
            "alerts": AlertSettings(),
        },
    )


defs = build_definitions()
