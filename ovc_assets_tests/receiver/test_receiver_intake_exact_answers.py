"""What the receiver tells a sender, word for word, for every refusal; which content types
mean JSON; the fields of the landing event; redaction at its exact boundaries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from ovc_assets.contracts.parser import parse_export
from ovc_assets.errors import ErrorCode
from ovc_assets.receiver.intake import MAX_BODY_BYTES, Arrival, admit, redact_credentials
from ovc_assets.storage.raw_events import ROUTE_COLD_FULL, ROUTE_TV, ROUTE_TV_SECURE
from ovc_assets_tests.receiver.receiver_payloads import ALERT_EXPORT, TOKEN, envelope

RECEIVED = datetime(2026, 1, 14, 10, 0, 7, tzinfo=UTC)


def answer(route: str, body: str | bytes, *, secret: str | None = TOKEN, **arrival: object):
    data = body.encode() if isinstance(body, str) else body
    arrival.setdefault("body_size", len(data))
    return admit(Arrival(route, data, received_at=RECEIVED, **arrival), secret=secret)


@pytest.mark.parametrize(
    ("route", "body", "arrival", "secret", "expected"),
    [
        pytest.param(ROUTE_TV, "x", {"body_size": MAX_BODY_BYTES + 1}, TOKEN,
                     (413, ErrorCode.BODY_TOO_LARGE, "65537 bytes; the limit is 65536"), id="too_large"),
        pytest.param(ROUTE_TV, "abc", {"body_size": 10, "complete": False}, TOKEN,
                     (408, ErrorCode.BODY_INCOMPLETE, "3 of 10 bytes arrived in time"), id="incomplete"),
        pytest.param(ROUTE_TV, ALERT_EXPORT, {"token_in_query": True}, TOKEN,
                     (400, ErrorCode.AUTH, "the token must travel in the JSON body, never in the URL"),
                     id="token_in_query"),
        pytest.param(ROUTE_TV, b"\xffo=1", {}, TOKEN,
                     (400, ErrorCode.ENCODING, "the body is not valid UTF-8"), id="not_utf8"),
        pytest.param(ROUTE_TV, " \n\t", {}, TOKEN, (400, ErrorCode.EMPTY_BODY, "the body is empty"), id="empty"),
        pytest.param(ROUTE_TV, ALERT_EXPORT, {"content_type": "image/png"}, TOKEN,
                     (415, ErrorCode.ENCODING, "content type 'image/png' is not text/plain or JSON"),
                     id="media_type"),
        pytest.param(ROUTE_TV, ALERT_EXPORT, {"content_type": "x/" + "y" * 70}, TOKEN,
                     (415, ErrorCode.ENCODING, f"content type {'x/' + 'y' * 58!r} is not text/plain or JSON"),
                     id="media_type_cut_at_60"),
        pytest.param(ROUTE_TV, ALERT_EXPORT, {"content_type": "text/plain; charset=Latin-1"}, TOKEN,
                     (415, ErrorCode.ENCODING, "charset 'latin-1' is not UTF-8"), id="charset"),
        pytest.param(ROUTE_TV, ALERT_EXPORT, {"content_type": "text/plain; charset=" + "k" * 40}, TOKEN,
                     (415, ErrorCode.ENCODING, f"charset {'k' * 30!r} is not UTF-8"), id="charset_cut_at_30"),
        pytest.param(ROUTE_TV_SECURE, envelope(ALERT_EXPORT), {}, None,
                     (503, ErrorCode.CONFIG, "the secure route is not configured (OVC_TOKEN is unset)"),
                     id="no_secret"),
        pytest.param(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, token=None), {}, TOKEN,
                     (401, ErrorCode.AUTH, "the envelope carries no token"), id="no_token"),
        pytest.param(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, token="wrong"), {}, TOKEN,
                     (403, ErrorCode.AUTH, "the token is not valid"), id="wrong_token"),
        pytest.param(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, schema="OTHER"), {}, TOKEN,
                     (400, ErrorCode.ENVELOPE_SCHEMA, "envelope schema must be 'OVC_MIN_V01'"), id="schema"),
        pytest.param(ROUTE_TV_SECURE, "[1]", {}, TOKEN,
                     (400, ErrorCode.ENVELOPE_JSON, "envelope must be a JSON object, got list"), id="not_object"),
    ],
)  # fmt: skip
def test_each_refusal_is_answered_with_its_status_code_and_message(route, body, arrival, secret, expected) -> None:
    event, verdict = answer(route, body, secret=secret, **arrival)
    status, code, message = expected
    assert (verdict.status, verdict.codes, verdict.message) == (status, (code,), message)
    assert (event.parse_status, event.codes) == ("rejected", (str(code),))


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain;format=flowed;charset=latin-1",  # parameters without spaces
        "text/plain; charset=utf-8=x",  # the value is everything after the first '='
        "text/plain; charset=Xutf-8",
    ],
)
def test_a_charset_that_is_not_exactly_utf8_or_ascii_is_refused(content_type: str) -> None:
    _, verdict = answer(ROUTE_TV, ALERT_EXPORT, content_type=content_type)
    assert (verdict.status, verdict.codes) == (415, (ErrorCode.ENCODING,))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("Application/JSON", ALERT_EXPORT),
        ("application/json; charset=utf-8", ALERT_EXPORT),
        ("text/plain", "  \n[1]"),  # a JSON array is JSON whatever the content type says
    ],
)
def test_a_body_declared_or_shaped_as_json_must_be_an_envelope(content_type: str, body: str) -> None:
    _, verdict = answer(ROUTE_TV, body, content_type=content_type)
    assert verdict.status == 400 and verdict.codes[0] in (ErrorCode.ENVELOPE_JSON, ErrorCode.ENVELOPE_SCHEMA)


def test_a_plain_text_export_is_parsed_as_it_is() -> None:
    _, verdict = answer(ROUTE_TV, ALERT_EXPORT, content_type="text/plain")
    assert (verdict.status, verdict.codes) == (200, ())


def test_a_rejected_export_is_answered_with_the_parser_message() -> None:
    export = ALERT_EXPORT.replace("sym=GBPUSD", "sym=gbp usd")
    expected = parse_export(export, profile="MIN")
    assert not expected.ok and expected.message
    _, verdict = answer(ROUTE_TV, export)
    assert (verdict.status, verdict.codes, verdict.message) == (400, expected.codes, expected.message)


def test_the_event_carries_the_arrival_as_it_came() -> None:
    event, _ = answer(ROUTE_COLD_FULL, "o=1", client_addr="10.1.2.3")
    assert (event.route, event.client_addr, event.received_at, event.body_size) == (
        ROUTE_COLD_FULL, "10.1.2.3", RECEIVED, 3,
    )  # fmt: skip
    assert isinstance(event.event_id, uuid.UUID) and event.event_id.version == 4
    assert str(event.event_id) in event.raw_key


def test_the_configured_secret_is_removed_from_a_stored_envelope_wherever_it_appears() -> None:
    event, verdict = answer(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, note=f"copy of {TOKEN}"))
    assert verdict.status == 200
    assert TOKEN.encode() not in event.body and b'"note": "copy of ***"' in event.body


def test_a_token_pair_in_a_cut_body_is_redacted_whatever_the_secret() -> None:
    text = '{"token": "short", "export": "o=1'
    assert redact_credentials(text.encode(), text, secret=None) == b'{"token": "***", "export": "o=1'


@pytest.mark.parametrize(("secret", "redacted"), [("12345678", True), ("1234567", False)])
def test_a_secret_is_replaced_everywhere_from_eight_characters_on(secret: str, redacted: bool) -> None:
    body = f"o=1|note={secret}|c=2"
    expected = "o=1|note=***|c=2" if redacted else body
    assert redact_credentials(body.encode(), body, secret=secret) == expected.encode()


ESCAPED_TOKEN = TOKEN.replace("0", "\\u0030")  # the secret spelled with a JSON escape


@pytest.mark.parametrize(
    ("body", "redacted"),
    [
        pytest.param("{}", "{}", id="empty_object"),
        # One JSON object: its top-level token only, even without spaces after ':' and ','.
        pytest.param('{"export":"o=1","token":"abc","meta":{"token":"inner"}}',
                     '{"export":"o=1","token":"***","meta":{"token":"inner"}}', id="compact_object"),
        # Not one JSON object (trailing bytes, two objects): every token pair anywhere.
        pytest.param('{"token":"abc","meta":{"token":"inner"}}X',
                     '{"token":"***","meta":{"token":"***"}}X', id="trailing_byte"),
        pytest.param('{}\n{"token": "abc"}', '{}\n{"token": "***"}', id="two_objects"),
        # The secret spelled with escapes: the whole string goes; other escaped strings stay.
        pytest.param(f'{{"token": "abc", "note": "{ESCAPED_TOKEN}", "export": "a\\nb"}}',
                     '{"token": "***", "note": "***", "export": "a\\nb"}', id="escaped_secret"),
        pytest.param(f'"{ESCAPED_TOKEN}"', '"***"', id="escaped_secret_alone"),
    ],
)  # fmt: skip
def test_redaction_of_json_bodies(body: str, redacted: str) -> None:
    assert redact_credentials(body.encode(), body, secret=TOKEN) == redacted.encode()


def test_bytes_that_are_not_utf8_survive_redaction_unchanged() -> None:
    body = b'{"token": "abc", "x": "\xff"}'
    assert redact_credentials(body, None, secret=None) == b'{"token": "***", "x": "\xff"}'
