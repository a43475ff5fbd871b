"""The webhook landing table `ovc.raw_events`: set-based batch landing with dedupe, and reads.

Writers (the receiver's group commit, spool replay, `ovc replay alerts`, the FULL cold
path) hand `land_events` a batch of `LandingEvent`s; readers (the Dagster assets) select
the events of a block window with `select_events_for_window`. Landing is one call of the
database function `ovc.land_raw_events` (sql/003_raw_events_landing.sql): one round trip
per batch, whatever its size.

Dedupe: an arrival whose body sha256 and verdict (codes) equal those of an event received
within the dedupe window (either side of its own time) is not stored again. From a live
route it is a resend: recorded in `ovc.raw_event_duplicates` and counted on the original
event (`duplicate_count`, `last_seen_at`). From a batch route (an alert-log replay or a
cold import) it is skipped, so re-running an import changes nothing. The verdict is part
of the key so that a body which failed authentication is never merged into the event of
the same body that passed it. Within one batch, the first arrival of a body stands for
the later ones within the window of it.

Race freedom: the function first takes a transaction-scoped advisory lock per body hash,
in ascending key order, then lands the batch in one set-based statement. Concurrent
batches with a common body (other connections, `ovc serve --workers 2`, a replay) wait for
each other, and as that statement takes its own snapshot after the lock (READ COMMITTED),
it sees what the batch it waited for committed. A unique index cannot express a sliding
time window, which is why the lock is used instead.

Exactly once: an arrival whose event id is already in `raw_events` or
`raw_event_duplicates` is reported as already landed and changes nothing, so a batch can
be landed again after a commit whose outcome was unknown."""

from __future__ import annotations

import json
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

# The rules live in the database function (sql/003_raw_events_landing.sql), so that the
# lock and the set-based landing statement after it are one call: one round trip per batch.
LAND_EVENTS_SQL = "SELECT event_id, landed_as, disposition FROM ovc.land_raw_events(%s::jsonb, %s::bytea[], %s, %s)"

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

QUARANTINE_EVENT_SQL = """
INSERT INTO ovc.raw_event_quarantine (event_id, received_at, route, block_start, raw_key, metadata, body, sqlstate, error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (event_id) DO NOTHING
"""

COUNT_QUARANTINED_SQL = """
SELECT count(*) FROM ovc.raw_event_quarantine
WHERE block_start >= coalesce(%(from)s, '-infinity'::timestamptz) AND block_start < coalesce(%(to)s, 'infinity'::timestamptz)
  AND (%(routes)s::text[] IS NULL OR route = ANY(%(routes)s::text[]))
"""

EVENT_ERROR_SQLSTATE_CLASSES = frozenset({"22", "23", "54"})
"""SQLSTATE classes of an error that belongs to the data landed (data exception, integrity
constraint, a program limit such as an index row too large), not to the database."""

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
    QUARANTINED = "quarantined"
    """Refused by the database for its own data (`ovc.raw_event_quarantine` holds it)."""


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

    On an autocommit connection the batch is a transaction of its own, committed when this
    returns; otherwise it is part of the caller's transaction. See the module docstring for
    the dedupe, race-freedom and exactly-once rules.
    """
    if not events:
        return []
    rows = conn.execute(LAND_EVENTS_SQL, _landing_parameters(events, dedupe_window), binary=True).fetchall()
    return _outcomes(events, rows)


async def land_events_async(
    conn: psycopg.AsyncConnection, events: Sequence[LandingEvent], dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW
) -> list[LandingOutcome]:
    """`land_events` on an asyncio connection (the receiver's event loop)."""
    if not events:
        return []
    cursor = await conn.execute(LAND_EVENTS_SQL, _landing_parameters(events, dedupe_window), binary=True)
    return _outcomes(events, await cursor.fetchall())


def probe_landing(conn: psycopg.Connection) -> None:
    """Call the landing function with an empty batch: raises whatever a real batch would meet
    (the database unreachable, the function missing, no permission)."""
    conn.execute(LAND_EVENTS_SQL, ("[]", [], DEFAULT_DEDUPE_WINDOW, list(LIVE_ROUTES)))


def is_event_error(error: psycopg.Error) -> bool:
    """Whether a failed landing is the fault of the data landed (see
    `EVENT_ERROR_SQLSTATE_CLASSES`) rather than of the database or its connection."""
    return (error.sqlstate or "")[:2] in EVENT_ERROR_SQLSTATE_CLASSES


def land_events_isolating(
    conn: psycopg.Connection, events: Sequence[LandingEvent], dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW
) -> list[LandingOutcome]:
    """`land_events` on an autocommit connection, where an event the database refuses for its
    own data (`is_event_error`) is set aside in `ovc.raw_event_quarantine` (outcome
    `QUARANTINED`) and the rest of its batch lands. The batch is halved until the refused
    events stand alone, each half a transaction of its own. Any other `psycopg.Error` (the
    database unreachable, a missing migration) is raised: the whole batch is to be retried.
    """
    try:
        return land_events(conn, events, dedupe_window)
    except psycopg.Error as error:
        if not is_event_error(error):
            raise
        if len(events) == 1:
            quarantine_event(conn, events[0], error)
            return [LandingOutcome(events[0].event_id, events[0].event_id, Disposition.QUARANTINED)]
        middle = len(events) // 2
        return land_events_isolating(conn, events[:middle], dedupe_window) + land_events_isolating(
            conn, events[middle:], dedupe_window
        )


def quarantine_event(conn: psycopg.Connection, event: LandingEvent, error: psycopg.Error) -> None:
    """Set `event` aside with the database's reason; a second time changes nothing."""
    metadata = json.dumps(event_fields(event), separators=(",", ":")).encode()
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:500].replace("\x00", "")
    conn.execute(
        QUARANTINE_EVENT_SQL,
        (event.event_id, event.received_at, event.route, event.block_start, event.raw_key, metadata, event.body,
         error.sqlstate or "", reason),
    )


def count_quarantined(
    conn: psycopg.Connection,
    block_from: datetime | None = None,
    block_to: datetime | None = None,
    routes: Sequence[str] | None = None,
) -> int:
    """How many events are quarantined: all, or those whose block starts in [from, to),
    of any route or of `routes`."""
    params = {"from": block_from, "to": block_to, "routes": None if routes is None else list(routes)}
    return conn.execute(COUNT_QUARANTINED_SQL, params).fetchone()[0]


def _landing_parameters(events: Sequence[LandingEvent], dedupe_window: timedelta) -> tuple[object, ...]:
    # One JSON array for the metadata and one bytea[] for the bodies: far cheaper to send
    # than a parameter per column.
    rows = [event_fields(e) | {"raw_status": RAW_WRITTEN if e.raw_written else RAW_PENDING} for e in events]
    return json.dumps(rows, separators=(",", ":")), [e.body for e in events], dedupe_window, list(LIVE_ROUTES)


def event_fields(event: LandingEvent) -> dict[str, object]:
    """The event's metadata as JSON values (all but `body` and `raw_written`): what the spool
    records beside the body, and what the landing statement reads."""
    return {
        "event_id": str(event.event_id),
        "received_at": event.received_at.isoformat(),
        "route": event.route,
        "client_addr": event.client_addr,
        "body_size": event.body_size,
        "body_truncated": event.body_truncated,
        "body_sha256": event.body_sha256,
        "raw_key": event.raw_key,
        "parse_status": event.parse_status,
        "codes": event.codes,
        "contract": event.contract,
        "symbol": event.symbol,
        "block_id": event.block_id,
        "block_start": event.block_start.isoformat() if event.block_start else None,
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


def mark_raw_written(conn: psycopg.Connection, event_ids: Sequence[uuid.UUID | str]) -> None:
    """Record that the raw objects of `event_ids` are written (in the caller's transaction)."""
    if event_ids:
        conn.execute(MARK_RAW_WRITTEN_SQL, (list(event_ids),))
