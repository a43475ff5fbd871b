"""Benchmark: the webhook receiver (`ovc serve`) against a bare single-INSERT ASGI endpoint.

Run by hand from the repository root (PostgreSQL reachable, loopback only):

    .venv/bin/python benchmarks/bench_receiver.py [--database-url URL] [--duration 5]
        [--rounds 3] [--connections 1,16,64] [--workers 1] [--append-results]

What it does, in one run:
1. creates two fresh migrated databases on the server at `--database-url` (default
   `$OVC_TEST_DATABASE_URL`, else postgresql://postgres@127.0.0.1:5432/postgres) and a raw
   store in a temporary directory; drops the databases at the end;
2. starts the receiver as `ovc serve` runs it (`serve_command`: uvicorn with uvloop and
   httptools), and the baseline: a bare Starlette endpoint on the same uvicorn, same worker
   count, that does one autocommit `INSERT INTO ovc.raw_events` per request (pool of 16) and
   nothing else, the stack's ceiling;
3. at each connection count, loads `POST /tv` of each server in turn, `--rounds` times,
   with realistic all-different MIN export strings (the upstream alert with a unique
   `note`); the server not being measured is frozen (SIGSTOP), so neither's background work
   takes CPU from the other's round, and alternating rounds spread the noise of a shared
   machine over both. The round with the median throughput is reported;
4. waits for the receiver's background raw objects, then checks that every landed event
   has its raw object (none missing) and that every 2xx answer landed.

A receiver 2xx is durable: its batch was appended to a spool segment with one fdatasync and
inserted in one committed transaction. Accepted requests/s counts 2xx answers only.

Load generator: `wrk` (Debian: `apt-get install -y wrk`) in its own process; without it, a
fallback async httpx client in a separate process, which is itself the bottleneck on two
cores (its figures understate both servers). `--append-results` appends the markdown
section to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from psycopg import sql  # noqa: E402

from ovc_assets.storage.migrations import migrate  # noqa: E402
from ovc_assets.storage.postgres import connect, dsn_for_database  # noqa: E402
from ovc_assets.storage.raw_store import FileRawStore  # noqa: E402
from ovc_assets_tests.receiver.receiver_payloads import ALERT_EXPORT  # noqa: E402

NOTE_MARKER = "|note=|"
DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BASELINE_POOL_SIZE = 16
SERVE_SNIPPET = "import typer; from ovc_assets.cli.serve import serve_command; typer.run(serve_command)"

BASELINE_INSERT_SQL = """
INSERT INTO ovc.raw_events (event_id, received_at, route, client_addr, body, body_size, body_sha256,
                            raw_key, parse_status, block_start, last_seen_at)
VALUES (%s, now(), 'tv', %s, %s, %s, %s, %s, 'ok', now(), now())
"""

# Installed in each server process (a sitecustomize on its PYTHONPATH): the wall time and
# duration of every garbage collection, written when the process exits. `gc.callbacks` is
# how CPython reports collections; a full one pauses every request the process serves. The
# duration is the collecting thread's CPU time: what the collection itself costs, without the
# time the process was frozen or waiting for a core on a shared machine.
GC_PROBE = """
import atexit, gc, json, os, time
from multiprocessing import util

_collections = []
_started = [0.0]

def _time_collection(phase, info):
    if phase == "start":
        _started[0] = time.thread_time()
    else:
        _collections.append((time.time(), info["generation"], time.thread_time() - _started[0]))

def _write():
    with open(os.path.join(os.environ["BENCH_GC_DIR"], f"gc-{os.getpid()}.json"), "w") as out:
        json.dump(_collections, out)

gc.callbacks.append(_time_collection)
atexit.register(_write)
util.Finalize(None, _write, exitpriority=0)  # uvicorn's worker processes skip atexit
"""

WRK_SCRIPT = """
local counter = 0
local prefix, suffix = "{prefix}", "{suffix}"
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. "{tag}-" .. counter .. suffix)
end
"""


def create_baseline_app():
    """The bare endpoint: one INSERT per request into raw_events, nothing else (uvicorn factory)."""
    from psycopg_pool import AsyncConnectionPool
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    pool = AsyncConnectionPool(
        os.environ["BENCH_DSN"], min_size=BASELINE_POOL_SIZE, max_size=BASELINE_POOL_SIZE,
        kwargs={"autocommit": True}, open=False,
    )

    async def tv(request):
        body = await request.body()
        event_id = uuid.uuid4()
        async with pool.connection() as conn:
            await conn.execute(
                BASELINE_INSERT_SQL,
                (event_id, request.client.host, body, len(body), hashlib.sha256(body).hexdigest(), f"tv/{event_id}.txt"),
            )
        return JSONResponse({"ok": True, "event_id": str(event_id)})

    @asynccontextmanager
    async def lifespan(app):
        await pool.open()
        yield
        await pool.close()

    return Starlette(routes=[Route("/tv", tv, methods=["POST"])], lifespan=lifespan)


@dataclass
class LoadResult:
    connections: int
    requests: int
    accepted: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def bench_database(server_dsn: str) -> Iterator[str]:
    name = f"ovc_bench_receiver_{uuid.uuid4().hex[:8]}"
    with connect(server_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for_database(server_dsn, name)
    try:
        migrate(dsn)
        yield dsn
    finally:
        with connect(server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def running_server(command: list[str], env: dict[str, str], port: int, log_path: Path) -> Iterator[subprocess.Popen]:
    """A server in a process group of its own (uvicorn's workers included), so it can be frozen."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )
    try:
        wait_for_port(port, process)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGCONT)
        # uvicorn re-raises the signal it stopped on; SIGINT's default handler still lets
        # Python exit normally, so the GC probe's exit hook runs (SIGTERM's would not).
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def only_running(active: subprocess.Popen, idle: subprocess.Popen) -> Iterator[None]:
    """Freeze `idle` (SIGSTOP to its process group) while `active` is measured, so that one
    server's background work never takes CPU from the other's round."""
    os.killpg(idle.pid, signal.SIGSTOP)
    os.killpg(active.pid, signal.SIGCONT)
    try:
        yield
    finally:
        os.killpg(idle.pid, signal.SIGCONT)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("server did not start listening")


def run_wrk(url: str, connections: int, duration: float, tag: str, workdir: Path) -> LoadResult:
    prefix, suffix = ALERT_EXPORT.split(NOTE_MARKER)
    script = workdir / f"load-{tag}.lua"
    script.write_text(WRK_SCRIPT.format(prefix=prefix + "|note=", suffix="|" + suffix, tag=tag))
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    requests = int(match.group(1))
    seconds = float(match.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(3)]
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad = int(failed.group(1)) if failed else 0
    if errors:
        bad += sum(int(value) for value in errors.groups())
    return LoadResult(connections, requests, requests - bad, seconds, wrk_percentile(output, "50%"), wrk_percentile(output, "99%"))


def wrk_percentile(output: str, label: str) -> float:
    value, unit = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def run_python_client(url: str, connections: int, duration: float, tag: str, workdir: Path) -> LoadResult:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(python_client_process, (url, connections, duration, tag))


def python_client_process(url: str, connections: int, duration: float, tag: str) -> LoadResult:
    return asyncio.run(python_client(url, connections, duration, tag))


async def python_client(url: str, connections: int, duration: float, tag: str) -> LoadResult:
    import httpx

    latencies: list[float] = []
    accepted = requests = 0
    deadline = time.monotonic() + duration
    counter = iter(range(10**9))

    async def connection(client: httpx.AsyncClient) -> None:
        nonlocal accepted, requests
        while time.monotonic() < deadline:
            body = ALERT_EXPORT.replace(NOTE_MARKER, f"|note={tag}-{next(counter)}|")
            started = time.perf_counter()
            response = await client.post(url, content=body, headers={"Content-Type": "text/plain"})
            latencies.append(time.perf_counter() - started)
            requests += 1
            accepted += 200 <= response.status_code < 300

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    started = time.monotonic()
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(connection(client) for _ in range(connections)))
    latencies.sort()
    return LoadResult(
        connections, requests, accepted, time.monotonic() - started,
        latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000,
    )


def load_generator():
    return run_wrk if shutil.which("wrk") else run_python_client


def levels_of(results: list[LoadResult]) -> list[int]:
    return [result.connections for result in results]


def median_result(rounds: list[LoadResult]) -> LoadResult:
    """The round with the median throughput (its latencies are reported with it)."""
    return sorted(rounds, key=lambda result: result.accepted_per_second)[len(rounds) // 2]


def wait_for_raw_objects(dsn: str) -> float:
    """Seconds until no landed event waits for its raw object."""
    started = time.monotonic()
    with connect(dsn, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM ovc.raw_events WHERE raw_status = 'pending'").fetchone()[0]:
            time.sleep(0.2)
    return time.monotonic() - started


def verify_landing(dsn: str, raw_root: Path, accepted: int, in_flight: int) -> int:
    """Check that no raw object is missing and that every 2xx landed (a load generator stops
    with up to `in_flight` requests sent but unanswered, which may land too); the number of
    raw objects."""
    with connect(dsn, autocommit=True) as conn:
        keys = [row[0] for row in conn.execute("SELECT raw_key FROM ovc.raw_events")]
    stored = set(FileRawStore(raw_root).list_keys("tv/"))
    missing = [key for key in keys if key not in stored]
    if missing:
        raise SystemExit(f"{len(missing)} raw objects missing, e.g. {missing[0]}")
    if not accepted <= len(keys) <= accepted + in_flight:
        raise SystemExit(f"{len(keys)} events landed for {accepted} requests answered 2xx")
    return len(stored)


def machine(server_dsn: str) -> dict[str, str]:
    """What the results section states about the run's conditions."""
    with connect(server_dsn, autocommit=True) as conn:
        postgres = conn.execute("SHOW server_version").fetchone()[0]
    load = (
        "wrk " + subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
        if shutil.which("wrk")
        else "the fallback httpx client"
    )
    return {
        "nproc": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "python": platform.python_version(),
        "date": subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip(),
        "loadavg": Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "n/a",
        "load": load,
        "postgres": postgres,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("OVC_TEST_DATABASE_URL") or DEFAULT_SERVER_DSN)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server and level, interleaved")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, for both servers")
    parser.add_argument("--append-results", action="store_true")
    args = parser.parse_args()
    levels = [int(level) for level in args.connections.split(",")]
    facts = machine(args.database_url)
    print(f"machine: {facts}", flush=True)
    load = load_generator()
    rounds: dict[str, dict[int, list[LoadResult]]] = {"receiver": {c: [] for c in levels}, "baseline": {c: [] for c in levels}}

    windows: dict[str, list[tuple[float, float]]] = {"receiver": [], "baseline": []}
    with tempfile.TemporaryDirectory(prefix="ovc-bench-") as temporary:
        workdir = Path(temporary)
        with ExitStack() as stack:
            objects, drains = run_servers(args, levels, load, workdir, stack, rounds, windows)
        gc_pauses = {name: gc_pauses_within(workdir / f"gc-{name}", windows[name]) for name in rounds}

    medians = {name: [median_result(rounds[name][c]) for c in levels] for name in rounds}
    section = results_section(args, facts, medians["receiver"], medians["baseline"], drains, objects, gc_pauses)
    print(section)
    if args.append_results:
        with (REPO / "benchmarks" / "RESULTS.md").open("a", encoding="utf-8") as results:
            results.write(section)


def server_environment(workdir: Path, name: str) -> dict[str, str]:
    """What both servers get: the repository importable and the GC probe installed."""
    probe = workdir / "gc-probe"
    probe.mkdir(exist_ok=True)
    (probe / "sitecustomize.py").write_text(GC_PROBE)
    (workdir / f"gc-{name}").mkdir()
    return {"PYTHONPATH": os.pathsep.join([str(probe), str(REPO)]), "BENCH_GC_DIR": str(workdir / f"gc-{name}")}


def run_servers(args, levels, load, workdir, stack, rounds, windows) -> tuple[int, list[float]]:
    """Start both servers, load each in turn; the raw objects stored and the drain times."""
    receiver_dsn = stack.enter_context(bench_database(args.database_url))
    baseline_dsn = stack.enter_context(bench_database(args.database_url))
    receiver_port, baseline_port = free_port(), free_port()
    receiver = stack.enter_context(running_server(
        [sys.executable, "-c", SERVE_SNIPPET, "--port", str(receiver_port), "--workers", str(args.workers)],
        {
            "OVC_HOME": str(workdir / "home"),
            "OVC_DATABASE_URL": receiver_dsn,
            "OVC_RAW_STORE": (workdir / "raw").as_uri(),
            "OVC_TOKEN": "bench-token-0123456789",
            **server_environment(workdir, "receiver"),
        },
        receiver_port,
        workdir / "receiver.log",
    ))
    baseline = stack.enter_context(running_server(
        [
            sys.executable, "-m", "uvicorn", "bench_receiver:create_baseline_app", "--factory",
            "--app-dir", str(REPO / "benchmarks"), "--port", str(baseline_port), "--workers", str(args.workers),
            "--no-access-log", "--log-level", "warning",
        ],
        {"BENCH_DSN": baseline_dsn, **server_environment(workdir, "baseline")},
        baseline_port,
        workdir / "baseline.log",
    ))
    servers = {
        "receiver": (receiver, baseline, f"http://127.0.0.1:{receiver_port}/tv"),
        "baseline": (baseline, receiver, f"http://127.0.0.1:{baseline_port}/tv"),
    }
    drains = []
    for connections in levels:
        for number in range(args.rounds):
            for name, (active, idle, url) in servers.items():
                with only_running(active, idle):
                    tag = f"{name[0]}{connections}-{number}-{uuid.uuid4().hex[:6]}"
                    started = time.time()
                    result = load(url, connections, args.duration, tag, workdir)
                    windows[name].append((started, time.time()))
                rounds[name][connections].append(result)
                print(f"  {name} c={connections} round {number + 1}: {result.accepted_per_second:,.0f} accepted/s, "
                      f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms", flush=True)
        # Each level is a burst: the receiver writes the burst's raw objects afterwards.
        drains.append(wait_for_raw_objects(receiver_dsn))
        print(f"  receiver wrote the raw objects of c={connections} in {drains[-1]:.1f} s after it", flush=True)
    accepted = sum(r.accepted for results in rounds["receiver"].values() for r in results)
    objects = verify_landing(receiver_dsn, workdir / "raw", accepted, in_flight=sum(c * args.rounds for c in levels))
    return objects, drains


@dataclass
class GcPauses:
    """The collections a server ran during its measured rounds."""

    count: dict[int, int]
    longest_ms: dict[int, float]
    total_ms: float

    def describe(self) -> str:
        parts = [
            f"gen{generation}: {self.count.get(generation, 0)}, longest {self.longest_ms.get(generation, 0.0):.2f} ms"
            for generation in (0, 1, 2)
        ]
        return "; ".join(parts) + f"; {self.total_ms:.0f} ms in all"


def gc_pauses_within(directory: Path, windows: list[tuple[float, float]]) -> GcPauses:
    """What the probe of each process in `directory` saw inside the rounds' time windows."""
    count: dict[int, int] = {}
    longest: dict[int, float] = {}
    total = 0.0
    for path in directory.glob("gc-*.json"):
        for at, generation, seconds in json.loads(path.read_text()):
            if any(start <= at <= end for start, end in windows):
                count[generation] = count.get(generation, 0) + 1
                longest[generation] = max(longest.get(generation, 0.0), seconds * 1000)
                total += seconds * 1000
    return GcPauses(count, longest, total)


def results_section(args, facts, receiver, baseline, drains, objects, gc_pauses) -> str:
    rows = []
    for ours, bare in zip(receiver, baseline):
        share = ours.accepted_per_second / bare.accepted_per_second
        rows.append(
            f"| {ours.connections} | {ours.accepted_per_second:,.0f} | {ours.p50_ms:.2f} | {ours.p99_ms:.2f} "
            f"| {bare.accepted_per_second:,.0f} | {bare.p50_ms:.2f} | {bare.p99_ms:.2f} | {share:.0%} |"
        )
    command = " ".join(["benchmarks/bench_receiver.py", *sys.argv[1:]])
    return textwrap.dedent(
        f"""
        ### Webhook receiver (issue 4): `ovc serve` vs a bare single-INSERT endpoint, {args.workers} worker(s)

        Command: `.venv/bin/python {command}`
        Machine: nproc {facts['nproc']}, Python {facts['python']}, PostgreSQL {facts['postgres']} on 127.0.0.1;
        load by {facts['load']} (one thread) in its own process; `{facts['date']}`; 1-minute load
        average {facts['loadavg']} at the start (the machine is shared with other work).

        Both servers: {args.workers} uvicorn worker(s) each (uvloop, httptools), `POST /tv` with all-different
        MIN v0.1 export strings (the upstream alert, unique `note`, ~690 bytes); {args.rounds} interleaved
        rounds of {args.duration:.0f} s per server and level, the other server frozen meanwhile; the
        median round is shown. Receiver: each 2xx is durable (its batch appended to a spool segment
        with one fdatasync and landed in one committed transaction, parsed, deduplicated, logged).
        Baseline, same run: bare Starlette endpoint, one autocommit `INSERT INTO ovc.raw_events` per
        request (pool of {BASELINE_POOL_SIZE}), nothing else.

        | connections | receiver req/s | p50 ms | p99 ms | baseline req/s | p50 ms | p99 ms | receiver / baseline |
        |---:|---:|---:|---:|---:|---:|---:|---:|
        """
    ) + "\n".join(rows) + textwrap.dedent(
        f"""

        Each level is a burst, as TradingView's alerts are (they come at the 2H block closes): the
        receiver writes the per-event raw objects (one file and two fsyncs each) in the background
        once the writer is idle, or once the oldest has waited 30 s, and each level starts after
        the previous burst's objects are written ({", ".join(f"c={c}: {d:.1f} s" for c, d in zip(levels_of(receiver), drains))}
        after the burst). At the end all {objects} objects were in the store, none missing, and every
        2xx answer had its event in the database.

        Garbage collections during the measured rounds (count and longest pause per generation, CPU
        time of the collecting thread):
        receiver {gc_pauses["receiver"].describe()}; baseline {gc_pauses["baseline"].describe()}.
        """
    )


if __name__ == "__main__":
    main()
