"""The calendar's refusals say what was wrong, with the value that was refused."""

import pandas as pd
import pytest

from ovc_assets.calendar import block_keys, parse_block_id


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
