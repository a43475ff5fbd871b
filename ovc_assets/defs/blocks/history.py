"""History backfill of `ovc_blocks`: provider candles (OANDA v20, CSV files) instead of webhooks.

`ovc_blocks` lands webhook events unless its run config names a provider
(`BlocksSourceConfig`); then `ingest_history` fills the run's window (one partition, or the
range of a single-run backfill), symbol by symbol:

1. stream the candles (OANDA pages, or CSV chunks) and resample them with the calendar's
   `BlockResampler` into New-York-anchored 2H blocks (partial blocks flagged);
2. keep the blocks that start in the window and after the symbol's checkpoint;
3. merge them with `upsert_provider_blocks` in chunks of `chunk_blocks` blocks, each chunk in
   one transaction together with its checkpoint, so the table never holds half a chunk.

Checkpoints (`ovc.backfill_checkpoints`) are keyed by source, symbol, window and a hash of the
input (CSV: paths, sizes, mtimes, format and zone; OANDA: server, granularity and price). A
run killed at any point leaves the checkpoint at its last committed chunk; the same run again
resumes after it (skipping the symbols it completed), and the table ends as after an
uninterrupted run. Once every symbol is complete, the next run with the same keys is a full,
idempotent pass whose blocks are all `insert_skipped`.

Counting for the run report (seed 002), with the block as the unit: `received_events` = blocks
of the window read after the checkpoint, `parse_ok` = blocks accepted, `insert_*` from the
merges. Bad input (an `E_CANDLE_*` or `E_OANDA_*` error) rejects the chunk being gathered: its
blocks and the block of the bad row count as `parse_fail` under the error's code, nothing of
it is written, and the error fails the run (the counts are recorded all the same).
"""

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import TYPE_CHECKING, Literal

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb
from pydantic import Field

from ovc_assets.calendar import FxCalendar
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.pipeline.block_rows import PreparedBlocks
from ovc_assets.providers.csv_candles import CSV_LAYOUTS, read_candle_csv
from ovc_assets.providers.oanda import (
    GRANULARITY_BAR_SIZES,
    OandaClient,
    from_oanda_instrument,
)
from ovc_assets.providers.resample import PRICE_COLUMNS, resample_to_blocks
from ovc_assets.runs.counts import RunCounts, tracked_step
from ovc_assets.runs.tags import RUN_TYPE_TAG, RunType, ovc_run_tags
from ovc_assets.storage.blocks import (
    BLOCK_TYPE_2H,
    PROVIDER_BLOCK_COLUMNS,
    SCHEMA_VER,
    UpsertCounts,
    upsert_provider_blocks,
)

if TYPE_CHECKING:
    from ovc_assets.defs.blocks.assets import WindowIngest

LANDED_EVENTS = "landed_events"
OANDA = "oanda"
CSV = "csv"
DEFAULT_CHUNK_BLOCKS = 10_000
CSV_SYMBOL = re.compile(r"[A-Z0-9._]{1,32}")  # what a block id accepts as its symbol
OANDA_SOURCE = "oanda"  # provider_source of OANDA blocks; CSV blocks carry their layout's source
# `ovc/input_source` of a run, by provider_source (the names SOURCE_TIERS knows).
INPUT_SOURCE_OF_PROVIDER = {OANDA_SOURCE: "oanda_api", "csv": "csv", "dukascopy": "dukascopy_csv"}

# Block-frame columns written as they are: frame column -> PROVIDER_BLOCK_COLUMNS column.
COPIED_BLOCK_COLUMNS = {
    "symbol": "symbol", "bid": "bid", "block2h": "block2h", "block4h": "block4h", "source": "provider_source",
    "bar_count": "provider_bar_count", "partial": "provider_partial",
}  # fmt: skip

# The checkpoints of one backfill (source, window, input) for some symbols.
BACKFILL_CHECKPOINTS_SQL = """
SELECT symbol, completed_at IS NOT NULL, blocks_committed
FROM ovc.backfill_checkpoints
WHERE source = %(source)s AND range_start = %(range_start)s AND range_end = %(range_end)s
  AND input_hash = %(input_hash)s AND symbol = ANY(%(symbols)s)
"""
BEGIN_CHECKPOINT_SQL = """
INSERT INTO ovc.backfill_checkpoints AS cp
    (source, symbol, range_start, range_end, input_hash, input_description, committed_until, dagster_run_id)
VALUES (%(source)s, %(symbol)s, %(range_start)s, %(range_end)s, %(input_hash)s, %(input_description)s,
        %(range_start)s, %(run_id)s)
ON CONFLICT (source, symbol, range_start, range_end, input_hash) DO UPDATE SET
    committed_until  = CASE WHEN cp.completed_at IS NULL THEN cp.committed_until ELSE EXCLUDED.committed_until END,
    blocks_committed = CASE WHEN cp.completed_at IS NULL THEN cp.blocks_committed ELSE 0 END,
    chunks_committed = CASE WHEN cp.completed_at IS NULL THEN cp.chunks_committed ELSE 0 END,
    started_at       = CASE WHEN cp.completed_at IS NULL THEN cp.started_at ELSE now() END,
    completed_at     = NULL,
    dagster_run_id   = EXCLUDED.dagster_run_id,
    updated_at       = now()
RETURNING committed_until, blocks_committed
"""
ADVANCE_CHECKPOINT_SQL = """
UPDATE ovc.backfill_checkpoints
SET committed_until = %(committed_until)s, blocks_committed = blocks_committed + %(blocks)s,
    chunks_committed = chunks_committed + 1, dagster_run_id = %(run_id)s, updated_at = now()
WHERE source = %(source)s AND symbol = %(symbol)s AND range_start = %(range_start)s
  AND range_end = %(range_end)s AND input_hash = %(input_hash)s
"""
COMPLETE_CHECKPOINT_SQL = """
UPDATE ovc.backfill_checkpoints
SET completed_at = now(), updated_at = now()
WHERE source = %(source)s AND symbol = %(symbol)s AND range_start = %(range_start)s
  AND range_end = %(range_end)s AND input_hash = %(input_hash)s
"""


class BlocksSourceConfig(dg.Config):
    """Run config of `ovc_blocks`: where the run takes its blocks from.

    The default reads the webhook events landed for the window (the live path). `oanda` and
    `csv` backfill the window from provider candles instead (see `ingest_history`).
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
            if len(self.symbols) != 1:
                raise OvcError(
                    ErrorCode.CONFIG, f"a CSV backfill needs exactly one symbol (the file's), got {self.symbols or 'none'}"
                )
            symbol = self.symbols[0].strip().upper()
            if not CSV_SYMBOL.fullmatch(symbol):
                raise OvcError(ErrorCode.CONFIG, f"symbol {symbol!r} cannot name blocks: use letters, digits, '.' or '_'")
            return [symbol]
        return [from_oanda_instrument(symbol) for symbol in self.symbols or pipeline_symbols]


@dataclass(frozen=True)
class BackfillProgress:
    """Where the backfill of one symbol stands: at its start (`chunks_committed` 0) and after each chunk."""

    dagster_run_id: str
    symbol: str
    window_start: datetime
    window_end: datetime
    committed_until: datetime
    chunks_committed: int
    blocks_committed: int
    resumed: bool

    @property
    def fraction_done(self) -> float:
        """The share of the window's time that is committed (earlier runs' chunks included)."""
        return (self.committed_until - self.window_start) / (self.window_end - self.window_start)


ProgressListener = Callable[[BackfillProgress], None]
_progress_listener: ContextVar[ProgressListener | None] = ContextVar("ovc_backfill_progress_listener", default=None)


@contextmanager
def reporting_progress_to(listener: ProgressListener) -> Iterator[None]:
    """Within the block, backfills run in this thread (e.g. by `dg.materialize`) call `listener`."""
    token = _progress_listener.set(listener)
    try:
        yield
    finally:
        _progress_listener.reset(token)


@dataclass(frozen=True)
class CheckpointKey:
    source: str
    symbol: str
    range_start: datetime
    range_end: datetime
    input_hash: str

    def params(self) -> dict[str, object]:
        return {
            "source": self.source,
            "symbol": self.symbol,
            "range_start": self.range_start,
            "range_end": self.range_end,
            "input_hash": self.input_hash,
        }


@dataclass(frozen=True)
class CandleSource:
    """One provider input: how to stream a symbol's candle frames, and what identifies it."""

    name: str
    bar_size: timedelta | None
    description: dict[str, object]
    candles: Callable[[str, datetime, datetime], Iterator[pd.DataFrame]]

    @property
    def input_hash(self) -> str:
        text = json.dumps({"source": self.name, **self.description}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def open_candle_source(config: BlocksSourceConfig) -> Iterator[CandleSource]:
    """The configured provider, ready to stream (an OANDA connection is closed on exit)."""
    if config.source == CSV:
        yield _csv_source(config)
    elif config.source == OANDA:
        if config.oanda_granularity not in GRANULARITY_BAR_SIZES:
            raise OvcError(
                ErrorCode.CONFIG,
                f"oanda_granularity must be one of {', '.join(GRANULARITY_BAR_SIZES)}, got {config.oanda_granularity!r}",
            )
        with OandaClient.from_env() as client:
            yield CandleSource(
                name=OANDA_SOURCE,
                bar_size=GRANULARITY_BAR_SIZES[config.oanda_granularity],
                description={
                    "base_url": client.base_url,
                    "granularity": config.oanda_granularity,
                    "price": config.oanda_price,
                },
                candles=lambda symbol, start, end: client.candle_pages(
                    symbol, start, end, granularity=config.oanda_granularity, price=config.oanda_price
                ),
            )
    else:
        raise ValueError(f"{config.source!r} is not a provider source")


def _csv_source(config: BlocksSourceConfig) -> CandleSource:
    if not config.csv_paths:
        raise OvcError(ErrorCode.CONFIG, "a CSV backfill needs csv_paths (the candle files)")
    layout = CSV_LAYOUTS[config.csv_format]
    files = []
    for path in config.csv_paths:
        try:
            stat = os.stat(path)
        except OSError as error:
            raise OvcError(ErrorCode.CONFIG, f"cannot read CSV file {path}: {error.strerror}") from None
        files.append({"path": os.path.abspath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})

    def candles(symbol: str, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
        # Every file is read whole whatever the window: every row is checked, and the bar size
        # is inferred from the same first bars on every run (so a resumed run resamples alike).
        for path in config.csv_paths:
            try:
                yield from read_candle_csv(path, layout, tz=config.csv_tz)
            except OvcError as error:
                # Row errors name a line, not the file; file-level ones already name it.
                if path in error.message:
                    raise
                raise OvcError(error.code, f"{path}: {error.message}") from None

    return CandleSource(
        name=layout.source,
        bar_size=None,
        description={"format": config.csv_format, "tz": config.csv_tz or layout.tz, "files": files},
        candles=candles,
    )


def provider_rows(blocks: pd.DataFrame, run_id: str) -> Iterator[tuple[object, ...]]:
    """Block-frame rows as tuples in `PROVIDER_BLOCK_COLUMNS` order, for the staging COPY.

    Times, dates and prices are given in PostgreSQL's text input form, formatted column-wise
    (floats by `repr`, which round-trips exactly): psycopg's per-value dumpers for datetimes
    and floats were most of the COPY's cost. A NaN volume (unknown) becomes NULL.
    """
    values: dict[str, Sequence[object] | repeat[object]] = {
        column: blocks[name].tolist() for name, column in COPIED_BLOCK_COLUMNS.items()
    }
    values["block_start"] = _utc_texts(blocks["block_start"])
    values["block_end"] = _utc_texts(blocks["block_end"])
    values["date_ny"] = [day.isoformat() for day in blocks["date_ny"].tolist()]
    for name in PRICE_COLUMNS:
        values[f"provider_{name}"] = list(map(repr, blocks[name].tolist()))
    values["provider_volume"] = [None if math.isnan(volume) else repr(volume) for volume in blocks["volume"].tolist()]
    values["block_type"] = repeat(BLOCK_TYPE_2H)
    values["schema_ver"] = repeat(SCHEMA_VER)
    values["run_id"] = repeat(run_id)
    return zip(*(values[column] for column in PROVIDER_BLOCK_COLUMNS))


def _utc_texts(times: pd.Series) -> list[str]:
    naive_utc = pd.DatetimeIndex(times).tz_convert(None).to_numpy().astype("datetime64[s]")
    return [f"{text}Z" for text in np.datetime_as_string(naive_utc, unit="s").tolist()]


class _ChunkBuffer:
    """Blocks waiting to be written, handed out in chunks of exactly `size` (the last one smaller)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pending = 0
        self._frames: list[pd.DataFrame] = []

    def add(self, blocks: pd.DataFrame) -> None:
        if len(blocks):
            self._frames.append(blocks)
            self.pending += len(blocks)

    def full_chunks(self) -> Iterator[pd.DataFrame]:
        while self.pending >= self.size:
            yield self._take(self.size)

    def rest(self) -> Iterator[pd.DataFrame]:
        if self.pending:
            yield self._take(self.pending)

    def _take(self, count: int) -> pd.DataFrame:
        blocks = pd.concat(self._frames, ignore_index=True) if len(self._frames) > 1 else self._frames[0]
        taken, left = blocks.iloc[:count], blocks.iloc[count:]
        self._frames = [left] if len(left) else []
        self.pending = len(left)
        return taken


@dataclass
class _HistoryTally:
    """What a history run saw beyond the seed-002 counts, for the asset's metadata."""

    source: str
    candles_read: int = 0
    blocks_outside_window: int = 0
    blocks_committed_before: int = 0
    partial_blocks: int = 0
    chunks_committed: int = 0
    merged: UpsertCounts = UpsertCounts(0, 0, 0)
    resumed_after: dict[str, str] = field(default_factory=dict)

    def metadata(self) -> dict[str, object]:
        return {
            "provider_source": self.source,
            "candles_read": dg.MetadataValue.int(self.candles_read),
            "blocks_outside_window": dg.MetadataValue.int(self.blocks_outside_window),
            "blocks_committed_before": dg.MetadataValue.int(self.blocks_committed_before),
            "partial_blocks": dg.MetadataValue.int(self.partial_blocks),
            "chunks_committed": dg.MetadataValue.int(self.chunks_committed),
            "resumed_after": dg.MetadataValue.json(self.resumed_after),
        }


class _SymbolBackfill:
    """The backfill of one symbol over one window, chunk by chunk (see the module docstring)."""

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        conn: psycopg.Connection,
        source: CandleSource,
        key: CheckpointKey,
        counts: RunCounts,
        tally: _HistoryTally,
        chunk_blocks: int,
    ) -> None:
        self.context = context
        self.conn = conn
        self.source = source
        self.key = key
        self.counts = counts
        self.tally = tally
        self.chunk_blocks = chunk_blocks
        self.run_id = context.run.run_id
        self.chunks = 0
        self.blocks = 0

    def skip_completed(self, blocks_committed: int) -> None:
        """Leave the symbol as the interrupted run that is being resumed completed it."""
        self.tally.resumed_after[self.key.symbol] = self.key.range_end.isoformat()
        self.tally.blocks_committed_before += blocks_committed
        self.context.log.info(f"{self.key.symbol}: completed by an earlier run of this backfill ({blocks_committed} blocks)")
        self._report(self.key.range_end, resumed=True)

    def run(self) -> None:
        """Backfill the symbol from its checkpoint on (the window's start for a new or completed one)."""
        with self.conn.transaction():
            resume_from, committed_before = self.conn.execute(
                BEGIN_CHECKPOINT_SQL,
                {**self.key.params(), "input_description": Jsonb(self.source.description), "run_id": self.run_id},
            ).fetchone()
        resumed = resume_from > self.key.range_start
        if resumed:
            self.tally.resumed_after[self.key.symbol] = resume_from.isoformat()
            self.tally.blocks_committed_before += committed_before
            self.context.log.info(
                f"{self.key.symbol}: resuming after {resume_from.isoformat()} "
                f"({committed_before} blocks committed by an earlier run)"
            )
        self._report(resume_from, resumed)
        buffer = _ChunkBuffer(self.chunk_blocks)
        try:
            for blocks in resample_to_blocks(
                self._counted(self.source.candles(self.key.symbol, resume_from, self.key.range_end)),
                symbol=self.key.symbol,
                source=self.source.name,
                bar_size=self.source.bar_size,
            ):
                buffer.add(self._in_scope(blocks, resume_from))
                for chunk in buffer.full_chunks():
                    self._commit(chunk, resumed)
        except OvcError as error:
            rejected_blocks = buffer.pending + 1
            self.counts.received_events += rejected_blocks
            for _ in range(rejected_blocks):
                self.counts.count_failure([error.code.value])
            raise
        for chunk in buffer.rest():
            self._commit(chunk, resumed)
        with self.conn.transaction():
            self.conn.execute(COMPLETE_CHECKPOINT_SQL, self.key.params())

    def _counted(self, candles: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in candles:
            self.tally.candles_read += len(frame)
            yield frame

    def _in_scope(self, blocks: pd.DataFrame, resume_from: datetime) -> pd.DataFrame:
        """The blocks of the window not yet committed; the others are tallied and dropped."""
        starts = blocks["block_start"]
        in_window = (starts >= self.key.range_start) & (starts < self.key.range_end)
        self.tally.blocks_outside_window += int((~in_window).sum())
        return blocks[in_window & (starts >= resume_from)]

    def _commit(self, chunk: pd.DataFrame, resumed: bool) -> None:
        size = len(chunk)
        self.counts.received_events += size
        self.counts.unique_events += size
        self.counts.parse_ok += size
        self.counts.insert_attempted += size
        committed_until = chunk["block_end"].iloc[-1].to_pydatetime()
        try:
            with self.conn.transaction():
                merged = upsert_provider_blocks(self.conn, provider_rows(chunk, self.run_id))
                self.conn.execute(
                    ADVANCE_CHECKPOINT_SQL,
                    {**self.key.params(), "committed_until": committed_until, "blocks": size, "run_id": self.run_id},
                )
        except psycopg.Error:
            self.counts.insert_failed += size
            raise
        self.counts.insert_success += merged.success
        self.counts.insert_skipped += merged.skipped
        self.chunks += 1
        self.blocks += size
        self.tally.chunks_committed += 1
        self.tally.partial_blocks += int(chunk["partial"].sum())
        self.tally.merged = UpsertCounts(
            attempted=self.tally.merged.attempted + merged.attempted,
            inserted=self.tally.merged.inserted + merged.inserted,
            updated=self.tally.merged.updated + merged.updated,
        )
        self.context.log.info(
            f"{self.key.symbol} chunk {self.chunks}: {size} blocks up to {committed_until.isoformat()}, "
            f"{merged.inserted} inserted, {merged.updated} updated, {merged.skipped} unchanged"
        )
        self._report(committed_until, resumed)

    def _report(self, committed_until: datetime, resumed: bool) -> None:
        listener = _progress_listener.get()
        if listener is not None:
            listener(
                BackfillProgress(
                    dagster_run_id=self.run_id,
                    symbol=self.key.symbol,
                    window_start=self.key.range_start,
                    window_end=self.key.range_end,
                    committed_until=committed_until,
                    chunks_committed=self.chunks,
                    blocks_committed=self.blocks,
                    resumed=resumed,
                )
            )


def ingest_history(
    context: dg.AssetExecutionContext,
    conn: psycopg.Connection,
    dsn: str,
    pipeline: PipelineSettings,
    config: BlocksSourceConfig,
) -> "WindowIngest":
    """Backfill the run's window from the configured provider, symbol by symbol, in
    checkpointed chunks, counting for the run report (recorded also when the step fails).

    `conn` must be outside a transaction: every chunk commits in a transaction of its own.
    """
    from ovc_assets.defs.blocks.assets import WindowIngest

    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("ingest_history commits chunk by chunk: pass a connection outside a transaction")
    if config.chunk_blocks < 1:
        raise OvcError(ErrorCode.CONFIG, f"chunk_blocks must be at least 1, got {config.chunk_blocks}")
    window = context.partition_time_window
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    symbols = config.symbols_of_run(pipeline.symbols)
    run_id = context.run.run_id
    step_key = context.asset_key.to_user_string()
    with open_candle_source(config) as source:
        _tag_as_backfill(context, source)
        run_type = context.run.tags.get(RUN_TYPE_TAG, RunType.HIST_BACKFILL)
        tally = _HistoryTally(source.name)
        with tracked_step(dsn, run_id, step_key, run_type, range_start=start, range_end=end, symbols=symbols) as counts:
            counts.expected_events = FxCalendar().count_expected(start, end) * len(symbols)
            earlier = _earlier_checkpoints(conn, source, start, end, symbols)
            # Resuming an interrupted backfill skips the symbols it completed; once all are
            # complete, the same backfill again is a full (idempotent) pass.
            resuming = any(not completed for completed, _ in earlier.values())
            for symbol in symbols:
                key = CheckpointKey(source.name, symbol, start, end, source.input_hash)
                backfill = _SymbolBackfill(context, conn, source, key, counts, tally, config.chunk_blocks)
                completed, blocks_committed = earlier.get(symbol, (False, 0))
                if resuming and completed:
                    backfill.skip_completed(blocks_committed)
                else:
                    backfill.run()
    context.add_asset_metadata(tally.metadata())
    context.log.info(
        f"{step_key} {start.isoformat()}..{end.isoformat()} from {source.name}: {tally.candles_read} candles, "
        f"{counts.received_events} blocks, {tally.merged.inserted} inserted, {tally.merged.updated} updated, "
        f"{tally.merged.skipped} unchanged, {tally.blocks_committed_before} committed before"
    )
    return WindowIngest(start, end, counts, PreparedBlocks(), tally.merged)


def _earlier_checkpoints(
    conn: psycopg.Connection, source: CandleSource, start: datetime, end: datetime, symbols: Sequence[str]
) -> dict[str, tuple[bool, int]]:
    """Symbol -> (completed, blocks committed) of the checkpoints this backfill left before."""
    with conn.transaction():
        rows = conn.execute(
            BACKFILL_CHECKPOINTS_SQL,
            {"source": source.name, "range_start": start, "range_end": end, "input_hash": source.input_hash,
             "symbols": list(symbols)},
        ).fetchall()  # fmt: skip
    return {symbol: (completed, blocks_committed) for symbol, completed, blocks_committed in rows}


def _tag_as_backfill(context: dg.AssetExecutionContext, source: CandleSource) -> None:
    """Give a provider run launched without them (e.g. from the asset page) the tags of a
    backfill, so the run-report sensor reports it as one."""
    tags = ovc_run_tags(RunType.HIST_BACKFILL, input_source=INPUT_SOURCE_OF_PROVIDER.get(source.name, source.name))
    missing = {name: value for name, value in tags.items() if name not in context.run.tags}
    if missing:
        context.instance.add_run_tags(context.run.run_id, missing)


def build_hist_backfill_job():
    """`hist_backfill_job`: `ovc_blocks` from provider candles; the run config names the source
    (`source: oanda` or `csv`). Launch it as a backfill over a partition range: with the asset's
    single-run policy the range is one run that works through it in checkpointed chunks.

    The job has no default config on purpose: Dagster turns a partitioned job's config into
    partition-scoped config, and a backfill launched from the job's Partitions tab with config
    of its own then fails ("Cannot specify both partition-scoped run config and
    backfill-scoped run config"). A run without a provider source fails with E_CONFIG."""
    from ovc_assets.defs.blocks.assets import OVC_BLOCKS

    return dg.define_asset_job(
        "hist_backfill_job",
        selection=dg.AssetSelection.assets(OVC_BLOCKS),
        tags=ovc_run_tags(RunType.HIST_BACKFILL),
        description="Backfill ovc_blocks_v01 from OANDA v20 or CSV candles resampled to 2H blocks (HIST_BACKFILL); "
        "run config ops.ovc_blocks.config.source: oanda or csv.",
    )


def require_provider_source(run_tags: Mapping[str, str], config: BlocksSourceConfig) -> None:
    """A HIST_BACKFILL run (e.g. `hist_backfill_job`) that names no provider would ingest the
    landed webhook events instead: refused with E_CONFIG before anything is read."""
    if config.reads_landed_events and run_tags.get(RUN_TYPE_TAG) == RunType.HIST_BACKFILL:
        raise OvcError(
            ErrorCode.CONFIG,
            "a HIST_BACKFILL run reads provider candles: set ops.ovc_blocks.config.source to oanda or csv",
        )
