"""The sensor on `ovc_blocks` materialisations requests the outcomes of the windows they completed."""

from __future__ import annotations

from datetime import date

import dagster as dg

from ovc_assets.calendar import Block
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.outcomes.assets import build_outcome_assets
from ovc_assets.defs.outcomes.jobs import OUTCOME_COMPUTE_JOB, build_outcome_compute_job
from ovc_assets.defs.outcomes.sensors import build_outcomes_sensor
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.runs.tags import RUN_TYPE_TAG

BLOCKS_2H = blocks_2h_partitions(Block(date(2026, 1, 4), "A").start_utc)
JOB = build_outcome_compute_job()
DEFS = dg.Definitions(
    assets=build_outcome_assets(BLOCKS_2H),
    jobs=[JOB],
    sensors=[build_outcomes_sensor(JOB, BLOCKS_2H)],
    resources={"ovc_database": PostgresResource(database_url="postgresql://unused"), "pipeline": PipelineSettings()},
)
SENSOR = DEFS.resolve_sensor_def("ovc_outcomes_after_blocks_sensor")


def _materialised(instance: dg.DagsterInstance, *blocks: Block) -> None:
    for block in blocks:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=OVC_BLOCKS, partition=partition_key_for_block(block)))


def _tick(instance: dg.DagsterInstance, cursor: str | None = None):
    with dg.build_sensor_context(instance=instance, repository_def=DEFS.get_repository_def(), cursor=cursor) as context:
        return SENSOR.evaluate_tick(context)


def test_new_blocks_request_the_windows_they_close_once(instance) -> None:
    assert not _tick(instance).run_requests

    monday_a, monday_b = Block(date(2026, 1, 12), "A"), Block(date(2026, 1, 12), "B")  # Monday 17:00 and 19:00
    _materialised(instance, monday_a, monday_b)
    result = _tick(instance)
    (request,) = result.run_requests
    # Monday A closes windows back to 6 open blocks before it: Monday's G..L (no weekend in between).
    first = Block(date(2026, 1, 11), "G")
    assert request.tags["dagster/asset_partition_range_start"] == partition_key_for_block(first)
    assert request.tags["dagster/asset_partition_range_end"] == partition_key_for_block(monday_b)
    assert JOB.name == OUTCOME_COMPUTE_JOB and DEFS.resolve_job_def(OUTCOME_COMPUTE_JOB).tags[RUN_TYPE_TAG] == "OUTCOME_COMPUTE"

    repeated = _tick(instance, result.cursor)
    assert not repeated.run_requests, "a repeated tick requests nothing new"


def test_the_first_block_of_a_week_reaches_back_over_the_weekend(instance) -> None:
    sunday_a = Block(date(2026, 1, 18), "A")
    _materialised(instance, sunday_a)
    (request,) = _tick(instance).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == partition_key_for_block(Block(date(2026, 1, 15), "G"))
    assert request.run_key.startswith(f"outcomes:{partition_key_for_block(Block(date(2026, 1, 15), 'G'))}...")
