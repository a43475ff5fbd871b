"""What the Dagster UI shows after the `ovc` commands, read from the instance they share:
the schema's migrations as materialisations of `ovc_database_schema` (`ovc db migrate`,
`ovc demo`) and the demo's run reports in `ovc_run_reports` at once, before any sensor ran."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.run_reports.assets import RUN_REPORTS_ASSET_KEY, partition_key_for
from ovc_assets.defs.storage.assets import OVC_DATABASE_SCHEMA
from ovc_assets.runs.store import load_reports_between
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import cli_environment
from ovc_assets_tests.conftest import REPO_ROOT


def run_ovc(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", *args],
        cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture
def bound(empty_database_url, tmp_path, monkeypatch) -> dict[str, str]:
    """An `ovc` environment on an empty database; this process reads the same instance."""
    environment = cli_environment(empty_database_url, tmp_path / "ovc_home")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def _materializations(dsn: str, key: dg.AssetKey) -> list[dg.EventLogRecord]:
    with open_dagster_instance(dsn) as instance:
        return list(instance.fetch_materializations(key, limit=1000).records)


def test_db_migrate_records_the_schema_once_per_change(bound) -> None:
    assert _materializations(bound["OVC_DATABASE_URL"], OVC_DATABASE_SCHEMA) == []

    first = run_ovc(bound, "db", "migrate")
    second = run_ovc(bound, "db", "migrate")

    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    (record,) = _materializations(bound["OVC_DATABASE_URL"], OVC_DATABASE_SCHEMA)
    metadata = record.asset_materialization.metadata
    assert metadata["migrations_applied"].value == metadata["migrations_total"].value >= 4
    assert "ovc_run_reports_v01" in metadata["tables"].value


def test_the_demo_leaves_the_schema_and_every_run_report_visible(bound) -> None:
    result = run_ovc(bound, "demo", timeout=600)

    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    dsn = bound["OVC_DATABASE_URL"]
    assert len(_materializations(dsn, OVC_DATABASE_SCHEMA)) == 1
    with connect(dsn) as conn:
        reports = load_reports_between(conn, 0, 2**62)
    assert len(reports) >= 3  # the live week, one history backfill per symbol, and any later step
    recorded = _materializations(dsn, RUN_REPORTS_ASSET_KEY)
    assert sorted(record.asset_materialization.metadata["run_id"].value for record in recorded) == sorted(
        report.run_id for report in reports
    )
    assert {record.partition_key for record in recorded} == {partition_key_for(report) for report in reports}
