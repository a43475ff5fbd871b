"""A run whose process is killed (kill -9) mid-run stays STARTED in Dagster; the sweep
sensor's next tick gives it a FAIL report naming the dead process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from ovc_assets.defs.run_reports.sensors import build_missing_run_report_sensor
from ovc_assets.runs.report import FAIL
from ovc_assets.runs.store import load_report
from ovc_assets_tests.runs import runs_fake_job


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ovc_home: Path) -> Path:
    """A persistent instance (SQLite storage) that a second process can share (set after
    `ovc_home`, whose environment clears DAGSTER_HOME)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def start_job_and_kill_it_mid_run(tmp_path: Path, database_url: str) -> int:
    ready = tmp_path / "ready"
    run_config = {"ops": {"fake_ingest": {"config": {"letters": ["I"], "ready_file": str(ready)}}}}
    env = {**os.environ, "FAKE_JOB_RUN_CONFIG": json.dumps(run_config), "FAKE_JOB_DATABASE_URL": database_url}
    with open(tmp_path / "job.log", "wb") as log:
        process = subprocess.Popen([sys.executable, runs_fake_job.__file__], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the job did not reach its sleep: {(tmp_path / 'job.log').read_text()[-2000:]}")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    return process.pid


def test_a_killed_run_gets_a_fail_report_on_the_next_tick(
    tmp_path, dagster_home, database_url, resources, conn, ovc_home
) -> None:
    pid = start_job_and_kill_it_mid_run(tmp_path, database_url)

    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.status == dg.DagsterRunStatus.STARTED
        run_id = record.dagster_run.run_id
        sweep = build_missing_run_report_sensor(name="sweep_for_test")

        result = sweep(dg.build_sensor_context(instance=instance, resources=resources))
        assert len(result.asset_events) == 1
        report = load_report(conn, run_id)
        assert report.run_status == FAIL
        assert report.warnings[0] == (
            f"run did not succeed: the run worker process (pid {pid}) is gone while the run is still recorded as STARTED"
        )
        # What the step counted before it died is in the report.
        assert (report.received_events, report.insert_success) == (1, 1)
        assert report.finished_at_ms >= report.started_at_ms
        status, error = conn.execute("SELECT status, error FROM ovc.ovc_runs WHERE run_id = %s", (run_id,)).fetchone()
        assert status == "CRASHED" and f"pid {pid}" in error
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE, "failed, no longer STARTED"

        again = sweep(dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor))
        assert again.asset_events == []
        assert conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01").fetchone() == (1,)
        assert (ovc_home / "reports" / f"{run_id}.json").exists()
