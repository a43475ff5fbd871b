"""Every run that writes OVC tables gets exactly one run report, however it was launched:
the asset page (no `ovc/run_type` tag), the job page, the schedule and the sensors (job
tags), `dagster asset materialize` in another process, and a history run from the asset
page that fails before writing anything. A run that writes no OVC table gets none."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import dagster as dg
import pytest

from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.blocks.jobs import build_live_ingest_job
from ovc_assets.defs.blocks.schedules import build_live_blocks_schedule
from ovc_assets.defs.blocks.sensors import build_late_events_sensor
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.defs.run_reports import ovc_run_reports
from ovc_assets.defs.run_reports.sensors import (
    build_missing_run_report_sensor,
    ovc_run_report_failure_sensor,
    ovc_run_report_success_sensor,
)
from ovc_assets.runs.report import FAIL
from ovc_assets.runs.store import load_report
from ovc_assets.runs.tags import RUN_TYPE_TAG, infer_run_type
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.conftest import REPO_ROOT
from ovc_assets_tests.defs.conftest import BLOCKS_2H, WEEK

TUESDAY_I = WEEK[2 * 12 + 8]
TUESDAY_I_KEY = partition_key_for_block(TUESDAY_I)
BLOCK_ASSETS = build_block_assets(BLOCKS_2H)
LIVE_INGEST_JOB = build_live_ingest_job()


def _definitions(resources) -> dg.Definitions:
    return dg.Definitions(assets=[*BLOCK_ASSETS, ovc_run_reports], jobs=[LIVE_INGEST_JOB], resources=resources)


def _report_rows(database_url: str, run_id: str) -> int:
    with connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01 WHERE run_id = %s", (run_id,)).fetchone()[0]


def _status_tick(sensor, instance, resources, result: dg.ExecuteInProcessResult) -> None:
    event = result.get_run_success_event() if result.success else result.get_run_failure_event()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources=resources,
    )
    sensor(context)


def _sweep_tick(instance, resources) -> None:
    sensor = build_missing_run_report_sensor(grace_seconds=0)
    sensor.evaluate_tick(dg.build_sensor_context(instance=instance, resources=resources))


def _reported_once(database_url, instance, resources, result: dg.ExecuteInProcessResult):
    """Evaluate the status sensor twice and the sweep once: the run has exactly one report."""
    sensor = ovc_run_report_success_sensor if result.success else ovc_run_report_failure_sensor
    _status_tick(sensor, instance, resources, result)
    _status_tick(sensor, instance, resources, result)
    _sweep_tick(instance, resources)
    assert _report_rows(database_url, result.run_id) == 1
    with connect(database_url) as conn:
        return load_report(conn, result.run_id)


def test_an_asset_page_run_without_the_tag_gets_one_live_ingest_report(landed_week, resources, instance) -> None:
    job = _definitions(resources).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey("ovc_blocks")], partition_key=TUESDAY_I_KEY
    )
    assert result.success and RUN_TYPE_TAG not in result.dagster_run.tags

    report = _reported_once(landed_week, instance, resources, result)

    assert report.run_type == "LIVE_INGEST" and report.input_source == "tv_webhook"
    assert report.received_events > 0
    assert instance.get_run_by_id(result.run_id).tags[RUN_TYPE_TAG] == "LIVE_INGEST"  # shown in the UI too


def test_the_job_page_the_schedule_and_the_late_events_sensor_launch_tagged_runs(
    landed_week, resources, instance
) -> None:
    schedule = build_live_blocks_schedule(LIVE_INGEST_JOB, 5)
    sensor = build_late_events_sensor(LIVE_INGEST_JOB, BLOCKS_2H)
    assert schedule.job_name == sensor.job_name == "live_ingest_job"
    defs = dg.Definitions(
        assets=[*BLOCK_ASSETS, ovc_run_reports], jobs=[LIVE_INGEST_JOB], schedules=[schedule], resources=resources
    )
    tick = TUESDAY_I.end_utc + timedelta(minutes=5)
    request = schedule.evaluate_tick(
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
    )
    (run_request,) = request.run_requests
    assert run_request.partition_key == TUESDAY_I_KEY

    result = defs.resolve_job_def("live_ingest_job").execute_in_process(
        instance=instance, partition_key=run_request.partition_key, tags=run_request.tags
    )

    report = _reported_once(landed_week, instance, resources, result)
    assert report.run_type == "LIVE_INGEST" and report.input_range == TUESDAY_I_KEY


def test_a_history_run_from_the_asset_page_that_fails_before_writing_gets_one_fail_report(
    database_url, resources, instance
) -> None:
    bad_source = {"source": "csv", "symbols": ["GBPUSD", "EURUSD"], "csv_paths": ["/nonexistent.csv"]}
    result = dg.materialize(
        BLOCK_ASSETS,
        instance=instance,
        resources=resources,
        selection=[dg.AssetKey("ovc_blocks")],
        partition_key=TUESDAY_I_KEY,
        run_config={"ops": {"ovc_blocks": {"config": bad_source}}},
        raise_on_error=False,
    )
    assert not result.success and RUN_TYPE_TAG not in instance.get_run_by_id(result.run_id).tags

    report = _reported_once(database_url, instance, resources, result)

    assert report.run_type == "HIST_BACKFILL" and report.run_status == FAIL


def test_a_run_that_writes_no_ovc_table_gets_no_report(database_url, resources, instance) -> None:
    result = dg.materialize(
        [ovc_run_reports], instance=instance, resources=resources, partition_key="2026-01-13"
    )

    _status_tick(ovc_run_report_success_sensor, instance, resources, result)
    _sweep_tick(instance, resources)

    assert _report_rows(database_url, result.run_id) == 0
    assert RUN_TYPE_TAG not in instance.get_run_by_id(result.run_id).tags


@pytest.mark.parametrize(
    ("tags", "assets", "run_config", "expected"),
    [
        ({RUN_TYPE_TAG: "FULL_ENRICH"}, ["ovc_blocks"], None, "FULL_ENRICH"),
        ({}, ["ovc_blocks", "ovc_database_schema"], None, "LIVE_INGEST"),
        ({}, ["ovc_blocks"], {"ops": {"ovc_blocks": {"config": {"source": "oanda"}}}}, "HIST_BACKFILL"),
        ({}, ["ovc_blocks"], {"ops": {"ovc_blocks": {"config": {"source": "landed_events"}}}}, "LIVE_INGEST"),
        ({}, ["ovc_block_details"], None, "FULL_ENRICH"),
        ({}, ["ovc_outcomes"], None, "OUTCOME_COMPUTE"),
        ({}, ["ovc_run_reports", "ovc_database_schema"], None, None),
    ],
)
def test_the_run_type_is_the_tag_else_implied_by_the_assets_written(tags, assets, run_config, expected) -> None:
    assert infer_run_type(tags, assets, run_config) == expected


def test_dagster_asset_materialize_in_another_process_gets_one_report(
    landed_week, resources, tmp_path, monkeypatch
) -> None:
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "OVC_DATABASE_URL": landed_week,
        "OVC_HOME": str(tmp_path / "ovc_home"),
        "OVC_PARTITIONS_START": "2026-01-04 17:00",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "ovc_assets.definitions",
         "--select", "ovc_blocks", "--partition", TUESDAY_I_KEY],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    monkeypatch.setenv("OVC_HOME", str(tmp_path / "ovc_home"))
    with dg.DagsterInstance.get() as instance:
        (record,) = instance.get_run_records()
        assert RUN_TYPE_TAG not in record.dagster_run.tags

        _sweep_tick(instance, resources)
        _sweep_tick(instance, resources)

        assert _report_rows(landed_week, record.dagster_run.run_id) == 1
        with connect(landed_week) as conn:
            assert load_report(conn, record.dagster_run.run_id).run_type == "LIVE_INGEST"
