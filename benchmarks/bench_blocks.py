"""Dagster materialisation of `ovc_blocks` from landed events (issue 5's performance figures).

1. One week of 2H partitions for 28 symbols (about 1,700 alerts) as one single-run backfill.
2. One live window: the schedule's tick evaluated, its run executed, until the materialisation
   is recorded in the instance.
Floor, measured in the same run on the same Postgres-backed instance: an empty Dagster run
(one asset that does nothing).

    .venv/bin/python benchmarks/bench_blocks.py --server postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from datetime import timedelta

import dagster as dg
from psycopg import sql

from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, build_block_assets
from ovc_assets.defs.blocks.jobs import build_live_ingest_job
from ovc_assets.defs.blocks.schedules import build_live_blocks_schedule
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.demo.sample_week import (
    land_alerts_directly,
    sample_alerts,
    sample_candles,
    week_blocks,
)
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import connect, dsn_for_database

SYMBOLS = tuple(f"{base}{quote}" for base in ("EUR", "GBP", "AUD", "NZD", "USD", "CAD", "CHF") for quote in ("USD", "JPY", "CHF", "CAD"))[:28]
REPEATS = 5


@dg.asset
def empty_asset() -> None:
    """Does nothing: the cost of a Dagster run itself."""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=os.environ.get("OVC_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    name = f"ovc_bench_{uuid.uuid4().hex[:8]}"
    with connect(args.server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for_database(args.server, name)
    migrate(dsn)
    os.environ["DAGSTER_HOME"] = tempfile.mkdtemp()
    instance = open_dagster_instance(dsn)

    week = week_blocks()
    alerts = sample_alerts(sample_candles(SYMBOLS))
    land_alerts_directly(dsn, alerts)
    blocks_2h = blocks_2h_partitions(week[0].start_utc)
    assets = build_block_assets(blocks_2h)
    resources = {"ovc_database": PostgresResource(database_url=dsn), "pipeline": PipelineSettings(symbols=list(SYMBOLS))}

    floor = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        dg.materialize([empty_asset], instance=instance)
        floor.append(time.perf_counter() - began)

    range_tags = {
        "dagster/asset_partition_range_start": partition_key_for_block(week[0]),
        "dagster/asset_partition_range_end": partition_key_for_block(week[-1]),
    }
    week_runs = []
    for _ in range(3):
        began = time.perf_counter()
        result = dg.materialize(assets, instance=instance, resources=resources, selection=[OVC_BLOCKS], tags=range_tags)
        week_runs.append(time.perf_counter() - began)
        assert result.success

    job = build_live_ingest_job(blocks_2h)
    schedule = build_live_blocks_schedule(job, grace_minutes=5)
    defs = dg.Definitions(assets=assets, jobs=[job], schedules=[schedule], resources=resources)
    live_job = defs.resolve_job_def("live_ingest_job")
    resolved_schedule = defs.resolve_schedule_def("live_blocks_schedule")
    repository = defs.get_repository_def()
    live = []
    for block in week[10:10 + REPEATS]:
        tick = block.end_utc + timedelta(minutes=5)
        began = time.perf_counter()
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick, repository_def=repository) as context:
            request = resolved_schedule.evaluate_tick(context).run_requests[0]
        result = live_job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags)
        recorded = instance.get_latest_materialization_event(OVC_BLOCKS)
        live.append(time.perf_counter() - began)
        assert result.success and recorded is not None and recorded.run_id == result.run_id

    print(f"alerts landed: {len(alerts)} for {len(SYMBOLS)} symbols, {len(week)} partitions")
    print("| measurement | median (s) | all (s) | over the empty-run floor |")
    print("|---|---:|---|---:|")
    floor_median = statistics.median(floor)
    print(f"| empty Dagster run (floor) | {floor_median:.2f} | {', '.join(f'{t:.2f}' for t in floor)} | 1.0x |")
    print(f"| week, 28 symbols, one range run (first, then reruns) | {statistics.median(week_runs):.2f} | {', '.join(f'{t:.2f}' for t in week_runs)} | {statistics.median(week_runs) / floor_median:.1f}x |")
    print(f"| live window: tick -> recorded materialisation | {statistics.median(live):.2f} | {', '.join(f'{t:.2f}' for t in live)} | {statistics.median(live) / floor_median:.1f}x |")
    instance.dispose()
    with connect(args.server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(f"{name}_dagster")))


if __name__ == "__main__":
    main()
