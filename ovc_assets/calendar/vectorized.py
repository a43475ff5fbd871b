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

from ovc_assets.calendar.blocks import BLOCK_HOURS, NEW_YORK, OVC_DAY_START_HOUR

_OVC_DAY_START = np.timedelta64(OVC_DAY_START_HOUR, "h")
_BLOCK_LENGTH = np.timedelta64(BLOCK_HOURS, "h")


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
