"""The OVC block calendar: 2-hour blocks anchored at 17:00 New York, and the FX trading week.

See ``blocks`` for the block clock (letters, ids, UTC boundaries across daylight saving) and
``fx_week`` for which blocks the market is expected to trade (weekend and holiday closures).
"""

from ovc_assets.calendar.blocks import (
    BLOCK_LETTERS,
    FOUR_HOUR_PAIRS,
    NEW_YORK,
    Block,
    block_at,
    block_for,
    block_from_ms,
    block_starts_utc,
    date_ny_of,
    parse_block_id,
)
from ovc_assets.calendar.fx_week import DEFAULT_CLOSURE_MONTH_DAYS, FxCalendar

__all__ = [
    "BLOCK_LETTERS",
    "DEFAULT_CLOSURE_MONTH_DAYS",
    "FOUR_HOUR_PAIRS",
    "NEW_YORK",
    "Block",
    "BlockKeys",
    "FxCalendar",
    "block_at",
    "block_bounds_utc",
    "block_for",
    "block_from_ms",
    "block_ids",
    "block_keys",
    "block_letters",
    "block_pairs",
    "block_starts_utc",
    "date_ny_of",
    "parse_block_id",
]


# The array form needs pandas; the block clock itself (and the webhook receiver) does not.
_VECTORIZED_NAMES = frozenset(
    {"BlockKeys", "block_bounds_utc", "block_ids", "block_keys", "block_letters", "block_pairs"}
)


def __getattr__(name: str) -> object:
    if name in _VECTORIZED_NAMES:
        from ovc_assets.calendar import vectorized

        return getattr(vectorized, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
