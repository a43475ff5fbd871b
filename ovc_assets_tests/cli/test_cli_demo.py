"""`ovc demo` as users run it (through the `ovc` app, in-process): the webhook app takes the
week's alerts over HTTP, one LIVE_INGEST range run and a HIST_BACKFILL run per symbol on the
Postgres-backed Dagster instance, and their reports, printed and stored."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from ovc_assets.cli.app import app
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.demo.sample_week import DEMO_SYMBOLS, sample_alerts, sample_candles
from ovc_assets.storage.postgres import connect

BLOCKS_PER_SYMBOL = 60


@pytest.fixture
def demo_env(ovc_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The demo on this test's database; the variables it sets for Dagster are undone afterwards."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unabridged
    return ovc_env


def test_the_demo_lands_the_week_backfills_the_missed_blocks_computes_outcomes_and_prints_four_reports(demo_env) -> None:
    alerts = sample_alerts(sample_candles())

    result = CliRunner().invoke(app, ["demo"], catch_exceptions=False)

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
