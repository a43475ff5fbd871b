"""The receiver's HTTP surface in-process: every body lands, good or bad, and gets its answer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ovc_assets.calendar import block_at
from ovc_assets.receiver.config import TRADINGVIEW_ADDRESSES, parse_networks
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.receiver.receiver_harness import fetch_events, post, run
from ovc_assets_tests.receiver.receiver_payloads import (
    ALERT_BLOCK_ID,
    ALERT_EXPORT,
    FULL_EXPORT,
    TOKEN,
    envelope,
    unique_export,
)

RAW_KEY = re.compile(r"tv/\d{4}-\d{2}-\d{2}/[A-Za-z0-9_][A-Za-z0-9._-]*_[0-9a-f-]{36}\.txt")


def only_event(database_url: str) -> dict:
    [event] = fetch_events(database_url)
    return event


def test_a_min_export_is_durable_before_its_200(make_app, database_url: str, raw_root: Path) -> None:
    response = run(make_app(), post("/tv", ALERT_EXPORT, headers={"Content-Type": "text/plain"}))
    assert response.status_code == 200
    answer = response.json()
    assert answer == {"ok": True, "event_id": answer["event_id"], "block_id": ALERT_BLOCK_ID, "duplicate": False}
    event = only_event(database_url)
    assert str(event["event_id"]) == answer["event_id"]
    assert (event["route"], event["parse_status"], event["codes"], event["contract"]) == ("tv", "ok", [], "MIN_V0_1")
    assert (event["symbol"], event["block_id"]) == ("GBPUSD", ALERT_BLOCK_ID)
    assert event["block_start"] == datetime(2026, 1, 14, 8, tzinfo=UTC)
    assert event["body"] == ALERT_EXPORT.encode() and event["body_size"] == len(ALERT_EXPORT)
    assert event["body_sha256"] == hashlib.sha256(ALERT_EXPORT.encode()).hexdigest()
    assert event["client_addr"] == "127.0.0.1" and not event["body_truncated"]
    # The app's shutdown writes what is queued: the raw object is there, byte for byte.
    assert event["raw_status"] == "written"
    assert RAW_KEY.fullmatch(event["raw_key"]) and ALERT_BLOCK_ID in event["raw_key"]
    assert (raw_root / event["raw_key"]).read_bytes() == ALERT_EXPORT.encode()
    assert not list((raw_root / ".spool").iterdir())


def test_an_envelope_is_taken_on_the_plain_route_too(make_app, database_url: str) -> None:
    response = run(make_app(), post("/tv", envelope(ALERT_EXPORT, token=None), headers={"Content-Type": "application/json"}))
    assert response.status_code == 200 and response.json()["block_id"] == ALERT_BLOCK_ID


def test_the_secure_route_stores_the_envelope_with_its_token_redacted(
    make_app, database_url: str, raw_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ovc_assets")
    body = envelope(ALERT_EXPORT, source="tv", sent_ms=1768377600000)
    response = run(make_app(), post("/tv_secure", body, headers={"Content-Type": "application/json"}))
    assert response.status_code == 200 and response.json()["ok"]
    event = only_event(database_url)
    stored = json.loads(event["body"])
    assert stored == {"schema": "OVC_MIN_V01", "token": "***", "export": ALERT_EXPORT, "source": "tv", "sent_ms": 1768377600000}
    assert event["body_sha256"] == hashlib.sha256(event["body"]).hexdigest()
    assert (raw_root / event["raw_key"]).read_bytes() == event["body"]
    assert TOKEN not in caplog.text and TOKEN.encode() not in event["body"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "code"),
    [
        ("/tv", b"", {}, 400, "E_EMPTY_BODY"),
        ("/tv", b"  \r\n ", {}, 400, "E_EMPTY_BODY"),
        ("/tv", b'["not", "an object"]', {"Content-Type": "application/json"}, 400, "E_ENVELOPE_JSON"),
        ("/tv", b'"just a string"', {"Content-Type": "application/json"}, 400, "E_ENVELOPE_JSON"),
        ("/tv", b'{"schema": "OVC_MIN_V01", "token": "x"}', {}, 400, "E_ENVELOPE_SCHEMA"),
        ("/tv", b"sym=GBPUSD|\xc3\x28|o=1", {}, 400, "E_ENCODING"),
        ("/tv", ALERT_EXPORT.encode().replace(b"note=", b"note=\x00\x00"), {}, 400, "E_ENCODING"),
        ("/tv", b"hello world", {}, 400, "E_BAD_KV"),
        ("/tv", ALERT_EXPORT.encode(), {"Content-Type": "text/plain; charset=latin-1"}, 415, "E_ENCODING"),
        ("/tv", FULL_EXPORT.encode(), {}, 400, "E_PROFILE"),
        ("/tv_secure", envelope(FULL_EXPORT), {}, 400, "E_PROFILE"),
        ("/tv_secure", envelope(ALERT_EXPORT, schema="OVC_FULL"), {}, 400, "E_ENVELOPE_SCHEMA"),
        ("/tv_secure", envelope(ALERT_EXPORT, token=None), {}, 401, "E_AUTH"),
        ("/tv_secure", envelope(ALERT_EXPORT, token="guess"), {}, 403, "E_AUTH"),
        ("/tv_secure", envelope(ALERT_EXPORT, token="t" * 5000), {}, 403, "E_AUTH"),
        ("/tv_secure", ALERT_EXPORT.encode(), {}, 400, "E_ENVELOPE_JSON"),
        ("/tv_secure", b"[]", {}, 400, "E_ENVELOPE_JSON"),
    ],
)
def test_bad_input_gets_its_code_and_is_stored(
    make_app, database_url: str, raw_root: Path, path: str, body: bytes, headers: dict, status: int, code: str
) -> None:
    response = run(make_app(), post(path, body, headers=headers))
    assert response.status_code == status
    answer = response.json()
    assert answer["ok"] is False and code in answer["codes"] and answer["message"]
    event = only_event(database_url)
    assert str(event["event_id"]) == answer["event_id"]
    assert (event["parse_status"], code in event["codes"], event["body_size"]) == ("rejected", True, len(body))
    assert TOKEN.encode() not in event["body"]
    assert (raw_root / event["raw_key"]).read_bytes() == event["body"]
    if b"token" not in body:
        assert event["body"] == body  # every byte as sent


def test_a_token_in_the_query_string_is_refused_and_never_logged(
    make_app, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ovc_assets")

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post(f"/tv_secure?token={TOKEN}", content=envelope(ALERT_EXPORT)),
            await client.post(f"/tv?t={TOKEN}", content=ALERT_EXPORT),
        ]

    for response in run(make_app(), scenario):
        assert (response.status_code, response.json()["codes"]) == (400, ["E_AUTH"])
    assert TOKEN not in caplog.text
    assert all(TOKEN.encode() not in event["body"] for event in fetch_events(database_url))


def test_the_secure_route_without_a_configured_token_answers_503(make_app, database_url: str) -> None:
    response = run(make_app(token=None), post("/tv_secure", envelope(ALERT_EXPORT)))
    assert (response.status_code, response.json()["codes"]) == (503, ["E_CONFIG"])
    assert only_event(database_url)["codes"] == ["E_CONFIG"]


def test_a_body_over_64_kib_is_413_and_stored_cut_with_its_true_size(make_app, database_url: str, raw_root: Path) -> None:
    body = b"a=" + b"x" * (64 * 1024 - 1)
    assert len(body) == 64 * 1024 + 1
    response = run(make_app(), post("/tv", body))
    assert (response.status_code, response.json()["codes"]) == (413, ["E_BODY_TOO_LARGE"])
    event = only_event(database_url)
    assert (len(event["body"]), event["body_size"], event["body_truncated"]) == (64 * 1024, 64 * 1024 + 1, True)
    assert (raw_root / event["raw_key"]).read_bytes() == body[: 64 * 1024]


def test_a_chunked_body_over_the_limit_is_counted_not_kept(make_app, database_url: str) -> None:
    async def chunks():
        for _ in range(20):
            yield b"z" * 10_000

    response = run(make_app(), post("/tv", chunks()))
    assert response.status_code == 413
    event = only_event(database_url)
    assert (len(event["body"]), event["body_size"]) == (64 * 1024, 200_000)


def test_a_hostile_block_id_keeps_the_raw_key_inside_its_prefix(make_app, database_url: str, raw_root: Path) -> None:
    hostile = ALERT_EXPORT.replace(ALERT_BLOCK_ID, "../../etc/passwd").replace("sym=GBPUSD", "sym=../../etc/passwd")

    hostile_bid = ALERT_EXPORT.replace(f"bid={ALERT_BLOCK_ID}", "bid=../../etc/passwd")

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        return [(await client.post("/tv", content=body)).status_code for body in (hostile, hostile_bid)]

    assert run(make_app(), scenario) == [400, 400]
    for event in fetch_events(database_url):
        assert "E_IDENTITY_FORMAT" in event["codes"]
        assert RAW_KEY.fullmatch(event["raw_key"]) and ".." not in event["raw_key"]
        assert (raw_root / event["raw_key"]).resolve().is_relative_to(raw_root.resolve())
    assert not (raw_root.parent / "etc").exists()


def test_sql_metacharacters_in_every_field_are_stored_verbatim(make_app, database_url: str) -> None:
    evil = "x'); DROP TABLE ovc.raw_events; --"
    hostile = "|".join(f"{pair.split('=', 1)[0]}={evil}" for pair in ALERT_EXPORT.split("|"))
    quoted = ALERT_EXPORT.replace("|note=|", f"|note={evil} \"quoted\" \\ back;|")

    async def scenario(client: httpx.AsyncClient) -> list[int]:
        return [
            (await client.post("/tv", content=hostile)).status_code,
            (await client.post("/tv", content=quoted)).status_code,
            (await client.post("/tv_secure", content=envelope(ALERT_EXPORT, token=evil, source=evil))).status_code,
        ]

    assert run(make_app(), scenario) == [400, 200, 403]
    events = fetch_events(database_url)
    assert {event["body"] for event in events[:2]} == {hostile.encode(), quoted.encode()}
    assert json.loads(events[2]["body"])["source"] == evil
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.raw_events").fetchone()[0] == 3


def test_a_resend_is_one_event_answered_as_a_duplicate(make_app, database_url: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[dict]:
        return [(await client.post("/tv", content=ALERT_EXPORT)).json() for _ in range(3)]

    first, second, third = run(make_app(), scenario)
    assert first["duplicate"] is False and second["duplicate"] is True and third["duplicate"] is True
    assert first["event_id"] == second["event_id"] == third["event_id"]
    event = only_event(database_url)
    assert event["duplicate_count"] == 2 and event["last_seen_at"] > event["received_at"]


def test_a_thousand_concurrent_identical_bodies_make_one_event(make_app, database_url: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return await asyncio.gather(*(client.post("/tv", content=ALERT_EXPORT) for _ in range(1000)))

    responses = run(make_app(), scenario)
    answers = [response.json() for response in responses]
    assert {response.status_code for response in responses} == {200}
    assert sum(not answer["duplicate"] for answer in answers) == 1
    assert len({answer["event_id"] for answer in answers}) == 1
    assert only_event(database_url)["duplicate_count"] == 999
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.raw_event_duplicates").fetchone()[0] == 999


def test_a_refused_copy_of_an_accepted_body_is_not_merged_into_it(make_app, database_url: str) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[int]:
        return [
            (await client.post("/tv_secure", content=envelope(ALERT_EXPORT))).status_code,
            (await client.post("/tv_secure", content=envelope(ALERT_EXPORT, token="stolen-guess"))).status_code,
        ]

    assert run(make_app(), scenario) == [200, 403]
    assert [(e["parse_status"], e["duplicate_count"]) for e in fetch_events(database_url)] == [("ok", 0), ("rejected", 0)]


def test_the_block_start_of_a_body_without_identity_is_the_block_that_just_closed(make_app, database_url: str) -> None:
    before = datetime.now(UTC)
    run(make_app(), post("/tv", "not an export"))
    event = only_event(database_url)
    assert event["block_id"] is None
    assert event["block_start"] in {block_at(before).previous().start_utc, block_at(datetime.now(UTC)).previous().start_utc}


def test_unknown_paths_and_methods_are_json_404_and_405(make_app) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/nope"), await client.get("/tv"), await client.delete("/tv_secure"), await client.post("/")]

    not_found, *not_allowed = run(make_app(), scenario)
    assert not_found.status_code == 404 and not_found.json()["ok"] is False
    assert [r.status_code for r in not_allowed] == [405, 405, 405]
    assert not_allowed[0].headers["allow"] and not_allowed[0].json()["ok"] is False


def test_health_reports_the_database_and_the_raw_store(make_app) -> None:
    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get("/"), await client.get("/healthz")]

    for response in run(make_app(), scenario):
        assert response.status_code == 200
        assert response.json() | {"landing": None} == {
            "ok": True, "database": "ok", "raw_store": "ok", "quarantined_events": 0, "landing": None
        }
    unhealthy = run(make_app(dsn="postgresql://nobody@127.0.0.1:1/none"), lambda client: client.get("/healthz"))
    assert unhealthy.status_code == 503
    assert unhealthy.json()["database"].startswith("unavailable") and unhealthy.json()["raw_store"] == "ok"


def test_the_allow_list_refuses_strangers_without_storing_them(make_app, database_url: str) -> None:
    tradingview = TRADINGVIEW_ADDRESSES[2]
    app = make_app(
        allowed_networks=parse_networks("tradingview", "OVC_ALLOWED_IPS"),
        trusted_proxies=parse_networks("127.0.0.1", "OVC_TRUSTED_PROXIES"),
    )

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [
            await client.post("/tv", content=ALERT_EXPORT),
            await client.post("/tv", content=unique_export(1), headers={"X-Forwarded-For": f"198.51.100.1, {tradingview}"}),
            await client.post("/tv", content=unique_export(2), headers={"X-Forwarded-For": "198.51.100.1"}),
        ]

    direct, proxied, stranger = run(app, scenario)
    assert (direct.status_code, direct.json()["codes"]) == (403, ["E_AUTH"])
    assert proxied.status_code == 200 and stranger.status_code == 403
    assert [event["client_addr"] for event in fetch_events(database_url)] == [tradingview]


def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(make_app, database_url: str) -> None:
    allowed = parse_networks("tradingview", "OVC_ALLOWED_IPS")
    headers = {"X-Forwarded-For": TRADINGVIEW_ADDRESSES[0]}
    spoofed = run(make_app(allowed_networks=allowed), post("/tv", ALERT_EXPORT, headers=headers), client_host="203.0.113.5")
    assert spoofed.status_code == 403
    direct = run(make_app(allowed_networks=allowed), post("/tv", ALERT_EXPORT), client_host=TRADINGVIEW_ADDRESSES[0])
    assert direct.status_code == 200
    assert [event["client_addr"] for event in fetch_events(database_url)] == [TRADINGVIEW_ADDRESSES[0]]


def test_one_log_line_per_request_with_its_outcome(make_app, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ovc_assets.receiver.requests")

    async def scenario(client: httpx.AsyncClient) -> list[dict]:
        return [
            (await client.post("/tv", content=ALERT_EXPORT)).json(),
            (await client.post("/tv_secure", content=envelope(ALERT_EXPORT, token="wrong"))).json(),
            (await client.get("/missing")).json(),
            (await client.post(f"/tv_secure/{TOKEN}", content=ALERT_EXPORT)).json(),
        ]

    accepted, refused, _, _ = run(make_app(), scenario)
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name.endswith("requests")]
    assert [(line["route"], line["status"]) for line in lines] == [
        ("tv", 200), ("tv_secure", 403), ("-", 404), ("-", 404)
    ]
    assert lines[0]["event_id"] == accepted["event_id"] and lines[0]["codes"] == [] and lines[0]["latency_ms"] >= 0
    assert lines[1]["event_id"] == refused["event_id"] and lines[1]["codes"] == ["E_AUTH"]
    assert "wrong" not in caplog.text
    assert TOKEN not in caplog.text  # the token a sender put in the path (issue 10, finding 6)
