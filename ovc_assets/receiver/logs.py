"""The receiver's logs: one JSON line per request, and its own messages, on stderr.

Request lines carry only named fields (route, status, latency, codes, event id, client,
size, worker), never a body, a query string or a header, so a token cannot reach them.
They are written in batches (`BatchedLineHandler`): a write and a flush per request would
cost the event loop a system call each, about a sixth of the receiver's throughput.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from typing import TextIO

request_log = logging.getLogger("ovc_assets.receiver.requests")
receiver_log = logging.getLogger("ovc_assets.receiver")

FLUSH_INTERVAL_SECONDS = 0.2


def log_request(route: str, status: int, started: float, **fields: object) -> None:
    """One request line: route, status, latency since `started` (perf_counter), `fields`."""
    if request_log.isEnabledFor(logging.INFO):
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        record = {"route": route, "status": status, "latency_ms": latency_ms, "worker": os.getpid(), **fields}
        request_log.info(json.dumps(record, separators=(",", ":")))


class BatchedLineHandler(logging.Handler):
    """Keeps formatted records and writes them to `stream` together when flushed."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self._stream = stream
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:  # the logging contract: a bad record is reported, never raised
            self.handleError(record)

    def flush(self) -> None:
        with self.lock:
            lines, self._lines = self._lines, []
        if lines:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()

    def close(self) -> None:
        self.flush()
        super().close()


def configure_logging() -> None:
    """Logs of an `ovc serve` worker to stderr: request lines as bare JSON objects, batched;
    the receiver's own messages (spool, database, raw store) with time and level."""
    if not request_log.handlers:
        request_log.addHandler(BatchedLineHandler(sys.stderr))
        request_log.setLevel(logging.INFO)
        request_log.propagate = False
    if not receiver_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        receiver_log.addHandler(handler)
        receiver_log.setLevel(logging.INFO)
        receiver_log.propagate = False


async def flush_request_log_periodically() -> None:
    """Flush the request log every `FLUSH_INTERVAL_SECONDS` until cancelled, then once more."""
    try:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_SECONDS)
            _flush_request_log()
    finally:
        _flush_request_log()


def _flush_request_log() -> None:
    for handler in request_log.handlers:
        handler.flush()
