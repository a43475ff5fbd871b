"""Hostile input (issue 10): one event's bad data never stops the events behind it, every body
is stored and answered whatever its shape, the token is never stored, and the allow-list
holds behind a proxy."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ovc_assets.cli.app import app as cli
from ovc_assets.receiver.config import parse_networks
from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.receiver.spool import Spool
from ovc_assets.storage.postgres import connect
from ovc_assets.storage.raw_events import ROUTE_TV, count_quarantined
from ovc_assets.storage.raw_store import FileRawStore
from ovc_assets_tests.receiver.receiver_harness import eventually, fetch_events, post, run
from ovc_assets_tests.receiver.receiver_payloads import ALERT_EXPORT, TOKEN, envelope, unique_export

POISON_ADDRESS = "203.0.113.66"
"""A sender whose events a test constraint makes the database refuse (an IntegrityError of its own)."""

LAND_FUNCTION = "ovc.land_raw_events(jsonb, bytea[], interval, text[])"


def execute(database_url: str, statement: str) -> None:
    with connect(database_url, autocommit=True) as conn:
        conn.execute(statement)


def refuse_the_poison_sender(database_url: str) -> None:
    execute(
        database_url,
        f"ALTER TABLE ovc.raw_events ADD CONSTRAINT test_poison CHECK (client_addr IS DISTINCT FROM '{POISON_ADDRESS}')",
    )


def quarantined_rows(database_url: str) -> list[tuple]:
    with connect(database_url) as conn:
        return conn.execute("SELECT event_id, sqlstate, raw_key, body FROM ovc.raw_event_quarantine").fetchall()


def test_a_declared_size_over_2_gib_is_stored_and_the_alerts_after_it_land(make_app, database_url: str) -> None:
    app = make_app()

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, list[httpx.Response], int]:
        huge = await client.post("/tv", content=b"x" * (2 * 1024 * 1024), headers={"content-length": "5000000000"})
        after = [await client.post("/tv", content=unique_export(n)) for n in range(3)]
        landed_while_serving = len(await asyncio.to_thread(fetch_events, database_url))
        return huge, after, landed_while_serving

    huge, after, landed_while_serving = run(app, scenario)
    assert huge.status_code == 413 and huge.json()["codes"] == ["E_BODY_TOO_LARGE"]
    assert [response.status_code for response in after] == [200, 200, 200]
    assert landed_while_serving == 4  # in the database at once, not only in the spool
    sizes = {event["body_size"] for event in fetch_events(database_url)}
    assert 5_000_000_000 in sizes


def test_an_event_the_database_refuses_is_quarantined_and_its_batch_lands(
    make_app, database_url: str, raw_root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refuse_the_poison_sender(database_url)
    app = make_app(trusted_proxies=parse_networks("127.0.0.1", "OVC_TRUSTED_PROXIES"))
    service = app.state.landing
    caplog.set_level(logging.WARNING, logger="ovc_assets.receiver")

    async def scenario(client: httpx.AsyncClient) -> tuple[list[httpx.Response], httpx.Response, httpx.Response, int]:
        # Sent together, so that the poison shares its batch with good events.
        sends = [client.post("/tv", content=unique_export(n)) for n in range(20)]
        sends.insert(10, client.post("/tv", content=unique_export(99), headers={"x-forwarded-for": POISON_ADDRESS}))
        answers = list(await asyncio.gather(*sends))
        landed_while_serving = len(await asyncio.to_thread(fetch_events, database_url))
        later = await client.post("/tv", content=unique_export(100))
        await eventually(lambda: service.status()["raw_objects_queued"] == 0, message="the raw objects")
        return answers, later, await client.get("/healthz"), landed_while_serving

    answers, later, health, landed_while_serving = run(app, scenario)
    poison = answers.pop(10)
    assert poison.status_code == 200 and poison.json()["quarantined"] is True
    assert all(answer.status_code == 200 and "quarantined" not in answer.json() for answer in answers)
    assert later.status_code == 200
    assert landed_while_serving == 20
    [(event_id, sqlstate, raw_key, body)] = quarantined_rows(database_url)
    assert str(event_id) == poison.json()["event_id"] and sqlstate == "23514"
    assert body == unique_export(99).encode()
    assert (raw_root / raw_key).read_bytes() == body  # the archive has it like any other event
    landed = {str(event["event_id"]) for event in fetch_events(database_url)}
    assert landed == {answer.json()["event_id"] for answer in answers} | {later.json()["event_id"]}
    assert health.status_code == 200
    assert health.json()["ok"] is True and health.json()["quarantined_events"] == 1
    assert health.json()["landing"]["database_down"] is False
    assert health.json()["landing"]["quarantined_by_this_worker"] == 1
    assert "quarantined" in caplog.text
    assert not list((raw_root / ".spool").glob("*.seg"))
    block_start = datetime(2026, 1, 14, 8, tzinfo=UTC)  # the alert's block, 20260113-F
    with connect(database_url) as conn:  # what a materialisation of its window counts
        assert count_quarantined(conn, block_start, block_start + timedelta(hours=2)) == 1
        assert count_quarantined(conn, block_start + timedelta(hours=2), block_start + timedelta(hours=4)) == 0


def test_health_is_not_ok_while_landing_fails_and_the_retries_warn(
    make_app, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    service = app.state.landing
    caplog.set_level(logging.WARNING, logger="ovc_assets.receiver")

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        # The database answers, but landing in it fails for every event: a deployment fault.
        await asyncio.to_thread(execute, database_url, f"ALTER FUNCTION {LAND_FUNCTION} RENAME TO land_raw_events_gone")
        try:
            accepted = await client.post("/tv", content=unique_export(1))
            failing = await client.get("/healthz")
            await eventually(lambda: "retrying" in caplog.text, message="a warning about the retries")
        finally:
            await asyncio.to_thread(
                execute, database_url, "ALTER FUNCTION ovc.land_raw_events_gone(jsonb, bytea[], interval, text[]) "
                "RENAME TO land_raw_events"
            )
        # The re-landing clears the failure once its whole backlog is in.
        await eventually(lambda: not service.status()["database_down"], message="the spooled event to land")
        assert len(await asyncio.to_thread(fetch_events, database_url)) == 1
        return accepted, failing, await client.get("/healthz")

    accepted, failing, recovered = run(app, scenario)
    assert accepted.status_code == 200  # durable in the spool and the raw store
    assert failing.status_code == 503 and failing.json()["ok"] is False
    assert failing.json()["database"] == "ok" and failing.json()["landing"]["database_down"] is True
    assert "land_raw_events" in failing.json()["landing"]["last_database_error"]
    assert recovered.status_code == 200 and recovered.json()["ok"] is True
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert retries and {r.levelno for r in retries} == {logging.WARNING}


def spool_events(spool_dir: Path, events: list) -> None:
    """Leave `events` in a segment, as a receiver killed before landing them would."""
    spool = Spool(spool_dir)
    spool.append(events)
    spool.close()


def arrival_event(body: str | bytes, client: str = "127.0.0.1", body_size: int | None = None):
    data = body.encode() if isinstance(body, str) else body
    arrival = Arrival(ROUTE_TV, data[:65537], body_size or len(data), datetime.now(UTC), client_addr=client)
    return admit(arrival, secret=None)[0]


def test_replay_spool_lands_the_good_events_and_quarantines_the_refused_one(
    ovc_env: dict[str, str], database_url: str
) -> None:
    raw_root = Path(ovc_env["OVC_HOME"]) / "raw"
    refuse_the_poison_sender(database_url)
    events = [
        arrival_event(unique_export(1)),
        arrival_event(unique_export(2), client=POISON_ADDRESS),
        arrival_event(b"y" * 70_000, body_size=5_000_000_000),  # the size that broke int4
        arrival_event(unique_export(3)),
    ]
    spool_events(raw_root / ".spool", events)
    result = CliRunner().invoke(cli, ["replay", "spool"])
    assert result.exit_code == 0, result.output
    assert "1 segment(s) replayed: 3 landed, 0 duplicate(s), 0 already landed, 1 quarantined" in result.output
    landed = {event["event_id"]: event for event in fetch_events(database_url)}
    assert set(landed) == {events[0].event_id, events[2].event_id, events[3].event_id}
    assert landed[events[2].event_id]["body_size"] == 5_000_000_000
    assert [row[0] for row in quarantined_rows(database_url)] == [events[1].event_id]
    store = FileRawStore(raw_root)
    assert all(store.get(event.raw_key) == event.body for event in events)
    assert not list((raw_root / ".spool").glob("*.seg"))


def test_replay_spool_with_the_database_failing_is_a_coded_error_and_keeps_the_segment(
    ovc_env: dict[str, str], database_url: str
) -> None:
    raw_root = Path(ovc_env["OVC_HOME"]) / "raw"
    spool_events(raw_root / ".spool", [arrival_event(unique_export(1))])
    execute(database_url, f"ALTER FUNCTION {LAND_FUNCTION} RENAME TO land_raw_events_gone")
    result = CliRunner().invoke(cli, ["replay", "spool"], standalone_mode=False)
    assert getattr(result.exception, "code", None) == "E_DB_UNREACHABLE", result.output
    assert "replay stopped, the database failed" in result.exception.message
    assert len(list((raw_root / ".spool").glob("*.seg"))) == 1


NESTED = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("route", ["/tv", "/tv_secure"])
def test_a_deeply_nested_body_is_stored_and_answered_400(make_app, database_url: str, route: str) -> None:
    body = '{"token": "%s", "x": %s}' % (TOKEN, NESTED)
    answer = run(make_app(), post(route, body, headers={"content-type": "application/json"}))
    assert answer.status_code == 400 and answer.json()["codes"] == ["E_ENVELOPE_JSON"]
    [event] = fetch_events(database_url)
    assert bytes(event["body"]) == body.replace(TOKEN, "***").encode()


def test_replay_alerts_lands_a_deeply_nested_row_with_the_others(ovc_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    from ovc_assets_tests.receiver.test_receiver_batch import write_alert_log

    log = write_alert_log(
        tmp_path / "alerts.csv", [(ALERT_EXPORT, "2026-01-14T09:24:00Z"), ('{"x": %s}' % NESTED, "2026-01-14T09:25:00Z")]
    )
    result = CliRunner().invoke(cli, ["replay", "alerts", str(log)])
    assert result.exit_code == 0, result.output
    assert "2 payload(s), 2 landed" in result.output
    assert len(fetch_events(database_url)) == 2


SHORT_TOKEN = "s3cr"


@pytest.mark.parametrize(
    "body",
    [
        b"\xef\xbb\xbf" + envelope(ALERT_EXPORT, token=SHORT_TOKEN),  # a BOM
        envelope(ALERT_EXPORT, token=SHORT_TOKEN) + b" trailing",  # bytes after the object
        envelope(ALERT_EXPORT, token=SHORT_TOKEN).replace(b'"export"', b'"\xff": 1, "export"'),  # invalid UTF-8
        envelope(ALERT_EXPORT, token=SHORT_TOKEN)[:-1],  # unterminated
        b'{"t\\u006fken": "\\u0073\\u0033cr", "export": ',  # escapes in a malformed envelope
        ('{"token": "%s", "x": %s}' % (SHORT_TOKEN, NESTED)).encode(),  # nested beyond the decoder
        envelope("x" * 70_000, token=SHORT_TOKEN),  # over the limit: stored cut
    ],
    ids=["bom", "trailing", "invalid-utf8", "unterminated", "escaped", "nested", "oversized"],
)
def test_the_token_is_never_stored_whatever_the_body(make_app, database_url: str, raw_root: Path, body: bytes) -> None:
    app = make_app(token=SHORT_TOKEN)
    answer = run(app, post("/tv_secure", body, headers={"content-type": "application/json"}))
    assert 400 <= answer.status_code < 500
    [event] = fetch_events(database_url)
    stored = [bytes(event["body"]), (raw_root / event["raw_key"]).read_bytes()]
    for copy in stored:
        assert b"***" in copy
        assert SHORT_TOKEN.encode() not in copy and b"\\u0073\\u0033cr" not in copy


def test_an_escaped_long_secret_anywhere_in_the_body_is_redacted(make_app, database_url: str) -> None:
    escaped = "".join(f"\\u{ord(character):04x}" for character in TOKEN)
    body = '{"schema": "OVC_MIN_V01", "export": "%s", "note": "%s"' % (ALERT_EXPORT, escaped)
    run(make_app(), post("/tv_secure", body))
    [event] = fetch_events(database_url)
    assert escaped.encode() not in bytes(event["body"])


def test_the_right_most_untrusted_forwarded_address_across_all_header_lines_is_the_sender(
    make_app, database_url: str
) -> None:
    allowed = "198.51.100.7"
    app = make_app(trusted_proxies=parse_networks("127.0.0.1", "OVC_TRUSTED_PROXIES"), allowed_networks=parse_networks(allowed, "OVC_ALLOWED_IPS"))

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        # A sender writes the allowed address; the proxy appends the real one on a line of its own.
        spoofed = [("x-forwarded-for", allowed), ("x-forwarded-for", "192.0.2.10")]
        genuine = [("x-forwarded-for", "192.0.2.10"), ("x-forwarded-for", allowed)]
        return [
            await client.post("/tv", content=unique_export(1), headers=httpx.Headers(spoofed)),
            await client.post("/tv", content=unique_export(2), headers=httpx.Headers(genuine)),
        ]

    spoofed, genuine = run(app, scenario)
    assert spoofed.status_code == 403 and spoofed.json()["codes"] == ["E_AUTH"]
    assert genuine.status_code == 200
    assert [event["client_addr"] for event in fetch_events(database_url)] == [allowed]


def test_the_nested_body_of_these_tests_is_beyond_the_json_decoder() -> None:
    # The nested body above really is beyond Python's JSON decoder, or the tests prove nothing.
    with pytest.raises(RecursionError):
        json.loads('{"x": %s}' % NESTED)
