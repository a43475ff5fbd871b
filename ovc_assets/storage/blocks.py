"""Writes to the block tables (`ovc_blocks_v01`, `ovc_blocks_detail_v01`): COPY into a staging
table, then one set-based merge (`sql/queries/*_upsert*.sql`), inside the caller's transaction.

Two writers share the table: live TradingView blocks (MIN fields and OHLC) and provider
candles (history backfill, into provider_* and, where no live row exists, OHLC). Each merge
skips rows whose values would not change, so reruns are no-ops.

A provider chunk whose symbols have no stored block in its time range (a first load) is
inserted by the merge's own INSERT without its ON CONFLICT clause, which is what the merge
would do to each row anyway; if a concurrent writer (the receiver) lands one of those keys in
the meantime, the insert's unique violation is rolled back to a savepoint and the chunk goes
through the merge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import psycopg
from psycopg import sql

from ovc_assets.project_files import project_dir

BLOCK_TYPE_2H = "2H"
SCHEMA_VER = "v01"

LIVE_BLOCK_COLUMNS = (
    "symbol", "block_start", "block_type", "schema_ver", "block_end", "bid", "date_ny", "block2h", "block4h",
    "bar_close_ms", "o", "h", "l", "c", "rng", "body", "ret", "dir", "ready", "tradeable", "state_tag",
    "value_tag", "play", "bias_dir", "pred_dir", "pred_target", "invalidation", "build_id", "scheme", "source",
    "export_min", "payload_min", "run_id",
)  # fmt: skip

DETAIL_COLUMNS = ("symbol", "block_start", "block_type", "schema_ver", "bid", "export_full", "full_payload", "run_id")

PROVIDER_BLOCK_COLUMNS = (
    "symbol", "block_start", "block_type", "schema_ver", "block_end", "bid", "date_ny", "block2h", "block4h",
    "provider_source", "provider_o", "provider_h", "provider_l", "provider_c", "provider_volume",
    "provider_bar_count", "provider_partial", "run_id",
)  # fmt: skip

BLOCKS_CHECKSUM_SQL = """
SELECT md5(coalesce(string_agg(b::text, E'\\n' ORDER BY symbol, block_start, block_type, schema_ver), ''))
FROM ovc.ovc_blocks_v01 AS b
"""


@dataclass(frozen=True)
class UpsertCounts:
    """What one merge did: `skipped` rows were already there, unchanged."""

    attempted: int
    inserted: int
    updated: int

    @property
    def success(self) -> int:
        return self.inserted + self.updated

    @property
    def skipped(self) -> int:
        return self.attempted - self.success


@cache
def load_query(name: str) -> str:
    """The text of `sql/queries/<name>.sql`."""
    return (project_dir("sql") / "queries" / f"{name}.sql").read_text(encoding="utf-8")


def _stage(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    # Built from the target's columns without its constraints: the merge, not the stage, enforces them.
    conn.execute(
        sql.SQL("CREATE TEMP TABLE staging_blocks ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier("ovc", table)
        )
    )
    staged = 0
    copy_statement = sql.SQL("COPY staging_blocks ({}) FROM STDIN").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor() as cursor, cursor.copy(copy_statement) as copy:
        for row in rows:
            copy.write_row(row)
            staged += 1
    return staged


@cache
def _insert_only(merge_query: str) -> str:
    """The merge's INSERT .. SELECT without its ON CONFLICT clause, one `inserted` row per row."""
    merge = load_query(merge_query)
    return merge[: merge.index("ON CONFLICT")] + "RETURNING true AS inserted"


def _insert_if_range_is_empty(conn: psycopg.Connection, merge_query: str) -> list[tuple[bool]] | None:
    """Insert the staged rows if the spine holds nothing in their range; None when the merge is needed."""
    if conn.execute(load_query("blocks_staged_range_stored")).fetchone()[0]:
        return None
    try:
        with conn.transaction():
            return conn.execute(_insert_only(merge_query)).fetchall()
    except psycopg.errors.UniqueViolation:
        return None


def _merge(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    query: str,
    *,
    insert_when_range_is_empty: bool = False,
) -> UpsertCounts:
    with conn.transaction():
        attempted = _stage(conn, table, columns, rows)
        results = _insert_if_range_is_empty(conn, query) if insert_when_range_is_empty else None
        if results is None:
            results = conn.execute(load_query(query)).fetchall()
        conn.execute("DROP TABLE staging_blocks")
    inserted = sum(1 for (was_inserted,) in results if was_inserted)
    return UpsertCounts(attempted=attempted, inserted=inserted, updated=len(results) - inserted)


def upsert_live_blocks(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge live blocks, one tuple per row in `LIVE_BLOCK_COLUMNS` order, unique by primary key."""
    return _merge(conn, "ovc_blocks_v01", LIVE_BLOCK_COLUMNS, rows, "blocks_upsert_live")


def upsert_provider_blocks(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge provider candles, one tuple per row in `PROVIDER_BLOCK_COLUMNS` order, unique by primary key."""
    return _merge(
        conn, "ovc_blocks_v01", PROVIDER_BLOCK_COLUMNS, rows, "blocks_upsert_provider", insert_when_range_is_empty=True
    )


def upsert_block_details(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge FULL exports, one tuple per row in `DETAIL_COLUMNS` order, unique by primary key."""
    return _merge(conn, "ovc_blocks_detail_v01", DETAIL_COLUMNS, rows, "block_details_upsert")


def blocks_table_checksum(conn: psycopg.Connection) -> str:
    """md5 over every row of the spine in key order: equal checksums, identical tables."""
    return conn.execute(BLOCKS_CHECKSUM_SQL).fetchone()[0]
