"""The block clock applied to whole arrays of instants, for resampling millions of bars.

``block_keys`` is the rule of ``block_at`` (see ``blocks``) written as array arithmetic on
New York wall-clock time: shift the wall clock back by 17 hours, and the date of the result
is ``date_ny`` while its hour, halved, is the letter's index. It never buckets in UTC, so
blocks start at even UTC hours in winter and at odd ones in summer, as the calendar says.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ovc_assets.calendar.blocks import (
    BLOCK_HOURS,
    BLOCK_LETTERS,
    FOUR_HOUR_PAIRS,
    NEW_YORK,
    OVC_DAY_START_HOUR,
    _checked_symbol,
)

_OVC_DAY_START = np.timedelta64(OVC_DAY_START_HOUR, "h")
_BLOCK_LENGTH = np.timedelta64(BLOCK_HOURS, "h")
_LETTERS = np.array(list(BLOCK_LETTERS))
_PAIRS = np.array([pair for pair in FOUR_HOUR_PAIRS for _ in range(2)])


class BlockKeys(NamedTuple):
    """The block of each instant: ``date_ny`` (``datetime64[D]``) and letter index (0 = A .. 11 = L)."""

    date_ny: np.ndarray
    letter_index: np.ndarray


def block_keys(utc_times: pd.Series | pd.DatetimeIndex) -> BlockKeys:
    """The block containing each instant, as arrays aligned with ``utc_times``.

    ``utc_times`` must be timezone-aware (any zone; UTC is usual) and contain no NaT;
    ``ValueError`` otherwise. Element ``i`` of the result equals
    ``block_at(utc_times[i])``: ``BLOCK_LETTERS[letter_index[i]]`` is its letter and
    ``date_ny[i]`` its OVC day.
    """
    times = pd.DatetimeIndex(utc_times)
    if times.tz is None:
        raise ValueError("block_keys needs timezone-aware instants, got naive ones")
    if times.hasnans:
        raise ValueError("block_keys cannot place NaT in a block")
    wall_clock = times.tz_convert(NEW_YORK).tz_localize(None).to_numpy()
    since_ovc_day_start = wall_clock - _OVC_DAY_START
    date_ny = since_ovc_day_start.astype("datetime64[D]")
    letter_index = ((since_ovc_day_start - date_ny) // _BLOCK_LENGTH).astype(np.int8)
    return BlockKeys(date_ny=date_ny, letter_index=letter_index)


def block_letters(keys: BlockKeys) -> np.ndarray:
    """Each block's letter (``Block.letter``), as a string array."""
    return _LETTERS[keys.letter_index]


def block_pairs(keys: BlockKeys) -> np.ndarray:
    """Each block's 4-hour pair (``Block.pair``), as a string array."""
    return _PAIRS[keys.letter_index]


def block_bounds_utc(keys: BlockKeys) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Each block's start and end (``Block.start_utc``, ``Block.end_utc``) as UTC nanosecond indexes.

    Both are New York wall-clock boundaries converted to UTC; the November 01:00 that occurs
    twice means its first occurrence (EDT), as in ``blocks``, so the block spanning a switch
    is 1 h or 3 h long and every block ends where the next one starts.
    """
    wall_clock_start = (
        keys.date_ny.astype("datetime64[ns]") + _OVC_DAY_START + keys.letter_index.astype(np.int64) * _BLOCK_LENGTH
    )
    return _wall_clock_to_utc(wall_clock_start), _wall_clock_to_utc(wall_clock_start + _BLOCK_LENGTH)


def block_ids(keys: BlockKeys, symbol: str) -> np.ndarray:
    """Each block's id (``Block.block_id(symbol)``, ``YYYYMMDD-<letter>-<SYM>``), as a string array.

    ``ValueError`` if ``symbol`` is not a valid symbol, as ``Block.block_id`` raises.
    """
    suffixes = np.char.add(np.char.add("-", _LETTERS), "-" + _checked_symbol(symbol))
    days = pd.DatetimeIndex(keys.date_ny.astype("datetime64[ns]"))
    compact_dates = (days.year * 10_000 + days.month * 100 + days.day).to_numpy().astype(np.int64)
    # Years 1000-9999 give eight digits, the width the scalar id pads to.
    return np.char.add(compact_dates.astype(str), suffixes[keys.letter_index])


def _wall_clock_to_utc(wall_clock: np.ndarray) -> pd.DatetimeIndex:
    # ambiguous=True: the DST (first) reading of a repeated wall-clock time, i.e. fold=0.
    ambiguous = np.ones(len(wall_clock), dtype=bool)
    return pd.DatetimeIndex(wall_clock).tz_localize(NEW_YORK, ambiguous=ambiguous).tz_convert("UTC").as_unit("ns")
