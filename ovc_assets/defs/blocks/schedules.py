"""`live_blocks_schedule`: at each 2H close plus a grace period, ingest the block that just closed."""

import os
from datetime import timedelta

import dagster as dg

from ovc_assets.calendar import FxCalendar, block_at
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.runs.tags import INPUT_RANGE_TAG

DEFAULT_GRACE_MINUTES = 5


def schedule_grace_minutes() -> int:
    """`OVC_SCHEDULE_GRACE_MINUTES` (0-59, default 5): how long after a block closes its alerts are awaited."""
    minutes = int(os.environ.get("OVC_SCHEDULE_GRACE_MINUTES") or DEFAULT_GRACE_MINUTES)
    if not 0 <= minutes <= 59:
        raise ValueError(f"OVC_SCHEDULE_GRACE_MINUTES must be 0..59, got {minutes}")
    return minutes


def build_live_blocks_schedule(job, grace_minutes: int) -> dg.ScheduleDefinition:
    calendar = FxCalendar()

    @dg.schedule(
        name="live_blocks_schedule",
        job=job,
        cron_schedule=f"{grace_minutes} 1-23/2 * * *",
        execution_timezone="America/New_York",
        description=f"Each 2H close + {grace_minutes} min: materialise the block that just closed; skipped over the weekend.",
    )
    def live_blocks_schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        closed = block_at(tick - timedelta(minutes=grace_minutes)).previous()
        if not calendar.is_open(closed):
            return dg.SkipReason(f"block {closed.date_ny}-{closed.letter} is in the FX weekend or a holiday closure")
        key = partition_key_for_block(closed)
        return dg.RunRequest(run_key=key, partition_key=key, tags={INPUT_RANGE_TAG: key})

    return live_blocks_schedule
