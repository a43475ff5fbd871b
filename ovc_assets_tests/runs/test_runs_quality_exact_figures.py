"""Data-quality figures at their exact edges: which rows are in the range and in the
baseline, the symbols asked for, rounding, unknown shares, and the refusals' messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ovc_assets.calendar import Block
from ovc_assets.runs.quality import NULL_RATE_ALLOWED_COLUMNS, data_quality
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
