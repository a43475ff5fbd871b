"""Dagster bookkeeping of range runs (issue 12), run by hand; prints a Markdown section for RESULTS.md.

    .venv/bin/python benchmarks/bench_bookkeeping.py [--server-dsn DSN] [--m1-years 0] [--h1-years 0] [--switches-off]
        [--range-runs-only] [--range-rounds 40]

On a scratch database of `--server-dsn` (dropped at the end), with the Dagster instance in
PostgreSQL beside it, as `ovc` uses it:

1. `ovc backfill csv` (a real `ovc` process) of one block and of a year of H1 bars (3,096
   blocks), interleaved, with the bookkeeping switches as `ovc` sets them (`--switches-off`:
   also with them switched off, the state before issue 12);
2. `--m1-years N` > 0: `ovc backfill csv` of N years of M1 bars of one symbol, end to end;
   `--h1-years N` > 0: the same years as two H1 bars per block (as many partitions, a data path
   60 times smaller: the bookkeeping of that many partitions);
3. in-process on the same instance: a live range run of `ovc_blocks` over 60 partitions
   (no alerts landed) against an empty range run (an asset doing nothing) over the same range
   (`--range-runs-only`: this part alone, e.g. under a profiler), alternating, `--range-rounds`
   of each (medians; with 15 the ratio moves by +-0.1x between runs, with 40 by +-0.05x); then
   the last live run's check evaluations stored again through dagster-postgres's `store_event`
   and through `OvcEventLogStorage`'s, alternating.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from dagster._core.utils import make_new_run_id
from dagster_postgres.event_log import PostgresEventLogStorage
from psycopg import sql

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.dagster_env import DAGSTER_ENV_DEFAULTS
from ovc_assets.dagster_instance import (
    DAGSTER_URL_ENV,
    ensure_dagster_database,
    open_dagster_instance,
    sqlalchemy_psycopg2_url,
)
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, build_block_assets
from ovc_assets.defs.blocks.inprocess import QUIET_RUN_CONFIG
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import connect, dsn_for_database, server_version

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
YEAR = (Block(date(2024, 1, 7), "A").start_utc, Block(date(2025, 1, 5), "A").start_utc)
SWITCHES_OFF = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "false", "DAGSTER_EVENT_BATCH_SIZE": "0"}
ROUNDS = 1


def write_bars(path: Path, bar_starts: np.ndarray, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    opens = 1.1 + np.cumsum(rng.normal(0, 2e-4, len(bar_starts)))
    closes = opens + rng.normal(0, 2e-4, len(bar_starts))
    pd.DataFrame({
        "timestamp": bar_starts, "open": opens.round(5), "high": (np.maximum(opens, closes) + 3e-4).round(5),
        "low": (np.minimum(opens, closes) - 3e-4).round(5), "close": closes.round(5), "volume": 100,
    }).to_csv(path, index=False)  # fmt: skip
    return path


def open_block_starts(start: datetime, end: datetime) -> np.ndarray:
    return np.array([int(block.start_utc.timestamp()) for block in FxCalendar().expected_blocks(start, end)])


def ovc_backfill(path: Path, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", "backfill", "csv", "--symbol", "EURUSD", "--file", str(path)],
        env=environment, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - started


def range_runs(dsn: str, partitions: int, rounds: int) -> dict[str, float]:
    """Seconds of a live `ovc_blocks` range run and of an empty range run over the same partitions."""
    first = Block(date(2026, 2, 1), "A")
    blocks_2h = blocks_2h_partitions(first.start_utc)
    last = FxCalendar().expected_blocks(first.start_utc, first.start_utc + timedelta(days=14))[partitions - 1]
    tags = {"dagster/asset_partition_range_start": partition_key_for_block(first),
            "dagster/asset_partition_range_end": partition_key_for_block(last)}  # fmt: skip

    @dg.asset(name="empty_range", partitions_def=blocks_2h, backfill_policy=dg.BackfillPolicy.single_run())
    def empty_range() -> None:
        """Does nothing: the floor of a range run."""

    (blocks,) = [asset for asset in build_block_assets(blocks_2h) if asset.key == OVC_BLOCKS]
    resources = {"ovc_database": PostgresResource(database_url=dsn), "pipeline": PipelineSettings()}
    seconds: dict[str, list[float]] = {"empty range run": [], "live ovc_blocks range run": []}
    with open_dagster_instance(dsn) as instance:
        for _ in range(rounds):
            for name, asset in (("empty range run", empty_range), ("live ovc_blocks range run", blocks)):
                started = time.perf_counter()
                dg.materialize([asset], instance=instance, resources=resources, tags=tags, run_config=QUIET_RUN_CONFIG)
                seconds[name].append(time.perf_counter() - started)
        seconds.update(check_store_seconds(instance, rounds))
    return {name: statistics.median(values) for name, values in seconds.items()}


def check_store_seconds(instance: dg.DagsterInstance, rounds: int) -> dict[str, list[float]]:
    """Seconds to store the check evaluations of the last live run again (under new run ids),
    through dagster-postgres's `store_event` and through `OvcEventLogStorage`'s, alternating."""
    (run,) = instance.get_runs(limit=1)
    evaluations = [
        record.event_log_entry
        for record in instance.get_records_for_run(run.run_id).records
        if record.event_log_entry.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    storage = instance.event_log_storage
    seconds: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, store in ((f"{len(evaluations)} check evaluations stored, dagster-postgres", partial(PostgresEventLogStorage.store_event, storage)),
                            (f"{len(evaluations)} check evaluations stored, OvcEventLogStorage", storage.store_event)):  # fmt: skip
            run_id = make_new_run_id()
            started = time.perf_counter()
            for evaluation in evaluations:
                store(evaluation._replace(run_id=run_id))
            seconds.setdefault(name, []).append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-dsn", default=DEFAULT_SERVER_DSN)
    parser.add_argument("--m1-years", type=int, default=0)
    parser.add_argument("--h1-years", type=int, default=0)
    parser.add_argument("--switches-off", action="store_true")
    parser.add_argument("--range-runs-only", action="store_true")
    parser.add_argument("--range-rounds", type=int, default=40)
    args = parser.parse_args()
    name = f"bench_bookkeeping_{os.getpid()}"
    with connect(args.server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for_database(args.server_dsn, name)
    try:
        version = f"PostgreSQL {server_version(args.server_dsn)}"
        migrate(dsn)
        folder = Path(tempfile.mkdtemp(prefix="bench_bookkeeping_"))
        home = folder / "ovc_home"
        environment = {**os.environ, "OVC_DATABASE_URL": dsn, "OVC_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
                       DAGSTER_URL_ENV: sqlalchemy_psycopg2_url(ensure_dagster_database(dsn))}  # fmt: skip
        for switch in DAGSTER_ENV_DEFAULTS:
            environment.pop(switch, None)
        year_starts = open_block_starts(*YEAR)
        one_block = write_bars(folder / "one_block.csv", year_starts[:1] + np.array([0, 3600]), 1)
        year = write_bars(folder / "year_h1.csv", (year_starts[:, None] + np.array([0, 3600])).ravel(), 2)
        ovc_backfill(one_block, environment)  # untimed: the first `ovc` run creates the Dagster instance's tables
        cli: dict[str, list[float]] = {}
        switch_states = [("switches set by ovc", {})] + [("switches off", SWITCHES_OFF)] * args.switches_off
        if args.range_runs_only:
            switch_states = []
        for _ in range(ROUNDS):
            for label, overrides in switch_states:
                for size, path in (("one block", one_block), ("year of H1", year)):
                    cli.setdefault(f"{size}, {label}", []).append(ovc_backfill(path, {**environment, **overrides}))
        years_runs = []
        for label, years, bar_seconds, bars_per_block in (("M1", args.m1_years, 60, 120), ("H1", args.h1_years, 3600, 2)):
            if years and not args.range_runs_only:
                first = Block(date(2005, 1, 2), "A").start_utc
                starts = open_block_starts(first, first + timedelta(days=365 * years))
                bars = (starts[:, None] + np.arange(bars_per_block) * bar_seconds).ravel()
                path = write_bars(folder / f"{label}_{years}y.csv", bars, 3)
                years_runs.append((label, years, len(bars), len(starts), ovc_backfill(path, environment)))
                path.unlink()
        for name_value in DAGSTER_ENV_DEFAULTS.items():
            os.environ.setdefault(*name_value)
        for key in ("OVC_HOME", "DAGSTER_HOME", DAGSTER_URL_ENV):
            os.environ[key] = environment[key]
        ranges = range_runs(dsn, 60, args.range_rounds)
    finally:
        with connect(args.server_dsn, autocommit=True) as conn:
            for database in (f"{name}_dagster", name):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    medians = {key: statistics.median(values) for key, values in cli.items()}
    lines = [
        "### Dagster bookkeeping of range runs (issue 12): `benchmarks/bench_bookkeeping.py`",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_bookkeeping.py {' '.join(sys.argv[1:])}` "
        f"(run {datetime.now(UTC).isoformat(timespec='seconds')}).",
        f"Machine: nproc {os.cpu_count()}, Python {platform.python_version()}, {version} on 127.0.0.1, Dagster "
        f"{dg.__version__}, instance in PostgreSQL; 1-minute load average {os.getloadavg()[0]:.1f} at the end.",
        "",
    ]
    if cli:
        lines += [
            f"| `ovc backfill csv` (a whole `ovc` process, {ROUNDS} run(s) each) | seconds | vs one block, same switches |",
            "|---|---:|---:|",
        ]
    for label, _ in switch_states:
        base = medians[f"one block, {label}"]
        for size in ("one block", "year of H1"):
            lines.append(f"| {size} ({len(year_starts) if size != 'one block' else 1:,} blocks), {label} "
                         f"| {medians[f'{size}, {label}']:.1f} | {medians[f'{size}, {label}'] / base:.1f}x |")  # fmt: skip
    for label, years, bars, blocks, seconds in years_runs:
        lines += ["", f"{label}: {bars:,} bars -> {blocks:,} blocks ({years} years, one symbol), `ovc backfill csv` "
                  f"end to end: {seconds:.1f} s."]  # fmt: skip
    floor = ranges["empty range run"]
    lines += ["", f"| range run over 60 2H partitions, in-process, median of {args.range_rounds} | seconds | vs empty |", "|---|---:|---:|"]
    lines += [f"| {key} | {value:.3f} | {value / floor:.2f}x |" for key, value in ranges.items() if "range run" in key]
    stores = [(key, value) for key, value in ranges.items() if "range run" not in key]
    lines += ["", f"| the last live run's check evaluations stored again, median of {args.range_rounds} | ms | vs dagster-postgres |", "|---|---:|---:|"]
    lines += [f"| {key} | {value * 1e3:.1f} | {value / stores[0][1]:.2f}x |" for key, value in stores]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
