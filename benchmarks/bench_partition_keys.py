"""What each UI page of a 2H asset pays: the webserver builds the partitions definition from its
snapshot on every request and lists every key (`partitionKeysByDimension`, also when a page asks
only for the dimension's name). Times that listing in this process for the old default start,
the demo week and the current default (4 weeks back), with and without the weekend/holiday
exclusions. Run by hand; prints a markdown table for benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/bench_partition_keys.py
"""

from __future__ import annotations

import statistics
import time
from datetime import date, datetime

import dagster as dg

from ovc_assets.calendar import NEW_YORK
from ovc_assets.defs.partitions import BLOCK_KEY_FORMAT, BLOCKS_2H_CRON, blocks_2h_partitions, default_partitions_start

REPEATS = 3


def seconds_to_list_keys(build) -> tuple[int, float]:
    """Keys and the median seconds to list them, each time on a fresh definition (as per request)."""
    timings, count = [], 0
    for _ in range(REPEATS):
        began = time.perf_counter()
        count = len(build().get_partition_keys())
        timings.append(time.perf_counter() - began)
    return count, statistics.median(timings)


def main() -> None:
    starts = {
        "old default (Jan 1 of last year)": datetime(date.today().year - 1, 1, 1, 17, tzinfo=NEW_YORK),
        "demo week": datetime(2026, 1, 11, 17, tzinfo=NEW_YORK),
        "new default (4 weeks back)": default_partitions_start(date.today()),
    }
    print("| start | 2H partitions | list keys (s) | ms per key | without exclusions: keys | list keys (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, start in starts.items():
        count, seconds = seconds_to_list_keys(lambda: blocks_2h_partitions(start))
        bare_count, bare_seconds = seconds_to_list_keys(
            lambda: dg.TimeWindowPartitionsDefinition(
                start=start, fmt=BLOCK_KEY_FORMAT, cron_schedule=BLOCKS_2H_CRON, timezone="America/New_York"
            )
        )
        print(f"| {label}, {start:%Y-%m-%d %H:%M} | {count:,} | {seconds:.3f} | {seconds / count * 1000:.3f} "
              f"| {bare_count:,} | {bare_seconds:.3f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
