"""storage/raw_events.py on a real database: batch landing, dedupe rules, reads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.storage.postgres import connect
from ovc_assets.storage.raw_events import (
    ROUTE_COLD_FULL,
    ROUTE_REPLAY,
    ROUTE_TV,
    ROUTE_TV_SECURE,
    Disposition,
    LandingEvent,
    land_events,
    select_events_for_window,
)
from ovc_assets_tests.receiver.receiver_payloads import (
    ALERT_EXPORT,
    FULL_EXPORT,
    TOKEN,
    envelope,
    unique_export,
)

T0 = datetime(2026, 1, 14, 10, 0, 3, tzinfo=UTC)


def arrival(body: bytes | str, *, route: str = ROUTE_TV, at: datetime = T0) -> LandingEvent:
    data = body.encode() if isinstance(body, str) else body
    return admit(Arrival(route, data, len(data), at, "127.0.0.1"), secret=TOKEN)[0]


@pytest.fixture
def conn(database_url: str):
    with connect(database_url, autocommit=True) as connection:
        yield connection


def counts(conn: psycopg.Connection) -> tuple[int, int, int]:
    events, resends = conn.execute(
        "SELECT (SELECT count(*) FROM ovc.raw_events), (SELECT count(*) FROM ovc.raw_event_duplicates)"
    ).fetchone()
    total = conn.execute("SELECT coalesce(sum(duplicate_count), 0) FROM ovc.raw_events").fetchone()[0]
    return events, resends, total


def test_a_batch_lands_new_events_and_counts_resends_within_it(conn: psycopg.Connection) -> None:
    repeated = [arrival(ALERT_EXPORT, at=T0 + timedelta(seconds=n)) for n in range(3)]
    batch = [repeated[1], arrival(unique_export(1)), repeated[0], repeated[2]]
    outcomes = land_events(conn, batch)
    assert [o.disposition for o in outcomes] == [
        Disposition.DUPLICATE, Disposition.LANDED, Disposition.LANDED, Disposition.DUPLICATE,
    ]
    assert outcomes[0].landed_as == outcomes[3].landed_as == repeated[0].event_id  # the earliest stands
    assert counts(conn) == (2, 2, 2)
    last_seen = conn.execute(
        "SELECT last_seen_at FROM ovc.raw_events WHERE event_id = %s", (repeated[0].event_id,)
    ).fetchone()[0]
    assert last_seen == T0 + timedelta(seconds=2)


def test_a_resend_in_a_later_batch_is_counted_on_the_original(conn: psycopg.Connection) -> None:
    original = arrival(ALERT_EXPORT)
    land_events(conn, [original])
    [outcome] = land_events(conn, [arrival(ALERT_EXPORT, at=T0 + timedelta(seconds=5))])
    assert (outcome.disposition, outcome.landed_as, outcome.duplicate) == (Disposition.DUPLICATE, original.event_id, True)
    assert counts(conn) == (1, 1, 1)


def test_the_window_works_both_ways_and_ends(conn: psycopg.Connection) -> None:
    land_events(conn, [arrival(ALERT_EXPORT)])
    window = timedelta(hours=24)
    earlier = land_events(conn, [arrival(ALERT_EXPORT, at=T0 - timedelta(hours=23))], window)
    later = land_events(conn, [arrival(ALERT_EXPORT, at=T0 + window + timedelta(seconds=1))], window)
    assert earlier[0].disposition is Disposition.DUPLICATE
    assert later[0].disposition is Disposition.LANDED


def test_the_same_body_with_another_verdict_is_another_event(conn: psycopg.Connection) -> None:
    accepted = arrival(envelope(ALERT_EXPORT), route=ROUTE_TV_SECURE)
    refused = arrival(envelope(ALERT_EXPORT, token="wrong-token-value"), route=ROUTE_TV_SECURE)
    assert accepted.body == refused.body  # the token is redacted in both
    outcomes = land_events(conn, [accepted, refused])
    assert [o.disposition for o in outcomes] == [Disposition.LANDED, Disposition.LANDED]


def test_batch_routes_skip_what_is_landed_without_counting(conn: psycopg.Connection) -> None:
    webhook = arrival(ALERT_EXPORT)
    land_events(conn, [webhook])
    replayed = [arrival(ALERT_EXPORT, route=ROUTE_REPLAY, at=T0 - timedelta(seconds=3)) for _ in range(2)]
    outcomes = land_events(conn, replayed)
    assert [(o.disposition, o.landed_as) for o in outcomes] == [(Disposition.SKIPPED, webhook.event_id)] * 2
    cold = [arrival(FULL_EXPORT, route=ROUTE_COLD_FULL) for _ in range(2)]
    assert [o.disposition for o in land_events(conn, cold)] == [Disposition.LANDED, Disposition.SKIPPED]
    assert counts(conn) == (2, 0, 0)


def test_landing_a_batch_again_changes_nothing(conn: psycopg.Connection) -> None:
    batch = [arrival(ALERT_EXPORT), arrival(ALERT_EXPORT), arrival(unique_export(2))]
    first = land_events(conn, batch)
    before = counts(conn)
    again = land_events(conn, batch)
    assert [o.disposition for o in again] == [Disposition.SKIPPED] * 3
    assert [o.landed_as for o in again] == [o.landed_as for o in first]
    assert counts(conn) == before == (2, 1, 1)


def test_bodies_and_metadata_are_stored_as_given(conn: psycopg.Connection) -> None:
    nasty = "x'); DROP TABLE ovc.raw_events; --\\\x01 ü"
    event = arrival(nasty.encode() + b"\xff\x00")
    land_events(conn, [event])
    row = conn.execute(
        "SELECT body, body_sha256, codes, parse_status, raw_status, raw_key FROM ovc.raw_events"
    ).fetchone()
    assert row == (event.body, event.body_sha256, list(event.codes), "rejected", "pending", event.raw_key)


def test_concurrent_batches_with_a_common_body_make_one_event(database_url: str) -> None:
    batches = [[arrival(ALERT_EXPORT), arrival(unique_export(100 + n))] for n in range(8)]
    barrier = threading.Barrier(len(batches))

    def land(batch: list[LandingEvent]) -> None:
        with connect(database_url, autocommit=True) as own:
            barrier.wait()
            land_events(own, batch)

    threads = [threading.Thread(target=land, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with connect(database_url) as conn:
        assert counts(conn) == (9, 7, 7)


def test_a_batch_joins_a_transaction_the_caller_has_open(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("SELECT 1")  # opens the caller's transaction
        land_events(conn, [arrival(ALERT_EXPORT)])
        conn.rollback()
        assert counts(conn) == (0, 0, 0)


def test_select_events_for_window_by_block_and_route(conn: psycopg.Connection) -> None:
    in_block = arrival(ALERT_EXPORT)  # block 20260114 08:00Z
    rejected = arrival("no identity", at=datetime(2026, 1, 14, 10, 0, 1, tzinfo=UTC))  # the block that closed: 08:00Z
    later = arrival("no identity either", at=datetime(2026, 1, 14, 12, 0, 1, tzinfo=UTC))  # 10:00Z
    cold = arrival(FULL_EXPORT, route=ROUTE_COLD_FULL)
    land_events(conn, [in_block, rejected, later, cold, arrival(ALERT_EXPORT)])
    start, end = datetime(2026, 1, 14, 8, tzinfo=UTC), datetime(2026, 1, 14, 10, tzinfo=UTC)
    rows = select_events_for_window(conn, start, end, [ROUTE_TV, ROUTE_TV_SECURE])
    assert [row.event_id for row in rows] == [rejected.event_id, in_block.event_id]  # by block, then arrival
    assert rows[1].body == ALERT_EXPORT.encode() and rows[1].duplicate_count == 1 and rows[1].route == ROUTE_TV
    assert [row.event_id for row in select_events_for_window(conn, start, end, [ROUTE_COLD_FULL])] == [cold.event_id]
