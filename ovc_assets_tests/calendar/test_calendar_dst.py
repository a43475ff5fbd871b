"""Every New York daylight-saving switch from 2015 to 2030, in both directions.

The switch dates are computed here from the US rule (second Sunday of March, first Sunday
of November, at 02:00 local), not taken from the code under test.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from ovc_assets.calendar import BLOCK_LETTERS, Block, FxCalendar, block_at

WINTER_OFFSET_HOURS = 5  # EST = UTC-5
SUMMER_OFFSET_HOURS = 4  # EDT = UTC-4
TWO_HOURS = timedelta(hours=2)
CALENDAR = FxCalendar(default_closures=False)


def nth_sunday(year, month, n):
    first_of_month = date(year, month, 1)
    days_to_first_sunday = (6 - first_of_month.weekday()) % 7
    return first_of_month + timedelta(days=days_to_first_sunday + 7 * (n - 1))


def switches(directions=("spring", "fall")):
    switch_sundays = {"spring": (3, 2), "fall": (11, 1)}
    return [
        pytest.param(
            nth_sunday(year, *switch_sundays[direction]), direction, id=f"{year}-{direction}"
        )
        for year in range(2015, 2031)
        for direction in directions
    ]


def at_utc(day, hour):
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour)


@pytest.mark.parametrize(("switch_sunday", "direction"), switches())
def test_friday_before_and_sunday_after_have_the_right_utc_hours(switch_sunday, direction):
    offset_before, offset_after = (
        (WINTER_OFFSET_HOURS, SUMMER_OFFSET_HOURS)
        if direction == "spring"
        else (SUMMER_OFFSET_HOURS, WINTER_OFFSET_HOURS)
    )
    thursday = switch_sunday - timedelta(days=3)

    # The OVC day dated Thursday is the last one before the weekend: Thu 17:00 to Fri 17:00.
    for index, letter in enumerate(BLOCK_LETTERS):
        block = Block(thursday, letter)
        assert block.start_utc == at_utc(thursday, 17 + 2 * index + offset_before)
        assert block.end_utc - block.start_utc == TWO_HOURS
        assert CALENDAR.is_open(block)
    friday_close = Block(thursday, "L").end_utc
    assert friday_close == at_utc(thursday + timedelta(days=1), 17 + offset_before)
    assert not CALENDAR.is_open(block_at(friday_close))

    sunday_open = Block(switch_sunday, "A")
    assert sunday_open.start_utc == at_utc(switch_sunday, 17 + offset_after)
    assert sunday_open.start_utc.hour == (21 if direction == "spring" else 22)
    assert block_at(sunday_open.start_utc) == sunday_open
    assert CALENDAR.is_open(sunday_open)
    assert not CALENDAR.is_open(sunday_open.previous())


@pytest.mark.parametrize(("switch_sunday", "direction"), switches())
def test_the_weeks_around_a_switch_have_sixty_two_hour_blocks(switch_sunday, direction):
    week_before = CALENDAR.week_blocks(at_utc(switch_sunday - timedelta(days=2), 12))
    week_after = CALENDAR.week_blocks(at_utc(switch_sunday + timedelta(days=2), 12))

    for week in (week_before, week_after):
        assert len(week) == 60
        assert all(block.end_utc - block.start_utc == TWO_HOURS for block in week)
        for earlier, later in zip(week, week[1:]):
            if later == earlier.next():
                assert earlier.end_utc == later.start_utc
    assert week_before[-1].date_ny == switch_sunday - timedelta(days=3)
    assert week_after[0] == Block(switch_sunday, "A")


@pytest.mark.parametrize(("switch_sunday", "direction"), switches())
def test_blocks_tile_the_switch_weekend_and_only_the_closed_block_e_changes_length(
    switch_sunday, direction
):
    saturday = switch_sunday - timedelta(days=1)
    switch_block = Block(saturday, "E")  # Sunday 01:00-03:00 New York wall clock
    expected_switch_length = timedelta(hours=1 if direction == "spring" else 3)
    offset_before = WINTER_OFFSET_HOURS if direction == "spring" else SUMMER_OFFSET_HOURS
    expected_switch_start_hour = 1 + offset_before

    block = Block(switch_sunday - timedelta(days=3), "A")
    last = Block(switch_sunday + timedelta(days=1), "A")
    while block < last:
        following = block.next()
        assert block.end_utc == following.start_utc
        assert block_at(block.start_utc) == block
        assert block_at(block.end_utc - timedelta(microseconds=1)) == block
        if block == switch_block:
            assert block.end_utc - block.start_utc == expected_switch_length
            assert not CALENDAR.is_open(block)
        else:
            assert block.end_utc - block.start_utc == TWO_HOURS
        block = following
    assert switch_block.start_utc == at_utc(switch_sunday, expected_switch_start_hour)


@pytest.mark.parametrize(("switch_sunday", "direction"), switches(directions=("fall",)))
def test_both_occurrences_of_the_repeated_hour_belong_to_block_e(switch_sunday, direction):
    saturday = switch_sunday - timedelta(days=1)

    # 01:00-02:00 New York happens at 05:00Z (EDT) and again at 06:00Z (EST).
    assert block_at(at_utc(switch_sunday, 5) - timedelta(seconds=1)) == Block(saturday, "D")
    assert block_at(at_utc(switch_sunday, 5)) == Block(saturday, "E")
    assert block_at(at_utc(switch_sunday, 6.5)) == Block(saturday, "E")
    assert block_at(at_utc(switch_sunday, 8)) == Block(saturday, "F")
    assert Block(saturday, "D").end_utc == at_utc(switch_sunday, 5)
    assert Block(saturday, "E").start_utc == at_utc(switch_sunday, 5)
