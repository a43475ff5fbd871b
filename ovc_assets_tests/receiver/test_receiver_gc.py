"""The receiver's long-lived state and the garbage collector: a full collection pauses every
request for as long as it takes, and that grows with the objects the collector tracks."""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from pathlib import Path

from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.receiver.landing import LandingService
from ovc_assets.receiver.spool import Spool
from ovc_assets.storage.raw_events import ROUTE_TV, Disposition, LandingEvent, LandingOutcome
from ovc_assets.storage.raw_store import FileRawStore
from ovc_assets_tests.receiver.receiver_payloads import unique_export

BACKLOG = 2_000
SLACK = 100
"""Tracked objects the landing may add whatever the backlog (its segment, bookkeeping)."""


def arrive(number: int) -> LandingEvent:
    return admit(Arrival(ROUTE_TV, unique_export(number).encode(), 700, datetime.now(UTC)), secret=None)[0]


def test_a_backlog_of_raw_objects_adds_nothing_for_the_garbage_collector(tmp_path: Path) -> None:
    # Not started: nothing writes the objects, as while the writer is busy under load.
    service = LandingService("postgresql://127.0.0.1:1/unused", FileRawStore(tmp_path / "raw"), Spool(tmp_path / "spool"))
    arrive(BACKLOG)  # loads the contracts once, before the count
    gc.collect()
    tracked_before = len(gc.get_objects())
    events = [arrive(n) for n in range(BACKLOG)]
    segment = service.spool.append(events)
    outcomes = [LandingOutcome(event.event_id, event.event_id, Disposition.LANDED) for event in events]
    try:
        service.conclude(segment, events, outcomes)
        del events, outcomes
        gc.collect()
        assert service.status()["raw_objects_queued"] == BACKLOG
        assert len(gc.get_objects()) - tracked_before < SLACK
    finally:
        service.spool.close()
