"""The spool: append-only segment files that make a batch of events durable with one fdatasync.

The group-commit writer appends each batch here before it touches the database, so an
acknowledged event is on disk even when the database or the raw store is down, and a
process killed at any point leaves behind segments that `claim_orphans` hands to a replay.

A segment is `OVC-SPOOL-1\\n` followed by frames: a header (metadata length, body length,
CRC-32 of both), the event's metadata as JSON, and its stored body. A crash can only tear
the last frame, whose batch was never acknowledged; reading stops at the first incomplete
or damaged frame. The owning process holds an exclusive `flock` on each segment it writes,
so replays (other workers, `ovc replay spool`) never take a live segment; the lock goes away
with the process, however it dies. A segment is deleted once every event in it is settled:
landed in the database (or found there already) and, where needed, its raw object written.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ovc_assets.storage.files import fsync_directory
from ovc_assets.storage.raw_events import LandingEvent, event_fields

log = logging.getLogger(__name__)

SEGMENT_MAGIC = b"OVC-SPOOL-1\n"
SEGMENT_SUFFIX = ".seg"
DEFAULT_MAX_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_SEGMENT_AGE_SECONDS = 60.0

_FRAME_HEADER = struct.Struct(">III")


def encode_event(event: LandingEvent) -> bytes:
    """One frame holding `event` (all of it but `raw_written`, which a replay re-derives)."""
    metadata = json.dumps(event_fields(event), separators=(",", ":")).encode()
    checksum = zlib.crc32(event.body, zlib.crc32(metadata))
    return _FRAME_HEADER.pack(len(metadata), len(event.body), checksum) + metadata + event.body


def encode_events(events: Sequence[LandingEvent]) -> bytes:
    """The frames of a batch, ready for `Spool.append_frames`."""
    return b"".join(encode_event(event) for event in events)


def decode_segment(data: bytes) -> list[LandingEvent]:
    """The events of a segment's bytes, up to the first incomplete or damaged frame."""
    if SEGMENT_MAGIC.startswith(data):  # created, but the crash came before its first batch
        return []
    if not data.startswith(SEGMENT_MAGIC):
        raise ValueError("not a spool segment")
    events = []
    position = len(SEGMENT_MAGIC)
    while position + _FRAME_HEADER.size <= len(data):
        metadata_length, body_length, checksum = _FRAME_HEADER.unpack_from(data, position)
        start = position + _FRAME_HEADER.size
        end = start + metadata_length + body_length
        if end > len(data):
            break
        metadata, body = data[start : start + metadata_length], data[start + metadata_length : end]
        if zlib.crc32(body, zlib.crc32(metadata)) != checksum:
            break
        events.append(_event_from(json.loads(metadata), body))
        position = end
    return events


def _event_from(fields: dict, body: bytes) -> LandingEvent:
    return LandingEvent(
        event_id=uuid.UUID(fields["event_id"]),
        received_at=datetime.fromisoformat(fields["received_at"]),
        route=fields["route"],
        client_addr=fields["client_addr"],
        body=body,
        body_size=fields["body_size"],
        body_truncated=fields["body_truncated"],
        body_sha256=fields["body_sha256"],
        raw_key=fields["raw_key"],
        parse_status=fields["parse_status"],
        codes=tuple(fields["codes"]),
        contract=fields["contract"],
        symbol=fields["symbol"],
        block_id=fields["block_id"],
        block_start=datetime.fromisoformat(fields["block_start"]) if fields["block_start"] else None,
    )


class Segment:
    """One segment file this process appends to and holds locked."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self.descriptor = descriptor
        self.opened_at = time.monotonic()
        self.size = len(SEGMENT_MAGIC)
        self.appended = 0
        self.settled = 0
        self.sealed = False

    def __repr__(self) -> str:
        return f"Segment({self.path.name}, appended={self.appended}, settled={self.settled})"


@dataclass
class ClaimedSegment:
    """A segment left by a process that is gone, locked for the caller until released."""

    path: Path
    events: list[LandingEvent]
    descriptor: int

    def release(self, *, remove: bool) -> None:
        """Unlock it, deleting it first when `remove` (its events are all settled)."""
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self.descriptor)


class Spool:
    """Segment files in one directory: this process's own, and orphans to replay."""

    def __init__(
        self,
        directory: Path,
        *,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_segment_age_seconds: float = DEFAULT_MAX_SEGMENT_AGE_SECONDS,
    ) -> None:
        self.directory = Path(directory)
        self._max_bytes = max_segment_bytes
        self._max_age = max_segment_age_seconds
        self._lock = threading.Lock()
        self._current: Segment | None = None
        self._open: dict[Path, Segment] = {}

    def append(self, events: Sequence[LandingEvent]) -> Segment:
        """Write `events` to the current segment and fdatasync it; `OSError` if that fails.

        When this returns, the events survive a crash of the process or the machine.
        """
        return self.append_frames(encode_events(events), len(events))

    def append_frames(self, data: bytes, count: int) -> Segment:
        """`append` for `count` events already encoded by `encode_events`."""
        segment = self.write_frames(data, count)
        self.flush(segment, count)
        return segment

    def write_frames(self, data: bytes, count: int) -> Segment:
        """Write a batch to the current segment without flushing it (`flush` makes it durable);
        `OSError` if the write fails. Thread-safe."""
        with self._lock:
            segment = self._current
            if segment is None or segment.size >= self._max_bytes or time.monotonic() - segment.opened_at >= self._max_age:
                if segment is not None:
                    self._seal(segment)
                segment = self._current = self._new_segment()
            try:
                _write_all(segment.descriptor, data)
            except OSError:
                self._abandon(segment)
                raise
            segment.size += len(data)
            # Counted before they are durable, so that the segment (and its descriptor) stays
            # until they are settled; a failed flush settles them itself.
            segment.appended += count
            return segment

    def flush(self, segment: Segment, count: int) -> None:
        """fdatasync `segment`, making what was written to it durable; `OSError` if that fails,
        and then the `count` events written since the last flush are settled (the caller
        treats them as not spooled) and the segment takes no more."""
        try:
            os.fdatasync(segment.descriptor)
        except OSError:
            with self._lock:
                segment.settled += count
                self._abandon(segment)
            raise

    def settle(self, segment: Segment, count: int) -> None:
        """Record that `count` of the segment's events are settled; delete it when all are."""
        if count <= 0:
            return
        with self._lock:
            segment.settled += count
            if segment.sealed:
                self._remove_if_settled(segment)

    def close(self) -> None:
        """Seal the current segment and unlock all; unsettled segments stay for a replay."""
        with self._lock:
            if self._current is not None:
                self._seal(self._current)
                self._current = None
            for segment in list(self._open.values()):
                self._close(segment)

    def claim_orphans(self) -> Iterator[ClaimedSegment]:
        """Each segment no live process holds, locked, with its events; release each one."""
        try:
            paths = sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}"))
        except FileNotFoundError:
            return
        for path in paths:
            if path in self._open:
                continue
            claimed = _claim(path)
            if claimed is not None:
                yield claimed

    def backlog(self) -> int:
        """Events of this process's segments not yet settled."""
        with self._lock:
            return sum(segment.appended - segment.settled for segment in self._open.values())

    def _new_segment(self) -> Segment:
        created = not self.directory.is_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        if created:
            fsync_directory(self.directory.parent)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:12]}{SEGMENT_SUFFIX}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write_all(descriptor, SEGMENT_MAGIC)
            os.fdatasync(descriptor)
            fsync_directory(self.directory)
        except OSError:
            os.close(descriptor)
            raise
        segment = Segment(path, descriptor)
        self._open[path] = segment
        return segment

    def _abandon(self, segment: Segment) -> None:
        """Append no more to a segment whose write or flush failed: a partly written frame
        may end it now, and nothing may follow that."""
        if self._current is segment:
            self._current = None
        self._seal(segment)

    def _seal(self, segment: Segment) -> None:
        segment.sealed = True
        self._remove_if_settled(segment)

    def _remove_if_settled(self, segment: Segment) -> None:
        if segment.settled >= segment.appended and segment.path in self._open:
            with contextlib.suppress(FileNotFoundError):
                segment.path.unlink()
            self._close(segment)

    def _close(self, segment: Segment) -> None:
        del self._open[segment.path]
        os.close(segment.descriptor)


class SpoolFlusher:
    """Writes and fdatasyncs the batches an event loop hands it, on one thread of its own.

    Every batch waiting when the thread comes round goes out in the same flush, so batches
    landing at the same time share their fdatasync; and handing a batch over costs the
    loop one notify, not a trip through an executor. `submit` returns a future of the
    batch's segment, or of None when the disk refused it.
    """

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._pending: list[tuple[bytes, int, asyncio.Future[Segment | None]]] = []
        self._condition = threading.Condition()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="ovc-spool-flusher", daemon=True)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def submit(self, frames: bytes, count: int) -> asyncio.Future[Segment | None]:
        """Queue a batch encoded by `encode_events`; call on the loop given to `start`."""
        future: asyncio.Future[Segment | None] = self._loop.create_future()
        with self._condition:
            self._pending.append((frames, count, future))
            self._condition.notify()
        return future

    def stop(self) -> None:
        """Flush what is queued, then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._stopping:
                    self._condition.wait()
                if not self._pending:
                    return
                batches, self._pending = self._pending, []
            outcomes = self._write_and_flush(batches)
            self._loop.call_soon_threadsafe(_resolve, outcomes)

    def _write_and_flush(
        self, batches: list[tuple[bytes, int, asyncio.Future[Segment | None]]]
    ) -> list[tuple[asyncio.Future[Segment | None], Segment | None]]:
        written: list[tuple[asyncio.Future[Segment | None], Segment | None]] = []
        unflushed: dict[Segment, int] = {}
        for frames, count, future in batches:
            try:
                segment: Segment | None = self._spool.write_frames(frames, count)
            except OSError as error:
                log.error("spool %s: %s; landing in the database only", self._spool.directory, error.strerror or error)
                segment = None
            else:
                unflushed[segment] = unflushed.get(segment, 0) + count
            written.append((future, segment))
        failed = set()
        for segment, count in unflushed.items():
            try:
                self._spool.flush(segment, count)
            except OSError as error:
                log.error("spool %s: %s; landing in the database only", segment.path, error.strerror or error)
                failed.add(segment)
        return [(future, None if segment in failed else segment) for future, segment in written]


def _resolve(outcomes: list[tuple[asyncio.Future[Segment | None], Segment | None]]) -> None:
    for future, segment in outcomes:
        if not future.done():
            future.set_result(segment)


def _claim(path: Path) -> ClaimedSegment | None:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(descriptor).st_nlink == 0:  # replayed and removed by another process meanwhile
            os.close(descriptor)
            return None
        with open(descriptor, "rb", closefd=False) as file:
            events = decode_segment(file.read())
    except BlockingIOError:
        os.close(descriptor)
        return None
    except ValueError:
        log.warning("spool: %s is not a segment; left alone", path)
        os.close(descriptor)
        return None
    return ClaimedSegment(path, events, descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
