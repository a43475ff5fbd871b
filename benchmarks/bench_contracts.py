"""Benchmark: parse + validate a batch of MIN payloads, as the blocks asset does.

Run by hand from the repository root:

    .venv/bin/python benchmarks/bench_contracts.py [--count 100000] [--repeat 3]

Generates `--count` realistic MIN export strings deterministically (75% legacy MIN v0.1 as
real alerts send them, 25% MIN v0.1.1 r1; six symbols over consecutive open FX blocks;
random-walk prices; some `na` and empty optional values), then times, in one process:
a naive `dict(kv.split('=', 1) ...)` split (the baseline), `parse_export` alone, building
the DataFrame, pandera validation alone (`validate_min_blocks`), and the whole pipeline.
Prints a markdown block for `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pandera

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.contracts import (
    MIN_R1,
    MIN_V0_1,
    MinBlock,
    min_blocks_frame,
    parse_export,
    parse_exports,
    render_min_block,
    validate_min_blocks,
)

SYMBOLS = ("GBPUSD", "EURUSD", "USDJPY", "AUDUSD", "USDCAD", "EURGBP")
START_PRICES = {"GBPUSD": 1.27, "EURUSD": 1.09, "USDJPY": 148.0, "AUDUSD": 0.66, "USDCAD": 1.35, "EURGBP": 0.86}
R1_SHARE = 0.25
TAGS = {
    "state_tag": ("ROTATE", "STABLE", "EXPAND", "COMPRESS"),
    "value_tag": ("ACCEPT-", "ACCEPT+", "VAH_HOLD", "VAL_HOLD", "REJECT"),
    "event": ("PureIn", "SweepHi", "SweepLo", "CHoCH", None),
    "cp_tag": ("LOW", "MID", "HIGH", "CP1"),
    "trend_tag": ("CAMPAIGN", "MIXED", "UP_BIAS", "DN_BIAS"),
    "struct_state": ("MIX", "UP", "DN", "BOS_CONF"),
    "space_tag": ("MID", "LOW", "PREMIUM", "DISCOUNT"),
    "htf_stack": ("CONTRA", "WITH", "D:UP>4H:UP>1H:UP", None),
    "rd_state": (None, None, "RANGE_BREAK", "IN_RANGE"),
    "regime_tag": (None, "RISK_ON", "RISK_OFF"),
    "trans_risk": (None, "LOW", "HIGH"),
    "bias_mode": ("TRANSITION", "FOLLOW", "FADE"),
    "bias_dir": ("UP", "DOWN", "NEUTRAL"),
    "perm_state": ("YELLOW", "RED", "GREEN", "ALLOW"),
    "rail_loc": (None, "UPPER", "LOWER"),
    "conf_l3": ("D", "C", "B", "HIGH"),
    "play": ("SELECTIVE_CONT", "NONE", "PB_PULLBACK"),
    "pred_dir": ("UP", "DOWN", "NEUTRAL"),
    "timebox": ("TB_6bars", "TB_0", "IJ"),
    "invalidation": ("INV_NO_CONFIRM", "INV_RED_STATE", None),
    "note": (None, None, "clean_close"),
}


def open_blocks(count: int) -> list[Block]:
    """At least `count` consecutive open FX blocks from the first week of 2024."""
    start = datetime(2024, 1, 7, 22, tzinfo=UTC)
    blocks: list[Block] = []
    calendar = FxCalendar()
    while len(blocks) < count:
        end = start + timedelta(days=56)
        blocks.extend(calendar.expected_blocks(start, end))
        start = end
    return blocks[:count]


def generate_payloads(count: int, seed: int = 20260113) -> list[str]:
    """`count` valid MIN export strings, the same for the same seed."""
    rng = random.Random(seed)
    blocks = open_blocks(count // len(SYMBOLS) + 1)
    prices = dict(START_PRICES)
    payloads = []
    for number in range(count):
        symbol = SYMBOLS[number % len(SYMBOLS)]
        block = blocks[number // len(SYMBOLS)]
        decimals = 3 if symbol.endswith("JPY") else 5
        o = prices[symbol]
        c = round(o * (1 + rng.gauss(0, 0.0015)), decimals)
        h = round(max(o, c) * (1 + abs(rng.gauss(0, 0.0008))), decimals)
        low = round(min(o, c) * (1 - abs(rng.gauss(0, 0.0008))), decimals)
        prices[symbol] = c
        tags: dict[str, Any] = {name: rng.choice(choices) for name, choices in TAGS.items()}
        contract = MIN_R1 if rng.random() < R1_SHARE else MIN_V0_1
        canonical = MinBlock(
            contract=contract,
            scheme="",
            producer_ver="OVC_LOG_V0.1",
            symbol=symbol,
            block_id=block.block_id(symbol),
            date_ny=block.date_ny,
            block_letter=block.letter,
            block4h=block.pair,
            bar_close_ms=block.start_ms,
            block_start=block.start_utc,
            block_end=block.end_utc,
            o=o,
            h=h,
            l=low,
            c=c,
            dir=(c > o) - (c < o),
            rng=h - low,
            body=abs(c - o),
            ret=(c - o) / o,
            tt=rng.randint(0, 12),
            tis=rng.choice((None, rng.randint(0, 40))),
            rrc=round(rng.uniform(0.0001, 0.003), 5),
            vrc=round(rng.uniform(0.2, 1.5), 3),
            with_htf=rng.random() < 0.5,
            tradeable=rng.random() < 0.3,
            pred_target=rng.choice((None, f"{c:.{decimals}f}")),
            source="TV",
            build_id="OVC_v0.1",
            ready=rng.random() < 0.9,
            news_flag=rng.random() < 0.1,
            unknown_key_count=0,
            **tags,
        )
        payloads.append(render_min_block(contract, canonical))
    return payloads


def naive_split(payloads: list[str]) -> list[dict[str, str]]:
    """The baseline: what splitting alone costs, with no typing or checks."""
    return [dict(pair.split("=", 1) for pair in payload.split("|")) for payload in payloads]


def parse_all(payloads: list[str]) -> list[MinBlock]:
    results = parse_exports(payloads)
    failures = [result for result in results if not result.ok]
    if failures:
        raise SystemExit(f"{len(failures)} generated payloads failed, first: {failures[0].message}")
    return [result.record for result in results]


def pipeline(payloads: list[str]) -> int:
    """Parse, build the frame and validate it; returns the number of valid rows."""
    validation = validate_min_blocks(min_blocks_frame(parse_all(payloads)))
    if validation.failed_rows:
        raise SystemExit(f"{validation.failed_rows} rows failed pandera: {validation.fail_by_code()}")
    return len(validation.valid)


def median_seconds(action: Callable[[], Any], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    count, repeat = args.count, args.repeat
    load_at_start = os.getloadavg()[0]

    payloads = generate_payloads(count)
    pipeline(payloads)  # warms the calendar caches, as a running asset would have them
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    pipeline(payloads)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    records = parse_all(payloads)
    frame = min_blocks_frame(records)
    naive = median_seconds(lambda: naive_split(payloads), repeat)
    parse_each = median_seconds(lambda: [parse_export(payload) for payload in payloads], repeat)
    parse = median_seconds(lambda: parse_all(payloads), repeat)
    build = median_seconds(lambda: min_blocks_frame(records), repeat)
    validate = median_seconds(lambda: validate_min_blocks(frame), repeat)
    total = median_seconds(lambda: pipeline(payloads), repeat)

    def rate(seconds: float) -> str:
        return f"{count / seconds:,.0f}"

    average_bytes = sum(map(len, payloads)) / count
    print(f"### Contracts: parse + validate {count:,} MIN payloads")
    print()
    print(f"- Command: `.venv/bin/python benchmarks/bench_contracts.py --count {count} --repeat {repeat}`")
    print(
        f"- Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), Python {platform.python_version()}, "
        f"pandas {pd.__version__}, pandera {pandera.__version__}, {platform.machine()} {platform.system()}; "
        f"load average {load_at_start:.2f} at start (the machine is shared)"
    )
    print(f"- Date: {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
    print(
        f"- Payloads: {1 - R1_SHARE:.0%} MIN v0.1 / {R1_SHARE:.0%} MIN r1, {len(SYMBOLS)} symbols, "
        f"mean {average_bytes:.0f} bytes; median of {repeat} runs"
    )
    print()
    print("| step | seconds | payloads/s | share of total |")
    print("|---|---:|---:|---:|")
    for label, seconds in (
        ("naive `dict(kv.split('='))` baseline", naive),
        ("`parse_export` one by one, garbage collector on (not in total)", parse_each),
        ("`parse_exports` batch (typing + semantic + identity)", parse),
        ("build DataFrame (`min_blocks_frame`)", build),
        ("pandera (`validate_min_blocks`)", validate),
        ("**total: parse + frame + pandera**", total),
    ):
        share = f"{seconds / total:.0%}" if label.startswith(("`parse_exports`", "build", "pandera")) else ""
        print(f"| {label} | {seconds:.3f} | {rate(seconds)} | {share} |")
    print()
    print(f"- Parser vs naive split: {parse / naive:.1f}x the time of the bare split.")
    print(f"- Target >= 20,000 payloads/s total: {'met' if count / total >= 20_000 else 'NOT met'}.")
    print(
        f"- Peak memory: {peak_rss_mib:,.0f} MiB process RSS (ru_maxrss after generating the payloads and one "
        f"pipeline run, imports included); {traced_peak / 2**20:,.0f} MiB of Python allocations at the peak "
        "of one pipeline run (tracemalloc)."
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
