"""The server's limits on loopback (issue 10, finding 4), against `ovc serve` in its own
process: header size, header deadline, body deadline, idle keep-alive, and idle connections
that must not starve a valid alert. Raw sockets, bounded in count and time; a bound is how
long a check waits for the server, never a performance claim."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

import httpx

from ovc_assets.receiver.server import MAX_HEADER_BYTES
from ovc_assets_tests.receiver.receiver_harness import (
    WAIT_FOR_SERVER_SECONDS,
    fetch_events,
    head,
    open_connection,
    read_until_closed,
)
from ovc_assets_tests.receiver.receiver_payloads import ALERT_EXPORT, unique_export
from ovc_assets_tests.receiver.test_receiver_reliability import serving


def test_the_server_bounds_headers_bodies_and_idle_connections(
    ovc_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    with serving({**os.environ, **ovc_env}, tmp_path / "serve.log") as (_, url):
        # Headers just beyond the limit, unfinished: 431 and closed, not kept growing. (Just
        # beyond: bytes arriving after the close would reset the connection, answer unread.)
        with open_connection(url) as connection:
            start = b"POST /tv HTTP/1.1\r\nhost: 127.0.0.1\r\nx-filler: "
            connection.sendall(start + b"a" * (MAX_HEADER_BYTES + 100 - len(start)))
            answer = read_until_closed(connection)
        assert answer.startswith(b"HTTP/1.1 431 ")

        # Headers started and never finished: closed by the header deadline.
        with open_connection(url) as connection:
            connection.sendall(b"POST /tv HTTP/1.1\r\nhost: 127.0.0.1\r\n")
            assert read_until_closed(connection) == b""

        # A connection that sends nothing at all: closed by the same deadline.
        with open_connection(url) as connection:
            assert read_until_closed(connection) == b""

        # A body shorter than its Content-Length: what arrived is stored, the answer is 408.
        partial = unique_export(7).encode()
        with open_connection(url) as connection:
            connection.sendall(head("/tv", {"content-length": str(len(partial) + 1000)}) + partial)
            answer = read_until_closed(connection)
        status_line, _, rest = answer.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 408 Request Timeout"
        assert json.loads(rest.partition(b"\r\n\r\n")[2])["codes"] == ["E_BODY_INCOMPLETE"]
        [event] = fetch_events(database_url)
        assert bytes(event["body"]) == partial and event["body_truncated"] and event["codes"] == ["E_BODY_INCOMPLETE"]

        # A body larger than the header limit is no header: sent with its headers or after them.
        for number, split in ((9, False), (10, True)):
            body = unique_export(number).encode().ljust(60_000, b" ")
            with open_connection(url) as connection:
                request_head = head("/tv", {"content-length": str(len(body)), "connection": "close"})
                if split:
                    connection.sendall(request_head)
                    connection.sendall(body)
                else:
                    connection.sendall(request_head + body)
                assert read_until_closed(connection).startswith(b"HTTP/1.1 200 OK")

        # A kept-alive connection left idle after its answer is closed.
        with open_connection(url) as connection:
            body = unique_export(8).encode()
            connection.sendall(head("/tv", {"content-length": str(len(body))}) + body)
            answer = read_until_closed(connection)
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.count(b"HTTP/1.1") == 1


def limit_open_files_to_256() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_idle_connections_cannot_starve_a_valid_alert(ovc_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    with serving({**os.environ, **ovc_env}, tmp_path / "serve.log", preexec_fn=limit_open_files_to_256) as (_, url):
        idle = [open_connection(url) for _ in range(300)]  # more than the server has descriptors
        try:
            answer = httpx.post(f"{url}/tv", content=ALERT_EXPORT, timeout=WAIT_FOR_SERVER_SECONDS * 2)
        finally:
            for connection in idle:
                connection.close()
    assert answer.status_code == 200
    assert [str(event["event_id"]) for event in fetch_events(database_url)] == [answer.json()["event_id"]]
