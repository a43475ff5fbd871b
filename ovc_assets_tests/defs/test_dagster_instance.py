"""The Dagster instance lives in the OVC Postgres server, reachable by dagster-postgres."""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import pytest
from psycopg.conninfo import conninfo_to_dict

from ovc_assets.dagster_instance import open_dagster_instance, sqlalchemy_psycopg2_url
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, OVC_BLOCKS_POOL
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.ui.conftest import wait_for


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
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [("ovc/run_type", 1)]
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 180
        retention = instance.get_settings("retention")
        assert retention["sensor"]["purge_after_days"]["skipped"] == 1 and retention["schedule"]["purge_after_days"] == 90
    finally:
        instance.dispose()


def test_two_runs_never_write_the_blocks_at_once_however_launched(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ovc_blocks` is in a pool the instance limits to one step across all runs: a run that
    needs it (from the asset page, untagged, or `ovc` in process, past the queue) waits for the
    run holding it."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")
    from ovc_assets.definitions import defs

    assert defs.get_assets_def(OVC_BLOCKS).op.pool == OVC_BLOCKS_POOL

    @dg.asset(pool=OVC_BLOCKS_POOL)
    def second_blocks_writer() -> int:
        return 1

    instance = open_dagster_instance(database_url)
    try:
        holder = "a-run-writing-the-blocks"
        # What a run's executor does first: the pool gets the instance's default limit.
        instance.event_log_storage.initialize_concurrency_limit_to_default(OVC_BLOCKS_POOL)
        assert instance.event_log_storage.claim_concurrency_slot(OVC_BLOCKS_POOL, holder, "ovc_blocks").is_claimed
        results: list[dg.ExecuteInProcessResult] = []
        writer = threading.Thread(target=lambda: results.append(dg.materialize([second_blocks_writer], instance=instance)))
        writer.start()

        def blocked_run_id() -> str | None:
            for run in instance.get_runs(limit=1):
                messages = [entry.message for entry in instance.all_logs(run.run_id)]
                if f"Step blocked by limit for pool {OVC_BLOCKS_POOL}" in messages:
                    return run.run_id
            return None

        run_id = wait_for(blocked_run_id, 60, "the second writer to wait for the pool", interval=0.5)
        assert not instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
        instance.event_log_storage.free_concurrency_slots_for_run(holder)
        writer.join(timeout=120)
        assert results and results[0].success
    finally:
        instance.dispose()
