"""Judging, redacting and addressing one body, without I/O (intake, config)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ovc_assets.calendar import block_at
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver.config import (
    TRADINGVIEW_ADDRESSES,
    client_address,
    is_allowed,
    load_receiver_config,
    parse_networks,
)
from ovc_assets.receiver.intake import (
    MAX_BODY_BYTES,
    Arrival,
    admit,
    redact_credentials,
    token_matches,
)
from ovc_assets.settings import Settings
from ovc_assets.storage.raw_events import (
    ROUTE_COLD_FULL,
    ROUTE_REPLAY,
    ROUTE_TV,
    ROUTE_TV_SECURE,
)
from ovc_assets.storage.raw_store import FileRawStore
from ovc_assets_tests.receiver.receiver_payloads import (
    ALERT_BLOCK_ID,
    ALERT_EXPORT,
    FULL_EXPORT,
    TOKEN,
    envelope,
)

RECEIVED = datetime(2026, 1, 14, 10, 0, 7, tzinfo=UTC)


def judge(route: str, body: bytes | str, **arrival: object):
    data = body.encode() if isinstance(body, str) else body
    return admit(Arrival(route, data, len(data), RECEIVED, **arrival), secret=TOKEN)


def test_a_min_export_is_ok_with_its_block_identity() -> None:
    event, verdict = judge(ROUTE_TV, ALERT_EXPORT)
    assert (verdict.status, verdict.codes, verdict.block_id) == (200, (), ALERT_BLOCK_ID)
    assert (event.parse_status, event.contract, event.symbol, event.block_id) == ("ok", "MIN_V0_1", "GBPUSD", ALERT_BLOCK_ID)
    assert event.block_start == datetime(2026, 1, 14, 8, tzinfo=UTC)
    assert event.body == ALERT_EXPORT.encode()
    assert event.body_sha256 == hashlib.sha256(ALERT_EXPORT.encode()).hexdigest()
    assert event.raw_key == f"tv/2026-01-14/{ALERT_BLOCK_ID}_{event.event_id}.txt"


def test_each_route_takes_its_own_profile() -> None:
    assert judge(ROUTE_TV, FULL_EXPORT)[1].codes == (ErrorCode.PROFILE,)
    assert judge(ROUTE_TV_SECURE, envelope(FULL_EXPORT))[1].codes == (ErrorCode.PROFILE,)
    assert judge(ROUTE_REPLAY, FULL_EXPORT)[1].codes == (ErrorCode.PROFILE,)
    assert judge(ROUTE_COLD_FULL, FULL_EXPORT)[1].ok
    assert judge(ROUTE_COLD_FULL, ALERT_EXPORT)[1].codes == (ErrorCode.PROFILE,)


def test_a_rejected_payload_with_a_usable_identity_keeps_its_block() -> None:
    event, verdict = judge(ROUTE_TV, ALERT_EXPORT.replace("|h=1.34518|", "|h=1.0|"))
    assert verdict.codes == (ErrorCode.SEM_OHLC,)
    assert (event.block_id, event.symbol) == (ALERT_BLOCK_ID, "GBPUSD")
    assert event.block_start == datetime(2026, 1, 14, 8, tzinfo=UTC)


def test_without_an_identity_the_block_that_just_closed_is_used() -> None:
    event, verdict = judge(ROUTE_TV, "hello")
    assert verdict.codes
    assert event.block_id is None and event.symbol is None
    assert event.block_start == block_at(RECEIVED).previous().start_utc == datetime(2026, 1, 14, 8, tzinfo=UTC)
    assert event.raw_key.startswith("tv/2026-01-14/20260114T100007.000Z_")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, ErrorCode.EMPTY_BODY),
        (b" \n\t ", 400, ErrorCode.EMPTY_BODY),
        (b"\xff\xfeversion", 400, ErrorCode.ENCODING),
        (ALERT_EXPORT.replace("|note=|", "|note=a\x00b|").encode(), 400, ErrorCode.ENCODING),
        (b"[1, 2]", 400, ErrorCode.ENVELOPE_JSON),
        (b'{"schema": "OVC_MIN_V01"', 400, ErrorCode.ENVELOPE_JSON),
        (b'{"schema": "OVC_MIN_V01"}', 400, ErrorCode.ENVELOPE_SCHEMA),
        (b"x" * (MAX_BODY_BYTES + 1), 413, ErrorCode.BODY_TOO_LARGE),
    ],
)
def test_bad_bodies_get_their_code(body: bytes, status: int, code: ErrorCode) -> None:
    event, verdict = judge(ROUTE_TV, body)
    assert (verdict.status, verdict.codes) == (status, (code,))
    assert event.parse_status == "rejected" and event.codes == (str(code),)


def test_an_oversized_body_is_kept_cut_at_the_limit_with_its_true_size() -> None:
    body = b"y" * 70_000
    event, _ = admit(Arrival(ROUTE_TV, body[: MAX_BODY_BYTES + 1], len(body), RECEIVED), secret=None)
    assert (len(event.body), event.body_size, event.body_truncated) == (MAX_BODY_BYTES, 70_000, True)
    assert event.body_sha256 == hashlib.sha256(body[:MAX_BODY_BYTES]).hexdigest()


def test_a_body_of_exactly_the_limit_is_judged_normally() -> None:
    _, verdict = judge(ROUTE_TV, b"k=v|" * (MAX_BODY_BYTES // 4))
    assert verdict.status == 400 and ErrorCode.BODY_TOO_LARGE not in verdict.codes


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("text/plain; charset=utf-8", 200),
        ("application/json", 200),
        ("text/plain; charset=iso-8859-1", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data; boundary=x", 415),
    ],
)
def test_content_types(content_type: str, status: int) -> None:
    body = envelope(ALERT_EXPORT) if content_type == "application/json" else ALERT_EXPORT
    assert judge(ROUTE_TV, body, content_type=content_type)[1].status == status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (envelope(ALERT_EXPORT, token=None), 401),
        (envelope(ALERT_EXPORT, token=""), 401),
        (envelope(ALERT_EXPORT, token=7), 401),
        (envelope(ALERT_EXPORT, token="not-the-token"), 403),
        (envelope(ALERT_EXPORT, token=TOKEN + "x" * 10_000), 403),
        (envelope(ALERT_EXPORT, token=TOKEN[:-1]), 403),
    ],
)
def test_the_secure_route_refuses_a_missing_or_wrong_token(body: bytes, status: int) -> None:
    event, verdict = judge(ROUTE_TV_SECURE, body)
    assert (verdict.status, verdict.codes) == (status, (ErrorCode.AUTH,))
    assert b"not-the-token" not in event.body and TOKEN.encode() not in event.body


def test_the_secure_route_checks_the_schema_after_the_token() -> None:
    assert judge(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, schema="OTHER"))[1].codes == (ErrorCode.ENVELOPE_SCHEMA,)
    assert judge(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, schema=None))[1].codes == (ErrorCode.ENVELOPE_SCHEMA,)
    assert judge(ROUTE_TV_SECURE, envelope(ALERT_EXPORT, token="bad", schema="OTHER"))[1].codes == (ErrorCode.AUTH,)
    assert judge(ROUTE_TV_SECURE, ALERT_EXPORT)[1].codes == (ErrorCode.ENVELOPE_JSON,)


def test_without_a_configured_token_the_secure_route_is_unavailable() -> None:
    data = envelope(ALERT_EXPORT)
    event, verdict = admit(Arrival(ROUTE_TV_SECURE, data, len(data), RECEIVED), secret=None)
    assert (verdict.status, verdict.codes) == (503, (ErrorCode.CONFIG,))
    assert json.loads(event.body)["token"] == "***"


def test_a_token_in_the_query_string_is_refused() -> None:
    _, verdict = judge(ROUTE_TV, ALERT_EXPORT, token_in_query=True)
    assert (verdict.status, verdict.codes) == (400, (ErrorCode.AUTH,))


def test_equal_alerts_with_the_token_redacted_hash_alike() -> None:
    first, _ = judge(ROUTE_TV_SECURE, envelope(ALERT_EXPORT))
    second, _ = judge(ROUTE_TV_SECURE, envelope(ALERT_EXPORT))
    assert first.body == second.body and first.body_sha256 == second.body_sha256
    assert json.loads(first.body) == {"schema": "OVC_MIN_V01", "token": "***", "export": ALERT_EXPORT}


def test_redaction_keeps_every_other_byte_as_sent() -> None:
    text = '{ "export" : "a=1" ,\n  "token":"s3cret-s3cret", "sent_ms": 1 , "token" : 42 }'
    redacted = redact_credentials(text.encode(), text, secret=None)
    assert redacted.decode() == '{ "export" : "a=1" ,\n  "token":"***", "sent_ms": 1 , "token" : "***" }'


def test_redaction_finds_an_escaped_key_and_leaves_nested_and_quoted_text_alone() -> None:
    text = '{"\\u0074oken": "abc", "export": "note \\"token\\": x", "meta": {"token": "inner"}}'
    redacted = json.loads(redact_credentials(text.encode(), text, secret=None))
    assert redacted == {"token": "***", "export": 'note "token": x', "meta": {"token": "inner"}}


def test_the_configured_secret_is_removed_even_from_a_body_that_is_not_json() -> None:
    text = '{"token": "' + TOKEN + '", "export": '
    redacted = redact_credentials(text.encode(), text, secret=TOKEN)
    assert TOKEN.encode() not in redacted and b"***" in redacted
    assert redact_credentials(b"\xff" + TOKEN.encode(), None, secret=TOKEN) == b"\xff***"


def test_token_comparison() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(TOKEN + " ", TOKEN)
    assert not token_matches("", TOKEN)


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    proxies = parse_networks("10.0.0.0/8, 127.0.0.1", "OVC_TRUSTED_PROXIES")
    tv = TRADINGVIEW_ADDRESSES[0]
    assert client_address("127.0.0.1", f"{tv}", proxies) == tv
    assert client_address("127.0.0.1", f"1.2.3.4, {tv}, 10.1.1.1", proxies) == tv  # the first hop no proxy vouches for
    assert client_address("127.0.0.1", "garbage", proxies) == "127.0.0.1"
    assert client_address("203.0.113.9", tv, proxies) == "203.0.113.9"  # an untrusted peer cannot choose its address
    assert client_address("127.0.0.1", tv, ()) == "127.0.0.1"


def test_the_allow_list_and_its_tradingview_preset() -> None:
    allowed = parse_networks("tradingview, 192.0.2.0/24", "OVC_ALLOWED_IPS")
    assert all(is_allowed(address, allowed) for address in TRADINGVIEW_ADDRESSES)
    assert is_allowed("192.0.2.77", allowed) and is_allowed(f"::ffff:{TRADINGVIEW_ADDRESSES[1]}", allowed)
    assert not is_allowed("127.0.0.1", allowed) and not is_allowed(None, allowed) and not is_allowed("x", allowed)
    assert is_allowed("127.0.0.1", None)


def test_a_bad_network_is_a_configuration_error() -> None:
    with pytest.raises(OvcError) as raised:
        parse_networks("tradingview, 300.1.1.1", "OVC_ALLOWED_IPS")
    assert raised.value.code is ErrorCode.CONFIG and "300.1.1.1" in raised.value.message


def test_the_receiver_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, database_url=None, raw_store_url=(tmp_path / "raw").as_uri(), s3_endpoint_url=None)
    store = FileRawStore(tmp_path / "raw")
    monkeypatch.setenv("OVC_TOKEN", TOKEN)
    monkeypatch.setenv("OVC_ALLOWED_IPS", "tradingview")
    monkeypatch.setenv("OVC_TRUSTED_PROXIES", "10.0.0.1")
    monkeypatch.setenv("OVC_DEDUPE_WINDOW_HOURS", "1.5")
    config = load_receiver_config(settings, store)
    assert (config.token, len(config.allowed_networks), len(config.trusted_proxies)) == (TOKEN, 4, 1)
    assert config.dedupe_window == timedelta(minutes=90) and config.spool_dir == tmp_path / "raw" / ".spool"
    assert TOKEN not in repr(config)
    for name, value in (("OVC_ALLOWED_IPS", ","), ("OVC_DEDUPE_WINDOW_HOURS", "soon")):
        monkeypatch.setenv(name, value)
        with pytest.raises(OvcError) as raised:
            load_receiver_config(settings, store)
        assert raised.value.code is ErrorCode.CONFIG and name in raised.value.message
        monkeypatch.delenv(name)
