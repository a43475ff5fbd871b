"""The webhook receiver's ASGI app (Starlette), served by `ovc serve`.

Routes: `POST /tv` (export string or JSON envelope), `POST /tv_secure` (envelope with the
token), `GET /` and `GET /healthz`; anything else is a JSON 404 or 405. Each webhook
request is judged (`intake.admit`), queued to the group-commit writer and answered once
its batch is durable (`landing.LandingService`). One JSON log line per request, without
body, query string or token (`logs`); uvicorn's access log stays off because it prints
the query string.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import unquote

import psycopg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver.config import (
    ReceiverConfig,
    client_address,
    is_allowed,
    load_receiver_config,
)
from ovc_assets.receiver.intake import MAX_BODY_BYTES, Arrival, Verdict, admit
from ovc_assets.receiver.landing import (
    CONNECT_TIMEOUT_SECONDS,
    SESSION_SETUP_SQL,
    UNAVAILABLE_CODES,
    LandingService,
    LandingTuning,
    Receipt,
)
from ovc_assets.receiver.logs import (
    configure_logging,
    flush_request_log_periodically,
    log_request,
)
from ovc_assets.receiver.spool import Spool, SpoolFlusher, encode_events
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import connect, resolve_dsn
from ovc_assets.storage.raw_events import (
    ROUTE_TV,
    ROUTE_TV_SECURE,
    LandingEvent,
    LandingOutcome,
    count_quarantined,
    is_event_error,
    land_events_async,
)
from ovc_assets.storage.raw_store import RawStore, open_raw_store

log = logging.getLogger(__name__)

MAX_BATCH = 256
BATCH_SLOTS = 3
"""Batches in flight at once per worker (see `GroupCommitWriter`): 3 and 4 measured best of 1 to 6."""
BODY_DEADLINE_SECONDS = 2.0
"""From the end of a request's headers to the end of its body: well under TradingView's 3 s.
What arrived by then is stored and answered 408 (`E_BODY_INCOMPLETE`). uvicorn has no such
deadline; the header deadline and size limit are `server.GuardedHttpToolsProtocol`'s."""
UNMATCHED_ROUTE = "-"
"""The route logged for a request no route matched."""
MAX_COUNTED_BYTES = 1024 * 1024
"""How much of an oversized body is read (and dropped) before the receiver stops reading."""


class _Slot:
    """Room for one batch in flight, with the database connection it lands on."""

    def __init__(self) -> None:
        self.connection: psycopg.AsyncConnection | None = None


class GroupCommitWriter:
    """Queues events from request handlers and lands them in batches, a few at a time.

    A batch leaves as soon as one of `slots` is free and takes everything queued, so the
    batch size follows the load: one event when idle, dozens under load, each batch costing
    one fdatasync and one transaction. Several batches in flight let the request handling,
    the disk and the database work at the same time; with one, every client would wait for
    the others' batch and the loop for the database. The transactions run on the event
    loop, an asyncio connection per slot (on threads, their Python would make the loop queue
    for the GIL), and the spool writes and flushes on a thread of its own, one fdatasync for
    all the batches waiting.
    """

    def __init__(self, service: LandingService, dsn: str, slots: int = BATCH_SLOTS, max_batch: int = MAX_BATCH) -> None:
        self._service = service
        self._dsn = dsn
        self._max_batch = max_batch
        self._queue: deque[tuple[LandingEvent, asyncio.Future[Receipt]]] = deque()
        self._wakeup = asyncio.Event()
        self._slots = [_Slot() for _ in range(slots)]
        self._idle = list(self._slots)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._spool = SpoolFlusher(service.spool)
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def submit(self, event: LandingEvent) -> Receipt:
        """Wait until `event`'s batch is durable (or known not to be)."""
        if self._closing:
            return Receipt(event.event_id, duplicate=False, durable=False)
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        self._wakeup.set()
        return await future

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._spool.start(loop)
        self._task = loop.create_task(self._run(), name="ovc-group-commit")

    async def stop(self) -> None:
        """Land what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        for slot in self._slots:
            if slot.connection is not None:
                await slot.connection.close()
        await asyncio.to_thread(self._spool.stop)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not (self._closing and not self._queue and not self._in_flight):
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue and self._idle:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
                task = loop.create_task(self._land_batch(self._idle.pop(), batch))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def _land_batch(self, slot: _Slot, batch: list[tuple[LandingEvent, asyncio.Future[Receipt]]]) -> None:
        events = [event for event, _ in batch]
        try:
            receipts = await self._land(slot, events)
        except Exception:
            log.exception("landing a batch of %d failed", len(events))
            receipts = [Receipt(event.event_id, duplicate=False, durable=False) for event in events]
        finally:
            self._idle.append(slot)
            self._wakeup.set()
        for (_, future), receipt in zip(batch, receipts):
            if not future.done():
                future.set_result(receipt)

    async def _land(self, slot: _Slot, events: list[LandingEvent]) -> list[Receipt]:
        """`LandingService.land`, with the fdatasync and the transaction overlapping."""
        spooling = self._spool.submit(encode_events(events), len(events))
        outcomes = await self._land_in_database(slot, events)
        segment = await spooling
        if outcomes is None:  # the raw store must take each event now: blocking writes
            return await asyncio.to_thread(self._service.conclude, segment, events, None)
        return self._service.conclude(segment, events, outcomes)

    async def _land_in_database(self, slot: _Slot, events: list[LandingEvent]) -> list[LandingOutcome] | None:
        if not self._service.database_available:
            return None
        try:
            if slot.connection is None or slot.connection.closed:
                slot.connection = await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
                )
                await slot.connection.execute(SESSION_SETUP_SQL)
            return await land_events_async(slot.connection, events, self._service.dedupe_window)
        except psycopg.Error as error:
            if is_event_error(error):
                # One event's data, not the database: land the batch without it (rare, so on a
                # thread, one transaction per half until the refused events stand alone).
                return await asyncio.to_thread(self._service.land_in_database, events)
            if slot.connection is not None:
                await slot.connection.close()
            self._service.database_failed(error)
            return None


class Receiver:
    """The request handlers, bound to one configuration and one landing service."""

    def __init__(self, config: ReceiverConfig, dsn: str, store: RawStore, service: LandingService) -> None:
        self._config = config
        self._dsn = dsn
        self._store = store
        self._service = service
        self.writer = GroupCommitWriter(service, dsn)

    async def tv(self, request: Request) -> Response:
        return await self._webhook(request, ROUTE_TV)

    async def tv_secure(self, request: Request) -> Response:
        return await self._webhook(request, ROUTE_TV_SECURE)

    async def health(self, request: Request) -> Response:
        """Database and raw-store reachability, the landing path and its backlog, and how many
        events are quarantined; 503 if either store is down or landing in the database fails."""
        started = time.perf_counter()
        (database, quarantined), raw_store = await asyncio.gather(
            asyncio.to_thread(_database_health, self._dsn), asyncio.to_thread(_probe, self._store.check)
        )
        landing = self._service.status()
        ok = database == "ok" and raw_store == "ok" and not landing["database_down"]
        status = 200 if ok else 503
        log_request(request.url.path, status, started, client=request.client.host if request.client else None)
        return JSONResponse(
            {"ok": ok, "database": database, "raw_store": raw_store, "quarantined_events": quarantined, "landing": landing},
            status_code=status,
        )

    async def _webhook(self, request: Request, route: str) -> Response:
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        peer = request.client.host if request.client else None
        # Every X-Forwarded-For line, in order: a proxy may append its own line after one the
        # sender wrote, and the first line alone would be the sender's choice.
        forwarded_for = ",".join(request.headers.getlist("x-forwarded-for"))
        client = client_address(peer, forwarded_for, self._config.trusted_proxies)
        if not is_allowed(client, self._config.allowed_networks):
            # Not landed: the allow-list exists to keep strangers' bodies out of the archive.
            log_request(route, 403, started, client=client, codes=[ErrorCode.AUTH])
            return _refusal(Verdict(403, (ErrorCode.AUTH,), "this source address may not post"))
        body, size, complete = await _read_body(request)
        arrival = Arrival(
            route=route,
            body=body,
            body_size=size,
            received_at=received_at,
            client_addr=client,
            content_type=request.headers.get("content-type"),
            token_in_query=self._token_in_query(request),
            complete=complete,
        )
        event, verdict = admit(arrival, secret=self._config.token)
        receipt = await self.writer.submit(event)
        if not receipt.durable:
            verdict = Verdict(503, UNAVAILABLE_CODES, "the event could not be stored; send it again later")
            content = _refusal_content(verdict)
        elif verdict.ok:
            content = {
                "ok": True,
                "event_id": str(receipt.event_id),
                "block_id": verdict.block_id,
                "duplicate": receipt.duplicate,
            }
        else:
            content = _refusal_content(verdict) | {"event_id": str(receipt.event_id), "duplicate": receipt.duplicate}
        if receipt.quarantined:
            content["quarantined"] = True
        log_request(
            route, verdict.status, started, client=client, codes=verdict.codes,
            event_id=str(receipt.event_id), duplicate=receipt.duplicate, size=size,
        )
        # The rest of an incomplete body may still come: not on this connection.
        headers = None if complete else {"connection": "close"}
        return JSONResponse(content, status_code=verdict.status, headers=headers)

    def _token_in_query(self, request: Request) -> bool:
        query = request.scope.get("query_string")
        if not query:
            return False
        secret = self._config.token
        return "token" in request.query_params or bool(secret and secret in unquote(query.decode("latin-1")))


async def _read_body(request: Request) -> tuple[bytes, int, bool]:
    """At most `MAX_BODY_BYTES + 1` bytes of the body, its true size, and whether it all
    arrived within `BODY_DEADLINE_SECONDS` (the sender neither stalled nor went away).

    A body over the limit is read on and dropped up to `MAX_COUNTED_BYTES`, so that the
    sender gets its 413 on a clean connection; beyond that its size is the Content-Length
    (a chunked one is counted that far only).
    """
    declared = request.headers.get("content-length")
    kept: list[bytes] = []
    kept_size = size = 0
    complete = True
    try:
        async with asyncio.timeout(BODY_DEADLINE_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if kept_size <= MAX_BODY_BYTES:
                    piece = chunk[: MAX_BODY_BYTES + 1 - kept_size]
                    kept.append(piece)
                    kept_size += len(piece)
                if size >= MAX_COUNTED_BYTES:
                    break
    except (TimeoutError, ClientDisconnect):
        complete = False
    return b"".join(kept), max(size, int(declared) if declared and declared.isdigit() else 0), complete


def _database_health(dsn: str) -> tuple[str, int | None]:
    """'ok' and the number of quarantined events, or what is wrong and None."""
    try:
        with connect(dsn, autocommit=True) as conn:
            return "ok", count_quarantined(conn)
    except OvcError as error:
        return f"unavailable: {error.message}", None
    except psycopg.Error as error:
        return f"failing: {type(error).__name__} ({error.sqlstate or 'no SQLSTATE'})", None


def _probe(check: Callable[..., object], *args: object) -> str:
    try:
        check(*args)
    except OvcError as error:
        return f"unavailable: {error.message}"
    return "ok"


def _refusal_content(verdict: Verdict) -> dict[str, object]:
    return {"ok": False, "codes": [str(code) for code in verdict.codes], "message": verdict.message}


def _refusal(verdict: Verdict) -> JSONResponse:
    return JSONResponse(_refusal_content(verdict), status_code=verdict.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Not the path: a sender may put the token there (`/tv_secure/<token>`).
    log_request(UNMATCHED_ROUTE, exc.status_code, time.perf_counter(), method=request.method[:10])
    return JSONResponse(
        {"ok": False, "codes": [], "message": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


def create_app(
    config: ReceiverConfig, *, dsn: str, store: RawStore, tuning: LandingTuning | None = None
) -> Starlette:
    """The receiver for one database and raw store; background work runs during its lifespan."""
    service = LandingService(
        dsn, store, Spool(config.spool_dir), dedupe_window=config.dedupe_window, tuning=tuning
    )
    receiver = Receiver(config, dsn, store, service)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # What is loaded now lives as long as the process: keep the collector from
        # re-scanning it on every full collection while requests are served.
        gc.freeze()
        service.start()
        receiver.writer.start()
        flushing = asyncio.get_running_loop().create_task(flush_request_log_periodically())
        try:
            yield
        finally:
            await receiver.writer.stop()
            await asyncio.to_thread(service.close)
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing

    app = Starlette(
        routes=[
            Route("/", receiver.health, methods=["GET"]),
            Route("/healthz", receiver.health, methods=["GET"]),
            Route("/tv", receiver.tv, methods=["POST"]),
            Route("/tv_secure", receiver.tv_secure, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.landing = service
    return app


def create_app_from_environment() -> Starlette:
    """The uvicorn factory `ovc serve` runs in each worker: settings from the environment."""
    configure_logging()
    settings = load_settings()
    store = open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
    config = load_receiver_config(settings, store)
    return create_app(config, dsn=resolve_dsn(settings), store=store)
