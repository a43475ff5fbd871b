"""`ovc outcomes` end to end: one Dagster run on the persistent instance over any range (also
before OVC_PARTITIONS_START), its verdict, and one-line coded errors with exit 2 (one from a
real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from typer.testing import CliRunner

from ovc_assets.cli.app import app
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.runs.tags import CLI_ARGS_TAG, INPUT_RANGE_TAG, RUN_TYPE_TAG
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import cli_environment
from ovc_assets_tests.ovc_in_process import run_ovc_in_process
from ovc_assets_tests.outcomes.outcome_series import SYMBOL

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    environment = {**cli_environment(database_url, tmp_path / "ovc_home"), "OVC_PARTITIONS_START": "2026-01-04 17:00"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def _ovc(cli_env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", "outcomes", *args],
        env={**os.environ, **cli_env, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_outcomes_of_a_range_before_the_partitions_start_are_one_pass_run(stored_series, cli_env, database_url) -> None:
    result = CliRunner().invoke(
        app, ["outcomes", "--symbol", SYMBOL, "--start", "2025-03-06", "--end", "2025-03-06", "--window", "NEXT_4H"]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "outcomes GBPUSD NEXT_4H (outcome_v0.1): partitions 2025-03-06-17:00 .. 2025-03-07-15:00 (New York block starts)"
    )
    assert "outcomes_attempted 12, outcomes_inserted 12, outcomes_skipped 0, outcomes_failed 0, outcomes_gap 0, outcomes_pending 0" in lines
    assert "checks: all passed" in lines
    with open_dagster_instance(database_url) as instance:
        (run,) = instance.get_runs()
    assert lines[-1] == f"OUTCOME_COMPUTE run {run.run_id}: PASS"
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags[RUN_TYPE_TAG] == "OUTCOME_COMPUTE"
    assert run.tags[INPUT_RANGE_TAG] == "2025-03-06-A..2025-03-06-L" and '"window": ["NEXT_4H"]' in run.tags[CLI_ARGS_TAG]
    with connect(database_url) as conn:
        stored = conn.execute("SELECT window_type, count(*), min(run_id) FROM ovc.ovc_outcomes_v01 GROUP BY 1").fetchall()
    assert stored == [("NEXT_4H", 12, run.run_id)]


def test_an_unknown_window_exits_2_listing_the_valid_ones(cli_env) -> None:
    process = _ovc(cli_env, "--symbol", SYMBOL, "--start", "2025-03-06", "--end", "2025-03-06", "--window", "NEXT_5H")
    assert process.returncode == 2, process.stderr
    (line,) = process.stderr.splitlines()
    assert line.startswith("error E_CONFIG: unknown outcome window 'NEXT_5H'; valid: NEXT_2H, NEXT_4H, NEXT_12H")


def test_a_symbol_without_blocks_exits_2_with_its_code(stored_series, cli_env) -> None:
    process = run_ovc_in_process(
        "outcomes", "--symbol", SYMBOL, "--symbol", "EURUSD", "--start", "2025-03-06", "--end", "2025-03-06", env=os.environ
    )
    assert process.returncode == 2, process.stderr
    assert process.stderr.splitlines() == ["error E_NO_BLOCKS: no stored blocks of EURUSD between OVC days 2025-03-06 and 2025-03-06"]
    assert "Traceback" not in process.stderr
