"""`ovc_outcomes`: forward outcomes per 2H block and window, in `ovc.ovc_outcomes_v01`.

Incomplete windows and Dagster backfills: Dagster 1.13.22+ marks a backfill's partitions that
got no materialisation as failed (dagster issue #34219), so this asset never skips a partition
on purpose. Every partition of a run is materialised; only rows of windows that can be judged
are written (COMPLETE, or GAP when a hole sits inside a window the data has already passed),
and the windows still open (PENDING) are named in the materialisation metadata. The
`ovc_outcomes_after_blocks_sensor` requests those partitions again when their blocks arrive.
"""

from datetime import UTC

import dagster as dg
import psycopg

from ovc_assets.calendar import FxCalendar
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.metadata import markdown_table
from ovc_assets.defs.outcomes.checks import check_specs, evaluate_checks
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.pipeline.outcome_runs import OutcomeRange, compute_range
from ovc_assets.pipeline.outcomes import NAMED_WINDOWS, OUTCOME_VER, parse_window
from ovc_assets.project_files import load_query
from ovc_assets.runs.counts import tracked_step
from ovc_assets.runs.tags import RUN_TYPE_TAG, RunType
from ovc_assets.storage.outcomes import OUTCOME_COLUMNS

OVC_OUTCOMES = dg.AssetKey("ovc_outcomes")
# The longest default window (NEXT_12H): how many following block partitions a partition reads.
LOOKAHEAD_BLOCKS = 6
COLUMN_TYPES = {
    "symbol": "text", "block_start": "timestamptz", "window_type": "text", "outcome_ver": "text", "bid": "text",
    "window_end": "timestamptz", "window_status": "text", "window_complete": "boolean",
    "blocks_in_window": "integer", "ref_price": "double precision", "mfe_up": "double precision",
    "mfe_down": "double precision", "close_pos": "double precision", "outcome_dir": "text",
    "bars_to_mfe_up": "integer", "bars_to_mfe_down": "integer", "hit_target": "boolean",
    "hit_invalidation": "boolean", "first_hit": "text", "run_id": "text",
}  # fmt: skip
COLUMN_SCHEMA = dg.TableSchema(columns=[dg.TableColumn(name, COLUMN_TYPES[name]) for name in OUTCOME_COLUMNS])

class OutcomesConfig(dg.Config):
    """Which windows (NEXT_2H, NEXT_4H, NEXT_12H, or NEXT_<2N>H for N blocks) and symbols
    (default: the pipeline's) a run computes."""

    windows: list[str] = list(NAMED_WINDOWS)
    symbols: list[str] | None = None

def _research_summary(conn: psycopg.Connection, computed: OutcomeRange) -> str:
    rows = conn.execute(
        load_query("outcome_research_summary"),
        {
            "outcome_ver": OUTCOME_VER,
            "window_types": [window.name for window in computed.windows],
            "symbols": list(computed.symbols),
            "start": computed.start,
            "end": computed.end,
        },
    ).fetchall()
    if not rows:
        return "no outcomes in the range"
    shown = [
        (window, dimension, value, count, _rate(target), _rate(invalidation), f"{up:.5f}", f"{down:.5f}")
        for window, dimension, value, count, target, invalidation, up, down in rows
    ]
    header = ("window", "by", "value", "outcomes", "target hit", "invalidation hit", "mean mfe_up", "mean mfe_down")
    return markdown_table(header, shown)

def _rate(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.0%}"

def build_outcome_assets(blocks_2h: dg.TimeWindowPartitionsDefinition) -> list[dg.AssetsDefinition]:
    """`ovc_outcomes` on the given 2H partitions (the partitions of `ovc_blocks`)."""

    @dg.asset(
        key=OVC_OUTCOMES,
        partitions_def=blocks_2h,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[
            ovc_database_schema,
            dg.AssetDep(OVC_BLOCKS, partition_mapping=dg.TimeWindowPartitionMapping(end_offset=LOOKAHEAD_BLOCKS)),
        ],
        check_specs=check_specs(OVC_OUTCOMES),
        code_version=OUTCOME_VER,
        group_name="outcomes",
        kinds={"postgres", "numpy"},
    )
    def ovc_outcomes(
        context: dg.AssetExecutionContext,
        ovc_database: PostgresResource,
        pipeline: PipelineSettings,
        config: OutcomesConfig,
    ) -> dg.MaterializeResult:
        """Forward outcomes of each 2H block in `ovc.ovc_outcomes_v01`, per window type (outcome v0.1).

        A window is the next N open blocks of the FX calendar (weekend and holiday closures
        skipped): NEXT_2H = 1, NEXT_4H = 2, NEXT_12H = 6. With ref_price = the block's close:
        mfe_up = max(h) - ref, mfe_down = ref - min(l), close_pos, outcome_dir, the block of
        each extreme, and whether pred_target / invalidation were touched (first_hit; both in
        the same block counts as INVALIDATION first).

        Every partition of a run is materialised. A window whose last block has no data yet is
        PENDING: not written, listed in the metadata, and computed by a later run (the sensor on
        ovc_blocks). A hole inside a window the data has passed is written as GAP
        (window_complete = false) over the blocks that exist. Reruns change no row."""
        windows = [parse_window(name) for name in config.windows]
        symbols = config.symbols or pipeline.symbols
        time_window = context.partition_time_window
        start, end = time_window.start.astimezone(UTC), time_window.end.astimezone(UTC)
        run_id = context.run.run_id
        run_type = context.run.tags.get(RUN_TYPE_TAG, RunType.OUTCOME_COMPUTE)
        with (
            tracked_step(ovc_database.dsn(), run_id, context.asset_key.to_user_string(), run_type,
                         range_start=start, range_end=end, symbols=symbols) as counts,
            ovc_database.connection() as conn,
        ):  # fmt: skip
            computed = compute_range(conn, symbols, start, end, windows, run_id, counts, FxCalendar())
            counts.commit_with(conn)
            check_results = evaluate_checks(conn, computed)
            summary = _research_summary(conn, computed)
        context.log.info(
            f"ovc_outcomes {start.isoformat()}..{end.isoformat()}: {computed.write.attempted} outcomes, "
            f"{computed.write.written} written, {computed.write.skipped} unchanged, "
            f"{computed.total('pending_bids')} pending"
        )
        return dg.MaterializeResult(
            metadata={
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                "outcome_ver": OUTCOME_VER,
                "window_types": dg.MetadataValue.json([window.name for window in windows]),
                "symbols": dg.MetadataValue.json(list(symbols)),
                "blocks_read": dg.MetadataValue.int(computed.blocks_read),
                "outcomes_attempted": dg.MetadataValue.int(counts.outcomes_attempted),
                "outcomes_inserted": dg.MetadataValue.int(counts.outcomes_inserted),
                "outcomes_skipped": dg.MetadataValue.int(counts.outcomes_skipped),
                "outcomes_failed": dg.MetadataValue.int(counts.outcomes_failed),
                "outcomes_gap": dg.MetadataValue.int(computed.gap_count()),
                "outcomes_pending": dg.MetadataValue.int(computed.total("pending_bids")),
                "pending_examples": dg.MetadataValue.json(computed.examples("pending_bids")),
                "windows_without_data": dg.MetadataValue.int(computed.total("empty_bids")),
                "blocks_without_prices": dg.MetadataValue.int(
                    len({bid for batch in computed.batches for bid in batch.unpriced_bids})
                ),
                "dagster/row_count": dg.MetadataValue.int(computed.write.attempted),
                "dagster/column_schema": dg.MetadataValue.table_schema(COLUMN_SCHEMA),
                "research_summary": dg.MetadataValue.md(summary),
            },
            check_results=check_results,
        )

    return [ovc_outcomes]
