"""Jobs over the block assets; each carries the tags that give its runs a run report.

They leave out the check definitions (`ovc_blocks_checks`): the asset's step judges its window
and records the checks itself, once per run, instead of Dagster planning every check once per
partition of a range run."""

import dagster as dg

from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.runs.tags import RunType, ovc_run_tags


def build_live_ingest_job():
    """`live_ingest_job`: one run per 2H window (or range) of `ovc_blocks`, on the asset's partitions."""
    return dg.define_asset_job(
        "live_ingest_job",
        selection=dg.AssetSelection.assets(OVC_BLOCKS).without_checks(),
        tags=ovc_run_tags(RunType.LIVE_INGEST, input_source="tv_webhook", profile="MIN"),
        description="Land the TradingView alerts of 2H windows into ovc_blocks_v01 (LIVE_INGEST).",
    )


def build_hist_backfill_job():
    """`hist_backfill_job`: `ovc_blocks` from provider candles; the run config names the source
    (`source: oanda` or `csv`). Launch it as a backfill over a partition range: with the asset's
    single-run policy the range is one run that works through it in checkpointed chunks.

    The job has no default config on purpose: Dagster turns a partitioned job's config into
    partition-scoped config, and a backfill launched from the job's Partitions tab with config
    of its own then fails ("Cannot specify both partition-scoped run config and
    backfill-scoped run config"). A run without a provider source fails with E_CONFIG."""
    return dg.define_asset_job(
        "hist_backfill_job",
        selection=dg.AssetSelection.assets(OVC_BLOCKS).without_checks(),
        tags=ovc_run_tags(RunType.HIST_BACKFILL),
        description="Backfill ovc_blocks_v01 from OANDA v20 or CSV candles resampled to 2H blocks (HIST_BACKFILL); "
        "run config ops.ovc_blocks.config.source: oanda or csv.",
    )
