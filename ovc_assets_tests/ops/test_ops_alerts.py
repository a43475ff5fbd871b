"""Operator alerts end to end: run reports in a real database, the sensor, and a webhook on
127.0.0.1; at most one message per run, retries with backoff, a silent TradingView."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import httpx
import psycopg
import pytest

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.defs.alerts.sensors import AlertSettings, build_alerts_sensor
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.ops.alerts import (
    KIND_TRADINGVIEW_SILENT,
    AlertPolicy,
    deliver_due,
    find_alerts,
    record_alerts,
    silent_tradingview_alert,
)
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.store import store_report
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.ops.webhook_sink import WebhookSink

# Tuesday 2026-01-13 11:30 New York: the market is open.
TUESDAY_MORNING = datetime(2026, 1, 13, 16, 30, tzinfo=UTC)
SATURDAY = datetime(2026, 1, 17, 16, 30, tzinfo=UTC)
ALERT_ROWS_SQL = "SELECT alert_key, kind, status, attempts, last_error FROM ovc.alert_messages ORDER BY alert_key"
LAND_EVENT_SQL = """
INSERT INTO ovc.raw_events (event_id, received_at, route, body, body_size, body_sha256, parse_status, last_seen_at, landed_at)
VALUES (%(id)s, %(at)s, %(route)s, 'x', 1, repeat('a', 64), 'ok', %(at)s, %(at)s)
"""


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as server:
        yield server


def store(conn: psycopg.Connection, run_id: str, *, received: int, parse_fail: int, insert_failed: int = 0) -> RunReport:
    parse_ok = received - parse_fail
    report = RunReport(
        run_id=run_id, run_type="LIVE_INGEST", input_range="2026-01-13-I", started_at_ms=int(datetime.now(UTC).timestamp() * 1000),
        received_events=received, parse_ok=parse_ok, parse_fail=parse_fail, fail_by_code={"E_SEM_DIR": parse_fail} if parse_fail else {},
        insert_attempted=parse_ok, insert_success=parse_ok - insert_failed, insert_failed=insert_failed, blocks_missing=0,
        sanity_error_count=0,
    ).finalized()  # fmt: skip
    store_report(conn, report)
    return report


def tick(database_url: str, settings: AlertSettings) -> str:
    sensor = build_alerts_sensor()
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"ovc_database": PostgresResource(database_url=database_url), "alerts": settings}
        )
        result = sensor.evaluate_tick(context)
    assert not result.run_requests
    return result.skip_message


def test_fail_and_high_parse_fail_rate_post_one_message_each_and_never_again(database_url, conn, sink) -> None:
    failed = store(conn, "run-fail", received=4, parse_fail=0, insert_failed=2)
    noisy = store(conn, "run-noisy", received=10, parse_fail=3)
    store(conn, "run-quiet", received=100, parse_fail=1)  # WARN at 1 %: under the threshold
    store(conn, "run-pass", received=5, parse_fail=0)
    assert (failed.run_status, noisy.run_status) == ("FAIL", "WARN")
    settings = AlertSettings(webhook_url=sink.url, parse_fail_rate_threshold=0.05, silent_windows=0)

    assert tick(database_url, settings).startswith("2 alert(s) queued, 2 sent")
    assert tick(database_url, settings).startswith("0 alert(s) queued, 0 sent")

    texts = [message["text"] for message in sink.messages]
    assert len(texts) == 2 and sink.attempts == 2
    assert texts[0].startswith("OVC FAIL: LIVE_INGEST run-fail (2026-01-13-I)") and "insert_failed = 2" in texts[0]
    assert texts[1].startswith("OVC WARN: LIVE_INGEST run-noisy") and "3/10 payloads rejected (30%)" in texts[1]
    assert all(set(message) == {"text"} and len(message["text"]) <= 400 for message in sink.messages)
    rows = conn.execute(ALERT_ROWS_SQL).fetchall()
    assert rows == [
        ("run:run-fail", "RUN_FAIL", "sent", 1, None),
        ("run:run-noisy", "RUN_PARSE_FAIL_RATE", "sent", 1, None),
    ]


def test_a_failing_webhook_is_retried_with_backoff_and_given_up_after_max_attempts(conn, sink) -> None:
    store(conn, "run-fail", received=1, parse_fail=0, insert_failed=1)
    policy = AlertPolicy(silent_windows=0, retry_base_seconds=10, max_attempts=3)
    now = datetime.now(UTC)
    record_alerts(conn, find_alerts(conn, policy, now, FxCalendar()), now)
    sink.script(500, 503, 500, 500)
    with httpx.Client() as client:
        assert deliver_due(conn, sink.url, policy, now, client).failed == ("run:run-fail",)
        assert deliver_due(conn, sink.url, policy, now + timedelta(seconds=9), client).failed == ()  # backing off
        assert deliver_due(conn, sink.url, policy, now + timedelta(seconds=10), client).failed == ("run:run-fail",)
        # the second wait doubles: 20 s after the second attempt
        assert deliver_due(conn, sink.url, policy, now + timedelta(seconds=29), client).failed == ()
        assert conn.execute(ALERT_ROWS_SQL).fetchone()[2:] == ("pending", 2, "HTTP 503")
        assert deliver_due(conn, sink.url, policy, now + timedelta(seconds=30), client).failed == ("run:run-fail",)
        assert conn.execute(ALERT_ROWS_SQL).fetchone()[2:] == ("gave_up", 3, "HTTP 500")
        assert deliver_due(conn, sink.url, policy, now + timedelta(hours=2), client).failed == ()
    assert sink.attempts == 3 and sink.messages == []


def test_a_retry_that_succeeds_sends_the_message_once(conn, sink) -> None:
    store(conn, "run-fail", received=1, parse_fail=0, insert_failed=1)
    policy = AlertPolicy(silent_windows=0, retry_base_seconds=1)
    now = datetime.now(UTC)
    record_alerts(conn, find_alerts(conn, policy, now, FxCalendar()), now)
    record_alerts(conn, find_alerts(conn, policy, now, FxCalendar()), now)  # found again: nothing new
    sink.script(500)
    with httpx.Client() as client:
        deliver_due(conn, sink.url, policy, now, client)
        assert deliver_due(conn, sink.url, policy, now + timedelta(seconds=1), client).sent == ("run:run-fail",)
        assert deliver_due(conn, sink.url, policy, now + timedelta(hours=1), client).sent == ()
    assert len(sink.messages) == 1 and sink.attempts == 2


def test_an_unreachable_webhook_never_fails_the_sensor(database_url, conn) -> None:
    store(conn, "run-fail", received=1, parse_fail=0, insert_failed=1)
    with WebhookSink() as gone:
        url = gone.url  # nothing listens there once it is closed
    settings = AlertSettings(webhook_url=url, silent_windows=0, timeout_seconds=2)

    assert tick(database_url, settings).startswith("1 alert(s) queued, 0 sent, 1 failed")
    assert conn.execute(ALERT_ROWS_SQL).fetchone()[2:4] == ("pending", 1)


def test_without_a_webhook_url_nothing_is_recorded(database_url, conn, monkeypatch) -> None:
    monkeypatch.delenv("OVC_ALERT_WEBHOOK_URL", raising=False)
    store(conn, "run-fail", received=1, parse_fail=0, insert_failed=1)

    assert "OVC_ALERT_WEBHOOK_URL is not set" in tick(database_url, AlertSettings())
    assert conn.execute(ALERT_ROWS_SQL).fetchall() == []


def test_the_webhook_url_comes_from_the_environment_when_the_sensor_runs(database_url, conn, sink, monkeypatch) -> None:
    store(conn, "run-fail", received=1, parse_fail=0, insert_failed=1)
    monkeypatch.setenv("OVC_ALERT_WEBHOOK_URL", sink.url)

    assert tick(database_url, AlertSettings(silent_windows=0)).startswith("1 alert(s) queued, 1 sent")
    assert len(sink.messages) == 1


def land(conn: psycopg.Connection, at: datetime, route: str = "tv") -> None:
    conn.execute(LAND_EVENT_SQL, {"id": uuid.uuid4(), "at": at, "route": route})


def test_silent_tradingview_alerts_once_per_spell_during_market_hours(conn) -> None:
    policy = AlertPolicy(silent_windows=3)
    calendar = FxCalendar()
    # Tuesday 11:30 New York is in block J; the last three closed windows are G, H and I.
    first_silent = Block(date(2026, 1, 12), "G").start_utc
    land(conn, first_silent - timedelta(minutes=1))
    land(conn, TUESDAY_MORNING - timedelta(minutes=5), route="replay_alerts")  # a replayed log is not TradingView

    (alert,) = find_alerts(conn, policy, TUESDAY_MORNING, calendar)
    assert alert.kind == KIND_TRADINGVIEW_SILENT
    assert "last 3 market windows" in alert.text and "since block 2026-01-12-G" in alert.text
    assert record_alerts(conn, [alert], TUESDAY_MORNING) == [alert.alert_key]
    two_hours_later = find_alerts(conn, policy, TUESDAY_MORNING + timedelta(hours=2), calendar)
    assert [a.alert_key for a in two_hours_later] == [alert.alert_key], "the same spell keeps its key"
    assert record_alerts(conn, two_hours_later, TUESDAY_MORNING + timedelta(hours=2)) == []

    land(conn, first_silent + timedelta(minutes=1))  # an alert in the first of the three windows
    assert find_alerts(conn, policy, TUESDAY_MORNING, calendar) == []


def test_silence_counts_market_windows_only() -> None:
    calendar = FxCalendar()
    friday_close = Block(date(2026, 1, 15), "L").end_utc  # Friday 17:00 New York
    assert silent_tradingview_alert(None, SATURDAY, 3, calendar) is None, "the weekend is closed"
    # Sunday 21:30 New York: A and B of the new week closed; with three windows, Friday's L counts too.
    sunday_evening = Block(date(2026, 1, 18), "C").start_utc + timedelta(minutes=30)
    assert silent_tradingview_alert(friday_close - timedelta(hours=1), sunday_evening, 3, calendar) is None
    assert silent_tradingview_alert(friday_close - timedelta(hours=3), sunday_evening, 3, calendar) is not None
