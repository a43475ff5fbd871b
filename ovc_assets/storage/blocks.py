"""Writes to the block tables (`ovc_blocks_v01`, `ovc_blocks_detail_v01`): COPY into a staging
table, then one set-based merge (`sql/queries/*_upsert*.sql`), inside the caller's transaction.

Two writers share the table: live TradingView blocks (MIN fields and OHLC) and provider
candles (history backfill, into provider_* and, where no live row exists, OHLC). Each merge
skips rows whose values would not change, so reruns are no-ops.

A provider chunk whose symbols have no stored block in its time range (a first load) is
copied straight into the spine, which is what the merge would do to each row anyway, without
a staging table and without the merge's row-at-a-time INSERT (COPY writes its rows in
batches); if a concurrent writer (the receiver) lands one of those keys in the meantime, the
COPY's unique violation is rolled back to a savepoint and the chunk goes through the merge.
The prices a provider row fills where no live row owns them (o .. dir, source) are computed
by `with_block_prices` (or column-wise by `block_prices`) before the write, so that the COPY
and the merge store the same values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
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

# The spine's own prices, filled from the candle where no live row owns them.
PROVIDER_PRICE_COLUMNS = ("o", "h", "l", "c", "volume", "rng", "body", "ret", "dir", "source")
# What a provider row writes: the candle, then its prices (`with_block_prices`, `block_prices`).
PROVIDER_ROW_COLUMNS = PROVIDER_BLOCK_COLUMNS + PROVIDER_PRICE_COLUMNS

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


def block_prices(o, h, low, c):
    """(rng, body, ret, dir) of candles, on numbers or numpy arrays alike (IEEE doubles, as
    PostgreSQL would compute them); dir is -1.0, 0.0 or 1.0."""
    return h - low, np.abs(c - o), (c - o) / o, np.sign(c - o)


def with_block_prices(row: Sequence[object]) -> tuple[object, ...]:
    """A candle row in `PROVIDER_BLOCK_COLUMNS` order (prices as numbers), completed to
    `PROVIDER_ROW_COLUMNS` order."""
    candle = dict(zip(PROVIDER_BLOCK_COLUMNS, row, strict=True))
    o, h, low, c = (candle[f"provider_{name}"] for name in ("o", "h", "l", "c"))
    rng, body, ret, direction = block_prices(o, h, low, c)
    return (*row, o, h, low, c, candle["provider_volume"], float(rng), float(body), float(ret), int(direction),
            candle["provider_source"])  # fmt: skip


def _copy(conn: psycopg.Connection, table: sql.Composable, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    copy_statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with conn.cursor() as cursor:
        with cursor.copy(copy_statement) as copy:
            for row in rows:
                copy.write_row(row)
        return cursor.rowcount


def _stage(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    # Built from the target's columns without its constraints: the merge, not the stage, enforces them.
    conn.execute(
        sql.SQL("CREATE TEMP TABLE staging_blocks ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier("ovc", table)
        )
    )
    return _copy(conn, sql.Identifier("staging_blocks"), columns, rows)


def _merge(conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]], query: str) -> UpsertCounts:
    with conn.transaction():
        attempted = _stage(conn, table, columns, rows)
        results = conn.execute(load_query(query)).fetchall()
        conn.execute("DROP TABLE staging_blocks")
    inserted = sum(1 for (was_inserted,) in results if was_inserted)
    return UpsertCounts(attempted=attempted, inserted=inserted, updated=len(results) - inserted)


def _staged_ranges(rows: Sequence[Sequence[object]]) -> dict[str, list[object]]:
    """Per symbol, the first and last block_start of the rows (all given in one type: datetimes,
    or PostgreSQL text in one format, which sorts as time does)."""
    ranges: dict[str, list[object]] = {}
    for symbol, block_start, *_ in rows:
        span = ranges.setdefault(symbol, [block_start, block_start])
        span[0], span[1] = min(span[0], block_start), max(span[1], block_start)
    return {"symbols": list(ranges), "firsts": [span[0] for span in ranges.values()], "lasts": [span[1] for span in ranges.values()]}


def _copy_if_range_is_empty(conn: psycopg.Connection, rows: Sequence[Sequence[object]]) -> int | None:
    """Copy the rows into the spine if it holds nothing in their range; None when the merge is needed."""
    if conn.execute(load_query("blocks_provider_range_stored"), _staged_ranges(rows)).fetchone()[0]:
        return None
    try:
        with conn.transaction():
            return _copy(conn, sql.Identifier("ovc", "ovc_blocks_v01"), PROVIDER_ROW_COLUMNS, rows)
    except psycopg.errors.UniqueViolation:
        return None


def upsert_live_blocks(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge live blocks, one tuple per row in `LIVE_BLOCK_COLUMNS` order, unique by primary key."""
    return _merge(conn, "ovc_blocks_v01", LIVE_BLOCK_COLUMNS, rows, "blocks_upsert_live")


def upsert_provider_rows(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge provider rows, one tuple per row in `PROVIDER_ROW_COLUMNS` order, unique by primary key."""
    rows = list(rows)  # read twice when a key landed meanwhile
    with conn.transaction():
        copied = _copy_if_range_is_empty(conn, rows) if rows else None
        if copied is not None:
            return UpsertCounts(attempted=copied, inserted=copied, updated=0)
        return _merge(conn, "ovc_blocks_v01", PROVIDER_ROW_COLUMNS, rows, "blocks_upsert_provider")


def upsert_provider_blocks(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge provider candles, one tuple per row in `PROVIDER_BLOCK_COLUMNS` order (prices as
    numbers), unique by primary key. A backfill builds its rows column-wise and calls
    `upsert_provider_rows`."""
    return upsert_provider_rows(conn, map(with_block_prices, rows))


def upsert_block_details(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge FULL exports, one tuple per row in `DETAIL_COLUMNS` order, unique by primary key."""
    return _merge(conn, "ovc_blocks_detail_v01", DETAIL_COLUMNS, rows, "block_details_upsert")


def blocks_table_checksum(conn: psycopg.Connection) -> str:
    """md5 over every row of the spine in key order: equal checksums, identical tables."""
    return conn.execute(BLOCKS_CHECKSUM_SQL).fetchone()[0]
