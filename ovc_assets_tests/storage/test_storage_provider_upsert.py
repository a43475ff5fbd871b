"""The provider merge's fast path for chunks of new keys (a COPY into the spine), and its fallback to the merge."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from ovc_assets.calendar import Block
from ovc_assets.storage import blocks
from ovc_assets.storage.blocks import upsert_provider_blocks
from ovc_assets.storage.postgres import connect

TABLE_WITHOUT_TIMES_SQL = """
SELECT to_jsonb(b) - 'ingested_at' - 'updated_at' FROM ovc.ovc_blocks_v01 AS b
ORDER BY symbol, block_start, block_type, schema_ver
"""


def provider_rows(first: Block, count: int, price: float, run_id: str) -> list[tuple[object, ...]]:
    rows, block = [], first
    for number in range(count):
        o = price + number * 1e-4
        rows.append((
            "GBPUSD", block.start_utc, "2H", "v01", block.end_utc, block.block_id("GBPUSD"), block.date_ny,
            block.letter, block.pair, "csv", o, o + 2e-4, o - 1e-4, o + 1e-4, 10.0, 120, False, run_id,
        ))  # fmt: skip
        block = block.next()
    return rows


def table_rows(database_url: str) -> list[object]:
    with connect(database_url) as conn:
        return [row for (row,) in conn.execute(TABLE_WITHOUT_TIMES_SQL).fetchall()]


def staged_keys_never_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if another writer landed a staged key between the read of the stored rows and the insert."""
    monkeypatch.setattr(blocks, "_stored_provider_columns", lambda conn, ranges: [np.empty(0)] * len(blocks.STORED_PROVIDER_TYPES))


FIRST = Block(date(2026, 1, 12), "A")


def test_a_first_load_of_new_keys_stores_what_the_merge_stores(create_test_database, monkeypatch) -> None:
    fast, merged = create_test_database(), create_test_database()
    rows = provider_rows(FIRST, 30, 1.25, "run-1")
    with connect(fast) as conn, conn.transaction():
        fast_counts = upsert_provider_blocks(conn, rows)
    monkeypatch.setattr(blocks, "_copy_into_spine", lambda conn, columns: None)
    with connect(merged) as conn, conn.transaction():
        merged_counts = upsert_provider_blocks(conn, rows)

    assert fast_counts == merged_counts == blocks.UpsertCounts(attempted=30, inserted=30, updated=0)
    assert table_rows(fast) == table_rows(merged)
    assert len(table_rows(fast)) == 30


def test_a_key_landed_meanwhile_sends_the_chunk_through_the_merge(database_url, monkeypatch) -> None:
    with connect(database_url) as conn, conn.transaction():
        upsert_provider_blocks(conn, provider_rows(FIRST, 1, 1.10, "run-1"))
    staged_keys_never_exist(monkeypatch)

    with connect(database_url) as conn, conn.transaction():
        counts = upsert_provider_blocks(conn, provider_rows(FIRST, 5, 1.25, "run-2"))

    assert counts == blocks.UpsertCounts(attempted=5, inserted=4, updated=1)
    stored = table_rows(database_url)
    assert [(row["bid"], row["provider_o"], row["o"], row["run_id"]) for row in stored] == [
        (row[5], row[10], row[10], "run-2") for row in provider_rows(FIRST, 5, 1.25, "run-2")
    ]


def test_a_chunk_repeating_a_key_is_refused_as_the_merge_refuses_it(database_url) -> None:
    rows = provider_rows(FIRST, 3, 1.25, "run-1")
    with connect(database_url) as conn, pytest.raises(Exception, match="cannot affect row a second time"):
        with conn.transaction():
            upsert_provider_blocks(conn, rows + rows[:1])
    assert table_rows(database_url) == []


def test_a_rerun_of_unchanged_candles_writes_nothing_not_even_row_locks(database_url) -> None:
    rows = provider_rows(FIRST, 20, 1.25, "run-1")
    with connect(database_url) as conn, conn.transaction():
        upsert_provider_blocks(conn, rows)
    with connect(database_url) as conn, conn.transaction():
        counts = upsert_provider_blocks(conn, rows[:10] + provider_rows(FIRST.next(), 1, 1.30, "run-2"))
    with connect(database_url) as conn:
        # ON CONFLICT .. DO UPDATE locks a stored row before its WHERE skips it: the lock is a write (xmax).
        touched = conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01 WHERE xmax <> 0").fetchone()[0]

    assert counts == blocks.UpsertCounts(attempted=11, inserted=0, updated=1)
    assert touched == 1, "only the changed candle's row is written"


def test_a_runs_rows_are_found_through_the_run_id_index_which_bulk_loads_barely_pay_for(database_url: str) -> None:
    """Rollback and lineage look a run's rows up by run_id; the index is a BRIN bloom index (a
    few bytes per range of pages, sql/012), not a B-tree entry per row that every COPY descends."""
    with connect(database_url) as conn:
        for number in range(3):
            upsert_provider_blocks(conn, provider_rows(Block(date(2026, 1, 5 + 7 * number), "A"), 40, 1.25, f"run-{number}"))
        conn.commit()
        conn.execute("SET enable_seqscan = off")  # a table this small would be read whole otherwise
        plan = "\n".join(row for (row,) in conn.execute("EXPLAIN SELECT symbol FROM ovc.ovc_blocks_v01 WHERE run_id = 'run-1'"))
        found = conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01 WHERE run_id = 'run-1'").fetchone()
        (method,) = conn.execute(
            "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'ovc_blocks_v01_run_id_idx'"
        ).fetchone()
    assert "ovc_blocks_v01_run_id_idx" in plan, plan
    assert found == (40,)
    assert method == "brin"
