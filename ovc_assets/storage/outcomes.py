"""Reads and writes of the outcome computation: blocks in as arrays, outcome rows out by COPY
into a staging table and one set-based merge (`sql/queries/outcomes_upsert.sql`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg
from psycopg import sql

from ovc_assets.storage.blocks import BLOCK_TYPE_2H, SCHEMA_VER, load_query

# The columns of ovc.ovc_outcomes_v01 a writer sets, in COPY order (computed_at is the database's).
OUTCOME_COLUMNS = (
    "symbol", "block_start", "window_type", "outcome_ver", "bid", "window_end", "window_status",
    "window_complete", "blocks_in_window", "ref_price", "mfe_up", "mfe_down", "close_pos", "outcome_dir",
    "bars_to_mfe_up", "bars_to_mfe_down", "hit_target", "hit_invalidation", "first_hit", "run_id",
)  # fmt: skip
BLOCK_COLUMNS = ("symbol", "block_start", "bid", "h", "l", "c", "pred_target", "invalidation")
OUTCOMES_TABLE = sql.Identifier("ovc", "ovc_outcomes_v01")
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


def outcome_rows_csv(frame: pd.DataFrame) -> bytes:
    """Outcome rows as CSV for COPY (empty unquoted field = NULL)."""
    return frame.to_csv(index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S%z").encode()


def copy_outcome_csv(conn: psycopg.Connection, table: sql.Composable, data: bytes) -> None:
    """COPY CSV rows in `OUTCOME_COLUMNS` order into `table`."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, OUTCOME_COLUMNS))
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(data)


def upsert_outcomes(conn: psycopg.Connection, frame: pd.DataFrame) -> OutcomeWrite:
    """Merge outcome rows (`OUTCOME_COLUMNS`, unique by primary key) inside the caller's transaction."""
    with conn.transaction():
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                STAGING_TABLE, sql.SQL(", ").join(map(sql.Identifier, OUTCOME_COLUMNS)), OUTCOMES_TABLE
            )
        )
        copy_outcome_csv(conn, STAGING_TABLE, outcome_rows_csv(frame))
        inserted, updated = conn.execute(load_query("outcomes_upsert")).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(STAGING_TABLE))
    return OutcomeWrite(attempted=len(frame), inserted=inserted, updated=updated)


def outcomes_table_checksum(conn: psycopg.Connection) -> str:
    """md5 over every outcome row in key order: equal checksums, identical tables."""
    return conn.execute(OUTCOMES_CHECKSUM_SQL).fetchone()[0]
