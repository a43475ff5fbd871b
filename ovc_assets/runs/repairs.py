"""What a self-repair run (ovc_assets.ops.repair) achieved, for its run report's notes."""

from __future__ import annotations

from collections.abc import Mapping

import psycopg

from ovc_assets.calendar import block_at
from ovc_assets.storage.blocks import BLOCK_TYPE_2H

REPAIR_KEY_TAG = "ovc/repair_key"  # on a repair run: its row in ovc.block_repairs (sql/010)

REPAIR_OUTCOME_SQL = """
SELECT p.provider, p.symbols, p.block_start,
       count(b.symbol) AS recovered,
       array_agg(s.symbol ORDER BY s.symbol) FILTER (WHERE b.symbol IS NULL) AS still_missing
FROM ovc.block_repairs p
CROSS JOIN LATERAL unnest(p.symbols) AS s(symbol)
LEFT JOIN ovc.ovc_blocks_v01 b
       ON b.symbol = s.symbol AND b.block_start = p.block_start AND b.block_type = %(block_type)s
WHERE p.run_key = %(run_key)s
GROUP BY p.provider, p.symbols, p.block_start
"""


def repair_note(conn: psycopg.Connection, tags: Mapping[str, str]) -> str | None:
    """For a repair run's report: how many of the requested blocks are there now, and which are not."""
    run_key = tags.get(REPAIR_KEY_TAG)
    if not run_key:
        return None
    row = conn.execute(REPAIR_OUTCOME_SQL, {"run_key": run_key, "block_type": BLOCK_TYPE_2H}).fetchone()
    if row is None:
        return f"self-repair {run_key}: no such repair recorded"
    provider, symbols, block_start, recovered, still_missing = row
    block = block_at(block_start)
    note = (
        f"self-repair of missed alerts ({provider}): {recovered} of {len(symbols)} missing block(s) recovered, "
        f"{len(still_missing or [])} still missing"
    )
    if still_missing:
        note += " (" + ", ".join(block.block_id(symbol) for symbol in still_missing) + ")"
    return note
