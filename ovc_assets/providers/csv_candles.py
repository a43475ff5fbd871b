"""OHLC(V) candles from CSV files, streamed in bounded chunks of candle frames.

Two layouts are built in: ``GENERIC`` (a timestamp column plus open/high/low/close and an
optional volume, names matched case-insensitively) and ``DUKASCOPY`` (Dukascopy's export:
``Gmt time,Open,High,Low,Close,Volume`` with times like ``14.01.2026 08:00:00.000`` in
UTC). Other layouts are a ``dataclasses.replace`` of one of them.

Timestamps
    Text is ISO 8601 (``2026-01-14 08:00:00``, ``2026-01-14T08:00:00Z``,
    ``2026-01-14T03:00:00-05:00``) unless the layout gives a ``strptime`` format. Text with a
    UTC offset is the instant it says; text without one is wall-clock time in the stated
    zone, and a wall-clock time that a daylight-saving switch skips or repeats is rejected
    (FX data never has one: every switch falls in the weekend closure). Whole numbers are
    epoch seconds, milliseconds, microseconds or nanoseconds, told apart by the magnitude of
    the first one (seconds below 10^11), and are instants regardless of the zone.

Chunks and bad input
    The file is read ``chunk_rows`` lines at a time (pandas ``read_csv(chunksize=...)``),
    so memory stays bounded whatever the file size. A chunk is yielded only after every row
    in it has passed every check; the first bad row stops the reading with an ``OvcError``
    naming its line (the header is line 1). Nothing of the bad chunk is yielded: a caller
    that writes chunk by chunk in transactions keeps whole chunks only, and a rerun after
    the file is fixed can resume after the last chunk it committed. Rows that are entirely
    empty are skipped. Bar size is not checked here: ``resample`` infers and checks it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.resample import candle_frame, validate_candles

DEFAULT_CHUNK_ROWS = 100_000

_HEADER_LINES = 1
_PRICE_ROLES = ("open", "high", "low", "close")
_EPOCH_UNIT_LIMITS = ((10**11, "s"), (10**14, "ms"), (10**17, "us"))
_OFFSET_SUFFIX = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class CsvLayout:
    """Where a CSV file keeps its candle fields and how its timestamps are written.

    Each column field lists accepted header names (or is one name), matched ignoring case
    and surrounding spaces; the first one present wins. ``volume`` is optional in the file.
    ``timestamp_format`` is a ``strptime`` format, or None for ISO 8601 / epoch numbers.
    ``tz`` is the zone of timestamps written without an offset. ``source`` names the
    provider in block frames.
    """

    timestamp: str | tuple[str, ...] = ("timestamp", "time", "datetime", "date")
    open: str | tuple[str, ...] = ("open", "o")
    high: str | tuple[str, ...] = ("high", "h")
    low: str | tuple[str, ...] = ("low", "l")
    close: str | tuple[str, ...] = ("close", "c")
    volume: str | tuple[str, ...] = ("volume", "vol", "v", "tick_volume")
    timestamp_format: str | None = None
    tz: str = "UTC"
    source: str = "csv"


GENERIC = CsvLayout()
DUKASCOPY = CsvLayout(
    timestamp="gmt time",
    timestamp_format="%d.%m.%Y %H:%M:%S.%f",
    tz="UTC",
    source="dukascopy",
)
CSV_LAYOUTS: Mapping[str, CsvLayout] = {"generic": GENERIC, "dukascopy": DUKASCOPY}


def read_candle_csv(
    path: str | os.PathLike[str],
    layout: CsvLayout = GENERIC,
    *,
    tz: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[pd.DataFrame]:
    """Candle frames (see ``resample``) from the CSV file at ``path``, ``chunk_rows`` lines each.

    ``tz`` overrides ``layout.tz``. The zone, the header and the columns are checked now
    (``E_CANDLE_TIMEZONE``, ``E_CANDLE_EMPTY``, ``E_CANDLE_COLUMNS``); the rows are checked as
    the returned iterator reads them (see the module docstring). Frame index: line numbers.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    zone = _zone(tz or layout.tz)
    columns = _resolve_columns(path, layout)
    return _read_chunks(path, columns, _TimestampParser(layout.timestamp_format, zone), chunk_rows)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise OvcError(
            ErrorCode.CANDLE_TIMEZONE,
            f"time zone {name!r} does not exist; use an IANA name such as UTC or America/New_York",
        ) from None


def _resolve_columns(path: str | os.PathLike[str], layout: CsvLayout) -> dict[str, str | None]:
    """Role -> the file's own column name (None for a missing optional volume)."""
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError:
        raise OvcError(ErrorCode.CANDLE_EMPTY, f"{os.fspath(path)} is empty") from None
    by_folded_name = {str(name).strip().casefold(): str(name) for name in header}
    columns: dict[str, str | None] = {}
    missing = []
    for role in ("timestamp", *_PRICE_ROLES, "volume"):
        accepted = getattr(layout, role)
        candidates = (accepted,) if isinstance(accepted, str) else accepted
        found = next(
            (by_folded_name[name.casefold()] for name in candidates if name.casefold() in by_folded_name),
            None,
        )
        if found is None and role != "volume":
            missing.append(f"{role} ({' / '.join(candidates)})")
        columns[role] = found
    if missing:
        raise OvcError(
            ErrorCode.CANDLE_COLUMNS,
            f"{os.fspath(path)} lacks columns {', '.join(missing)}; its header is {', '.join(map(str, header))}",
        )
    return columns


def _read_chunks(
    path: str | os.PathLike[str],
    columns: dict[str, str | None],
    timestamps: _TimestampParser,
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    used = [name for name in columns.values() if name is not None]
    previous_time: pd.Timestamp | None = None
    # Blank lines are kept as empty rows (and dropped below) so that row index + 2 is the line number.
    with pd.read_csv(path, usecols=used, chunksize=chunk_rows, skip_blank_lines=False) as reader:
        for chunk in reader:
            chunk = chunk.dropna(how="all")
            if chunk.empty:
                continue
            lines = chunk.index.to_numpy() + _HEADER_LINES + 1
            times = timestamps.parse(chunk[columns["timestamp"]], lines)
            prices = [_numbers(chunk[columns[role]], role, lines) for role in _PRICE_ROLES]
            volume = (
                np.full(len(chunk), np.nan)
                if columns["volume"] is None
                else _numbers(chunk[columns["volume"]], "volume", lines)
            )
            candles = candle_frame(times, *prices, volume, rows=lines, row_noun="line")
            validate_candles(candles, previous_time=previous_time)
            previous_time = candles["time"].iloc[-1]
            yield candles
    if previous_time is None:
        raise OvcError(ErrorCode.CANDLE_EMPTY, f"{os.fspath(path)} has no candle rows")


def _numbers(raw: pd.Series, role: str, lines: np.ndarray) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    unreadable = np.isnan(values) & raw.notna().to_numpy()
    if unreadable.any():
        position = int(np.argmax(unreadable))
        raise OvcError(
            ErrorCode.CANDLE_PRICE,
            f"line {lines[position]}: {role} {raw.iloc[position]!r} is not a number",
        )
    return values


class _TimestampParser:
    """Turns a chunk's timestamp column into UTC instants; remembers the file's epoch unit."""

    def __init__(self, timestamp_format: str | None, zone: ZoneInfo) -> None:
        self._format = timestamp_format
        self._zone = zone
        self._epoch_unit: str | None = None
        self._decided = timestamp_format is not None

    def parse(self, raw: pd.Series, lines: np.ndarray) -> pd.DatetimeIndex:
        missing = raw.isna().to_numpy()
        if missing.any():
            raise OvcError(ErrorCode.CANDLE_TIMESTAMP, f"line {lines[np.argmax(missing)]}: timestamp is missing")
        if not self._decided:
            self._epoch_unit = _epoch_unit(raw.iloc[0])
            self._decided = True
        if self._epoch_unit is not None:
            return self._parse_epoch(raw, lines)
        return self._parse_text(raw.astype("str"), lines)

    def _parse_epoch(self, raw: pd.Series, lines: np.ndarray) -> pd.DatetimeIndex:
        numbers = pd.to_numeric(raw, errors="coerce")
        _reject_first(numbers.isna().to_numpy(), raw, lines, f"is not an epoch number ({self._epoch_unit})")
        return pd.DatetimeIndex(pd.to_datetime(numbers, unit=self._epoch_unit, utc=True))

    def _parse_text(self, raw: pd.Series, lines: np.ndarray) -> pd.DatetimeIndex:
        timestamp_format = self._format or "ISO8601"
        try:
            parsed = pd.DatetimeIndex(pd.to_datetime(raw, format=timestamp_format, errors="coerce"))
        except ValueError:
            # Raised for offsets that differ between rows (e.g. -05:00 and -04:00 across a
            # daylight-saving switch): parse to UTC, after making sure every row has one.
            _reject_first(~raw.str.contains(_OFFSET_SUFFIX).to_numpy(), raw, lines, "has no UTC offset while other rows have one")
            parsed = pd.DatetimeIndex(pd.to_datetime(raw, format=timestamp_format, errors="coerce", utc=True))
        _reject_first(parsed.isna(), raw, lines, f"does not match {timestamp_format}")
        if parsed.tz is not None:
            return parsed.tz_convert("UTC")
        localized = parsed.tz_localize(self._zone, ambiguous="NaT", nonexistent="NaT")
        _reject_first(
            localized.isna(),
            raw,
            lines,
            f"is skipped or repeated in {self._zone.key} by a daylight-saving switch; "
            "write UTC or an explicit offset",
        )
        return localized.tz_convert("UTC")


def _epoch_unit(first_value: object) -> str | None:
    """The epoch unit if ``first_value`` is a number, judged by its magnitude; None for text."""
    if isinstance(first_value, str):
        if not first_value.strip().lstrip("-").isdigit():
            return None
        first_value = int(first_value)
    elif not isinstance(first_value, (int, float, np.number)):
        return None
    magnitude = abs(float(first_value))
    return next((unit for limit, unit in _EPOCH_UNIT_LIMITS if magnitude < limit), "ns")


def _reject_first(bad: np.ndarray, raw: pd.Series, lines: np.ndarray, problem: str) -> None:
    if bad.any():
        position = int(np.argmax(bad))
        raise OvcError(ErrorCode.CANDLE_TIMESTAMP, f"line {lines[position]}: timestamp {raw.iloc[position]!r} {problem}")
