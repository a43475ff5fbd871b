"""Reading export strings out of files: plain lines, JSON-envelope lines, or an alert-log CSV.

A TradingView alert-log export is a CSV whose `Description` column holds the export
string (or a JSON envelope, when the alert sends one); any other file is read line by line
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
from ovc_assets.errors import OvcError

ALERT_LOG_EXPORT_COLUMN = "Description"


@dataclass(frozen=True, slots=True)
class SourcePayload:
    """One payload found in a file: its 1-based line, and its export string or envelope error."""

    line: int
    export: str | None
    error: OvcError | None = None


def read_payloads(path: Path) -> Iterator[SourcePayload]:
    """Every payload in `path`, in file order; `OSError` if the file cannot be read."""
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    header = next(csv.reader([first_line]), [])
    if len(header) > 1 and ALERT_LOG_EXPORT_COLUMN in header:
        return _alert_log_payloads(text, header.index(ALERT_LOG_EXPORT_COLUMN))
    return _line_payloads(text)


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


def _alert_log_payloads(text: str, column: int) -> Iterator[SourcePayload]:
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    next_line = reader.line_num + 1
    for row in reader:
        start, next_line = next_line, reader.line_num + 1
        if any(cell.strip() for cell in row):
            yield _payload(start, row[column] if column < len(row) else "")
