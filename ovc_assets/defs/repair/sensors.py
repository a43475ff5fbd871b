"""`missing_blocks_repair_sensor`: a live window reported with missing blocks gets exactly those
blocks from OANDA, through `hist_backfill_job` (one run per 2H partition, the missing symbols only)."""

import os
from datetime import UTC, datetime

import dagster as dg

from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.ops.repair import RepairCursor, plan_repairs
from ovc_assets.storage.postgres import connect

OANDA_TOKEN_ENV = "OANDA_API_TOKEN"
HIST_BACKFILL_JOB_NAME = "hist_backfill_job"


def build_missing_blocks_repair_sensor(*, minimum_interval_seconds: int = 60) -> dg.SensorDefinition:
    @dg.sensor(
        name="missing_blocks_repair_sensor",
        job_name=HIST_BACKFILL_JOB_NAME,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def missing_blocks_repair_sensor(context: dg.SensorEvaluationContext, ovc_database: PostgresResource):
        """When a live window's report has `blocks_missing > 0` and OANDA is configured
        (`OANDA_API_TOKEN`), backfills exactly the missing blocks from OANDA (one
        `hist_backfill_job` run per 2H partition, for the symbols missing there); the repair
        run's report says how many were recovered and how many are still missing."""
        if not os.environ.get(OANDA_TOKEN_ENV):
            return dg.SkipReason(f"{OANDA_TOKEN_ENV} is not set: no provider to repair missing blocks from")
        with connect(ovc_database.dsn(), autocommit=True) as conn:
            repairs, cursor = plan_repairs(conn, datetime.now(UTC), RepairCursor.from_json(context.cursor))
        requests = [
            dg.RunRequest(
                run_key=repair.run_key,
                partition_key=partition_key_for_block(repair.block),
                run_config=repair.run_config(),
                tags=repair.run_tags(),
            )
            for repair in repairs
        ]
        for repair in repairs:
            context.log.info(f"repair of {repair.live_run_id}: {', '.join(repair.block_ids())} from {repair.provider}")
        return dg.SensorResult(run_requests=requests, cursor=cursor.to_json())

    return missing_blocks_repair_sensor
