"""Runs of the block assets started by `ovc` commands: in-process, on the persistent Dagster
instance, over any range of blocks, each followed by its run report.

The command line may reach before `OVC_PARTITIONS_START` (which only bounds what the UI
lists): the assets are built on partitions that start at the range's first block when needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from ovc_assets.calendar import Block
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.outcomes.assets import build_outcome_assets
from ovc_assets.defs.partitions import (
    blocks_2h_partitions,
    partition_key_for_block,
    partitions_start,
)
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.defs.run_reports.sensors import report_and_record
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.tags import ovc_run_tags
from ovc_assets.settings import Settings
from ovc_assets.storage.postgres import connect

# The command prints its own progress and outcome; Dagster's console logs only what is critical.
QUIET_RUN_CONFIG: Mapping[str, Any] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class BlockRangeRun:
    result: dg.ExecuteInProcessResult
    report: RunReport | None


def run_block_range(
    asset_key: dg.AssetKey,
    first: Block,
    last: Block,
    *,
    dsn: str,
    settings: Settings,
    pipeline: PipelineSettings,
    run_type: str,
    input_source: str,
    cli_args: str | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> BlockRangeRun:
    """Materialise `asset_key` over the blocks `first`..`last` in one run, write its report and
    show it in the UI (`ovc_run_reports`)."""
    start = min(first.start_utc, partitions_start())
    assets = [*build_block_assets(blocks_2h_partitions(start)), *build_outcome_assets(blocks_2h_partitions(start))]
    tags = {
        "dagster/asset_partition_range_start": partition_key_for_block(first),
        "dagster/asset_partition_range_end": partition_key_for_block(last),
        **ovc_run_tags(
            run_type,
            input_source=input_source,
            input_range=f"{first.date_ny}-{first.letter}..{last.date_ny}-{last.letter}",
            cli_args=cli_args,
        ),
    }
    instance = open_dagster_instance(dsn, settings)
    try:
        result = dg.materialize(
            assets,
            instance=instance,
            resources={"ovc_database": PostgresResource(database_url=dsn), "pipeline": pipeline},
            selection=[asset_key],
            tags=tags,
            run_config={**QUIET_RUN_CONFIG, **(run_config or {})},
            raise_on_error=False,
        )
        with connect(dsn, autocommit=True) as conn:
            report = report_and_record(instance, conn, result.run_id, settings=settings).report
    finally:
        instance.dispose()
    return BlockRangeRun(result, report)
