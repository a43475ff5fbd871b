"""What Dagster shows after `ovc backfill` range runs on the Postgres instance, with the
bookkeeping switches the `ovc` command sets: every written 2H partition materialised, one
planned event per run, one evaluation per check and run, and a failed run's failure recorded
in its run report (FAIL, with its range)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.blocks.checks import CHECK_DESCRIPTIONS
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import market_candles, write_generic_csv

REPO_ROOT = Path(__file__).resolve().parents[2]
# Monday 17:00 to Thursday 17:00 New York: 36 open 2H blocks (partitions).
RANGE = (Block(date(2026, 2, 2), "A").start_utc, Block(date(2026, 2, 5), "A").start_utc)
BOOKKEEPING_SWITCHES = ("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "DAGSTER_EVENT_BATCH_SIZE")


def _ovc_backfill(path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ovc backfill csv` in its own process, as a user runs it (the switches left to `ovc`)."""
    inherited = {name: value for name, value in os.environ.items() if name not in BOOKKEEPING_SWITCHES}
    return subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", "backfill", "csv", "--symbol", "EURUSD", "--file", str(path)],
        env={**inherited, **environment, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip


def test_a_cli_range_run_shows_its_partitions_materialized_and_each_check_once(cli_env, database_url, tmp_path) -> None:
    path = write_generic_csv(tmp_path / "eurusd.csv", market_candles(*RANGE, timedelta(hours=1)))
    written = {partition_key_for_block(block) for block in FxCalendar().expected_blocks(*RANGE)}
    assert len(written) == 36

    process = _ovc_backfill(path, cli_env)

    assert process.returncode == 0, process.stderr
    assert "Warning" not in process.stderr  # Dagster's beta / supersession notices are filtered
    with open_dagster_instance(database_url) as instance:
        (run,) = instance.get_runs()
        assert instance.get_materialized_partitions(OVC_BLOCKS) == written
        planned = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
        ).records
        assert len(planned) == 1  # the whole range, not one per partition
        history = {
            name: instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(OVC_BLOCKS, name), limit=100)
            for name in CHECK_DESCRIPTIONS
        }
    for name, records in history.items():
        assert [(record.run_id, record.status.value) for record in records] == [(run.run_id, "SUCCEEDED")], name


def test_a_failed_range_run_is_recorded_failed_in_its_run_report(cli_env, database_url, tmp_path) -> None:
    path = write_generic_csv(tmp_path / "eurusd.csv", market_candles(*RANGE, timedelta(hours=1)))
    lines = path.read_text().splitlines()
    timestamp, o, h, low, c, volume = lines[50].split(",")
    lines[50] = ",".join((timestamp, o, low, h, c, volume))  # high below low: the run fails
    path.write_text("\n".join(lines) + "\n")

    process = _ovc_backfill(path, cli_env)

    assert process.returncode == 2, process.stderr
    with open_dagster_instance(database_url) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.FAILURE
        assert instance.get_materialized_partitions(OVC_BLOCKS) == set()
    with connect(database_url) as conn:
        reports = conn.execute("SELECT run_status, input_range FROM ovc.ovc_run_reports_v01").fetchall()
    assert reports == [("FAIL", "2026-02-02-A..2026-02-04-L")]
