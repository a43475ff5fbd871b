"""Reading export strings out of files: plain lines, JSON-envelope lines, or an alert-log CSV.

A TradingView alert-log export is a CSV whose `Description` column holds the export
string (or a JSON envelope, when the alert sends one) and whose `Time` column the alert's
time; `ovc contract validate` and `ovc replay alerts` both read it through `read_alert_log`,
so they agree on every row. Any other file is read line by line
(blank and `#` lines skipped), a line starting with `{` being a JSON envelope. Bytes that are not UTF-8 are carried through (as surrogate
escapes) so the parser reports them as `E_ENCODING` on their own line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ovc_assets.contracts.envelope import looks_like_envelope, unpack_envelope
from ovc_assets.errors import ErrorCode, OvcError

ALERT_LOG_EXPORT_COLUMN = "Description"
ALERT_LOG_TIME_COLUMN = "Time"


@dataclass(frozen=True, slots=True)
class SourcePayload:
    """One payload found in a file: its 1-based line, and its export string or envelope error."""

    line: int
    export: str | None
    error: OvcError | None = None


@dataclass(frozen=True, slots=True)
class AlertLogRow:
    """One row of an alert log: its first line, its export string, and its `Time` cell."""

    line: int
    export: str
    time: str | None


def read_text(path: Path) -> str:
    """A file's text; bytes that are not UTF-8 are kept as surrogate escapes."""
    return path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def read_payloads(path: Path) -> Iterator[SourcePayload]:
    """Every payload in `path`, in file order; `OSError` if the file cannot be read, `OvcError`
    (`E_INPUT_FORMAT`) for an alert log that cannot be read unambiguously."""
    text = read_text(path)
    if is_alert_log(text):
        return (_payload(row.line, row.export) for row in read_alert_log(text, str(path)))
    return _line_payloads(text)


def is_alert_log(text: str) -> bool:
    """Whether the text is a CSV whose header has a `Description` column."""
    header = _header(text)
    return len(header) > 1 and ALERT_LOG_EXPORT_COLUMN in header


def read_alert_log(text: str, source: str, *, require_time: bool = False) -> Iterator[AlertLogRow]:
    """The non-blank rows of an alert-log CSV. `OvcError` (`E_INPUT_FORMAT`) when a column it
    needs is missing, the header names a column twice (which one is meant would be a guess),
    or a field is larger than the csv module reads (128 KiB, twice the largest body the
    receiver takes)."""
    header = _header(text)
    needed = (ALERT_LOG_EXPORT_COLUMN, ALERT_LOG_TIME_COLUMN) if require_time else (ALERT_LOG_EXPORT_COLUMN,)
    missing = [name for name in needed if name not in header]
    if missing:
        raise OvcError(ErrorCode.INPUT_FORMAT, f"{source} is not a TradingView alert log: no column {', '.join(missing)}")
    repeated = sorted({name for name in header if header.count(name) > 1 and name})
    if repeated:
        raise OvcError(ErrorCode.INPUT_FORMAT, f"{source}: the header names {', '.join(repeated)} more than once")
    export_column = header.index(ALERT_LOG_EXPORT_COLUMN)
    time_column = header.index(ALERT_LOG_TIME_COLUMN) if ALERT_LOG_TIME_COLUMN in header else None
    reader = csv.reader(io.StringIO(text, newline=""))
    next_line = 1
    try:
        next(reader)
        next_line = reader.line_num + 1
        for row in reader:
            start, next_line = next_line, reader.line_num + 1
            if any(cell.strip() for cell in row):
                yield AlertLogRow(start, _cell(row, export_column) or "", _cell(row, time_column))
    except csv.Error as error:
        raise OvcError(ErrorCode.INPUT_FORMAT, f"{source}: line {next_line}: not readable as CSV: {error}") from None


def _header(text: str) -> list[str]:
    try:
        return next(csv.reader([text.split("\n", 1)[0]]), [])
    except csv.Error:
        return []


def _cell(row: list[str], column: int | None) -> str | None:
    return row[column] if column is not None and column < len(row) else None


def _payload(line: int, content: str) -> SourcePayload:
    """An export string as it is, or the `export` of a JSON envelope."""
    if not looks_like_envelope(content):
        return SourcePayload(line, content)
    try:
        return SourcePayload(line, unpack_envelope(content).export)
    except OvcError as error:
        return SourcePayload(line, None, error)


def _line_payloads(text: str) -> Iterator[SourcePayload]:
    # Split on "\n" only: str.splitlines() would also break on characters a value may hold.
    for number, line in enumerate(text.split("\n"), start=1):
        content = line.strip()
        if content and not content.startswith("#"):
            yield _payload(number, content)
