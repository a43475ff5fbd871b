"""Block identity lookups shared by the parser and the batch schemas, cached per block.

Everything calendar-related comes from `ovc_assets.calendar`; this module only parses the
`date_ny` text strictly and keeps the answers of recent blocks, because a batch of payloads
shares few blocks and the zone arithmetic is the expensive part.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from ovc_assets.calendar import Block, block_for

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROBE_SYMBOL = "X"  # any symbol the calendar accepts; cut off again to leave the id prefix
_ONE_MILLISECOND = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class BlockTimes:
    """A block with its boundaries, in the forms the checks compare against."""

    block: Block
    start_ms: int
    end_ms: int
    start_utc: datetime
    end_utc: datetime
    compact_date: str
    # The calendar's ids for this block up to the symbol, so an id is one concatenation.
    block_id_prefix: str
    four_hour_id_prefix: str

    def block_id(self, symbol: str) -> str:
        """The block id for `symbol`; only for symbols `symbol_fits_block_id` accepts."""
        return self.block_id_prefix + symbol

    def four_hour_id(self, symbol: str) -> str:
        """The 4-hour id for `symbol`; only for symbols `symbol_fits_block_id` accepts."""
        return self.four_hour_id_prefix + symbol


def parse_date_ny(text: str) -> date | None:
    """`YYYY-MM-DD` only, else None (date.fromisoformat would also take `20260113` or week dates)."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    year, month, day = text[:4], text[5:7], text[8:]
    if not all(part.isascii() and part.isdigit() for part in (year, month, day)):
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


# About nine years of blocks: a whole backfill batch stays cached between the checks.
@lru_cache(maxsize=65_536)
def block_times(date_text: str, letter: str) -> BlockTimes | None:
    """The block of OVC day `date_text` (YYYY-MM-DD) and `letter`, or None if there is none."""
    date_ny = parse_date_ny(date_text)
    if date_ny is None:
        return None
    try:
        block = block_for(date_ny, letter)
    except ValueError:
        return None
    # Each boundary is converted from New York time once; Block.start_ms/end_ms would redo it.
    start_utc, end_utc = block.start_utc, block.end_utc
    return BlockTimes(
        block=block,
        start_ms=(start_utc - _EPOCH) // _ONE_MILLISECOND,
        end_ms=(end_utc - _EPOCH) // _ONE_MILLISECOND,
        start_utc=start_utc,
        end_utc=end_utc,
        compact_date=date_text.replace("-", ""),
        block_id_prefix=block.block_id(_PROBE_SYMBOL).removesuffix(_PROBE_SYMBOL),
        four_hour_id_prefix=block.four_hour_id(_PROBE_SYMBOL).removesuffix(_PROBE_SYMBOL),
    )


@lru_cache(maxsize=1024)
def symbol_fits_block_id(symbol: str) -> bool:
    """Whether the calendar accepts `symbol` as the SYM part of a block id."""
    try:
        block_for(date(2000, 1, 3), "A").block_id(symbol)
    except ValueError:
        return False
    return True

