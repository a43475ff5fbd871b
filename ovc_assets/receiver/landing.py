"""Landing batches of events durably: spool, database, raw objects, and recovery.

`LandingService.land` is the group commit behind every route (DESIGN sections 4 and 8):

1. the batch is appended to a spool segment with one fdatasync;
2. it is landed in `ovc.raw_events` in one transaction (`land_events`);
3. each event is answered: durable when step 2 committed, or, with the database down,
   when step 1 succeeded and its raw object was written at once (the raw store takes the
   event, the segment is its spool record). Anything else is a 503, which the sender
   (TradingView) retries.

The receiver's asyncio writer runs steps 1 and 2 at the same time (the spool on its
`SpoolFlusher` thread, the transaction on its event loop) and `conclude`s; batch jobs call
`land`.

Raw objects of landed events are written from the spooled batch in the background, with
retry, while the writer is idle (one object costs two fsyncs, more than the request
itself); they are written anyway once the backlog is old or large. A maintenance thread
re-lands what was spooled while the database was down as soon as it is back, replays the
segments of processes that died (startup, then periodically), and writes raw objects for
any event still pending from before.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import weakref
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta

import psycopg

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver.spool import Segment, Spool
from ovc_assets.storage.raw_events import (
    DEFAULT_DEDUPE_WINDOW,
    Disposition,
    LandingEvent,
    LandingOutcome,
    land_events_isolating,
    mark_raw_written,
    probe_landing,
    select_pending_among,
    select_pending_raw,
)
from ovc_assets.storage.raw_store import RawStore

log = logging.getLogger(__name__)

UNAVAILABLE_CODES = (ErrorCode.DB_UNREACHABLE, ErrorCode.RAW_STORE_UNAVAILABLE)
"""The codes of a 503: neither the database nor the raw store could take the event."""

LANDING_CHUNK = 500
"""Events per transaction when landing from files or from the spool."""
CONNECT_TIMEOUT_SECONDS = 2
# Below TradingView's 3 s patience, so a stuck database turns into the spool path in time.
SESSION_SETUP_SQL = "SET statement_timeout = 2000"


@dataclass(frozen=True)
class LandingTuning:
    """Timings of the background work; tests shorten them."""

    idle_gap_seconds: float = 0.25
    """The writer counts as busy this long after its last batch; raw objects wait meanwhile..."""
    max_deferred_events: int = 50_000
    max_defer_seconds: float = 30.0
    """...unless this many are waiting, or the oldest has waited this long."""
    materialise_chunk: int = 64
    retry_initial_seconds: float = 0.2
    retry_max_seconds: float = 10.0
    maintenance_interval_seconds: float = 1.0
    orphan_scan_interval_seconds: float = 30.0
    pending_sweep_interval_seconds: float = 300.0
    pending_sweep_min_age: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The answer for one event: the id to acknowledge (the original's for a duplicate),
    whether it is durable, and whether it is in the database yet (else only spooled)."""

    event_id: uuid.UUID
    duplicate: bool
    durable: bool
    in_database: bool = False
    quarantined: bool = False


@dataclass
class SpoolReplayCounts:
    """What a spool replay did."""

    segments: int = 0
    landed: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0
    raw_written: int = 0

    def add(self, outcomes: Sequence[LandingOutcome]) -> None:
        for outcome in outcomes:
            if outcome.disposition is Disposition.LANDED:
                self.landed += 1
            elif outcome.disposition is Disposition.DUPLICATE:
                self.duplicates += 1
            elif outcome.disposition is Disposition.QUARANTINED:
                self.quarantined += 1
            else:
                self.skipped += 1


class _LazyConnection:
    """One autocommit connection for one thread: opened on first use, dropped after an error."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection | None = None

    @contextmanager
    def use(self) -> Iterator[psycopg.Connection]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
            self._conn.execute(SESSION_SETUP_SQL)
        try:
            yield self._conn
        except psycopg.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _owns_raw_object(event: LandingEvent, outcome: LandingOutcome) -> bool:
    """Whether the event is stored as itself (a row, or quarantined) with its raw object not
    known to be written."""
    return outcome.landed_as == event.event_id and not event.raw_written


def _write_raw_objects(store: RawStore, events: Sequence[LandingEvent]) -> list[bool]:
    """Write each event's raw object now; which ones succeeded."""
    written = []
    for event in events:
        try:
            store.put(event.raw_key, event.body)
        except OvcError as error:
            log.warning("raw store: %s", error.message)
            written.append(False)
        else:
            written.append(True)
    return written


def replay_orphan_segments(
    conn: psycopg.Connection, store: RawStore, spool: Spool, dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW
) -> SpoolReplayCounts:
    """Land every event of the segments dead processes left, write their missing raw objects,
    and delete each segment once it is fully settled. Safe to run again at any point. An event
    the database refuses for its own data is quarantined (with its raw object written); any
    other database error is raised, leaving the segment for the next replay."""
    counts = SpoolReplayCounts()
    for claimed in spool.claim_orphans():
        settled = False
        try:
            quarantined = set()
            for start in range(0, len(claimed.events), LANDING_CHUNK):
                outcomes = land_events_isolating(conn, claimed.events[start : start + LANDING_CHUNK], dedupe_window)
                counts.add(outcomes)
                quarantined.update(o.event_id for o in outcomes if o.disposition is Disposition.QUARANTINED)
            pending = select_pending_among(conn, [event.event_id for event in claimed.events]) | quarantined
            needing_raw = [event for event in claimed.events if event.event_id in pending]
            written = [e.event_id for e, ok in zip(needing_raw, _write_raw_objects(store, needing_raw)) if ok]
            mark_raw_written(conn, written)
            counts.raw_written += len(written)
            settled = len(written) == len(needing_raw)
            counts.segments += settled
        finally:
            claimed.release(remove=settled)
    return counts


def write_pending_raw(conn: psycopg.Connection, store: RawStore, min_age: timedelta) -> int:
    """Write the raw objects of landed events still pending after `min_age`, from their stored
    bodies; stops at the first raw-store failure. Returns how many were written."""
    total = 0
    while True:
        pending = select_pending_raw(conn, min_age, LANDING_CHUNK)
        written = []
        for item in pending:
            try:
                store.put(item.raw_key, item.body)
            except OvcError as error:
                log.warning("raw store: %s", error.message)
                break
            written.append(item.event_id)
        mark_raw_written(conn, written)
        total += len(written)
        if len(written) < LANDING_CHUNK:
            return total


_QueuedObject = tuple[float, str | None, str, str, bytes]
"""A raw object waiting to be written: when it was queued, the name of its spool segment,
the event id, the raw key and the body. Plain values in a plain tuple, which the garbage
collector stops tracking: a backlog of tens of thousands then adds nothing to a full
collection, which pauses every request. Queued as (time, Segment, LandingEvent), each
object cost three tracked objects, and 20,000 of them a ~40 ms pause (benchmarks/RESULTS.md).
A NamedTuple would stay tracked (only exact tuples are untracked)."""


class _Materialiser:
    """Writes the raw objects of landed events in the background, in order, with retry."""

    def __init__(
        self,
        store: RawStore,
        dsn: str,
        spool: Spool,
        tuning: LandingTuning,
        writer_is_busy: Callable[[], bool],
    ) -> None:
        self._store = store
        self._connection = _LazyConnection(dsn)
        self._spool = spool
        self._tuning = tuning
        self._writer_is_busy = writer_is_busy
        self._queue: deque[_QueuedObject] = deque()
        # The segments of queued objects by name; the spool holds each one until it is settled.
        self._segments: weakref.WeakValueDictionary[str, Segment] = weakref.WeakValueDictionary()
        self._condition = threading.Condition()
        self._in_flight = 0
        self._urgent = False
        self._stopping = False
        self._unmarked: list[str] = []  # event ids written, not yet recorded as such; this thread's own
        self._unsettled: list[str] = []  # a segment name per written object of it, settled after its mark
        self._thread = threading.Thread(target=self._run, name="ovc-raw-materialiser", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, segment: Segment | None, events: Sequence[LandingEvent]) -> None:
        if not events:
            return
        now = time.monotonic()
        name = None if segment is None else segment.path.name
        with self._condition:
            if segment is not None:
                self._segments[name] = segment
            # A thread with work queued is on a timed wait already; waking it for every
            # batch would only make it compete with the writer for the GIL.
            if not self._queue:
                self._condition.notify()
            self._queue.extend((now, name, str(event.event_id), event.raw_key, event.body) for event in events)

    def backlog(self) -> int:
        with self._condition:
            return len(self._queue) + self._in_flight

    def drain(self, timeout: float) -> bool:
        """Write everything queued now, busy writer or not; whether it finished in time."""
        deadline = time.monotonic() + timeout
        with self._condition:
            self._urgent = True
            self._condition.notify_all()
            try:
                while self._queue or self._in_flight:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._condition.wait(remaining)
                return True
            finally:
                self._urgent = False

    def stop(self, timeout: float) -> None:
        self.drain(timeout)
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout=5)
        self._mark_written()
        self._connection.close()

    def _run(self) -> None:
        while (chunk := self._next_chunk()) is not None:
            written = self._write(chunk)
            self._unmarked.extend(event_id for _, _, event_id, _, _ in written)
            self._unsettled.extend(name for _, name, _, _, _ in written if name is not None)
            self._mark_written()
            with self._condition:
                self._in_flight = 0
                self._condition.notify_all()

    def _next_chunk(self) -> list[_QueuedObject] | None:
        """The next objects to write; empty when only marks are to be retried; None to stop."""
        with self._condition:
            while not self._stopping:
                if self._queue and (self._urgent or not self._should_wait()):
                    size = min(self._tuning.materialise_chunk, len(self._queue))
                    self._in_flight = size
                    return [self._queue.popleft() for _ in range(size)]
                if self._queue:
                    self._condition.wait(self._tuning.idle_gap_seconds)
                elif self._unmarked:
                    if not self._condition.wait(self._tuning.retry_max_seconds):
                        return []
                else:
                    self._condition.wait()
            return None

    def _should_wait(self) -> bool:
        oldest_age = time.monotonic() - self._queue[0][0]
        return (
            self._writer_is_busy()
            and len(self._queue) < self._tuning.max_deferred_events
            and oldest_age < self._tuning.max_defer_seconds
        )

    def _write(self, chunk: list[_QueuedObject]) -> list[_QueuedObject]:
        """Put each object, retrying a failing store with backoff; stop early only when stopping."""
        written = []
        delay = self._tuning.retry_initial_seconds
        for index, queued in enumerate(chunk):
            _, _, _, raw_key, body = queued
            while True:
                try:
                    self._store.put(raw_key, body)
                    break
                except OvcError as error:
                    log.warning("raw store: %s; retrying in %.1fs", error.message, delay)
                    with self._condition:
                        self._condition.wait_for(lambda: self._stopping, timeout=delay)
                        if self._stopping:
                            # The segment keeps the rest for the replay at the next start.
                            self._queue.extendleft(reversed(chunk[index:]))
                            return written
                    delay = min(delay * 2, self._tuning.retry_max_seconds)
            written.append(queued)
        return written

    def _mark_written(self) -> None:
        """Record the written objects in the database; kept for the next try while it is down.
        Their segments are settled only once the database says so: a segment removed before the
        mark would leave the event pending with nothing left to replay it after a crash."""
        if not self._unmarked:
            return
        try:
            with self._connection.use() as conn:
                mark_raw_written(conn, self._unmarked)
        except psycopg.Error as error:
            log.warning("could not mark %d raw objects written yet: %s", len(self._unmarked), _first_line(error))
        else:
            self._unmarked.clear()
            with self._condition:  # `submit` adds segments from the writer's thread
                settled = [(self._segments.get(name), count) for name, count in Counter(self._unsettled).items()]
            for segment, count in settled:
                if segment is not None:
                    self._spool.settle(segment, count)
            self._unsettled.clear()


class LandingService:
    """The group commit behind every route, with background raw objects and recovery.

    `land` (batch jobs) and its steps (the receiver's asyncio writer) are used by one
    caller at a time. `start` runs the background threads; `close` stops them, leaving any
    unsettled segment for a replay.
    """

    def __init__(
        self,
        dsn: str,
        store: RawStore,
        spool: Spool,
        *,
        dedupe_window: timedelta = DEFAULT_DEDUPE_WINDOW,
        tuning: LandingTuning | None = None,
    ) -> None:
        self.store = store
        self.spool = spool
        self.dedupe_window = dedupe_window
        self._tuning = tuning or LandingTuning()
        self._writer_connection = _LazyConnection(dsn)
        self._maintenance_connection = _LazyConnection(dsn)
        self._last_batch_at = 0.0
        self._database_down = False
        self._last_database_error: str | None = None
        self._quarantined = 0
        self._unlanded: list[tuple[Segment, LandingEvent]] = []
        self._unlanded_lock = threading.Lock()
        self._stop = threading.Event()
        self._materialiser = _Materialiser(store, dsn, spool, self._tuning, self._writer_is_busy)
        self._maintenance = threading.Thread(target=self._maintain, name="ovc-landing-maintenance", daemon=True)

    def start(self, *, maintenance: bool = True) -> None:
        """Start writing raw objects and, with `maintenance`, recovery (re-landing, replays)."""
        self._materialiser.start()
        if maintenance:
            self._maintenance.start()

    def land(self, events: Sequence[LandingEvent]) -> list[Receipt]:
        """Make a batch durable (see the module docstring) and return one receipt per event."""
        try:
            segment: Segment | None = self.spool.append(events)
        except OSError as error:
            log.error("spool %s: %s; landing in the database only", self.spool.directory, error.strerror or error)
            segment = None
        outcomes = self.land_in_database(events) if self.database_available else None
        return self.conclude(segment, events, outcomes)

    def land_in_database(self, events: Sequence[LandingEvent]) -> list[LandingOutcome] | None:
        """Land a batch in one transaction, quarantining the events the database refuses for
        their own data; None (and the database counts as down) on any other database error."""
        try:
            with self._writer_connection.use() as conn:
                return land_events_isolating(conn, events, self.dedupe_window)
        except psycopg.Error as error:
            self.database_failed(error)
            return None

    # The rest of `land`, for the receiver's asyncio writer.

    @property
    def database_available(self) -> bool:
        """False from a database failure until maintenance has re-landed the spooled events."""
        return not self._database_down

    def database_failed(self, error: Exception) -> None:
        """Note a failed batch transaction: batches go to the spool and raw store only now."""
        self._last_database_error = _first_line(error)
        if not self._database_down:
            log.error("database unavailable, spooling events until it is back: %s", self._last_database_error)
        self._database_down = True

    def conclude(
        self, segment: Segment | None, events: Sequence[LandingEvent], outcomes: Sequence[LandingOutcome] | None
    ) -> list[Receipt]:
        """The receipts of a batch, given its segment and its database outcomes (None when the
        transaction failed). Without outcomes this writes the raw objects at once (blocking)."""
        self._last_batch_at = time.monotonic()
        if outcomes is None:
            return self._land_without_database(segment, events)
        needing_raw = [event for event, outcome in zip(events, outcomes) if _owns_raw_object(event, outcome)]
        self._materialiser.submit(segment, needing_raw)
        if segment is not None:
            self.spool.settle(segment, len(events) - len(needing_raw))
        receipts = [
            Receipt(o.landed_as, o.duplicate, durable=True, in_database=True,
                    quarantined=o.disposition is Disposition.QUARANTINED)
            for o in outcomes
        ]
        self._note_quarantined(sum(receipt.quarantined for receipt in receipts))
        return receipts

    def drain(self, timeout: float) -> bool:
        """Write every queued raw object now; whether that finished within `timeout`."""
        return self._materialiser.drain(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the background work (writing what it can within `timeout`) and the spool."""
        self._stop.set()
        if self._maintenance.is_alive():
            self._maintenance.join(timeout=timeout)
        self._materialiser.stop(timeout)
        self.spool.close()
        self._writer_connection.close()
        self._maintenance_connection.close()

    def status(self) -> dict[str, object]:
        """Counters for the health endpoint."""
        return {
            "database_down": self._database_down,
            "last_database_error": self._last_database_error if self._database_down else None,
            "quarantined_by_this_worker": self._quarantined,
            "spooled_awaiting_database": self.unlanded_count(),
            "raw_objects_queued": self._materialiser.backlog(),
            "spool_unsettled": self.spool.backlog(),
        }

    def unlanded_count(self) -> int:
        """Events spooled while the database was down and not landed since."""
        with self._unlanded_lock:
            return len(self._unlanded)

    def _note_quarantined(self, count: int) -> None:
        if count:
            self._quarantined += count
            log.warning("%d event(s) refused by the database for their own data: quarantined in "
                        "ovc.raw_event_quarantine, the rest of their batch landed", count)

    def _writer_is_busy(self) -> bool:
        return time.monotonic() - self._last_batch_at < self._tuning.idle_gap_seconds

    def _land_without_database(self, segment: Segment | None, events: Sequence[LandingEvent]) -> list[Receipt]:
        if segment is None:
            return [Receipt(event.event_id, duplicate=False, durable=False) for event in events]
        written = _write_raw_objects(self.store, events)
        with self._unlanded_lock:
            self._unlanded.extend((segment, replace(e, raw_written=ok)) for e, ok in zip(events, written))
        return [Receipt(event.event_id, duplicate=False, durable=ok) for event, ok in zip(events, written)]

    def _maintain(self) -> None:
        tuning = self._tuning
        next_orphan_scan = next_sweep = 0.0
        # The first pass, at start-up, settles all a dead process left: its segments, and the
        # raw objects of events it landed but never spooled (killed between its commit and its
        # segment write, or a machine crash before the fdatasync), whatever their age.
        sweep_min_age = timedelta(0)
        pause = 0.0
        while not self._stop.wait(pause):
            pause = tuning.maintenance_interval_seconds
            try:
                with self._maintenance_connection.use() as conn:
                    if self._database_down or self.unlanded_count():
                        self._reland(conn)
                    now = time.monotonic()
                    if now >= next_orphan_scan:
                        counts = replay_orphan_segments(conn, self.store, self.spool, self.dedupe_window)
                        if counts.segments:
                            log.info("replayed %d spool segment(s): %s", counts.segments, counts)
                        next_orphan_scan = now + tuning.orphan_scan_interval_seconds
                    if now >= next_sweep:
                        written = write_pending_raw(conn, self.store, sweep_min_age)
                        if written:
                            log.info("wrote %d pending raw object(s) from the database", written)
                        sweep_min_age = tuning.pending_sweep_min_age
                        next_sweep = now + tuning.pending_sweep_interval_seconds
            except psycopg.Error as error:
                log.warning("landing maintenance: database unavailable, retrying in %.1fs: %s", pause, _first_line(error))
            except Exception:  # a bug here must not end recovery for the life of the process
                log.exception("maintenance pass failed")

    def _reland(self, conn: psycopg.Connection) -> None:
        """Land what was spooled while the database was down; the database is back if this
        returns. A failure keeps (or puts) the landing path down, so that /healthz says so."""
        with self._unlanded_lock:
            backlog = list(self._unlanded)
        try:
            if not backlog:
                # The failed batch may not have joined the backlog yet: prove the path itself.
                probe_landing(conn)
            self._land_backlog(conn, backlog)
        except psycopg.Error as error:
            self.database_failed(error)
            raise
        if self._database_down:
            log.info("database is back; %d spooled event(s) landed", len(backlog))
        self._database_down = False

    def _land_backlog(self, conn: psycopg.Connection, backlog: list[tuple[Segment, LandingEvent]]) -> None:
        for start in range(0, len(backlog), LANDING_CHUNK):
            chunk = backlog[start : start + LANDING_CHUNK]
            outcomes = land_events_isolating(conn, [event for _, event in chunk], self.dedupe_window)
            self._note_quarantined(sum(o.disposition is Disposition.QUARANTINED for o in outcomes))
            for (segment, event), outcome in zip(chunk, outcomes):
                if _owns_raw_object(event, outcome):
                    self._materialiser.submit(segment, [event])
                else:
                    self.spool.settle(segment, 1)
            with self._unlanded_lock:
                del self._unlanded[: len(chunk)]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
