"""Forward outcomes of 2H blocks (outcome v0.1, DESIGN section 5), computed with numpy over
sorted arrays, independent of Dagster and of the database.

A block's window is the next N *open* blocks of the FX calendar after it: across a weekend or
a holiday closure it reaches into the next session and never counts closed hours. Rules:

- Prices: a block takes part only with finite h, l and c; any other block (NULL or NaN
  prices, or a block outside the calendar) counts as absent.
- COMPLETE: every block of the window is present. GAP: some are absent but the symbol has
  data at or after the window's last block (a hole in the data, not in the calendar); written
  with `window_complete = false` and the figures over the blocks that exist. PENDING: the
  symbol's data does not reach the window's last block yet; never written, reported, and
  completed by a later run. A window with no present block at all is EMPTY: not written.
- Hits: a level at or above `ref_price` is touched by `h >= level`, one below it by
  `l <= level`. `first_hit` needs both levels; when both are touched inside the same block
  it is INVALIDATION (the pessimistic same-block rule: a 2H bar does not tell the order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from ovc_assets.calendar import BLOCK_LETTERS, NEW_YORK, FxCalendar, block_at
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.storage.outcomes import (
    FALSE_CODE,
    FIRST_HITS,
    NULL_CODE,
    OUTCOME_COLUMNS,
    OUTCOME_DIRS,
    TRUE_CODE,
    WINDOW_STATUSES,
)

OUTCOME_VER = "outcome_v0.1"
DEFAULT_WINDOW = "NEXT_4H"
NAMED_WINDOWS = ("NEXT_2H", "NEXT_4H", "NEXT_12H")
MAX_WINDOW_BLOCKS = 36
WINDOW_HELP = f"{', '.join(NAMED_WINDOWS)}, or NEXT_<2N>H for N = 1..{MAX_WINDOW_BLOCKS} blocks (NEXT_N)"
_WINDOW_PATTERN = re.compile(r"NEXT_([0-9]{1,3})H")

COMPLETE, GAP = "COMPLETE", "GAP"
TARGET, INVALIDATION, NONE = "TARGET", "INVALIDATION", "NONE"

_HOUR_NS = 3_600_000_000_000
_OVC_DAY_OFFSETS = np.array([(17 + 2 * index) * _HOUR_NS for index in range(len(BLOCK_LETTERS))], dtype="timedelta64[ns]")
# Far enough to step over a weekend plus a holiday closure, for any window length.
_CALENDAR_SLACK = timedelta(days=7)


@dataclass(frozen=True)
class OutcomeWindow:
    """`NEXT_<2N>H`: the N open blocks after a block."""

    blocks: int

    @property
    def name(self) -> str:
        return f"NEXT_{2 * self.blocks}H"


def parse_window(text: str) -> OutcomeWindow:
    """The window named `text`; `E_CONFIG` listing the valid names otherwise."""
    match = _WINDOW_PATTERN.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    hours = int(match.group(1)) if match else 0
    if not match or hours % 2 or not 1 <= hours // 2 <= MAX_WINDOW_BLOCKS:
        raise OvcError(ErrorCode.CONFIG, f"unknown outcome window {text!r}; valid: {WINDOW_HELP}")
    return OutcomeWindow(hours // 2)


def parse_price_levels(values: pd.Series) -> np.ndarray:
    """`pred_target` / `invalidation` texts as prices: NaN where a text is not a finite number
    (`na`, `1.2.3`, empty, NULL, `inf`)."""
    numbers = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").to_numpy(dtype="float64")
    return np.where(np.isfinite(numbers), numbers, np.nan)


@dataclass(frozen=True)
class OpenBlocks:
    """The open blocks of the FX calendar in a span: starts and ends, UTC epoch nanoseconds."""

    starts: np.ndarray
    ends: np.ndarray


def open_blocks(calendar: FxCalendar, first_day: date, last_day: date) -> OpenBlocks:
    """Every open block of the OVC days `first_day`..`last_day`, one zone conversion per array."""
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    open_days = np.array([day for day in days if calendar.is_day_open(day)], dtype="datetime64[D]")
    wall_clock = (open_days.astype("datetime64[ns]")[:, None] + _OVC_DAY_OFFSETS[None, :]).ravel()
    # Open blocks never touch a daylight-saving switch (it falls in the weekend closure).
    starts = pd.DatetimeIndex(wall_clock).tz_localize(NEW_YORK, ambiguous="raise", nonexistent="raise")
    # asi8 of a zone-aware index is already UTC epoch ns
    starts_ns = starts.asi8
    ends_ns = (starts + pd.Timedelta(hours=2)).asi8
    return OpenBlocks(starts_ns, ends_ns)


def calendar_for(calendar: FxCalendar, start: datetime, end: datetime, window: OutcomeWindow) -> OpenBlocks:
    """Open blocks from `start` until past the last window that a block in `[start, end)` opens."""
    return open_blocks(calendar, block_at(start).date_ny, block_at(end).date_ny + _days_covering(window.blocks))


def window_reach(calendar: FxCalendar, end: datetime, blocks: int) -> datetime:
    """The end of the `blocks`-th open block starting at or after `end`: how far data is read."""
    day = block_at(end).date_ny
    found = open_blocks(calendar, day, day + _days_covering(blocks))
    after = found.ends[found.starts >= pd.Timestamp(end).value]
    return pd.Timestamp(after[blocks - 1], tz="UTC").to_pydatetime()


def _days_covering(blocks: int) -> timedelta:
    return _CALENDAR_SLACK + timedelta(days=blocks // len(BLOCK_LETTERS) + 1)


@dataclass(frozen=True)
class SymbolBlocks:
    """One symbol's stored blocks, sorted by start (UTC epoch ns), as arrays."""

    symbol: str
    starts: np.ndarray
    bids: np.ndarray
    h: np.ndarray
    l: np.ndarray  # noqa: E741 - the conventional name of the low
    c: np.ndarray
    pred_target: np.ndarray
    invalidation: np.ndarray
    latest_start: int | None  # the symbol's latest block with prices in the whole table


@dataclass
class OutcomeBatch:
    """Outcome rows of one symbol and window (columns of `OUTCOME_COLUMNS` as arrays) and
    the blocks whose windows were not written, by reason."""

    symbol: str
    window: OutcomeWindow
    block_start: np.ndarray = field(default_factory=lambda: np.empty(0, "int64"))
    bid: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    window_end: np.ndarray = field(default_factory=lambda: np.empty(0, "int64"))
    window_status: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    blocks_in_window: np.ndarray = field(default_factory=lambda: np.empty(0, "int64"))
    ref_price: np.ndarray = field(default_factory=lambda: np.empty(0))
    mfe_up: np.ndarray = field(default_factory=lambda: np.empty(0))
    mfe_down: np.ndarray = field(default_factory=lambda: np.empty(0))
    close_pos: np.ndarray = field(default_factory=lambda: np.empty(0))
    outcome_dir: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    bars_to_mfe_up: np.ndarray = field(default_factory=lambda: np.empty(0, "int64"))
    bars_to_mfe_down: np.ndarray = field(default_factory=lambda: np.empty(0, "int64"))
    hit_target: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    hit_invalidation: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    first_hit: np.ndarray = field(default_factory=lambda: np.empty(0, object))
    pending_bids: list[str] = field(default_factory=list)
    empty_bids: list[str] = field(default_factory=list)
    unpriced_bids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.block_start)

    def staged(self, symbol_index: int) -> dict[str, np.ndarray]:
        """The rows as the arrays of `storage.outcomes.STAGING_LAYOUT` (texts as codes; the symbol is
        its 1-based position in the symbols passed to the merge)."""
        return {
            "symbol_index": np.full(len(self), symbol_index),
            "block_start": self.block_start,
            "window_end": self.window_end,
            "window_status": _codes(self.window_status, WINDOW_STATUSES),
            "blocks_in_window": self.blocks_in_window,
            "ref_price": self.ref_price,
            "mfe_up": self.mfe_up,
            "mfe_down": self.mfe_down,
            "close_pos": self.close_pos,
            "outcome_dir": _codes(self.outcome_dir, OUTCOME_DIRS),
            "bars_to_mfe_up": self.bars_to_mfe_up,
            "bars_to_mfe_down": self.bars_to_mfe_down,
            "hit_target": _boolean_codes(self.hit_target),
            "hit_invalidation": _boolean_codes(self.hit_invalidation),
            "first_hit": _codes(self.first_hit, FIRST_HITS),
        }

    def frame(self, run_id: str | None) -> pd.DataFrame:
        """The rows in `OUTCOME_COLUMNS` order (NULLs as None/NaN/<NA>)."""
        n = len(self)
        return pd.DataFrame(
            {
                "symbol": np.full(n, self.symbol, dtype=object),
                "block_start": pd.to_datetime(self.block_start, utc=True),
                "window_type": np.full(n, self.window.name, dtype=object),
                "outcome_ver": np.full(n, OUTCOME_VER, dtype=object),
                "bid": self.bid,
                "window_end": pd.to_datetime(self.window_end, utc=True),
                "window_status": self.window_status,
                "window_complete": self.window_status == COMPLETE,
                "blocks_in_window": self.blocks_in_window,
                "ref_price": self.ref_price,
                "mfe_up": self.mfe_up,
                "mfe_down": self.mfe_down,
                "close_pos": self.close_pos,
                "outcome_dir": self.outcome_dir,
                "bars_to_mfe_up": self.bars_to_mfe_up,
                "bars_to_mfe_down": self.bars_to_mfe_down,
                "hit_target": pd.array(self.hit_target, dtype="boolean"),
                "hit_invalidation": pd.array(self.hit_invalidation, dtype="boolean"),
                "first_hit": self.first_hit,
                "run_id": np.full(n, run_id, dtype=object),
            },
            columns=list(OUTCOME_COLUMNS),
        )


def symbol_blocks(frame: pd.DataFrame, latest_starts: dict[str, datetime]) -> dict[str, SymbolBlocks]:
    """Stored blocks (`storage.outcomes.BLOCK_COLUMNS`, sorted) as arrays per symbol."""
    loaded = {}
    for symbol, group in frame.groupby("symbol", sort=True):
        latest = latest_starts.get(symbol)
        loaded[symbol] = SymbolBlocks(
            symbol=symbol,
            starts=pd.to_datetime(group["block_start"], utc=True).to_numpy("datetime64[ns]").astype("int64"),
            bids=group["bid"].to_numpy(dtype=object),
            h=pd.to_numeric(group["h"]).to_numpy(dtype="float64", na_value=np.nan),
            l=pd.to_numeric(group["l"]).to_numpy(dtype="float64", na_value=np.nan),
            c=pd.to_numeric(group["c"]).to_numpy(dtype="float64", na_value=np.nan),
            pred_target=parse_price_levels(group["pred_target"]),
            invalidation=parse_price_levels(group["invalidation"]),
            latest_start=None if latest is None else pd.Timestamp(latest).value,
        )
    return loaded


def _codes(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    codes = np.full(len(values), NULL_CODE, dtype="int16")
    for position, name in enumerate(names, start=1):
        codes[values == name] = position
    return codes


def _boolean_codes(values: np.ndarray) -> np.ndarray:
    codes = np.full(len(values), NULL_CODE, dtype="int16")
    codes[values == False] = FALSE_CODE  # noqa: E712 - elementwise on an object array holding None
    codes[values == True] = TRUE_CODE  # noqa: E712
    return codes


def compute_outcomes(
    blocks: SymbolBlocks, calendar: OpenBlocks, start_ns: int, end_ns: int, window: OutcomeWindow
) -> OutcomeBatch:
    """The outcomes of `blocks` starting in `[start_ns, end_ns)` for `window` (see the module rules).

    `calendar` must cover the blocks and reach at least `window.blocks` open blocks past the
    last of them."""
    n_blocks = window.blocks
    cal_starts, cal_ends = calendar.starts, calendar.ends
    size = len(cal_starts)
    priced = np.isfinite(blocks.h) & np.isfinite(blocks.l) & np.isfinite(blocks.c)
    position = np.searchsorted(cal_starts, blocks.starts)
    on_calendar = (position < size) & (cal_starts[np.minimum(position, size - 1)] == blocks.starts)
    present_rows = priced & on_calendar

    # Per calendar position: prices where present; absent highs/lows never win a max/min or a touch.
    high = np.full(size, -np.inf)
    low = np.full(size, np.inf)
    close = np.full(size, np.nan)
    present = np.zeros(size, dtype=bool)
    at = position[present_rows]
    high[at], low[at], close[at] = blocks.h[present_rows], blocks.l[present_rows], blocks.c[present_rows]
    present[at] = True

    batch = OutcomeBatch(blocks.symbol, window)
    in_range = (blocks.starts >= start_ns) & (blocks.starts < end_ns) & on_calendar
    batch.unpriced_bids = blocks.bids[in_range & ~priced].tolist()
    targets = np.flatnonzero(in_range & priced)
    if position[targets].size and position[targets].max() + n_blocks >= size:
        raise ValueError("the calendar does not reach past the last window")

    members = position[targets][:, None] + np.arange(1, n_blocks + 1)[None, :]
    member_present = present[members]
    count = member_present.sum(axis=1)
    last_member_start = cal_starts[members[:, -1]]
    latest = blocks.latest_start if blocks.latest_start is not None else np.iinfo("int64").min
    complete = count == n_blocks
    pending = ~complete & (latest < last_member_start)
    empty = ~pending & (count == 0)
    batch.pending_bids = blocks.bids[targets[pending]].tolist()
    batch.empty_bids = blocks.bids[targets[empty]].tolist()

    keep = ~pending & ~empty
    rows, members, member_present, count = targets[keep], members[keep], member_present[keep], count[keep]
    highs, lows = high[members], low[members]
    ref = blocks.c[rows]
    max_high, min_low = highs.max(axis=1), lows.min(axis=1)
    last_present = n_blocks - 1 - np.argmax(member_present[:, ::-1], axis=1)
    close_end = close[members[np.arange(len(rows)), last_present]]
    price_range = max_high - min_low
    with np.errstate(divide="ignore", invalid="ignore"):
        close_pos = np.where(price_range > 0, (close_end - min_low) / price_range, np.nan)

    batch.block_start = blocks.starts[rows]
    batch.bid = blocks.bids[rows]
    batch.window_end = cal_ends[members[:, -1]]
    batch.window_status = np.where(count == n_blocks, COMPLETE, GAP).astype(object)
    batch.blocks_in_window = count
    batch.ref_price = ref
    batch.mfe_up = max_high - ref
    batch.mfe_down = ref - min_low
    batch.close_pos = close_pos
    batch.outcome_dir = np.select([close_end > ref, close_end < ref], ["UP", "DOWN"], "NEUTRAL").astype(object)
    batch.bars_to_mfe_up = np.argmax(highs, axis=1) + 1
    batch.bars_to_mfe_down = np.argmin(lows, axis=1) + 1
    target_bar, batch.hit_target = _first_touch(blocks.pred_target[rows], ref, highs, lows)
    invalidation_bar, batch.hit_invalidation = _first_touch(blocks.invalidation[rows], ref, highs, lows)
    both_known = ~np.isnan(blocks.pred_target[rows]) & ~np.isnan(blocks.invalidation[rows])
    first_hit = np.select(
        [invalidation_bar <= np.minimum(target_bar, n_blocks), target_bar <= n_blocks], [INVALIDATION, TARGET], NONE
    ).astype(object)
    first_hit[~both_known] = None
    batch.first_hit = first_hit
    return batch


def _first_touch(level: np.ndarray, ref: np.ndarray, highs: np.ndarray, lows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(1-based block of the first touch, N + 1 when none; hit as True/False/None where the level is unknown)."""
    above = (level >= ref)[:, None]
    touched = np.where(above, highs >= level[:, None], lows <= level[:, None])
    hit = touched.any(axis=1)
    first = np.where(hit, np.argmax(touched, axis=1) + 1, highs.shape[1] + 1)
    hit_or_null = hit.astype(object)
    hit_or_null[np.isnan(level)] = None
    return first, hit_or_null
