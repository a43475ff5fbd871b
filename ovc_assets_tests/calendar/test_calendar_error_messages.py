"""The calendar's refusals say what was wrong, with the value that was refused."""

from datetime import UTC, datetime, tzinfo

import pandas as pd
import pytest

from ovc_assets.calendar import Block, FxCalendar, block_at, block_keys, parse_block_id


@pytest.mark.parametrize(
    ("block_id", "message"),
    [
        ("20260113-F-gbpusd", "not a block id (YYYYMMDD-<A..L>-<SYM>): '20260113-F-gbpusd'"),
        ("20260230-F-GBPUSD", "block id has an impossible date: '20260230-F-GBPUSD'"),
    ],
)
def test_a_bad_block_id_is_refused_with_its_text(block_id: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_block_id(block_id)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (pd.DatetimeIndex(["2026-01-13 22:00"]), "block_keys needs timezone-aware instants, got naive ones"),
        (pd.DatetimeIndex(["2026-01-13 22:00", None]).tz_localize("UTC"), "block_keys cannot place NaT in a block"),
    ],
)
def test_block_keys_refuses_naive_instants_and_nat(times: pd.DatetimeIndex, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        block_keys(times)
    assert str(raised.value) == message


class NoOffset(tzinfo):
    """A time zone that does not know its offset: the instant is as unknown as a naive one."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None


NO_OFFSET = datetime(2026, 1, 13, 22, tzinfo=NoOffset())


def test_a_timestamp_whose_zone_gives_no_offset_is_refused_like_a_naive_one() -> None:
    with pytest.raises(ValueError, match="^timestamp must be timezone-aware, got naive "):
        block_at(NO_OFFSET)
    with pytest.raises(ValueError, match="^timestamp must be timezone-aware, got naive "):
        FxCalendar().expected_blocks(NO_OFFSET, datetime(2026, 1, 14, tzinfo=UTC))


def test_a_block_of_a_datetime_rather_than_a_date_names_the_type_it_got() -> None:
    with pytest.raises(TypeError) as raised:
        Block(datetime(2026, 1, 13, tzinfo=UTC), "A")
    assert str(raised.value) == "date_ny must be a datetime.date, got datetime"
