"""Rollback of rows written by the real writers: live blocks by the real `ovc_blocks` asset,
a history backfill by the same asset, FULL details by the cold-path writer; and a run that
writes the same key more than once (the pre-image to restore is the one before its FIRST
write, never an intermediate version of its own). The commands go through the real `ovc`
app (`ovc_assets.cli.app.app`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from psycopg import sql
from typer.testing import CliRunner

from ovc_assets.cli.app import app
from ovc_assets.demo.sample_week import DEMO_SYMBOLS, land_alerts_directly, sample_alerts, sample_candles
from ovc_assets.pipeline.block_rows import FULL_DETAILS, MIN_BLOCKS, prepare_rows
from ovc_assets.runs.builder import report_dagster_run
from ovc_assets.runs.counts import RunCounts
from ovc_assets.runs.rollback import rollback_run
from ovc_assets.runs.tags import RunType, ovc_run_tags
from ovc_assets.storage.blocks import (
    DETAIL_COLUMNS,
    LIVE_BLOCK_COLUMNS,
    PROVIDER_BLOCK_COLUMNS,
    upsert_block_details,
    upsert_live_blocks,
    upsert_provider_blocks,
)
from ovc_assets.storage.raw_events import ROUTE_COLD_FULL, WindowEvent
from ovc_assets_tests.backfill.conftest import (
    Candle,
    materialize_blocks,
    range_tags,
    write_generic_csv,
)
from ovc_assets_tests.defs.conftest import WEEK
from ovc_assets_tests.runs.test_runs_rollback import ORDER

FULL_EXPORT = Path(__file__).resolve().parents[1] / "contracts" / "fixtures" / "full_001.txt"
WEEK_TAGS = range_tags(WEEK[0], WEEK[-1])
MISSED_BLOCK = "20260113-F-GBPUSD"  # the demo week's missed alert: a backfill inserts it
runner = CliRunner()


def ovc(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def all_rows(conn) -> dict[str, list[tuple]]:
    """Every row of the three tracked tables, all columns, in key order."""
    return {
        table: conn.execute(
            sql.SQL("SELECT t::text FROM {} t ORDER BY {}").format(sql.Identifier("ovc", table), sql.SQL(order))
        ).fetchall()
        for table, order in ORDER.items()
    }


def materialize_reported(conn, instance, database_url, config, run_type: RunType) -> str:
    tags = {**WEEK_TAGS, **ovc_run_tags(run_type, input_source="test")}
    result = materialize_blocks(database_url, config, tags, instance=instance, symbols=DEMO_SYMBOLS)
    assert result.success
    report_dagster_run(instance, result.run_id, conn)
    return result.run_id


@pytest.fixture
def live_week(conn, database_url, instance, ovc_home) -> str:
    """The demo week's alerts through the real `ovc_blocks` asset (118 live rows), reported."""
    land_alerts_directly(database_url, sample_alerts(sample_candles()))
    return materialize_reported(conn, instance, database_url, {}, RunType.LIVE_INGEST)


def demo_live_rows() -> list[tuple]:
    """The rows the live path makes of the demo week's alerts (what `live_week` wrote)."""
    alerts = sample_alerts(sample_candles())
    events = [WindowEvent(uuid.uuid4(), a.received_at, a.route, a.body.encode(), 0) for a in alerts]
    return prepare_rows(MIN_BLOCKS, events, "unused", RunCounts()).rows


def test_rolling_back_a_real_history_backfill_restores_the_live_week_exactly(
    conn, database_url, instance, live_week, tmp_path
) -> None:
    before = all_rows(conn)
    candles = [Candle(x.start, x.o + 0.001, x.h + 0.001, x.l + 0.001, x.c + 0.001, x.volume)
               for x in sample_candles() if x.symbol == "GBPUSD"]
    csv_path = write_generic_csv(tmp_path / "gbpusd.csv", candles)
    backfill = materialize_reported(conn, instance, database_url,
                                    {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(csv_path)]},
                                    RunType.HIST_BACKFILL)
    changed = conn.execute("SELECT count(*) FILTER (WHERE run_id = %s), count(*) FROM ovc.ovc_blocks_v01",
                           (backfill,)).fetchone()
    assert changed == (60, 119)  # 59 live rows got provider columns, the missed block was inserted

    dry = ovc("runs", "rollback", backfill, "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["tables"]["ovc_blocks_v01"]["to_restore"] == 59
    assert all_rows(conn) != before

    done = ovc("runs", "rollback", backfill, "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert outcome["applied"] and outcome["tables"]["ovc_blocks_v01"] == {
        "to_remove": 1, "to_restore": 59, "conflicted": 0, "removed": 1, "restored": 59}
    assert all_rows(conn) == before
    assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01 WHERE bid = %s", (MISSED_BLOCK,)).fetchone() == (0,)

    shown = ovc("runs", "show", backfill, "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["manifest"]["status"] == "ROLLED_BACK"
    listed = ovc("runs", "list", "--type", "ROLLBACK", "--json")
    assert [run["run_id"] for run in json.loads(listed.stdout)] == [outcome["rollback_run_id"]]
    report = ovc("report", "show", outcome["rollback_run_id"], "--json")
    assert report.exit_code == 0 and json.loads(report.stdout)["input_range"] == f"run_id={backfill}"
    assert ovc("validate-duplicates").exit_code == 0
    again = runner.invoke(app, ["runs", "rollback", backfill])
    assert again.exit_code != 0 and "already rolled back" in str(again.exception)


def test_rolling_back_the_live_run_removes_every_row_it_inserted(conn, live_week) -> None:
    assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone() == (118,)
    result = rollback_run(conn, live_week)
    assert result.applied and (result.tables["ovc_blocks_v01"].removed, result.tables["ovc_blocks_v01"].restored) == (118, 0)
    assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone() == (0,)


def _candle_rows(live: list[tuple], run_id: str, shift: float) -> list[tuple]:
    rows = []
    for row in live:
        values = dict(zip(LIVE_BLOCK_COLUMNS, row, strict=True))
        values.update(provider_source="oanda", provider_o=values["o"] + shift, provider_h=values["h"] + shift,
                      provider_l=values["l"] + shift, provider_c=values["c"] + shift, provider_volume=100.0,
                      provider_bar_count=8, provider_partial=False, run_id=run_id)
        rows.append(tuple(values[column] for column in PROVIDER_BLOCK_COLUMNS))
    return rows


def _with(row: tuple, run_id: str, **changes: object) -> tuple:
    values = dict(zip(LIVE_BLOCK_COLUMNS, row, strict=True))
    values.update(changes, run_id=run_id)
    return tuple(values[column] for column in LIVE_BLOCK_COLUMNS)


def test_a_run_that_writes_the_same_keys_twice_is_rolled_back_to_before_its_first_write(
    conn, live_week
) -> None:
    before = all_rows(conn)
    live = sorted(demo_live_rows(), key=lambda row: row[LIVE_BLOCK_COLUMNS.index("bid")])[:4]
    # Run X: a candle for four live blocks, then another candle for the same blocks; a live
    # block rewritten twice; a block that did not exist, inserted and then rewritten.
    upsert_provider_blocks(conn, _candle_rows(live, "X", 0.001))
    upsert_provider_blocks(conn, _candle_rows(live, "X", 0.002))
    upsert_live_blocks(conn, [_with(live[0], "X", state_tag="FIRST_REWRITE")])
    upsert_live_blocks(conn, [_with(live[0], "X", state_tag="SECOND_REWRITE")])
    missed = conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01 WHERE bid = %s", (MISSED_BLOCK,)).fetchone()
    assert missed == (0,)
    block_e = dict(zip(LIVE_BLOCK_COLUMNS, next(
        row for row in demo_live_rows() if row[LIVE_BLOCK_COLUMNS.index("bid")] == "20260113-E-GBPUSD"), strict=True))
    new_block = _with(  # the missed F block: E's values one block later
        tuple(block_e.values()), "X", bid=MISSED_BLOCK, block2h="F",
        block_start=block_e["block_start"] + timedelta(hours=2), block_end=block_e["block_end"] + timedelta(hours=2))
    upsert_live_blocks(conn, [new_block])
    upsert_live_blocks(conn, [_with(new_block, "X", state_tag="REWRITTEN")])
    history = conn.execute("SELECT count(*) FROM ovc.row_history WHERE replaced_by_run_id = 'X'").fetchone()[0]
    assert history == 4 + 4 + 2 + 1  # every rewrite kept its pre-image

    result = rollback_run(conn, "X")

    assert result.applied and result.refused is None
    assert (result.tables["ovc_blocks_v01"].removed, result.tables["ovc_blocks_v01"].restored) == (1, 4)
    assert all_rows(conn) == before


def test_rolling_back_full_details_written_twice_restores_the_first_version(conn, database_url) -> None:
    body = FULL_EXPORT.read_bytes().strip()
    event = WindowEvent(uuid.uuid4(), datetime.now(UTC), ROUTE_COLD_FULL, body, 0)
    (row,) = prepare_rows(FULL_DETAILS, [event], "P", RunCounts()).rows
    upsert_block_details(conn, [row])
    before = all_rows(conn)

    values = dict(zip(DETAIL_COLUMNS, row, strict=True))
    for version in ("v2", "v3"):
        payload = json.loads(values["full_payload"]) | {"enriched": version}
        rewritten = {**values, "full_payload": json.dumps(payload), "run_id": "X"}
        upsert_block_details(conn, [tuple(rewritten[column] for column in DETAIL_COLUMNS)])
    assert conn.execute("SELECT full_payload->>'enriched' FROM ovc.ovc_blocks_detail_v01").fetchone() == ("v3",)

    result = rollback_run(conn, "X")
    assert result.applied and result.tables["ovc_blocks_detail_v01"].restored == 1
    assert all_rows(conn) == before


def test_another_run_writing_a_key_between_two_writes_of_the_run_is_a_conflict(conn) -> None:
    """X writes K, Y writes K, X writes K again: without X the row would hold Y's version, so
    restoring the version before X would silently discard Y's write. It is refused, naming Y,
    unless forced."""
    live = [_with(row, "P") for row in sorted(demo_live_rows())[:2]]
    upsert_live_blocks(conn, live)
    before = all_rows(conn)
    upsert_provider_blocks(conn, _candle_rows(live, "X", 0.001))
    upsert_provider_blocks(conn, _candle_rows(live[:1], "Y", 0.002))
    upsert_provider_blocks(conn, _candle_rows(live, "X", 0.003))
    interleaved = all_rows(conn)

    refused = rollback_run(conn, "X")
    assert not refused.applied and refused.later_runs == ["Y"] and refused.conflicted == 1
    assert all_rows(conn) == interleaved

    forced = rollback_run(conn, "X", force=True)
    assert forced.applied and forced.later_runs == ["Y"]
    assert all_rows(conn) == before


def test_another_run_writing_a_key_the_run_inserted_before_the_run_rewrote_it_is_a_conflict(conn) -> None:
    live = [_with(row, "X") for row in sorted(demo_live_rows())[:1]]
    upsert_live_blocks(conn, live)  # X inserts K
    upsert_live_blocks(conn, [_with(live[0], "Y", state_tag="BY_Y")])
    upsert_live_blocks(conn, [_with(live[0], "X", state_tag="BY_X_AGAIN")])

    refused = rollback_run(conn, "X")
    assert not refused.applied and refused.later_runs == ["Y"]
    forced = rollback_run(conn, "X", force=True)
    assert forced.applied
    assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone() == (0,)  # absent before X
