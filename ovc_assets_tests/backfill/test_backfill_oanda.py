"""OANDA backfills against the fake OANDA v20 server on 127.0.0.1: through the asset (several
symbols, H2 and resampled M15) and through `ovc backfill oanda` on the persistent instance."""

from __future__ import annotations

from datetime import date

import dagster as dg
from typer.testing import CliRunner

from ovc_assets.calendar import Block
from ovc_assets.cli.app import app
from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.tags import INPUT_SOURCE_TAG, RUN_TYPE_TAG
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import (
    assert_seed_002_invariants,
    check_evaluations,
    materialization_metadata,
    materialize_blocks,
    step_counts,
    utc,
    window_tags,
)
from ovc_assets_tests.providers.fake_oanda import Fault, price_at

SUMMER_DAYS = (Block(date(2026, 7, 12), "A").start_utc, Block(date(2026, 7, 15), "A").start_utc)  # Sun..Tue
# Sun, Mon, and Tue's A..G: at the fake's now (Wednesday 08:34 New York) H is still forming.
COMPLETE_BLOCKS_PER_SYMBOL = 12 + 12 + 7
ROWS_SQL = """
SELECT symbol, bid, block_start, provider_o, provider_c, provider_bar_count, provider_partial, provider_source
FROM ovc.ovc_blocks_v01 ORDER BY symbol, block_start
"""


def _rows(database_url: str) -> list[tuple]:
    with connect(database_url) as conn:
        return conn.execute(ROWS_SQL).fetchall()


def test_h2_candles_of_every_configured_symbol_are_the_blocks(fake_oanda, database_url, instance) -> None:
    fake_oanda.script(Fault(500))  # the first request fails once and is retried

    result = materialize_blocks(
        database_url, {"source": "oanda"}, window_tags(*SUMMER_DAYS), instance=instance, symbols=("GBPUSD", "EURUSD")
    )

    assert result.success
    rows = _rows(database_url)
    assert len(rows) == 2 * COMPLETE_BLOCKS_PER_SYMBOL
    assert {row[0] for row in rows} == {"EURUSD", "GBPUSD"}
    assert {row[2].hour % 2 for row in rows} == {1}, "summer blocks start at odd UTC hours"
    assert {row[5:] for row in rows} == {(1, False, "oanda")}
    first_block = rows[0]
    assert first_block[1] == "20260712-A-EURUSD" and first_block[2] == utc(2026, 7, 12, 21)
    assert first_block[3] == round(price_at(first_block[2]), 5)
    assert [request.params["granularity"] for request in fake_oanda.candle_requests()].count("H2") >= 3
    assert fake_oanda.candle_requests()[0].params == fake_oanda.candle_requests()[1].params, "retried as sent"

    checks = check_evaluations(result)
    assert not checks["blocks_missing"].passed, "Tuesday's last blocks had not closed at the fake's now"
    assert checks["blocks_missing"].metadata["blocks_missing"].value == 2 * 5
    assert materialization_metadata(result)["provider_source"] == "oanda"
    assert_seed_002_invariants(step_counts(database_url, result.run_id))


def test_finer_candles_are_resampled_on_the_new_york_calendar(fake_oanda, database_url, instance) -> None:
    one_day = (Block(date(2026, 7, 13), "A").start_utc, Block(date(2026, 7, 14), "A").start_utc)
    config = {"source": "oanda", "symbols": ["GBP_USD"], "oanda_granularity": "M15", "oanda_price": "B", "chunk_blocks": 5}

    result = materialize_blocks(database_url, config, window_tags(*one_day), instance=instance)

    assert result.success
    rows = _rows(database_url)
    assert [row[1] for row in rows] == [Block(date(2026, 7, 13), letter).block_id("GBPUSD") for letter in "ABCDEFGHIJKL"]
    assert {row[5:7] for row in rows} == {(8, False)}
    assert materialization_metadata(result)["chunks_committed"] == 3
    assert {request.params["price"] for request in fake_oanda.candle_requests()} == {"B"}


def test_the_command_leaves_a_backfill_run_on_the_persistent_instance(fake_oanda, cli_env, database_url) -> None:
    result = CliRunner().invoke(
        app, ["backfill", "oanda", "--symbol", "GBP_USD", "--start", "2026-07-12", "--end", "2026-07-13"]
    )

    assert result.exit_code == 0, result.output
    assert "GBPUSD: chunk 1 committed, 24 blocks up to 2026-07-14T21:00:00+00:00 (100%)" in result.output
    assert "checks: all passed" in result.output
    assert len(_rows(database_url)) == 24
    with open_dagster_instance(database_url) as instance:
        (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert (run.tags[RUN_TYPE_TAG], run.tags[INPUT_SOURCE_TAG]) == ("HIST_BACKFILL", "oanda_api")


def test_a_refused_token_fails_the_run_with_its_code_and_counts(fake_oanda, cli_env, database_url, monkeypatch) -> None:
    monkeypatch.setenv("OANDA_API_TOKEN", "not-the-token")

    result = CliRunner().invoke(
        app, ["backfill", "oanda", "--symbol", "GBPUSD", "--start", "2026-07-13", "--end", "2026-07-13"]
    )

    assert isinstance(result.exception, OvcError) and result.exception.code == ErrorCode.OANDA_AUTH
    assert "not-the-token" not in result.exception.message
    with open_dagster_instance(database_url) as instance:
        (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    counts = step_counts(database_url, run.run_id)
    assert counts.fail_by_code == {"E_OANDA_AUTH": 1}
    assert_seed_002_invariants(counts)


def test_a_missing_token_is_refused_before_any_run(fake_oanda, cli_env, database_url, monkeypatch) -> None:
    monkeypatch.delenv("OANDA_API_TOKEN")

    result = CliRunner().invoke(app, ["backfill", "oanda", "--symbol", "GBPUSD", "--start", "2026-07-13", "--end", "2026-07-13"])

    assert isinstance(result.exception, OvcError) and result.exception.code == ErrorCode.OANDA_AUTH
    assert fake_oanda.requests == []
    with open_dagster_instance(database_url) as instance:
        assert list(instance.get_runs()) == []



def test_a_rerun_after_a_failed_symbol_resumes_it_and_skips_the_completed_one(fake_oanda, database_url, instance) -> None:
    one_day = window_tags(Block(date(2026, 7, 13), "A").start_utc, Block(date(2026, 7, 14), "A").start_utc)
    config = {"source": "oanda", "symbols": ["GBPUSD", "AUDUSD"]}

    failed = materialize_blocks(database_url, config, one_day, instance=instance)
    assert not failed.success
    assert step_counts(database_url, failed.run_id).fail_by_code == {"E_OANDA_INSTRUMENT": 1}
    fake_oanda.instruments = (*fake_oanda.instruments, "AUD_USD")
    requests_before = len(fake_oanda.candle_requests())

    resumed = materialize_blocks(database_url, config, one_day, instance=instance)

    assert resumed.success
    asked = {request.path.split("/")[3] for request in fake_oanda.candle_requests()[requests_before:]}
    assert asked == {"AUD_USD"}, "the symbol the failed run completed is not downloaded again"
    metadata = materialization_metadata(resumed)
    assert metadata["blocks_committed_before"] == 12 and metadata["rows_inserted"] == 12
    assert len(_rows(database_url)) == 24

    again = materialize_blocks(database_url, config, one_day, instance=instance)
    counts = step_counts(database_url, again.run_id)
    assert counts.received_events == counts.insert_skipped == 24, "a completed backfill again is a full pass"
