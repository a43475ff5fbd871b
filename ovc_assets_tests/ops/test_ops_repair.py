"""Self-repair end to end: a live window with missed alerts, its report, the repair sensor,
the requested `hist_backfill_job` runs against the fake OANDA server on 127.0.0.1, and the
repair runs' reports."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from ovc_assets.calendar import Block
from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.blocks.jobs import build_hist_backfill_job
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.repair.sensors import build_missing_blocks_repair_sensor
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.demo.sample_week import DEMO_SYMBOLS, land_alerts_directly, sample_alerts, sample_candles
from ovc_assets.runs.builder import report_dagster_run
from ovc_assets.runs.tags import RunType, ovc_run_tags
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import fake_oanda  # noqa: F401 - the fixture, shared
from ovc_assets_tests.providers.fake_oanda import FakeOanda

TUESDAY = date(2026, 1, 13)  # the demo week's Tuesday: its F alerts never arrive
WINDOW = [Block(TUESDAY, letter) for letter in "EFG"]
DROPPED = WINDOW[0].block_id("EURUSD")  # one more missed alert: EURUSD's E
# 2026-01-14 04:00 New York: Tuesday's E has closed for the provider, its F is still forming.
OANDA_NOW = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
BLOCKS_2H = blocks_2h_partitions(Block(date(2026, 1, 11), "A").start_utc)
ROWS_SQL = "SELECT bid, source, provider_source FROM ovc.ovc_blocks_v01 WHERE block_start = ANY(%s) ORDER BY bid"


@pytest.fixture
def repair_oanda(fake_oanda: FakeOanda) -> FakeOanda:
    """The backfill tests' fake OANDA server, its clock in the demo week."""
    fake_oanda.now = OANDA_NOW
    return fake_oanda


@pytest.fixture
def definitions(database_url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=build_block_assets(BLOCKS_2H),
        jobs=[build_hist_backfill_job()],
        sensors=[build_missing_blocks_repair_sensor()],
        resources={
            "ovc_database": PostgresResource(database_url=database_url),
            "pipeline": PipelineSettings(symbols=list(DEMO_SYMBOLS)),
        },
    )


def live_run(database_url: str, definitions: dg.Definitions, instance: dg.DagsterInstance, window: list[Block]):
    """A LIVE_INGEST run over `window` and its run report."""
    result = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": partition_key_for_block(window[0]),
            "dagster/asset_partition_range_end": partition_key_for_block(window[-1]),
            **ovc_run_tags(RunType.LIVE_INGEST, input_source="tv_webhook"),
        },
        asset_selection=[dg.AssetKey("ovc_blocks")],
    )
    assert result.success
    with connect(database_url, autocommit=True) as conn:
        return report_dagster_run(instance, result.run_id, conn).report


def land_all_but(database_url: str, dropped: str) -> list:
    """Land the demo week's alerts except the one of block id `dropped`; that one is returned."""
    alerts = sample_alerts(sample_candles())
    land_alerts_directly(database_url, [alert for alert in alerts if dropped not in alert.body])
    return [alert for alert in alerts if dropped in alert.body]


def tick(definitions: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorExecutionData:
    sensor = definitions.resolve_sensor_def("missing_blocks_repair_sensor")
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=definitions,
        resources={"ovc_database": definitions.resources["ovc_database"]},
    )  # fmt: skip
    return sensor.evaluate_tick(context)


def test_missing_blocks_of_a_live_window_are_backfilled_from_oanda_and_reported(
    database_url, definitions, repair_oanda, ovc_env
) -> None:
    with dg.instance_for_test() as instance:
        land_all_but(database_url, DROPPED)
        live_report = live_run(database_url, definitions, instance, WINDOW)
        assert live_report.blocks_missing == 3, "EURUSD's E and both F blocks"
        live_run_id = live_report.run_id

        first = tick(definitions, instance)
        requests = first.run_requests
        assert [(r.partition_key, r.run_config["ops"]["ovc_blocks"]["config"]) for r in requests] == [
            (partition_key_for_block(WINDOW[0]), {"source": "oanda", "symbols": ["EURUSD"]}),
            (partition_key_for_block(WINDOW[1]), {"source": "oanda", "symbols": ["EURUSD", "GBPUSD"]}),
        ]
        assert all(r.tags["ovc/run_type"] == "HIST_BACKFILL" and live_run_id in r.tags["ovc/input_range"] for r in requests)
        assert tick(definitions, instance, first.cursor).run_requests == [], "each window is repaired once"
        replanned = tick(definitions, instance)  # a tick whose requests were lost: the same run keys again
        assert [r.run_key for r in replanned.run_requests] == [r.run_key for r in requests]

        notes = []
        job = definitions.resolve_job_def("hist_backfill_job")
        for request in requests:
            run = job.execute_in_process(
                instance=instance, partition_key=request.partition_key, run_config=request.run_config, tags=request.tags
            )
            assert run.success
            with connect(database_url, autocommit=True) as conn:
                report = report_dagster_run(instance, run.run_id, conn).report
            notes.append((report.blocks_missing, report.notes.split(". ")[-1]))

    assert notes == [
        (0, "self-repair of missed alerts (oanda): 1 of 1 missing block(s) recovered, 0 still missing"),
        (2, "self-repair of missed alerts (oanda): 0 of 2 missing block(s) recovered, 2 still missing "
            f"({WINDOW[1].block_id('EURUSD')}, {WINDOW[1].block_id('GBPUSD')})"),
    ]  # fmt: skip
    with connect(database_url) as conn:
        rows = conn.execute(ROWS_SQL, ([block.start_utc for block in WINDOW],)).fetchall()
    assert rows == [
        (WINDOW[0].block_id("EURUSD"), "oanda", "oanda"),  # recovered, provider-sourced
        (WINDOW[0].block_id("GBPUSD"), "tv_plain", None),  # the live row is left alone
        (WINDOW[2].block_id("EURUSD"), "tv_plain", None),
        (WINDOW[2].block_id("GBPUSD"), "tv_plain", None),
    ]
    instruments = {request.path.split("/")[3] for request in repair_oanda.candle_requests()}
    assert instruments == {"EUR_USD", "GBP_USD"}


def test_without_oanda_the_sensor_skips(database_url, definitions, monkeypatch) -> None:
    monkeypatch.delenv("OANDA_API_TOKEN", raising=False)
    with dg.instance_for_test() as instance:
        result = tick(definitions, instance)
    assert result.run_requests == [] and "OANDA_API_TOKEN is not set" in result.skip_message


def test_a_window_replayed_before_the_repair_requests_nothing(database_url, definitions, repair_oanda, ovc_env) -> None:
    with dg.instance_for_test() as instance:
        dropped_alerts = land_all_but(database_url, DROPPED)
        assert live_run(database_url, definitions, instance, WINDOW[:1]).blocks_missing == 1
        land_alerts_directly(database_url, dropped_alerts)  # e.g. `ovc replay alerts`, then the late-events rerun
        assert live_run(database_url, definitions, instance, WINDOW[:1]).blocks_missing == 0

        assert tick(definitions, instance).run_requests == []
    with connect(database_url) as conn:
        assert conn.execute("SELECT symbols, run_key FROM ovc.block_repairs").fetchall() == [([], None)]
    assert repair_oanda.candle_requests() == []
