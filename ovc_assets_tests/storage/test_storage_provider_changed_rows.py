"""A provider chunk over stored blocks stages only its new rows and those whose provider tuple
changed (compared in numpy with the stored columns it reads in one binary COPY), and the table
ends as if every row had gone through the merge."""

from __future__ import annotations

import math

import pytest

from ovc_assets.storage import blocks
from ovc_assets.storage.blocks import COMPARED_PROVIDER_COLUMNS, PROVIDER_BLOCK_COLUMNS, upsert_provider_blocks
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.storage.test_storage_provider_upsert import FIRST, provider_rows, table_rows

CHANGES = {
    "provider_source": "oanda",
    **{name: 2.5 for name in ("provider_o", "provider_h", "provider_l", "provider_c", "provider_volume")},
    "provider_bar_count": 119,
    "provider_partial": True,
}
UPDATED_AT_SQL = "SELECT block_start, updated_at FROM ovc.ovc_blocks_v01 ORDER BY block_start"


def changed(row: tuple[object, ...], **values: object) -> tuple[object, ...]:
    by_column = dict(zip(PROVIDER_BLOCK_COLUMNS, row, strict=True)) | values
    return tuple(by_column[column] for column in PROVIDER_BLOCK_COLUMNS)


def staged_counts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of rows each merge of the test staged."""
    staged, merge = [], blocks._merge

    def counting_merge(*args, **kwargs) -> blocks.UpsertCounts:
        counts = merge(*args, **kwargs)
        staged.append(counts.attempted)
        return counts

    monkeypatch.setattr(blocks, "_merge", counting_merge)
    return staged


def upsert(database_url: str, rows: list[tuple[object, ...]]) -> blocks.UpsertCounts:
    with connect(database_url) as conn, conn.transaction():
        return upsert_provider_blocks(conn, rows)


def updated_at(database_url: str) -> list[tuple[object, ...]]:
    with connect(database_url) as conn:
        return conn.execute(UPDATED_AT_SQL).fetchall()


def test_the_changes_cover_every_compared_column() -> None:
    assert set(CHANGES) == {"provider_source", *COMPARED_PROVIDER_COLUMNS}


def test_a_rerun_of_equal_rows_stages_nothing(database_url, monkeypatch) -> None:
    rows = provider_rows(FIRST, 12, 1.25, "run-1")
    upsert(database_url, rows)
    before = updated_at(database_url)
    staged = staged_counts(monkeypatch)

    counts = upsert(database_url, [changed(row, run_id="run-2") for row in rows])

    assert counts == blocks.UpsertCounts(attempted=12, inserted=0, updated=0)
    assert staged == []
    assert updated_at(database_url) == before
    assert {row["run_id"] for row in table_rows(database_url)} == {"run-1"}


@pytest.mark.parametrize("column", sorted(CHANGES))
def test_a_change_in_any_provider_column_is_written(database_url, monkeypatch, column) -> None:
    rows = provider_rows(FIRST, 5, 1.25, "run-1")
    upsert(database_url, rows)
    staged = staged_counts(monkeypatch)
    rerun = [changed(row, run_id="run-2") for row in rows]
    rerun[3] = changed(rerun[3], **{column: CHANGES[column]})

    counts = upsert(database_url, rerun)

    assert counts == blocks.UpsertCounts(attempted=5, inserted=0, updated=1)
    assert staged == [1]
    stored = table_rows(database_url)
    assert [row["run_id"] for row in stored] == ["run-1", "run-1", "run-1", "run-2", "run-1"]
    assert stored[3][column] == CHANGES[column]


def test_unknown_volumes_nan_or_null_are_equal_and_a_known_one_differs(database_url, monkeypatch) -> None:
    rows = [changed(row, provider_volume=math.nan) for row in provider_rows(FIRST, 4, 1.25, "run-1")]
    upsert(database_url, rows)
    staged = staged_counts(monkeypatch)

    unchanged = upsert(database_url, [changed(row, provider_volume=None) for row in rows])
    known = upsert(database_url, [rows[0], changed(rows[1], provider_volume=7.0), rows[2], rows[3]])
    unknown_again = upsert(database_url, [changed(row, provider_volume=None) for row in rows])

    assert unchanged == blocks.UpsertCounts(attempted=4, inserted=0, updated=0)
    assert known == unknown_again == blocks.UpsertCounts(attempted=4, inserted=0, updated=1)
    assert staged == [1, 1]
    assert [row["provider_volume"] for row in table_rows(database_url)] == [None] * 4


def test_a_partly_changed_chunk_stages_its_new_and_changed_rows_only(database_url, monkeypatch) -> None:
    rows = provider_rows(FIRST, 10, 1.25, "run-1")
    upsert(database_url, rows)
    staged = staged_counts(monkeypatch)
    rerun = provider_rows(FIRST, 12, 1.25, "run-2")  # the stored ten, and two new keys after them
    for index in (0, 4, 9):
        rerun[index] = changed(rerun[index], provider_c=9.0)

    counts = upsert(database_url, rerun)

    assert counts == blocks.UpsertCounts(attempted=12, inserted=2, updated=3)
    assert staged == [5]
    assert [row["run_id"] for row in table_rows(database_url)] == ["run-2" if i in (0, 4, 9, 10, 11) else "run-1" for i in range(12)]


def test_the_table_ends_as_if_every_row_went_through_the_merge(create_test_database, monkeypatch) -> None:
    compared, merged = create_test_database(), create_test_database()
    stored = provider_rows(FIRST, 10, 1.25, "run-1")
    stored[2] = changed(stored[2], provider_volume=None)
    rerun = provider_rows(FIRST, 12, 1.25, "run-2")
    rerun[2] = changed(rerun[2], provider_volume=None)
    rerun[5] = changed(rerun[5], provider_source="oanda")
    rerun[7] = changed(rerun[7], provider_partial=True, provider_volume=None)
    for database in (compared, merged):
        upsert(database, stored)

    compared_counts = upsert(compared, rerun)
    monkeypatch.setattr(blocks, "_new_or_changed", lambda columns, of_row, stored: of_row > 0)
    merged_counts = upsert(merged, rerun)

    assert compared_counts == merged_counts == blocks.UpsertCounts(attempted=12, inserted=2, updated=2)
    assert table_rows(compared) == table_rows(merged)
