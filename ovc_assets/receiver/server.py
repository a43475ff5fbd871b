"""The HTTP server's limits: how long and how much a client may take before its request.

uvicorn's httptools protocol keeps every byte of an unfinished request line and header block,
has no timer between a connection's first byte and the end of its headers (its keep-alive
timer stops at the first byte), and under libuv a process out of file descriptors accepts
and drops new connections, valid alerts among them. `GuardedHttpToolsProtocol` adds:

- a size limit: request line plus headers over `MAX_HEADER_BYTES` get a 431, then close;
- a header deadline: a connection that has not completed a request's headers within
  `HEADER_TIMEOUT_SECONDS` of connecting (or of its previous response) is closed. When the
  deadline's timer runs while bytes the client sent wait unread in the socket, the process,
  not the client, was late, and those bytes decide: the connection is closed unless they
  complete the headers. A process stopped past the deadline (SIGSTOP, a debugger, a frozen
  container) runs its due timers before reading what arrived meanwhile: a stop interrupts
  its epoll_wait (signal(7)), and libuv, like asyncio (PEP 475), does not poll again once
  the poll's time is up;
- a connection cap below the descriptor limit: when a new connection would exceed it, the
  connection that has waited longest without completing its headers is closed, so idle
  connections cannot crowd out a sender that is sending.

The body's deadline is the app's (`app.BODY_DEADLINE_SECONDS`), since only the app can store
what arrived of it. `server_options` are the uvicorn settings `ovc serve` runs with, and
`run_server` runs it, its workers (if more than one) under `WorkerSupervisor`.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import logging
import resource
import struct
import termios

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors.multiprocess import Multiprocess, Process

supervisor_log = logging.getLogger("uvicorn.error")

MAX_HEADER_BYTES = 32 * 1024
"""Request line plus headers; TradingView sends well under 2 KiB."""
HEADER_TIMEOUT_SECONDS = 2.0
"""From a connection's (or the previous response's) end to its request's headers; well
under TradingView's 3 s, within which its whole request must be answered."""
RESERVED_DESCRIPTORS = 64
"""File descriptors kept for the database, the spool, the raw store and the logs."""
MIN_CONNECTIONS = 32

_HEADERS_TOO_LARGE_BODY = b'{"ok": false, "codes": [], "message": "request line and headers too large"}'
_HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_HEADERS_TOO_LARGE_BODY), _HEADERS_TOO_LARGE_BODY)
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on each request's headers,
    and a cap on connections that evicts the longest-waiting one."""

    waiting: dict[GuardedHttpToolsProtocol, None] = {}
    """This process's connections waiting for a request's headers, oldest first."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._judge_at_next_read = False
        self._headers_pending = False  # until a request begins
        self._header_bytes = 0
        self._await_headers()
        cap = connection_cap()
        if cap is not None and len(self.connections) > cap:
            oldest = next(iter(self.waiting))
            if oldest is not self:
                oldest._close()

    def data_received(self, data: bytes) -> None:
        self._message_boundary = False
        super().data_received(data)
        # A chunk in which a request began or its headers ended also carries bytes of
        # something else (a previous body, this body): only chunks wholly inside the
        # request line and headers count.
        if self._headers_pending and not self._message_boundary:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self.transport.write(_HEADERS_TOO_LARGE)
                self._close()
        if self._judge_at_next_read:  # the deadline passed and these bytes did not end the headers
            self._close()

    def on_message_begin(self) -> None:
        self._message_boundary = self.cycle is not None  # bytes of an earlier request came first
        super().on_message_begin()
        self._headers_pending = True
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        self._message_boundary = True
        self._headers_pending = False
        self._header_bytes = 0
        self._stop_waiting()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Unless a pipelined request is being answered, the next one's headers are awaited.
        if not self.transport.is_closing() and self._header_timer is None and self.cycle.response_complete:
            self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def timeout_keep_alive_handler(self) -> None:
        # uvicorn's idle timer between requests, due with the header deadline: the same judgement.
        self._deadline_reached()

    def _await_headers(self) -> None:
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_SECONDS, self._deadline_reached)
        self.waiting[self] = None

    def _deadline_reached(self) -> None:
        if unread_bytes(self.transport):
            self._judge_at_next_read = True
        else:
            self._close()

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._judge_at_next_read = False
        self.waiting.pop(self, None)

    def _close(self) -> None:
        self._stop_waiting()
        if not self.transport.is_closing():
            self.transport.close()


def unread_bytes(transport: asyncio.Transport) -> int:
    """How many received bytes wait in the transport's socket, not yet read."""
    connection = transport.get_extra_info("socket")
    if connection is None or transport.is_closing():
        return 0
    return struct.unpack("i", fcntl.ioctl(connection.fileno(), termios.FIONREAD, b"\0" * 4))[0]


@functools.cache
def connection_cap() -> int | None:
    """How many connections this process keeps open: its descriptor limit less a reserve."""
    soft_limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft_limit == resource.RLIM_INFINITY else max(MIN_CONNECTIONS, soft_limit - RESERVED_DESCRIPTORS)


def server_options() -> dict[str, object]:
    """The uvicorn settings of `ovc serve` that bound what clients can hold."""
    return {
        "http": GuardedHttpToolsProtocol,
        # Between requests as before the first: the same deadline.
        "timeout_keep_alive": HEADER_TIMEOUT_SECONDS,
    }


class WorkerSupervisor(Multiprocess):
    """uvicorn's supervisor of worker processes, replacing a worker only once it has exited.

    uvicorn's own kills (SIGKILL) a worker that has not answered its ping within
    `timeout_worker_healthcheck` (5 s, counted from the worker's spawn; Kludex/uvicorn#2506).
    On a CPU-starved machine that worker is healthy, still importing or serving a burst: its
    connections closed with their requests unanswered (TradingView does not resend), and each
    replacement's start-up loaded the machine further, until under load no worker ever started.
    A slow worker still answers what it holds, as a single `ovc serve` process (which nothing
    pings) does.
    """

    def keep_subprocess_alive(self) -> None:
        for index, worker in enumerate(self.processes):
            if self.should_exit.is_set() or worker.process.is_alive():
                continue
            worker.join()
            if worker.process.exitcode == STARTUP_FAILURE:
                # The app cannot start: every replacement would fail the same way.
                supervisor_log.error("Child process [%s] failed to start, stopping the parent process.", worker.pid)
                self.should_exit.set()
                return
            supervisor_log.info("Child process [%s] died", worker.pid)
            replacement = Process(self.config, self.sockets)
            replacement.start()
            self.processes[index] = replacement


def run_server(app: str, workers: int, **options: object) -> None:
    """uvicorn serving the app factory at `app` with `options`: in this process, or in `workers`
    processes under a `WorkerSupervisor`."""
    if workers == 1:
        uvicorn.run(app, factory=True, **options)
        return
    config = uvicorn.Config(app, factory=True, workers=workers, **options)
    WorkerSupervisor(config, sockets=[config.bind_socket()]).run()
