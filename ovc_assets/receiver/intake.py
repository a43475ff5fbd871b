"""From one arrived body to a landing event and the verdict to answer with.

Pure functions, no I/O: every route (the two live webhooks, alert-log replay, the FULL cold
path) turns what arrived into a `LandingEvent` here, so they store, redact, hash, key and
judge bodies the same way. The receiver only judges enough to answer the sender; the
Dagster assets re-parse the stored bodies as the authority.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from ovc_assets.calendar import block_at, parse_block_id
from ovc_assets.contracts.envelope import (
    ENVELOPE_SCHEMA,
    Envelope,
    looks_like_envelope,
    unpack_envelope,
)
from ovc_assets.contracts.parser import ParseResult, parse_export
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.storage.raw_events import (
    PARSE_OK,
    PARSE_REJECTED,
    ROUTE_COLD_FULL,
    ROUTE_REPLAY,
    ROUTE_TV,
    ROUTE_TV_SECURE,
    LandingEvent,
)
from ovc_assets.storage.raw_store import raw_event_key

MAX_BODY_BYTES = 64 * 1024
"""Largest body taken whole; a bigger one is refused (413) and stored cut to this size."""

REDACTED = "***"
REDACTED_JSON_VALUE = json.dumps(REDACTED)
# A configured secret shorter than this is not replaced wherever it appears in a body: a
# short string would match ordinary data. The `token` field is redacted whatever its length.
MIN_SECRET_LENGTH_FOR_LITERAL_REDACTION = 8

_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_LOOSE_PAIR = re.compile(
    rf'({_JSON_STRING.pattern})[ \t\n\r]*:[ \t\n\r]*("(?:[^"\\]|\\.)*"?|[^,}}\]\s"]+)', re.DOTALL
)
"""A key and its value (a string, unterminated in a cut body, or a bare word such as a
number) anywhere in a text."""
_JSON_DECODER = json.JSONDecoder()
_ACCEPTED_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_ACCEPTED_MEDIA_TYPES = frozenset({"", "text/plain", "application/json", "application/octet-stream"})


@dataclass(frozen=True, slots=True)
class RouteRules:
    """How one route judges bodies: which export profile, and whether it is the secure envelope."""

    profile: str
    secure_envelope: bool = False


ROUTE_RULES = {
    ROUTE_TV: RouteRules(profile="MIN"),
    ROUTE_TV_SECURE: RouteRules(profile="MIN", secure_envelope=True),
    ROUTE_REPLAY: RouteRules(profile="MIN"),
    ROUTE_COLD_FULL: RouteRules(profile="FULL"),
}


@dataclass(frozen=True, slots=True)
class Arrival:
    """A body as it arrived: at most `MAX_BODY_BYTES + 1` bytes of it, and its true size."""

    route: str
    body: bytes
    body_size: int
    received_at: datetime
    client_addr: str | None = None
    content_type: str | None = None
    token_in_query: bool = False
    complete: bool = True
    """False when the sender stopped (or disconnected) before the end of its body."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to tell the sender: an HTTP status, the error codes, a message, the block id."""

    status: int
    codes: tuple[ErrorCode, ...] = ()
    message: str | None = None
    block_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.codes


class _Refusal(Exception):
    def __init__(self, status: int, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def admit(arrival: Arrival, *, secret: str | None) -> tuple[LandingEvent, Verdict]:
    """Judge one arrival by its route's rules and build the event that lands it.

    `secret` is `OVC_TOKEN` (the secure route's token), or None when it is not configured.
    """
    rules = ROUTE_RULES[arrival.route]
    oversized = arrival.body_size > MAX_BODY_BYTES
    truncated = oversized or not arrival.complete
    body = arrival.body[:MAX_BODY_BYTES]
    text = None if truncated else _utf8_or_none(body)
    result: ParseResult | None = None
    try:
        if oversized:
            raise _Refusal(
                413, ErrorCode.BODY_TOO_LARGE, f"{arrival.body_size} bytes; the limit is {MAX_BODY_BYTES}"
            )
        if not arrival.complete:
            raise _Refusal(408, ErrorCode.BODY_INCOMPLETE, f"{len(arrival.body)} of {arrival.body_size} bytes arrived in time")
        if arrival.token_in_query:
            raise _Refusal(400, ErrorCode.AUTH, "the token must travel in the JSON body, never in the URL")
        _check_media_type(arrival.content_type)
        if text is None:
            raise _Refusal(400, ErrorCode.ENCODING, "the body is not valid UTF-8")
        if not text.strip():
            raise _Refusal(400, ErrorCode.EMPTY_BODY, "the body is empty")
        export = _export_of(text, rules, arrival.content_type, secret)
        result = parse_export(export, profile=rules.profile)
        verdict = Verdict(200 if result.ok else 400, result.codes, result.message, result.block_id)
    except _Refusal as refusal:
        verdict = Verdict(refusal.status, (refusal.code,), refusal.message)
    stored = redact_credentials(body, text, secret)
    block_id, symbol, block_start = _block_identity(result, arrival.received_at)
    event_id = uuid.uuid4()
    event = LandingEvent(
        event_id=event_id,
        received_at=arrival.received_at,
        route=arrival.route,
        client_addr=arrival.client_addr,
        body=stored,
        body_size=arrival.body_size,
        body_truncated=truncated,
        body_sha256=hashlib.sha256(stored).hexdigest(),
        raw_key=raw_event_key(arrival.received_at, block_id, event_id),
        parse_status=PARSE_OK if verdict.ok else PARSE_REJECTED,
        codes=tuple(str(code) for code in verdict.codes),
        contract=result.contract if result is not None else None,
        symbol=symbol,
        block_id=block_id,
        block_start=block_start,
    )
    return event, verdict


def _utf8_or_none(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _check_media_type(content_type: str | None) -> None:
    """Refuse (415) what cannot be an export or an envelope: forms, other charsets."""
    media_type, _, parameters = (content_type or "").partition(";")
    media_type = media_type.strip().lower()
    if media_type not in _ACCEPTED_MEDIA_TYPES and not media_type.endswith("+json"):
        raise _Refusal(415, ErrorCode.ENCODING, f"content type {media_type[:60]!r} is not text/plain or JSON")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _ACCEPTED_CHARSETS:
            raise _Refusal(415, ErrorCode.ENCODING, f"charset {charset[:30]!r} is not UTF-8")


def _export_of(text: str, rules: RouteRules, content_type: str | None, secret: str | None) -> str:
    """The export string a body carries: the body itself, or its envelope's `export`."""
    is_json = (content_type or "").lower().startswith("application/json") or text.lstrip()[:1] == "["
    if not rules.secure_envelope:
        if not (is_json or looks_like_envelope(text)):
            return text
        return _unpacked(text).export
    if not secret:
        raise _Refusal(503, ErrorCode.CONFIG, "the secure route is not configured (OVC_TOKEN is unset)")
    envelope = _unpacked(text)
    if not envelope.token:
        raise _Refusal(401, ErrorCode.AUTH, "the envelope carries no token")
    if not token_matches(envelope.token, secret):
        raise _Refusal(403, ErrorCode.AUTH, "the token is not valid")
    if envelope.schema != ENVELOPE_SCHEMA:
        raise _Refusal(400, ErrorCode.ENVELOPE_SCHEMA, f"envelope schema must be {ENVELOPE_SCHEMA!r}")
    return envelope.export


def _unpacked(text: str) -> Envelope:
    try:
        return unpack_envelope(text)
    except OvcError as error:
        raise _Refusal(400, error.code, error.message) from None


def token_matches(given: str, secret: str) -> bool:
    """Constant-time comparison that also hides the secret's length (digests are compared)."""
    given_digest = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    secret_digest = hashlib.sha256(secret.encode("utf-8")).digest()
    return hmac.compare_digest(given_digest, secret_digest)


def redact_credentials(body: bytes, text: str | None, secret: str | None) -> bytes:
    """`body` with its credentials replaced by `"***"` and every other byte kept as sent.

    In a body that is one JSON object, the values of its top-level `token` keys. In any other
    body (not JSON, malformed, with a BOM or trailing bytes, invalid UTF-8, cut at the size
    limit, nested too deep to parse) the value of every `"token": ...` pair anywhere, however
    its key or value is escaped. And everywhere, a configured secret long enough not to match
    ordinary data, as written or inside a JSON string that spells it with escapes.
    """
    # Bytes that are not UTF-8 ride through as surrogate escapes and come back unchanged.
    scanned = text if text is not None else body.decode("utf-8", "surrogateescape")
    spans = _token_value_spans(scanned)
    if spans is None and '"' in scanned:  # a key is a quoted string: a plain export string has none
        spans = [match.span(2) for match in _LOOSE_PAIR.finditer(scanned) if _json_string(match[1]) == "token"]
    spans = spans or []
    literal_secret = secret if secret and len(secret) >= MIN_SECRET_LENGTH_FOR_LITERAL_REDACTION else None
    if literal_secret and "\\" in scanned:
        spans += [
            match.span() for match in _JSON_STRING.finditer(scanned)
            if "\\" in match[0] and literal_secret in (_json_string(match[0]) or "")
        ]
    if spans:
        pieces, position = [], 0
        for start, end in sorted(spans):
            if start >= position:
                pieces += [scanned[position:start], REDACTED_JSON_VALUE]
                position = end
        pieces.append(scanned[position:])
        body = "".join(pieces).encode("utf-8", "surrogateescape")
    if literal_secret:
        body = body.replace(literal_secret.encode("utf-8"), REDACTED.encode())
    return body


def _json_string(literal: str) -> str | None:
    """The text a JSON string literal (quotes included) stands for; None if it is malformed."""
    try:
        return json.loads(literal)
    except ValueError:
        return None


def _token_value_spans(text: str) -> list[tuple[int, int]] | None:
    """Where the values of the top-level `token` keys are if `text` is one JSON object
    (empty if it has none), None if it is anything else."""
    try:
        position = _JSON_WHITESPACE.match(text).end()
        if text[position : position + 1] != "{":
            return None
        spans: list[tuple[int, int]] = []
        position = _JSON_WHITESPACE.match(text, position + 1).end()
        if text[position] == "}":
            return [] if _JSON_WHITESPACE.match(text, position + 1).end() == len(text) else None
        while True:
            key, position = _JSON_DECODER.raw_decode(text, position)
            position = _JSON_WHITESPACE.match(text, position).end()
            if text[position] != ":":
                return None
            value_start = _JSON_WHITESPACE.match(text, position + 1).end()
            _, position = _JSON_DECODER.raw_decode(text, value_start)
            if key == "token":
                spans.append((value_start, position))
            position = _JSON_WHITESPACE.match(text, position).end()
            if text[position] == "}":
                return spans if _JSON_WHITESPACE.match(text, position + 1).end() == len(text) else None
            if text[position] != ",":
                return None
            position = _JSON_WHITESPACE.match(text, position + 1).end()
    except (ValueError, IndexError, RecursionError):
        # RecursionError: a value nested about a thousand deep is beyond the JSON decoder.
        return None


def _block_identity(result: ParseResult | None, received_at: datetime) -> tuple[str | None, str | None, datetime]:
    """(block_id, symbol, block_start) of an event.

    The payload's block when it names a usable one (rejected payloads included); otherwise
    the block that had just closed on arrival, since TradingView alerts fire at bar close.
    """
    if result is not None and result.record is not None:
        return result.block_id, result.record.symbol, result.record.block_start
    if result is not None and result.block_id:
        try:
            block, symbol = parse_block_id(result.block_id)
        except ValueError:
            pass
        else:
            return result.block_id, symbol, block.start_utc
    return None, None, block_at(received_at).previous().start_utc
