"""Provider inputs of a history backfill: each a stream of a symbol's candle frames plus what
identifies the input (its hash keys the checkpoints, so a changed input never resumes)."""

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.csv_candles import CSV_LAYOUTS, read_candle_csv
from ovc_assets.providers.oanda import GRANULARITY_BAR_SIZES, OandaClient

CSV_SYMBOL = re.compile(r"[A-Z0-9._]{1,32}")  # what a block id accepts as its symbol
OANDA_SOURCE = "oanda"  # provider_source of OANDA blocks; CSV blocks carry their layout's source
# `ovc/input_source` of a run, by provider_source (the names SOURCE_TIERS knows).
INPUT_SOURCE_OF_PROVIDER = {OANDA_SOURCE: "oanda_api", "csv": "csv", "dukascopy": "dukascopy_csv"}


@dataclass(frozen=True)
class CandleSource:
    """One provider input: how to stream a symbol's candle frames, and what identifies it."""

    name: str
    bar_size: timedelta | None
    description: dict[str, object]
    candles: Callable[[str, datetime, datetime], Iterator[pd.DataFrame]]

    @property
    def input_hash(self) -> str:
        text = json.dumps({"source": self.name, **self.description}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def csv_symbol(symbols: Sequence[str]) -> str:
    """The one symbol a CSV backfill writes, checked to be able to name blocks."""
    if len(symbols) != 1:
        raise OvcError(ErrorCode.CONFIG, f"a CSV backfill needs exactly one symbol (the file's), got {list(symbols) or 'none'}")
    symbol = symbols[0].strip().upper()
    if not CSV_SYMBOL.fullmatch(symbol):
        raise OvcError(ErrorCode.CONFIG, f"symbol {symbol!r} cannot name blocks: use letters, digits, '.' or '_'")
    return symbol


def csv_candle_source(paths: Sequence[str], csv_format: str, tz: str | None) -> CandleSource:
    """Consecutive candle files of one symbol, read in order as one stream."""
    if not paths:
        raise OvcError(ErrorCode.CONFIG, "a CSV backfill needs csv_paths (the candle files)")
    layout = CSV_LAYOUTS[csv_format]
    files = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError as error:
            raise OvcError(ErrorCode.CONFIG, f"cannot read CSV file {path}: {error.strerror}") from None
        files.append({"path": os.path.abspath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})

    def candles(symbol: str, start: datetime, end: datetime) -> Iterator[pd.DataFrame]:
        # Every file is read whole whatever the window: every row is checked, and the bar size
        # is inferred from the same first bars on every run (so a resumed run resamples alike).
        for path in paths:
            try:
                yield from read_candle_csv(path, layout, tz=tz)
            except OvcError as error:
                # Row errors name a line, not the file; file-level ones already name it.
                if path in error.message:
                    raise
                raise OvcError(error.code, f"{path}: {error.message}") from None

    return CandleSource(
        name=layout.source,
        bar_size=None,
        description={"format": csv_format, "tz": tz or layout.tz, "files": files},
        candles=candles,
    )


def oanda_candle_source(client: OandaClient, granularity: str, price: str) -> CandleSource:
    """OANDA v20 candles through `client` (which the caller closes)."""
    if granularity not in GRANULARITY_BAR_SIZES:
        raise OvcError(
            ErrorCode.CONFIG, f"oanda_granularity must be one of {', '.join(GRANULARITY_BAR_SIZES)}, got {granularity!r}"
        )
    return CandleSource(
        name=OANDA_SOURCE,
        bar_size=GRANULARITY_BAR_SIZES[granularity],
        description={"base_url": client.base_url, "granularity": granularity, "price": price},
        candles=lambda symbol, start, end: client.candle_pages(symbol, start, end, granularity=granularity, price=price),
    )
