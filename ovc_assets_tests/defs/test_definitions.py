"""The code location loads, and its assets materialise through Dagster on a real database."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from ovc_assets.defs.resources import PostgresResource
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.storage.migrations import discover_migrations


def test_definitions_load_with_every_asset_bound_to_its_resources() -> None:
    from ovc_assets.definitions import defs

    defs.validate_loadable(defs)
    asset_keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert "ovc_database_schema" in asset_keys


def test_schema_asset_migrates_then_reports_nothing_to_do(empty_database_url: str) -> None:
    resources = {"ovc_database": PostgresResource(database_url=empty_database_url)}
    instance = dg.DagsterInstance.ephemeral()

    first = dg.materialize([ovc_database_schema], resources=resources, instance=instance)
    metadata = first.asset_materializations_for_node("ovc_database_schema")[0].metadata
    assert metadata["migrations_applied"].value == len(discover_migrations())
    assert "| raw_events | 0 |" in metadata["tables"].value

    second = dg.materialize([ovc_database_schema], resources=resources, instance=instance)
    metadata = second.asset_materializations_for_node("ovc_database_schema")[0].metadata
    assert metadata["migrations_applied"].value == 0
    assert metadata["migrations_total"].value == len(discover_migrations())


def test_the_code_location_serialises_as_the_webserver_loads_it(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "list", "-m", "ovc_assets.definitions"],
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "live_ingest_job" in result.stdout


@pytest.mark.parametrize(("setting", "seconds"), [(None, 30), ("5", 5), ("3600", 3600)])
def test_the_report_sensors_look_for_ended_runs_as_often_as_configured(monkeypatch, setting, seconds) -> None:
    from ovc_assets.definitions import build_definitions

    if setting is None:
        monkeypatch.delenv("OVC_REPORT_SENSOR_SECONDS", raising=False)
    else:
        monkeypatch.setenv("OVC_REPORT_SENSOR_SECONDS", setting)
    intervals = {sensor.name: sensor.minimum_interval_seconds for sensor in build_definitions().sensors}
    assert {name: intervals[name] for name in intervals if name.startswith("ovc_run_report_")} == {
        "ovc_run_report_success_sensor": seconds,
        "ovc_run_report_failure_sensor": seconds,
        "ovc_run_report_canceled_sensor": seconds,
    }
    assert intervals["ovc_missing_run_report_sensor"] == 60  # the sweep keeps its own pace


@pytest.mark.parametrize("setting", ["4", "3601", "soon"])
def test_a_report_sensor_interval_out_of_range_is_refused(monkeypatch, setting) -> None:
    from ovc_assets.definitions import build_definitions

    monkeypatch.setenv("OVC_REPORT_SENSOR_SECONDS", setting)
    with pytest.raises(ValueError, match="OVC_REPORT_SENSOR_SECONDS"):
        build_definitions()
