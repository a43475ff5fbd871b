"""Candle frames in, 2-hour block frames out.

Candle frames
    What every provider yields, chunk by chunk: columns ``time`` (bar start, tz-aware UTC),
    ``o``, ``h``, ``l``, ``c`` and ``volume`` (float64; volume NaN where the source has
    none). The index is each row's place in its source and its name says what it counts
    (``line`` of a CSV file, ``candle`` of a download), so every error can name the row.
    Providers build frames with ``candle_frame`` and pass each chunk through
    ``validate_candles`` before yielding it: prices positive and finite, ``l <= o, c <= h``,
    times strictly increasing over the whole stream.

Block frames
    One row per block, in time order, with the columns of ``BLOCK_COLUMNS``. Block start,
    end, ``date_ny``, letters and id come from the block calendar (``ovc_assets.calendar``),
    never from UTC bins, so blocks start at even UTC hours in winter and odd ones in summer.
    ``o`` = first open, ``h`` = max high, ``l`` = min low, ``c`` = last close, ``volume`` =
    sum (NaN if any bar's volume is unknown). ``bar_count`` is the number of source bars in
    the block and ``expected_bar_count`` how many bars of the stream's bar size fit in the
    block (block length // bar size: 120 M1 bars, 1 H2 candle; the weekend blocks that
    contain a daylight-saving switch are 1 h or 3 h long). ``partial`` is
    ``bar_count < expected_bar_count``: the first block after a gap, the edges of a range,
    and quiet minutes with no trade all make a block partial; it is flagged, never dropped.
    Blocks in the FX weekend closure are kept like any other: weekend data is rare, and
    whether a block should exist is the calendar checks' question (holiday closures are
    configurable there), not the resampler's.

Streaming
    ``BlockResampler.feed`` returns only blocks that are complete, i.e. followed by a bar of
    a later block; the rows of the last, still open block are carried into the next call,
    and ``finish`` emits it. A block split across input chunks therefore comes out once and
    whole, and the output does not depend on how the input was chunked. A block is emitted
    only after every bar fed so far has been checked. Memory is one input chunk plus one
    block of bars.

Bar size
    Given (an OANDA granularity) or inferred: the smallest gap between consecutive bars
    among the first ``BAR_SIZE_SAMPLE + 1`` bars of the stream (the same bars however the
    stream is chunked). It must divide 2 hours. Bars closer together than the bar size, and
    bars that would run past the end of their block (e.g. 2-hour bars bucketed at even UTC
    hours in summer), are ``E_CANDLE_BAR_SIZE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta

import numpy as np
import pandas as pd

from ovc_assets.calendar import (
    BLOCK_LETTERS,
    Block,
    BlockKeys,
    block_bounds_utc,
    block_ids,
    block_keys,
    block_letters,
    block_pairs,
)
from ovc_assets.errors import ErrorCode, OvcError

CANDLE_COLUMNS = ("time", "o", "h", "l", "c", "volume")
PRICE_COLUMNS = ("o", "h", "l", "c")
BLOCK_COLUMNS = (
    "symbol", "block_start", "block_end", "date_ny", "block2h", "block4h", "bid",
    "o", "h", "l", "c", "volume", "bar_count", "expected_bar_count", "partial", "source",
)  # fmt: skip

BLOCK_LENGTH = timedelta(hours=2)
BAR_SIZE_SAMPLE = 64

_PRICE_NAMES = {"o": "open", "h": "high", "l": "low", "c": "close"}
_BLOCK_LENGTH_NS = pd.Timedelta(BLOCK_LENGTH).value
_BLOCKS_PER_DAY = len(BLOCK_LETTERS)


def candle_frame(
    time: pd.DatetimeIndex,
    o: Sequence[float] | np.ndarray,
    h: Sequence[float] | np.ndarray,
    l: Sequence[float] | np.ndarray,  # noqa: E741 - the OHLC letter, as in the frames
    c: Sequence[float] | np.ndarray,
    volume: Sequence[float] | np.ndarray,
    *,
    rows: Sequence[int] | np.ndarray,
    row_noun: str,
) -> pd.DataFrame:
    """A candle frame from aligned arrays; ``rows`` label the rows, ``row_noun`` names them."""
    frame = pd.DataFrame(
        {
            "time": pd.DatetimeIndex(time).tz_convert("UTC"),
            **{
                name: np.asarray(values, dtype=np.float64)
                for name, values in zip(CANDLE_COLUMNS[1:], (o, h, l, c, volume))
            },
        }
    )
    frame.index = pd.Index(np.asarray(rows, dtype=np.int64), name=row_noun)
    return frame


def validate_candles(candles: pd.DataFrame, *, previous_time: pd.Timestamp | None = None) -> None:
    """Raise ``OvcError`` naming the first bad row of a candle frame, or return if all are good.

    Checked in this order: every price finite and positive (``E_CANDLE_PRICE``; a negative
    volume is reported under the same code), ``l <= o, c <= h`` (``E_CANDLE_OHLC``), then
    times strictly increasing, also after ``previous_time`` (the last time of the previous
    chunk): equal times are ``E_CANDLE_DUPLICATE``, decreasing ones ``E_CANDLE_UNSORTED``.
    """
    prices = candles[list(PRICE_COLUMNS)].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad_price = ~(np.isfinite(prices) & (prices > 0))
    if bad_price.any():
        position, column = np.argwhere(bad_price)[0]
        value = prices[position, column]
        shown = "missing" if np.isnan(value) else repr(float(value))
        raise OvcError(
            ErrorCode.CANDLE_PRICE,
            f"{_describe_row(candles, position)}: {_PRICE_NAMES[PRICE_COLUMNS[column]]} is {shown}; "
            "prices must be positive numbers",
        )
    volume = candles["volume"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        negative_volume = volume < 0
    if negative_volume.any():
        position = int(np.argmax(negative_volume))
        raise OvcError(
            ErrorCode.CANDLE_PRICE,
            f"{_describe_row(candles, position)}: volume {float(volume[position])!r} is negative",
        )
    o, h, l, c = prices.T  # noqa: E741
    inconsistent = (h < l) | (o < l) | (o > h) | (c < l) | (c > h)
    if inconsistent.any():
        position = int(np.argmax(inconsistent))
        raise OvcError(
            ErrorCode.CANDLE_OHLC,
            f"{_describe_row(candles, position)}: open {float(o[position])!r} high {float(h[position])!r} "
            f"low {float(l[position])!r} close {float(c[position])!r} break low <= open, close <= high",
        )
    _check_increasing(candles, previous_time)


def _check_increasing(candles: pd.DataFrame, previous_time: pd.Timestamp | None) -> None:
    times = _times_ns(candles)
    if previous_time is not None:
        times = np.concatenate(([pd.Timestamp(previous_time).as_unit("ns").value], times))
    steps = np.diff(times)
    out_of_order = steps <= 0
    if not out_of_order.any():
        return
    step = int(np.argmax(out_of_order))
    position = step if previous_time is not None else step + 1
    row = _describe_row(candles, position)
    if steps[step] == 0:
        raise OvcError(ErrorCode.CANDLE_DUPLICATE, f"{row} repeats the time of the row before it")
    raise OvcError(
        ErrorCode.CANDLE_UNSORTED,
        f"{row} is earlier than the row before it; rows must be sorted by time",
    )


class BlockResampler:
    """Aggregates a stream of candle frames into block frames, carrying the open block.

    Feed chunks in time order with ``feed``; each call returns the blocks it completed (maybe
    none). Call ``finish`` once at the end for the last block. ``bar_size`` None infers it
    from the stream (see the module docstring).
    """

    def __init__(self, symbol: str, *, source: str, bar_size: timedelta | None = None) -> None:
        self.symbol = symbol
        self.source = source
        self._bar_size_ns = (
            None if bar_size is None else _checked_bar_size_ns(pd.Timedelta(bar_size).value, "the stated bar size")
        )
        self._held: pd.DataFrame | None = None

    @property
    def bar_size(self) -> timedelta | None:
        """The bar size in use: the one given, or the inferred one once enough bars were seen."""
        return None if self._bar_size_ns is None else pd.Timedelta(self._bar_size_ns).to_pytimedelta()

    def feed(self, candles: pd.DataFrame) -> pd.DataFrame:
        """Take the next chunk of candles and return the blocks completed by it."""
        if candles.empty:
            return self._empty_blocks()
        rows = candles if self._held is None else pd.concat([self._held, candles])
        if self._bar_size_ns is None:
            if len(rows) <= BAR_SIZE_SAMPLE:
                self._held = rows
                return self._empty_blocks()
            self._bar_size_ns = _inferred_bar_size_ns(rows.iloc[: BAR_SIZE_SAMPLE + 1])
        return self._aggregate(rows, keep_open_block=True)

    def finish(self) -> pd.DataFrame:
        """Return the last, open block (empty if nothing was fed); the resampler is then empty."""
        rows, self._held = self._held, None
        if rows is None:
            return self._empty_blocks()
        if self._bar_size_ns is None:
            if len(rows) < 2:
                raise OvcError(
                    ErrorCode.CANDLE_BAR_SIZE,
                    f"cannot infer the bar size from a single bar, {_describe_row(rows, 0)}; state it",
                )
            self._bar_size_ns = _inferred_bar_size_ns(rows)
        return self._aggregate(rows, keep_open_block=False)

    def _aggregate(self, rows: pd.DataFrame, *, keep_open_block: bool) -> pd.DataFrame:
        times = _times_ns(rows)
        self._check_spacing(rows, times)
        keys = block_keys(rows["time"])
        block_codes = keys.date_ny.astype(np.int64) * _BLOCKS_PER_DAY + keys.letter_index
        starts = np.flatnonzero(np.diff(block_codes, prepend=block_codes[0] - 1))
        if keep_open_block:
            completed_rows, starts = int(starts[-1]), starts[:-1]
        else:
            completed_rows = len(rows)
        blocks = self._completed_blocks(rows.iloc[:completed_rows], times, keys, starts)
        self._held = rows.iloc[completed_rows:] if keep_open_block else None
        return blocks

    def _completed_blocks(
        self, completed: pd.DataFrame, times: np.ndarray, keys: BlockKeys, starts: np.ndarray
    ) -> pd.DataFrame:
        """One row per block of ``completed``, whose blocks begin at row positions ``starts``."""
        if len(starts) == 0:
            return self._empty_blocks()
        ends = np.append(starts[1:], len(completed))
        completed_keys = BlockKeys(date_ny=keys.date_ny[starts], letter_index=keys.letter_index[starts])
        block_start, block_end = block_bounds_utc(completed_keys)
        self._check_bars_fit_blocks(completed, times[ends - 1], ends - 1, completed_keys, block_end)
        return self._block_frame(
            completed_keys,
            block_start=block_start,
            block_end=block_end,
            o=completed["o"].to_numpy()[starts],
            h=np.maximum.reduceat(completed["h"].to_numpy(), starts),
            l=np.minimum.reduceat(completed["l"].to_numpy(), starts),
            c=completed["c"].to_numpy()[ends - 1],
            volume=np.add.reduceat(completed["volume"].to_numpy(), starts),
            bar_count=ends - starts,
            expected_bar_count=(block_end.asi8 - block_start.asi8) // self._bar_size_ns,
        )

    def _check_spacing(self, rows: pd.DataFrame, times: np.ndarray) -> None:
        too_close = np.diff(times) < self._bar_size_ns
        if too_close.any():
            position = int(np.argmax(too_close)) + 1
            raise OvcError(
                ErrorCode.CANDLE_BAR_SIZE,
                f"{_describe_row(rows, position)} starts less than the bar size "
                f"({_duration(self._bar_size_ns)}) after {_describe_row(rows, position - 1)}: bars overlap",
            )

    def _check_bars_fit_blocks(
        self,
        rows: pd.DataFrame,
        last_bar_times: np.ndarray,
        last_bar_positions: np.ndarray,
        keys: BlockKeys,
        block_end: pd.DatetimeIndex,
    ) -> None:
        overrun = last_bar_times + self._bar_size_ns > block_end.asi8
        if overrun.any():
            index = int(np.argmax(overrun))
            block = Block(keys.date_ny[index].item(), BLOCK_LETTERS[keys.letter_index[index]])
            raise OvcError(
                ErrorCode.CANDLE_BAR_SIZE,
                f"{_describe_row(rows, int(last_bar_positions[index]))}: a {_duration(self._bar_size_ns)} bar "
                f"starting there runs past the end of block {block.block_id(self.symbol)} "
                f"({block.end_utc.isoformat()}); bars must not cross block boundaries "
                "(2-hour bars must start at 17:00 New York or a 2-hour step from it)",
            )

    def _block_frame(
        self,
        keys: BlockKeys,
        *,
        block_start: pd.DatetimeIndex,
        block_end: pd.DatetimeIndex,
        o: np.ndarray,
        h: np.ndarray,
        l: np.ndarray,  # noqa: E741
        c: np.ndarray,
        volume: np.ndarray,
        bar_count: np.ndarray,
        expected_bar_count: np.ndarray,
    ) -> pd.DataFrame:
        bar_count = np.asarray(bar_count, dtype=np.int64)
        expected_bar_count = np.asarray(expected_bar_count, dtype=np.int64)
        return pd.DataFrame(
            {
                "symbol": pd.Series([self.symbol] * len(keys.date_ny), dtype="str"),
                "block_start": block_start,
                "block_end": block_end,
                "date_ny": pd.Series(keys.date_ny.astype(object), dtype=object),
                "block2h": pd.Series(block_letters(keys), dtype="str"),
                "block4h": pd.Series(block_pairs(keys), dtype="str"),
                "bid": pd.Series(block_ids(keys, self.symbol), dtype="str"),
                "o": np.asarray(o, dtype=np.float64),
                "h": np.asarray(h, dtype=np.float64),
                "l": np.asarray(l, dtype=np.float64),
                "c": np.asarray(c, dtype=np.float64),
                "volume": np.asarray(volume, dtype=np.float64),
                "bar_count": bar_count,
                "expected_bar_count": expected_bar_count,
                "partial": bar_count < expected_bar_count,
                "source": pd.Series([self.source] * len(keys.date_ny), dtype="str"),
            }
        )

    def _empty_blocks(self) -> pd.DataFrame:
        no_times = pd.DatetimeIndex([], dtype="datetime64[ns, UTC]")
        nothing = np.empty(0)
        return self._block_frame(
            BlockKeys(date_ny=np.empty(0, dtype="datetime64[D]"), letter_index=np.empty(0, dtype=np.int8)),
            block_start=no_times,
            block_end=no_times,
            o=nothing,
            h=nothing,
            l=nothing,
            c=nothing,
            volume=nothing,
            bar_count=nothing,
            expected_bar_count=nothing,
        )


def resample_to_blocks(
    candles: Iterable[pd.DataFrame], *, symbol: str, source: str, bar_size: timedelta | None = None
) -> Iterator[pd.DataFrame]:
    """Stream block frames from a stream of candle frames; empty frames are not yielded.

    Each yielded frame holds the blocks completed by one input chunk (the last block comes
    after the input ends), so a caller can write frame by frame, one transaction each.
    An ``OvcError`` raised by the input or by a check here stops the stream; frames yielded
    before it stay valid and complete.
    """
    resampler = BlockResampler(symbol, source=source, bar_size=bar_size)
    for chunk in candles:
        blocks = resampler.feed(chunk)
        if not blocks.empty:
            yield blocks
    last = resampler.finish()
    if not last.empty:
        yield last


def _inferred_bar_size_ns(sample: pd.DataFrame) -> int:
    steps = np.diff(_times_ns(sample))
    smallest = int(np.argmin(steps))
    return _checked_bar_size_ns(
        int(steps[smallest]),
        f"the bar size inferred from {_describe_row(sample, smallest)} and {_describe_row(sample, smallest + 1)}",
    )


def _checked_bar_size_ns(bar_size_ns: int, what: str) -> int:
    if bar_size_ns <= 0 or bar_size_ns > _BLOCK_LENGTH_NS:
        raise OvcError(
            ErrorCode.CANDLE_BAR_SIZE,
            f"{what}, {_duration(bar_size_ns)}, is not a positive duration of at most 2 hours",
        )
    if _BLOCK_LENGTH_NS % bar_size_ns:
        raise OvcError(
            ErrorCode.CANDLE_BAR_SIZE,
            f"{what}, {_duration(bar_size_ns)}, does not divide a 2-hour block",
        )
    return bar_size_ns


def _times_ns(candles: pd.DataFrame) -> np.ndarray:
    return pd.DatetimeIndex(candles["time"]).as_unit("ns").asi8


def _describe_row(candles: pd.DataFrame, position: int) -> str:
    noun = candles.index.name or "row"
    return f"{noun} {candles.index[position]} ({candles['time'].iloc[position].isoformat()})"


def _duration(nanoseconds: int) -> str:
    return str(pd.Timedelta(nanoseconds).to_pytimedelta())
