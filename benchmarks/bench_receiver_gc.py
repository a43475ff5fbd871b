"""Benchmark: what a backlog of raw objects waiting to be written costs each full garbage
collection of the receiver (issue 10: p99 spikes were full collections).

Run by hand from the repository root (no database needed):

    .venv/bin/python benchmarks/bench_receiver_gc.py [--backlog 20000] [--repeat 5]

In one process, for the same admitted events: the backlog queued by `LandingService.conclude`
(what the receiver does; nothing writes the objects, as while its writer is busy), against
the same events kept alive as objects, the shape the queue had before (a tuple of the time,
the segment and the `LandingEvent` per event): tracked objects and the median time of
`gc.collect()` after `gc.freeze()` of what was loaded before, as the receiver does at start-up.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ovc_assets.receiver.intake import Arrival, admit  # noqa: E402
from ovc_assets.receiver.landing import LandingService  # noqa: E402
from ovc_assets.receiver.spool import Spool  # noqa: E402
from ovc_assets.storage.raw_events import ROUTE_TV, Disposition, LandingEvent, LandingOutcome  # noqa: E402
from ovc_assets.storage.raw_store import FileRawStore  # noqa: E402
from ovc_assets_tests.receiver.receiver_payloads import unique_export  # noqa: E402


def admitted(count: int) -> list[LandingEvent]:
    return [
        admit(Arrival(ROUTE_TV, unique_export(n).encode(), 700, datetime.now(UTC)), secret=None)[0] for n in range(count)
    ]


def collector_cost(repeat: int) -> tuple[int, float]:
    """Tracked objects (beyond the frozen start-up state) and the median full collection in ms."""
    gc.collect()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - started) * 1000)
    return len(gc.get_objects()), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ovc-bench-gc-") as temporary:
        root = Path(temporary)
        service = LandingService("postgresql://127.0.0.1:1/unused", FileRawStore(root / "raw"), Spool(root / "spool"))
        segment = service.spool.append(admitted(1))  # loads the contracts, as a first request would
        gc.collect()
        gc.freeze()  # as the receiver does once it has started
        empty = collector_cost(args.repeat)

        events = admitted(args.backlog)
        before_shape = deque((time.monotonic(), segment, event) for event in events)
        del events
        before = collector_cost(args.repeat)
        del before_shape

        events = admitted(args.backlog)
        service.conclude(segment, events, [LandingOutcome(e.event_id, e.event_id, Disposition.LANDED) for e in events])
        del events
        now = collector_cost(args.repeat)
        assert service.status()["raw_objects_queued"] == args.backlog
        service.spool.close()
    load = Path("/proc/loadavg").read_text().split()[0]
    print(f"backlog {args.backlog:,} events; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; 1-minute load average {load}")
    for label, (tracked, ms) in (
        ("no backlog", empty),
        ("backlog as (time, Segment, LandingEvent), before", before),
        ("backlog as LandingService queues it now", now),
    ):
        print(f"{label:<50} {tracked - empty[0]:>+8,} tracked objects, full collection {ms * 1000:9.1f} us")
    print(f"full collection, before / now: {before[1] / now[1]:,.0f}x")


if __name__ == "__main__":
    main()
