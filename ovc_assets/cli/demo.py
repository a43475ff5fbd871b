"""`ovc demo`: the main job on the embedded default, end to end, printing what it did.

1. The database (embedded unless OVC_DATABASE_URL is set) is migrated; Dagster's instance
   storage goes to the same server.
2. One generated FX week of TradingView alerts for two symbols (resends, a second alert for
   some blocks, bad payloads, one missed alert per symbol) is posted to the real webhook app.
3. The week's 2H partitions are materialised through Dagster in one range run (LIVE_INGEST),
   with the asset checks.
4. The missed blocks are filled from a sample candle file (a HIST_BACKFILL run per symbol):
   provider prices for every block, live rows keep theirs, and `blocks_missing` drops to 0.
5. The week's outcomes (NEXT_2H, NEXT_4H, NEXT_12H) are computed from the blocks (an
   OUTCOME_COMPUTE run); the last windows of the week stay pending until next week's blocks.
6. Each run gets its run report, as the run-report sensor would write it, and its day of
   `ovc_run_reports` is materialised (so `ovc dev` shows the reports at once); the reports
   are printed. The migrations show as a materialisation of `ovc_database_schema`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from ovc_assets.dagster_instance import prepare_dagster_home
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.blocks.inprocess import run_block_range
from ovc_assets.defs.outcomes.assets import OVC_OUTCOMES
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.defs.storage.assets import migrate_and_record
from ovc_assets.demo.sample_week import (
    DEMO_SYMBOLS,
    sample_alerts,
    sample_candles,
    week_blocks,
    write_candles_csv,
)
from ovc_assets.receiver.app import create_app
from ovc_assets.receiver.config import load_receiver_config
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.tags import RunType
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import mask_dsn, resolve_dsn, server_version
from ovc_assets.storage.raw_store import open_raw_store


@contextmanager
def running_receiver(app) -> Iterator[str]:
    """The webhook app under uvicorn in a thread of this process, on a free loopback port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the webhook app did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def post_alerts(app, alerts) -> Counter:
    """Send each alert as TradingView would (text/plain body, over HTTP); count the answers."""
    answers: Counter = Counter()
    with running_receiver(app) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        for alert in alerts:
            response = client.post(f"/{alert.route}", content=alert.body, headers={"content-type": "text/plain"})
            body = response.json()
            answers["duplicate" if body.get("duplicate") else f"HTTP {response.status_code}"] += 1
    return answers


def _report_table(reports: list[RunReport]) -> Table:
    table = Table(title="run reports (ovc.ovc_run_reports_v01)")
    for column in ("run", "type", "verdict", "received", "parse ok/fail", "ins/skip/fail", "missing", "outcomes ins/skip/fail"):
        table.add_column(column)
    for report in reports:
        table.add_row(
            report.run_id[:8],
            report.run_type,
            report.run_status,
            str(report.received_events),
            f"{report.parse_ok}/{report.parse_fail}",
            f"{report.insert_success}/{report.insert_skipped}/{report.insert_failed}",
            str(report.blocks_missing),
            "-" if report.outcomes_attempted is None
            else f"{report.outcomes_inserted}/{report.outcomes_skipped}/{report.outcomes_failed}",
        )
    return table


def _checks_table(result: dg.ExecuteInProcessResult, when: str) -> Table:
    table = Table(title=f"asset checks of ovc_blocks over the week, {when}")
    for column in ("check", "passed", "severity", "figures"):
        table.add_column(column)
    for evaluation in result.get_asset_check_evaluations():
        figures = ", ".join(
            f"{key}={value.value}" for key, value in evaluation.metadata.items() if not key.startswith("window_") and isinstance(value.value, int | float)
        )
        table.add_row(evaluation.check_name, "yes" if evaluation.passed else "NO", evaluation.severity.value, figures)
    return table


def demo_command() -> None:
    """Run the main job end to end on the embedded default and print the run reports."""
    console = Console()
    started = time.perf_counter()
    settings = load_settings()
    dsn = resolve_dsn(settings)
    applied = migrate_and_record(dsn, settings).applied
    console.print(f"database: {mask_dsn(dsn)} (PostgreSQL {server_version(dsn)}); migrations applied now: {len(applied)}")
    store = open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
    console.print(f"raw store: {store.location}; Dagster instance: {prepare_dagster_home(dsn, settings)} (storage in PostgreSQL)")

    week = week_blocks()
    candles = sample_candles()
    alerts = sample_alerts(candles)
    app = create_app(load_receiver_config(settings, store), dsn=dsn, store=store)
    answers = post_alerts(app, alerts)
    console.print(f"webhook: {len(alerts)} alerts posted for {', '.join(DEMO_SYMBOLS)}: " + ", ".join(f"{n} {k}" for k, n in sorted(answers.items())))

    pipeline = PipelineSettings(symbols=list(DEMO_SYMBOLS))
    common = {"dsn": dsn, "settings": settings, "pipeline": pipeline}
    live = run_block_range(OVC_BLOCKS, week[0], week[-1], run_type=RunType.LIVE_INGEST, input_source="tv_webhook", **common)
    console.print(_checks_table(live.result, "after the live week"))
    runs = [live]

    for symbol in DEMO_SYMBOLS:
        csv_path = settings.home / f"demo_{symbol}_M15.csv"
        write_candles_csv(candles, symbol, csv_path)
        source = {"source": "csv", "symbols": [symbol], "csv_paths": [str(csv_path)]}
        runs.append(
            run_block_range(
                OVC_BLOCKS, week[0], week[-1], run_type=RunType.HIST_BACKFILL, input_source="csv",
                run_config={"ops": {"ovc_blocks": {"config": source}}}, **common,
            )
        )  # fmt: skip
    console.print(_checks_table(runs[-1].result, "after the history backfill"))

    outcomes = run_block_range(OVC_OUTCOMES, week[0], week[-1], run_type=RunType.OUTCOME_COMPUTE, input_source="ovc_blocks_v01", **common)
    runs.append(outcomes)
    if outcomes.result.success:
        (materialization, *_) = outcomes.result.asset_materializations_for_node(OVC_OUTCOMES.to_python_identifier())
        figures = {key: value.value for key, value in materialization.metadata.items()}
        console.print(
            f"outcomes ({', '.join(figures['window_types'])}): {figures['outcomes_inserted']} written, "
            f"{figures['outcomes_pending']} pending (windows reaching past the week's data)"
        )

    reports = [run.report for run in runs if run.report is not None]
    console.print(_report_table(reports))
    for report in reports:
        for warning in report.warnings or []:
            console.print(f"  {report.run_id[:8]} {report.run_status}: {warning}")
    console.print(f"reports written to {settings.reports_dir}; done in {time.perf_counter() - started:.1f} s")
    if not all(run.result.success for run in runs):
        raise SystemExit(1)
