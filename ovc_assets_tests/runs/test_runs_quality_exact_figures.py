"""Data-quality figures at their exact edges: which rows are in the range and in the
baseline, the symbols asked for, rounding, unknown shares, and the refusals' messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ovc_assets.calendar import Block
from ovc_assets.runs.quality import NULL_RATE_ALLOWED_COLUMNS, Ready0SpikeRule, data_quality
from ovc_assets_tests.runs.test_runs_quality import FAR_FUTURE, TUESDAY, day, put

NAIVE = datetime(2026, 1, 13, 22)
AWARE = datetime(2026, 1, 13, 22, tzinfo=UTC)


@pytest.mark.parametrize(("start", "end"), [(NAIVE, AWARE), (AWARE, NAIVE)])
def test_a_naive_bound_is_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError) as raised:
        data_quality(None, ["GBPUSD"], start, end)
    assert str(raised.value) == "range_start and range_end must be timezone-aware"


def test_an_unknown_null_rate_column_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ValueError) as raised:
        data_quality(None, ["GBPUSD"], AWARE, AWARE, null_rate_columns=["play", "bogus"])
    allowed = sorted(NULL_RATE_ALLOWED_COLUMNS)
    assert str(raised.value) == f"no null rate for column(s) ['bogus']; allowed: {allowed}"
    assert allowed[:3] == ["bar_close_ms", "bias_dir", "body"]


def test_the_range_is_half_open_and_the_baseline_is_the_seven_days_before(conn) -> None:
    start, end = day(TUESDAY)
    before_start = Block(TUESDAY, "A").previous()
    seven_days_before = Block(TUESDAY - timedelta(days=7), "A")
    put(conn, Block(TUESDAY, "A"), ready=False)  # first block of the range
    put(conn, Block(TUESDAY, "L"))  # last block of the range
    put(conn, Block(TUESDAY + timedelta(days=1), "A"), ready=False)  # starts at `end`: outside
    put(conn, before_start, ready=False)  # last block of the baseline
    put(conn, seven_days_before, ready=True)  # first block of the baseline
    put(conn, seven_days_before.previous(), ready=False)  # before the baseline

    quality = data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE)
    assert (quality.rows_in_range, quality.ready0_count) == (2, 1)
    assert (quality.ready0_share, quality.ready0_baseline_share) == (0.5, 0.5)


def test_shares_are_unknown_without_rows_that_know_ready(conn) -> None:
    put(conn, Block(TUESDAY, "A"), ready=None)
    start, end = day(TUESDAY)
    quality = data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE)
    assert (quality.ready0_share, quality.ready0_baseline_share, quality.ready0_spike) == (None, None, False)


def test_null_rates_are_rounded_to_six_places(conn) -> None:
    for letter, play in zip("ABC", ["LONG", None, "SHORT"], strict=True):
        put(conn, Block(TUESDAY, letter), play=play)
    start, end = day(TUESDAY)
    quality = data_quality(conn, ["GBPUSD"], start, end, null_rate_columns=["play"], now=FAR_FUTURE)
    assert quality.null_rate_summary == {"play": 0.333333}


def test_symbols_asked_for_are_sorted_without_duplicates_and_only_theirs_are_counted(conn) -> None:
    put(conn, Block(TUESDAY, "A"), symbol="GBPUSD")
    put(conn, Block(TUESDAY, "A"), symbol="EURUSD", ready=False)
    put(conn, Block(TUESDAY, "A"), symbol="USDCHF", ready=False)  # not asked for
    start, end = day(TUESDAY)
    # Five symbols: a set's iteration order (which depends on the hash seed) is sorted once in 120.
    asked = ["GBPUSD", "USDJPY", "EURUSD", "NZDUSD", "AUDUSD", "GBPUSD"]
    quality = data_quality(conn, asked, start, end, now=FAR_FUTURE)
    assert quality.symbols == ("AUDUSD", "EURUSD", "GBPUSD", "NZDUSD", "USDJPY")
    assert (quality.rows_in_range, quality.ready0_count) == (2, 1)
    assert (quality.expected_blocks, quality.blocks_missing) == (60, 58)


def test_no_symbol_at_all_counts_every_row_and_leaves_missing_blocks_unknown(conn) -> None:
    put(conn, Block(TUESDAY, "A"), symbol="GBPUSD")
    put(conn, Block(TUESDAY, "B"), symbol="EURUSD")
    start, end = day(TUESDAY)
    quality = data_quality(conn, [], start, end, now=FAR_FUTURE)
    assert (quality.symbols, quality.rows_in_range) == ((), 2)
    assert (quality.expected_blocks, quality.blocks_missing, quality.missing_examples) == (None, None, ())


def test_missing_examples_are_the_first_ten_in_time_then_symbol_order(conn) -> None:
    start, end = day(TUESDAY)
    quality = data_quality(conn, ["GBPUSD", "EURUSD"], start, end, now=FAR_FUTURE)
    assert quality.missing_examples == tuple(
        f"20260113-{letter}-{symbol}" for letter in "ABCDE" for symbol in ("EURUSD", "GBPUSD")
    )


def test_a_symbol_the_block_id_cannot_spell_is_named_with_its_block_start(conn) -> None:
    start, _ = day(TUESDAY)
    end = Block(TUESDAY, "B").start_utc
    quality = data_quality(conn, ["gbp usd"], start, end, now=FAR_FUTURE)
    assert quality.missing_examples == ("gbp usd@2026-01-13T22:00:00+00:00",)


def test_a_range_with_no_open_block_that_has_ended_expects_nothing(conn) -> None:
    start, end = day(TUESDAY)
    quality = data_quality(conn, ["GBPUSD"], start, end, now=start + timedelta(minutes=1))
    assert (quality.expected_blocks, quality.blocks_missing, quality.missing_examples) == (0, 0, ())


# Price sets (o, h, l, c) that each break exactly one OHLC rule, and one that breaks none.
ONE_RULE_BROKEN = [
    (1.3, 1.2, 0.9, 1.1),  # h < o, h >= c
    (1.0, 1.05, 0.9, 1.1),  # h < c, h >= o
    (1.0, 1.2, 1.05, 1.1),  # l > o, l <= c
    (1.1, 1.2, 1.05, 1.0),  # l > c, l <= o
]
VALID = (1.0, 1.2, 1.0, 1.2)  # h = max(o, c) and l = min(o, c) are allowed


def test_each_ohlc_rule_alone_counts_for_live_and_provider_prices(conn) -> None:
    letters = iter("ABCDEFGHIJKL")
    for o, h, low, c in [*ONE_RULE_BROKEN, VALID]:
        put(conn, Block(TUESDAY, next(letters)), o=o, h=h, l=low, c=c)
        put(conn, Block(TUESDAY, next(letters)), o=None, h=None, l=None, c=None, po=o, ph=h, pl=low, pc=c)
    start, end = day(TUESDAY)
    assert data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE).sanity_error_count == 8


def test_a_rule_that_allows_a_single_row_judges_it_and_never_divides_by_zero() -> None:
    rule = Ready0SpikeRule(min_count=1)
    assert rule.is_spike(ready0=1, ready_known=1, baseline_ready0=0, baseline_known=10)
    assert not Ready0SpikeRule(min_count=0).is_spike(ready0=0, ready_known=0, baseline_ready0=0, baseline_known=10)
