"""Outcomes of 1,000,000 blocks (10 symbols x 100,000 blocks, about 32 years of FX calendar each)
for three windows (NEXT_2H, NEXT_4H, NEXT_12H): issue 11's performance figures.

1. Compute alone: `compute_outcomes` (numpy over sorted arrays) over every symbol and window,
   against a straightforward per-row Python loop over the same arrays, measured in the same
   run on a sample of blocks (its rate is per block x window, like ours).
2. End to end into Postgres: `compute_range` (read the blocks, compute, binary COPY into a
   staging table, one merge per window) into an empty `ovc_outcomes_v01`, then the same again (a
   rerun that changes nothing), against plain COPY of the same outcome rows (the same binary
   payloads, already encoded) into an empty table with a primary key, in the same run.

    .venv/bin/python benchmarks/bench_outcomes.py --server postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import date

import numpy as np
import pandas as pd
from psycopg import sql

from ovc_assets.calendar import FxCalendar
from ovc_assets.pipeline.outcome_runs import compute_range
from ovc_assets.pipeline.outcomes import OutcomeWindow, SymbolBlocks, compute_outcomes, open_blocks
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.outcomes import STAGING_LAYOUT, binary_copy_rows, copy_binary_rows, create_staging_table
from ovc_assets.storage.postgres import connect, dsn_for_database

SYMBOLS = tuple(f"SYM{n:02d}" for n in range(10))
BLOCKS_PER_SYMBOL = 100_000
WINDOWS = (OutcomeWindow(1), OutcomeWindow(2), OutcomeWindow(6))
FIRST_DAY = date(1993, 1, 3)  # a Sunday
LOOP_SAMPLE = 20_000
BLOCK_TABLE_COLUMNS = ("symbol", "block_start", "block_type", "schema_ver", "block_end", "bid", "date_ny", "block2h",
                       "block4h", "o", "h", "l", "c", "pred_target", "invalidation", "source")  # fmt: skip


def synthetic_blocks(calendar_starts: np.ndarray, calendar_ends: np.ndarray, seed: int, symbol: str) -> tuple[SymbolBlocks, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = BLOCKS_PER_SYMBOL
    closes = 1.2 + np.cumsum(rng.normal(0, 0.001, n))
    opens = np.concatenate([[1.2], closes[:-1]])
    highs = np.maximum(opens, closes) + np.abs(rng.normal(0, 0.0005, n))
    lows = np.minimum(opens, closes) - np.abs(rng.normal(0, 0.0005, n))
    target = closes + rng.choice([-0.002, 0.002], n)
    invalidation = 2 * closes - target
    keep = rng.random(n) > 0.001  # a few gaps
    starts = calendar_starts[:n][keep]
    wall = pd.to_datetime(starts, utc=True).tz_convert("America/New_York")
    date_ny = (wall - pd.Timedelta(hours=17)).date
    letters = np.array(list("ABCDEFGHIJKL"))[((wall.hour - 17) % 24) // 2]
    bids = np.array([f"{d:%Y%m%d}-{letter}-{symbol}" for d, letter in zip(date_ny, letters)], dtype=object)
    series = SymbolBlocks(symbol, starts, bids, highs[keep], lows[keep], closes[keep], target[keep], invalidation[keep], int(starts[-1]))
    frame = pd.DataFrame({
        "symbol": symbol, "block_start": pd.to_datetime(starts, utc=True), "block_type": "2H", "schema_ver": "v01",
        "block_end": pd.to_datetime(calendar_ends[:n][keep], utc=True), "bid": bids, "date_ny": date_ny,
        "block2h": letters, "block4h": [("AB", "CD", "EF", "GH", "IJ", "KL")["ABCDEFGHIJKL".index(x) // 2] for x in letters],
        "o": opens[keep], "h": highs[keep], "l": lows[keep], "c": closes[keep],
        "pred_target": np.char.mod("%.5f", target[keep]), "invalidation": np.char.mod("%.5f", invalidation[keep]), "source": "csv",
    })  # fmt: skip
    return series, frame


def per_row_outcomes(series: SymbolBlocks, calendar_starts: list[int], n_blocks: int, sample: int) -> int:
    """The straightforward way: a Python loop per block over dictionaries and lists."""
    position = {start: index for index, start in enumerate(calendar_starts)}
    prices = {int(s): (h, low, c) for s, h, low, c in zip(series.starts, series.h, series.l, series.c)}
    rows = []
    for i in range(sample):
        start = int(series.starts[i])
        ref = series.c[i]
        target, invalidation = series.pred_target[i], series.invalidation[i]
        members = calendar_starts[position[start] + 1 : position[start] + 1 + n_blocks]
        present = [(k, prices[m]) for k, m in enumerate(members, 1) if m in prices]
        if not present:
            continue
        max_h = max(p[0] for _, p in present)
        min_l = min(p[1] for _, p in present)
        c_end = present[-1][1][2]
        bars_up = next(k for k, p in present if p[0] == max_h)
        bars_down = next(k for k, p in present if p[1] == min_l)
        hit_t = next((k for k, p in present if (p[0] >= target if target >= ref else p[1] <= target)), None)
        hit_i = next((k for k, p in present if (p[0] >= invalidation if invalidation >= ref else p[1] <= invalidation)), None)
        first = "INVALIDATION" if hit_i is not None and (hit_t is None or hit_i <= hit_t) else ("TARGET" if hit_t else "NONE")
        rows.append((max_h - ref, ref - min_l, (c_end - min_l) / (max_h - min_l) if max_h > min_l else None, bars_up, bars_down, first))
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=os.environ.get("OVC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    calendar = FxCalendar()
    span = open_blocks(calendar, FIRST_DAY, date(2026, 6, 1))
    generated = [synthetic_blocks(span.starts, span.ends, seed, symbol) for seed, symbol in enumerate(SYMBOLS)]
    total_blocks = sum(len(series.starts) for series, _ in generated)
    start = pd.Timestamp(span.starts[0], tz="UTC").to_pydatetime()
    end = pd.Timestamp(span.starts[BLOCKS_PER_SYMBOL], tz="UTC").to_pydatetime()
    start_ns, end_ns = int(span.starts[0]), int(span.starts[BLOCKS_PER_SYMBOL])

    began = time.perf_counter()
    computed = sum(len(compute_outcomes(series, span, start_ns, end_ns, window)) for window in WINDOWS for series, _ in generated)
    vectorised_s = time.perf_counter() - began
    vectorised_rate = total_blocks * len(WINDOWS) / vectorised_s

    calendar_list = [int(s) for s in span.starts]
    began = time.perf_counter()
    for window in WINDOWS:
        per_row_outcomes(generated[0][0], calendar_list, window.blocks, LOOP_SAMPLE)
    loop_s = time.perf_counter() - began
    loop_rate = LOOP_SAMPLE * len(WINDOWS) / loop_s

    name = f"ovc_bench_{uuid.uuid4().hex[:8]}"
    with connect(args.server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for_database(args.server, name)
    try:
        migrate(dsn)
        with connect(dsn) as conn:
            statement = sql.SQL("COPY ovc.ovc_blocks_v01 ({}) FROM STDIN (FORMAT csv)").format(
                sql.SQL(", ").join(map(sql.Identifier, BLOCK_TABLE_COLUMNS))
            )
            for _, frame in generated:
                with conn.cursor() as cursor, cursor.copy(statement) as copy:
                    copy.write(frame.to_csv(index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S%z").encode())
            conn.commit()
            conn.execute("ANALYZE ovc.ovc_blocks_v01")
            conn.commit()

            end_to_end = []
            for _ in range(2):  # first into the empty table, then the rerun that changes nothing
                began = time.perf_counter()
                result = compute_range(conn, SYMBOLS, start, end, WINDOWS, "bench-run", RunCounts(), calendar)
                conn.commit()
                end_to_end.append(time.perf_counter() - began)
            rows = result.write.attempted

            copy_table = sql.Identifier("ovc", "bench_copy")
            create_staging_table(conn, copy_table, temporary=False)
            conn.execute("ALTER TABLE ovc.bench_copy ADD PRIMARY KEY (symbol_index, block_start, outcome_dir, window_end)")
            conn.commit()
            payloads = []
            for window in WINDOWS:
                parts = [b.staged(n) for n, b in enumerate((b for b in result.batches if b.window == window), start=1)]
                payloads.append(binary_copy_rows({name: np.concatenate([p[name] for p in parts]) for name, _, _ in STAGING_LAYOUT}))
            began = time.perf_counter()
            for payload in payloads:
                copy_binary_rows(conn, copy_table, payload)
            conn.commit()
            copy_s = time.perf_counter() - began
    finally:
        with connect(args.server, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    print(f"blocks: {total_blocks:,} ({len(SYMBOLS)} symbols); windows: {', '.join(w.name for w in WINDOWS)}; outcome rows: {rows:,} (computed {computed:,})")
    print("| measurement | time (s) | blocks x windows per s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| per-row Python loop ({LOOP_SAMPLE:,} blocks x 3 windows) | {loop_s:.2f} | {loop_rate:,.0f} | 1x |")
    print(f"| compute_outcomes, numpy (all blocks x 3 windows) | {vectorised_s:.2f} | {vectorised_rate:,.0f} | {vectorised_rate / loop_rate:,.0f}x the loop |")
    print(f"| plain COPY of the outcome rows into an empty table | {copy_s:.2f} | {rows / copy_s:,.0f} | 1x |")
    print(f"| end to end into an empty ovc_outcomes_v01 | {end_to_end[0]:.2f} | {rows / end_to_end[0]:,.0f} | {end_to_end[0] / copy_s:.2f}x the COPY time |")
    print(f"| end to end again, nothing changes | {end_to_end[1]:.2f} | {rows / end_to_end[1]:,.0f} | {end_to_end[1] / copy_s:.2f}x the COPY time |")


if __name__ == "__main__":
    main()
