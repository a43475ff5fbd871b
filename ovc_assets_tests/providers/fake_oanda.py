"""A fake OANDA v20 REST server on 127.0.0.1, written from the documented API shape.

It serves ``GET /v3/instruments/{instrument}/candles`` for a few instruments with generated,
deterministic prices: candles only while the FX market is open (Sunday 17:00 to Friday 17:00
New York), aligned like OANDA's (``dailyAlignment`` in ``alignmentTimezone`` for H2),
paged by ``from`` + ``count`` with ``includeFirst``, and the candle containing the server's
``now`` returned as ``complete: false``. Faults are scripted per request: any status with
headers (429 with Retry-After, 500, ...) or a dropped connection (the socket is closed
without a response). A wrong bearer token gets 401, an unknown instrument 400.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

GRANULARITY_SECONDS = {"M1": 60, "M5": 300, "M15": 900, "H1": 3600, "H2": 7200}
PRICE_KEYS = {"M": "mid", "B": "bid", "A": "ask"}
MAX_COUNT = 5000
HALF_SPREAD = 0.0001


@dataclass(frozen=True)
class Fault:
    """What the server does instead of answering one request: a status, or ``None`` to drop."""

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def drop(cls) -> Fault:
        return cls(status=None)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class FakeOanda:
    """The server; ``url`` is its base URL. Use as a context manager (it runs in a thread)."""

    def __init__(self, *, token: str, now: datetime, instruments: tuple[str, ...] = ("GBP_USD", "EUR_USD")) -> None:
        self.token = token
        self.now = now
        self.instruments = instruments
        self.requests: list[RecordedRequest] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeOanda:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def script(self, *faults: Fault) -> None:
        """Answer the next ``len(faults)`` requests with these faults, in order."""
        with self._lock:
            self._faults.extend(faults)

    def candle_requests(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path.endswith("/candles")]

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, dict]:
        """Status and JSON body for a request that is not faulted."""
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"errorMessage": "Insufficient authorization to perform request."}
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[:2] != ["v3", "instruments"] or parts[3] != "candles":
            return 404, {"errorMessage": "The requested URL was not found"}
        instrument = parts[2]
        if instrument not in self.instruments:
            return 400, {"errorMessage": "Invalid value specified for 'instrument'"}
        granularity = params.get("granularity", "S5")
        price = params.get("price", "M")
        if granularity not in GRANULARITY_SECONDS:
            return 400, {"errorMessage": "Invalid value specified for 'granularity'"}
        if not price or any(component not in PRICE_KEYS for component in price):
            return 400, {"errorMessage": "Invalid value specified for 'price'"}
        if "count" in params and "from" in params and "to" in params:
            return 400, {"errorMessage": "Cannot specify count with both from and to"}
        count = int(params.get("count", "500"))
        if not 1 <= count <= MAX_COUNT:
            return 400, {"errorMessage": "Invalid value specified for 'count'"}
        if "from" not in params:
            return 400, {"errorMessage": "This fake server needs 'from'"}
        candles = list(
            self._candles(
                start=_parse_time(params["from"]),
                include_first=params.get("includeFirst", "true") == "true",
                count=count,
                step=timedelta(seconds=GRANULARITY_SECONDS[granularity]),
                alignment_hour=int(params.get("dailyAlignment", "17")),
                alignment_zone=ZoneInfo(params.get("alignmentTimezone", "America/New_York")),
                price=price,
            )
        )
        return 200, {"instrument": instrument, "granularity": granularity, "candles": candles}

    def _candles(self, *, start, include_first, count, step, alignment_hour, alignment_zone, price):
        candle_start = _aligned(start, step, alignment_hour, alignment_zone)
        if not include_first:
            candle_start += step
        produced = 0
        while produced < count and candle_start <= self.now:
            if _market_open(candle_start):
                yield _candle(candle_start, step, complete=candle_start + step <= self.now, price=price)
                produced += 1
            candle_start += step


def _handler_for(fake: FakeOanda) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
            url = urlsplit(self.path)
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            headers = {key.lower(): value for key, value in self.headers.items()}
            fake.requests.append(RecordedRequest(url.path, params, headers))
            fault = fake.next_fault()
            if fault is not None and fault.status is None:
                self.close_connection = True
                return
            if fault is not None:
                self._send(fault.status, {"errorMessage": "scripted fault"}, fault.headers)
                return
            self._send(*fake.answer(url.path, params, headers))

        def _send(self, status: int, body: dict, extra_headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (extra_headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _aligned(ts: datetime, step: timedelta, alignment_hour: int, zone: ZoneInfo) -> datetime:
    """Start of the candle containing ``ts``: candles tile each day from ``alignment_hour`` local."""
    local = ts.astimezone(zone)
    day_start = local.replace(hour=alignment_hour, minute=0, second=0, microsecond=0)
    if day_start > local:
        day_start -= timedelta(days=1)
    day_start_utc = day_start.astimezone(UTC)
    steps = (ts - day_start_utc) // step
    return day_start_utc + steps * step


def _market_open(ts: datetime) -> bool:
    local = ts.astimezone(ZoneInfo("America/New_York"))
    weekday, hour = local.weekday(), local.hour
    if weekday == 5:
        return False
    if weekday == 4:
        return hour < 17
    if weekday == 6:
        return hour >= 17
    return True


def price_at(ts: datetime) -> float:
    """The fake's mid price at an instant: a slow wave around 1.25."""
    minutes = ts.timestamp() / 60
    return 1.25 + 0.01 * math.sin(minutes / 500) + 0.002 * math.sin(minutes / 7)


def _candle(start: datetime, step: timedelta, *, complete: bool, price: str) -> dict:
    mid_open, mid_close = price_at(start), price_at(start + step)
    mid = {
        "o": mid_open,
        "h": max(mid_open, mid_close) + 0.0003,
        "l": min(mid_open, mid_close) - 0.0003,
        "c": mid_close,
    }
    shifts = {"M": 0.0, "B": -HALF_SPREAD, "A": HALF_SPREAD}
    candle = {
        "complete": complete,
        "volume": 1 + int(start.timestamp() // 60) % 50,
        "time": start.strftime("%Y-%m-%dT%H:%M:%S.000000000Z"),
    }
    for component in price:
        candle[PRICE_KEYS[component]] = {key: f"{value + shifts[component]:.5f}" for key, value in mid.items()}
    return candle
