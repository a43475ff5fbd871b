"""Partitions are the FX calendar's blocks, across both DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ovc_assets.calendar import NEW_YORK, FxCalendar, block_at
from ovc_assets.defs.partitions import (
    blocks_2h_partitions,
    ovc_daily_partitions,
    partitions_start,
)

START = datetime(2025, 12, 28, 17, tzinfo=NEW_YORK)


@pytest.fixture(scope="module")
def blocks_2h():
    return blocks_2h_partitions(START)


def _keys_between(partitions, start: datetime, end: datetime) -> list[str]:
    return [
        key
        for key in partitions.get_partition_keys(current_time=end)
        if partitions.time_window_for_partition_key(key).start >= start
    ]


def test_partition_keys_equal_the_calendars_expected_blocks_over_a_year(blocks_2h) -> None:
    end = datetime(2026, 12, 27, 17, tzinfo=NEW_YORK)
    keys = blocks_2h.get_partition_keys(current_time=end)
    expected = FxCalendar().expected_blocks(START, end)
    # One pass of Dagster's window iterator for all keys (per key it restarts its cron and
    # exclusion iterators: 72 s for a year's keys at load 10); validate=False keeps the windows
    # after today.
    windows = blocks_2h.time_windows_for_partition_keys(frozenset(keys), validate=False)
    starts = [window.start.astimezone(UTC) for window in windows]
    assert starts == [block.start_utc for block in expected]


@pytest.mark.parametrize(
    ("key", "utc_start", "letter"),
    [
        ("2026-03-06-15:00", datetime(2026, 3, 6, 20, tzinfo=UTC), "L"),  # Friday before spring forward, EST
        ("2026-03-08-17:00", datetime(2026, 3, 8, 21, tzinfo=UTC), "A"),  # Sunday after, EDT: odd UTC hour
        ("2026-10-30-15:00", datetime(2026, 10, 30, 19, tzinfo=UTC), "L"),  # Friday before fall back, EDT
        ("2026-11-01-17:00", datetime(2026, 11, 1, 22, tzinfo=UTC), "A"),  # Sunday after, EST: even UTC hour
    ],
)
def test_windows_across_both_dst_changes_are_the_blocks(blocks_2h, key: str, utc_start: datetime, letter: str) -> None:
    window = blocks_2h.time_window_for_partition_key(key)
    assert window.start.astimezone(UTC) == utc_start
    assert (window.end - window.start).total_seconds() == 7200
    assert block_at(window.start).letter == letter
    assert block_at(window.start).start_utc == utc_start


def test_weekend_and_holidays_have_no_partitions(blocks_2h) -> None:
    keys = set(blocks_2h.get_partition_keys(current_time=datetime(2026, 1, 10, tzinfo=NEW_YORK)))
    assert "2026-01-02-17:00" not in keys  # Friday evening
    assert "2026-01-03-11:00" not in keys  # Saturday
    assert "2026-01-04-15:00" not in keys  # Sunday before the open
    assert "2026-01-04-17:00" in keys
    assert "2025-12-31-17:00" not in keys and "2026-01-01-15:00" not in keys  # Jan 1 session
    assert "2025-12-30-17:00" in keys


def test_daily_partitions_are_ovc_days() -> None:
    daily = ovc_daily_partitions(START)
    window = daily.time_window_for_partition_key("2026-01-13")
    assert window.start == datetime(2026, 1, 13, 17, tzinfo=NEW_YORK)
    assert window.end == datetime(2026, 1, 14, 17, tzinfo=NEW_YORK)
    assert block_at(window.start).date_ny == date(2026, 1, 13)


def test_partitions_start_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OVC_PARTITIONS_START", raising=False)
    assert partitions_start(date(2026, 12, 1)) == datetime(2026, 11, 1, 17, tzinfo=NEW_YORK)
    monkeypatch.setenv("OVC_PARTITIONS_START", "2024-06-02 17:00")
    assert partitions_start() == datetime(2024, 6, 2, 17, tzinfo=NEW_YORK)


def test_a_utc_start_means_the_same_instant() -> None:
    from_utc = blocks_2h_partitions(START.astimezone(UTC))
    assert from_utc.get_first_partition_key() == blocks_2h_partitions(START).get_first_partition_key() == "2025-12-28-17:00"


@pytest.mark.parametrize("today", [date(2026, 12, 1), date(2026, 11, 29), date(2026, 12, 5), date(2027, 3, 20)])
def test_the_default_start_opens_the_week_4_weeks_back_and_bounds_the_partitions(
    today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each UI page of a 2H asset lists every partition: the default bounds their number."""
    monkeypatch.delenv("OVC_PARTITIONS_START", raising=False)
    now = datetime(today.year, today.month, today.day, 16, tzinfo=NEW_YORK)
    keys = blocks_2h_partitions(partitions_start(today)).get_partition_keys(current_time=now)
    assert datetime.strptime(keys[0], "%Y-%m-%d-%H:%M").strftime("%a %H:%M") == "Sun 17:00", keys[0]
    assert 4 * 60 <= len(keys) <= 5 * 60, len(keys)  # 60 blocks a week; no holiday in these windows
