"""`compute_outcomes`, `OutcomeBatch.frame`, `symbol_blocks` and `open_blocks` on small hand-made
inputs, with every figure computed by hand: which blocks are targets, members, unpriced, pending
or empty at the edges of the range, the calendar and the data, and the frame's exact columns."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from ovc_assets.calendar import FxCalendar
from ovc_assets.pipeline.outcomes import (
    OpenBlocks,
    OutcomeBatch,
    OutcomeWindow,
    SymbolBlocks,
    compute_outcomes,
    open_blocks,
    symbol_blocks,
)
from ovc_assets.storage.outcomes import BLOCK_COLUMNS, OUTCOME_COLUMNS

STEP = 2 * 3_600_000_000_000  # one 2H block, in ns
FIRST_START = pd.Timestamp("2026-01-12T22:00Z").value
NAN = float("nan")


def calendar_of(size: int) -> OpenBlocks:
    """`size` open blocks back to back from FIRST_START: position i starts at FIRST_START + i blocks."""
    starts = FIRST_START + STEP * np.arange(size, dtype="int64")
    return OpenBlocks(starts, starts + STEP)


def start_of(position: float) -> int:
    return int(FIRST_START + STEP * position)


def series_of(
    prices: dict[float, tuple], latest: float | None, levels: dict[float, tuple[float, float]] | None = None
) -> SymbolBlocks:
    """Blocks at calendar positions (a fractional one lies between two open blocks), bid `B<position>`,
    prices (h, l, c) and (pred_target, invalidation) levels; `latest` is a position or None."""
    positions = sorted(prices)
    levels = levels or {}
    return SymbolBlocks(
        symbol="GBPUSD",
        starts=np.array([start_of(p) for p in positions], dtype="int64"),
        bids=np.array([f"B{p}" for p in positions], dtype=object),
        h=np.array([prices[p][0] for p in positions], dtype="float64"),
        l=np.array([prices[p][1] for p in positions], dtype="float64"),
        c=np.array([prices[p][2] for p in positions], dtype="float64"),
        pred_target=np.array([levels.get(p, (NAN, NAN))[0] for p in positions], dtype="float64"),
        invalidation=np.array([levels.get(p, (NAN, NAN))[1] for p in positions], dtype="float64"),
        latest_start=None if latest is None else start_of(latest),
    )


def outcomes(blocks: SymbolBlocks, size: int, first: float, end: float, window_blocks: int) -> OutcomeBatch:
    return compute_outcomes(blocks, calendar_of(size), start_of(first), start_of(end), OutcomeWindow(window_blocks))


FLAT = (1.0, 1.0, 1.0)
# Block 0 (ref 1.0) and its NEXT_6H window: block 1, block 2 missing, block 3 (the data's latest).
GAP_WINDOW = {
    0: (1.001, 0.999, 1.0),
    1: (1.002, 0.998, 1.001),
    3: (1.004, 0.999, 1.0035),
}


def gap_window_batch() -> OutcomeBatch:
    blocks = series_of(GAP_WINDOW, latest=3, levels={0: (1.003, 0.995)})
    return outcomes(blocks, size=10, first=0, end=1, window_blocks=3)


def test_a_gap_window_is_measured_over_the_blocks_that_exist() -> None:
    batch = gap_window_batch()

    assert (batch.bid.tolist(), batch.block_start.tolist(), batch.window_end.tolist()) == (["B0"], [start_of(0)], [start_of(4)])
    assert (batch.window_status.tolist(), batch.blocks_in_window.tolist()) == (["GAP"], [2])
    assert batch.ref_price.tolist() == [1.0]
    assert batch.mfe_up.tolist() == [pytest.approx(0.004)] and batch.mfe_down.tolist() == [pytest.approx(0.002)]
    # the close of the last block present (3), between the window's low 0.998 and high 1.004
    assert batch.close_pos.tolist() == [pytest.approx(0.0055 / 0.006)]
    assert (batch.outcome_dir.tolist(), batch.bars_to_mfe_up.tolist(), batch.bars_to_mfe_down.tolist()) == (["UP"], [3], [1])
    assert (batch.hit_target.tolist(), batch.hit_invalidation.tolist(), batch.first_hit.tolist()) == ([True], [False], ["TARGET"])
    assert (batch.pending_bids, batch.empty_bids, batch.unpriced_bids) == ([], [], [])


TEXT_COLUMNS = ("symbol", "window_type", "outcome_ver", "bid", "window_status", "outcome_dir", "first_hit", "run_id")
NUMBER_DTYPES = {
    "window_complete": "bool", "blocks_in_window": "int64", "ref_price": "float64", "mfe_up": "float64",
    "mfe_down": "float64", "close_pos": "float64", "bars_to_mfe_up": "int64", "bars_to_mfe_down": "int64",
    "hit_target": "boolean", "hit_invalidation": "boolean",
}  # fmt: skip
TIME_COLUMNS = ("block_start", "window_end")


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in frame.dtypes.items()}


def test_the_frame_holds_the_rows_in_the_tables_columns_and_types() -> None:
    frame = gap_window_batch().frame("run-7")

    assert list(frame.columns) == list(OUTCOME_COLUMNS)
    assert dtypes(frame) == {
        **dict.fromkeys(TEXT_COLUMNS, "str"), **dict.fromkeys(TIME_COLUMNS, "datetime64[ns, UTC]"), **NUMBER_DTYPES
    }
    (row,) = frame.to_dict("records")
    assert row == {
        "symbol": "GBPUSD", "block_start": pd.Timestamp("2026-01-12T22:00Z"), "window_type": "NEXT_6H",
        "outcome_ver": "outcome_v0.1", "bid": "B0", "window_end": pd.Timestamp("2026-01-13T06:00Z"),
        "window_status": "GAP", "window_complete": False, "blocks_in_window": 2, "ref_price": 1.0,
        "mfe_up": pytest.approx(0.004), "mfe_down": pytest.approx(0.002), "close_pos": pytest.approx(0.0055 / 0.006),
        "outcome_dir": "UP", "bars_to_mfe_up": 3, "bars_to_mfe_down": 1, "hit_target": True,
        "hit_invalidation": False, "first_hit": "TARGET", "run_id": "run-7",
    }  # fmt: skip


def test_a_batch_without_rows_is_an_empty_frame_of_the_same_types() -> None:
    batch = outcomes(series_of({0: FLAT, 1: FLAT}, latest=1), size=4, first=2, end=3, window_blocks=1)

    frame = batch.frame("run-7")

    assert len(batch) == 0 and frame.empty and list(frame.columns) == list(OUTCOME_COLUMNS)
    # no row to infer a text type from: the text columns stay object columns
    assert {name: dtype for name, dtype in dtypes(frame).items() if name not in TIME_COLUMNS} == {
        **dict.fromkeys(TEXT_COLUMNS, "object"), **NUMBER_DTYPES
    }
    assert [str(frame[name].dt.tz) for name in TIME_COLUMNS] == ["UTC", "UTC"]


def test_a_complete_window_is_written_complete_and_a_run_id_may_be_none() -> None:
    batch = outcomes(series_of({0: FLAT, 1: (1.01, 0.99, 1.0)}, latest=1), size=4, first=0, end=1, window_blocks=1)

    (row,) = batch.frame(None).to_dict("records")

    # no levels: the hits are None (not NaN or False) already in the batch
    assert (batch.hit_target.tolist(), batch.hit_invalidation.tolist(), batch.first_hit.tolist()) == ([None], [None], [None])

    assert (row["window_status"], row["window_complete"], row["run_id"], row["window_type"]) == ("COMPLETE", True, None, "NEXT_2H")
    assert (row["hit_target"], row["hit_invalidation"], row["first_hit"]) == (None, None, None)


@pytest.mark.parametrize("missing", ["h", "l", "c"])
def test_a_block_without_one_of_h_l_c_is_unpriced(missing: str) -> None:
    one_missing = tuple(NAN if name == missing else price for name, price in zip("hlc", (1.02, 0.98, 1.0)))
    blocks = series_of({0: FLAT, 1: one_missing, 2: (1.01, 0.99, 1.0)}, latest=2)

    batch = outcomes(blocks, size=6, first=0, end=2, window_blocks=2)

    # block 1 is no target and no member of block 0's window
    assert (batch.bid.tolist(), batch.window_status.tolist(), batch.blocks_in_window.tolist()) == (["B0"], ["GAP"], [1])
    assert batch.unpriced_bids == ["B1"]


def test_targets_are_the_priced_calendar_blocks_of_the_half_open_range() -> None:
    blocks = series_of(
        {
            0: (NAN, NAN, NAN),  # unpriced, before the range
            1: FLAT,  # the range's first block: its window (block 2) has no price, so it is empty
            1.5: FLAT,  # between two open blocks: not on the calendar
            2: (NAN, NAN, NAN),  # unpriced, in the range
            3: FLAT,  # its window: block 4
            4: FLAT,  # the range's end: not a target
            10: FLAT,  # past the calendar's last block
        },
        latest=10,
    )

    batch = outcomes(blocks, size=10, first=1, end=4, window_blocks=1)

    assert (batch.bid.tolist(), batch.window_status.tolist()) == (["B3"], ["COMPLETE"])
    assert (batch.empty_bids, batch.unpriced_bids, batch.pending_bids) == (["B1"], ["B2"], [])


@pytest.mark.parametrize(
    ("latest", "pending", "empty"),
    [(None, ["B2"], []), (2, ["B2"], []), (3, [], ["B2"])],
    ids=["no-latest-block", "data-ends-before-the-window", "data-reaches-the-windows-last-block"],
)
def test_an_incomplete_window_waits_until_the_data_reaches_its_last_block(latest, pending, empty) -> None:
    blocks = series_of({0: FLAT, 1: FLAT, 2: FLAT}, latest=latest)

    batch = outcomes(blocks, size=6, first=0, end=3, window_blocks=1)

    assert (batch.bid.tolist(), batch.window_status.tolist()) == (["B0", "B1"], ["COMPLETE", "COMPLETE"])
    assert (batch.pending_bids, batch.empty_bids) == (pending, empty)


def test_the_calendars_last_block_can_end_a_window() -> None:
    blocks = series_of({0: FLAT, 1: FLAT, 2: FLAT, 3: (1.01, 0.99, 1.0)}, latest=3)

    batch = outcomes(blocks, size=4, first=0, end=2, window_blocks=2)

    assert (batch.window_status.tolist(), batch.blocks_in_window.tolist()) == (["COMPLETE", "COMPLETE"], [2, 2])
    assert batch.window_end.tolist() == [start_of(3), start_of(4)]


def test_a_calendar_one_block_short_of_the_last_window_is_refused() -> None:
    blocks = series_of({0: FLAT, 1: FLAT, 2: FLAT, 3: FLAT}, latest=3)

    with pytest.raises(ValueError) as raised:
        outcomes(blocks, size=4, first=0, end=3, window_blocks=2)

    assert str(raised.value) == "the calendar does not reach past the last window"


@pytest.mark.parametrize(
    ("window_block", "direction"),
    [(FLAT, "NEUTRAL"), ((1.0, 1.0, 1.1), "UP")],
    ids=["flat", "close-outside-its-high-and-low"],  # 0/0, and x/0 on a block that breaks the OHLC rule
)
def test_a_flat_window_has_no_close_position_and_warns_nothing(window_block, direction) -> None:
    blocks = series_of({0: FLAT, 1: window_block}, latest=1)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = outcomes(blocks, size=4, first=0, end=1, window_blocks=1)

    assert batch.close_pos.dtype == np.dtype("float64") and np.isnan(batch.close_pos).tolist() == [True]
    assert (batch.outcome_dir.tolist(), batch.mfe_up.tolist(), batch.mfe_down.tolist()) == ([direction], [0.0], [0.0])


NEW_YORK = ZoneInfo("America/New_York")


def test_stored_blocks_become_sorted_arrays_per_symbol() -> None:
    rows = [
        # symbols out of order; block starts in two zones (the same kind of instant either way)
        ("USDJPY", datetime(2026, 1, 12, 17, tzinfo=NEW_YORK), "U0", 150, 149, 150, "151", None),
        ("GBPUSD", datetime(2026, 1, 12, 22, tzinfo=UTC), "G0", 1.27, 1.26, 1.265, "1.28", "na"),
        ("GBPUSD", datetime(2026, 1, 12, 19, tzinfo=NEW_YORK), "G1", None, None, None, "", "1.25"),
    ]
    frame = pd.DataFrame(rows, columns=list(BLOCK_COLUMNS))

    loaded = symbol_blocks(frame, {"GBPUSD": datetime(2026, 1, 13, 2, tzinfo=UTC)})

    assert list(loaded) == ["GBPUSD", "USDJPY"]
    gbp, jpy = loaded["GBPUSD"], loaded["USDJPY"]
    assert (gbp.symbol, gbp.starts.tolist(), gbp.starts.dtype) == ("GBPUSD", [start_of(0), start_of(1)], np.dtype("int64"))
    assert gbp.bids.tolist() == ["G0", "G1"]
    assert [gbp.h.tolist()[0], gbp.l.tolist()[0], gbp.c.tolist()[0]] == [1.27, 1.26, 1.265]
    assert np.isnan([gbp.h[1], gbp.l[1], gbp.c[1], gbp.invalidation[0], gbp.pred_target[1]]).all()
    assert (gbp.pred_target[0], gbp.invalidation[1]) == (1.28, 1.25)
    assert gbp.latest_start == start_of(2)
    assert (jpy.starts.tolist(), jpy.h.tolist(), jpy.latest_start) == ([start_of(0)], [150.0], None)


def test_whole_number_prices_are_read_as_float_prices() -> None:
    row = ("USDJPY", datetime(2026, 1, 12, 22, tzinfo=UTC), "U0", 150, 149, 150, None, None)
    frame = pd.DataFrame([row], columns=list(BLOCK_COLUMNS))

    (jpy,) = symbol_blocks(frame, {}).values()

    assert (jpy.h.tolist(), jpy.l.tolist(), jpy.c.tolist()) == ([150.0], [149.0], [150.0])
    assert [jpy.h.dtype, jpy.l.dtype, jpy.c.dtype] == [np.dtype("float64")] * 3


def test_open_blocks_span_the_open_days_from_the_first_to_the_last() -> None:
    # Thursday 2025-03-06 (open), Friday and Saturday (the weekend closure), Sunday 2025-03-09 (open, after the DST switch)
    found = open_blocks(FxCalendar(), date(2025, 3, 6), date(2025, 3, 9))

    thursday_17_est = pd.Timestamp("2025-03-06T22:00Z").value
    sunday_17_edt = pd.Timestamp("2025-03-09T21:00Z").value
    expected_starts = [thursday_17_est + STEP * n for n in range(12)] + [sunday_17_edt + STEP * n for n in range(12)]
    assert found.starts.tolist() == expected_starts
    assert found.ends.tolist() == [start + STEP for start in expected_starts]


def test_open_blocks_of_a_single_day() -> None:
    found = open_blocks(FxCalendar(), date(2026, 1, 13), date(2026, 1, 13))

    assert (len(found.starts), found.starts[0], found.ends[-1]) == (
        12, pd.Timestamp("2026-01-13T22:00Z").value, pd.Timestamp("2026-01-14T22:00Z").value
    )  # fmt: skip
