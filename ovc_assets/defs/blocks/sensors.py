"""`late_events_sensor`: events that land for a window already materialised re-materialise it.

Re-running a window is idempotent (unchanged rows are skipped), so a late alert simply adds
its block. The cursor is the landing time of the newest late event handled; run keys name
the window and that time, so a repeated tick requests nothing new.
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from ovc_assets.calendar import block_at
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.pipeline.block_rows import BLOCK_SOURCE_ROUTES
from ovc_assets.project_files import load_query
from ovc_assets.runs.tags import INPUT_RANGE_TAG

MAX_RUNS_PER_TICK = 25
FIRST_TICK_LOOKBACK = timedelta(days=1)


def build_late_events_sensor(
    job, blocks_2h: dg.TimeWindowPartitionsDefinition
) -> dg.SensorDefinition:
    @dg.sensor(name="late_events_sensor", job=job, minimum_interval_seconds=60)
    def late_events_sensor(context: dg.SensorEvaluationContext, ovc_database: PostgresResource):
        """Re-materialise 2H windows whose alerts landed after the window was materialised."""
        cursor = json.loads(context.cursor) if context.cursor else {}
        since = (
            datetime.fromisoformat(cursor["landed_after"])
            if "landed_after" in cursor
            else datetime.now(UTC) - FIRST_TICK_LOOKBACK
        )
        with ovc_database.connection() as conn:
            windows = conn.execute(
                load_query("late_event_windows"),
                {"since": since, "routes": list(BLOCK_SOURCE_ROUTES), "step_key": OVC_BLOCKS.to_user_string(), "limit": MAX_RUNS_PER_TICK},
            ).fetchall()
        if not windows:
            return dg.SkipReason(f"no events landed late since {since.isoformat()}")
        first_key = blocks_2h.get_first_partition_key()
        requests = []
        for block_start, last_landed_at in windows:
            key = partition_key_for_block(block_at(block_start))
            if first_key is None or key < first_key:
                continue  # before the partitions' start: only `ovc backfill` reaches it
            requests.append(
                dg.RunRequest(run_key=f"late:{key}:{last_landed_at.isoformat()}", partition_key=key, tags={INPUT_RANGE_TAG: key})
            )
        newest = max(last_landed_at for _, last_landed_at in windows)
        return dg.SensorResult(run_requests=requests, cursor=json.dumps({"landed_after": newest.isoformat()}))

    return late_events_sensor
