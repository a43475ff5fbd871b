"""The FX market calendar: which blocks the market is expected to produce.

The FX week opens Sunday 17:00 New York and closes Friday 17:00 New York. In OVC days that
means the days with ``date_ny`` Sunday to Thursday are open (5 x 12 = 60 blocks a week) and
the days with ``date_ny`` Friday and Saturday are the weekend closure. Holiday closures
remove whole OVC days on top of that. ``blocks_missing`` counts against this calendar,
never against the raw clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta

from ovc_assets.calendar.blocks import (
    BLOCK_LETTERS,
    BLOCKS_PER_DAY,
    Block,
    block_at,
    date_ny_of,
)

DEFAULT_CLOSURE_MONTH_DAYS = frozenset({(12, 25), (1, 1)})

_FRIDAY = 4
_SATURDAY = 5
_WEEKEND_OVC_WEEKDAYS = frozenset({_FRIDAY, _SATURDAY})
_ONE_DAY = timedelta(days=1)
_ONE_WEEK = timedelta(days=7)


class FxCalendar:
    """Open and closed blocks of the FX market, with configurable holiday closures.

    A closure date ``D`` closes the OVC trading session that ENDS at 17:00 New York on ``D``,
    that is the 12 blocks with ``date_ny = D - 1 day`` (Christmas, 2025-12-25, closes the
    blocks of ``date_ny`` 2025-12-24, from Dec 24 17:00 to Dec 25 17:00 New York). A closure
    on a Saturday or Sunday changes nothing (that session is already the weekend closure),
    and a closure on a Monday closes the session that opens Sunday 17:00.

    ``default_closures=True`` closes Dec 25 and Jan 1 of every year, as they fall (no
    shifting to an observed weekday). Dates passed in ``closures`` are added to those
    defaults; pass ``default_closures=False`` to use only your own dates, or none at all.
    """

    def __init__(
        self, closures: Iterable[date] | None = None, default_closures: bool = True
    ) -> None:
        closure_dates = frozenset(closures or ())
        for closure in closure_dates:
            if not isinstance(closure, date) or isinstance(closure, datetime):
                raise TypeError(f"closures must be datetime.date values, got {closure!r}")
        self._closures = closure_dates
        self._default_closures = default_closures

    def __repr__(self) -> str:
        closures = sorted(self._closures)
        return f"FxCalendar(closures={closures!r}, default_closures={self._default_closures!r})"

    def is_day_open(self, date_ny: date) -> bool:
        """Whether the OVC day ``date_ny`` (all 12 of its blocks) is a trading session."""
        if date_ny.weekday() in _WEEKEND_OVC_WEEKDAYS:
            return False
        session_end = date_ny + _ONE_DAY
        if session_end in self._closures:
            return False
        return not (
            self._default_closures
            and (session_end.month, session_end.day) in DEFAULT_CLOSURE_MONTH_DAYS
        )

    def is_open(self, block: Block) -> bool:
        """Whether the market is expected to trade during ``block`` (weekend and closure rules)."""
        return self.is_day_open(block.date_ny)

    def expected_blocks(self, start: datetime, end: datetime) -> list[Block]:
        """The open blocks whose start lies in ``[start, end)``, in time order.

        ``start`` and ``end`` must be timezone-aware (``ValueError`` otherwise). This is the
        list a ``blocks_missing`` check counts against.
        """
        return [
            Block(date_ny, letter)
            for date_ny, first_index, last_index in self._open_day_spans(start, end)
            for letter in BLOCK_LETTERS[first_index : last_index + 1]
        ]

    def count_expected(self, start: datetime, end: datetime) -> int:
        """How many open blocks start in ``[start, end)``; ``len(expected_blocks(start, end))``."""
        return sum(
            last_index - first_index + 1
            for _, first_index, last_index in self._open_day_spans(start, end)
        )

    def week_blocks(self, any_ts: datetime) -> list[Block]:
        """The open blocks of the FX week containing the instant ``any_ts``.

        An FX week runs from Sunday 17:00 New York to the next Sunday 17:00, so the weekend
        closure belongs to the week that has just closed. A normal week has 60 blocks;
        holiday closures make it fewer.
        """
        week_start_day = _sunday_opening_week_of(date_ny_of(any_ts))
        week_start = Block(week_start_day, "A").start_utc
        next_week_start = Block(week_start_day + _ONE_WEEK, "A").start_utc
        return self.expected_blocks(week_start, next_week_start)

    def _open_day_spans(self, start: datetime, end: datetime) -> Iterator[tuple[date, int, int]]:
        """(date_ny, first index, last index) for each open OVC day with blocks in [start, end)."""
        start_utc = _as_utc(start)
        end_utc = _as_utc(end)
        if end_utc <= start_utc:
            return
        first = block_at(start_utc)
        if first.start_utc < start_utc:
            first = first.next()
        last = block_at(end_utc)
        if last.start_utc == end_utc:
            last = last.previous()
        if first > last:
            return
        # One step per OVC day, not per block or per minute, so decades take milliseconds.
        for ordinal in range(first.date_ny.toordinal(), last.date_ny.toordinal() + 1):
            date_ny = date.fromordinal(ordinal)
            if not self.is_day_open(date_ny):
                continue
            first_index = first.index if date_ny == first.date_ny else 0
            last_index = last.index if date_ny == last.date_ny else BLOCKS_PER_DAY - 1
            yield date_ny, first_index, last_index


def _sunday_opening_week_of(date_ny: date) -> date:
    days_since_sunday = (date_ny.weekday() + 1) % 7
    return date_ny - timedelta(days=days_since_sunday)


def _as_utc(ts: datetime) -> datetime:
    # Checked here because astimezone() would silently read a naive datetime as machine-local time.
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {ts!r}")
    return ts.astimezone(UTC)
