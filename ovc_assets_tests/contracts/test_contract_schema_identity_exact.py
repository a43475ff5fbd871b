"""The identity rules of `contracts.schemas` (`identity_format_holds`, `bar_time_holds`) on literal
rows: several dates, letters and symbols in one frame (the calendar is asked once per distinct
value, and each row must get its own answer back), values missing, of the wrong kind or naming
no block, each id field wrong on its own. The first row is a failing one: a rule that skipped
the first distinct date, letter or symbol would pass it."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from ovc_assets.contracts.schemas import bar_time_holds, identity_format_holds
from ovc_assets.contracts.spec import IdentitySpec

IDENTITY = IdentitySpec(
    symbol="sym",
    date_ny="date_ny",
    letter="seg",
    block_id=("bid",),
    four_hour_id=("bid4h",),
    four_hour_pair=("pair",),
    date_compact=("ymd",),
    bar_time="bar_close_ms",
)
WITHOUT_ID_FIELDS = IdentitySpec(
    symbol="sym", date_ny="date_ny", letter="seg", block_id=(), four_hour_id=(), four_hour_pair=(), date_compact=(),
    bar_time="bar_close_ms",
)  # fmt: skip
# The calendar's answers, for reference: 2026-01-13 A is 22:00-24:00 UTC, G is 10:00-12:00 UTC of the 14th.
A_13_START, A_13_END = 1768341600000, 1768348800000
G_13_START, G_13_END = 1768384800000, 1768392000000
A_14_START = 1768428000000


def row(date_ny, seg, sym, **changes) -> dict[str, object]:
    """A row whose id fields are the calendar's for 2026-01-13 A GBPUSD, unless changed."""
    ids = {"bid": "20260113-A-GBPUSD", "bid4h": "20260113-AB-GBPUSD", "pair": "AB", "ymd": "20260113"}
    return {"date_ny": date_ny, "seg": seg, "sym": sym, **ids, **changes}


def ids_of(day: str, letter: str, pair: str, sym: str) -> dict[str, str]:
    compact = day.replace("-", "")
    return {"bid": f"{compact}-{letter}-{sym}", "bid4h": f"{compact}-{pair}-{sym}", "pair": pair, "ymd": compact}


ROWS = {
    "first_row_wrong_id": row("2026-01-13", "A", "GBPUSD", bid="20260113-A-EURUSD"),
    "a_13_gbpusd": row("2026-01-13", "A", "GBPUSD"),
    "g_13_eurusd": row("2026-01-13", "G", "EURUSD", **ids_of("2026-01-13", "G", "GH", "EURUSD")),
    "a_14_gbpusd": row("2026-01-14", "A", "GBPUSD", **ids_of("2026-01-14", "A", "AB", "GBPUSD")),
    "g_14_with_the_13th_ids": row("2026-01-14", "G", "EURUSD", **ids_of("2026-01-13", "G", "GH", "EURUSD")),
    "date_object": row(date(2026, 1, 14), "G", "EURUSD", **ids_of("2026-01-14", "G", "GH", "EURUSD")),
    "id_fields_null": row("2026-01-13", "A", "GBPUSD", bid=None, bid4h=None, pair=None, ymd=None),
    "date_missing": row(None, "A", "GBPUSD", bid="nonsense"),
    "letter_missing": row("2026-01-13", None, "GBPUSD", bid="nonsense"),
    "symbol_missing": row("2026-01-13", "A", None, bid="nonsense"),
    "no_such_letter": row("2026-01-13", "M", "GBPUSD"),
    "no_such_date": row("2026-02-30", "A", "GBPUSD"),
    "date_not_iso": row("20260113", "A", "GBPUSD"),
    "date_not_text": row(20260113, "A", "GBPUSD"),
    "letter_not_text": row("2026-01-13", 1, "GBPUSD"),
    "symbol_not_allowed": row("2026-01-13", "A", "gbpusd", bid="20260113-A-gbpusd", bid4h="20260113-AB-gbpusd"),
    "symbol_not_text": row("2026-01-13", "A", 42, bid="20260113-A-42", bid4h="20260113-AB-42"),
    "four_hour_id_wrong": row("2026-01-13", "A", "GBPUSD", bid4h="20260113-GH-GBPUSD"),
    "pair_wrong": row("2026-01-13", "A", "GBPUSD", pair="GH"),
    "compact_date_wrong": row("2026-01-13", "A", "GBPUSD", ymd="20260114"),
}
IDENTITY_HOLDS = {
    "first_row_wrong_id": False,
    "a_13_gbpusd": True,
    "g_13_eurusd": True,
    "a_14_gbpusd": True,
    "g_14_with_the_13th_ids": False,
    "date_object": True,
    "id_fields_null": True,  # a NULL id field is the column checks' to judge
    "date_missing": True,
    "letter_missing": True,
    "symbol_missing": True,
    "no_such_letter": False,
    "no_such_date": False,
    "date_not_iso": False,
    "date_not_text": False,
    "letter_not_text": False,
    "symbol_not_allowed": False,
    "symbol_not_text": False,
    "four_hour_id_wrong": False,
    "pair_wrong": False,
    "compact_date_wrong": False,
}


def frame_of(rows: dict[str, dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows.values()), index=list(rows))


def test_each_row_gets_the_identity_verdict_of_its_own_date_letter_and_symbol() -> None:
    result = identity_format_holds(frame_of(ROWS), IDENTITY)

    assert result.index.tolist() == list(ROWS)
    assert result.to_dict() == IDENTITY_HOLDS


def test_an_identity_without_id_fields_still_needs_a_block_and_a_usable_symbol() -> None:
    result = identity_format_holds(frame_of(ROWS), WITHOUT_ID_FIELDS)

    failing = {name for name, holds in result.items() if not holds}
    assert failing == {
        "no_such_letter", "no_such_date", "date_not_iso", "date_not_text", "letter_not_text", "symbol_not_allowed",
        "symbol_not_text",
    }  # fmt: skip


T = pd.Timestamp
BOUND_ROWS = {
    "end_one_ms_late": ("2026-01-13", "A", T("2026-01-13 22:00Z"), T("2026-01-14 00:00:00.001Z")),
    "a_13": ("2026-01-13", "A", T("2026-01-13 22:00Z"), T("2026-01-14 00:00Z")),
    "g_13_in_new_york_time": ("2026-01-13", "G", T("2026-01-14 05:00-05:00"), T("2026-01-14 07:00-05:00")),
    "start_one_ms_early": ("2026-01-14", "A", T("2026-01-14 21:59:59.999Z"), T("2026-01-15 00:00Z")),
    "start_missing": ("2026-01-14", "A", None, T("2026-01-15 00:00Z")),
    "start_not_an_instant": ("2026-01-14", "A", "soon", T("2026-01-15 00:00Z")),
    "bounds_of_another_block": ("2026-01-14", "A", T("2026-01-13 22:00Z"), T("2026-01-14 00:00Z")),
}


def test_block_bounds_must_be_the_calendars_to_the_millisecond() -> None:
    frame = pd.DataFrame(
        [
            {"date_ny": day, "seg": letter, "sym": "GBPUSD", "start": start, "end": end}
            for day, letter, start, end in BOUND_ROWS.values()
        ],
        index=list(BOUND_ROWS),
    )
    result = identity_format_holds(frame, WITHOUT_ID_FIELDS, bounds=("start", "end"))

    assert result.to_dict() == {
        "end_one_ms_late": False,
        "a_13": True,
        "g_13_in_new_york_time": True,
        "start_one_ms_early": False,
        "start_missing": False,
        "start_not_an_instant": False,
        "bounds_of_another_block": False,
    }


@pytest.mark.parametrize(
    ("name", "bar_close_ms", "holds"),
    [
        ("first_row_wrong_id", A_13_START + 1, False),  # the first row: judged like any other
        ("a_13_gbpusd", A_13_START, True),
        ("a_13_gbpusd", A_13_END, True),
        ("a_13_gbpusd", A_13_START - 1, False),
        ("a_13_gbpusd", A_13_END + 1, False),
        ("a_13_gbpusd", G_13_START, False),  # another block's start
        ("g_13_eurusd", G_13_END, True),
        ("a_14_gbpusd", A_14_START, True),
        ("a_14_gbpusd", A_13_END, False),
        ("date_object", G_13_START + 86_400_000, True),
        ("date_missing", 0, True),
        ("symbol_missing", 0, True),
        ("no_such_letter", 0, True),  # no block to compare with: E_IDENTITY_FORMAT's to report
        ("symbol_not_allowed", 0, True),
        ("a_13_gbpusd", None, True),  # missing: the column checks' to report
        ("a_13_gbpusd", np.inf, True),
    ],
)
def test_bar_close_is_the_start_or_end_of_the_rows_own_block(name: str, bar_close_ms, holds: bool) -> None:
    frame = frame_of(ROWS).assign(bar_close_ms=1)
    frame["bar_close_ms"] = frame["bar_close_ms"].astype(object)
    frame.loc[name, "bar_close_ms"] = bar_close_ms

    result = bar_time_holds(frame, IDENTITY)

    # Every other row has bar_close_ms 1, a boundary of no block: it fails exactly when judged.
    others_judged = {"first_row_wrong_id", "a_13_gbpusd", "g_13_eurusd", "a_14_gbpusd", "g_14_with_the_13th_ids",
                     "date_object", "id_fields_null", "four_hour_id_wrong", "pair_wrong", "compact_date_wrong"}  # fmt: skip
    expected = {other: other not in others_judged for other in ROWS} | {name: holds}
    assert result.to_dict() == expected


def test_an_empty_frame_and_a_frame_without_letters_judge_nothing() -> None:
    empty = frame_of(ROWS).iloc[:0]
    without_letters = frame_of(ROWS).assign(seg=None, bar_close_ms=1)

    assert identity_format_holds(empty, IDENTITY).tolist() == []
    assert bar_time_holds(empty.assign(bar_close_ms=[]), IDENTITY).tolist() == []
    assert identity_format_holds(without_letters, IDENTITY).all()
    assert bar_time_holds(without_letters, IDENTITY).all()
