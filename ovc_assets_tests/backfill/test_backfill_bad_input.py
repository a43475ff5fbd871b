"""Bad candle input: each E_CANDLE_* fails the run with one coded line, the run still records
its counts, and a rejected chunk is never half-written (chunks committed before it stay)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import pytest

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import (
    assert_seed_002_invariants,
    market_candles,
    materialize_blocks,
    step_counts,
    window_tags,
    write_generic_csv,
)

CHUNK_BLOCKS = 25
FIRST_WEEK = (Block(date(2026, 1, 11), "A").start_utc, Block(date(2026, 1, 16), "A").start_utc)
SECOND_WEEK = (Block(date(2026, 1, 18), "A").start_utc, Block(date(2026, 1, 23), "A").start_utc)
BAD_ROW = 100  # a data row of the second file, in its first reader chunk
# The first file's 60 blocks: the resampler hands out 59 (the last stays open until a later
# bar comes); two chunks of 25 commit, the 9 gathered for the third are rejected with the
# block of the bad row.
COMMITTED_BLOCKS = 50
REJECTED_BLOCKS = 59 - COMMITTED_BLOCKS + 1

Fault = Callable[[list[str]], list[str]]


def _edit_row(row: int, edit: Callable[[list[str]], list[str]]) -> Fault:
    def apply(lines: list[str]) -> list[str]:
        fields = lines[row].split(",")
        return [*lines[:row], ",".join(edit(fields)), *lines[row + 1 :]]

    return apply


FAULTS: dict[str, Fault] = {
    "E_CANDLE_COLUMNS": lambda lines: [lines[0].replace(",close,", ",last,"), *lines[1:]],
    "E_CANDLE_TIMESTAMP": _edit_row(BAD_ROW, lambda f: ["2026-01-20T25:99:00Z", *f[1:]]),
    "E_CANDLE_PRICE": _edit_row(BAD_ROW, lambda f: [f[0], "NaN", *f[2:]]),
    "E_CANDLE_OHLC": _edit_row(BAD_ROW, lambda f: [f[0], f[1], f[3], f[2], *f[4:]]),
    "E_CANDLE_DUPLICATE": lambda lines: [*lines[: BAD_ROW + 1], lines[BAD_ROW], *lines[BAD_ROW + 1 :]],
    "E_CANDLE_UNSORTED": lambda lines: [*lines[:BAD_ROW], lines[BAD_ROW + 1], lines[BAD_ROW], *lines[BAD_ROW + 2 :]],
    "E_CANDLE_EMPTY": lambda lines: lines[:1],
}


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    return (error.cause or error).message.strip()


def _table(database_url: str) -> tuple[int, tuple]:
    with connect(database_url) as conn:
        rows = conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone()[0]
        checkpoint = conn.execute(
            "SELECT committed_until, blocks_committed, chunks_committed, completed_at FROM ovc.backfill_checkpoints"
        ).fetchone()
    return rows, checkpoint


def _assert_failed_with(database_url: str, result: dg.ExecuteInProcessResult, code: str, rejected: int) -> str:
    assert not result.success
    message = _failure_message(result)
    assert message.startswith(f"ovc_assets.errors.OvcError: {code}: ") and "\n" not in message
    counts = step_counts(database_url, result.run_id)
    assert counts.parse_fail == rejected and counts.fail_by_code == {code: rejected}
    assert_seed_002_invariants(counts)
    return message


@pytest.mark.parametrize("code", sorted(FAULTS))
def test_a_bad_second_file_rejects_the_open_chunk_and_keeps_the_committed_ones(code, database_url, tmp_path, instance) -> None:
    good = write_generic_csv(tmp_path / "week1.csv", market_candles(*FIRST_WEEK, timedelta(minutes=15)))
    clean = write_generic_csv(tmp_path / "week2.csv", market_candles(*SECOND_WEEK, timedelta(minutes=15)))
    bad = tmp_path / "week2_bad.csv"
    bad.write_text("\n".join(FAULTS[code](clean.read_text().splitlines())) + "\n")
    config = {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(good), str(bad)], "chunk_blocks": CHUNK_BLOCKS}

    result = materialize_blocks(database_url, config, window_tags(FIRST_WEEK[0], SECOND_WEEK[1]), instance=instance)

    message = _assert_failed_with(database_url, result, code, REJECTED_BLOCKS)
    assert str(bad) in message
    rows, (committed_until, blocks_committed, chunks_committed, completed_at) = _table(database_url)
    assert rows == blocks_committed == COMMITTED_BLOCKS
    assert chunks_committed == 2 and completed_at is None
    assert committed_until == FxCalendar().expected_blocks(*FIRST_WEEK)[COMMITTED_BLOCKS - 1].end_utc
    counts = step_counts(database_url, result.run_id)
    assert counts.insert_success == COMMITTED_BLOCKS


def test_an_unknown_time_zone_fails_before_reading_a_row(database_url, tmp_path, instance) -> None:
    good = write_generic_csv(tmp_path / "week1.csv", market_candles(*FIRST_WEEK, timedelta(minutes=15)))
    config = {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(good)], "csv_tz": "Mars/Olympus_Mons"}

    result = materialize_blocks(database_url, config, window_tags(*FIRST_WEEK), instance=instance)

    assert "Mars/Olympus_Mons" in _assert_failed_with(database_url, result, "E_CANDLE_TIMEZONE", 1)
    assert _table(database_url)[0] == 0


def test_two_hour_bars_bucketed_at_even_utc_hours_in_summer_are_refused(database_url, tmp_path, instance) -> None:
    """The upstream backfill's defect as input: summer blocks start at odd UTC hours."""
    week = (Block(date(2026, 7, 12), "A").start_utc, Block(date(2026, 7, 17), "A").start_utc)
    utc_bins = [replace(x, start=x.start - timedelta(hours=1)) for x in market_candles(*week, timedelta(hours=2))]
    assert {x.start.hour % 2 for x in utc_bins} == {0}
    path = write_generic_csv(tmp_path / "gbpusd_h2_utc.csv", utc_bins)
    config = {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(path)]}

    result = materialize_blocks(database_url, config, window_tags(*week), instance=instance)

    assert "runs past the end of block" in _assert_failed_with(database_url, result, "E_CANDLE_BAR_SIZE", 1)
    assert _table(database_url)[0] == 0
