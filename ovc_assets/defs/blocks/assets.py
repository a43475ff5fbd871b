"""The block tables as partitioned assets: `ovc_blocks` (live MIN blocks, 2H) and
`ovc_block_details` (FULL exports from the cold path, 2H, opt-in)."""

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC

import dagster as dg
import psycopg

from ovc_assets.defs.blocks.checks import check_evaluations, checks_run_in_their_own_step, judge_window
from ovc_assets.defs.blocks.history import BlocksSourceConfig, ingest_history, require_provider_source
from ovc_assets.defs.blocks.symbols import blocks_of_unconfigured_symbols, warn_unconfigured_symbols
from ovc_assets.defs.blocks.window import WindowIngest, add_run_figures, window_metadata
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.pipeline.block_rows import (
    BLOCK_SOURCE_ROUTES,
    DETAIL_SOURCE_ROUTES,
    FULL_DETAILS,
    MIN_BLOCKS,
    PayloadKind,
    PreparedBlocks,
    prepare_rows,
)
from ovc_assets.runs.counts import tracked_step
from ovc_assets.runs.tags import RUN_TYPE_TAG, RunType
from ovc_assets.storage.blocks import (
    NOTHING_MERGED,
    UpsertCounts,
    upsert_block_details,
    upsert_live_blocks,
)
from ovc_assets.storage.raw_events import count_quarantined, select_events_for_window

OVC_BLOCKS = dg.AssetKey("ovc_blocks")
OVC_BLOCK_DETAILS = dg.AssetKey("ovc_block_details")


def ingest_window(
    context: dg.AssetExecutionContext,
    conn: psycopg.Connection,
    dsn: str,
    symbols: Sequence[str],
    kind: PayloadKind,
    routes: Sequence[str],
    upsert: Callable[[psycopg.Connection, Iterable[Sequence[object]]], UpsertCounts],
    default_run_type: str,
) -> WindowIngest:
    """Land the window's events of `routes` as rows of `kind`, counting for the run report, in
    one transaction with the counts (recorded on a connection of their own when the step fails)."""
    window = context.partition_time_window
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    run_id = context.run.run_id
    run_type = context.run.tags.get(RUN_TYPE_TAG, default_run_type)
    step_key = context.asset_key.to_user_string()
    with tracked_step(dsn, run_id, step_key, run_type, range_start=start, range_end=end, symbols=symbols) as counts:
        events = select_events_for_window(conn, start, end, routes)
        # Validating an empty batch still builds the pandera schema: most live windows are empty.
        prepared = prepare_rows(kind, events, run_id, counts) if events else PreparedBlocks()
        counts.insert_attempted += counts.parse_ok
        try:
            # Staging nothing still creates and drops a temporary table (catalog writes).
            merged = upsert(conn, prepared.rows) if prepared.rows else NOTHING_MERGED
        except psycopg.Error:
            counts.insert_failed += len(prepared.rows)
            counts.insert_skipped += prepared.superseded
            raise
        counts.insert_success += merged.success
        counts.insert_skipped += merged.skipped + prepared.superseded
        counts.quarantined_events = count_quarantined(conn, start, end, routes)
        counts.commit_with(conn)
    if counts.quarantined_events:
        context.log.warning(
            f"{step_key}: {counts.quarantined_events} event(s) of this window were refused by the database and are "
            "quarantined in ovc.raw_event_quarantine, not in the blocks (see the receiver's /healthz)"
        )
    context.log.info(
        f"{step_key} {start.isoformat()}..{end.isoformat()}: {counts.received_events} events, "
        f"{counts.parse_ok} parsed, {counts.parse_fail} rejected, {merged.inserted} inserted, "
        f"{merged.updated} updated, {merged.skipped} unchanged"
    )
    return WindowIngest(start, end, counts, prepared, merged)


def build_block_assets(blocks_2h: dg.TimeWindowPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """The block assets on the given 2H partitions (their start is configuration)."""

    @dg.asset(
        key=OVC_BLOCKS,
        partitions_def=blocks_2h,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[ovc_database_schema],
        group_name="blocks",
        kinds={"postgres", "pandas"},
    )
    def ovc_blocks(
        context: dg.AssetExecutionContext,
        ovc_database: PostgresResource,
        pipeline: PipelineSettings,
        config: BlocksSourceConfig,
    ) -> dg.MaterializeResult:
        """2H market blocks in `ovc.ovc_blocks_v01`, one row per symbol and block.

        Live path (default): reads the webhook events landed for the blocks of the run's window
        (one partition or a range), parses them with the export contracts, validates the batch
        with the pandera schema, keeps one alert per block (latest bar time, then latest
        receipt) and merges the rows in one set-based upsert. Rejected payloads never reach the
        table; they are counted by error code.

        History backfill (run config `source: oanda` or `csv`, e.g. `hist_backfill_job`):
        resamples provider candles into New-York-anchored 2H blocks and merges them in
        checkpointed chunks into the provider columns; they fill OHLC and volume only where no
        live row owns them. A killed backfill resumes after its last committed chunk.

        Either way unchanged rows are left alone, so reruns are no-ops, and the checks
        (`ovc_blocks_checks`) judge the whole window after the write, once per run. The run's
        figures are on the materialisation of its first partition; every partition shows the
        run's window and symbols."""
        require_provider_source(context.run.tags, config)
        dsn = ovc_database.dsn()
        symbols = config.symbols_of_run(pipeline.symbols)
        with ovc_database.connection() as conn:
            if config.reads_landed_events:
                ingest = ingest_window(
                    context, conn, dsn, symbols, MIN_BLOCKS, BLOCK_SOURCE_ROUTES, upsert_live_blocks, RunType.LIVE_INGEST
                )
            else:
                ingest = ingest_history(context, conn, dsn, pipeline, config)
            quality, check_results = judge_window(conn, symbols, ingest.start, ingest.end, pipeline)
            configured = sorted({*pipeline.symbols, *symbols})
            other_symbols = blocks_of_unconfigured_symbols(conn, ingest.start, ingest.end, configured)
        warn_unconfigured_symbols(context, other_symbols, configured)
        if not checks_run_in_their_own_step(context, OVC_BLOCKS):
            for evaluation in check_evaluations(OVC_BLOCKS, check_results):
                context.log_event(evaluation)
        add_run_figures(
            context,
            {
                **ingest.figures(),
                "unconfigured_symbol_blocks": dg.MetadataValue.json(other_symbols),
                "blocks_missing": dg.MetadataValue.int(quality.blocks_missing or 0),
                "sanity_error_count": dg.MetadataValue.int(quality.sanity_error_count),
            },
        )
        return dg.MaterializeResult(metadata=window_metadata(ingest.start, ingest.end, symbols))

    @dg.asset(
        key=OVC_BLOCK_DETAILS,
        partitions_def=blocks_2h,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[ovc_database_schema],
        group_name="blocks",
        kinds={"postgres", "pandas"},
    )
    def ovc_block_details(
        context: dg.AssetExecutionContext, ovc_database: PostgresResource, pipeline: PipelineSettings
    ) -> dg.MaterializeResult:
        """FULL exports (all 174 fields, typed) as JSONB in `ovc.ovc_blocks_detail_v01`, under the block's key.

        FULL is cold path only: `ovc ingest full FILE...` lands the export strings, this asset
        parses them with the FULL contract, validates them with the FULL pandera schema and
        merges them. Opt-in: does nothing unless `full_details_enabled` is set (FULL_ENRICH runs)."""
        if not pipeline.full_details_enabled:
            context.log.info("FULL details are off (PipelineSettings.full_details_enabled = false); nothing read or written")
            return dg.MaterializeResult(metadata={"enabled": False})
        dsn = ovc_database.dsn()
        with ovc_database.connection() as conn:
            ingest = ingest_window(
                context, conn, dsn, pipeline.symbols, FULL_DETAILS, DETAIL_SOURCE_ROUTES, upsert_block_details, RunType.FULL_ENRICH
            )
        add_run_figures(context, ingest.figures())
        return dg.MaterializeResult(metadata={"enabled": True, **window_metadata(ingest.start, ingest.end, pipeline.symbols)})

    return [ovc_blocks, ovc_block_details]
