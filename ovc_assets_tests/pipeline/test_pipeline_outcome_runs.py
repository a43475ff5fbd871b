"""`compute_range` on a real database, in figures: what it reads, counts and merges for two
symbols and two windows over a gap, an unpriced block and data that stops, and how it counts
a merge that fails after an earlier window was merged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import psycopg
import pytest

from ovc_assets.calendar import Block, block_at
from ovc_assets.pipeline.outcome_runs import OutcomeRange, compute_range
from ovc_assets.pipeline.outcomes import OutcomeBatch, OutcomeWindow
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.outcomes import OutcomeWrite
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.outcomes.conftest import INSERT_SERIES_BLOCK_SQL
from ovc_assets_tests.outcomes.outcome_series import series

START, END = Block(date(2025, 3, 10), "A").start_utc, Block(date(2025, 3, 12), "L").end_utc
LAST_STORED = Block(date(2025, 3, 12), "F")  # later windows are still open (pending)
UNPRICED = Block(date(2025, 3, 10), "E")
EURUSD_DAY = date(2025, 3, 10)
WINDOWS = (OutcomeWindow(1), OutcomeWindow(3))
SYMBOLS = ("GBPUSD", "EURUSD", "USDJPY")  # USDJPY has no blocks
STORED_SQL = """
SELECT symbol, bid, window_type, window_status, blocks_in_window, run_id, outcome_ver
FROM ovc.ovc_outcomes_v01 ORDER BY symbol, block_start, window_type
"""


def store(dsn: str) -> None:
    """GBPUSD from 2025-03-09 to LAST_STORED (the series' gap at 2025-03-11 C, block E of 03-10
    without prices), and EURUSD on the OVC day 2025-03-10 only."""
    gbpusd = [
        replace(b, h=None, l=None, c=None) if b.block == UNPRICED else b
        for b in series()
        if Block(date(2025, 3, 9), "A") <= b.block <= LAST_STORED
    ]
    eurusd = [b for b in gbpusd if b.block.date_ny == EURUSD_DAY and b.block != UNPRICED]
    rows = [("GBPUSD", b) for b in gbpusd] + [("EURUSD", b) for b in eurusd]
    with connect(dsn) as conn, conn.cursor() as cursor:
        cursor.executemany(
            INSERT_SERIES_BLOCK_SQL,
            [
                {
                    "symbol": symbol, "block_start": b.block.start_utc, "block_end": b.block.end_utc,
                    "bid": b.block.block_id(symbol), "date_ny": b.block.date_ny, "letter": b.block.letter,
                    "pair": b.block.pair, "o": b.o, "h": b.h, "l": b.l, "c": b.c, "play": b.play,
                    "pred_dir": b.pred_dir, "pred_target": b.pred_target, "invalidation": b.invalidation,
                }  # fmt: skip
                for symbol, b in rows
            ],
        )


def block_id_at(symbol: str, start_ns: int) -> str:
    return block_at(datetime.fromtimestamp(start_ns / 1e9, tz=UTC)).block_id(symbol)


def stored(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(STORED_SQL).fetchall()


@pytest.fixture
def blocks_url(database_url: str) -> str:
    store(database_url)
    return database_url


def test_a_range_is_read_once_computed_per_symbol_and_window_and_counted(blocks_url: str) -> None:
    counts = RunCounts()
    with connect(blocks_url) as conn:
        computed = compute_range(conn, SYMBOLS, START, END, WINDOWS, "run-1", counts, calendar=None)
        conn.commit()
        rows = stored(conn)

    # Read: GBPUSD 03-10 A .. 03-12 F less 03-11 C (29 blocks, 03-10 E unpriced), EURUSD 03-10
    # less E (11). Written: every priced block's window but the pending ones (data ends at
    # 03-12 F) and the empty ones (EURUSD 03-10 D and GBPUSD 03-10 D, 03-11 B for NEXT_2H).
    assert (computed.start, computed.end, computed.symbols, computed.windows) == (START, END, SYMBOLS, WINDOWS)
    assert computed.blocks_read == 40
    assert [(batch.symbol, batch.window.name, len(batch)) for batch in computed.batches] == [
        ("EURUSD", "NEXT_2H", 9), ("GBPUSD", "NEXT_2H", 25), ("EURUSD", "NEXT_6H", 8), ("GBPUSD", "NEXT_6H", 25)
    ]  # fmt: skip
    assert computed.write == OutcomeWrite(67, 67, 0)
    assert (counts.outcomes_attempted, counts.outcomes_inserted, counts.outcomes_skipped, counts.outcomes_failed) == (
        67, 67, 0, 0
    )  # fmt: skip
    assert counts.window_types_seen == {"NEXT_2H": 34, "NEXT_6H": 33}
    assert counts.outcome_vers_seen == {"outcome_v0.1": 67}
    assert len(rows) == 67 and {row[5:] for row in rows} == {("run-1", "outcome_v0.1")}
    assert [row[:5] for row in rows if row[0] == "EURUSD"][:2] == [
        ("EURUSD", "20250310-A-EURUSD", "NEXT_2H", "COMPLETE", 1),
        ("EURUSD", "20250310-A-EURUSD", "NEXT_6H", "COMPLETE", 3),
    ]

    assert computed.total("pending_bids") == 1 + 1 + 3 + 3
    assert computed.total("empty_bids") == 1 + 2
    assert computed.total("unpriced_bids") == 2
    assert computed.examples("unpriced_bids") == ["20250310-E-GBPUSD/NEXT_2H", "20250310-E-GBPUSD/NEXT_6H"]
    assert computed.examples("pending_bids", limit=3) == [
        "20250310-L-EURUSD/NEXT_2H", "20250312-F-GBPUSD/NEXT_2H", "20250310-J-EURUSD/NEXT_6H"
    ]  # fmt: skip
    assert len(computed.examples("pending_bids")) == 8
    assert computed.gap_count() == sum(row[3] == "GAP" for row in rows) == 9
    complete = {(row[0], row[1], row[2]) for row in rows if row[3] == "COMPLETE"}
    assert {(symbol, block_id_at(symbol, start), window) for symbol, start, window in computed.complete_keys()} == complete
    totals = computed.complete_totals()
    assert {key: count for key, (count, _) in totals.items()} == {
        ("EURUSD", "NEXT_2H"): 9, ("GBPUSD", "NEXT_2H"): 25, ("EURUSD", "NEXT_6H"): 5, ("GBPUSD", "NEXT_6H"): 19
    }  # fmt: skip
    assert totals[("EURUSD", "NEXT_2H")][1] == sum(
        int(Block(EURUSD_DAY, letter).start_utc.timestamp()) for letter in "ABCFGHIJK"
    )


def test_a_second_run_counts_every_row_skipped(blocks_url: str) -> None:
    with connect(blocks_url) as conn:
        compute_range(conn, SYMBOLS, START, END, WINDOWS, "run-1", RunCounts())
        counts = RunCounts()
        again = compute_range(conn, SYMBOLS, START, END, WINDOWS, "run-2", counts)

    assert again.write == OutcomeWrite(67, 0, 0)
    assert (counts.outcomes_attempted, counts.outcomes_inserted, counts.outcomes_skipped) == (67, 0, 67)


def test_a_failed_merge_counts_every_window_of_the_range_failed(blocks_url: str) -> None:
    with connect(blocks_url) as conn:
        compute_range(conn, SYMBOLS, START, END, WINDOWS, "run-1", RunCounts())
        # NEXT_2H merges first (9 EURUSD rows corrected, 25 unchanged), then correcting EURUSD's
        # NEXT_6H rows fails: the caller's rollback takes both, so nothing counts as written or skipped.
        conn.execute("UPDATE ovc.ovc_outcomes_v01 SET mfe_up = -1 WHERE symbol = 'EURUSD'")
        conn.execute(
            "CREATE FUNCTION ovc.fail_six_hours() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.window_type = 'NEXT_6H' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER fail_six_hours BEFORE UPDATE ON ovc.ovc_outcomes_v01 "
            "FOR EACH ROW EXECUTE FUNCTION ovc.fail_six_hours()"
        )
        conn.commit()
        counts = RunCounts(outcomes_failed=5)  # failed earlier in the run
        with pytest.raises(psycopg.errors.RaiseException, match="injected failure"):
            compute_range(conn, SYMBOLS, START, END, WINDOWS, "run-2", counts)

    assert (counts.outcomes_attempted, counts.outcomes_failed) == (67, 5 + 67)
    assert (counts.outcomes_inserted, counts.outcomes_skipped) == (0, 0)


def test_a_range_without_blocks_merges_nothing_and_counts_zero(database_url: str) -> None:
    counts = RunCounts()
    with connect(database_url) as conn:
        computed = compute_range(conn, ["GBPUSD"], START, END, WINDOWS, None, counts)

    assert (computed.blocks_read, computed.batches, computed.write) == (0, (), OutcomeWrite(0, 0, 0))
    assert counts.window_types_seen == {"NEXT_2H": 0, "NEXT_6H": 0} and counts.outcome_vers_seen == {"outcome_v0.1": 0}
    assert (computed.gap_count(), computed.total("pending_bids"), computed.complete_totals()) == (0, 0, {})


def test_examples_are_ten_unless_asked_otherwise() -> None:
    batch = OutcomeBatch("GBPUSD", OutcomeWindow(1), empty_bids=[f"b{number:02}" for number in range(12)])
    computed = OutcomeRange(START, END, ("GBPUSD",), WINDOWS, 0, (batch,), OutcomeWrite(0, 0, 0))

    assert computed.examples("empty_bids") == [f"b{number:02}/NEXT_2H" for number in range(10)]
    assert computed.total("empty_bids") == 12
