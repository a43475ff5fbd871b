"""`ovc backfill csv` end to end: a Dagster run on the persistent instance, any date range,
progress lines, exit codes and one-line coded errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from typer.testing import CliRunner

from ovc_assets.calendar import Block
from ovc_assets.cli.app import app
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.tags import (
    CLI_ARGS_TAG,
    INPUT_RANGE_TAG,
    INPUT_SOURCE_TAG,
    RUN_TYPE_TAG,
)
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import (
    assert_seed_002_invariants,
    market_candles,
    step_counts,
    write_generic_csv,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
YEAR_2005 = (Block(date(2005, 3, 14), "A").start_utc, Block(date(2005, 3, 16), "A").start_utc)


def _runs(database_url: str) -> list[dg.DagsterRun]:
    with open_dagster_instance(database_url) as instance:
        return list(instance.get_runs())


def test_history_before_the_partitions_start_is_one_checked_dagster_run(cli_env, database_url, tmp_path) -> None:
    path = write_generic_csv(tmp_path / "gbpusd_2005.csv", market_candles(*YEAR_2005, timedelta(hours=1)))

    result = CliRunner().invoke(app, ["backfill", "csv", "--symbol", "GBPUSD", "--file", str(path), "--chunk-blocks", "10"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "backfill GBPUSD from csv: partitions 2005-03-14-17:00 .. 2005-03-16-15:00 (New York block starts)"
    assert [line for line in lines if "committed" in line] == [
        "GBPUSD: chunk 1 committed, 10 blocks up to 2005-03-15T18:00:00+00:00 (42%)",
        "GBPUSD: chunk 2 committed, 20 blocks up to 2005-03-16T14:00:00+00:00 (83%)",
        "GBPUSD: chunk 3 committed, 24 blocks up to 2005-03-16T22:00:00+00:00 (100%)",
    ]
    assert "checks: all passed" in lines
    (run,) = _runs(database_url)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags[RUN_TYPE_TAG] == "HIST_BACKFILL" and run.tags[INPUT_SOURCE_TAG] == "csv"
    assert run.tags[INPUT_RANGE_TAG] == "2005-03-14-A..2005-03-15-L" and '"symbol": "GBPUSD"' in run.tags[CLI_ARGS_TAG]
    assert "48 candles, 24 blocks: 24 inserted, 0 updated, 0 unchanged, 0 partial" in lines
    assert lines[-1] == f"HIST_BACKFILL run {run.run_id}: PASS"
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*), min(date_ny), max(date_ny) FROM ovc.ovc_blocks_v01").fetchone() == (
            24,
            date(2005, 3, 14),
            date(2005, 3, 15),
        )
        completed = conn.execute("SELECT completed_at IS NOT NULL FROM ovc.backfill_checkpoints").fetchone()[0]
    assert completed
    counts = step_counts(database_url, run.run_id)
    assert counts.insert_success == 24
    assert_seed_002_invariants(counts)


def test_a_coded_error_is_one_line_exit_2_and_a_failed_run_with_counts(cli_env, database_url, tmp_path) -> None:
    week = (Block(date(2026, 2, 1), "A").start_utc, Block(date(2026, 2, 3), "A").start_utc)
    path = write_generic_csv(tmp_path / "gbpusd.csv", market_candles(*week, timedelta(minutes=30)))
    lines = path.read_text().splitlines()
    timestamp, o, h, low, c, volume = lines[29].split(",")
    lines[29] = ",".join((timestamp, o, low, h, c, volume))  # line 30: high below low
    path.write_text("\n".join(lines) + "\n")

    process = subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", "backfill", "csv", "--symbol", "GBPUSD",
         "--file", str(path)],
        env={**os.environ, **cli_env, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert process.returncode == 2, process.stderr
    assert any(line.startswith("HIST_BACKFILL run ") and line.endswith(": FAIL") for line in process.stdout.splitlines())
    error_lines = [line for line in process.stderr.splitlines() if line.startswith("error ")]
    assert error_lines == [f"error E_CANDLE_OHLC: {path}: line 30 ({timestamp.replace('Z', '+00:00')}): open {float(o)!r} "
                           f"high {float(low)!r} low {float(h)!r} close {float(c)!r} break low <= open, close <= high"]  # fmt: skip
    assert "Traceback" not in process.stderr
    (run,) = _runs(database_url)
    assert run.status == dg.DagsterRunStatus.FAILURE
    counts = step_counts(database_url, run.run_id)
    assert counts.fail_by_code == {"E_CANDLE_OHLC": 1} and counts.insert_success == 0
    assert_seed_002_invariants(counts)


def test_bad_dates_are_refused_before_any_run(cli_env, database_url, tmp_path) -> None:
    path = write_generic_csv(tmp_path / "x.csv", market_candles(*YEAR_2005, timedelta(hours=1)))
    runner = CliRunner()

    not_a_date = runner.invoke(app, ["backfill", "csv", "--symbol", "GBPUSD", "--file", str(path), "--start", "2005-13-01"])
    weekend_only = runner.invoke(
        app, ["backfill", "csv", "--symbol", "GBPUSD", "--file", str(path), "--start", "2005-03-18", "--end", "2005-03-19"]
    )

    for result in (not_a_date, weekend_only):
        assert isinstance(result.exception, OvcError) and result.exception.code == ErrorCode.CONFIG
    assert "2005-13-01" in not_a_date.exception.message
    assert "no open FX block" in weekend_only.exception.message
    assert _runs(database_url) == []
