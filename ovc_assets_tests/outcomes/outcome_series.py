"""A real-looking block series for the outcome tests, and an independent per-row reference.

The series runs from 2025-03-02 to 2026-01-07 over the FX calendar (both DST changes, every
weekend, the Christmas and New Year closures), as a seeded random walk, with faults: a block
missing in the middle of a week (a gap), blocks with NULL prices, `pred_target` /
`invalidation` texts that are no prices (`na`, `1.2.3`, empty), and data ending on a
Wednesday morning, so the last windows are still open.

`reference_outcomes` is written separately from `ovc_assets.pipeline.outcomes`: a plain loop
per block that walks the calendar block by block with `Block.next()` and `FxCalendar.is_open`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime

from ovc_assets.calendar import Block, FxCalendar

SYMBOL = "GBPUSD"
FIRST_DAY = date(2025, 3, 2)  # a Sunday
LAST_DAY = date(2026, 1, 6)  # a Tuesday OVC day: the series ends with its block F
LAST_LETTER = "F"
GAP_BLOCKS = (Block(date(2025, 3, 11), "C"), Block(date(2025, 11, 4), "L"))
UNPRICED_BLOCKS = (Block(date(2025, 6, 10), "H"),)
NOT_PRICES = ("na", "1.2.3", "", None)


@dataclass(frozen=True)
class SeriesBlock:
    block: Block
    h: float | None
    l: float | None  # noqa: E741
    c: float | None
    o: float | None
    pred_target: str | None
    invalidation: str | None
    play: str
    pred_dir: str

    @property
    def bid(self) -> str:
        return self.block.block_id(SYMBOL)


def series(seed: int = 11) -> list[SeriesBlock]:
    """The blocks of the series in time order (the gaps are absent, the unpriced have NULLs)."""
    rng = random.Random(seed)
    calendar = FxCalendar()
    price = 1.2700
    out = []
    block = Block(FIRST_DAY, "A")
    while block <= Block(LAST_DAY, LAST_LETTER):
        if calendar.is_open(block) and block not in GAP_BLOCKS:
            o = price
            c = round(o + rng.gauss(0, 0.0012), 5)
            h = round(max(o, c) + abs(rng.gauss(0, 0.0006)), 5)
            low = round(min(o, c) - abs(rng.gauss(0, 0.0006)), 5)
            if rng.random() < 0.03:
                h = low = c = o = round(o, 5)  # a flat block: zero-range windows happen
            price = c
            pred_dir = rng.choice(("UP", "DOWN", "NEUTRAL"))
            offset = rng.choice((0.0005, 0.0010, 0.0020))
            target = c + offset if pred_dir == "UP" else c - offset
            invalidation = c - offset if pred_dir == "UP" else c + offset
            roll = rng.random()
            pred_target = rng.choice(NOT_PRICES) if roll < 0.15 else f"{target:.5f}"
            invalidation_text = rng.choice(NOT_PRICES) if 0.1 < roll < 0.25 else f"{invalidation:.5f}"
            priced = block not in UNPRICED_BLOCKS
            out.append(
                SeriesBlock(
                    block,
                    h if priced else None, low if priced else None, c if priced else None, o if priced else None,
                    pred_target, invalidation_text, rng.choice(("PB_PULLBACK", "FADE", "NONE")), pred_dir,
                )
            )
        block = block.next()
    return out


def _price(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _touched(level: float, ref: float, h: float, low: float) -> bool:
    return h >= level if level >= ref else low <= level


def reference_outcomes(blocks: list[SeriesBlock], n: int, start: datetime, end: datetime) -> tuple[dict[str, dict], set[str]]:
    """(bid -> outcome row, bids whose window is pending) for the priced blocks starting in [start, end)."""
    calendar = FxCalendar()
    by_block = {b.block: b for b in blocks if b.h is not None}
    latest = max(by_block)
    rows, pending = {}, set()
    for item in blocks:
        if item.h is None or not (start <= item.block.start_utc < end) or not calendar.is_open(item.block):
            continue
        window = []
        walk = item.block
        while len(window) < n:
            walk = walk.next()
            if calendar.is_open(walk):
                window.append(walk)
        present = [(position, by_block[b]) for position, b in enumerate(window, start=1) if b in by_block]
        if len(present) < n and latest < window[-1]:
            pending.add(item.bid)
            continue
        if not present:
            continue
        ref = item.c
        max_h = max(b.h for _, b in present)
        min_l = min(b.l for _, b in present)
        c_end = present[-1][1].c
        bars_up = next(p for p, b in present if b.h == max_h)
        bars_down = next(p for p, b in present if b.l == min_l)
        target, invalidation = _price(item.pred_target), _price(item.invalidation)
        first_target = next((p for p, b in present if target is not None and _touched(target, ref, b.h, b.l)), None)
        first_inval = next((p for p, b in present if invalidation is not None and _touched(invalidation, ref, b.h, b.l)), None)
        if target is None or invalidation is None:
            first_hit = None
        elif first_inval is not None and (first_target is None or first_inval <= first_target):
            first_hit = "INVALIDATION"
        elif first_target is not None:
            first_hit = "TARGET"
        else:
            first_hit = "NONE"
        rows[item.bid] = {
            "window_end": window[-1].end_utc,
            "window_status": "COMPLETE" if len(present) == n else "GAP",
            "blocks_in_window": len(present),
            "ref_price": ref,
            "mfe_up": max_h - ref,
            "mfe_down": ref - min_l,
            "close_pos": None if max_h == min_l else (c_end - min_l) / (max_h - min_l),
            "outcome_dir": "UP" if c_end > ref else ("DOWN" if c_end < ref else "NEUTRAL"),
            "bars_to_mfe_up": bars_up,
            "bars_to_mfe_down": bars_down,
            "hit_target": None if target is None else first_target is not None,
            "hit_invalidation": None if invalidation is None else first_inval is not None,
            "first_hit": first_hit,
        }
    return rows, pending
