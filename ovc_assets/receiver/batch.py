"""Landing bodies that did not come through the webhook, through the same landing path.

- `replay_alert_log`: every payload of a TradingView alert-log CSV, as if it had arrived by
  webhook at the alert's own time (`ovc replay alerts`); what is already landed is skipped.
- `land_cold_full`: FULL export strings, the cold path (`ovc ingest full`).
- `replay_spool`: segments left by receivers that died, and raw objects still pending
  (`ovc replay spool`).

Each lands through a `LandingService` (spool segment + one transaction per batch + raw
objects), so these events are stored, deduplicated and keyed exactly like webhook events.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from ovc_assets.contracts.sources import (
    ALERT_LOG_TIME_COLUMN,
    read_alert_log,
    read_text,
)
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver.config import load_receiver_config
from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.receiver.landing import (
    LANDING_CHUNK,
    LandingService,
    SpoolReplayCounts,
    replay_orphan_segments,
    write_pending_raw,
)
from ovc_assets.receiver.spool import Spool
from ovc_assets.settings import Settings, load_settings
from ovc_assets.storage.postgres import check_reachable, connect, resolve_dsn
from ovc_assets.storage.raw_events import PARSE_REJECTED, ROUTE_COLD_FULL, ROUTE_REPLAY
from ovc_assets.storage.raw_store import RawStore, open_raw_store

DRAIN_TIMEOUT_SECONDS = 600.0
EARLIEST_ALERT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_ALERT_TOLERANCE = timedelta(days=1)
"""An alert-log time outside [2000, now + 1 day] is a damaged row: a year-9999 alert would
otherwise win its block's "latest receipt" for ever."""


@dataclass
class LandingCounts:
    """What landing a batch of payloads did; `received = landed + duplicates + spooled + failed`."""

    received: int = 0
    landed: int = 0
    """New events in raw_events."""
    duplicates: int = 0
    """Bodies already landed (within the dedupe window): nothing new stored."""
    rejected: int = 0
    """Payloads, landed or not, whose verdict is rejected (they are stored all the same)."""
    spooled: int = 0
    """Durable in the spool and raw store but not yet in the database (it went down); a
    replay (`ovc replay spool`, or a running `ovc serve`) lands them."""
    failed: int = 0
    """Neither in the database nor in the raw store: send these again."""
    problems: list[str] = field(default_factory=list)
    """Input that could not become a payload (e.g. an alert-log row without a usable time)."""


@contextmanager
def _batch_landing(
    settings: Settings | None, dsn: str | None, store: RawStore | None
) -> Iterator[Callable[[Iterable[Arrival]], LandingCounts]]:
    """A function landing arrivals for a batch job; every raw object is written on exit."""
    settings = settings or load_settings()
    store = store or open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
    dsn = dsn or resolve_dsn(settings)
    check_reachable(dsn)
    config = load_receiver_config(settings, store)
    service = LandingService(dsn, store, Spool(config.spool_dir), dedupe_window=config.dedupe_window)
    service.start(maintenance=False)
    try:
        # The configured token is passed for redaction only: these routes check no token.
        yield lambda arrivals: _land_arrivals(service, arrivals, config.token)
    finally:
        service.drain(DRAIN_TIMEOUT_SECONDS)
        service.close()


def _land_arrivals(service: LandingService, arrivals: Iterable[Arrival], secret: str | None) -> LandingCounts:
    counts = LandingCounts()
    iterator = iter(arrivals)
    while chunk := list(itertools.islice(iterator, LANDING_CHUNK)):
        judged = [admit(arrival, secret=secret) for arrival in chunk]
        receipts = service.land([event for event, _ in judged])
        for (event, _), receipt in zip(judged, receipts):
            counts.received += 1
            counts.rejected += event.parse_status == PARSE_REJECTED
            if not receipt.durable:
                counts.failed += 1
            elif not receipt.in_database:
                counts.spooled += 1
            elif receipt.duplicate:
                counts.duplicates += 1
            else:
                counts.landed += 1
    return counts


def land_cold_full(
    exports: Iterable[str | bytes],
    *,
    settings: Settings | None = None,
    dsn: str | None = None,
    store: RawStore | None = None,
    received_at: datetime | None = None,
) -> LandingCounts:
    """Land FULL export strings as events of route `cold_full` (received now, or at
    `received_at`), through the receiver's landing path; returns the counts.

    Each string is judged as FULL (a MIN export is landed as rejected with `E_PROFILE`), a
    body repeated within the dedupe window is skipped, so importing a file twice adds
    nothing. `dsn` and `store` default to the configured ones (`OVC_DATABASE_URL` or the
    embedded server; `OVC_RAW_STORE`).
    """
    arrived = received_at or datetime.now(UTC)
    arrivals = (
        Arrival(ROUTE_COLD_FULL, body, len(body), arrived)
        for body in (_as_bytes(export) if isinstance(export, str) else export for export in exports)
    )
    with _batch_landing(settings, dsn, store) as land:
        return land(arrivals)


def replay_alert_log(
    path: Path, *, settings: Settings | None = None, dsn: str | None = None, store: RawStore | None = None
) -> LandingCounts:
    """Land every payload of a TradingView alert-log CSV as a `replay_alerts` event received
    at the alert's time; payloads already landed (by the webhook or an earlier replay) are
    skipped. `OvcError` (`E_INPUT_FORMAT`) if the file is not an alert log or cannot be read
    unambiguously; nothing is landed then."""
    problems: list[str] = []
    arrivals = list(_alert_log_arrivals(path, problems, now=datetime.now(UTC)))
    with _batch_landing(settings, dsn, store) as land:
        counts = land(arrivals)
    counts.problems = problems
    return counts


def _alert_log_arrivals(path: Path, problems: list[str], now: datetime) -> Iterator[Arrival]:
    try:
        text = read_text(path)
    except OSError as error:
        raise OvcError(ErrorCode.INPUT_FORMAT, f"cannot read {path}: {error.strerror}") from None
    for row in read_alert_log(text, str(path), require_time=True):
        received_at = _alert_time(row.time or "")
        if received_at is None:
            problems.append(f"line {row.line}: no usable {ALERT_LOG_TIME_COLUMN} (ISO 8601 with a zone)")
        elif not EARLIEST_ALERT_TIME <= received_at <= now + FUTURE_ALERT_TOLERANCE:
            problems.append(
                f"line {row.line}: {ALERT_LOG_TIME_COLUMN} {received_at.isoformat()} is before "
                f"{EARLIEST_ALERT_TIME.year} or in the future"
            )
        else:
            payload = _as_bytes(row.export)
            yield Arrival(ROUTE_REPLAY, payload, len(payload), received_at)


def _as_bytes(text: str) -> bytes:
    """The bytes a string was read from: undecodable bytes come back as they were, so the
    landing sees (and stores) the invalid UTF-8 the file held."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _alert_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.utcoffset() is not None else None


@dataclass
class SpoolReplay:
    """What `replay_spool` did: the segments' events, and raw objects written from the database."""

    segments: SpoolReplayCounts
    pending_raw_written: int


def replay_spool(settings: Settings | None = None, *, dsn: str | None = None, store: RawStore | None = None) -> SpoolReplay:
    """Land the events of every segment no live process holds, write their raw objects,
    delete the segments, then write every raw object still pending in the database."""
    settings = settings or load_settings()
    store = store or open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
    dsn = dsn or resolve_dsn(settings)
    config = load_receiver_config(settings, store)
    spool = Spool(config.spool_dir)
    with connect(dsn, autocommit=True) as conn:
        try:
            segments = replay_orphan_segments(conn, store, spool, config.dedupe_window)
            pending = write_pending_raw(conn, store, min_age=timedelta(0))
        except psycopg.Error as error:
            # Not one event's fault (those are quarantined): the database failed; every
            # segment not yet settled stays for the next replay.
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            raise OvcError(ErrorCode.DB_UNREACHABLE, f"replay stopped, the database failed: {reason}") from None
    return SpoolReplay(segments, pending)
