"""Which alert wins a block (DESIGN / README): the latest bar time, then the latest receipt.
Equal bar times must be decided by the receipt, whatever order the events arrive in."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ovc_assets.contracts.parser import parse_export
from ovc_assets.contracts.render import render_min_block
from ovc_assets.demo.sample_week import sample_alerts, sample_candles
from ovc_assets.pipeline.block_rows import MIN_BLOCKS, prepare_rows
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.blocks import LIVE_BLOCK_COLUMNS
from ovc_assets.storage.raw_events import WindowEvent

STATE_TAG = LIVE_BLOCK_COLUMNS.index("state_tag")
BAR_CLOSE_MS = LIVE_BLOCK_COLUMNS.index("bar_close_ms")


@pytest.fixture(scope="module")
def first_alert():
    """The demo week's first alert and its parsed record (block A of the week's Sunday, GBPUSD or EURUSD)."""
    alert = sample_alerts(sample_candles())[0]
    return alert, parse_export(alert.body, profile="MIN").record


def event(record, state_tag: str, received_offset_s: int, *, at_block_end: bool = False, base=None) -> WindowEvent:
    bar_close_ms = (record.block_end if at_block_end else record.block_start).timestamp() * 1000
    body = render_min_block("MIN_V0_1", record._replace(state_tag=state_tag, bar_close_ms=int(bar_close_ms)))
    return WindowEvent(uuid.uuid4(), base + timedelta(seconds=received_offset_s), "tv", body.encode(), 0)


def winner(events: list[WindowEvent]) -> tuple[str, int]:
    counts = RunCounts()
    prepared = prepare_rows(MIN_BLOCKS, events, "run-1", counts)
    assert not prepared.rejected
    (row,) = prepared.rows
    assert (counts.parse_ok, counts.unique_events, counts.duplicate_events) == (len(events), 1, len(events) - 1)
    assert prepared.superseded == len(events) - 1
    return row[STATE_TAG], row[BAR_CLOSE_MS]


@pytest.mark.parametrize("arrival_order", ["latest_receipt_last", "latest_receipt_first", "latest_receipt_middle"])
def test_equal_bar_times_the_latest_receipt_wins_in_any_listing_order(first_alert, arrival_order) -> None:
    alert, record = first_alert
    early = event(record, "ROTATE", 0, base=alert.received_at)
    middle = event(record, "STABLE", 7, base=alert.received_at)
    latest = event(record, "EXPAND", 30, base=alert.received_at)
    listing = {
        "latest_receipt_last": [early, middle, latest],
        "latest_receipt_first": [latest, early, middle],
        "latest_receipt_middle": [middle, latest, early],
    }[arrival_order]
    assert winner(listing) == ("EXPAND", int(record.block_start.timestamp() * 1000))


def test_a_later_bar_time_beats_a_later_receipt(first_alert) -> None:
    alert, record = first_alert
    at_close = event(record, "TREND", 0, at_block_end=True, base=alert.received_at)
    later_receipt_at_open = event(record, "ROTATE", 60, base=alert.received_at)
    assert winner([at_close, later_receipt_at_open]) == ("TREND", int(record.block_end.timestamp() * 1000))
    assert winner([later_receipt_at_open, at_close]) == ("TREND", int(record.block_end.timestamp() * 1000))


def test_among_alerts_at_the_later_bar_time_the_latest_receipt_wins(first_alert) -> None:
    alert, record = first_alert
    events = [
        event(record, "ROTATE", 90, base=alert.received_at),  # latest receipt, earlier bar time: loses
        event(record, "EXPAND", 40, at_block_end=True, base=alert.received_at),
        event(record, "STABLE", 10, at_block_end=True, base=alert.received_at),
    ]
    assert winner(events) == ("EXPAND", int(record.block_end.timestamp() * 1000))
