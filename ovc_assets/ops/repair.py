"""Self-repair of missed TradingView alerts: the blocks a live window lacks, from a provider.

TradingView drops webhooks. When a live window (a LIVE_INGEST run) is reported with
`blocks_missing > 0`, `plan_repairs` lists exactly which blocks of its window are still
missing, per 2H partition, and records each repair in `ovc.block_repairs` (sql/010).
The sensor turns each into a run of `hist_backfill_job` on that partition, for the missing
symbols only, from OANDA: the provider path marks the rows provider-sourced
(`source = provider_source = 'oanda'`) and never overwrites a live row. That run's report
says how many of the requested blocks were recovered and how many are still missing
(`ovc_assets.runs.repairs.repair_note`). `ovc replay alerts` stays the way to restore the TradingView fields.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from ovc_assets.calendar import Block, FxCalendar, block_at
from ovc_assets.runs.repairs import REPAIR_KEY_TAG
from ovc_assets.runs.tags import INPUT_RANGE_TAG, RunType, ovc_run_tags
from ovc_assets.storage.blocks import BLOCK_TYPE_2H

OANDA_PROVIDER = "oanda"
BLOCKS_STEP_KEY = "ovc_blocks"

# Live windows reported with missing blocks after the cursor (finish time, run id): the window each covered.
WINDOWS_TO_REPAIR_SQL = """
SELECT r.run_id, coalesce(r.finished_at_ms, r.started_at_ms) AS reported_ms, c.range_start, c.range_end, c.symbols
FROM ovc.ovc_run_reports_v01 r
JOIN ovc.ovc_run_counts c ON c.dagster_run_id = r.run_id AND c.step_key = %(step_key)s
WHERE r.run_type = 'LIVE_INGEST' AND r.blocks_missing > 0
  AND (coalesce(r.finished_at_ms, r.started_at_ms), r.run_id) > (%(after_ms)s, %(after_run_id)s)
  AND coalesce(r.finished_at_ms, r.started_at_ms) >= %(since_ms)s
  AND c.range_start IS NOT NULL AND c.range_end IS NOT NULL AND cardinality(c.symbols) > 0
ORDER BY 2, 1
LIMIT %(limit)s
"""
MISSING_BLOCKS_SQL = """
SELECT e.block_start, s.symbol
FROM unnest(%(symbols)s::text[]) AS s(symbol)
CROSS JOIN unnest(%(starts)s::timestamptz[]) AS e(block_start)
WHERE NOT EXISTS (
    SELECT 1 FROM ovc.ovc_blocks_v01 b
    WHERE b.symbol = s.symbol AND b.block_start = e.block_start AND b.block_type = %(block_type)s
)
ORDER BY e.block_start, s.symbol
"""
RECORD_REPAIR_SQL = """
INSERT INTO ovc.block_repairs (live_run_id, block_start, provider, symbols, run_key)
VALUES (%(live_run_id)s, %(block_start)s, %(provider)s, %(symbols)s, %(run_key)s)
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class BlockRepair:
    """The missing blocks of one 2H partition of a live window, to take from `provider`."""

    live_run_id: str
    block: Block
    symbols: tuple[str, ...]
    provider: str = OANDA_PROVIDER

    @property
    def run_key(self) -> str:
        return f"repair:{self.live_run_id}:{self.block.start_utc.isoformat()}"

    def block_ids(self) -> list[str]:
        return [self.block.block_id(symbol) for symbol in self.symbols]

    def run_config(self) -> dict[str, object]:
        return {"ops": {BLOCKS_STEP_KEY: {"config": {"source": self.provider, "symbols": list(self.symbols)}}}}

    def run_tags(self) -> dict[str, str]:
        return {
            **ovc_run_tags(RunType.HIST_BACKFILL, input_source="oanda_api"),
            INPUT_RANGE_TAG: f"repair of {self.live_run_id}: {', '.join(self.block_ids())}",
            REPAIR_KEY_TAG: self.run_key,
        }


def missing_blocks(
    conn: psycopg.Connection,
    symbols: Sequence[str],
    start: datetime,
    end: datetime,
    now: datetime,
    calendar: FxCalendar,
) -> dict[Block, tuple[str, ...]]:
    """The closed market blocks of `[start, end)` without a row, with the symbols lacking them."""
    expected = [block for block in calendar.expected_blocks(start, min(end, now)) if block.end_utc <= now]
    if not expected or not symbols:
        return {}
    rows = conn.execute(
        MISSING_BLOCKS_SQL,
        {"symbols": list(symbols), "starts": [block.start_utc for block in expected], "block_type": BLOCK_TYPE_2H},
    ).fetchall()
    missing: dict[Block, list[str]] = defaultdict(list)
    for block_start, symbol in rows:
        missing[block_at(block_start)].append(symbol)
    return {block: tuple(names) for block, names in missing.items()}


@dataclass(frozen=True)
class RepairCursor:
    """The last live report looked at: its finish time (epoch ms) and run id."""

    after_ms: int = 0
    after_run_id: str = ""

    @classmethod
    def from_json(cls, text: str | None) -> RepairCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(int(data["after_ms"]), str(data["after_run_id"]))
        except (ValueError, KeyError, TypeError):
            return cls()

    def to_json(self) -> str:
        return json.dumps({"after_ms": self.after_ms, "after_run_id": self.after_run_id}, sort_keys=True)


def plan_repairs(
    conn: psycopg.Connection,
    now: datetime,
    cursor: RepairCursor,
    *,
    lookback: timedelta = timedelta(days=2),
    limit: int = 20,
    calendar: FxCalendar | None = None,
) -> tuple[list[BlockRepair], RepairCursor]:
    """The repairs of the live windows reported after `cursor`, each recorded (once) in
    `ovc.block_repairs`, and the cursor past them. Planning the same windows again (a tick
    whose run requests were lost) records nothing new and returns the same run keys."""
    calendar = calendar or FxCalendar()
    windows = conn.execute(
        WINDOWS_TO_REPAIR_SQL,
        {
            "step_key": BLOCKS_STEP_KEY, "after_ms": cursor.after_ms, "after_run_id": cursor.after_run_id,
            "since_ms": int((now - lookback).timestamp() * 1000), "limit": limit,
        },  # fmt: skip
    ).fetchall()
    planned: list[BlockRepair] = []
    with conn.transaction():
        for live_run_id, reported_ms, start, end, symbols in windows:
            repairs = [
                BlockRepair(live_run_id, block, names)
                for block, names in missing_blocks(conn, symbols, start, end, now, calendar).items()
            ]
            if not repairs:  # replayed or backfilled meanwhile: marked done, nothing to request
                conn.execute(
                    RECORD_REPAIR_SQL,
                    {"live_run_id": live_run_id, "block_start": start, "provider": OANDA_PROVIDER, "symbols": [], "run_key": None},
                )
            for repair in repairs:
                conn.execute(
                    RECORD_REPAIR_SQL,
                    {
                        "live_run_id": live_run_id, "block_start": repair.block.start_utc, "provider": repair.provider,
                        "symbols": list(repair.symbols), "run_key": repair.run_key,
                    },  # fmt: skip
                )
            planned += repairs
            cursor = RepairCursor(reported_ms, live_run_id)
    return planned, cursor
