"""`ovc_outcomes_after_blocks_sensor`: new `ovc_blocks` materialisations request the outcomes of
the windows they may have completed.

A block partition P closes the windows of the blocks up to `LOOKAHEAD_BLOCKS` open blocks
before it, so each tick requests one range run of `ovc_outcomes` from the earliest new P minus
the look-ahead to the latest new P (recomputing a window that was already final changes no
row). The cursor is the storage id of the newest materialisation handled; the run key names
the range and that id, so a repeated tick requests nothing new.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import dagster as dg

from ovc_assets.calendar import NEW_YORK, Block, FxCalendar, block_at
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.outcomes.assets import LOOKAHEAD_BLOCKS
from ovc_assets.defs.partitions import BLOCK_KEY_FORMAT, partition_key_for_block
from ovc_assets.runs.tags import INPUT_RANGE_TAG

MATERIALIZATIONS_PER_TICK = 1000
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Far enough back to step over a weekend plus a holiday closure.
OPEN_BLOCK_SEARCH = timedelta(days=7)


def block_of_partition_key(key: str) -> Block:
    """The block of a 2H partition key (its New York start, e.g. `2026-01-13-17:00`)."""
    return block_at(datetime.strptime(key, BLOCK_KEY_FORMAT).replace(tzinfo=NEW_YORK))


def earliest_block_reaching(block: Block, calendar: FxCalendar, lookahead: int = LOOKAHEAD_BLOCKS) -> Block:
    """The earliest open block whose window of `lookahead` open blocks contains `block`."""
    before = calendar.expected_blocks(block.start_utc - OPEN_BLOCK_SEARCH, block.start_utc)
    return before[-lookahead] if len(before) >= lookahead else (before[0] if before else block)


def build_outcomes_sensor(job, blocks_2h: dg.TimeWindowPartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(name="ovc_outcomes_after_blocks_sensor", job=job, minimum_interval_seconds=60)
    def ovc_outcomes_after_blocks_sensor(context: dg.SensorEvaluationContext):
        """Request the outcomes of the windows that new ovc_blocks materialisations completed."""
        after = json.loads(context.cursor)["after_storage_id"] if context.cursor else None
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=OVC_BLOCKS, after_storage_id=after),
            limit=MATERIALIZATIONS_PER_TICK,
            ascending=True,
        ).records
        if not records:
            return dg.SkipReason("no new ovc_blocks materialisation")
        newest = max(record.storage_id for record in records)
        cursor = json.dumps({"after_storage_id": newest})
        keys = sorted(record.partition_key for record in records if record.partition_key)
        if not keys:
            return dg.SensorResult(run_requests=[], cursor=cursor)
        calendar = FxCalendar()
        first_block = earliest_block_reaching(block_of_partition_key(keys[0]), calendar)
        first = max(partition_key_for_block(first_block), blocks_2h.get_first_partition_key() or keys[0])
        last = keys[-1]
        request = dg.RunRequest(
            run_key=f"outcomes:{first}...{last}:{newest}",
            tags={RANGE_START_TAG: first, RANGE_END_TAG: last, INPUT_RANGE_TAG: f"partitions={first}...{last}"},
        )
        return dg.SensorResult(run_requests=[request], cursor=cursor)

    return ovc_outcomes_after_blocks_sensor
