"""`ovc runs ...`, `ovc report show` and `ovc validate-duplicates`, registered on a local
Typer app exactly as the `ovc` entry point registers them."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import typer
from typer.testing import CliRunner

from ovc_assets.calendar import Block
from ovc_assets.cli.runs import report_app, runs_app, validate_duplicates_command
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.manifest import RunManifest
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.store import store_report
from ovc_assets_tests.runs.runs_fake_job import INSERT_BLOCK_SQL, SYMBOL, block_params

app = typer.Typer()
app.add_typer(runs_app, name="runs")
app.add_typer(report_app, name="report")
app.command("validate-duplicates")(validate_duplicates_command)

runner = CliRunner()
DAY = date(2026, 1, 13)


def ovc(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def two_runs(conn, ovc_home) -> None:
    for run_id, run_type, status, parse_fail, started in (
        ("run-a", "LIVE_INGEST", "SUCCESS", 1, "2026-01-13 15:00+00"),
        ("run-b", "HIST_BACKFILL", "FAILURE", 0, "2026-01-13 16:00+00"),
    ):
        manifest = RunManifest(run_id=run_id, run_type=run_type, status=status,
                               started_at=datetime.fromisoformat(started)).with_code_identity()
        report = RunReport(run_id=run_id, run_type=run_type, received_events=1 + parse_fail, parse_ok=1,
                           parse_fail=parse_fail, fail_by_code={"E_SEM_DIR": parse_fail} if parse_fail else {},
                           insert_attempted=1, insert_success=1,
                           run_failure="the run was canceled" if status == "FAILURE" else None)
        store_report(conn, report.finalized(), manifest=manifest, reports_dir=ovc_home / "reports")


def test_runs_list_filters_by_status_verdict_and_type(two_runs) -> None:
    result = ovc("runs", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["run_id"], r["status"], r["verdict"]) for r in rows] == [
        ("run-b", "FAILURE", "FAIL"), ("run-a", "SUCCESS", "WARN"),
    ]
    assert [r["run_id"] for r in json.loads(ovc("runs", "list", "--status", "WARN", "--json").output)] == ["run-a"]
    assert [r["run_id"] for r in json.loads(ovc("runs", "list", "--status", "failure", "--json").output)] == ["run-b"]
    assert [r["run_id"] for r in json.loads(ovc("runs", "list", "--type", "LIVE_INGEST", "--json").output)] == ["run-a"]
    assert len(json.loads(ovc("runs", "list", "--limit", "1", "--json").output)) == 1
    text = ovc("runs", "list").output
    assert "run-a" in text and "WARN" in text


def test_runs_show_and_report_show(two_runs) -> None:
    shown = json.loads(ovc("runs", "show", "run-a", "--json").output)
    assert shown["manifest"]["status"] == "SUCCESS" and shown["report"]["fail_by_code"] == {"E_SEM_DIR": 1}

    result = ovc("report", "show", "run-a")
    assert result.exit_code == 0
    assert "verdict: WARN (a warning, not a failure)" in result.output
    assert "parse_fail = 1 (E_SEM_DIR: 1)" in result.output
    assert json.loads(ovc("report", "show", "run-b", "--json").output)["run_status"] == "FAIL"

    missing = ovc("report", "show", "nope")
    assert isinstance(missing.exception, OvcError) and missing.exception.code == ErrorCode.RUN_NOT_FOUND


def test_runs_rollback_dry_run_refusal_and_force(conn, ovc_home) -> None:
    for letter, run_id in (("A", "P"), ("B", "R")):
        conn.execute(INSERT_BLOCK_SQL, block_params(Block(DAY, letter), run_id))
    conn.execute(INSERT_BLOCK_SQL, block_params(Block(DAY, "B"), "S", price=2.0))  # S changed R's row

    dry = ovc("runs", "rollback", "R", "--dry-run")
    assert dry.exit_code == 1  # a dry run exits as the rollback would: refused
    assert "ovc_blocks_v01: would remove 1, restore 0, 1 changed by later runs" in dry.output

    refused = ovc("runs", "rollback", "R")
    assert refused.exit_code == 1
    assert "later runs that changed these rows: S" in refused.output

    forced = ovc("runs", "rollback", "R", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    outcome = json.loads(forced.output)
    assert outcome["applied"] and outcome["later_runs"] == ["S"] and outcome["verdict"] == "WARN"
    assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone() == (1,)


def test_validate_duplicates_is_clean_then_finds_each_kind_of_problem(conn, ovc_env) -> None:
    for letter in "ABC":
        conn.execute(INSERT_BLOCK_SQL, block_params(Block(DAY, letter), "P"))
    clean = ovc("validate-duplicates")
    assert clean.exit_code == 0 and clean.output.strip().endswith("ok")

    # Another contract version of block A with other prices: a conflict for one block id.
    params = block_params(Block(DAY, "A"), "Q", price=9.0)
    conn.execute(INSERT_BLOCK_SQL.replace("'export_contract_v0.1_min_r1'", "'export_contract_v0.1.1_min'"), params)
    # Block D stored under block C's id: a duplicate key and an id/time mismatch.
    params = block_params(Block(DAY, "D"), "Z")
    params["bid"] = Block(DAY, "C").block_id(SYMBOL)
    conn.execute(INSERT_BLOCK_SQL, params)

    result = ovc("validate-duplicates", "--json")
    assert result.exit_code == 1
    found = json.loads(result.output)
    assert not found["ok"]
    assert [(d["bid"], d["row_count"]) for d in found["duplicate_keys"]] == [("20260113-C-GBPUSD", 2)]
    assert [c["bid"] for c in found["conflicting_blocks"]] == ["20260113-A-GBPUSD"]
    assert [(m["bid"], m["run_id"]) for m in found["id_time_mismatches"]] == [("20260113-C-GBPUSD", "Z")]
    assert "id starts" in found["id_time_mismatches"][0]["problem"]
    assert found["faulty_runs"] == ["P", "Q", "Z"]
    text = ovc("validate-duplicates")
    assert text.exit_code == 1 and "faulty runs: P, Q, Z" in text.output
