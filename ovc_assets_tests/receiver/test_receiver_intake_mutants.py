"""Intake rules that mutation testing (`make mutants`) showed no test pinned: vendor `+json`
media types and a quoted charset are accepted, and a wrong envelope schema is exactly 400."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ovc_assets.errors import ErrorCode
from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.storage.raw_events import ROUTE_TV, ROUTE_TV_SECURE
from ovc_assets_tests.receiver.receiver_payloads import ALERT_BLOCK_ID, ALERT_EXPORT, TOKEN, envelope

RECEIVED = datetime(2026, 1, 14, 10, 0, 7, tzinfo=UTC)


def judge(route: str, body: str | bytes, content_type: str):
    data = body.encode() if isinstance(body, str) else body
    return admit(Arrival(route, data, len(data), RECEIVED, content_type=content_type), secret=TOKEN)[1]


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.tradingview+json", 'text/plain; charset="utf-8"', "text/plain; charset=UTF-8"],
)
def test_accepted_media_types_and_charsets(content_type: str) -> None:
    body = envelope(ALERT_EXPORT) if "json" in content_type else ALERT_EXPORT
    verdict = judge(ROUTE_TV, body, content_type)
    assert (verdict.status, verdict.codes, verdict.block_id) == (200, (), ALERT_BLOCK_ID)


@pytest.mark.parametrize("content_type", ["image/png", 'text/plain; charset="latin-1"'])
def test_other_media_types_and_charsets_are_415(content_type: str) -> None:
    verdict = judge(ROUTE_TV, ALERT_EXPORT, content_type)
    assert (verdict.status, verdict.codes) == (415, (ErrorCode.ENCODING,))


def test_a_wrong_envelope_schema_is_exactly_400() -> None:
    verdict = judge(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, schema="OTHER"), "application/json")
    assert (verdict.status, verdict.codes) == (400, (ErrorCode.ENVELOPE_SCHEMA,))
