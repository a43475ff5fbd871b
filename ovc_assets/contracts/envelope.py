"""The JSON envelope TradingView alerts can wrap an export string in (DESIGN section 4).

`{"schema": "OVC_MIN_V01", "token": "...", "export": "<export string>",
"contract_version": "...", "source": "...", "sent_ms": ...}`. The webhook receiver and
`ovc contract validate` both unpack it here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ovc_assets.errors import ErrorCode, OvcError

ENVELOPE_SCHEMA = "OVC_MIN_V01"


@dataclass(frozen=True, slots=True)
class Envelope:
    """An unpacked envelope. `token` is kept out of repr so it never lands in a log line."""

    export: str
    schema: str | None = None
    token: str | None = field(default=None, repr=False)
    contract_version: str | None = None
    source: str | None = None
    sent_ms: int | None = None


def looks_like_envelope(body: str) -> bool:
    """Whether a request body or input line is meant as a JSON envelope (starts with `{`)."""
    return body.lstrip().startswith("{")


def unpack_envelope(body: str | bytes, *, expected_schema: str | None = None) -> Envelope:
    """Parse a JSON envelope and return its fields; the export string is not parsed here.

    Only `export` is mandatory. The other fields are taken when they have the expected type
    (strings; an integer `sent_ms`) and are None otherwise, so a bad token type simply
    fails authentication later. Raises `OvcError` with `E_ENCODING` for bytes that are not
    UTF-8, `E_ENVELOPE_JSON` for invalid JSON or a non-object, and `E_ENVELOPE_SCHEMA` when
    `export` is missing or not a string, or `schema` differs from `expected_schema`.
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise OvcError(ErrorCode.ENCODING, f"envelope is not valid UTF-8 (byte {error.start})") from None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise OvcError(ErrorCode.ENVELOPE_JSON, f"envelope is not valid JSON: {str(error)[:80]}") from None
    if not isinstance(document, dict):
        raise OvcError(ErrorCode.ENVELOPE_JSON, f"envelope must be a JSON object, got {type(document).__name__}")
    export = document.get("export")
    if not isinstance(export, str):
        raise OvcError(ErrorCode.ENVELOPE_SCHEMA, "envelope has no string field 'export'")
    texts = {name: _optional(document, name, str) for name in ("schema", "token", "contract_version", "source")}
    sent_ms = _optional(document, "sent_ms", int)
    if expected_schema is not None and texts["schema"] != expected_schema:
        raise OvcError(ErrorCode.ENVELOPE_SCHEMA, f"envelope schema must be {expected_schema!r}")
    return Envelope(export=export, sent_ms=sent_ms, **texts)


def _optional(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    return None
