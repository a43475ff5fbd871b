"""Real processes on 127.0.0.1: `ovc serve` killed with -9 mid-load, its database stopped and
started again mid-load, and two workers racing on one body. Bounded in count and time."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from itertools import repeat
from pathlib import Path

import httpx

from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import EmbeddedPostgres, connect
from ovc_assets.storage.raw_store import FileRawStore
from ovc_assets_tests.receiver.receiver_harness import head, open_connection, read_until_closed, wait_until
from ovc_assets_tests.receiver.receiver_payloads import ALERT_EXPORT, unique_export

START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(
    env: dict[str, str], log: Path, workers: int = 1, preexec_fn: Callable[[], None] | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`ovc serve` in its own process (`preexec_fn` runs in it first), until it exits or the block ends."""
    port = free_port()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "ovc_assets.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=output, stderr=subprocess.STDOUT, preexec_fn=preexec_fn,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: process.poll() is not None or _answers(url), START_TIMEOUT_SECONDS, "the server to start")
        assert process.poll() is None, log.read_text()[-3000:]
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
    except httpx.HTTPError:
        return False


async def send(url: str, numbers: range, acknowledged: dict[int, str], concurrency: int, after_each=None) -> None:
    """POST one unique body per number; record the event id of each 2xx."""
    limits = httpx.Limits(max_connections=concurrency)
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def one(number: int) -> None:
            async with semaphore:
                try:
                    response = await client.post(f"{url}/tv", content=unique_export(number))
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    acknowledged[number] = response.json()["event_id"]
                    if after_each is not None:
                        after_each()

        await asyncio.gather(*(one(number) for number in numbers))


def landed_ids(dsn: str) -> list[str]:
    with connect(dsn) as conn:
        return [str(row[0]) for row in conn.execute("SELECT event_id FROM ovc.raw_events")]


def no_raw_pending(dsn: str) -> bool:
    with connect(dsn) as conn:
        return not conn.execute("SELECT count(*) FROM ovc.raw_events WHERE raw_status = 'pending'").fetchone()[0]


def assert_spool_empty(raw_root: Path) -> None:
    """After a clean shutdown no segment is left: every event in them was settled."""
    assert not list((raw_root / ".spool").glob("*.seg"))


def assert_every_event_has_its_raw_object(dsn: str, raw_root: Path) -> None:
    with connect(dsn) as conn:
        keys = {row[0] for row in conn.execute("SELECT raw_key FROM ovc.raw_events")}
    assert keys <= set(FileRawStore(raw_root).list_keys("tv/"))


# Enough in flight that the kill lands among requests being answered and raw objects still
# pending; more only costs time.
SENT = 1200
KILL_AFTER_ACKS = 300


def test_kill_9_mid_load_loses_no_acknowledged_event(ovc_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, **ovc_env}
    raw_root = Path(ovc_env["OVC_HOME"]) / "raw"
    log = tmp_path / "serve.log"
    acknowledged: dict[int, str] = {}

    with serving(env, log) as (process, url):

        def kill_at_kill_after() -> None:
            if len(acknowledged) == KILL_AFTER_ACKS:
                os.kill(process.pid, signal.SIGKILL)

        asyncio.run(send(url, range(SENT), acknowledged, concurrency=16, after_each=kill_at_kill_after))
        assert process.wait(timeout=10) == -signal.SIGKILL
    assert KILL_AFTER_ACKS <= len(acknowledged) < SENT

    with serving(env, log):  # the restart replays what the killed process left
        wait_until(lambda: no_raw_pending(database_url), 60, "the replay after the restart")
    assert_spool_empty(raw_root)
    landed = landed_ids(database_url)
    assert set(acknowledged.values()) <= set(landed)
    assert len(landed) == len(set(landed)) <= SENT
    assert_every_event_has_its_raw_object(database_url, raw_root)


def test_a_database_stopped_during_load_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("OVC_DATABASE_URL", "OVC_RAW_STORE", "OVC_TOKEN")}
    env["OVC_HOME"] = str(home)
    database = EmbeddedPostgres(home / "pg")
    dsn = database.start(keep_running=True)
    acknowledged: dict[int, str] = {}
    try:
        migrate(dsn)
        with serving(env, tmp_path / "serve.log") as (_, url):

            async def load() -> None:
                await send(url, range(0, 300), acknowledged, concurrency=8)
                # Stop the server for real while requests are in flight, then start it again.
                await asyncio.gather(send(url, range(300, 700), acknowledged, 8), asyncio.to_thread(database.stop))
                await send(url, range(700, 900), acknowledged, concurrency=8)
                await asyncio.gather(
                    send(url, range(900, 1300), acknowledged, 8), asyncio.to_thread(database.start, keep_running=True)
                )

            asyncio.run(load())
            wait_until(lambda: _spooled(url) == 0, 60, "the spooled events to land")
            wait_until(lambda: no_raw_pending(dsn), 60, "the raw objects")
        assert_spool_empty(home / "raw")
        assert len(acknowledged) == 1300  # the raw store took what the database could not
        with connect(dsn) as conn:
            events, bodies, resends, counted = conn.execute(
                "SELECT count(*), count(DISTINCT body_sha256), (SELECT count(*) FROM ovc.raw_event_duplicates),"
                " coalesce(sum(duplicate_count), 0) FROM ovc.raw_events"
            ).fetchone()
        assert (events, bodies, resends, counted) == (1300, 1300, 0, 0)
        assert set(acknowledged.values()) == set(landed_ids(dsn))
        assert_every_event_has_its_raw_object(dsn, home / "raw")
    finally:
        database.stop()


def _spooled(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).json()["landing"]["spooled_awaiting_database"]
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def post_on_a_connection_of_its_own(url: str, request: bytes) -> tuple[int, dict]:
    """Send `request` as soon as connected, as the header deadline expects of a sender: an
    asyncio client starved of CPU took longer than the deadline between connecting and
    sending, and was rightly closed unanswered. The status and JSON body of the answer."""
    with open_connection(url) as connection:
        connection.sendall(request)
        answer = read_until_closed(connection)
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_two_workers_record_a_thousand_identical_bodies_once(ovc_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    # A new connection per request, so that both workers take a share.
    body = ALERT_EXPORT.encode()
    request = head("/tv", {"content-length": str(len(body)), "connection": "close"}) + body
    log = tmp_path / "serve.log"
    with serving({**os.environ, **ovc_env}, log, workers=2) as (_, url):
        time.sleep(1)  # both workers up, not only the first to answer
        with ThreadPoolExecutor(max_workers=16) as senders:
            statuses, answers = zip(*senders.map(post_on_a_connection_of_its_own, repeat(url, 1000), repeat(request)))
    request_lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"route":"tv"')]
    assert len({line["worker"] for line in request_lines}) == 2
    assert set(statuses) == {200}
    assert sum(not answer["duplicate"] for answer in answers) == 1
    assert len({answer["event_id"] for answer in answers}) == 1
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*), sum(duplicate_count) FROM ovc.raw_events").fetchone() == (1, 999)


STALL_SECONDS = 6
"""Longer than the header deadline (2 s) and than uvicorn's worker health check (5 s)."""


def worker_pids(supervisor: subprocess.Popen) -> list[int]:
    """The worker processes `ovc serve --workers N` spawned (multiprocessing's spawn children)."""
    children = Path(f"/proc/{supervisor.pid}/task/{supervisor.pid}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def signal_all(pids: list[int], signal_number: int) -> None:
    for pid in pids:
        os.kill(pid, signal_number)


def test_workers_stalled_past_every_deadline_answer_what_arrived_in_time_and_close_unfinished_headers(
    ovc_env: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    """Workers that get no CPU for longer than any deadline (SIGSTOP makes it certain) while
    one kept-alive connection's next request and another's unfinished headers wait in their
    sockets. Once they run again, the supervisor has killed neither, the request is answered
    and the unfinished headers are still closed by the deadline."""
    with serving({**os.environ, **ovc_env}, tmp_path / "serve.log", workers=2) as (process, url):
        wait_until(lambda: len(worker_pids(process)) == 2, START_TIMEOUT_SECONDS, "both workers")
        workers = worker_pids(process)
        host, port = url.removeprefix("http://").split(":")
        slow_sender = http.client.HTTPConnection(host, int(port), timeout=STALL_SECONDS * 5)
        with httpx.Client(base_url=url, timeout=STALL_SECONDS * 5) as client, closing(slow_sender):
            # Each connection kept alive after a first request answered.
            assert client.post("/tv", content=unique_export(1)).status_code == 200
            slow_sender.request("POST", "/tv", body=unique_export(2))
            with slow_sender.getresponse() as first_answer:
                assert first_answer.status == 200 and first_answer.read()
            signal_all(workers, signal.SIGSTOP)
            slow_sender.sock.sendall(b"POST /tv HTTP/1.1\r\nhost: 127.0.0.1\r\n")
            resume = threading.Timer(STALL_SECONDS, signal_all, (workers, signal.SIGCONT))
            resume.start()
            try:
                answer = client.post("/tv", content=unique_export(3))
            finally:
                resume.join()
            assert slow_sender.sock.recv(1024) == b""
        assert answer.status_code == 200
        assert worker_pids(process) == workers
    assert len(landed_ids(database_url)) == 3


def spool_segments(raw_root: Path) -> list[Path]:
    return list((raw_root / ".spool").glob("*.seg"))


def raw_object_count(raw_root: Path) -> int:
    return sum(1 for path in (raw_root / "tv").rglob("*.txt")) if (raw_root / "tv").is_dir() else 0


def pending_count(dsn: str) -> int:
    with connect(dsn) as conn:
        return conn.execute("SELECT count(*) FROM ovc.raw_events WHERE raw_status = 'pending'").fetchone()[0]


def kill_while_raw_objects_are_written(process: subprocess.Popen, dsn: str, raw_root: Path, pause: float) -> bool:
    """SIGKILL once the background raw writer is seen writing (objects appearing while events
    are still pending), `pause` seconds later; False if it finished before that was seen."""
    seen = raw_object_count(raw_root)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and pending_count(dsn):
        time.sleep(0.01)
        now = raw_object_count(raw_root)
        if now > seen:
            time.sleep(pause)
            os.kill(process.pid, signal.SIGKILL)
            return True
        seen = now
    return False


SETTLED_AT_START_SECONDS = 20
MID_LOAD_SENT = 800
RAW_WRITER_SENT = 400
"""How long a restarted receiver gets to settle what the killed one left: far below the
periodic sweep (5 minutes), which must not be what settles it."""


def test_kills_at_random_moments_are_settled_at_start_up(ovc_env: dict[str, str], database_url: str, tmp_path: Path) -> None:
    """kill -9 at random moments, mid-load or inside the background raw writer (each kind at
    least once, in a random order); each restart settles everything the dead process left
    (segments and pending raw objects) at start-up."""
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    mid_load_rounds = rng.sample([True, False, rng.random() < 0.5], 3)
    env = {**os.environ, **ovc_env}
    raw_root = Path(ovc_env["OVC_HOME"]) / "raw"
    log = tmp_path / "serve.log"
    acknowledged: dict[int, str] = {}
    kills = []
    for round_number, mid_load in enumerate(mid_load_rounds):
        first = round_number * MID_LOAD_SENT
        with serving(env, log) as (process, url):
            wait_until(
                lambda: not pending_count(database_url) and not spool_segments(raw_root),
                SETTLED_AT_START_SECONDS, f"the start-up settlement (seed {seed}, kills {kills})",
            )
            if mid_load:
                kill_after = rng.randrange(20, MID_LOAD_SENT - 200)
                kills.append(f"mid-load after {kill_after} acks")

                def kill_mid_load() -> None:
                    if len(acknowledged) - acknowledged_before == kill_after:
                        os.kill(process.pid, signal.SIGKILL)

                acknowledged_before = len(acknowledged)
                asyncio.run(send(url, range(first, first + MID_LOAD_SENT), acknowledged, 16, after_each=kill_mid_load))
            else:
                pause = rng.uniform(0, 0.2)
                kills.append(f"raw writer, {pause:.3f} s in")
                asyncio.run(send(url, range(first, first + RAW_WRITER_SENT), acknowledged, 16))
                if not kill_while_raw_objects_are_written(process, database_url, raw_root, pause):
                    os.kill(process.pid, signal.SIGKILL)
                    kills[-1] += " (writer already done)"
            assert process.wait(timeout=10) == -signal.SIGKILL
    with serving(env, log):
        wait_until(
            lambda: not pending_count(database_url) and not spool_segments(raw_root),
            SETTLED_AT_START_SECONDS, f"the start-up settlement (seed {seed}, kills {kills})",
        )
    landed = landed_ids(database_url)
    assert set(acknowledged.values()) <= set(landed), f"seed {seed}, kills {kills}"
    assert len(landed) == len(set(landed))
    assert_every_event_has_its_raw_object(database_url, raw_root)
