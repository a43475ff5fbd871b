"""The vectorised outcome computation against the independent per-row loop, and its bad inputs."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.errors import OvcError
from ovc_assets.pipeline.outcomes import (
    OutcomeWindow,
    calendar_for,
    compute_outcomes,
    parse_price_levels,
    parse_window,
    symbol_blocks,
)
from ovc_assets.storage.outcomes import BLOCK_COLUMNS
from ovc_assets_tests.outcomes.outcome_series import (
    FIRST_DAY,
    GAP_BLOCKS,
    SYMBOL,
    UNPRICED_BLOCKS,
    reference_outcomes,
    series,
)

START = Block(FIRST_DAY, "A").start_utc
END = datetime(2026, 1, 9, tzinfo=UTC)
FLOAT_FIELDS = ("ref_price", "mfe_up", "mfe_down", "close_pos")


def series_frame(blocks) -> tuple[pd.DataFrame, dict[str, datetime]]:
    rows = [(SYMBOL, b.block.start_utc, b.bid, b.h, b.l, b.c, b.pred_target, b.invalidation) for b in blocks]
    latest = max(b.block.start_utc for b in blocks if b.h is not None)
    return pd.DataFrame(rows, columns=list(BLOCK_COLUMNS)), {SYMBOL: latest}


def computed_rows(blocks, window: OutcomeWindow, start: datetime = START, end: datetime = END):
    frame, latest = series_frame(blocks)
    (symbol_series,) = symbol_blocks(frame, latest).values()
    batch = compute_outcomes(
        symbol_series, calendar_for(FxCalendar(), start, end, window), pd.Timestamp(start).value, pd.Timestamp(end).value, window
    )
    rows = batch.frame("run-1")
    out = {}
    for record in rows.to_dict("records"):
        out[record["bid"]] = {
            key: (None if value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value)
            for key, value in record.items()
        }
    return out, batch


@pytest.mark.parametrize("blocks_in_window", [1, 2, 6, 9])
def test_outcomes_equal_the_per_row_loop_across_dst_weekends_holidays_and_a_gap(blocks_in_window) -> None:
    blocks = series()
    window = OutcomeWindow(blocks_in_window)
    expected, expected_pending = reference_outcomes(blocks, blocks_in_window, START, END)
    actual, batch = computed_rows(blocks, window)

    assert set(actual) == set(expected)
    assert set(batch.pending_bids) == expected_pending and expected_pending
    for bid, want in expected.items():
        got = actual[bid]
        for field, value in want.items():
            if field in FLOAT_FIELDS and value is not None:
                assert got[field] == pytest.approx(value, abs=1e-12), (bid, field)
            elif field == "window_end":
                assert pd.Timestamp(got[field]) == pd.Timestamp(value), (bid, field)
            else:
                assert got[field] == value, (bid, field)
        assert got["window_type"] == f"NEXT_{2 * blocks_in_window}H"
        assert got["window_complete"] == (want["window_status"] == "COMPLETE")

    # The series really exercises what the test claims.
    statuses = {row["window_status"] for row in expected.values()}
    # A one-block window over the gap has no block at all: not written (empty), never a GAP row.
    assert statuses == ({"COMPLETE"} if blocks_in_window == 1 else {"COMPLETE", "GAP"})
    assert (GAP_BLOCKS[0].previous().block_id(SYMBOL) in batch.empty_bids) == (blocks_in_window == 1)
    assert any(row["close_pos"] is None for row in expected.values()) or blocks_in_window > 2
    assert {row["first_hit"] for row in expected.values()} >= {"TARGET", "INVALIDATION", "NONE", None}
    assert all(b.bid not in actual for b in blocks if b.block in UNPRICED_BLOCKS)


def test_a_friday_window_reaches_into_the_next_session_and_across_a_dst_change() -> None:
    blocks = series()
    actual, _ = computed_rows(blocks, OutcomeWindow(2))
    friday_last = Block(datetime(2025, 3, 6).date(), "L")  # Friday 15:00 New York, before the March switch
    row = actual[friday_last.block_id(SYMBOL)]
    sunday_b = Block(datetime(2025, 3, 9).date(), "B")  # the session opening Sunday 17:00, after the switch
    assert pd.Timestamp(row["window_end"]) == pd.Timestamp(sunday_b.end_utc)
    assert row["window_status"] == "COMPLETE"


def test_the_christmas_closure_is_skipped_not_counted() -> None:
    blocks = series()
    actual, _ = computed_rows(blocks, OutcomeWindow(1))
    before = Block(datetime(2025, 12, 23).date(), "L")  # Wednesday 15:00, last block before the Christmas closure
    after = Block(datetime(2025, 12, 25).date(), "A")  # Thursday 17:00: the session ending Dec 25 is closed
    assert pd.Timestamp(actual[before.block_id(SYMBOL)]["window_end"]) == pd.Timestamp(after.end_utc)


def test_a_gap_makes_the_windows_over_it_gap_rows_over_what_exists() -> None:
    blocks = series()
    actual, _ = computed_rows(blocks, OutcomeWindow(2))
    gap = GAP_BLOCKS[0]
    row = actual[gap.previous().block_id(SYMBOL)]
    assert (row["window_status"], row["window_complete"], row["blocks_in_window"]) == ("GAP", False, 1)


def test_data_that_never_arrives_keeps_the_window_pending_never_complete() -> None:
    blocks = series()
    actual, batch = computed_rows(blocks, OutcomeWindow(6))
    last = blocks[-1]
    assert last.bid in batch.pending_bids and last.bid not in actual


def test_hits_are_null_never_false_when_the_level_is_not_a_price() -> None:
    blocks = series()
    actual, _ = computed_rows(blocks, OutcomeWindow(2))
    not_a_price = [b for b in blocks if b.pred_target in ("na", "1.2.3", "", None) and b.bid in actual]
    assert not_a_price
    assert all(actual[b.bid]["hit_target"] is None and actual[b.bid]["first_hit"] is None for b in not_a_price)


def test_both_levels_touched_in_the_same_block_count_as_invalidation_first() -> None:
    start = Block(datetime(2026, 1, 13).date(), "A")
    rows = [
        (SYMBOL, start.start_utc, start.block_id(SYMBOL), 1.0, 1.0, 1.0, "1.01", "0.99"),
        (SYMBOL, start.next().start_utc, start.next().block_id(SYMBOL), 1.02, 0.98, 1.0, None, None),
    ]
    frame = pd.DataFrame(rows, columns=list(BLOCK_COLUMNS))
    (blocks,) = symbol_blocks(frame, {SYMBOL: start.next().start_utc}).values()
    window = OutcomeWindow(1)
    begin, end = start.start_utc, start.end_utc
    batch = compute_outcomes(blocks, calendar_for(FxCalendar(), begin, end, window), pd.Timestamp(begin).value, pd.Timestamp(end).value, window)
    assert list(batch.hit_target) == [True] and list(batch.hit_invalidation) == [True]
    assert list(batch.first_hit) == ["INVALIDATION"]


def test_price_levels_parse_only_finite_numbers() -> None:
    levels = parse_price_levels(pd.Series(["1.25", "na", "1.2.3", "", None, "inf", "NaN", " 1.3 "]))
    assert levels[0] == 1.25 and levels[-1] == 1.3
    assert np.isnan(levels[1:-1]).all()


@pytest.mark.parametrize(("text", "blocks"), [("NEXT_2H", 1), ("NEXT_4H", 2), ("next_12h", 6), ("NEXT_72H", 36)])
def test_windows_parse(text, blocks) -> None:
    assert parse_window(text).blocks == blocks


@pytest.mark.parametrize("text", ["NEXT_3H", "NEXT_0H", "NEXT_74H", "LAST_4H", "", "NEXT_4"])
def test_unknown_windows_are_refused_listing_the_valid_ones(text) -> None:
    with pytest.raises(OvcError) as raised:
        parse_window(text)
    assert raised.value.code == "E_CONFIG" and "NEXT_4H" in raised.value.message and "NEXT_12H" in raised.value.message


def test_a_level_equal_to_the_reference_counts_as_above_it() -> None:
    start = Block(datetime(2026, 1, 13).date(), "A")
    rows = [
        (SYMBOL, start.start_utc, start.block_id(SYMBOL), 1.0, 1.0, 1.0, "1.0", "0.98"),
        (SYMBOL, start.next().start_utc, start.next().block_id(SYMBOL), 0.999, 0.99, 0.995, None, None),
    ]
    (blocks,) = symbol_blocks(pd.DataFrame(rows, columns=list(BLOCK_COLUMNS)), {SYMBOL: start.next().start_utc}).values()
    window = OutcomeWindow(1)
    begin, end = start.start_utc, start.end_utc
    batch = compute_outcomes(blocks, calendar_for(FxCalendar(), begin, end, window), pd.Timestamp(begin).value, pd.Timestamp(end).value, window)
    # at or above ref: touched by the high (0.999 < 1.0), not by the low
    assert list(batch.hit_target) == [False] and list(batch.first_hit) == ["NONE"]
