"""The FX week (Sunday 17:00 to Friday 17:00 New York), holiday closures and expected blocks."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.calendar import NEW_YORK, Block, FxCalendar, block_at

NO_HOLIDAYS = FxCalendar(default_closures=False)
DEFAULT = FxCalendar()
ONE_MICROSECOND = timedelta(microseconds=1)


def new_york(year, month, day, hour=0, minute=0, second=0):
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def is_weekend_closed(ts):
    """Reference rule: closed from Friday 17:00 to Sunday 17:00 New York."""
    local = ts.astimezone(NEW_YORK)
    friday, saturday, sunday = 4, 5, 6
    return (
        (local.weekday() == friday and local.hour >= 17)
        or local.weekday() == saturday
        or (local.weekday() == sunday and local.hour < 17)
    )


# --- week boundaries --------------------------------------------------------------------
# 2026-01-15 is a Thursday, 2026-01-16 a Friday, 2026-01-18 a Sunday.


def test_friday_just_before_17_00_is_block_l_of_thursday_and_open():
    block = block_at(new_york(2026, 1, 16, 16, 59, 59))

    assert block == Block(date(2026, 1, 15), "L")
    assert DEFAULT.is_open(block)


def test_friday_17_00_is_closed():
    block = block_at(new_york(2026, 1, 16, 17))

    assert block == Block(date(2026, 1, 16), "A")
    assert not DEFAULT.is_open(block)


def test_sunday_just_before_17_00_is_closed():
    block = block_at(new_york(2026, 1, 18, 16, 59))

    assert block == Block(date(2026, 1, 17), "L")
    assert not DEFAULT.is_open(block)


def test_sunday_17_00_is_block_a_and_open():
    block = block_at(new_york(2026, 1, 18, 17))

    assert block == Block(date(2026, 1, 18), "A")
    assert DEFAULT.is_open(block)


@pytest.mark.parametrize(
    ("date_ny", "is_open"),
    [
        (date(2026, 1, 18), True),  # Sunday
        (date(2026, 1, 19), True),
        (date(2026, 1, 20), True),
        (date(2026, 1, 21), True),
        (date(2026, 1, 22), True),  # Thursday
        (date(2026, 1, 23), False),  # Friday
        (date(2026, 1, 24), False),  # Saturday
    ],
)
def test_ovc_days_sunday_to_thursday_are_open(date_ny, is_open):
    assert NO_HOLIDAYS.is_day_open(date_ny) is is_open
    assert all(NO_HOLIDAYS.is_open(Block(date_ny, letter)) is is_open for letter in "ABCDEFGHIJKL")


# --- whole weeks ------------------------------------------------------------------------


def test_a_normal_week_has_sixty_blocks_from_sunday_a_to_thursday_l():
    week = DEFAULT.week_blocks(new_york(2026, 1, 21, 10))

    assert len(week) == 60
    assert week[0] == Block(date(2026, 1, 18), "A")
    assert week[-1] == Block(date(2026, 1, 22), "L")
    assert week == sorted(set(week))


@pytest.mark.parametrize("year", [2005, 2016, 2024, 2025, 2026, 2030])
def test_every_week_of_a_year_has_sixty_blocks_without_holidays(year):
    sunday = date(year, 1, 1) + timedelta(days=(6 - date(year, 1, 1).weekday()) % 7)
    while sunday.year == year:
        week = NO_HOLIDAYS.week_blocks(Block(sunday, "C").start_utc)
        assert len(week) == 60, sunday
        assert NO_HOLIDAYS.count_expected(week[0].start_utc, week[-1].end_utc) == 60
        sunday += timedelta(days=7)


@pytest.mark.parametrize(
    "ts",
    [
        new_york(2026, 1, 18, 17),  # opening
        new_york(2026, 1, 22, 12),
        new_york(2026, 1, 23, 16, 59),  # last open minute
        new_york(2026, 1, 23, 17),  # closed Friday evening
        new_york(2026, 1, 24, 12),  # Saturday
        new_york(2026, 1, 25, 16, 59),  # Sunday before the opening
    ],
)
def test_the_weekend_belongs_to_the_week_that_has_just_closed(ts):
    week = DEFAULT.week_blocks(ts)

    assert week[0] == Block(date(2026, 1, 18), "A")
    assert week[-1] == Block(date(2026, 1, 22), "L")


# --- closures ---------------------------------------------------------------------------


def test_christmas_closes_the_session_ending_at_17_00_on_dec_25():
    # 2025-12-25 is a Thursday: the session Dec 24 17:00 - Dec 25 17:00 is date_ny Dec 24.
    christmas_week = new_york(2025, 12, 23, 12)

    assert not DEFAULT.is_day_open(date(2025, 12, 24))
    assert DEFAULT.is_day_open(date(2025, 12, 25))
    assert not DEFAULT.is_open(block_at(new_york(2025, 12, 25, 9)))
    assert DEFAULT.is_open(block_at(new_york(2025, 12, 25, 17)))
    assert len(DEFAULT.week_blocks(christmas_week)) == 48
    assert len(NO_HOLIDAYS.week_blocks(christmas_week)) == 60
    assert len(FxCalendar(closures=[], default_closures=False).week_blocks(christmas_week)) == 60


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
def test_new_year_closes_the_block_starting_dec_31_at_17_00_by_default(year):
    dec_31_evening = block_at(new_york(year, 12, 31, 17))

    assert dec_31_evening.date_ny == date(year, 12, 31)
    expected_open = date(year, 12, 31).weekday() not in (4, 5)
    assert NO_HOLIDAYS.is_open(dec_31_evening) is expected_open
    assert not DEFAULT.is_open(dec_31_evening)


def test_a_weekday_dec_25_has_twelve_more_open_blocks_without_closures():
    start, end = new_york(2025, 12, 1), new_york(2025, 12, 29)

    assert NO_HOLIDAYS.count_expected(start, end) == DEFAULT.count_expected(start, end) + 12


def test_custom_closures_add_to_the_defaults_unless_defaults_are_off():
    independence_day = date(2026, 7, 3)  # a Friday: closes date_ny Thursday 2026-07-02
    with_custom = FxCalendar(closures=[independence_day])
    only_custom = FxCalendar(closures=[independence_day], default_closures=False)

    for calendar in (with_custom, only_custom):
        assert not calendar.is_day_open(date(2026, 7, 2))
        assert calendar.is_day_open(date(2026, 7, 1))
        assert len(calendar.week_blocks(new_york(2026, 7, 1, 12))) == 48
    assert not with_custom.is_day_open(date(2025, 12, 24))
    assert only_custom.is_day_open(date(2025, 12, 24))


def test_a_monday_closure_closes_the_sunday_evening_session_and_a_weekend_one_changes_nothing():
    monday = date(2026, 1, 19)
    saturday = date(2026, 1, 24)
    calendar = FxCalendar(closures=[monday, saturday], default_closures=False)

    assert not calendar.is_open(block_at(new_york(2026, 1, 18, 17)))
    assert calendar.is_open(block_at(new_york(2026, 1, 19, 17)))
    assert len(calendar.week_blocks(new_york(2026, 1, 20))) == 48


def test_closures_must_be_dates():
    with pytest.raises(TypeError, match="closures"):
        FxCalendar(closures=[datetime(2026, 7, 3)])
    with pytest.raises(TypeError, match="closures"):
        FxCalendar(closures=["2026-07-03"])


# --- expected_blocks --------------------------------------------------------------------


def test_expected_blocks_is_half_open_on_block_starts():
    first = Block(date(2026, 1, 13), "F")
    last = Block(date(2026, 1, 13), "H")

    assert DEFAULT.expected_blocks(first.start_utc, last.start_utc) == [first, first.next()]
    assert DEFAULT.expected_blocks(first.start_utc, last.start_utc + ONE_MICROSECOND) == [
        first,
        first.next(),
        last,
    ]
    assert DEFAULT.expected_blocks(first.start_utc + ONE_MICROSECOND, last.start_utc) == [
        first.next()
    ]
    assert DEFAULT.expected_blocks(first.start_utc - ONE_MICROSECOND, first.start_utc) == []
    assert DEFAULT.expected_blocks(first.start_utc + ONE_MICROSECOND, first.end_utc) == []
    assert DEFAULT.expected_blocks(first.start_utc, first.start_utc) == []
    assert DEFAULT.expected_blocks(last.start_utc, first.start_utc) == []


def test_expected_blocks_spanning_a_weekend_skip_the_closure():
    blocks = DEFAULT.expected_blocks(new_york(2026, 1, 16, 13), new_york(2026, 1, 18, 21))

    assert blocks == [
        Block(date(2026, 1, 15), "K"),
        Block(date(2026, 1, 15), "L"),
        Block(date(2026, 1, 18), "A"),
        Block(date(2026, 1, 18), "B"),
    ]


def test_expected_blocks_refuse_naive_datetimes():
    aware = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.expected_blocks(datetime(2026, 1, 1), aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT.count_expected(aware, datetime(2026, 2, 1))


def test_expected_blocks_over_two_decades_are_consistent():
    start, end = datetime(2005, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)

    blocks = DEFAULT.expected_blocks(start, end)

    assert len(blocks) == DEFAULT.count_expected(start, end)
    assert 69_000 < len(blocks) < 73_000
    assert all(earlier < later for earlier, later in zip(blocks, blocks[1:]))


RANGE_STARTS = st.datetimes(
    min_value=datetime(2005, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.sampled_from([UTC, NEW_YORK]),
)
RANGE_LENGTHS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


@settings(max_examples=150, deadline=None)
@given(start=RANGE_STARTS, length=RANGE_LENGTHS)
def test_expected_blocks_match_a_block_by_block_walk(start, length):
    end = start + length  # wall-clock addition for New York starts; still a valid range
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    reference = []
    block = block_at(start_utc).previous()
    while block.start_utc < end_utc:
        if block.start_utc >= start_utc and DEFAULT.is_open(block):
            reference.append(block)
        block = block.next()

    assert DEFAULT.expected_blocks(start, end) == reference
    assert DEFAULT.count_expected(start, end) == len(reference)


@settings(max_examples=300, deadline=None)
@given(ts=RANGE_STARTS)
def test_weekend_rule_agrees_with_the_new_york_wall_clock(ts):
    assert NO_HOLIDAYS.is_open(block_at(ts)) is not is_weekend_closed(ts)
