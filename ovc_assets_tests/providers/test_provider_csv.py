"""CSV candles: layouts, time zones and timestamp kinds, chunking, and every bad-input code."""

from __future__ import annotations

import dataclasses
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.csv_candles import DUKASCOPY, GENERIC, read_candle_csv
from ovc_assets.providers.resample import resample_to_blocks

HEADER = "timestamp,open,high,low,close,volume"


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bar_lines(times: pd.DatetimeIndex, time_format: str = "%Y-%m-%d %H:%M:%S") -> list[str]:
    """One good OHLCV line per time, prices drifting with the row number."""
    return [
        f"{time.strftime(time_format)},{1.3 + i * 1e-4:.5f},{1.3005 + i * 1e-4:.5f},"
        f"{1.2995 + i * 1e-4:.5f},{1.3002 + i * 1e-4:.5f},{10 + i % 7}"
        for i, time in enumerate(times)
    ]


def read_all(path: Path, *args: object, **kwargs: object) -> pd.DataFrame:
    return pd.concat(list(read_candle_csv(path, *args, **kwargs)))


def utc_minutes(start: str, periods: int, freq: str = "1min") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=periods, freq=freq, tz="UTC")


def test_generic_utc_file_reads_as_candle_frames_with_line_numbers(tmp_path):
    times = utc_minutes("2026-03-06 20:00", 30)
    path = write_csv(tmp_path / "m1.csv", [HEADER, *bar_lines(times)])

    candles = read_all(path)

    assert list(candles.columns) == ["time", "o", "h", "l", "c", "volume"]
    assert list(candles["time"]) == list(times)
    assert candles.index.name == "line" and list(candles.index) == list(range(2, 32))
    assert candles["o"].iloc[1] == pytest.approx(1.3001)
    assert candles["volume"].iloc[0] == 10


@pytest.mark.parametrize(
    ("local_text", "utc"),
    [
        ("2026-01-14 03:00:00", datetime(2026, 1, 14, 8, tzinfo=UTC)),
        ("2026-07-14 03:00:00", datetime(2026, 7, 14, 7, tzinfo=UTC)),
        ("2026-03-09 03:00:00", datetime(2026, 3, 9, 7, tzinfo=UTC)),  # Monday after the March switch
        ("2026-11-02 03:00:00", datetime(2026, 11, 2, 8, tzinfo=UTC)),  # Monday after the November switch
    ],
)
def test_wall_clock_timestamps_are_read_in_the_stated_zone(tmp_path, local_text, utc):
    path = write_csv(tmp_path / "ny.csv", [HEADER, f"{local_text},1.3,1.31,1.29,1.305,5"])
    assert read_all(path, tz="America/New_York")["time"].iloc[0] == utc


def test_offsets_win_over_the_zone_even_when_they_change_across_a_dst_switch(tmp_path):
    lines = [
        HEADER,
        "2026-03-06T15:00:00-05:00,1.3,1.31,1.29,1.305,5",
        "2026-03-09T03:00:00-04:00,1.3,1.31,1.29,1.305,5",
        "2026-03-09T08:00:00Z,1.3,1.31,1.29,1.305,5",
    ]
    candles = read_all(write_csv(tmp_path / "offsets.csv", lines), tz="Asia/Tokyo")
    assert list(candles["time"]) == [
        datetime(2026, 3, 6, 20, tzinfo=UTC),
        datetime(2026, 3, 9, 7, tzinfo=UTC),
        datetime(2026, 3, 9, 8, tzinfo=UTC),
    ]


@pytest.mark.parametrize("scale", [1, 1000])
def test_epoch_seconds_and_milliseconds(tmp_path, scale):
    times = utc_minutes("2026-12-31 21:55", 10)  # across the year end
    epochs = [str(int(time.timestamp()) * scale) for time in times]
    lines = [HEADER, *(f"{epoch},{line.split(',', 1)[1]}" for epoch, line in zip(epochs, bar_lines(times)))]
    assert list(read_all(write_csv(tmp_path / "epoch.csv", lines))["time"]) == list(times)


def test_column_names_match_ignoring_case_and_can_be_renamed(tmp_path):
    times = utc_minutes("2026-07-14 08:00", 3)
    lines = [" Date ,OPEN,High,low,CLOSE", *(line.rsplit(",", 1)[0] for line in bar_lines(times))]
    custom = dataclasses.replace(GENERIC, timestamp="date")

    candles = read_all(write_csv(tmp_path / "upper.csv", lines), custom)

    assert list(candles["time"]) == list(times)
    assert candles["volume"].isna().all()  # no volume column: volume unknown


def test_dukascopy_export(tmp_path):
    times = utc_minutes("2026-11-01 21:58", 5)  # Sunday open after the November switch
    lines = ["Gmt time,Open,High,Low,Close,Volume", *bar_lines(times, "%d.%m.%Y %H:%M:%S.000")]
    candles = read_all(write_csv(tmp_path / "EURUSD_Candlestick_1_M_BID.csv", lines), DUKASCOPY)
    assert list(candles["time"]) == list(times)
    assert DUKASCOPY.source == "dukascopy"


def test_chunks_are_bounded_and_add_up_to_the_whole_file(tmp_path):
    times = utc_minutes("2026-07-14 08:00", 50)
    path = write_csv(tmp_path / "m1.csv", [HEADER, *bar_lines(times)])

    chunks = list(read_candle_csv(path, chunk_rows=7))

    assert [len(chunk) for chunk in chunks] == [7] * 7 + [1]
    pd.testing.assert_frame_equal(pd.concat(chunks), read_all(path))


def test_blank_lines_are_skipped_without_shifting_line_numbers(tmp_path):
    times = utc_minutes("2026-07-14 08:00", 3)
    rows = bar_lines(times)
    path = write_csv(tmp_path / "blank.csv", [HEADER, rows[0], "", rows[1], rows[2].replace("1.30", "x")])
    with pytest.raises(OvcError) as raised:
        read_all(path)
    assert "line 5" in raised.value.message


def test_a_streamed_file_never_holds_more_than_a_chunk(tmp_path):
    times = utc_minutes("2026-01-05 00:00", 60_000)  # 20 chunks; the whole file at once peaked 10x higher
    path = write_csv(tmp_path / "big.csv", [HEADER, *bar_lines(times)])

    def peak_bytes(chunk_rows: int) -> int:
        tracemalloc.start()
        rows = sum(len(chunk) for chunk in read_candle_csv(path, chunk_rows=chunk_rows))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert rows == len(times)
        return peak

    assert peak_bytes(3_000) * 5 < peak_bytes(len(times))


# --- bad input: (file lines, expected code, text the message must contain) ---
GOOD = "2026-07-14 08:00:00,1.3,1.31,1.29,1.305,5"
BAD_FILES = {
    "unparseable timestamp": ([HEADER, GOOD, "2026-07-14 8 o'clock,1.3,1.31,1.29,1.305,5"], ErrorCode.CANDLE_TIMESTAMP, "line 3"),
    "missing timestamp": ([HEADER, GOOD, ",1.3,1.31,1.29,1.305,5"], ErrorCode.CANDLE_TIMESTAMP, "line 3"),
    "text after epochs": ([HEADER, "1784016000,1.3,1.31,1.29,1.305,5", "soon,1.3,1.31,1.29,1.305,5"], ErrorCode.CANDLE_TIMESTAMP, "line 3"),
    "offset on some rows only": ([HEADER, "2026-07-14T08:00:00Z,1.3,1.31,1.29,1.305,5", "2026-07-14T09:01:00+01:00,1.3,1.31,1.29,1.305,5", "2026-07-14 08:02:00,1.3,1.31,1.29,1.305,5"], ErrorCode.CANDLE_TIMESTAMP, "line 4"),
    "missing price": ([HEADER, GOOD, "2026-07-14 08:01:00,1.3,,1.29,1.305,5"], ErrorCode.CANDLE_PRICE, "line 3"),
    "NaN price": ([HEADER, "2026-07-14 08:00:00,NaN,1.31,1.29,1.305,5"], ErrorCode.CANDLE_PRICE, "line 2"),
    "text price": ([HEADER, GOOD, "2026-07-14 08:01:00,1.3,1.31,abc,1.305,5"], ErrorCode.CANDLE_PRICE, "line 3"),
    "negative price": ([HEADER, GOOD, "2026-07-14 08:01:00,-1.3,1.31,-1.4,1.305,5"], ErrorCode.CANDLE_PRICE, "line 3"),
    "zero price": ([HEADER, GOOD, "2026-07-14 08:01:00,0,1.31,0,1.305,5"], ErrorCode.CANDLE_PRICE, "line 3"),
    "negative volume": ([HEADER, GOOD, "2026-07-14 08:01:00,1.3,1.31,1.29,1.305,-5"], ErrorCode.CANDLE_PRICE, "line 3"),
    "high below low": ([HEADER, GOOD, "2026-07-14 08:01:00,1.3,1.28,1.29,1.285,5"], ErrorCode.CANDLE_OHLC, "line 3"),
    "open above high": ([HEADER, GOOD, "2026-07-14 08:01:00,1.32,1.31,1.29,1.305,5"], ErrorCode.CANDLE_OHLC, "line 3"),
    "close below low": ([HEADER, GOOD, "2026-07-14 08:01:00,1.3,1.31,1.29,1.28,5"], ErrorCode.CANDLE_OHLC, "line 3"),
    "duplicate timestamp": ([HEADER, GOOD, GOOD], ErrorCode.CANDLE_DUPLICATE, "line 3"),
    "unsorted rows": ([HEADER, GOOD, "2026-07-14 07:59:00,1.3,1.31,1.29,1.305,5"], ErrorCode.CANDLE_UNSORTED, "line 3"),
    "header only": ([HEADER], ErrorCode.CANDLE_EMPTY, "no candle rows"),
    "missing column": (["timestamp,open,high,low,volume", "2026-07-14 08:00:00,1.3,1.31,1.29,5"], ErrorCode.CANDLE_COLUMNS, "close"),
}  # fmt: skip


@pytest.mark.parametrize(("lines", "code", "named"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_input_gives_its_code_and_names_the_line(tmp_path, lines, code, named):
    path = write_csv(tmp_path / "bad.csv", lines)
    with pytest.raises(OvcError) as raised:
        read_all(path)
    assert raised.value.code == code
    assert named in raised.value.message


def test_an_empty_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(OvcError) as raised:
        read_candle_csv(path)
    assert raised.value.code == ErrorCode.CANDLE_EMPTY


def test_an_unknown_time_zone_is_refused_before_reading(tmp_path):
    path = write_csv(tmp_path / "m1.csv", [HEADER, GOOD])
    with pytest.raises(OvcError) as raised:
        read_candle_csv(path, tz="America/Atlantis")
    assert raised.value.code == ErrorCode.CANDLE_TIMEZONE
    assert "America/Atlantis" in raised.value.message


@pytest.mark.parametrize(
    "local_text",
    ["2026-03-08 02:30:00", "2026-11-01 01:30:00"],  # skipped in March, repeated in November
)
def test_wall_clock_times_that_dst_skips_or_repeats_are_refused(tmp_path, local_text):
    path = write_csv(tmp_path / "ny.csv", [HEADER, f"{local_text},1.3,1.31,1.29,1.305,5"])
    with pytest.raises(OvcError) as raised:
        read_all(path, tz="America/New_York")
    assert raised.value.code == ErrorCode.CANDLE_TIMESTAMP
    assert "line 2" in raised.value.message


def test_order_is_checked_across_chunk_boundaries(tmp_path):
    times = utc_minutes("2026-07-14 08:00", 6)
    rows = bar_lines(times)
    path = write_csv(tmp_path / "m1.csv", [HEADER, *rows[:4], rows[3], *rows[4:]])
    with pytest.raises(OvcError) as raised:
        read_all(path, chunk_rows=4)
    assert raised.value.code == ErrorCode.CANDLE_DUPLICATE
    assert "line 6" in raised.value.message


def test_a_chunk_with_a_bad_row_yields_nothing_of_it(tmp_path):
    times = utc_minutes("2026-07-14 08:00", 25)
    rows = bar_lines(times)
    rows[14] = rows[14].replace(",1.3", ",-1.3", 1)  # line 16, in the second chunk of ten
    chunks = read_candle_csv(write_csv(tmp_path / "m1.csv", [HEADER, *rows]), chunk_rows=10)

    first = next(chunks)
    with pytest.raises(OvcError) as raised:
        next(chunks)

    assert list(first.index) == list(range(2, 12))
    assert raised.value.code == ErrorCode.CANDLE_PRICE and "line 16" in raised.value.message


@pytest.mark.parametrize(
    ("times", "named"),
    [
        (utc_minutes("2026-07-13 20:00", 4, "4h"), "line 2"),  # 4-hour bars are longer than a block
        (utc_minutes("2026-07-14 08:00", 4, "7min"), "line 2"),  # 7 minutes do not divide 2 hours
        (utc_minutes("2026-07-14 08:00", 100, "5min").append(utc_minutes("2026-07-14 16:21", 2)), "line 102"),
        (utc_minutes("2026-07-14 08:00", 3, "2h"), "line 2"),  # even UTC hours in summer cross blocks
    ],
    ids=["longer than 2h", "does not divide 2h", "finer bars later", "2h bars off the block grid"],
)
def test_bar_sizes_that_cannot_make_blocks_name_the_line(tmp_path, times, named):
    path = write_csv(tmp_path / "bars.csv", [HEADER, *bar_lines(times)])
    with pytest.raises(OvcError) as raised:
        list(resample_to_blocks(read_candle_csv(path), symbol="GBPUSD", source="csv"))
    assert raised.value.code == ErrorCode.CANDLE_BAR_SIZE
    assert named in raised.value.message


def test_csv_across_dst_changes_and_year_end_resamples_to_new_york_blocks(tmp_path):
    # H1 bars, in UTC, for a Friday-to-Monday window around each switch and the year end.
    windows = [("2026-03-05 22:00", "2026-03-10 00:00"), ("2026-10-29 21:00", "2026-11-03 00:00"),
               ("2026-12-30 22:00", "2027-01-02 00:00")]  # fmt: skip
    times = pd.DatetimeIndex(np.concatenate([pd.date_range(a, b, freq="1h", tz="UTC", inclusive="left") for a, b in windows]))
    path = write_csv(tmp_path / "h1.csv", [HEADER, *bar_lines(times)])

    blocks = pd.concat(list(resample_to_blocks(read_candle_csv(path, chunk_rows=13), symbol="GBPUSD", source="csv")))

    by_id = blocks.set_index("bid")
    # Friday 2026-03-06 15:00 New York (EST) is 20:00 UTC; Monday 03-09 03:00 (EDT) is 07:00 UTC.
    assert by_id.loc["20260305-L-GBPUSD", "block_start"] == datetime(2026, 3, 6, 20, tzinfo=UTC)
    assert by_id.loc["20260308-F-GBPUSD", "block_start"] == datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert by_id.loc["20261101-A-GBPUSD", "block_start"] == datetime(2026, 11, 1, 22, tzinfo=UTC)
    assert by_id.loc["20261231-A-GBPUSD", "block_start"] == datetime(2026, 12, 31, 22, tzinfo=UTC)
    assert by_id.loc["20261231-D-GBPUSD", "date_ny"].isoformat() == "2026-12-31"  # 23:00 on New Year's Eve
    assert (blocks["expected_bar_count"][blocks["block_end"] - blocks["block_start"] == timedelta(hours=2)] == 2).all()
    assert blocks["block_start"].is_monotonic_increasing and blocks["bid"].is_unique
