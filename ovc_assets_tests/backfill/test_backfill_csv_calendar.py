"""CSV backfills through `ovc_blocks` across both 2026 DST switches and a year end: blocks
follow the New York calendar (even UTC hours in winter, odd in summer), never UTC bins."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta

from ovc_assets.calendar import NEW_YORK, Block
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import (
    Candle,
    assert_seed_002_invariants,
    check_evaluations,
    market_candles,
    materialization_metadata,
    materialize_blocks,
    step_counts,
    utc,
    window_tags,
    write_generic_csv,
)

ROWS_SQL = """
SELECT bid, block_start, provider_o, provider_h, provider_l, provider_c, provider_volume,
       provider_bar_count, provider_partial, o, h, l, c, volume, source, provider_source
FROM ovc.ovc_blocks_v01 ORDER BY block_start
"""


def _rows(database_url: str) -> dict[str, tuple]:
    with connect(database_url) as conn:
        return {row[0]: row[1:] for row in conn.execute(ROWS_SQL).fetchall()}


def _window(first_day: date, last_day: date) -> tuple[datetime, datetime]:
    return Block(first_day, "A").start_utc, Block(last_day + timedelta(days=1), "A").start_utc


def _aggregate(candles: list[Candle], start: datetime, end: datetime) -> tuple[float, float, float, float, float]:
    bars = [x for x in candles if start <= x.start < end]
    return bars[0].o, max(x.h for x in bars), min(x.l for x in bars), bars[-1].c, float(sum(x.volume for x in bars))


def test_march_switch_moves_blocks_from_even_to_odd_utc_hours(database_url, tmp_path, instance) -> None:
    # Hourly UTC bars, as real FX data comes: Thursday (EST) and Sunday/Monday (EDT) of the switch.
    start, end = _window(date(2026, 3, 5), date(2026, 3, 9))
    candles = market_candles(start, end, timedelta(hours=1))
    path = write_generic_csv(tmp_path / "gbpusd_march.csv", candles)

    result = materialize_blocks(
        database_url, {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(path)]}, window_tags(start, end), instance=instance
    )

    assert result.success
    rows = _rows(database_url)
    assert len(rows) == 36  # three open OVC days; the weekend of the switch has none
    winter = [block_start for bid, (block_start, *_) in rows.items() if bid.startswith("20260305")]
    summer = [block_start for bid, (block_start, *_) in rows.items() if bid[:8] in ("20260308", "20260309")]
    assert {ts.hour % 2 for ts in winter} == {0}
    assert {ts.hour % 2 for ts in summer} == {1}
    assert rows["20260305-A-GBPUSD"][0] == utc(2026, 3, 5, 22)
    assert rows["20260308-A-GBPUSD"][0] == utc(2026, 3, 8, 21)
    assert rows["20260309-L-GBPUSD"][0] == utc(2026, 3, 10, 19)
    sunday_a = rows["20260308-A-GBPUSD"]
    assert sunday_a[1:6] == _aggregate(candles, utc(2026, 3, 8, 21), utc(2026, 3, 8, 23))
    assert {(row[6], row[7]) for row in rows.values()} == {(2, False)}
    assert sunday_a[8:12] == sunday_a[1:5], "no live row: the candle fills OHLC"
    assert sunday_a[12] == sunday_a[5] and sunday_a[13] == sunday_a[14] == "csv"

    metadata = materialization_metadata(result)
    assert metadata["received_events"] == metadata["parse_ok"] == metadata["rows_inserted"] == 36
    assert metadata["candles_read"] == len(candles)
    assert metadata["partial_blocks"] == 0
    checks = check_evaluations(result)
    assert checks["blocks_missing"].passed and checks["ohlc_sanity"].passed
    assert_seed_002_invariants(step_counts(database_url, result.run_id))


def test_november_switch_from_a_dukascopy_export(database_url, tmp_path, instance) -> None:
    start, end = _window(date(2026, 10, 29), date(2026, 11, 2))
    candles = market_candles(start, end, timedelta(minutes=30))
    path = tmp_path / "GBPUSD_Candlestick_30_M_BID.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Gmt time", "Open", "High", "Low", "Close", "Volume"])
        writer.writerows((x.start.strftime("%d.%m.%Y %H:%M:%S.000"), x.o, x.h, x.l, x.c, x.volume) for x in candles)

    config = {"source": "csv", "symbols": ["gbpusd"], "csv_paths": [str(path)], "csv_format": "dukascopy"}
    result = materialize_blocks(database_url, config, window_tags(start, end), instance=instance)

    assert result.success
    rows = _rows(database_url)
    assert len(rows) == 36
    assert {ts.hour % 2 for bid, (ts, *_) in rows.items() if bid.startswith("20261029")} == {1}
    assert {ts.hour % 2 for bid, (ts, *_) in rows.items() if bid[:8] in ("20261101", "20261102")} == {0}
    assert rows["20261029-A-GBPUSD"][0] == utc(2026, 10, 29, 21)
    assert rows["20261101-A-GBPUSD"][0] == utc(2026, 11, 1, 22)
    assert {(row[6], row[7], row[14]) for row in rows.values()} == {(4, False, "dukascopy")}
    assert materialization_metadata(result)["provider_source"] == "dukascopy"


def test_year_end_in_new_york_time_with_holiday_bars_kept_as_partial(database_url, tmp_path, instance) -> None:
    start, end = _window(date(2025, 12, 29), date(2026, 1, 5))
    # Quarter-hour bars written in New York wall-clock time, plus a thin hour on New Year's Day
    # morning (the closed Dec 31 session): kept, and flagged partial.
    holiday = [Candle(utc(2026, 1, 1, 8) + timedelta(minutes=15 * i), 1.25, 1.2502, 1.2498, 1.2501, 5) for i in range(4)]
    candles = sorted(market_candles(start, end, timedelta(minutes=15)) + holiday, key=lambda x: x.start)
    path = write_generic_csv(
        tmp_path / "gbpusd_ny.csv", candles, lambda ts: ts.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M:%S")
    )

    config = {"source": "csv", "symbols": ["GBPUSD"], "csv_paths": [str(path)], "csv_tz": "America/New_York"}
    result = materialize_blocks(database_url, config, window_tags(start, end), instance=instance)

    assert result.success
    rows = _rows(database_url)
    bids = list(rows)
    new_year_block = bids.index("20251231-F-GBPUSD")
    assert bids[new_year_block - 1] == "20251230-L-GBPUSD" and bids[new_year_block + 1] == "20260101-A-GBPUSD"
    assert rows["20251231-F-GBPUSD"][0] == utc(2026, 1, 1, 8)
    assert rows["20251231-F-GBPUSD"][6:8] == (4, True)
    assert rows["20260101-A-GBPUSD"][0] == utc(2026, 1, 1, 22)
    assert {row[6:8] for bid, row in rows.items() if bid != "20251231-F-GBPUSD"} == {(8, False)}
    open_sessions = 5  # Mon, Tue, Thu (from Jan 1 17:00), Sun, Mon; Wednesday's is the New Year closure
    assert len(rows) == open_sessions * 12 + 1
    metadata = materialization_metadata(result)
    assert metadata["partial_blocks"] == 1 and metadata["blocks_outside_window"] == 0
    checks = check_evaluations(result)
    assert checks["blocks_missing"].passed, "closures are not missing blocks"
    assert checks["blocks_missing"].metadata["expected_blocks"].value == open_sessions * 12
