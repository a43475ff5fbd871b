"""The block clock: letters, ids, UTC boundaries, and the properties every block must keep."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.calendar import (
    BLOCK_LETTERS,
    FOUR_HOUR_PAIRS,
    NEW_YORK,
    Block,
    FxCalendar,
    block_at,
    block_for,
    block_from_ms,
    block_starts_utc,
    date_ny_of,
    parse_block_id,
)

TWO_HOURS = timedelta(hours=2)


def new_york(year, month, day, hour=0, minute=0, second=0, microsecond=0):
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=NEW_YORK)


def utc(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- the real alert ---------------------------------------------------------------------


def test_real_alert_bar_open_ms_is_block_f_of_the_previous_ny_date():
    block = block_from_ms(1768377600000)

    assert block == Block(date(2026, 1, 13), "F")
    assert block.date_ny == date(2026, 1, 13)
    assert block.block_id("GBPUSD") == "20260113-F-GBPUSD"
    assert block.four_hour_id("GBPUSD") == "20260113-EF-GBPUSD"
    assert block.start_ms == 1768377600000
    assert block.start_utc == utc(2026, 1, 14, 8)
    assert block.start_utc.astimezone(NEW_YORK) == new_york(2026, 1, 14, 3)
    assert block.end_ms == 1768377600000 + 2 * 3_600_000


def test_real_alert_round_trips_through_its_block_id():
    block, symbol = parse_block_id("20260113-F-GBPUSD")

    assert (block, symbol) == (Block(date(2026, 1, 13), "F"), "GBPUSD")
    assert block.start_ms == 1768377600000


# --- letters, pairs, wall clock ---------------------------------------------------------


def test_letters_and_pairs_are_the_documented_ones():
    assert BLOCK_LETTERS == "ABCDEFGHIJKL"
    assert FOUR_HOUR_PAIRS == ("AB", "CD", "EF", "GH", "IJ", "KL")
    assert NEW_YORK == ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("letter", "index", "pair", "local_start_hour"),
    [
        ("A", 0, "AB", 17),
        ("B", 1, "AB", 19),
        ("C", 2, "CD", 21),
        ("D", 3, "CD", 23),
        ("E", 4, "EF", 1),
        ("F", 5, "EF", 3),
        ("G", 6, "GH", 5),
        ("H", 7, "GH", 7),
        ("I", 8, "IJ", 9),
        ("J", 9, "IJ", 11),
        ("K", 10, "KL", 13),
        ("L", 11, "KL", 15),
    ],
)
def test_each_letter_starts_at_its_new_york_wall_clock_hour(letter, index, pair, local_start_hour):
    for date_ny in (date(2026, 1, 13), date(2026, 7, 14)):
        block = block_for(date_ny, letter)
        local_start = block.start_utc.astimezone(NEW_YORK)
        expected_local_date = date_ny if local_start_hour >= 17 else date_ny + timedelta(days=1)

        assert block.index == index
        assert block.pair == pair
        assert local_start.hour == local_start_hour
        assert local_start.minute == 0
        assert local_start.date() == expected_local_date
        assert block.end_utc - block.start_utc == TWO_HOURS


def test_utc_start_hours_are_even_in_winter_and_odd_in_summer():
    winter_starts = block_starts_utc(date(2026, 1, 13))
    summer_starts = block_starts_utc(date(2026, 7, 14))

    assert [start.hour for start in winter_starts] == [22, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert [start.hour for start in summer_starts] == [21, 23, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    assert winter_starts == tuple(
        block_for(date(2026, 1, 13), letter).start_utc for letter in BLOCK_LETTERS
    )


def test_block_at_accepts_any_time_zone_for_the_same_instant():
    instant = utc(2026, 1, 14, 9, 30)
    expected = Block(date(2026, 1, 13), "F")

    assert block_at(instant) == expected
    assert block_at(instant.astimezone(NEW_YORK)) == expected
    assert block_at(instant.astimezone(ZoneInfo("Asia/Kolkata"))) == expected
    assert date_ny_of(instant) == date(2026, 1, 13)


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        block_at(datetime(2026, 1, 14, 8))
    with pytest.raises(ValueError, match="timezone-aware"):
        date_ny_of(datetime(2026, 1, 14, 8))


def test_a_nonexistent_new_york_wall_time_is_read_as_the_instant_it_denotes():
    # 02:30 does not exist on 2026-03-08; with fold=0 it means 02:30 EST = 07:30Z = 03:30 EDT.
    imaginary = new_york(2026, 3, 8, 2, 30)

    assert block_at(imaginary) == Block(date(2026, 3, 7), "F")
    assert block_at(imaginary) == block_at(utc(2026, 3, 8, 7, 30))


def test_block_from_ms_floors_milliseconds_including_before_1970():
    block = Block(date(2026, 1, 13), "F")

    assert block_from_ms(block.start_ms) == block
    assert block_from_ms(block.start_ms - 1) == block.previous()
    assert block_from_ms(block.end_ms - 1) == block
    assert block_from_ms(block.end_ms) == block.next()
    # -1 ms is 1969-12-31 18:59:59.999 in New York: block A of that OVC day.
    assert block_from_ms(-1) == Block(date(1969, 12, 31), "A")


# --- Block as a value -------------------------------------------------------------------


@pytest.mark.parametrize("bad_letter", ["M", "a", "f", "", "AB", "EF", " A"])
def test_block_for_refuses_letters_outside_a_to_l(bad_letter):
    with pytest.raises(ValueError, match="letter"):
        block_for(date(2026, 1, 13), bad_letter)


def test_block_refuses_a_datetime_as_its_date():
    with pytest.raises(TypeError, match="date_ny"):
        Block(datetime(2026, 1, 13, 17), "A")


def test_blocks_are_frozen_hashable_and_ordered_in_time():
    a = Block(date(2026, 1, 13), "A")
    l_previous_day = Block(date(2026, 1, 12), "L")
    f = Block(date(2026, 1, 13), "F")

    assert sorted([f, a, l_previous_day]) == [l_previous_day, a, f]
    assert len({a, Block(date(2026, 1, 13), "A"), f}) == 2
    with pytest.raises(AttributeError):
        a.letter = "B"


def test_next_and_previous_cross_ovc_days():
    last_of_day = Block(date(2026, 1, 13), "L")
    first_of_next_day = Block(date(2026, 1, 14), "A")

    assert last_of_day.next() == first_of_next_day
    assert first_of_next_day.previous() == last_of_day
    assert Block(date(2026, 1, 13), "D").next() == Block(date(2026, 1, 13), "E")
    assert last_of_day.end_utc == first_of_next_day.start_utc == utc(2026, 1, 14, 22)


@pytest.mark.parametrize("bad_symbol", ["gbpusd", "", "GBP/USD", "../X", "A" * 33, "GBPUSD\n"])
def test_ids_refuse_symbols_that_parse_block_id_would_reject(bad_symbol):
    block = Block(date(2026, 1, 13), "F")

    with pytest.raises(ValueError, match="symbol"):
        block.block_id(bad_symbol)
    with pytest.raises(ValueError, match="symbol"):
        block.four_hour_id(bad_symbol)


def test_ids_pad_early_years_to_eight_digits():
    block = Block(date(999, 3, 4), "B")

    assert block.block_id("X") == "09990304-B-X"
    assert parse_block_id("09990304-B-X") == (block, "X")


# --- parse_block_id ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_id", "expected_block", "expected_symbol"),
    [
        ("20260113-F-GBPUSD", Block(date(2026, 1, 13), "F"), "GBPUSD"),
        ("20240229-L-EURUSD", Block(date(2024, 2, 29), "L"), "EURUSD"),
        ("20251231-A-XAU_USD", Block(date(2025, 12, 31), "A"), "XAU_USD"),
        ("20000101-K-BRK.B", Block(date(2000, 1, 1), "K"), "BRK.B"),
        ("20260113-A-" + "9" * 32, Block(date(2026, 1, 13), "A"), "9" * 32),
    ],
)
def test_parse_block_id_round_trips(block_id, expected_block, expected_symbol):
    block, symbol = parse_block_id(block_id)

    assert (block, symbol) == (expected_block, expected_symbol)
    assert block.block_id(symbol) == block_id


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "../../x",
        "20260113-F-../../x",
        "20260113-f-GBPUSD",
        "20260113-F-gbpusd",
        "20260113-M-GBPUSD",
        "20261301-A-GBPUSD",
        "20260230-A-GBPUSD",
        "20230229-A-GBPUSD",
        "00000101-A-GBPUSD",
        "2026113-F-GBPUSD",
        "202601130-F-GBPUSD",
        "20260113-EF-GBPUSD",
        "20260113-F-",
        "20260113-F-" + "A" * 33,
        "20260113-F-GBP/USD",
        "20260113-F-GBPUSD\n",
        " 20260113-F-GBPUSD",
        "20260113_F_GBPUSD",
        "\uff12\uff10\uff12\uff16\uff10\uff11\uff11\uff13-F-GBPUSD",  # full-width digits
        None,
        20260113,
    ],
)
def test_parse_block_id_rejects_malformed_ids(bad_id):
    with pytest.raises(ValueError):
        parse_block_id(bad_id)


# --- leap days and year ends ------------------------------------------------------------


def test_blocks_on_and_across_the_2024_leap_day():
    eve = Block(date(2024, 2, 28), "L")  # ends at Feb 29 17:00 New York
    leap_day = Block(date(2024, 2, 29), "A")
    across_midnight = Block(date(2024, 2, 29), "E")  # 2024-03-01 01:00 New York

    assert eve.end_utc == leap_day.start_utc == utc(2024, 2, 29, 22)
    assert block_at(new_york(2024, 2, 29, 16, 59, 59)) == eve
    assert block_at(new_york(2024, 2, 29, 23, 30)) == Block(date(2024, 2, 29), "D")
    assert across_midnight.start_utc == utc(2024, 3, 1, 6)
    assert block_at(new_york(2024, 3, 1, 16, 0)) == Block(date(2024, 2, 29), "L")
    assert Block(date(2024, 3, 1), "A").previous() == Block(date(2024, 2, 29), "L")
    assert leap_day.block_id("EURUSD") == "20240229-A-EURUSD"


def test_blocks_on_and_across_the_2028_leap_day():
    assert block_at(new_york(2028, 2, 29, 0, 30)) == Block(date(2028, 2, 28), "D")
    assert block_at(new_york(2028, 2, 29, 1, 0)) == Block(date(2028, 2, 28), "E")
    assert block_at(new_york(2028, 2, 29, 17, 0)) == Block(date(2028, 2, 29), "A")
    assert block_at(new_york(2028, 3, 1, 3, 0)) == Block(date(2028, 2, 29), "F")
    assert Block(date(2028, 2, 29), "L").next() == Block(date(2028, 3, 1), "A")
    assert parse_block_id("20280229-C-GBPUSD")[0].start_utc == utc(2028, 3, 1, 2)


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
def test_dec_31_at_17_00_new_york_starts_a_block_dated_dec_31(year):
    assert block_at(new_york(year, 12, 31, 17)) == Block(date(year, 12, 31), "A")
    assert block_at(new_york(year, 12, 31, 16, 59, 59)) == Block(date(year, 12, 30), "L")
    assert block_at(new_york(year + 1, 1, 1, 0, 30)) == Block(date(year, 12, 31), "D")
    assert block_at(new_york(year + 1, 1, 1, 16, 59)) == Block(date(year, 12, 31), "L")
    assert Block(date(year, 12, 31), "L").next() == Block(date(year + 1, 1, 1), "A")
    assert Block(date(year, 12, 31), "A").start_utc == utc(year, 12, 31, 22)


# --- properties -------------------------------------------------------------------------

INSTANTS = st.datetimes(
    min_value=datetime(2005, 1, 1),
    max_value=datetime(2035, 12, 31, 23, 59, 59),
    timezones=st.sampled_from(
        [
            UTC,
            NEW_YORK,
            ZoneInfo("Asia/Kolkata"),
            ZoneInfo("Europe/London"),
            ZoneInfo("Pacific/Chatham"),
        ]
    ),
)
# Symbols are 1-32 of these characters; text() draws them ~10x faster than the equal regex.
SYMBOLS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._", min_size=1, max_size=32)


@settings(max_examples=400, deadline=None)
@given(ts=INSTANTS)
def test_every_instant_lies_inside_its_block(ts):
    block = block_at(ts)
    instant = ts.astimezone(UTC)

    assert block.start_utc <= instant < block.end_utc
    assert block_from_ms(block.start_ms) == block
    assert block_from_ms(block.end_ms - 1) == block
    instant_ms = (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert block_from_ms(instant_ms) == block
    assert date_ny_of(ts) == block.date_ny


@settings(max_examples=300, deadline=None)
@given(ts=INSTANTS)
def test_blocks_tile_time_and_only_weekend_dst_blocks_are_not_two_hours(ts):
    block = block_at(ts)

    assert block.next().start_utc == block.end_utc
    assert block.next().previous() == block
    assert block.previous().end_utc == block.start_utc
    assert block < block.next()
    if block.end_utc - block.start_utc != TWO_HOURS:
        # The Sunday 02:00 switch falls inside block E of the Saturday OVC day: 1 h or 3 h.
        assert block.letter == "E"
        assert block.date_ny.weekday() == 5
        assert block.end_utc - block.start_utc in (timedelta(hours=1), timedelta(hours=3))
        assert not FxCalendar(default_closures=False).is_open(block)


@settings(max_examples=200, deadline=None)
@given(ts=INSTANTS, symbol=SYMBOLS)
def test_block_ids_round_trip(ts, symbol):
    block = block_at(ts)

    assert parse_block_id(block.block_id(symbol)) == (block, symbol)
    assert block.four_hour_id(symbol) == block.block_id(symbol)[:9] + block.pair + "-" + symbol
