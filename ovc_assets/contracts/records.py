"""Typed records a parsed export becomes: the canonical MIN block and the FULL export."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple


class MinBlock(NamedTuple):
    """One 2-hour block from a MIN export, in one shape whatever the MIN contract version.

    A NamedTuple rather than a dataclass: it is immutable and builds several times faster,
    which matters at 100,000 payloads per batch (see `benchmarks/RESULTS.md`). Identity
    columns (`block_id`, `date_ny`, `block_letter`, `block4h`, `block_start`, `block_end`)
    come from the block calendar; `rng`, `body` and `ret` are computed from OHLC when the
    contract does not carry them.
    """

    contract: str
    scheme: str
    producer_ver: str
    symbol: str
    block_id: str
    date_ny: date
    block_letter: str
    block4h: str
    bar_close_ms: int
    block_start: datetime
    block_end: datetime
    o: float
    h: float
    l: float  # noqa: E741 - the contract's key for the low price
    c: float
    dir: int
    rng: float
    body: float
    ret: float
    state_tag: str
    value_tag: str
    event: str | None
    tt: int
    cp_tag: str
    tis: int | None
    rrc: float
    vrc: float
    trend_tag: str
    struct_state: str
    space_tag: str
    htf_stack: str | None
    with_htf: bool
    rd_state: str | None
    regime_tag: str | None
    trans_risk: str | None
    bias_mode: str
    bias_dir: str
    perm_state: str
    rail_loc: str | None
    tradeable: bool
    conf_l3: str
    play: str
    pred_dir: str
    pred_target: str | None
    timebox: str
    invalidation: str | None
    source: str
    build_id: str
    note: str | None
    ready: bool
    news_flag: bool | None
    unknown_key_count: int

    def to_dict(self) -> dict[str, Any]:
        """The block as a plain dict (dates and datetimes stay Python objects)."""
        return self._asdict()


MIN_BLOCK_COLUMNS: tuple[str, ...] = MinBlock._fields


@dataclass(frozen=True, slots=True)
class FullExport:
    """A FULL export: its block identity plus every contract field, typed, under its own key."""

    contract: str
    scheme: str
    producer_ver: str
    symbol: str
    block_id: str
    date_ny: date
    block_letter: str
    bar_close_ms: int
    block_start: datetime
    block_end: datetime
    unknown_key_count: int
    fields: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Identity columns plus `fields` as a plain dict (the FULL payload for JSONB)."""
        return {
            "contract": self.contract,
            "scheme": self.scheme,
            "producer_ver": self.producer_ver,
            "symbol": self.symbol,
            "block_id": self.block_id,
            "date_ny": self.date_ny,
            "block_letter": self.block_letter,
            "bar_close_ms": self.bar_close_ms,
            "block_start": self.block_start,
            "block_end": self.block_end,
            "unknown_key_count": self.unknown_key_count,
            "fields": dict(self.fields),
        }
