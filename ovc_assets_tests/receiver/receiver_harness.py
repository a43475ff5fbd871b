"""Helpers of the receiver tests: the app in-process, raw connections to a served one,
database look-ups, outages."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from starlette.applications import Starlette

from ovc_assets.receiver.landing import LandingTuning
from ovc_assets.storage.postgres import connect

FAST_TUNING = LandingTuning(
    idle_gap_seconds=0.01,
    retry_initial_seconds=0.05,
    retry_max_seconds=0.2,
    maintenance_interval_seconds=0.05,
    orphan_scan_interval_seconds=0.5,
    pending_sweep_interval_seconds=0.5,
    pending_sweep_min_age=timedelta(0),
)


@asynccontextmanager
async def serving(app: Starlette, client_host: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan around an HTTP client that talks to it in-process."""
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver", timeout=30) as client:
            yield client


def run(app: Starlette, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]], client_host: str = "127.0.0.1") -> Any:
    """Run `scenario(client)` against the app, lifespan included (so the spool is settled after)."""

    async def main() -> Any:
        async with serving(app, client_host) as client:
            return await scenario(client)

    return asyncio.run(main())


def post(path: str, body: bytes | str, **kwargs: Any) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
    """A scenario of one POST."""

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(path, content=body, **kwargs)

    return scenario


WAIT_FOR_SERVER_SECONDS = 15


def open_connection(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=WAIT_FOR_SERVER_SECONDS)
    return connection


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes; `TimeoutError` if it keeps the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def fetch_events(database_url: str) -> list[dict[str, Any]]:
    """Every landed event, oldest first."""
    with connect(database_url) as conn:
        cursor = conn.execute("SELECT * FROM ovc.raw_events ORDER BY received_at, event_id")
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def wait_until(condition: Callable[[], bool], timeout: float = 20, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)


async def eventually(condition: Callable[[], bool], timeout: float = 20, message: str = "condition") -> None:
    """`wait_until` inside a scenario, letting the app run meanwhile."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        await asyncio.sleep(0.05)


def set_database_accepting(database_url: str, admin_dsn: str, accepting: bool) -> None:
    """Make the test database refuse (and drop) connections, or accept them again: a database
    outage for an in-process receiver."""
    name = conninfo_to_dict(database_url)["dbname"]
    with connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(sql.Identifier(name), sql.Literal(accepting)))
        if not accepting:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
