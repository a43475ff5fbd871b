"""block_keys (the calendar on arrays) agrees with block_at, instant by instant."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.calendar import BLOCK_LETTERS, Block, block_at, block_keys

# US rule since 2007 (second Sunday of March, first Sunday of November); 2005-2006 used the
# April/October rule, so those years are covered by the plain random instants only.
FIRST_US_RULE_YEAR = 2007


def nth_sunday(year: int, month: int, n: int) -> date:
    first_of_month = date(year, month, 1)
    return first_of_month + timedelta(days=(6 - first_of_month.weekday()) % 7 + 7 * (n - 1))


def blocks_of(times) -> list[Block]:
    keys = block_keys(times)
    return [
        Block(date_ny, BLOCK_LETTERS[letter_index])
        for date_ny, letter_index in zip(keys.date_ny.tolist(), keys.letter_index.tolist())
    ]


any_instant = st.datetimes(
    min_value=datetime(2005, 1, 1), max_value=datetime(2035, 12, 31, 23, 59, 59), timezones=st.just(UTC)
)
dst_week_instant = st.builds(
    lambda year, switch, seconds: datetime.combine(nth_sunday(year, *switch), datetime.min.time(), UTC)
    + timedelta(seconds=seconds),
    st.integers(FIRST_US_RULE_YEAR, 2035),
    st.sampled_from([(3, 2), (11, 1)]),
    st.integers(-4 * 86_400, 3 * 86_400),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(any_instant, dst_week_instant), min_size=1, max_size=40))
def test_block_keys_agree_with_block_at(instants):
    assert blocks_of(pd.DatetimeIndex(instants)) == [block_at(instant) for instant in instants]


@pytest.mark.parametrize("switch_sunday", [date(2026, 3, 8), date(2026, 11, 1)])
def test_every_minute_of_a_dst_week_agrees(switch_sunday):
    start = datetime.combine(switch_sunday - timedelta(days=3), datetime.min.time(), UTC)
    minutes = pd.Series(pd.date_range(start, periods=7 * 24 * 60, freq="1min"))
    assert blocks_of(minutes) == [block_at(minute.to_pydatetime()) for minute in minutes]


def test_any_time_zone_is_accepted_and_naive_or_missing_times_are_refused():
    tokyo = pd.DatetimeIndex([datetime(2026, 1, 14, 17, tzinfo=ZoneInfo("Asia/Tokyo"))])
    assert blocks_of(tokyo) == [Block(date(2026, 1, 13), "F")]  # 03:00 New York
    with pytest.raises(ValueError, match="aware"):
        block_keys(pd.DatetimeIndex([datetime(2026, 1, 14, 8)]))
    with pytest.raises(ValueError, match="NaT"):
        block_keys(pd.DatetimeIndex([pd.NaT], tz="UTC"))
