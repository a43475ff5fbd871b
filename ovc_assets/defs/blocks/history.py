"""History backfill of `ovc_blocks`, wired to Dagster: the run config that names a provider
(`BlocksSourceConfig`) and the step that hands the run's window to the backfill engine
(`ovc_assets.backfill`), counting for the run report and describing the run in metadata."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import Literal

import dagster as dg
import psycopg
from pydantic import Field

from ovc_assets.backfill.engine import DEFAULT_CHUNK_BLOCKS, HistoryTally, backfill_window
from ovc_assets.backfill.sources import (
    INPUT_SOURCE_OF_PROVIDER,
    CandleSource,
    csv_candle_source,
    csv_symbol,
    oanda_candle_source,
)
from ovc_assets.defs.blocks.window import WindowIngest, add_run_figures
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.pipeline.block_rows import PreparedBlocks
from ovc_assets.providers.oanda import GRANULARITY_BAR_SIZES, OandaClient, from_oanda_instrument
from ovc_assets.runs.counts import tracked_step
from ovc_assets.runs.tags import RUN_TYPE_TAG, RunType, ovc_run_tags

LANDED_EVENTS = "landed_events"
OANDA = "oanda"
CSV = "csv"


class BlocksSourceConfig(dg.Config):
    """Run config of `ovc_blocks`: where the run takes its blocks from.

    The default reads the webhook events landed for the window (the live path). `oanda` and
    `csv` backfill the window from provider candles instead (see `ovc_assets.backfill`).
    """

    source: Literal["landed_events", "oanda", "csv"] = Field(
        default=LANDED_EVENTS,
        description="landed_events: the webhook events landed for the window (live path); "
        "oanda: OANDA v20 candles (token OANDA_API_TOKEN, OANDA_ENV, OANDA_BASE_URL); csv: candle files.",
    )
    symbols: list[str] = Field(
        default=[],
        description="Provider sources: the symbols to backfill (GBPUSD or GBP_USD); empty means the "
        "pipeline's symbols. A CSV source holds one symbol: name exactly one.",
    )
    csv_paths: list[str] = Field(
        default=[], description="csv: the files of that one symbol, read in order as one stream of candles."
    )
    csv_format: Literal["generic", "dukascopy"] = Field(
        default="generic", description="csv: generic (timestamp + OHLC(V) columns) or dukascopy (its export)."
    )
    csv_tz: str | None = Field(
        default=None, description="csv: IANA zone of timestamps written without an offset; default UTC."
    )
    oanda_granularity: str = Field(
        default="H2",
        description="oanda: H2 (New-York-aligned 2H candles, the blocks themselves) or a finer one to "
        f"resample: {', '.join(GRANULARITY_BAR_SIZES)}.",
    )
    oanda_price: Literal["M", "B", "A"] = Field(default="M", description="oanda: mid, bid or ask prices.")
    chunk_blocks: int = Field(
        default=DEFAULT_CHUNK_BLOCKS,
        description="Blocks per transaction and checkpoint: a killed backfill redoes at most one chunk.",
    )

    @property
    def reads_landed_events(self) -> bool:
        return self.source == LANDED_EVENTS

    def symbols_of_run(self, pipeline_symbols: Sequence[str]) -> list[str]:
        """The symbols a run with this config writes and is checked for (OVC names)."""
        if self.reads_landed_events:
            return list(pipeline_symbols)
        if self.source == CSV:
            return [csv_symbol(self.symbols)]
        return [from_oanda_instrument(symbol) for symbol in self.symbols or pipeline_symbols]


@contextmanager
def open_candle_source(config: BlocksSourceConfig) -> Iterator[CandleSource]:
    """The configured provider, ready to stream (an OANDA connection is closed on exit)."""
    if config.source == CSV:
        yield csv_candle_source(config.csv_paths, config.csv_format, config.csv_tz)
    elif config.source == OANDA:
        with OandaClient.from_env() as client:
            yield oanda_candle_source(client, config.oanda_granularity, config.oanda_price)
    else:
        raise ValueError(f"{config.source!r} is not a provider source")


def history_metadata(tally: HistoryTally) -> dict[str, object]:
    return {
        "provider_source": tally.source,
        "candles_read": dg.MetadataValue.int(tally.candles_read),
        "blocks_outside_window": dg.MetadataValue.int(tally.blocks_outside_window),
        "blocks_committed_before": dg.MetadataValue.int(tally.blocks_committed_before),
        "partial_blocks": dg.MetadataValue.int(tally.partial_blocks),
        "chunks_committed": dg.MetadataValue.int(tally.chunks_committed),
        "resumed_after": dg.MetadataValue.json(tally.resumed_after),
    }


def ingest_history(
    context: dg.AssetExecutionContext,
    conn: psycopg.Connection,
    dsn: str,
    pipeline: PipelineSettings,
    config: BlocksSourceConfig,
) -> WindowIngest:
    """Backfill the run's window from the configured provider (`backfill_window`), counting for
    the run report (recorded also when the step fails).

    `conn` must be outside a transaction: every chunk commits in a transaction of its own.
    """
    window = context.partition_time_window
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    symbols = config.symbols_of_run(pipeline.symbols)
    run_id = context.run.run_id
    step_key = context.asset_key.to_user_string()
    with open_candle_source(config) as source:
        _tag_as_backfill(context, source)
        run_type = context.run.tags.get(RUN_TYPE_TAG, RunType.HIST_BACKFILL)
        with tracked_step(dsn, run_id, step_key, run_type, range_start=start, range_end=end, symbols=symbols) as counts:
            tally = backfill_window(
                conn, source, start, end, symbols,
                run_id=run_id, counts=counts, chunk_blocks=config.chunk_blocks, log=context.log.info,
            )  # fmt: skip
    add_run_figures(context, history_metadata(tally))
    context.log.info(
        f"{step_key} {start.isoformat()}..{end.isoformat()} from {source.name}: {tally.candles_read} candles, "
        f"{counts.received_events} blocks, {tally.merged.inserted} inserted, {tally.merged.updated} updated, "
        f"{tally.merged.skipped} unchanged, {tally.blocks_committed_before} committed before"
    )
    return WindowIngest(start, end, counts, PreparedBlocks(), tally.merged)


def _tag_as_backfill(context: dg.AssetExecutionContext, source: CandleSource) -> None:
    """Give a provider run launched without them (e.g. from the asset page) the tags of a
    backfill, so the run-report sensor reports it as one."""
    tags = ovc_run_tags(RunType.HIST_BACKFILL, input_source=INPUT_SOURCE_OF_PROVIDER.get(source.name, source.name))
    missing = {name: value for name, value in tags.items() if name not in context.run.tags}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)


def require_provider_source(run_tags: Mapping[str, str], config: BlocksSourceConfig) -> None:
    """A HIST_BACKFILL run (e.g. `hist_backfill_job`) that names no provider would ingest the
    landed webhook events instead: refused with E_CONFIG before anything is read."""
    if config.reads_landed_events and run_tags.get(RUN_TYPE_TAG) == RunType.HIST_BACKFILL:
        raise OvcError(
            ErrorCode.CONFIG,
            "a HIST_BACKFILL run reads provider candles: set ops.ovc_blocks.config.source to oanda or csv",
        )
