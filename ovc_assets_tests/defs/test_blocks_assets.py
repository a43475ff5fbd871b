"""`ovc_blocks` materialised through Dagster on a real database, from landed alerts."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import dagster as dg
import psycopg

from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.defs.storage.assets import ovc_database_schema
from ovc_assets.demo.sample_week import (
    land_alerts_directly,
    sample_alerts,
    sample_candles,
)
from ovc_assets.runs.builder import report_dagster_run
from ovc_assets.runs.counts import load_step_counts
from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.runs.tags import RunType, ovc_run_tags
from ovc_assets.storage.blocks import blocks_table_checksum
from ovc_assets.storage.postgres import connect
from ovc_assets.storage.raw_events import ROUTE_COLD_FULL, quarantine_event
from ovc_assets_tests.defs.conftest import BLOCKS_2H, WEEK, WEEK_RANGE_TAGS

OVC_BLOCKS, OVC_BLOCK_DETAILS = build_block_assets(BLOCKS_2H)
WEEK_BLOCKS_PER_SYMBOL = 60
MISSED_ALERTS = 2  # one per symbol: Tuesday's F block
REJECTED = 3  # E_SEM_OHLC, E_REQUIRED_MISSING, E_IDENTITY_TIME


def _materialize(resources, instance, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize([OVC_BLOCKS], resources=resources, instance=instance, selection=[OVC_BLOCKS.key], **kwargs)


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    return {key: value.value for key, value in result.asset_materializations_for_node("ovc_blocks")[0].metadata.items()}


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def test_a_week_in_one_range_run_lands_every_alerted_block_once(landed_week, resources, instance) -> None:
    result = _materialize(resources, instance, tags=WEEK_RANGE_TAGS)
    assert result.success
    metadata = _metadata(result)
    expected_rows = 2 * WEEK_BLOCKS_PER_SYMBOL - MISSED_ALERTS
    assert metadata["parse_fail"] == REJECTED
    assert metadata["received_events"] == metadata["parse_ok"] + metadata["parse_fail"]
    assert metadata["unique_events"] == expected_rows
    assert metadata["duplicate_events"] == metadata["parse_ok"] - expected_rows
    assert metadata["insert_success"] == expected_rows
    assert metadata["insert_attempted"] == metadata["insert_success"] + metadata["insert_skipped"]
    assert metadata["webhook_resends"] > 0
    assert "E_SEM_OHLC" in metadata["fail_by_code"] and "E_IDENTITY_TIME" in metadata["fail_by_code"]

    with connect(landed_week) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT bid) FROM ovc.ovc_blocks_v01").fetchone()
        recalculated = conn.execute(
            "SELECT count(*) FROM ovc.ovc_blocks_v01 WHERE payload_min->>'note' = 'recalc' AND bar_close_ms = "
            "(extract(epoch FROM block_end) * 1000)::bigint"
        ).fetchone()[0]
    assert rows == (expected_rows, expected_rows)
    assert recalculated > 0, "the later of two alerts for a block (bar time = block end) must win"

    checks = _checks(result)
    assert not checks["blocks_missing"].passed
    assert checks["blocks_missing"].metadata["blocks_missing"].value == MISSED_ALERTS
    assert checks["ohlc_sanity"].passed and checks["duplicate_keys"].passed
    assert checks["ohlc_sanity"].severity == dg.AssetCheckSeverity.ERROR


def test_a_range_run_materialises_every_partition_with_its_figures_on_the_first_only(
    landed_week, resources, instance
) -> None:
    result = _materialize(resources, instance, tags=WEEK_RANGE_TAGS)

    first, *others = result.asset_materializations_for_node("ovc_blocks")
    assert [event.partition for event in (first, *others)] == [partition_key_for_block(block) for block in WEEK]
    window = {"window_start": WEEK[0].start_utc.isoformat(), "window_end": WEEK[-1].end_utc.isoformat()}
    assert _metadata(result)["insert_success"] == 2 * WEEK_BLOCKS_PER_SYMBOL - MISSED_ALERTS
    assert {key: first.metadata[key].value for key in window} == window
    for event in others:
        metadata = {key: value.value for key, value in event.metadata.items()}
        assert metadata == {**window, "symbols": resources["pipeline"].symbols}
    latest = instance.get_latest_materialization_event(OVC_BLOCKS.key).asset_materialization
    assert latest.metadata["window_end"].value == window["window_end"]


def test_rerunning_the_week_leaves_the_table_byte_identical(landed_week, resources, instance) -> None:
    first = _materialize(resources, instance, tags=WEEK_RANGE_TAGS)
    with connect(landed_week) as conn:
        before = blocks_table_checksum(conn)
    again = _metadata(_materialize(resources, instance, tags=WEEK_RANGE_TAGS))
    assert again["insert_success"] == 0
    assert again["insert_skipped"] == again["parse_ok"] == _metadata(first)["parse_ok"]
    with connect(landed_week) as conn:
        assert blocks_table_checksum(conn) == before


def test_single_partitions_and_range_runs_agree(landed_week, resources, instance, create_test_database) -> None:
    _materialize(resources, instance, tags=WEEK_RANGE_TAGS)
    with connect(landed_week) as conn:
        range_rows = conn.execute("SELECT bid, o, h, l, c FROM ovc.ovc_blocks_v01 ORDER BY bid").fetchall()

    other = create_test_database(True)
    land_alerts_directly(other, sample_alerts(sample_candles()))
    single = {**resources, "ovc_database": type(resources["ovc_database"])(database_url=other)}
    for block in WEEK[:3]:
        assert _materialize(single, instance, partition_key=partition_key_for_block(block)).success
    with connect(other) as conn:
        partial = conn.execute("SELECT bid, o, h, l, c FROM ovc.ovc_blocks_v01 ORDER BY bid").fetchall()
    assert len(partial) == 6
    assert set(partial) <= set(range_rows)


def test_a_partition_without_events_is_a_clean_empty_run(database_url, resources, instance) -> None:
    result = _materialize(resources, instance, partition_key=partition_key_for_block(WEEK[5]))
    assert result.success
    metadata = _metadata(result)
    assert metadata["received_events"] == 0 and metadata["insert_success"] == 0
    checks = _checks(result)
    assert checks["blocks_missing"].metadata["blocks_missing"].value == 2  # both symbols expected, none came
    assert checks["blocks_missing"].severity == dg.AssetCheckSeverity.WARN


def test_counts_are_handed_to_the_run_report_also_when_the_insert_fails(landed_week, resources, instance) -> None:
    with connect(landed_week) as conn:
        conn.execute(
            "CREATE FUNCTION ovc.fail_insert() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected insert failure'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER fail_insert BEFORE INSERT ON ovc.ovc_blocks_v01 FOR EACH ROW EXECUTE FUNCTION ovc.fail_insert()"
        )
    result = _materialize(resources, instance, tags=WEEK_RANGE_TAGS, raise_on_error=False)
    assert not result.success
    with connect(landed_week) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone()[0] == 0
        (step,) = load_step_counts(conn, result.run_id)
    assert step.counts.insert_failed == 2 * WEEK_BLOCKS_PER_SYMBOL - MISSED_ALERTS
    assert step.counts.insert_success == 0
    assert step.counts.parse_fail == REJECTED


def test_details_are_off_unless_enabled(landed_week, resources, instance) -> None:
    result = dg.materialize(
        [OVC_BLOCK_DETAILS], resources=resources, instance=instance, partition_key=partition_key_for_block(WEEK[0])
    )
    assert result.asset_materializations_for_node("ovc_block_details")[0].metadata["enabled"].value is False
    with connect(landed_week) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_detail_v01").fetchone()[0] == 0


def test_the_schema_asset_is_upstream_of_the_blocks() -> None:
    assert ovc_database_schema.key in OVC_BLOCKS.dependency_keys


def test_the_weeks_run_report_warns_with_its_rejects_by_code(landed_week, resources, instance, ovc_env) -> None:
    tags = {**WEEK_RANGE_TAGS, **ovc_run_tags(RunType.LIVE_INGEST, input_source="tv_webhook")}
    result = _materialize(resources, instance, tags=tags)
    with connect(landed_week, autocommit=True) as conn:
        report = report_dagster_run(instance, result.run_id, conn).report
    assert report.run_status == "WARN"
    assert report.fail_by_code == {"E_IDENTITY_TIME": 1, "E_REQUIRED_MISSING": 1, "E_SEM_OHLC": 1}
    assert report.blocks_missing == MISSED_ALERTS
    assert report.received_events == report.parse_ok + report.parse_fail
    assert report.check_invariants() == []
    assert (Path(ovc_env["OVC_HOME"]) / "reports" / f"{result.run_id}.json").is_file()


def test_the_run_report_warns_with_the_quarantined_events_of_its_window(
    landed_week, demo_alerts, resources, instance
) -> None:
    alert = demo_alerts[0]
    body = alert.body.encode()
    refused = admit(Arrival(alert.route, body, len(body), alert.received_at, "127.0.0.1"), secret=None)[0]
    # The same window's cold-path export is no event of the blocks' routes: not counted here.
    refused_export = dataclasses.replace(refused, event_id=uuid.uuid4(), route=ROUTE_COLD_FULL)
    with connect(landed_week, autocommit=True) as conn:
        for event in (refused, refused_export):
            quarantine_event(conn, event, psycopg.errors.CheckViolation("refused by a test constraint"))
    tags = {**WEEK_RANGE_TAGS, **ovc_run_tags(RunType.LIVE_INGEST, input_source="tv_webhook")}
    result = _materialize(resources, instance, tags=tags)
    with connect(landed_week, autocommit=True) as conn:
        report = report_dagster_run(instance, result.run_id, conn).report
    assert report.run_status == "WARN"
    quarantine_warnings = [warning for warning in report.warnings if "quarantined" in warning]
    assert quarantine_warnings == [
        "quarantined_events = 1 (refused by the database, in ovc.raw_event_quarantine, not in the blocks)"
    ]
