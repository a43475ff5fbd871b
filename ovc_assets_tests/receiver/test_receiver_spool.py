"""Spool segments: the frame format, torn tails, locks between processes, deletion."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.receiver.spool import (
    SEGMENT_MAGIC,
    Spool,
    SpoolFlusher,
    decode_segment,
    encode_event,
    encode_events,
)
from ovc_assets.storage.raw_events import ROUTE_TV, LandingEvent
from ovc_assets_tests.receiver.receiver_payloads import unique_export


def events(count: int, start: int = 0) -> list[LandingEvent]:
    made = []
    for number in range(start, start + count):
        body = unique_export(number).encode()
        made.append(admit(Arrival(ROUTE_TV, body, len(body), datetime.now(UTC), "127.0.0.1"), secret=None)[0])
    return made


def test_frames_round_trip_every_field_but_raw_written() -> None:
    batch = events(2) + [admit(Arrival(ROUTE_TV, b"\xff\x00junk", 6, datetime.now(UTC)), secret=None)[0]]
    assert decode_segment(SEGMENT_MAGIC + b"".join(encode_event(e) for e in batch)) == batch


def test_reading_stops_at_a_torn_or_damaged_frame() -> None:
    first, second = events(2)
    good, torn = encode_event(first), encode_event(second)
    assert decode_segment(SEGMENT_MAGIC + good + torn[:-5]) == [first]
    damaged = bytearray(torn)
    damaged[-1] ^= 0xFF
    assert decode_segment(SEGMENT_MAGIC + good + bytes(damaged) + good) == [first]
    assert decode_segment(SEGMENT_MAGIC[:4]) == []


def test_a_live_segment_is_never_claimed_and_an_abandoned_one_is(tmp_path: Path) -> None:
    live = Spool(tmp_path)
    segment = live.append(events(3))
    assert list(Spool(tmp_path).claim_orphans()) == []

    live.close()  # unsettled: left behind, as by a crash
    claimed = list(Spool(tmp_path).claim_orphans())
    assert [c.path for c in claimed] == [segment.path] and len(claimed[0].events) == 3
    assert list(Spool(tmp_path).claim_orphans()) == []  # held by the claimer meanwhile
    claimed[0].release(remove=True)
    assert not segment.path.exists()


def test_a_segment_goes_once_sealed_and_settled(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_segment_bytes=1)
    first = spool.append(events(2))
    second = spool.append(events(1, start=2))  # rotates: the first is sealed
    assert first is not second and first.path.exists()
    spool.settle(first, 1)
    assert first.path.exists()
    spool.settle(first, 1)
    assert not first.path.exists()
    assert spool.backlog() == 1
    spool.settle(second, 1)
    spool.close()
    assert sorted(os.listdir(tmp_path)) == []


def flush_batches(spool: Spool, batches: list[list[LandingEvent]]) -> list:
    """Hand `batches` to a flusher at once; the segment (or None) each one got."""

    async def scenario() -> list:
        flusher = SpoolFlusher(spool)
        flusher.start(asyncio.get_running_loop())
        try:
            return await asyncio.gather(*(flusher.submit(encode_events(batch), len(batch)) for batch in batches))
        finally:
            flusher.stop()

    return asyncio.run(scenario())


def test_the_flusher_makes_the_waiting_batches_durable_together(tmp_path: Path) -> None:
    batches = [events(2, start=10 * number) for number in range(5)]
    segments = flush_batches(Spool(tmp_path), batches)
    assert len({segment.path for segment in segments}) == 1 and segments[0].appended == 10
    assert decode_segment(segments[0].path.read_bytes()) == [event for batch in batches for event in batch]


def test_the_flusher_answers_none_when_the_disk_refuses(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file")
    assert flush_batches(Spool(blocked / "spool"), [events(1)]) == [None]
