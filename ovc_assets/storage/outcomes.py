"""Reads and writes of the outcome computation: blocks in as arrays, outcome rows out by COPY
into a staging table and one set-based merge (`sql/queries/outcomes_upsert.sql`).

The staged rows are fixed-width numbers only, so numpy writes PostgreSQL's binary COPY format
for a million rows at once (no per-row Python, no text formatting): texts that repeat become
codes (the symbol's index, the enums' 1-based positions, 0 = NULL) that the merge turns back
into text, and the block id comes from the block itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ovc_assets.project_files import load_query
from ovc_assets.storage.blocks import BLOCK_TYPE_2H, SCHEMA_VER

# The columns of ovc.ovc_outcomes_v01 an outcome row has (computed_at is the database's).
OUTCOME_COLUMNS = (
    "symbol", "block_start", "window_type", "outcome_ver", "bid", "window_end", "window_status",
    "window_complete", "blocks_in_window", "ref_price", "mfe_up", "mfe_down", "close_pos", "outcome_dir",
    "bars_to_mfe_up", "bars_to_mfe_down", "hit_target", "hit_invalidation", "first_hit", "run_id",
)  # fmt: skip
# Codes of the staged enums: position + 1 in these tuples, 0 = NULL.
WINDOW_STATUSES = ("COMPLETE", "GAP")
OUTCOME_DIRS = ("UP", "DOWN", "NEUTRAL")
FIRST_HITS = ("TARGET", "INVALIDATION", "NONE")
# Booleans that may be NULL: 0 = NULL, 1 = false, 2 = true.
NULL_CODE, FALSE_CODE, TRUE_CODE = 0, 1, 2

# The staged columns: (name, PostgreSQL type, big-endian numpy type). Timestamps are
# microseconds since 2000-01-01 UTC (PostgreSQL's binary timestamptz); close_pos NaN is NULL.
STAGING_LAYOUT = (
    ("symbol_index", "integer", ">i4"),
    ("block_start", "timestamptz", ">i8"),
    ("window_end", "timestamptz", ">i8"),
    ("window_status", "smallint", ">i2"),
    ("blocks_in_window", "integer", ">i4"),
    ("ref_price", "double precision", ">f8"),
    ("mfe_up", "double precision", ">f8"),
    ("mfe_down", "double precision", ">f8"),
    ("close_pos", "double precision", ">f8"),
    ("outcome_dir", "smallint", ">i2"),
    ("bars_to_mfe_up", "integer", ">i4"),
    ("bars_to_mfe_down", "integer", ">i4"),
    ("hit_target", "smallint", ">i2"),
    ("hit_invalidation", "smallint", ">i2"),
    ("first_hit", "smallint", ">i2"),
)
_POSTGRES_EPOCH_US = 946_684_800_000_000
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags 0, no header extension
_BINARY_TRAILER = (-1).to_bytes(2, "big", signed=True)
BLOCK_COLUMNS = ("symbol", "block_start", "bid", "h", "l", "c", "pred_target", "invalidation")
STAGING_TABLE = sql.Identifier("staging_outcomes")
OUTCOMES_CHECKSUM_SQL = """
SELECT md5(coalesce(string_agg(o::text, E'\\n' ORDER BY symbol, block_start, window_type, outcome_ver), ''))
FROM ovc.ovc_outcomes_v01 AS o
"""


@dataclass(frozen=True)
class OutcomeWrite:
    """What one merge did: `skipped` rows were already there, unchanged."""

    attempted: int
    inserted: int
    updated: int

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    @property
    def skipped(self) -> int:
        return self.attempted - self.written


def load_outcome_blocks(
    conn: psycopg.Connection, symbols: Sequence[str], start: datetime, end: datetime
) -> tuple[pd.DataFrame, dict[str, datetime]]:
    """The symbols' blocks starting in `[start, end)` (`BLOCK_COLUMNS`, sorted by symbol and
    start) and, per symbol, the start of its latest block with prices in the whole table."""
    scope = {"block_type": BLOCK_TYPE_2H, "schema_ver": SCHEMA_VER, "symbols": list(symbols)}
    latest = dict(conn.execute(load_query("outcome_latest_priced_blocks"), scope).fetchall())
    rows = conn.execute(load_query("outcome_blocks_select"), {**scope, "start": start, "end": end}).fetchall()
    return pd.DataFrame(rows, columns=list(BLOCK_COLUMNS)), latest


def count_symbol_blocks(conn: psycopg.Connection, symbol: str, start: datetime, end: datetime) -> int:
    """How many 2H blocks of `symbol` start in `[start, end)`."""
    params = {"block_type": BLOCK_TYPE_2H, "schema_ver": SCHEMA_VER, "symbol": symbol, "start": start, "end": end}
    return conn.execute(load_query("count_symbol_blocks"), params).fetchone()[0]


def binary_copy_rows(staged: dict[str, np.ndarray]) -> bytes:
    """Rows of `STAGING_LAYOUT` (one array per column; timestamps in UTC epoch nanoseconds) in
    PostgreSQL's binary COPY format."""
    fields: list[tuple[str, str]] = [("field_count", ">i2")]
    for name, _, numpy_type in STAGING_LAYOUT:
        fields += [(f"{name}_length", ">i4"), (name, numpy_type)]
    rows = np.empty(len(staged["block_start"]), dtype=fields)
    rows["field_count"] = len(STAGING_LAYOUT)
    for name, sql_type, numpy_type in STAGING_LAYOUT:
        values = staged[name]
        if sql_type == "timestamptz":
            values = np.asarray(values, dtype="int64") // 1000 - _POSTGRES_EPOCH_US
        rows[f"{name}_length"] = np.dtype(numpy_type).itemsize
        rows[name] = values
    return _BINARY_HEADER + rows.tobytes() + _BINARY_TRAILER


def create_staging_table(conn: psycopg.Connection, table: sql.Composable, *, temporary: bool = True) -> None:
    """A table of `STAGING_LAYOUT` (temporary: dropped at commit)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(sql_type)) for name, sql_type, _ in STAGING_LAYOUT
    )
    statement = "CREATE TEMP TABLE {} ({}) ON COMMIT DROP" if temporary else "CREATE TABLE {} ({})"
    conn.execute(sql.SQL(statement).format(table, columns))


def copy_binary_rows(conn: psycopg.Connection, table: sql.Composable, data: bytes) -> None:
    """COPY the rows of `binary_copy_rows` into `table`."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(
        table, sql.SQL(", ").join(sql.Identifier(name) for name, _, _ in STAGING_LAYOUT)
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(data)


def upsert_outcomes(
    conn: psycopg.Connection,
    staged: dict[str, np.ndarray],
    *,
    symbols: Sequence[str],
    window_type: str,
    outcome_ver: str,
    run_id: str | None,
) -> OutcomeWrite:
    """Merge the outcome rows of one window type (`STAGING_LAYOUT` arrays, `symbol_index` into
    `symbols`, 1-based, unique by block) inside the caller's transaction."""
    with conn.transaction():
        create_staging_table(conn, STAGING_TABLE)
        copy_binary_rows(conn, STAGING_TABLE, binary_copy_rows(staged))
        params = {
            "symbols": list(symbols), "window_type": window_type, "outcome_ver": outcome_ver, "run_id": run_id,
            "block_type": BLOCK_TYPE_2H, "schema_ver": SCHEMA_VER, "window_statuses": list(WINDOW_STATUSES),
            "outcome_dirs": list(OUTCOME_DIRS), "first_hits": list(FIRST_HITS),
        }  # fmt: skip
        inserted, updated = conn.execute(load_query("outcomes_upsert"), params).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(STAGING_TABLE))
    return OutcomeWrite(attempted=len(staged["block_start"]), inserted=inserted, updated=updated)


def outcomes_table_checksum(conn: psycopg.Connection) -> str:
    """md5 over every outcome row in key order: equal checksums, identical tables."""
    return conn.execute(OUTCOMES_CHECKSUM_SQL).fetchone()[0]
