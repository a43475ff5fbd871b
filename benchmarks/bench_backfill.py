"""History backfill benchmark (issue 6), run by hand; prints a Markdown section for RESULTS.md.

    .venv/bin/python benchmarks/bench_backfill.py [--server-dsn DSN] [--symbols 20] [--blocks 50000]
                                                  [--m1-bars 10000000] [--bookkeeping-partitions 600]

Everything runs on one scratch database created on the server of `--server-dsn` (default
postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end; inputs are generated
CSV files in a temporary folder.

1. 2H input, `--symbols` CSV files of `--blocks` New-York-aligned 2H bars each (from 2005):
   a. end to end through the `ovc_blocks` asset (CSV source, one run per file, first load and
      rerun): the backfill's data path (read, resample, upsert in checkpointed chunks) from the
      run's progress events, and the whole run's wall time (checks included);
   b. write path only, on the same database and the same rows (built beforehand): the upsert
      (`upsert_provider_columns`, chunks of `--chunk-blocks`, each committed), its rerun (every
      row already stored, unchanged), plain binary COPY of the same rows into an empty table (the ceiling; also
      of the candle columns alone, as this benchmark measured it before the rows carried their
      derived prices), and the upstream method, psycopg2 `executemany` of an INSERT .. ON
      CONFLICT DO UPDATE, on a sample, extrapolated. Each path's wall time comes with its CPU
      time, this process's and its server backend's (from /proc, the server being local): the
      machine is shared, and CPU seconds move less with its load than wall seconds do.
2. M1 input, one CSV file of `--m1-bars` 1-minute bars resampled into 2H blocks, in a child
   process whose peak resident memory (ru_maxrss) is reported.
3. Dagster's bookkeeping per 2H partition (one materialisation event per partition of a
   range run), on an in-memory instance and on the persistent Postgres instance.

Parts 1 and 2 build the asset on yearly partitions so that they time the backfill, not the
per-partition bookkeeping that part 3 measures on the real 2H partitions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import psycopg2
from psycopg import sql

from ovc_assets.calendar import NEW_YORK, Block, FxCalendar
from ovc_assets.cli.backfill import csv_span
from ovc_assets.dagster_instance import (
    DAGSTER_URL_ENV,
    ensure_dagster_database,
    open_dagster_instance,
    sqlalchemy_psycopg2_url,
)
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, build_block_assets
from ovc_assets.backfill.engine import BackfillProgress, provider_columns, reporting_progress_to
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.providers.csv_candles import read_candle_csv
from ovc_assets.providers.resample import resample_to_blocks
from ovc_assets.storage.binary_copy import binary_copy
from ovc_assets.storage.blocks import PROVIDER_BLOCK_COLUMNS, PROVIDER_ROW_COLUMNS, PROVIDER_ROW_TYPES, upsert_provider_columns
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import connect, dsn_for_database, server_version

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
HISTORY_START = date(2005, 1, 2)  # a Sunday: the first FX session of 2005 opens that evening
M1_START = date(2000, 1, 2)
WRITE_CHUNK_ROWS = 1_000_000
YEARLY = dg.TimeWindowPartitionsDefinition(
    start=datetime(1999, 1, 1, 17, tzinfo=NEW_YORK), fmt="%Y", cron_schedule="0 17 1 1 *", timezone="America/New_York"
)
COPY_CEILING_TABLE = "bench_copy_ceiling"
COPY_CANDLE_TABLE = "bench_copy_candle"
COPY_KEYED_TABLE = "bench_copy_keyed"
# The spine's primary key and secondary index (sql/012), on the keyed COPY target.
KEYED_TABLE_INDEXES = f"""
ALTER TABLE {COPY_KEYED_TABLE} ADD PRIMARY KEY (symbol, block_start, block_type, schema_ver);
CREATE INDEX ON {COPY_KEYED_TABLE} USING brin (run_id text_bloom_ops) WITH (autosummarize = on);
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UPSTREAM_TABLE = "bench_upstream"
UPSTREAM_UPSERT = f"""
INSERT INTO {UPSTREAM_TABLE} ({", ".join(PROVIDER_BLOCK_COLUMNS)}, source)
VALUES ({", ".join(["%s"] * len(PROVIDER_BLOCK_COLUMNS))}, 'csv')
ON CONFLICT (symbol, block_start, block_type, schema_ver) DO UPDATE SET
    {", ".join(f"{column} = EXCLUDED.{column}" for column in PROVIDER_BLOCK_COLUMNS if column.startswith("provider_"))}
"""


def open_block_starts(first_day: date, count: int) -> np.ndarray:
    """Epoch seconds of the first `count` open blocks of the FX calendar from `first_day`."""
    starts: list[int] = []
    day = first_day
    calendar = FxCalendar()
    while len(starts) < count:
        span = calendar.expected_blocks(Block(day, "A").start_utc, Block(day + timedelta(days=364), "A").start_utc)
        starts.extend(int(block.start_utc.timestamp()) for block in span)
        day += timedelta(days=364)
    return np.array(starts[:count], dtype=np.int64)


def write_bars_csv(path: Path, bar_starts: Iterator[np.ndarray], seed: int) -> int:
    """A generic candle CSV (UTC text timestamps) of random-walk bars, written chunk by chunk."""
    rng = np.random.default_rng(seed)
    price, written = 1.25, 0
    for index, starts in enumerate(bar_starts):
        opens = price + np.cumsum(rng.normal(0, 2e-4, len(starts)))
        closes = opens + rng.normal(0, 2e-4, len(starts))
        price = float(closes[-1])
        pd.DataFrame({
            "timestamp": np.datetime_as_string(starts.astype("datetime64[s]"), unit="s"),
            "open": opens.round(5),
            "high": (np.maximum(opens, closes) + 3e-4).round(5),
            "low": (np.minimum(opens, closes) - 3e-4).round(5),
            "close": closes.round(5),
            "volume": rng.integers(1, 500, len(starts)),
        }).to_csv(path, mode="a" if index else "w", header=not index, index=False)  # fmt: skip
        written += len(starts)
    return written


def minute_bar_starts(count: int) -> Iterator[np.ndarray]:
    block_starts = open_block_starts(M1_START, -(-count // 120))
    minutes = np.arange(120, dtype=np.int64) * 60
    per_chunk = WRITE_CHUNK_ROWS // 120
    for offset in range(0, len(block_starts), per_chunk):
        yield (block_starts[offset : offset + per_chunk, None] + minutes).ravel()[: count - offset * 120]


def yearly_range_tags(first_ts: int, last_ts: int) -> dict[str, str]:
    years = [datetime.fromtimestamp(ts, UTC).astimezone(NEW_YORK) for ts in (first_ts, last_ts)]
    first, last = (YEARLY.get_partition_key_for_timestamp(year.timestamp()) for year in years)
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


@contextmanager
def timed_backfill() -> Iterator[dict[str, float]]:
    """Times from a backfill's progress events: the first start and the last committed chunk."""
    marks: dict[str, float] = {}

    def listen(progress: BackfillProgress) -> None:
        marks.setdefault("start", time.perf_counter())
        marks["last_commit"] = time.perf_counter()

    with reporting_progress_to(listen):
        yield marks


def materialize_csv(
    asset: dg.AssetsDefinition, dsn: str, path: Path, symbol: str, tags: dict[str, str], instance: dg.DagsterInstance, chunk_blocks: int
) -> dict[str, float]:
    config = {"source": "csv", "symbols": [symbol], "csv_paths": [str(path)], "chunk_blocks": chunk_blocks}
    started, cpu_started = time.perf_counter(), process_cpu_seconds()
    with timed_backfill() as marks:
        result = dg.materialize(
            [asset],
            instance=instance,
            resources={"ovc_database": PostgresResource(database_url=dsn), "pipeline": PipelineSettings(symbols=[symbol])},
            run_config={"ops": {"ovc_blocks": {"config": config}}, "loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            tags=tags,
            selection=[OVC_BLOCKS],
        )
    wall, cpu = time.perf_counter() - started, process_cpu_seconds() - cpu_started
    metadata = {key: value.value for key, value in result.asset_materializations_for_node("ovc_blocks")[0].metadata.items()}
    return {
        "wall": wall,
        "cpu": cpu,
        "data_path": marks["last_commit"] - marks["start"],
        "blocks": metadata["received_events"],
        "inserted": metadata["rows_inserted"],
        "skipped": metadata["insert_skipped"],
        "candles": metadata["candles_read"],
    }


def end_to_end(dsn: str, files: dict[str, Path], tags: dict[str, str], chunk_blocks: int) -> dict[str, dict[str, float]]:
    (asset,) = [a for a in build_block_assets(YEARLY) if a.key == OVC_BLOCKS]
    phases = {}
    with dg.DagsterInstance.ephemeral() as instance:
        for phase in ("first load", "rerun"):
            runs = [materialize_csv(asset, dsn, path, symbol, tags, instance, chunk_blocks) for symbol, path in files.items()]
            phases[phase] = {key: sum(run[key] for run in runs) for key in runs[0]}
    return phases


def columns_of(path: Path, symbol: str) -> dict[str, np.ndarray]:
    blocks = pd.concat(list(resample_to_blocks(read_candle_csv(path), symbol=symbol, source="csv")), ignore_index=True)
    return provider_columns(blocks, "bench")


def chunks(columns: dict[str, np.ndarray], size: int) -> Iterator[dict[str, np.ndarray]]:
    for offset in range(0, len(columns["symbol"]), size):
        yield {name: values[offset : offset + size] for name, values in columns.items()}


def copy_payload(chunk: dict[str, np.ndarray], names: Sequence[str]) -> bytes:
    """What the upsert sends, for the plain COPYs: the same binary rows."""
    kinds = [PROVIDER_ROW_TYPES[name] for name in names]
    nulls = [np.isnan(chunk[name]) if kind == "float8" else None for name, kind in zip(names, kinds)]
    return binary_copy(kinds, [chunk[name] for name in names], nulls)


def upstream_rows(columns: dict[str, np.ndarray], count: int) -> list[tuple[object, ...]]:
    """The first `count` candles as Python values, for psycopg2."""
    values = {name: columns[name][:count] for name in PROVIDER_BLOCK_COLUMNS}
    for name in ("block_start", "block_end"):
        values[name] = pd.DatetimeIndex(values[name]).tz_localize("UTC").to_pydatetime()
    return list(zip(*(values[name].tolist() for name in PROVIDER_BLOCK_COLUMNS)))


@dataclass
class Spent:
    """Seconds spent by a write path: wall, this process's CPU, its server backend's CPU."""

    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def backend_cpu_seconds(backend_pid: int) -> float:
    """User + system CPU of a local server backend (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def spending(spent: Spent, backend_pid: int) -> Iterator[None]:
    wall, client, server = time.perf_counter(), process_cpu_seconds(), backend_cpu_seconds(backend_pid)
    yield
    spent.wall += time.perf_counter() - wall
    spent.client_cpu += process_cpu_seconds() - client
    spent.server_cpu += backend_cpu_seconds(backend_pid) - server


def write_paths(dsn: str, files: dict[str, Path], chunk_rows: int, upstream_sample: int) -> dict[str, object]:
    """What each write path spent over all files' rows (upstream: on its sample, with its size)."""
    spent = {path: Spent() for path in ("upsert", "upsert rerun", COPY_CEILING_TABLE, COPY_CANDLE_TABLE, COPY_KEYED_TABLE)}
    copy_columns = {COPY_CEILING_TABLE: PROVIDER_ROW_COLUMNS, COPY_CANDLE_TABLE: PROVIDER_BLOCK_COLUMNS, COPY_KEYED_TABLE: PROVIDER_ROW_COLUMNS}
    with connect(dsn) as conn:
        conn.execute("TRUNCATE ovc.ovc_blocks_v01, ovc.backfill_checkpoints")
        for table, columns in copy_columns.items():
            conn.execute(
                sql.SQL("CREATE TABLE {} AS SELECT {} FROM ovc.ovc_blocks_v01 WITH NO DATA").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
                )
            )
        conn.execute(KEYED_TABLE_INDEXES)
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE ovc.ovc_blocks_v01 INCLUDING ALL)").format(sql.Identifier(UPSTREAM_TABLE)))
        conn.commit()
        backend = conn.info.backend_pid
        total_rows, sample = 0, []
        for symbol, path in files.items():
            columns = columns_of(path, symbol)
            total_rows += len(columns["symbol"])
            sample = sample or upstream_rows(columns, upstream_sample)
            for phase in ("upsert", "upsert rerun"):
                with spending(spent[phase], backend):
                    for chunk in chunks(columns, chunk_rows):
                        with conn.transaction():
                            upsert_provider_columns(conn, chunk)
            for table, names in copy_columns.items():
                copy_into_table = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
                )
                with spending(spent[table], backend):
                    for chunk in chunks(columns, chunk_rows):
                        with conn.transaction(), conn.cursor() as cursor, cursor.copy(copy_into_table) as copy:
                            copy.write(copy_payload(chunk, names))
    with psycopg2.connect(dsn) as upstream, upstream.cursor() as cursor:
        upstream_spent = Spent()
        with spending(upstream_spent, upstream.get_backend_pid()):
            cursor.executemany(UPSTREAM_UPSERT, sample)
            upstream.commit()
    return {**spent, "upstream sample": upstream_spent, "rows": total_rows, "upstream rows": len(sample)}


def m1_child(dsn: str, path: str, chunk_blocks: int) -> None:
    """Entry of the child process: one M1 backfill, its times and peak memory as JSON."""
    first, last = csv_span([Path(path)], "generic", None)
    tags = yearly_range_tags(int(first.timestamp()), int(last.timestamp()))
    (asset,) = [a for a in build_block_assets(YEARLY) if a.key == OVC_BLOCKS]
    with dg.DagsterInstance.ephemeral() as instance:
        run = materialize_csv(asset, dsn, Path(path), "EURUSD", tags, instance, chunk_blocks)
    run["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(run))


def bookkeeping(dsn: str, path: Path, partitions: int, chunk_blocks: int) -> dict[str, float]:
    """Seconds per 2H partition that a range run spends outside the backfill's data path."""
    first_block = Block(HISTORY_START, "A")
    blocks_2h = blocks_2h_partitions(first_block.start_utc)
    (asset,) = [a for a in build_block_assets(blocks_2h) if a.key == OVC_BLOCKS]
    last = FxCalendar().expected_blocks(first_block.start_utc, first_block.start_utc + timedelta(days=400))[partitions - 1]
    tags = {"dagster/asset_partition_range_start": partition_key_for_block(first_block),
            "dagster/asset_partition_range_end": partition_key_for_block(last)}  # fmt: skip
    per_partition = {}
    with dg.DagsterInstance.ephemeral() as instance:
        run = materialize_csv(asset, dsn, path, "GBPUSD", tags, instance, chunk_blocks)
        per_partition["in-memory instance"] = (run["wall"] - run["data_path"]) / partitions
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp(prefix="bench_dagster_home_")
    os.environ[DAGSTER_URL_ENV] = sqlalchemy_psycopg2_url(ensure_dagster_database(dsn))
    with open_dagster_instance(dsn) as instance:
        run = materialize_csv(asset, dsn, path, "GBPUSD", tags, instance, chunk_blocks)
        per_partition["Postgres instance"] = (run["wall"] - run["data_path"]) / partitions
    return per_partition


def rate(rows: float, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def report(args: argparse.Namespace, dsn: str, two_hour: dict, writes: dict, m1: dict, per_partition: dict, timings: dict) -> str:
    first, rerun = two_hour["first load"], two_hour["rerun"]
    rows = writes["rows"]
    ceiling: Spent = writes[COPY_CEILING_TABLE]
    upstream: Spent = writes["upstream sample"]
    upstream_scale = rows / writes["upstream rows"]

    def cpu(spent: Spent) -> float:
        return spent.client_cpu + spent.server_cpu

    def write_row(label: str, spent: Spent, scale: float = 1.0) -> str:
        wall, cpu_seconds = spent.wall * scale, cpu(spent) * scale
        return (
            f"| {label} | {wall:.2f} | {spent.client_cpu * scale:.2f} + {spent.server_cpu * scale:.2f} | {rate(rows, wall)} "
            f"| {ceiling.wall / wall:.0%} | {cpu(ceiling) / cpu_seconds:.0%} | {upstream.wall * upstream_scale / wall:.1f}x |"
        )

    nproc = os.cpu_count()
    lines = [
        "### History backfill (issue 6): `benchmarks/bench_backfill.py`",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_backfill.py --symbols {args.symbols} --blocks {args.blocks} "
        f"--m1-bars {args.m1_bars} --bookkeeping-partitions {args.bookkeeping_partitions}` "
        f"(run {datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}, `date -u`, 1-minute load average "
        f"{timings['load_start']:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).",
        f"Machine: nproc {nproc}, Python {platform.python_version()}, PostgreSQL {server_version(dsn)} on 127.0.0.1, "
        f"Dagster {dg.__version__}. Input generation took {timings['generate_2h']:.1f} s (2H) and "
        f"{timings['generate_m1']:.1f} s (M1), not counted below.",
        "",
        f"**2H input: {args.symbols} symbols x {args.blocks:,} blocks = {rows:,} blocks**, one CSV per symbol, chunks of "
        f"{args.chunk_blocks:,} blocks (each its own transaction and checkpoint). CPU: this process + its server backend.",
        "",
        "| write path | wall s | CPU s | rate (wall) | vs COPY ceiling, wall | same, CPU | vs upstream, wall |",
        "|---|---:|---:|---:|---:|---:|---:|",
        write_row("upsert, first load", writes["upsert"]),
        write_row("upsert, rerun (every row stored and unchanged: nothing written)", writes["upsert rerun"]),
        write_row("(a) plain COPY of the same rows into an empty table (ceiling; binary, as the upsert sends them)", ceiling),
        write_row("plain COPY of the candle columns alone (18 of the 28; the ceiling before the rows carried their prices)", writes[COPY_CANDLE_TABLE]),
        write_row("plain COPY of the same rows into an empty table with the spine's primary key and run_id index", writes[COPY_KEYED_TABLE]),
        write_row(f"(b) upstream: psycopg2 executemany + ON CONFLICT, {writes['upstream rows']:,}-row sample, extrapolated", upstream, upstream_scale),
        "",
        "| end to end via `ovc_blocks` (CSV read, resample, upsert) | seconds | rate |",
        "|---|---:|---:|",
        f"| first load: data path | {first['data_path']:.1f} | {rate(first['blocks'], first['data_path'])} |",
        f"| rerun (insert_skipped = {rerun['skipped']:,}): data path | {rerun['data_path']:.1f} | {rate(rerun['blocks'], rerun['data_path'])} |",
        f"| whole Dagster runs incl. checks ({args.symbols} runs), first load / rerun: wall | {first['wall']:.1f} / {rerun['wall']:.1f} | |",
        f"| same, CPU of this process (Dagster, read, resample, client side of the writes) | {first['cpu']:.1f} / {rerun['cpu']:.1f} | |",
        "",
        f"**M1 input: {m1['candles']:,} one-minute bars -> {m1['blocks']:,} 2H blocks** (one CSV, one run, in a child process): "
        f"data path {m1['data_path']:.1f} s ({m1['candles'] / m1['data_path']:,.0f} bars/s, {rate(m1['blocks'], m1['data_path'])}), "
        f"whole run {m1['wall']:.1f} s, peak resident memory {m1['maxrss_mib']:,.0f} MiB.",
        "",
        f"**Dagster bookkeeping per 2H partition** of a range run ({args.bookkeeping_partitions} partitions, one materialisation "
        "event each, outside the data path): "
        + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in per_partition.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-dsn", default=os.environ.get("OVC_BENCH_SERVER_DSN", DEFAULT_SERVER_DSN))
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=50_000)
    parser.add_argument("--m1-bars", type=int, default=10_000_000)
    parser.add_argument("--chunk-blocks", type=int, default=10_000)
    parser.add_argument("--upstream-sample", type=int, default=50_000)
    parser.add_argument("--bookkeeping-partitions", type=int, default=600)
    parser.add_argument("--m1-child", nargs=2, metavar=("DSN", "CSV"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.m1_child:
        m1_child(*args.m1_child, args.chunk_blocks)
        return

    scratch = f"ovc_bench_backfill_{os.getpid()}"
    with connect(args.server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    dsn = dsn_for_database(args.server_dsn, scratch)
    try:
        migrate(dsn)
        with tempfile.TemporaryDirectory(prefix="bench_backfill_") as folder:
            timings = {"load_start": os.getloadavg()[0]}
            started = time.perf_counter()
            starts = open_block_starts(HISTORY_START, args.blocks)
            files = {}
            for number in range(args.symbols):
                symbol = f"S{number:02d}USD"
                files[symbol] = Path(folder) / f"{symbol}_h2.csv"
                write_bars_csv(files[symbol], iter([starts]), seed=number)
            timings["generate_2h"] = time.perf_counter() - started
            tags = yearly_range_tags(int(starts[0]), int(starts[-1]))

            two_hour = end_to_end(dsn, files, tags, args.chunk_blocks)
            writes = write_paths(dsn, files, args.chunk_blocks, args.upstream_sample)

            started = time.perf_counter()
            m1_path = Path(folder) / "EURUSD_m1.csv"
            write_bars_csv(m1_path, minute_bar_starts(args.m1_bars), seed=99)
            timings["generate_m1"] = time.perf_counter() - started
            child = subprocess.run(
                [sys.executable, __file__, "--m1-child", dsn, str(m1_path), "--chunk-blocks", str(args.chunk_blocks)],
                check=True, capture_output=True, text=True,
            )
            m1 = json.loads(child.stdout.strip().splitlines()[-1])

            per_partition = bookkeeping(dsn, next(iter(files.values())), args.bookkeeping_partitions, args.chunk_blocks)
        print(report(args, dsn, two_hour, writes, m1, per_partition, timings))
    finally:
        with connect(args.server_dsn, autocommit=True) as admin:
            for name in (f"{scratch}_dagster", scratch):
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
