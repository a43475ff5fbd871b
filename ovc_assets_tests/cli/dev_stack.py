"""`ovc dev` as a user runs it, for the tests: a real process on loopback ports, waited for
until it prints its URLs, and stopped by a signal with every process it started accounted for."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ovc_assets_tests.conftest import REPO_ROOT

READY_LINE = "ready; Ctrl-C stops everything"
URL_LINE = re.compile(r"^(Dagster UI|webhook|health)\s+(\S+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_groups_of_children(pid: int) -> set[int]:
    """The process groups of the direct children of `pid` (read from /proc)."""
    groups = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            groups.add(int(fields[2]))
    return groups


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class DevStack:
    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    groups: set[int] = field(default_factory=set)
    _queue: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, env: dict[str, str], log_path: Path) -> DevStack:
        command = [sys.executable, "-m", "ovc_assets.cli", "dev", "--port", str(free_port()),
                   "--webhook-port", str(free_port())]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        stack = cls(process)
        threading.Thread(target=stack._pump, args=(log_path,), daemon=True).start()
        return stack

    def _pump(self, log_path: Path) -> None:
        with log_path.open("w") as log:
            for line in self.process.stdout:
                log.write(line)
                log.flush()
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("ovc dev exited before it was ready:\n" + "\n".join(self.lines[-30:]))
            self.lines.append(line)
            match = URL_LINE.match(line)
            if match:
                self.urls[match.group(1)] = match.group(2)
            if line == READY_LINE:
                self.groups = process_groups_of_children(self.process.pid)
                return
        raise AssertionError(f"ovc dev not ready within {timeout} s:\n" + "\n".join(self.lines[-30:]))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> float:
        """Signal `ovc dev`; the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signum)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started

    def kill_leftovers(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pgid in self.groups:
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
