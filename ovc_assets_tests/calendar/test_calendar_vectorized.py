"""block_keys (the calendar on arrays) agrees with block_at, instant by instant, and the
array forms of a block's identity (bounds, letter, pair, id) agree with Block's."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.calendar import (
    BLOCK_LETTERS,
    Block,
    BlockKeys,
    block_at,
    block_bounds_utc,
    block_ids,
    block_keys,
    block_letters,
    block_pairs,
)

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


def keys_of_blocks(blocks: list[Block]) -> BlockKeys:
    return BlockKeys(
        date_ny=pd.DatetimeIndex([block.date_ny for block in blocks]).to_numpy().astype("datetime64[D]"),
        letter_index=pd.Series([block.index for block in blocks]).to_numpy().astype("int8"),
    )


def identity_of_blocks(blocks: list[Block], symbol: str) -> list[tuple]:
    return [(block.start_utc, block.end_utc, block.letter, block.pair, block.block_id(symbol)) for block in blocks]


def array_identity(keys: BlockKeys, symbol: str) -> list[tuple]:
    starts, ends = block_bounds_utc(keys)
    return list(
        zip(
            starts.to_pydatetime().tolist(),
            ends.to_pydatetime().tolist(),
            block_letters(keys).tolist(),
            block_pairs(keys).tolist(),
            block_ids(keys, symbol).tolist(),
        )
    )


@pytest.mark.parametrize(
    "first_day",
    [
        date(2026, 3, 5),  # spring forward: block E of Saturday 2026-03-07 is 1 hour long
        date(2026, 10, 29),  # fall back: block E of Saturday 2026-10-31 is 3 hours long
        date(2025, 12, 22),  # Christmas closure and the year's end
        date(2006, 3, 30),  # the pre-2007 April rule
    ],
)
def test_block_identity_arrays_agree_with_block_over_dst_and_holidays(first_day):
    blocks = [Block(first_day, "A")]
    for _ in range(12 * 14 - 1):
        blocks.append(blocks[-1].next())
    assert array_identity(keys_of_blocks(blocks), "EURUSD") == identity_of_blocks(blocks, "EURUSD")
    lengths = {block.end_utc - block.start_utc for block in blocks}
    assert lengths == {timedelta(hours=2)} | (
        {timedelta(hours=1)} if first_day.month == 3 or first_day.month == 4
        else {timedelta(hours=3)} if first_day.month == 10 else set()
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)), min_size=1, max_size=30),
       st.sampled_from(list(BLOCK_LETTERS)), st.sampled_from(["GBPUSD", "XAU.USD", "US_30"]))  # fmt: skip
def test_block_identity_arrays_agree_with_block_on_any_day(days, letter, symbol):
    blocks = [Block(day, letter) for day in days]
    assert array_identity(keys_of_blocks(blocks), symbol) == identity_of_blocks(blocks, symbol)


def test_block_ids_refuse_a_bad_symbol_like_block_id():
    keys = keys_of_blocks([Block(date(2026, 1, 13), "F")])
    with pytest.raises(ValueError, match="symbol"):
        block_ids(keys, "eurusd")
