"""Provider candles merged with live TradingView rows, and a rerun that changes nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ovc_assets.calendar import block_at
from ovc_assets.demo.sample_week import (
    DEMO_SYMBOLS,
    land_alerts_directly,
    sample_alerts,
    sample_candles,
    week_blocks,
)
from ovc_assets.storage.blocks import blocks_table_checksum
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import (
    Candle,
    assert_seed_002_invariants,
    check_evaluations,
    materialization_metadata,
    materialize_blocks,
    range_tags,
    step_counts,
    write_generic_csv,
)

WEEK = week_blocks()
WEEK_TAGS = range_tags(WEEK[0], WEEK[-1])
MISSED_BLOCK = "20260113-F-GBPUSD"  # the demo week's missed alert
DIVERGING_BLOCK = "20260113-C-GBPUSD"
LIVE_FIELDS = "o, h, l, c, rng, body, ret, dir, source, export_min, payload_min, ready, tradeable, state_tag, play, bar_close_ms"
ROWS_SQL = f"SELECT bid, {LIVE_FIELDS} FROM ovc.ovc_blocks_v01 WHERE symbol = %s ORDER BY bid"
PROVIDER_SQL = """
SELECT bid, o, h, l, c, volume, source, export_min IS NOT NULL,
       provider_o, provider_h, provider_l, provider_c, provider_volume, provider_bar_count, provider_source
FROM ovc.ovc_blocks_v01 WHERE symbol = 'GBPUSD' ORDER BY bid
"""


@pytest.fixture
def live_week(database_url: str, instance) -> str:
    """The demo week landed from webhooks and materialised by the live path (default config)."""
    land_alerts_directly(database_url, sample_alerts(sample_candles()))
    result = materialize_blocks(database_url, {}, WEEK_TAGS, instance=instance, symbols=DEMO_SYMBOLS)
    assert result.success and materialization_metadata(result)["rows_inserted"] == 2 * 60 - 2
    return database_url


@pytest.fixture
def week_csv(tmp_path: Path) -> Path:
    """The week's GBPUSD quarter-hour candles, the ones the alerts were computed from, except
    one candle whose high disagrees with what the chart sent."""
    candles = [
        Candle(x.start, x.o, x.h, x.l, x.c, x.volume) for x in sample_candles() if x.symbol == "GBPUSD"
    ]
    diverging = next(i for i, x in enumerate(candles) if block_at(x.start).block_id("GBPUSD") == DIVERGING_BLOCK)
    candles[diverging] = dataclasses.replace(candles[diverging], h=candles[diverging].h + 0.01)
    return write_generic_csv(tmp_path / "gbpusd_week.csv", candles)


def _csv_config(path: Path) -> dict[str, object]:
    return {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(path)]}


def _rows(database_url: str, sql: str, *params: object) -> dict[str, tuple]:
    with connect(database_url) as conn:
        return {row[0]: row[1:] for row in conn.execute(sql, params).fetchall()}


def test_candles_fill_provider_columns_and_never_overwrite_live_fields(live_week, week_csv, instance) -> None:
    live_before = _rows(live_week, ROWS_SQL, "GBPUSD")
    eurusd_before = _rows(live_week, ROWS_SQL, "EURUSD")

    result = materialize_blocks(live_week, _csv_config(week_csv), WEEK_TAGS, instance=instance, symbols=DEMO_SYMBOLS)

    assert result.success
    live_after = _rows(live_week, ROWS_SQL, "GBPUSD")
    assert {bid: live_after[bid] for bid in live_before} == live_before, "live OHLC and MIN fields are kept"
    assert _rows(live_week, ROWS_SQL, "EURUSD") == eurusd_before

    candles = [x for x in sample_candles() if x.symbol == "GBPUSD"]
    rows = _rows(live_week, PROVIDER_SQL)
    assert len(rows) == 60
    for bid, (o, h, low, c, volume, source, is_live, p_o, p_h, p_l, p_c, p_volume, bar_count, p_source) in rows.items():
        bars = [x for x in candles if block_at(x.start).block_id("GBPUSD") == bid]
        assert volume == p_volume == sum(x.volume for x in bars), "volume is filled from the candles"
        assert (p_o, p_l, p_c, bar_count, p_source) == (bars[0].o, min(x.l for x in bars), bars[-1].c, 8, "csv")
        if bid == MISSED_BLOCK:
            assert not is_live and (o, h, low, c, source) == (p_o, p_h, p_l, p_c, "csv"), "no live row: the candle fills it"
        elif bid == DIVERGING_BLOCK:
            assert is_live and p_h == pytest.approx(h + 0.01)
        else:
            assert is_live and (o, h, low, c) == (p_o, p_h, p_l, p_c), "the chart and the candles agree"

    checks = check_evaluations(result)
    divergence = checks["ohlc_divergence"]
    assert not divergence.passed and divergence.severity.value == "WARN"
    assert divergence.metadata["examples"].value == [DIVERGING_BLOCK]
    assert divergence.metadata["blocks_compared"].value == 60 - 1  # GBPUSD blocks with both a live row and a candle
    metadata = materialization_metadata(result)
    assert (metadata["rows_inserted"], metadata["rows_updated"]) == (1, 59)
    assert_seed_002_invariants(step_counts(live_week, result.run_id))


def test_a_rerun_over_the_same_range_changes_nothing(live_week, week_csv, instance) -> None:
    first = materialize_blocks(live_week, _csv_config(week_csv), WEEK_TAGS, instance=instance, symbols=DEMO_SYMBOLS)
    with connect(live_week) as conn:
        before = blocks_table_checksum(conn)

    again = materialize_blocks(live_week, _csv_config(week_csv), WEEK_TAGS, instance=instance, symbols=DEMO_SYMBOLS)

    assert first.success and again.success
    with connect(live_week) as conn:
        assert blocks_table_checksum(conn) == before
    counts = step_counts(live_week, again.run_id)
    assert counts.received_events == counts.parse_ok == counts.insert_skipped == 60
    assert counts.insert_success == counts.insert_failed == counts.parse_fail == 0
    assert_seed_002_invariants(counts)
