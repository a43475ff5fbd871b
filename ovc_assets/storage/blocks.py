"""Writes to the block tables (`ovc_blocks_v01`, `ovc_blocks_detail_v01`): COPY into a staging
table, then one set-based merge (`sql/queries/*_upsert*.sql`), inside the caller's transaction.

Two writers share the table: live TradingView blocks (MIN fields and OHLC) and provider
candles (history backfill, into provider_* and, where no live row exists, OHLC). Each merge
skips rows whose values would not change, so reruns are no-ops.

A provider chunk first reads the stored provider columns of its key ranges in one query, as
fixed-width binary records (`blocks_provider_stored.sql`). If the spine holds nothing there (a
first load), the chunk is copied straight into the spine, which is what the merge would do to each row anyway, without
a staging table and without the merge's row-at-a-time INSERT (COPY writes its rows in
batches); if a concurrent writer (the receiver) lands one of those keys in the meantime, the
COPY's unique violation is rolled back to a savepoint and the chunk goes through the merge.
Otherwise the chunk is compared with what is stored in numpy, and only its new rows and those
whose provider tuple changed are staged and merged (the merge still judges each of them by its
rules); a rerun of unchanged candles writes nothing.
Provider rows travel column-wise (numpy arrays) and in PostgreSQL's binary COPY format
(`binary_copy`). The prices a provider row fills where no live row owns them (o .. dir,
source) are computed by `block_prices` before the write, so the COPY and the merge store the
same values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ovc_assets.project_files import load_query
from ovc_assets.storage.binary_copy import binary_copy, read_sent_records

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
# What a provider row writes: the candle, then its prices (`block_prices`), with their types.
PROVIDER_ROW_COLUMNS = PROVIDER_BLOCK_COLUMNS + PROVIDER_PRICE_COLUMNS
# The provider tuple the merge compares (`blocks_upsert_provider.sql`) but its source, which
# `blocks_provider_stored.sql` compares with the key range's; read back as STORED_PROVIDER_TYPES.
COMPARED_PROVIDER_COLUMNS = (
    "provider_o", "provider_h", "provider_l", "provider_c", "provider_volume", "provider_bar_count", "provider_partial",
)  # fmt: skip
RANGE_KEY_COLUMNS = ("symbol", "block_type", "schema_ver", "provider_source")
STORED_PROVIDER_TYPES = ("int4", "timestamptz", *["float8"] * 5, "int4", "int4", "bool")
PROVIDER_ROW_TYPES = {
    **dict.fromkeys(("symbol", "block_type", "schema_ver", "bid", "block2h", "block4h", "provider_source", "run_id", "source"), "text"),
    **dict.fromkeys(("block_start", "block_end"), "timestamptz"),
    "date_ny": "date",
    **dict.fromkeys(("provider_o", "provider_h", "provider_l", "provider_c", "provider_volume"), "float8"),
    **dict.fromkeys(("o", "h", "l", "c", "volume", "rng", "body", "ret"), "float8"),
    "provider_bar_count": "int4",
    "provider_partial": "bool",
    "dir": "int2",
}

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


NOTHING_MERGED = UpsertCounts(attempted=0, inserted=0, updated=0)


def block_prices(o, h, low, c):
    """(rng, body, ret, dir) of candles, on numbers or numpy arrays alike (IEEE doubles, as
    PostgreSQL would compute them); dir is -1.0, 0.0 or 1.0."""
    return h - low, np.abs(c - o), (c - o) / o, np.sign(c - o)


def with_block_prices(candles: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Candle columns (`PROVIDER_BLOCK_COLUMNS`) completed with the spine's prices."""
    o, h, low, c = (candles[f"provider_{name}"] for name in ("o", "h", "l", "c"))
    rng, body, ret, direction = block_prices(o, h, low, c)
    return {
        **candles, "o": o, "h": h, "l": low, "c": c, "volume": candles["provider_volume"],
        "rng": rng, "body": body, "ret": ret, "dir": direction.astype(np.int16), "source": candles["provider_source"],
    }  # fmt: skip


def _candle_columns(rows: Sequence[Sequence[object]]) -> dict[str, np.ndarray]:
    by_column = dict(zip(PROVIDER_BLOCK_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else {}
    columns = {}
    for column in PROVIDER_BLOCK_COLUMNS:
        values = by_column.get(column, ())
        pg_type = PROVIDER_ROW_TYPES[column]
        if pg_type == "timestamptz":
            columns[column] = pd.to_datetime(list(values), utc=True).tz_convert(None).to_numpy()
        elif pg_type == "date":
            columns[column] = np.array(values, dtype="datetime64[D]")
        elif pg_type == "float8":
            columns[column] = np.array([np.nan if value is None else value for value in values], dtype=np.float64)
        else:
            columns[column] = np.array(values, dtype={"text": object, "int4": np.int32, "bool": bool}[pg_type])
    return columns


def _copy(
    conn: psycopg.Connection,
    table: sql.Composable,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]] = (),
    *,
    binary_payload: bytes | None = None,
) -> int:
    """COPY `rows` (tuples, text format) or a whole binary COPY stream into `table`; the row count."""
    binary = sql.SQL(" (FORMAT BINARY)") if binary_payload is not None else sql.SQL("")
    copy_statement = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns)), binary
    )
    with conn.cursor() as cursor:
        with cursor.copy(copy_statement) as copy:
            if binary_payload is not None:
                copy.write(binary_payload)
            for row in rows:
                copy.write_row(row)
        return cursor.rowcount


# Built from the target's columns without its constraints: the merge, not the stage, enforces them.
STAGING_TABLE_SQL = sql.SQL("CREATE TEMP TABLE staging_blocks ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA")
STAGING_TABLE = sql.Identifier("staging_blocks")


def _merge(
    conn: psycopg.Connection, table: str, columns: Sequence[str], query: str, fill_stage: Callable[[sql.Composable], int]
) -> UpsertCounts:
    """Stage the rows (`fill_stage` copies them into the staging table it is given) and merge them by `query`."""
    with conn.transaction():
        conn.execute(STAGING_TABLE_SQL.format(sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier("ovc", table)))
        attempted = fill_stage(STAGING_TABLE)
        results = conn.execute(load_query(query)).fetchall()
        conn.execute(sql.SQL("DROP TABLE {}").format(STAGING_TABLE))
    inserted = sum(1 for (was_inserted,) in results if was_inserted)
    return UpsertCounts(attempted=attempted, inserted=inserted, updated=len(results) - inserted)


def _key_ranges(columns: Mapping[str, np.ndarray]) -> tuple[np.ndarray, dict[str, list[object]]]:
    """Each row's key range (1-based; one per symbol, block type, schema version and source) and
    the ranges with their first and last block_start: the parameters of `blocks_provider_stored`."""
    codes = [_codes(np.asarray(columns[name])) for name in RANGE_KEY_COLUMNS]
    of_row = pd.factorize(np.ravel_multi_index(codes, [code.max() + 1 for code in codes]))[0]
    # Rows grouped by range (stable: a range's first row first), then each group's bounds.
    order = np.argsort(of_row, kind="stable")
    group_starts = np.searchsorted(of_row[order], np.arange(of_row.max() + 1))
    block_starts = np.asarray(columns["block_start"])[order]
    keys = {name: np.asarray(columns[name])[order[group_starts]].tolist() for name in RANGE_KEY_COLUMNS}
    return of_row + 1, {
        "symbols": keys["symbol"], "block_types": keys["block_type"], "schema_vers": keys["schema_ver"],
        "sources": keys["provider_source"],
        "firsts": _utc(np.minimum.reduceat(block_starts, group_starts)),
        "lasts": _utc(np.maximum.reduceat(block_starts, group_starts)),
    }  # fmt: skip


def _codes(values: np.ndarray) -> np.ndarray:
    """The values as integer codes, equal values one code (None one code too)."""
    # Most chunks are one symbol and source: one comparison per value instead of hashing each.
    if (values == values[0]).all():
        return np.zeros(len(values), dtype=np.intp)
    return pd.factorize(values, use_na_sentinel=False)[0]


def _utc(times: np.ndarray) -> list[object]:
    """UTC datetime64 values as aware datetimes."""
    return pd.DatetimeIndex(times, tz="UTC").to_pydatetime().tolist()


def _stored_provider_columns(conn: psycopg.Connection, ranges: Mapping[str, list[object]]) -> list[np.ndarray]:
    """The stored rows of the key ranges: key range, block_start, then `STORED_PROVIDER_TYPES`."""
    (records,) = conn.execute(load_query("blocks_provider_stored"), ranges, binary=True).fetchone()
    return read_sent_records(records or b"", STORED_PROVIDER_TYPES)


def _new_or_changed(columns: Mapping[str, np.ndarray], of_row: np.ndarray, stored: Sequence[np.ndarray]) -> np.ndarray:
    """Which rows the merge would write: new keys, and keys whose stored provider tuple differs."""
    key_range, block_start, *values, same_source = stored
    stored_us, staged_us = (np.asarray(t).astype("datetime64[us]").view(np.int64) for t in (block_start, columns["block_start"]))
    found = pd.MultiIndex.from_arrays([key_range, stored_us]).get_indexer(pd.MultiIndex.from_arrays([of_row, staged_us]))
    matched = found >= 0
    at = found[matched]
    unchanged = same_source[at]
    for name, stored_values in zip(COMPARED_PROVIDER_COLUMNS, values, strict=True):
        staged, kept = np.asarray(columns[name])[matched], stored_values[at]
        if kept.dtype.kind == "f":
            unchanged &= (staged == kept) | (np.isnan(staged) & np.isnan(kept))
        else:
            unchanged &= staged.astype(np.int64) == kept
    changed = ~matched
    changed[matched] = ~unchanged
    return changed


def _provider_payload(columns: Mapping[str, np.ndarray]) -> bytes:
    return binary_copy(
        [PROVIDER_ROW_TYPES[column] for column in PROVIDER_ROW_COLUMNS],
        [columns[column] for column in PROVIDER_ROW_COLUMNS],
        [np.isnan(columns[column]) if PROVIDER_ROW_TYPES[column] == "float8" else None for column in PROVIDER_ROW_COLUMNS],
    )


def _copy_into_spine(conn: psycopg.Connection, columns: Mapping[str, np.ndarray]) -> int | None:
    """Copy the rows straight into the spine; None if a key exists (landed meanwhile): then the merge is needed."""
    try:
        with conn.transaction():
            spine = sql.Identifier("ovc", "ovc_blocks_v01")
            return _copy(conn, spine, PROVIDER_ROW_COLUMNS, binary_payload=_provider_payload(columns))
    except psycopg.errors.UniqueViolation:
        return None


def upsert_live_blocks(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge live blocks, one tuple per row in `LIVE_BLOCK_COLUMNS` order, unique by primary key."""
    return _merge(
        conn, "ovc_blocks_v01", LIVE_BLOCK_COLUMNS, "blocks_upsert_live", lambda stage: _copy(conn, stage, LIVE_BLOCK_COLUMNS, rows)
    )


def upsert_provider_columns(conn: psycopg.Connection, columns: Mapping[str, np.ndarray]) -> UpsertCounts:
    """Merge provider rows given column-wise: a numpy array per `PROVIDER_ROW_COLUMNS` column, of
    its `PROVIDER_ROW_TYPES` type (timestamps as UTC datetime64, NaN volumes unknown), unique by
    primary key."""
    count = len(columns["symbol"])
    if not count:
        return NOTHING_MERGED
    with conn.transaction():
        of_row, ranges = _key_ranges(columns)
        stored = _stored_provider_columns(conn, ranges)
        if len(stored[0]):
            changed = _new_or_changed(columns, of_row, stored)
        else:
            copied = _copy_into_spine(conn, columns)
            if copied is not None:
                return UpsertCounts(attempted=copied, inserted=copied, updated=0)
            changed = np.ones(count, dtype=bool)
        if not changed.any():
            return UpsertCounts(attempted=count, inserted=0, updated=0)
        # Every row changed (a fallback from the direct COPY, a new range): the columns as they are, not a copy.
        rows = columns if changed.all() else {name: np.asarray(columns[name])[changed] for name in PROVIDER_ROW_COLUMNS}
        merged = _merge(
            conn, "ovc_blocks_v01", PROVIDER_ROW_COLUMNS, "blocks_upsert_provider",
            lambda stage: _copy(conn, stage, PROVIDER_ROW_COLUMNS, binary_payload=_provider_payload(rows)),
        )  # fmt: skip
    return UpsertCounts(attempted=count, inserted=merged.inserted, updated=merged.updated)


def upsert_provider_blocks(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge provider candles, one tuple per row in `PROVIDER_BLOCK_COLUMNS` order, unique by
    primary key. A backfill builds its columns directly and calls `upsert_provider_columns`."""
    return upsert_provider_columns(conn, with_block_prices(_candle_columns(list(rows))))


def upsert_block_details(conn: psycopg.Connection, rows: Iterable[Sequence[object]]) -> UpsertCounts:
    """Merge FULL exports, one tuple per row in `DETAIL_COLUMNS` order, unique by primary key."""
    return _merge(
        conn, "ovc_blocks_detail_v01", DETAIL_COLUMNS, "block_details_upsert", lambda stage: _copy(conn, stage, DETAIL_COLUMNS, rows)
    )


def blocks_table_checksum(conn: psycopg.Connection) -> str:
    """md5 over every row of the spine in key order: equal checksums, identical tables."""
    return conn.execute(BLOCKS_CHECKSUM_SQL).fetchone()[0]
