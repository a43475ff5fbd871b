"""The webhook landing table `ovc.raw_events`: set-based batch landing with dedupe, and reads.

Writers (the receiver's group commit, spool replay, `ovc replay alerts`, the FULL cold
path) hand `land_events` a batch of `LandingEvent`s; readers (the Dagster assets) select
the events of a block window with `select_events_for_window`.

Dedupe: an arrival whose body sha256 and verdict (codes) equal those of an event received
within the dedupe window (either side of its own time) is not stored again. From a live
route it is a resend: recorded in `ovc.raw_event_duplicates` and counted on the original
event (`duplicate_count`, `last_seen_at`). From a batch route (an alert-log replay or a
cold import) it is skipped, so re-running an import changes nothing. The verdict is part
of the key so that a body which failed authentication is never merged into the event of
the same body that passed it. Within one batch, the first arrival of a body stands for
the later ones within the window of it.

Race freedom: `land_events` first takes a transaction-scoped advisory lock per body hash,
in ascending key order, then lands the batch in one statement. Concurrent batches with a
common body (other threads, `ovc serve --workers 2`, a replay) wait for each other, and
as each statement of a READ COMMITTED transaction takes a fresh snapshot, the landing
statement sees what the batch it waited for committed. A unique index cannot express a
sliding time window, which is why the lock is used instead.

Exactly once: an arrival whose event id is already in `raw_events` or
`raw_event_duplicates` is reported as already landed and changes nothing, so a batch can
be landed again after a commit whose outcome was unknown.

On an autocommit connection the lock, the landing statement and the commit go to the
server in one pipeline: one round trip per batch, whatever its size.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

import psycopg

ROUTE_TV = "tv"
ROUTE_TV_SECURE = "tv_secure"
ROUTE_REPLAY = "replay_alerts"
ROUTE_COLD_FULL = "cold_full"
LIVE_ROUTES = (ROUTE_TV, ROUTE_TV_SECURE)
"""Routes whose repeated bodies are resends to count; repeats from the others are skipped."""

PARSE_OK = "ok"
PARSE_REJECTED = "rejected"
RAW_WRITTEN = "written"
RAW_PENDING = "pending"

DEFAULT_DEDUPE_WINDOW = timedelta(hours=24)

# Advisory locks in the two-int form: this fixed namespace plus 32 bits of the body hash.
# Two bodies sharing those bits only wait for each other; correctness does not depend on it.
BODY_LOCK_NAMESPACE = 0x4F564352  # "OVCR"

LOCK_BODIES_SQL = "SELECT pg_advisory_xact_lock(%s, body_key) FROM unnest(%s::int4[]) AS body_key"

# One statement: find what is landed already, decide every arrival, write, report. Codes
# travel as one comma-joined string per event: unnest cannot take a ragged text[][].
LAND_EVENTS_SQL = """
WITH arrival AS (
    SELECT event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
           raw_key, raw_status, parse_status, string_to_array(codes, ',') AS codes, contract, symbol,
           block_id, block_start, position
    FROM unnest(
        %(event_id)s::uuid[], %(received_at)s::timestamptz[], %(route)s::text[], %(client_addr)s::text[],
        %(body)s::bytea[], %(body_size)s::int4[], %(body_truncated)s::bool[], %(body_sha256)s::text[],
        %(raw_key)s::text[], %(raw_status)s::text[], %(parse_status)s::text[], %(codes)s::text[],
        %(contract)s::text[], %(symbol)s::text[], %(block_id)s::text[], %(block_start)s::timestamptz[]
    ) WITH ORDINALITY AS batch (
        event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
        raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start, position
    )
),
landed_before AS (
    SELECT arrival.event_id, coalesce(duplicate.original_event_id, event.event_id) AS landed_as
    FROM arrival
    LEFT JOIN ovc.raw_events AS event ON event.event_id = arrival.event_id
    LEFT JOIN ovc.raw_event_duplicates AS duplicate ON duplicate.event_id = arrival.event_id
    WHERE event.event_id IS NOT NULL OR duplicate.event_id IS NOT NULL
),
fresh AS (
    SELECT arrival.*,
           (SELECT event.event_id
            FROM ovc.raw_events AS event
            WHERE event.body_sha256 = arrival.body_sha256
              AND event.received_at BETWEEN arrival.received_at - %(window)s AND arrival.received_at + %(window)s
              AND event.codes = arrival.codes
            ORDER BY event.received_at, event.event_id
            LIMIT 1) AS landed_original
    FROM arrival
    WHERE NOT EXISTS (SELECT 1 FROM landed_before WHERE landed_before.event_id = arrival.event_id)
),
first_in_batch AS (
    SELECT fresh.*,
           first_value(event_id) OVER same_body AS first_id,
           first_value(received_at) OVER same_body AS first_at
    FROM fresh
    WINDOW same_body AS (
        PARTITION BY body_sha256, codes, landed_original IS NULL ORDER BY received_at, position
    )
),
decided AS (
    SELECT first_in_batch.*,
           CASE
               WHEN landed_original IS NOT NULL THEN landed_original
               WHEN received_at - first_at <= %(window)s THEN first_id
               ELSE event_id
           END AS landed_as
    FROM first_in_batch
),
resend AS (
    SELECT * FROM decided WHERE landed_as <> event_id AND route = ANY(%(live_routes)s::text[])
),
resend_total AS (
    SELECT landed_as, count(*)::int4 AS arrivals, max(received_at) AS last_seen_at FROM resend GROUP BY landed_as
),
inserted AS (
    INSERT INTO ovc.raw_events (
        event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
        raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start,
        duplicate_count, last_seen_at
    )
    SELECT decided.event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
           raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start,
           coalesce(resend_total.arrivals, 0), greatest(received_at, resend_total.last_seen_at)
    FROM decided
    LEFT JOIN resend_total ON resend_total.landed_as = decided.event_id
    WHERE decided.landed_as = decided.event_id
),
recorded AS (
    INSERT INTO ovc.raw_event_duplicates (event_id, original_event_id, received_at, route, client_addr)
    SELECT event_id, landed_as, received_at, route, client_addr FROM resend
),
counted AS (
    -- Only events landed before this statement: the new ones got their counts above.
    UPDATE ovc.raw_events AS event
    SET duplicate_count = event.duplicate_count + resend_total.arrivals,
        last_seen_at = greatest(event.last_seen_at, resend_total.last_seen_at)
    FROM resend_total
    WHERE event.event_id = resend_total.landed_as
)
SELECT event_id, landed_as, 'skipped' AS disposition FROM landed_before
UNION ALL
SELECT event_id, landed_as,
       CASE WHEN landed_as = event_id THEN 'landed'
            WHEN route = ANY(%(live_routes)s::text[]) THEN 'duplicate'
            ELSE 'skipped' END
FROM decided
"""

SELECT_WINDOW_SQL = """
SELECT event_id, received_at, route, body, duplicate_count
FROM ovc.raw_events
WHERE block_start >= %s AND block_start < %s AND route = ANY(%s::text[])
ORDER BY block_start, received_at, event_id
"""

SELECT_PENDING_AMONG_SQL = """
SELECT event_id FROM ovc.raw_events WHERE event_id = ANY(%s::uuid[]) AND raw_status = 'pending'
"""

SELECT_PENDING_RAW_SQL = """
SELECT event_id, raw_key, body
FROM ovc.raw_events
WHERE raw_status = 'pending' AND landed_at <= now() - %s
ORDER BY landed_at, event_id
LIMIT %s
"""

MARK_RAW_WRITTEN_SQL = """
UPDATE ovc.raw_events SET raw_status = 'written' WHERE event_id = ANY(%s::uuid[]) AND raw_status = 'pending'
"""


@dataclass(frozen=True, slots=True)
class LandingEvent:
    """One received body, ready to land: its identity, the bytes as stored, and the verdict.

    `body` is what the archive keeps: credentials redacted, cut at the size limit
    (`body_truncated`), while `body_size` is the size that arrived. `body_sha256` is the hex
    digest of `body`. `raw_written` says the raw object already exists (the event then lands
    with raw_status `written`).
    """

    event_id: uuid.UUID
    received_at: datetime
    route: str
    client_addr: str | None
    body: bytes
    body_size: int
    body_truncated: bool
    body_sha256: str
    raw_key: str
    parse_status: str
    codes: tuple[str, ...]
    contract: str | None
    symbol: str | None
    block_id: str | None
    block_start: datetime | None
    raw_written: bool = False


class Disposition(StrEnum):
    """What landing did with one arrival."""

    LANDED = "landed"
    """A new event in raw_events."""
    DUPLICATE = "duplicate"
    """A resend on a live route, counted on the original event."""
    SKIPPED = "skipped"
    """Nothing changed: already landed by its event id, or a batch-route repeat."""


@dataclass(frozen=True, slots=True)
class LandingOutcome:
    """The result for one arrival: `landed_as` is its own event id or the original's."""

    event_id: uuid.UUID
    landed_as: uuid.UUID
    disposition: Disposition

    @property
    def duplicate(self) -> bool:
        """Whether the body was already landed as another event (the answer's `duplicate` flag)."""
        return self.landed_as != self.event_id


class WindowEvent(NamedTuple):
    """A landed event as the Dagster assets read it."""

    event_id: uuid.UUID
    received_at: datetime
    route: str
    body: bytes
    duplicate_count: int


class PendingRaw(NamedTuple):
    """An event whose raw object has not been written yet, with the bytes to write."""

    event_id: uuid.UUID
    raw_key: str
    body: bytes


def land_events(
    conn: psycopg.Connection, events: Sequence[LandingEvent], dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW
) -> list[LandingOutcome]:
    """Land a batch and return one outcome per event, in order.

    The batch is committed when this returns, unless the caller has a transaction open on
    `conn`, which it then joins. See the module docstring for the dedupe, race-freedom and
    exactly-once rules.
    """
    if not events:
        return []
    with _batch_transaction(conn), conn.pipeline():
        conn.execute(LOCK_BODIES_SQL, _lock_parameters(events))
        cursor = conn.execute(LAND_EVENTS_SQL, _landing_parameters(events, dedupe_window))
    return _outcomes(events, cursor.fetchall())


async def land_events_async(
    conn: psycopg.AsyncConnection, events: Sequence[LandingEvent], dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW
) -> list[LandingOutcome]:
    """`land_events` on an asyncio connection (the receiver's event loop)."""
    if not events:
        return []
    async with _batch_transaction(conn), conn.pipeline():
        await conn.execute(LOCK_BODIES_SQL, _lock_parameters(events))
        cursor = await conn.execute(LAND_EVENTS_SQL, _landing_parameters(events, dedupe_window))
    return _outcomes(events, await cursor.fetchall())


def _batch_transaction(conn: psycopg.Connection | psycopg.AsyncConnection):
    # In autocommit mode the pipeline is the transaction: the server runs what comes before
    # its sync as one implicit transaction and commits it, sparing two round trips.
    return contextlib.nullcontext() if conn.autocommit else conn.transaction()


def _lock_parameters(events: Sequence[LandingEvent]) -> tuple[int, list[int]]:
    # 32 bits of each hash as a signed int4, sorted so that two batches never deadlock.
    return BODY_LOCK_NAMESPACE, sorted({int(event.body_sha256[:8], 16) - 2**31 for event in events})


def _landing_parameters(events: Sequence[LandingEvent], dedupe_window: timedelta) -> dict[str, object]:
    return {
        "event_id": [e.event_id for e in events],
        "received_at": [e.received_at for e in events],
        "route": [e.route for e in events],
        "client_addr": [e.client_addr for e in events],
        "body": [e.body for e in events],
        "body_size": [e.body_size for e in events],
        "body_truncated": [e.body_truncated for e in events],
        "body_sha256": [e.body_sha256 for e in events],
        "raw_key": [e.raw_key for e in events],
        "raw_status": [RAW_WRITTEN if e.raw_written else RAW_PENDING for e in events],
        "parse_status": [e.parse_status for e in events],
        "codes": [",".join(e.codes) for e in events],
        "contract": [e.contract for e in events],
        "symbol": [e.symbol for e in events],
        "block_id": [e.block_id for e in events],
        "block_start": [e.block_start for e in events],
        "window": dedupe_window,
        "live_routes": list(LIVE_ROUTES),
    }


def _outcomes(events: Sequence[LandingEvent], rows: Iterable[tuple]) -> list[LandingOutcome]:
    by_id = {event_id: LandingOutcome(event_id, landed_as, Disposition(kind)) for event_id, landed_as, kind in rows}
    return [by_id[event.event_id] for event in events]


def select_events_for_window(
    conn: psycopg.Connection, range_start: datetime, range_end: datetime, routes: Iterable[str]
) -> list[WindowEvent]:
    """The events of `routes` whose `block_start` is in [range_start, range_end), in time order.

    Rejected events are included (their verdict is re-derived from `body` by the caller), so
    a partition can count rejects as well as blocks.
    """
    rows = conn.execute(SELECT_WINDOW_SQL, (range_start, range_end, list(routes)))
    return [WindowEvent(*row) for row in rows]


def select_pending_among(conn: psycopg.Connection, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `event_ids` are landed with their raw object still pending."""
    if not event_ids:
        return set()
    return {row[0] for row in conn.execute(SELECT_PENDING_AMONG_SQL, (list(event_ids),))}


def select_pending_raw(conn: psycopg.Connection, min_age: timedelta, limit: int) -> list[PendingRaw]:
    """Up to `limit` events landed at least `min_age` ago whose raw object is pending, oldest first."""
    return [PendingRaw(*row) for row in conn.execute(SELECT_PENDING_RAW_SQL, (min_age, limit))]


def mark_raw_written(conn: psycopg.Connection, event_ids: Sequence[uuid.UUID]) -> None:
    """Record that the raw objects of `event_ids` are written (in the caller's transaction)."""
    if event_ids:
        conn.execute(MARK_RAW_WRITTEN_SQL, (list(event_ids),))
