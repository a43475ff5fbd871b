"""The OVC block clock: twelve 2-hour blocks per OVC day, anchored at 17:00 New York.

An OVC day starts at 17:00 New York local time. Its blocks, by letter, cover these New York
wall-clock hours: A 17-19, B 19-21, C 21-23, D 23-01, E 01-03, F 03-05, G 05-07, H 07-09,
I 09-11, J 11-13, K 13-15, L 15-17. ``date_ny`` is the New York calendar date on which the
block's OVC day began, so block F starting 2026-01-14 03:00 New York has
``date_ny=2026-01-13`` and id ``20260113-F-GBPUSD``.

Because the anchor is local, blocks start at even UTC hours in winter (EST) and at odd UTC
hours in summer (EDT). A block's start and end are its New York wall-clock boundaries
converted to UTC, so the one block that spans a daylight-saving switch (Sunday 02:00 New
York, inside block E of the Saturday OVC day) is 1 hour long in March and 3 hours long in
November. Those blocks always fall in the weekend market closure. The November boundary
01:00 occurs twice; it always means its first occurrence (EDT, ``fold=0``), for both block
D's end and block E's start, so blocks tile time with no gap and no overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
BLOCK_LETTERS = "ABCDEFGHIJKL"
FOUR_HOUR_PAIRS = ("AB", "CD", "EF", "GH", "IJ", "KL")

OVC_DAY_START_HOUR = 17
BLOCK_HOURS = 2
BLOCKS_PER_DAY = len(BLOCK_LETTERS)

_LETTER_INDEX = {letter: index for index, letter in enumerate(BLOCK_LETTERS)}
_ONE_DAY = timedelta(days=1)
_ONE_MILLISECOND = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OVC_DAY_START = time(OVC_DAY_START_HOUR)

# [0-9] rather than \d: \d would also accept non-ASCII digits such as full-width ones.
_BLOCK_ID_PATTERN = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})-([A-L])-([A-Z0-9._]{1,32})")
_SYMBOL_PATTERN = re.compile(r"[A-Z0-9._]{1,32}")


@dataclass(frozen=True, order=True, slots=True)
class Block:
    """One 2-hour block: the OVC day it belongs to (``date_ny``) and its letter A..L.

    Blocks are immutable, hashable and ordered in time (``date_ny`` first, then letter).
    Every block lasts 2 hours except block E of a Saturday OVC day that contains a
    daylight-saving switch (1 h in March, 3 h in November); see the module docstring.
    """

    date_ny: date
    letter: str

    def __post_init__(self) -> None:
        # datetime is a subclass of date but would make date arithmetic and equality subtly wrong.
        if not isinstance(self.date_ny, date) or isinstance(self.date_ny, datetime):
            raise TypeError(f"date_ny must be a datetime.date, got {type(self.date_ny).__name__}")
        if self.letter not in _LETTER_INDEX:
            raise ValueError(f"block letter must be one of {BLOCK_LETTERS}, got {self.letter!r}")

    @property
    def index(self) -> int:
        """Position of the block in its OVC day: 0 for A up to 11 for L."""
        return _LETTER_INDEX[self.letter]

    @property
    def pair(self) -> str:
        """The 4-hour pair this block belongs to, e.g. ``"EF"`` for E or F."""
        return FOUR_HOUR_PAIRS[self.index // 2]

    @property
    def start_utc(self) -> datetime:
        """Start of the block as an aware UTC datetime."""
        return _block_start_utc(self.date_ny, self.index)

    @property
    def end_utc(self) -> datetime:
        """End of the block (exclusive) as an aware UTC datetime; equals the next block's start."""
        return self.next().start_utc

    @property
    def start_ms(self) -> int:
        """Start of the block in epoch milliseconds."""
        return (self.start_utc - _EPOCH) // _ONE_MILLISECOND

    @property
    def end_ms(self) -> int:
        """End of the block (exclusive) in epoch milliseconds."""
        return (self.end_utc - _EPOCH) // _ONE_MILLISECOND

    def block_id(self, symbol: str) -> str:
        """The 2-hour block id, ``YYYYMMDD-<letter>-<SYM>``, e.g. ``20260113-F-GBPUSD``."""
        return f"{_compact_date(self.date_ny)}-{self.letter}-{_checked_symbol(symbol)}"

    def four_hour_id(self, symbol: str) -> str:
        """The id of the 4-hour block containing this block, e.g. ``20260113-EF-GBPUSD``."""
        return f"{_compact_date(self.date_ny)}-{self.pair}-{_checked_symbol(symbol)}"

    def next(self) -> Block:
        """The block that follows this one (L is followed by A of the next OVC day)."""
        if self.letter == "L":
            return Block(self.date_ny + _ONE_DAY, "A")
        return Block(self.date_ny, BLOCK_LETTERS[self.index + 1])

    def previous(self) -> Block:
        """The block that precedes this one (A is preceded by L of the previous OVC day)."""
        if self.letter == "A":
            return Block(self.date_ny - _ONE_DAY, "L")
        return Block(self.date_ny, BLOCK_LETTERS[self.index - 1])


def block_for(date_ny: date, letter: str) -> Block:
    """The block with this OVC day and letter; ``ValueError`` if the letter is not A..L."""
    return Block(date_ny, letter)


def block_at(ts: datetime) -> Block:
    """The block containing the instant ``ts``; ``ValueError`` if ``ts`` is naive."""
    return _block_of_new_york_wall_clock(_to_new_york(ts))


def block_from_ms(epoch_ms: int) -> Block:
    """The block containing the instant ``epoch_ms`` (milliseconds since the Unix epoch)."""
    # Block boundaries are whole seconds, so the millisecond remainder cannot change the block.
    epoch_seconds = epoch_ms // 1000
    return _block_of_new_york_wall_clock(datetime.fromtimestamp(epoch_seconds, NEW_YORK))


def date_ny_of(ts: datetime) -> date:
    """The OVC day (``date_ny``) of the instant ``ts``; ``ValueError`` if ``ts`` is naive."""
    return _ovc_date_of_wall_clock(_to_new_york(ts))


def block_starts_utc(date_ny: date) -> tuple[datetime, ...]:
    """The UTC start of each of the twelve blocks (A..L) of the OVC day ``date_ny``."""
    return tuple(_block_start_utc(date_ny, index) for index in range(BLOCKS_PER_DAY))


def parse_block_id(block_id: str) -> tuple[Block, str]:
    """Split a block id such as ``20260113-F-GBPUSD`` into its block and symbol.

    The id must match ``^[0-9]{8}-[A-L]-[A-Z0-9._]{1,32}$`` exactly (no surrounding
    whitespace, no trailing newline) and name a real calendar date; anything else raises
    ``ValueError``.
    """
    match = _BLOCK_ID_PATTERN.fullmatch(block_id) if isinstance(block_id, str) else None
    if match is None:
        raise ValueError(f"not a block id (YYYYMMDD-<A..L>-<SYM>): {block_id!r}")
    year, month, day, letter, symbol = match.groups()
    try:
        date_ny = date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError(f"block id has an impossible date: {block_id!r}") from None
    return Block(date_ny, letter), symbol


def _to_new_york(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {ts!r}")
    if ts.tzinfo is NEW_YORK:
        # astimezone() returns a datetime already in the target zone unchanged, so a wall
        # time that does not exist (the spring-forward gap) would keep its impossible hour.
        # Going through UTC resolves it to the instant it denotes.
        return ts.astimezone(UTC).astimezone(NEW_YORK)
    return ts.astimezone(NEW_YORK)


def _block_of_new_york_wall_clock(local: datetime) -> Block:
    hours_into_ovc_day = (local.hour - OVC_DAY_START_HOUR) % 24
    return Block(_ovc_date_of_wall_clock(local), BLOCK_LETTERS[hours_into_ovc_day // BLOCK_HOURS])


def _ovc_date_of_wall_clock(local: datetime) -> date:
    if local.hour >= OVC_DAY_START_HOUR:
        return local.date()
    return local.date() - _ONE_DAY


# Ingest checks ask for the start and end of the same few recent blocks for every payload;
# the zone conversion is the expensive part, so recent answers are kept.
@lru_cache(maxsize=4096)
def _block_start_utc(date_ny: date, index: int) -> datetime:
    wall_clock = datetime.combine(date_ny, _OVC_DAY_START) + timedelta(hours=BLOCK_HOURS * index)
    # fold=0 (the default) picks the first of two identical November 01:00s; block D's end
    # and block E's start both come from here, so they always agree.
    return wall_clock.replace(tzinfo=NEW_YORK).astimezone(UTC)


def _compact_date(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _checked_symbol(symbol: str) -> str:
    if not isinstance(symbol, str) or _SYMBOL_PATTERN.fullmatch(symbol) is None:
        raise ValueError(f"symbol must match [A-Z0-9._]{{1,32}}, got {symbol!r}")
    return symbol
