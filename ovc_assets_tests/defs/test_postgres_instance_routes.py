"""The user routes on the instance users get: dagster-postgres storage (`open_dagster_instance`),
not the in-memory test instance. The live window (schedule tick -> live_ingest_job run ->
report sensor tick) and the report sensors' real ticks and sweep. The CLI backfill route is
`backfill/test_backfill_cli.py` and the range run is the demo (`cli/test_cli_demo.py`), both on
this instance too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster_postgres.event_log import PostgresEventLogStorage

from ovc_assets.calendar import NEW_YORK
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, build_block_assets
from ovc_assets.defs.blocks.jobs import build_live_ingest_job
from ovc_assets.defs.blocks.schedules import build_live_blocks_schedule
from ovc_assets.defs.run_reports.assets import RUN_REPORTS_ASSET_KEY
from ovc_assets.defs.run_reports.sensors import build_missing_run_report_sensor, ovc_run_report_success_sensor
from ovc_assets.runs.report import WARN
from ovc_assets.runs.store import load_report
from ovc_assets.runs.tags import RunType, ovc_run_tags
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.defs.conftest import BLOCKS_2H, WEEK_RANGE_TAGS

JOB = build_live_ingest_job()
TUESDAY_E_CLOSED = datetime(2026, 1, 13, 3, 5, tzinfo=NEW_YORK)  # the tick after block E of 2026-01-12 closed
TUESDAY_E = "2026-01-13-01:00"


@pytest.fixture
def postgres_instance(
    database_url: str, ovc_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """The persistent instance `ovc` commands open, its storage in `<test db>_dagster`."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")  # set by open_dagster_instance; restored after the test
    instance = open_dagster_instance(database_url)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    yield instance
    instance.dispose()


def _definitions(resources) -> dg.Definitions:
    return dg.Definitions(
        assets=build_block_assets(BLOCKS_2H),
        jobs=[JOB],
        schedules=[build_live_blocks_schedule(JOB, grace_minutes=5)],
        resources=resources,
    )


def test_the_live_window_route_runs_and_is_reported_on_the_postgres_instance(
    landed_week, resources, postgres_instance
) -> None:
    defs = _definitions(resources)
    schedule = defs.resolve_schedule_def("live_blocks_schedule")
    with dg.build_schedule_context(instance=postgres_instance, scheduled_execution_time=TUESDAY_E_CLOSED,
                                   repository_def=defs.get_repository_def()) as context:
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == TUESDAY_E

    first_tick = ovc_run_report_success_sensor.evaluate_tick(
        dg.build_sensor_context(instance=postgres_instance, resources=resources))
    job = defs.resolve_job_def("live_ingest_job")
    result = job.execute_in_process(instance=postgres_instance, partition_key=request.partition_key,
                                    tags=request.tags, raise_on_error=False)
    assert result.success

    # What the UI reads back from the Postgres event log: the partition, its checks.
    (materialization,) = postgres_instance.fetch_materializations(OVC_BLOCKS, limit=10).records
    assert materialization.asset_materialization.partition == TUESDAY_E
    assert materialization.run_id == result.run_id
    assert {e.check_name for e in result.get_asset_check_evaluations()} >= {"blocks_missing", "ohlc_sanity"}

    tick = ovc_run_report_success_sensor.evaluate_tick(
        dg.build_sensor_context(instance=postgres_instance, resources=resources, cursor=first_tick.cursor))
    with connect(landed_week) as conn:
        report = load_report(conn, result.run_id)
        rows = conn.execute("SELECT bid FROM ovc.ovc_blocks_v01 ORDER BY bid").fetchall()
    assert rows == [("20260112-E-EURUSD",), ("20260112-E-GBPUSD",)]
    assert report.run_type == "LIVE_INGEST" and report.input_source == "tv_webhook"
    assert (report.received_events, report.parse_ok, report.insert_success, report.insert_failed) == (3, 2, 2, 0)
    # The demo week's alert stamped with another block's bar time arrives in this window.
    assert report.fail_by_code == {"E_IDENTITY_TIME": 1} and report.blocks_missing == 0
    assert report.run_status == WARN and report.warnings == ["parse_fail = 1 (E_IDENTITY_TIME: 1)"]
    (reported,) = postgres_instance.fetch_materializations(RUN_REPORTS_ASSET_KEY, limit=10).records
    assert result.run_id in reported.asset_materialization.metadata["day_reports"].value

    # A repeated tick is a no-op: still one report, one report materialisation.
    again = ovc_run_report_success_sensor.evaluate_tick(
        dg.build_sensor_context(instance=postgres_instance, resources=resources, cursor=tick.cursor))
    with connect(landed_week) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01").fetchone() == (1,)
    assert len(postgres_instance.fetch_materializations(RUN_REPORTS_ASSET_KEY, limit=10).records) == 1


def test_the_sweep_reports_a_range_run_the_status_sensors_missed_on_the_postgres_instance(
    landed_week, resources, postgres_instance
) -> None:
    tags = {**WEEK_RANGE_TAGS, **ovc_run_tags(RunType.LIVE_INGEST, input_source="tv_webhook")}
    result = dg.materialize(build_block_assets(BLOCKS_2H), instance=postgres_instance, resources=resources,
                            selection=[OVC_BLOCKS], tags=tags)
    assert result.success
    sweep = build_missing_run_report_sensor(name="sweep_for_test")

    swept = sweep(dg.build_sensor_context(instance=postgres_instance, resources=resources))
    again = sweep(dg.build_sensor_context(instance=postgres_instance, resources=resources, cursor=swept.cursor))

    assert len(swept.asset_events) == 1 and again.asset_events == []
    with connect(landed_week) as conn:
        report = load_report(conn, result.run_id)
        assert conn.execute("SELECT count(*) FROM ovc.ovc_run_reports_v01").fetchone() == (1,)
    assert report.run_status == WARN and report.blocks_missing == 2  # Tuesday's F block, per symbol
    assert report.check_invariants() == []
