"""The history backfill of a window, symbol by symbol, in checkpointed chunks.

For each symbol:

1. stream the candles (OANDA pages, or CSV chunks) and resample them with the calendar's
   `BlockResampler` into New-York-anchored 2H blocks (partial blocks flagged);
2. keep the blocks that start in the window and after the symbol's checkpoint;
3. merge them with `upsert_provider_columns` in chunks of `chunk_blocks` blocks, each chunk in
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
it is written, and the error is raised (the counts are kept all the same).
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from ovc_assets.backfill.checkpoints import (
    CheckpointKey,
    advance_checkpoint,
    begin_checkpoint,
    complete_checkpoint,
    earlier_checkpoints,
)
from ovc_assets.backfill.sources import CandleSource
from ovc_assets.calendar import FxCalendar
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.resample import PRICE_COLUMNS, resample_to_blocks
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.blocks import (
    BLOCK_TYPE_2H,
    NOTHING_MERGED,
    SCHEMA_VER,
    UpsertCounts,
    upsert_provider_columns,
    with_block_prices,
)

DEFAULT_CHUNK_BLOCKS = 10_000

# A chunk's commit does not wait for its WAL to reach the disk. A server crash can then lose the
# last chunks committed (at most ~3 x wal_writer_delay of them), but never a chunk without its
# checkpoint or the reverse: both are in the one transaction, so the checkpoint left is that of
# the last chunk kept and the resume writes the lost ones again. The symbol's completion commits
# synchronously, which flushes every chunk before it (WAL is flushed in order), so a backfill
# that has returned is durable. (kill -9 of the client loses nothing committed either way.)
ASYNCHRONOUS_COMMIT_SQL = "SET LOCAL synchronous_commit = off"

# Block-frame columns written as they are: frame column -> PROVIDER_ROW_COLUMNS column.
COPIED_BLOCK_COLUMNS = {
    "symbol": "symbol", "bid": "bid", "block2h": "block2h", "block4h": "block4h", "source": "provider_source",
}  # fmt: skip

Log = Callable[[str], None]


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


def provider_columns(blocks: pd.DataFrame, run_id: str) -> dict[str, np.ndarray]:
    """A block frame as the numpy columns of `upsert_provider_columns`: the candle, and the
    spine's prices it fills where no live row owns them."""
    count = len(blocks)
    candles = {column: blocks[name].to_numpy() for name, column in COPIED_BLOCK_COLUMNS.items()}
    for name in ("block_start", "block_end"):
        candles[name] = pd.DatetimeIndex(blocks[name]).tz_convert(None).to_numpy()
    candles["date_ny"] = np.array(blocks["date_ny"].tolist(), dtype="datetime64[D]")
    for name in (*PRICE_COLUMNS, "volume"):
        candles[f"provider_{name}"] = blocks[name].to_numpy(dtype=np.float64)
    candles["provider_bar_count"] = blocks["bar_count"].to_numpy(dtype=np.int32)
    candles["provider_partial"] = blocks["partial"].to_numpy(dtype=bool)
    candles["block_type"] = np.full(count, BLOCK_TYPE_2H, dtype=object)
    candles["schema_ver"] = np.full(count, SCHEMA_VER, dtype=object)
    candles["run_id"] = np.full(count, run_id, dtype=object)
    return with_block_prices(candles)


class ChunkBuffer:
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
class HistoryTally:
    """What a history backfill saw beyond the seed-002 counts."""

    source: str
    candles_read: int = 0
    blocks_outside_window: int = 0
    blocks_committed_before: int = 0
    partial_blocks: int = 0
    chunks_committed: int = 0
    merged: UpsertCounts = NOTHING_MERGED
    resumed_after: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryRun:
    """One backfill of a window: what it writes, from what, and where it counts and logs."""

    conn: psycopg.Connection
    source: CandleSource
    start: datetime
    end: datetime
    run_id: str
    counts: RunCounts
    tally: HistoryTally
    chunk_blocks: int
    log: Log


class _SymbolBackfill:
    """The backfill of one symbol over one window, chunk by chunk (see the module docstring)."""

    def __init__(self, run: HistoryRun, symbol: str) -> None:
        self.run = run
        self.key = CheckpointKey(run.source.name, symbol, run.start, run.end, run.source.input_hash)
        self.chunks = 0
        self.blocks = 0

    def skip_completed(self, blocks_committed: int) -> None:
        """Leave the symbol as the interrupted run that is being resumed completed it."""
        self.run.tally.resumed_after[self.key.symbol] = self.key.range_end.isoformat()
        self.run.tally.blocks_committed_before += blocks_committed
        self.run.log(f"{self.key.symbol}: completed by an earlier run of this backfill ({blocks_committed} blocks)")
        self._report(self.key.range_end, resumed=True)

    def backfill(self) -> None:
        """Backfill the symbol from its checkpoint on (the window's start for a new or completed one)."""
        conn, tally = self.run.conn, self.run.tally
        with conn.transaction():
            resume_from, committed_before = begin_checkpoint(conn, self.key, self.run.source.description, self.run.run_id)
        resumed = resume_from > self.key.range_start
        if resumed:
            tally.resumed_after[self.key.symbol] = resume_from.isoformat()
            tally.blocks_committed_before += committed_before
            self.run.log(
                f"{self.key.symbol}: resuming after {resume_from.isoformat()} "
                f"({committed_before} blocks committed by an earlier run)"
            )
        self._report(resume_from, resumed)
        buffer = ChunkBuffer(self.run.chunk_blocks)
        try:
            for blocks in resample_to_blocks(
                self._counted(self.run.source.candles(self.key.symbol, resume_from, self.key.range_end)),
                symbol=self.key.symbol,
                source=self.run.source.name,
                bar_size=self.run.source.bar_size,
            ):
                buffer.add(self._in_scope(blocks, resume_from))
                for chunk in buffer.full_chunks():
                    self._commit(chunk, resumed)
        except OvcError as error:
            rejected_blocks = buffer.pending + 1
            self.run.counts.received_events += rejected_blocks
            for _ in range(rejected_blocks):
                self.run.counts.count_failure([error.code.value])
            raise
        for chunk in buffer.rest():
            self._commit(chunk, resumed)
        with conn.transaction():
            complete_checkpoint(conn, self.key)

    def _counted(self, candles: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in candles:
            self.run.tally.candles_read += len(frame)
            yield frame

    def _in_scope(self, blocks: pd.DataFrame, resume_from: datetime) -> pd.DataFrame:
        """The blocks of the window not yet committed; the others are tallied and dropped."""
        starts = blocks["block_start"]
        in_window = (starts >= self.key.range_start) & (starts < self.key.range_end)
        self.run.tally.blocks_outside_window += int((~in_window).sum())
        return blocks[in_window & (starts >= resume_from)]

    def _commit(self, chunk: pd.DataFrame, resumed: bool) -> None:
        conn, counts, tally, run_id = self.run.conn, self.run.counts, self.run.tally, self.run.run_id
        size = len(chunk)
        counts.received_events += size
        counts.unique_events += size
        counts.parse_ok += size
        counts.insert_attempted += size
        committed_until = chunk["block_end"].iloc[-1].to_pydatetime()
        try:
            with conn.transaction():
                conn.execute(ASYNCHRONOUS_COMMIT_SQL)
                merged = upsert_provider_columns(conn, provider_columns(chunk, run_id))
                advance_checkpoint(conn, self.key, committed_until, size, run_id)
        except psycopg.Error:
            counts.insert_failed += size
            raise
        counts.insert_success += merged.success
        counts.insert_skipped += merged.skipped
        self.chunks += 1
        self.blocks += size
        tally.chunks_committed += 1
        tally.partial_blocks += int(chunk["partial"].sum())
        tally.merged = UpsertCounts(
            attempted=tally.merged.attempted + merged.attempted,
            inserted=tally.merged.inserted + merged.inserted,
            updated=tally.merged.updated + merged.updated,
        )
        self.run.log(
            f"{self.key.symbol} chunk {self.chunks}: {size} blocks up to {committed_until.isoformat()}, "
            f"{merged.inserted} inserted, {merged.updated} updated, {merged.skipped} unchanged"
        )
        self._report(committed_until, resumed)

    def _report(self, committed_until: datetime, resumed: bool) -> None:
        listener = _progress_listener.get()
        if listener is not None:
            listener(
                BackfillProgress(
                    dagster_run_id=self.run.run_id,
                    symbol=self.key.symbol,
                    window_start=self.key.range_start,
                    window_end=self.key.range_end,
                    committed_until=committed_until,
                    chunks_committed=self.chunks,
                    blocks_committed=self.blocks,
                    resumed=resumed,
                )
            )


def backfill_window(
    conn: psycopg.Connection,
    source: CandleSource,
    start: datetime,
    end: datetime,
    symbols: Sequence[str],
    *,
    run_id: str,
    counts: RunCounts,
    chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
    log: Log = lambda message: None,
) -> HistoryTally:
    """Backfill `[start, end)` from `source`, symbol by symbol, in checkpointed chunks, counting
    into `counts` (also what was counted before an error is raised).

    `conn` must be outside a transaction: every chunk commits in a transaction of its own.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("backfill_window commits chunk by chunk: pass a connection outside a transaction")
    if chunk_blocks < 1:
        raise OvcError(ErrorCode.CONFIG, f"chunk_blocks must be at least 1, got {chunk_blocks}")
    tally = HistoryTally(source.name)
    run = HistoryRun(conn, source, start, end, run_id, counts, tally, chunk_blocks, log)
    counts.expected_events = FxCalendar().count_expected(start, end) * len(symbols)
    with conn.transaction():
        earlier = earlier_checkpoints(conn, source.name, start, end, source.input_hash, symbols)
    # Resuming an interrupted backfill skips the symbols it completed; once all are
    # complete, the same backfill again is a full (idempotent) pass.
    resuming = any(not checkpoint.completed for checkpoint in earlier.values())
    for symbol in symbols:
        symbol_backfill = _SymbolBackfill(run, symbol)
        checkpoint = earlier.get(symbol)
        if resuming and checkpoint is not None and checkpoint.completed:
            symbol_backfill.skip_completed(checkpoint.blocks_committed)
        else:
            symbol_backfill.backfill()
    return tally
