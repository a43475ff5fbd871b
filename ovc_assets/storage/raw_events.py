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
the same body that passed it.

Race freedom: `land_events` takes a transaction-scoped advisory lock per body hash, in
ascending key order, before looking for originals. Concurrent batches from other threads
or processes (`ovc serve --workers 2`, a replay) with a common body wait for each other,
and the second one sees the first one's committed event. A unique index cannot express a
sliding time window, which is why the lock is used instead.

Exactly once: an arrival whose event id is already in `raw_events` or
`raw_event_duplicates` is reported as already landed and changes nothing, so a batch can
be landed again after a commit whose outcome was unknown.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
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
LIVE_ROUTES = frozenset({ROUTE_TV, ROUTE_TV_SECURE})
"""Routes whose repeated bodies are resends to count; repeats from the others are skipped."""

PARSE_OK = "ok"
PARSE_REJECTED = "rejected"
RAW_WRITTEN = "written"
RAW_PENDING = "pending"

DEFAULT_DEDUPE_WINDOW = timedelta(hours=24)

Statement = tuple[str, tuple[object, ...]]

# Advisory locks in the two-int form: this fixed namespace plus 32 bits of the body hash.
# Two bodies sharing those bits only wait for each other; correctness does not depend on it.
BODY_LOCK_NAMESPACE = 0x4F564352  # "OVCR"

LOCK_BODIES_SQL = "SELECT pg_advisory_xact_lock(%s, body_key) FROM unnest(%s::int4[]) AS body_key"

ALREADY_LANDED_SQL = """
SELECT arrival.event_id, coalesce(duplicate.original_event_id, arrival.event_id) AS landed_as
FROM unnest(%s::uuid[]) AS arrival (event_id)
LEFT JOIN ovc.raw_events AS event ON event.event_id = arrival.event_id
LEFT JOIN ovc.raw_event_duplicates AS duplicate ON duplicate.event_id = arrival.event_id
WHERE event.event_id IS NOT NULL OR duplicate.event_id IS NOT NULL
"""

CANDIDATE_ORIGINALS_SQL = """
SELECT body_sha256, codes, event_id, received_at
FROM ovc.raw_events
WHERE body_sha256 = ANY(%s::text[]) AND received_at BETWEEN %s AND %s
"""

# Codes travel as one comma-joined string per event: unnest cannot take a ragged text[][].
INSERT_EVENTS_SQL = """
INSERT INTO ovc.raw_events (
    event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
    raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start,
    duplicate_count, last_seen_at
)
SELECT event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
       raw_key, raw_status, parse_status, string_to_array(codes, ','), contract, symbol, block_id,
       block_start, 0, received_at
FROM unnest(
    %s::uuid[], %s::timestamptz[], %s::text[], %s::text[], %s::bytea[], %s::int4[], %s::bool[],
    %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
    %s::timestamptz[]
) AS arrival (
    event_id, received_at, route, client_addr, body, body_size, body_truncated, body_sha256,
    raw_key, raw_status, parse_status, codes, contract, symbol, block_id, block_start
)
"""

INSERT_DUPLICATES_SQL = """
INSERT INTO ovc.raw_event_duplicates (event_id, original_event_id, received_at, route, client_addr)
SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::timestamptz[], %s::text[], %s::text[])
"""

COUNT_DUPLICATES_SQL = """
UPDATE ovc.raw_events AS event
SET duplicate_count = event.duplicate_count + resend.arrivals,
    last_seen_at = greatest(event.last_seen_at, resend.last_seen_at)
FROM unnest(%s::uuid[], %s::int4[], %s::timestamptz[]) AS resend (event_id, arrivals, last_seen_at)
WHERE event.event_id = resend.event_id
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
    """Land a batch in one transaction of its own; return one outcome per event, in order.

    See the module docstring for the dedupe, race-freedom and exactly-once rules. The
    statement count does not grow with the batch.
    """
    if not events:
        return []
    plan = _LandingPlan(events, dedupe_window)
    # Not in pipeline mode: psycopg polls for readable-or-writable there, and a writable
    # socket turns the wait for results into a busy loop that costs more than round trips.
    with conn.transaction():
        _, landed, candidates = [conn.execute(query, params) for query, params in plan.lookups()]
        for query, params in plan.writes(landed.fetchall(), candidates.fetchall()):
            conn.execute(query, params)
    return plan.outcomes()


async def land_events_async(
    conn: psycopg.AsyncConnection, events: Sequence[LandingEvent], dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW
) -> list[LandingOutcome]:
    """`land_events` on an asyncio connection (the receiver's event loop)."""
    if not events:
        return []
    plan = _LandingPlan(events, dedupe_window)
    async with conn.transaction():
        _, landed, candidates = [await conn.execute(query, params) for query, params in plan.lookups()]
        for query, params in plan.writes(await landed.fetchall(), await candidates.fetchall()):
            await conn.execute(query, params)
    return plan.outcomes()


class _LandingPlan:
    """The statements of one batch landing and the dedupe decisions between them, without I/O,
    so the sync and the asyncio drivers share every rule."""

    def __init__(self, events: Sequence[LandingEvent], dedupe_window: timedelta) -> None:
        self._events = events
        self._window = dedupe_window
        self._outcomes: dict[uuid.UUID, LandingOutcome] = {}

    def lookups(self) -> list[Statement]:
        """Lock the bodies, then find which events are landed and which bodies are known.

        The lock comes first and in a statement of its own: each later statement takes a
        fresh snapshot (READ COMMITTED), so it sees what a batch we waited for committed.
        """
        times = [event.received_at for event in self._events]
        return [
            (LOCK_BODIES_SQL, (BODY_LOCK_NAMESPACE, sorted({_body_lock_key(e.body_sha256) for e in self._events}))),
            (ALREADY_LANDED_SQL, ([event.event_id for event in self._events],)),
            (
                CANDIDATE_ORIGINALS_SQL,
                (
                    sorted({event.body_sha256 for event in self._events}),
                    min(times) - self._window,
                    max(times) + self._window,
                ),
            ),
        ]

    def writes(self, landed_rows: Iterable[tuple], candidate_rows: Iterable[tuple]) -> list[Statement]:
        """Decide each event's outcome from the lookups; the statements that record them."""
        for event_id, landed_as in landed_rows:
            self._outcomes[event_id] = LandingOutcome(event_id, landed_as, Disposition.SKIPPED)
        originals: defaultdict[tuple[str, tuple[str, ...]], list[tuple[datetime, uuid.UUID]]] = defaultdict(list)
        for sha256, codes, event_id, received_at in sorted(candidate_rows, key=lambda row: row[3]):
            originals[(sha256, tuple(codes))].append((received_at, event_id))
        new_events: list[LandingEvent] = []
        resends: list[tuple[LandingEvent, uuid.UUID]] = []
        arrivals = [event for event in self._events if event.event_id not in self._outcomes]
        for event in sorted(arrivals, key=lambda e: e.received_at):
            known = originals[(event.body_sha256, event.codes)]
            original = next((oid for t, oid in known if abs(event.received_at - t) <= self._window), None)
            if original is None:
                known.append((event.received_at, event.event_id))
                new_events.append(event)
                disposition, original = Disposition.LANDED, event.event_id
            elif event.route in LIVE_ROUTES:
                resends.append((event, original))
                disposition = Disposition.DUPLICATE
            else:
                disposition = Disposition.SKIPPED
            self._outcomes[event.event_id] = LandingOutcome(event.event_id, original, disposition)
        return _insert_events(new_events) + _record_resends(resends)

    def outcomes(self) -> list[LandingOutcome]:
        return [self._outcomes[event.event_id] for event in self._events]


def _body_lock_key(body_sha256: str) -> int:
    """32 bits of the hash as a signed int4."""
    return int(body_sha256[:8], 16) - 2**31


def _insert_events(events: Sequence[LandingEvent]) -> list[Statement]:
    if not events:
        return []
    columns = (
        [e.event_id for e in events],
        [e.received_at for e in events],
        [e.route for e in events],
        [e.client_addr for e in events],
        [e.body for e in events],
        [e.body_size for e in events],
        [e.body_truncated for e in events],
        [e.body_sha256 for e in events],
        [e.raw_key for e in events],
        [RAW_WRITTEN if e.raw_written else RAW_PENDING for e in events],
        [e.parse_status for e in events],
        [",".join(e.codes) for e in events],
        [e.contract for e in events],
        [e.symbol for e in events],
        [e.block_id for e in events],
        [e.block_start for e in events],
    )
    return [(INSERT_EVENTS_SQL, columns)]


def _record_resends(resends: Sequence[tuple[LandingEvent, uuid.UUID]]) -> list[Statement]:
    if not resends:
        return []
    arrivals: dict[uuid.UUID, int] = defaultdict(int)
    last_seen: dict[uuid.UUID, datetime] = {}
    for event, original in resends:
        arrivals[original] += 1
        last_seen[original] = max(last_seen.get(original, event.received_at), event.received_at)
    originals = list(arrivals)
    return [
        (
            INSERT_DUPLICATES_SQL,
            (
                [event.event_id for event, _ in resends],
                [original for _, original in resends],
                [event.received_at for event, _ in resends],
                [event.route for event, _ in resends],
                [event.client_addr for event, _ in resends],
            ),
        ),
        (COUNT_DUPLICATES_SQL, (originals, [arrivals[o] for o in originals], [last_seen[o] for o in originals])),
    ]


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
