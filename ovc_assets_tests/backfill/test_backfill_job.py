"""`hist_backfill_job` as the code location defines it: what a backfill launched from the UI
runs: the run config names the source (`oanda` or `csv`); without one the job refuses to run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ovc_assets.calendar import Block
from ovc_assets.definitions import build_definitions
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.runs.tags import INPUT_SOURCE_TAG, RUN_TYPE_TAG
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import (
    market_candles,
    step_counts,
    window_tags,
    write_generic_csv,
)

TWO_DAYS = (Block(date(2026, 7, 12), "A").start_utc, Block(date(2026, 7, 14), "A").start_utc)


@pytest.fixture
def hist_backfill_job(database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OVC_DATABASE_URL", database_url)
    monkeypatch.setenv("OVC_PARTITIONS_START", "2026-06-07 17:00")
    return build_definitions().resolve_job_def("hist_backfill_job")


def _blocks(database_url: str) -> list[tuple]:
    with connect(database_url) as conn:
        return conn.execute("SELECT symbol, provider_source, count(*) FROM ovc.ovc_blocks_v01 GROUP BY 1, 2").fetchall()


def test_the_job_carries_no_partition_scoped_config(hist_backfill_job) -> None:
    """A backfill from the job's Partitions tab brings its own run config; Dagster refuses it
    ("Cannot specify both partition-scoped run config and backfill-scoped run config") when
    the job's partitions carry config too."""
    key = partition_key_for_block(Block(date(2026, 7, 13), "C"))
    assert not hist_backfill_job.partitioned_config.get_run_config_for_partition_key(key)


def test_an_oanda_source_in_the_run_config(hist_backfill_job, fake_oanda, database_url, instance) -> None:
    block = Block(date(2026, 7, 13), "C")

    result = hist_backfill_job.execute_in_process(
        run_config={"ops": {"ovc_blocks": {"config": {"source": "oanda"}}}},
        instance=instance,
        partition_key=partition_key_for_block(block),
    )

    assert result.success
    assert _blocks(database_url) == [("GBPUSD", "oanda", 1)]
    run = instance.get_run_by_id(result.run_id)
    assert (run.tags[RUN_TYPE_TAG], run.tags[INPUT_SOURCE_TAG]) == ("HIST_BACKFILL", "oanda_api")
    assert step_counts(database_url, result.run_id).insert_success == 1


def test_the_job_without_a_provider_source_fails_with_e_config_and_reads_nothing(
    hist_backfill_job, database_url, instance
) -> None:
    block = Block(date(2026, 7, 13), "C")

    result = hist_backfill_job.execute_in_process(
        instance=instance, partition_key=partition_key_for_block(block), raise_on_error=False
    )

    assert not result.success
    assert "E_CONFIG" in str(result.failure_data_for_node("ovc_blocks").error)
    assert _blocks(database_url) == []
    with connect(database_url) as conn:
        assert not conn.execute("SELECT 1 FROM ovc.ovc_run_counts WHERE dagster_run_id = %s", (result.run_id,)).fetchone()


def test_a_range_run_from_the_asset_page_is_tagged_as_a_backfill(database_url, monkeypatch, fake_oanda, instance) -> None:
    """Materialising `ovc_blocks` with a provider config outside the job (asset page, launchpad)
    still gets the backfill's run tags, so it is reported as HIST_BACKFILL."""
    monkeypatch.setenv("OVC_DATABASE_URL", database_url)
    monkeypatch.setenv("OVC_PARTITIONS_START", "2026-06-07 17:00")
    asset_job = build_definitions().resolve_implicit_global_asset_job_def()

    result = asset_job.execute_in_process(
        run_config={"ops": {"ovc_blocks": {"config": {"source": "oanda", "symbols": ["EURUSD"]}}}},
        instance=instance,
        tags=window_tags(*TWO_DAYS),
        asset_selection=[OVC_BLOCKS],
    )

    assert result.success
    assert _blocks(database_url) == [("EURUSD", "oanda", 24)]
    run = instance.get_run_by_id(result.run_id)
    assert (run.tags[RUN_TYPE_TAG], run.tags[INPUT_SOURCE_TAG]) == ("HIST_BACKFILL", "oanda_api")


def test_a_csv_source_in_the_run_config(hist_backfill_job, database_url, tmp_path, instance) -> None:
    path = write_generic_csv(tmp_path / "eurusd.csv", market_candles(*TWO_DAYS, timedelta(minutes=5)))
    config = {"source": "csv", "symbols": ["EURUSD"], "csv_paths": [str(path)]}

    result = hist_backfill_job.execute_in_process(
        run_config={"ops": {"ovc_blocks": {"config": config}}}, instance=instance, tags=window_tags(*TWO_DAYS)
    )

    assert result.success
    assert _blocks(database_url) == [("EURUSD", "csv", 24)]
    assert instance.get_run_by_id(result.run_id).tags[INPUT_SOURCE_TAG] == "csv", "tagged by what the run read"


def test_without_run_config_the_asset_stays_on_the_live_path(database_url, monkeypatch, instance) -> None:
    monkeypatch.setenv("OVC_DATABASE_URL", database_url)
    monkeypatch.setenv("OVC_PARTITIONS_START", "2026-06-07 17:00")
    live_job = build_definitions().resolve_job_def("live_ingest_job")

    result = live_job.execute_in_process(instance=instance, tags=window_tags(*TWO_DAYS))

    assert result.success
    metadata = result.asset_materializations_for_node("ovc_blocks")[0].metadata
    assert "webhook_resends" in metadata and "provider_source" not in metadata
