"""`ovc.backfill_checkpoints`: how far the backfill of each symbol, window and input has committed
(`sql/queries/backfill_checkpoint*.sql`). Every write runs in the caller's transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from ovc_assets.project_files import load_query


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
class EarlierCheckpoint:
    completed: bool
    blocks_committed: int


def earlier_checkpoints(
    conn: psycopg.Connection,
    source: str,
    start: datetime,
    end: datetime,
    input_hash: str,
    symbols: Sequence[str],
) -> dict[str, EarlierCheckpoint]:
    """Symbol -> the checkpoint this backfill (source, window, input) left before, if any."""
    rows = conn.execute(
        load_query("backfill_checkpoints_of_symbols"),
        {"source": source, "range_start": start, "range_end": end, "input_hash": input_hash, "symbols": list(symbols)},
    ).fetchall()
    return {symbol: EarlierCheckpoint(completed, blocks_committed) for symbol, completed, blocks_committed in rows}


def begin_checkpoint(
    conn: psycopg.Connection, key: CheckpointKey, input_description: dict[str, object], run_id: str
) -> tuple[datetime, int]:
    """Start or resume the symbol's backfill: (where to resume from, blocks committed before)."""
    resume_from, committed_before = conn.execute(
        load_query("backfill_checkpoint_begin"),
        {**key.params(), "input_description": Jsonb(input_description), "run_id": run_id},
    ).fetchone()
    return resume_from, committed_before


def advance_checkpoint(conn: psycopg.Connection, key: CheckpointKey, committed_until: datetime, blocks: int, run_id: str) -> None:
    conn.execute(
        load_query("backfill_checkpoint_advance"),
        {**key.params(), "committed_until": committed_until, "blocks": blocks, "run_id": run_id},
    )


def complete_checkpoint(conn: psycopg.Connection, key: CheckpointKey) -> None:
    conn.execute(load_query("backfill_checkpoint_complete"), key.params())
