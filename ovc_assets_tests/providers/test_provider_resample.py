"""Resampling candle frames into New-York-anchored 2-hour blocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.calendar import Block, block_at
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.resample import (
    BLOCK_COLUMNS,
    BlockResampler,
    candle_frame,
    resample_to_blocks,
    validate_candles,
)

ONE_MINUTE = timedelta(minutes=1)


def candles_at(times, *, opens=None, highs=None, lows=None, closes=None, volumes=None) -> pd.DataFrame:
    """A valid candle frame at these times; unspecified prices follow the row number."""
    times = pd.DatetimeIndex(times)
    base = 1.3 + np.arange(len(times)) * 1e-4
    opens = base if opens is None else opens
    closes = base + 5e-5 if closes is None else closes
    highs = np.maximum(opens, closes) + 1e-4 if highs is None else highs
    lows = np.minimum(opens, closes) - 1e-4 if lows is None else lows
    volumes = np.ones(len(times)) if volumes is None else volumes
    frame = candle_frame(times, opens, highs, lows, closes, volumes, rows=np.arange(len(times)) + 2, row_noun="line")
    validate_candles(frame)
    return frame


def minutes(start: str, count: int, step: str = "1min") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=count, freq=step, tz="UTC")


def blocks_of(candles: pd.DataFrame, chunk_rows: int | None = None, **options) -> pd.DataFrame:
    chunks = [candles] if chunk_rows is None else [candles.iloc[i : i + chunk_rows] for i in range(0, len(candles), chunk_rows)]
    options.setdefault("source", "csv")
    frames = list(resample_to_blocks(chunks, symbol="GBPUSD", **options))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BLOCK_COLUMNS)


def test_ohlc_is_first_max_min_last_and_volume_is_summed():
    # Block F of 2026-01-13: 03:00-05:00 New York = 08:00-10:00 UTC in winter.
    candles = candles_at(
        minutes("2026-01-14 08:00", 4, "30min"),
        opens=[1.30, 1.31, 1.29, 1.30],
        highs=[1.32, 1.35, 1.30, 1.31],
        lows=[1.29, 1.28, 1.25, 1.29],
        closes=[1.31, 1.29, 1.30, 1.305],
        volumes=[1, 2, 3, 4],
    )
    [block] = blocks_of(candles).to_dict("records")

    assert block["bid"] == "20260113-F-GBPUSD"
    assert block["date_ny"] == date(2026, 1, 13) and block["block2h"] == "F" and block["block4h"] == "EF"
    assert block["block_start"] == datetime(2026, 1, 14, 8, tzinfo=UTC)
    assert block["block_end"] == datetime(2026, 1, 14, 10, tzinfo=UTC)
    assert (block["o"], block["h"], block["l"], block["c"], block["volume"]) == (1.30, 1.35, 1.25, 1.305, 10)
    assert (block["bar_count"], block["expected_bar_count"], block["partial"]) == (4, 4, False)
    assert (block["symbol"], block["source"]) == ("GBPUSD", "csv")


def test_output_has_the_block_columns_in_time_order():
    blocks = blocks_of(candles_at(minutes("2026-07-14 00:00", 600)))
    assert tuple(blocks.columns) == BLOCK_COLUMNS
    assert blocks["block_start"].is_monotonic_increasing
    assert str(blocks["block_start"].dtype) == "datetime64[ns, UTC]"
    assert blocks["bar_count"].sum() == 600


def test_bar_counts_and_partial_blocks_after_a_gap():
    # Winter: block F is 08:00-10:00 UTC, G 10:00-12:00, H 12:00-14:00.
    times = minutes("2026-01-14 08:00", 120).append(minutes("2026-01-14 10:30", 90)).append(minutes("2026-01-14 12:00", 120))
    blocks = blocks_of(candles_at(times)).set_index("block2h")

    assert blocks.loc["F", ["bar_count", "expected_bar_count", "partial"]].tolist() == [120, 120, False]
    assert blocks.loc["G", ["bar_count", "expected_bar_count", "partial"]].tolist() == [90, 120, True]
    assert blocks.loc["H", ["bar_count", "expected_bar_count", "partial"]].tolist() == [120, 120, False]


@pytest.mark.parametrize(("day", "utc_hour_parity"), [("2026-07-14", 1), ("2026-01-14", 0)])
def test_blocks_start_at_odd_utc_hours_in_summer_and_even_ones_in_winter(day, utc_hour_parity):
    blocks = blocks_of(candles_at(minutes(f"{day} 00:00", 24, "1h")))
    assert {start.hour % 2 for start in blocks["block_start"]} == {utc_hour_parity}
    # The upstream bug bucketed at even UTC hours; in summer each of those bins spans two blocks.
    utc_bins = pd.Series(1, index=minutes(f"{day} 00:00", 24, "1h")).resample("2h").size()
    assert (len(blocks) == len(utc_bins)) == (utc_hour_parity == 0)


def test_h2_candles_on_the_block_grid_pass_through_one_per_block():
    starts = [Block(date(2026, 7, 13), letter).start_utc for letter in "ABCDEF"]
    candles = candles_at(starts)
    blocks = blocks_of(candles, bar_size=timedelta(hours=2))

    assert list(blocks["block_start"]) == starts
    assert blocks[["o", "h", "l", "c"]].to_numpy().tolist() == candles[["o", "h", "l", "c"]].to_numpy().tolist()
    assert (blocks["bar_count"] == 1).all() and (blocks["expected_bar_count"] == 1).all()


def test_weekend_blocks_are_kept_with_the_length_of_their_dst_switch():
    # Block E of Saturday 2026-03-07 is 1 hour long, E of Saturday 2026-10-31 3 hours long.
    march = minutes("2026-03-08 06:00", 60)
    november = minutes("2026-11-01 05:00", 180)
    blocks = blocks_of(candles_at(march.append(november)))

    assert blocks["bid"].tolist() == ["20260307-E-GBPUSD", "20261031-E-GBPUSD"]
    assert blocks["expected_bar_count"].tolist() == [60, 180]
    assert not blocks["partial"].any()


@pytest.mark.parametrize("first_minute", ["2026-03-05 00:00", "2026-10-29 00:00", "2025-12-22 00:00"])
def test_every_block_of_a_dst_or_holiday_week_has_the_identity_of_the_scalar_calendar(first_minute):
    # Both daylight-saving switches and the Christmas closure, every minute of a week: the
    # resampler's array arithmetic must give each block what Block gives it.
    candles = candles_at(minutes(first_minute, 7 * 24 * 60))
    blocks = blocks_of(candles, chunk_rows=5_000)

    expected = [block_at(time.to_pydatetime()) for time in candles["time"]]
    expected = [block for position, block in enumerate(expected) if position == 0 or block != expected[position - 1]]
    assert blocks[["block_start", "block_end", "date_ny", "block2h", "block4h", "bid"]].to_dict("records") == [
        {
            "block_start": pd.Timestamp(block.start_utc),
            "block_end": pd.Timestamp(block.end_utc),
            "date_ny": block.date_ny,
            "block2h": block.letter,
            "block4h": block.pair,
            "bid": block.block_id("GBPUSD"),
        }
        for block in expected
    ]
    assert blocks["expected_bar_count"].tolist() == [
        (block.end_utc - block.start_utc) // ONE_MINUTE for block in expected
    ]


def test_bar_size_is_inferred_from_the_start_of_the_stream_or_taken_as_given():
    five_minute = candles_at(minutes("2026-07-14 07:00", 30, "5min"))
    inferred = blocks_of(five_minute)
    assert inferred["bar_count"].tolist() == [24, 6]
    assert inferred["expected_bar_count"].tolist() == [24, 24]
    assert inferred["partial"].tolist() == [False, True]
    assert blocks_of(five_minute, bar_size=ONE_MINUTE)["expected_bar_count"].tolist() == [120, 120]

    resampler = BlockResampler("GBPUSD", source="csv")
    resampler.feed(five_minute)
    assert resampler.bar_size is None  # 30 bars are fewer than the inference sample
    resampler.finish()
    assert resampler.bar_size == timedelta(minutes=5)


def test_unknown_volume_stays_unknown():
    candles = candles_at(minutes("2026-07-14 07:00", 4, "30min"), volumes=[1, np.nan, 2, 3])
    assert np.isnan(blocks_of(candles)["volume"].iloc[0])


def test_a_block_split_across_chunks_comes_out_once_when_it_is_complete():
    candles = candles_at(minutes("2026-07-14 07:00", 180))  # block F (07-09 UTC) and half of G
    resampler = BlockResampler("GBPUSD", source="csv", bar_size=ONE_MINUTE)

    assert resampler.feed(candles.iloc[:100]).empty
    first = resampler.feed(candles.iloc[100:150])
    last = resampler.finish()

    assert first["bid"].tolist() == ["20260713-F-GBPUSD"] and first["bar_count"].tolist() == [120]
    assert last["bid"].tolist() == ["20260713-G-GBPUSD"] and last["bar_count"].tolist() == [30]
    assert resampler.finish().empty


def test_overlapping_bars_across_a_chunk_boundary_are_refused():
    candles = candles_at(minutes("2026-07-14 07:00", 10, "5min").append(minutes("2026-07-14 07:51", 3)))
    with pytest.raises(OvcError) as raised:
        blocks_of(candles, chunk_rows=10, bar_size=timedelta(minutes=5))
    assert raised.value.code == ErrorCode.CANDLE_BAR_SIZE
    assert "line 13" in raised.value.message


def test_nothing_in_gives_nothing_out():
    assert list(resample_to_blocks([], symbol="GBPUSD", source="csv")) == []


@st.composite
def bar_streams(draw):
    """Bars of one size in UTC, aligned to their size, with random gaps, 2005-2035."""
    bar_minutes = draw(st.sampled_from([1, 5, 15, 60]))
    first_bar = draw(st.integers(0, (30 * 365 * 24 * 60) // bar_minutes)) * bar_minutes
    steps = draw(st.lists(st.one_of(st.just(1), st.just(1), st.integers(2, 400)), min_size=0, max_size=250))
    offsets = np.cumsum([0, *steps]) * bar_minutes + first_bar
    times = pd.DatetimeIndex(datetime(2005, 1, 1, tzinfo=UTC) + pd.to_timedelta(offsets, unit="min"))
    opens = np.array(draw(st.lists(st.floats(0.5, 2.0), min_size=len(times), max_size=len(times))))
    closes = np.array(draw(st.lists(st.floats(0.5, 2.0), min_size=len(times), max_size=len(times))))
    return candles_at(times, opens=opens, closes=closes, volumes=np.arange(len(times), dtype=float))


def outcome(candles: pd.DataFrame, chunk_rows: int | None) -> object:
    try:
        return blocks_of(candles, chunk_rows)
    except OvcError as error:
        return error.code


@settings(max_examples=40, deadline=None)
@given(bar_streams(), st.integers(1, 40))
def test_chunking_never_changes_the_blocks(candles, chunk_rows):
    whole = outcome(candles, None)
    for chunked in (outcome(candles, 7), outcome(candles, chunk_rows)):
        if isinstance(whole, pd.DataFrame):
            pd.testing.assert_frame_equal(chunked, whole)
        else:
            assert chunked == whole
    if isinstance(whole, pd.DataFrame):
        assert whole["bar_count"].sum() == len(candles)
        assert whole["bid"].is_unique
        assert (whole["bar_count"] <= whole["expected_bar_count"]).all()
