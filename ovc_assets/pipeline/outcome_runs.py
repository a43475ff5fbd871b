"""One outcome computation over a range of blocks: read the blocks once, compute every window
per symbol, merge all rows in one transaction, and count for the run report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg

from ovc_assets.calendar import FxCalendar
from ovc_assets.pipeline.outcomes import (
    COMPLETE,
    OUTCOME_VER,
    OutcomeBatch,
    OutcomeWindow,
    calendar_for,
    compute_outcomes,
    symbol_blocks,
    window_reach,
)
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.outcomes import STAGING_LAYOUT, OutcomeWrite, load_outcome_blocks, upsert_outcomes


@dataclass(frozen=True)
class OutcomeRange:
    """What one computation did over `[start, end)`."""

    start: datetime
    end: datetime
    symbols: tuple[str, ...]
    windows: tuple[OutcomeWindow, ...]
    blocks_read: int
    batches: tuple[OutcomeBatch, ...]
    write: OutcomeWrite

    def complete_keys(self) -> set[tuple[str, int, str]]:
        """(symbol, block start in epoch ns, window type) of every COMPLETE outcome computed."""
        return {
            (batch.symbol, int(start), batch.window.name)
            for batch in self.batches
            for start, status in zip(batch.block_start, batch.window_status)
            if status == COMPLETE
        }

    def complete_totals(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(symbol, window type) -> (COMPLETE outcomes computed, sum of their block starts in epoch seconds)."""
        totals: dict[tuple[str, str], tuple[int, int]] = {}
        for batch in self.batches:
            starts = batch.block_start[batch.window_status == COMPLETE] // 1_000_000_000
            if len(starts):
                totals[(batch.symbol, batch.window.name)] = (len(starts), int(starts.sum()))
        return totals

    def total(self, reason: str) -> int:
        """How many windows were left unwritten for `reason` (pending_bids, empty_bids, unpriced_bids)."""
        return sum(len(getattr(batch, reason)) for batch in self.batches)

    def examples(self, reason: str, limit: int = 10) -> list[str]:
        return [f"{bid}/{batch.window.name}" for batch in self.batches for bid in getattr(batch, reason)][:limit]

    def gap_count(self) -> int:
        return sum(int((batch.window_status != COMPLETE).sum()) for batch in self.batches)


def compute_range(
    conn: psycopg.Connection,
    symbols: Sequence[str],
    start: datetime,
    end: datetime,
    windows: Sequence[OutcomeWindow],
    run_id: str | None,
    counts: RunCounts,
    calendar: FxCalendar | None = None,
) -> OutcomeRange:
    """Compute and merge the outcomes of the blocks starting in `[start, end)`, counting into `counts`
    inside the caller's transaction: a failed merge propagates, and then every row attempted
    counts as failed, since the transaction's rollback takes the earlier windows with it."""
    calendar = calendar or FxCalendar()
    longest = max(window.blocks for window in windows)
    frame, latest = load_outcome_blocks(conn, symbols, start, window_reach(calendar, end, longest))
    series = symbol_blocks(frame, latest)
    start_ns, end_ns = pd.Timestamp(start).value, pd.Timestamp(end).value
    symbols_found = sorted(series)
    batches: list[OutcomeBatch] = []
    write = OutcomeWrite(0, 0, 0)
    _add(counts.outcome_vers_seen, OUTCOME_VER, 0)
    for window in windows:  # one merge per window keeps a million blocks' rows in memory once
        open_blocks = calendar_for(calendar, start, end, window)
        window_batches = [compute_outcomes(series[symbol], open_blocks, start_ns, end_ns, window) for symbol in symbols_found]
        staged = [batch.staged(position) for position, batch in enumerate(window_batches, start=1)]
        rows = {name: np.concatenate([part[name] for part in staged]) for name, _, _ in STAGING_LAYOUT} if staged else None
        attempted = sum(len(batch) for batch in window_batches)
        counts.outcomes_attempted += attempted
        _add(counts.window_types_seen, window.name, attempted)
        _add(counts.outcome_vers_seen, OUTCOME_VER, attempted)
        if rows is None:
            continue
        try:
            merged = upsert_outcomes(
                conn, rows, symbols=symbols_found, window_type=window.name, outcome_ver=OUTCOME_VER, run_id=run_id
            )
        except psycopg.Error:
            # The caller's transaction rolls back the windows merged before this one too.
            counts.outcomes_failed += attempted + write.attempted
            counts.outcomes_inserted -= write.written
            counts.outcomes_skipped -= write.skipped
            raise
        counts.outcomes_inserted += merged.written
        counts.outcomes_skipped += merged.skipped
        write = OutcomeWrite(write.attempted + merged.attempted, write.inserted + merged.inserted, write.updated + merged.updated)
        batches.extend(window_batches)
    return OutcomeRange(start, end, tuple(symbols), tuple(windows), len(frame), tuple(batches), write)


def _add(tally: dict[str, int], name: str, count: int) -> None:
    tally[name] = tally.get(name, 0) + count
