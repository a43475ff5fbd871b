"""The outcome computation's smaller parts in literal values: how far data is read past a range,
the rows as the merge's staging codes, and window names."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.errors import OvcError
from ovc_assets.pipeline.outcomes import (
    WINDOW_HELP,
    OutcomeBatch,
    OutcomeWindow,
    calendar_for,
    compute_outcomes,
    parse_window,
    symbol_blocks,
    window_reach,
)
from ovc_assets.storage.outcomes import BLOCK_COLUMNS, FALSE_CODE, NULL_CODE, TRUE_CODE

FRIDAY_LAST = Block(date(2025, 3, 6), "L")  # Friday 15:00 New York, 2025-03-07 20:00Z


@pytest.mark.parametrize(
    ("blocks", "reach"),
    [
        (1, datetime(2025, 3, 7, 22, tzinfo=UTC)),  # the block itself
        (2, datetime(2025, 3, 9, 23, tzinfo=UTC)),  # over the weekend: Sunday 17:00 EDT's block
        (3, datetime(2025, 3, 10, 1, tzinfo=UTC)),
        (36, datetime(2025, 3, 12, 19, tzinfo=UTC)),  # three sessions on: 2025-03-11's block K
    ],
)
def test_data_is_read_to_the_end_of_the_nth_open_block_from_the_range_end(blocks: int, reach: datetime) -> None:
    assert window_reach(FxCalendar(), FRIDAY_LAST.start_utc, blocks) == reach


def test_the_reach_steps_over_the_christmas_closure() -> None:
    before = Block(date(2025, 12, 23), "L")  # the last block before the closure

    assert window_reach(FxCalendar(), before.start_utc, 2) == datetime(2025, 12, 26, 0, tzinfo=UTC)


def two_block_batch(target: str | None, invalidation: str | None, second: tuple[float, float, float]) -> OutcomeBatch:
    """The NEXT_2H outcome of block 2026-01-13 A (h = l = c = 1.0) over block B (h, l, c = `second`)."""
    start = Block(date(2026, 1, 13), "A")
    rows = [
        ("GBPUSD", start.start_utc, start.block_id("GBPUSD"), 1.0, 1.0, 1.0, target, invalidation),
        ("GBPUSD", start.next().start_utc, start.next().block_id("GBPUSD"), *second, None, None),
    ]
    (blocks,) = symbol_blocks(pd.DataFrame(rows, columns=list(BLOCK_COLUMNS)), {"GBPUSD": start.next().start_utc}).values()
    window = OutcomeWindow(1)
    begin, end = start.start_utc, start.end_utc
    return compute_outcomes(
        blocks, calendar_for(FxCalendar(), begin, end, window), pd.Timestamp(begin).value, pd.Timestamp(end).value, window
    )


@pytest.mark.parametrize(
    ("target", "invalidation", "second", "codes"),
    [
        # the target touched, the invalidation not: UP, TARGET
        ("1.01", "0.98", (1.02, 0.99, 1.01), {"outcome_dir": 1, "hit_target": TRUE_CODE, "hit_invalidation": FALSE_CODE, "first_hit": 1}),
        # the invalidation touched: DOWN, INVALIDATION
        ("1.05", "0.99", (1.0, 0.98, 0.985), {"outcome_dir": 2, "hit_target": FALSE_CODE, "hit_invalidation": TRUE_CODE, "first_hit": 2}),
        # neither: NEUTRAL close, NONE
        ("1.05", "0.9", (1.01, 0.99, 1.0), {"outcome_dir": 3, "hit_target": FALSE_CODE, "hit_invalidation": FALSE_CODE, "first_hit": 3}),
        # levels that are no prices: NULL hits and first hit
        ("na", None, (1.01, 0.99, 1.0), {"outcome_dir": 3, "hit_target": NULL_CODE, "hit_invalidation": NULL_CODE, "first_hit": NULL_CODE}),
    ],
    ids=["target", "invalidation", "neither", "unknown-levels"],
)
def test_rows_are_staged_as_the_merges_codes(target, invalidation, second, codes) -> None:
    batch = two_block_batch(target, invalidation, second)

    staged = batch.staged(3)

    assert list(staged) == [
        "symbol_index", "block_start", "window_end", "window_status", "blocks_in_window", "ref_price", "mfe_up",
        "mfe_down", "close_pos", "outcome_dir", "bars_to_mfe_up", "bars_to_mfe_down", "hit_target",
        "hit_invalidation", "first_hit",
    ]  # fmt: skip
    assert {name: staged[name].tolist() for name in codes} == {name: [code] for name, code in codes.items()}
    assert {name: staged[name].dtype for name in ("window_status", "outcome_dir", "hit_target", "first_hit")} == {
        name: np.dtype("int16") for name in ("window_status", "outcome_dir", "hit_target", "first_hit")
    }
    assert staged["symbol_index"].tolist() == [3]
    assert staged["window_status"].tolist() == [1]  # COMPLETE
    start = Block(date(2026, 1, 13), "A")
    assert (staged["block_start"].tolist(), staged["window_end"].tolist()) == (
        [pd.Timestamp(start.start_utc).value], [pd.Timestamp(start.next().end_utc).value]
    )  # fmt: skip
    assert (staged["blocks_in_window"].tolist(), staged["ref_price"].tolist()) == ([1], [1.0])
    assert (staged["mfe_up"].tolist(), staged["mfe_down"].tolist()) == (
        [pytest.approx(second[0] - 1.0)], [pytest.approx(1.0 - second[1])]
    )  # fmt: skip
    assert staged["close_pos"].tolist() == [pytest.approx((second[2] - second[1]) / (second[0] - second[1]))]
    assert (staged["bars_to_mfe_up"].tolist(), staged["bars_to_mfe_down"].tolist()) == ([1], [1])


def test_a_gap_row_is_staged_with_the_gap_code() -> None:
    batch = OutcomeBatch("GBPUSD", OutcomeWindow(2), window_status=np.array(["GAP", "COMPLETE", None], dtype=object))
    batch.hit_target = np.array([True, False, None], dtype=object)
    batch.block_start = np.array([1, 2, 3])

    staged = batch.staged(1)

    assert staged["window_status"].tolist() == [2, 1, NULL_CODE]
    assert staged["hit_target"].tolist() == [TRUE_CODE, FALSE_CODE, NULL_CODE]
    assert staged["symbol_index"].tolist() == [1, 1, 1]


@pytest.mark.parametrize(("text", "name"), [("NEXT_2H", "NEXT_2H"), (" next_12h ", "NEXT_12H"), ("NEXT_72H", "NEXT_72H")])
def test_a_parsed_window_keeps_its_name(text: str, name: str) -> None:
    window = parse_window(text)

    assert (window.name, type(window.blocks)) == (name, int)


def test_a_window_that_is_not_text_is_refused_with_the_valid_names() -> None:
    with pytest.raises(OvcError) as raised:
        parse_window(12)  # type: ignore[arg-type]

    assert raised.value.code == "E_CONFIG"
    assert raised.value.message == f"unknown outcome window 12; valid: {WINDOW_HELP}"
    assert WINDOW_HELP == "NEXT_2H, NEXT_4H, NEXT_12H, or NEXT_<2N>H for N = 1..36 blocks (NEXT_N)"
