"""`ovc demo` as users run it (through the `ovc` app, in-process), once for the module on an
empty database (the demo migrates it): the webhook app takes the week's alerts over HTTP, one
LIVE_INGEST range run and a HIST_BACKFILL run per symbol on the Postgres-backed Dagster
instance, and their reports, printed and stored; and what the Dagster UI shows after it, read
from that instance: the schema's migrations as one materialisation of `ovc_database_schema`,
the run reports in `ovc_run_reports` at once, before any sensor ran. (`ovc demo` as a real
process: the operations guide and the browser suite.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from click.testing import Result
from typer.testing import CliRunner

from ovc_assets.cli.app import app
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.run_reports.assets import RUN_REPORTS_ASSET_KEY, partition_key_for
from ovc_assets.defs.storage.assets import OVC_DATABASE_SCHEMA
from ovc_assets.demo.sample_week import DEMO_SYMBOLS, sample_alerts, sample_candles
from ovc_assets.runs.store import load_reports_between
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import cli_environment

BLOCKS_PER_SYMBOL = 60


@dataclass(frozen=True)
class DemoRun:
    env: dict[str, str]
    result: Result


@pytest.fixture(scope="module")
def demo_run(create_module_database: Callable[[bool], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """The demo on an empty database of the module's own, with the Dagster instance beside it;
    the variables set for it (and by it) are undone after the module."""
    env = cli_environment(create_module_database(False), tmp_path_factory.mktemp("demo") / "ovc_home")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**env, "COLUMNS": "200"}.items():  # COLUMNS: rich tables unabridged
            patch.setenv(name, value)
        yield DemoRun(env, CliRunner().invoke(app, ["demo"], catch_exceptions=False))


def _materializations(dsn: str, key: dg.AssetKey) -> list[dg.EventLogRecord]:
    with open_dagster_instance(dsn) as instance:
        return list(instance.fetch_materializations(key, limit=1000).records)


def test_the_demo_lands_the_week_backfills_the_missed_blocks_computes_outcomes_and_prints_four_reports(
    demo_run: DemoRun,
) -> None:
    alerts = sample_alerts(sample_candles())
    demo_env, result = demo_run.env, demo_run.result

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (webhook,) = [line for line in lines if line.startswith("webhook:")]
    assert webhook.startswith(f"webhook: {len(alerts)} alerts posted for GBPUSD, EURUSD: ")
    assert "HTTP 400" in webhook and "duplicate" in webhook  # bad payloads refused, resends folded
    assert any(line.startswith("reports written to ") for line in lines)

    with connect(demo_env["OVC_DATABASE_URL"]) as conn:
        blocks = conn.execute(
            "SELECT count(*), count(export_min), count(provider_source), count(DISTINCT symbol) FROM ovc.ovc_blocks_v01"
        ).fetchone()
        reports = conn.execute(
            "SELECT run_id, run_type, run_status, blocks_missing, insert_failed FROM ovc.ovc_run_reports_v01"
            " ORDER BY started_at_ms"
        ).fetchall()
        (outcome_rows,) = conn.execute("SELECT count(*) FROM ovc.ovc_outcomes_v01").fetchone()
    # Every block of the week for both symbols; all but the two missed alerts are live rows,
    # every row has its candle.
    assert blocks == (2 * BLOCKS_PER_SYMBOL, 2 * BLOCKS_PER_SYMBOL - 2, 2 * BLOCKS_PER_SYMBOL, len(DEMO_SYMBOLS))
    assert [(run_type, status, missing, failed) for _, run_type, status, missing, failed in reports] == [
        ("LIVE_INGEST", "WARN", 2, 0),  # the rejected payloads and Tuesday's missed F blocks
        ("HIST_BACKFILL", "PASS", 0, 0),  # per symbol: its missed block filled from the candles
        ("HIST_BACKFILL", "PASS", 0, 0),
        ("OUTCOME_COMPUTE", "PASS", 0, 0),  # the week's outcomes from the blocks
    ]
    (outcomes_line,) = [line for line in lines if line.startswith("outcomes (")]
    assert outcome_rows > 0 and f": {outcome_rows} written, " in outcomes_line
    for run_id, *_ in reports:
        assert run_id[:8] in result.output
        stored = json.loads((Path(demo_env["OVC_HOME"]) / "reports" / f"{run_id}.json").read_text())
        assert stored["run_id"] == run_id

    instance = open_dagster_instance(demo_env["OVC_DATABASE_URL"])
    try:
        runs = instance.get_runs()
        assert "postgres" in type(instance.run_storage).__name__.lower()
        assert sorted(run.run_id for run in runs) == sorted(run_id for run_id, *_ in reports)
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
    finally:
        instance.dispose()


def test_the_demo_leaves_the_schema_and_every_run_report_visible(demo_run: DemoRun) -> None:
    assert demo_run.result.exit_code == 0, demo_run.result.output
    dsn = demo_run.env["OVC_DATABASE_URL"]
    assert len(_materializations(dsn, OVC_DATABASE_SCHEMA)) == 1
    with connect(dsn) as conn:
        reports = load_reports_between(conn, 0, 2**62)
    assert len(reports) >= 3  # the live week, one history backfill per symbol, and any later step
    recorded = _materializations(dsn, RUN_REPORTS_ASSET_KEY)
    assert sorted(record.asset_materialization.metadata["run_id"].value for record in recorded) == sorted(
        report.run_id for report in reports
    )
    assert {record.partition_key for record in recorded} == {partition_key_for(report) for report in reports}
