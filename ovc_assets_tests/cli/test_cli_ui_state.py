"""What the Dagster UI shows after `ovc db migrate`, read from the instance the processes share:
the schema's migrations as materialisations of `ovc_database_schema`, once per change (after
`ovc demo`: cli/test_cli_demo.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import pytest

from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.defs.storage.assets import OVC_DATABASE_SCHEMA
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
