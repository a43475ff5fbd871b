"""The Dagster instance lives in the OVC Postgres server, reachable by dagster-postgres."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster_postgres.event_log import PostgresEventLogStorage
from psycopg.conninfo import conninfo_to_dict

from ovc_assets.dagster_instance import open_dagster_instance, sqlalchemy_psycopg2_url
from ovc_assets.event_log_storage import OvcEventLogStorage
from ovc_assets.run_coordinator import OvcRunCoordinator
from ovc_assets.settings import Settings
from ovc_assets.storage.postgres import connect


@pytest.mark.parametrize(
    ("dsn", "url"),
    [
        ("postgresql://postgres@127.0.0.1:5432/ovc", "postgresql+psycopg2://postgres@127.0.0.1:5432/ovc"),
        ("postgresql://u:p%40ss@db:6432/x?sslmode=require", "postgresql+psycopg2://u:p%40ss@db:6432/x?sslmode=require"),
        ("postgresql://postgres:@/postgres?host=/tmp/ovc/pg", "postgresql+psycopg2://postgres@/postgres?host=%2Ftmp%2Fovc%2Fpg"),
        ("host=/tmp/s port=5433 user=a dbname=b", "postgresql+psycopg2://a@/b?host=%2Ftmp%2Fs&port=5433"),
    ],
)
def test_dagster_postgres_needs_the_psycopg2_url_form(dsn: str, url: str) -> None:
    assert sqlalchemy_psycopg2_url(dsn) == url


def _settings_in(tmp_path: Path, database_url: str) -> Settings:
    """OVC settings with their home and raw store under the test's folder."""
    return Settings(
        home=tmp_path / "ovc", database_url=database_url, raw_store_url=(tmp_path / "raw").as_uri(), s3_endpoint_url=None
    )


def test_runs_recorded_in_postgres_survive_a_new_instance(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")  # so that the value the code sets is undone after the test

    @dg.asset
    def probe() -> int:
        return 1

    instance = open_dagster_instance(database_url)
    result = dg.materialize([probe], instance=instance)
    assert result.success
    instance.dispose()

    again = open_dagster_instance(database_url)
    assert again.get_run_by_id(result.run_id) is not None
    assert "postgres" in type(again.run_storage).__name__.lower()
    dagster_db = conninfo_to_dict(database_url)["dbname"] + "_dagster"
    with connect(database_url) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dagster_db,)).fetchone()
    again.dispose()


def test_the_instance_queues_runs_limits_ovc_runs_monitors_them_and_purges_ticks(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")

    instance = open_dagster_instance(database_url)
    try:
        assert type(instance.run_coordinator) is OvcRunCoordinator  # tags OVC runs when queued: test_run_queue.py
        queue = instance.get_concurrency_config().run_queue_config
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [("ovc/run_type", 1)]
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 180
        retention = instance.get_settings("retention")
        assert retention["sensor"]["purge_after_days"]["skipped"] == 1 and retention["schedule"]["purge_after_days"] == 90
    finally:
        instance.dispose()


def test_opening_the_instance_leaves_dagster_home_alone(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_in(tmp_path, database_url)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")  # set by open_dagster_instance; restored after the test
    instance = open_dagster_instance(database_url, settings)
    try:
        assert "DAGSTER_HOME" not in os.environ
        assert Path(instance.root_directory) == (tmp_path / "ovc" / "dagster").resolve()
        assert "postgres" in type(instance.run_storage).__name__.lower()
    finally:
        instance.dispose()


def _dagster_connections(database_url: str) -> int:
    """How many server connections the Dagster database has open."""
    dagster_db = conninfo_to_dict(database_url)["dbname"] + "_dagster"
    with connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dagster_db,)).fetchone()[0]


def test_the_instance_keeps_its_connections_between_events(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_in(tmp_path, database_url)
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")  # set by open_dagster_instance; restored after the test

    @dg.asset
    def probe() -> int:
        return 1

    instance = open_dagster_instance(database_url, settings)
    assert dg.materialize([probe], instance=instance).success
    try:
        assert _dagster_connections(database_url) > 0, "every event of the run opened and closed a connection of its own"
    finally:
        instance.dispose()


def test_the_event_log_asks_the_catalog_once_for_what_exists_and_again_for_what_is_missing(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings_in(tmp_path, database_url)
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")  # set by open_dagster_instance; restored after the test
    asked: list[str] = []
    ask_catalog = PostgresEventLogStorage.has_table
    monkeypatch.setattr(PostgresEventLogStorage, "has_table", lambda self, name: asked.append(name) or ask_catalog(self, name))

    @dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="probe"), dg.AssetCheckSpec("small", asset="probe")])
    def probe() -> Iterator[object]:
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="positive", passed=True)
        yield dg.AssetCheckResult(check_name="small", passed=True)

    instance = open_dagster_instance(database_url, settings)
    try:
        assert type(instance.event_log_storage) is OvcEventLogStorage
        for _ in range(3):
            assert dg.materialize([probe], instance=instance).success
        history = instance.event_log_storage.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey("probe"), "positive"), limit=10)
        assert [record.status.value for record in history] == ["SUCCEEDED"] * 3
        assert asked.count("asset_check_executions") == 1, asked

        asked.clear()
        assert not instance.event_log_storage.has_table("ovc_not_a_dagster_table")
        assert not instance.event_log_storage.has_table("ovc_not_a_dagster_table")
        assert asked == ["ovc_not_a_dagster_table"] * 2, "a missing table must be asked again: a migration may add it"
    finally:
        instance.dispose()
