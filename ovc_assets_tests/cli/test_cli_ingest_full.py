"""`ovc ingest full`: FULL exports land by the cold path and become detail rows in a FULL_ENRICH run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ovc_assets.storage.postgres import connect
from ovc_assets_tests.ovc_in_process import run_ovc_in_process

FULL_EXPORT = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "full_001.txt"


def run_ovc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ovc_assets.cli", *args], capture_output=True, text=True, env=dict(os.environ), timeout=300)


def _details(dsn: str) -> list[tuple]:
    with connect(dsn) as conn:
        return conn.execute(
            "SELECT bid, full_payload->'fields'->>'rd_why', full_payload->'fields'->>'o' FROM ovc.ovc_blocks_detail_v01"
        ).fetchall()


def test_a_full_export_lands_once_and_is_enriched_with_a_report(ovc_env: dict[str, str], tmp_path: Path) -> None:
    export_file = tmp_path / "full.txt"
    export_file.write_text(FULL_EXPORT.read_text().strip() + "\n" + "ver=x|profile=FULL|schema_full=OVC_FULL_V0_1\n")

    first = run_ovc("ingest", "full", str(export_file))
    assert first.returncode == 0, first.stderr[-2000:]
    assert "landed 2 new" in first.stdout and "1 rejected" in first.stdout, first.stdout + first.stderr[-2000:]
    assert _details(ovc_env["OVC_DATABASE_URL"]) == [("20260113-F-GBPUSD", "W=NaN>D=0.029>ROT_OK>BRK_GATED", "1.34565")]

    with connect(ovc_env["OVC_DATABASE_URL"]) as conn:
        (run_type, status), = conn.execute("SELECT run_type, run_status FROM ovc.ovc_run_reports_v01").fetchall()
    assert run_type == "FULL_ENRICH" and status in {"PASS", "WARN"}
    report_files = list((Path(ovc_env["OVC_HOME"]) / "reports").glob("*.json"))
    assert len(report_files) == 1 and json.loads(report_files[0].read_text())["run_type"] == "FULL_ENRICH"

    again = run_ovc_in_process("ingest", "full", str(export_file), env=os.environ)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "landed 0 new, 2 already landed" in again.stdout, again.stdout + again.stderr[-2000:]
    assert len(_details(ovc_env["OVC_DATABASE_URL"])) == 1


def test_filters_leave_out_other_symbols(ovc_env: dict[str, str], tmp_path: Path) -> None:
    result = run_ovc_in_process("ingest", "full", str(FULL_EXPORT), "--symbol", "EURUSD", env=os.environ)
    assert "1 left out by the filters" in result.stdout
    assert "nothing to enrich" in result.stdout
    assert _details(ovc_env["OVC_DATABASE_URL"]) == []
