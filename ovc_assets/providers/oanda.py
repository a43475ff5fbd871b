"""OANDA v20 REST client for historical candles, on httpx (no SDK).

One persistent ``httpx.Client`` (one connection, kept alive) sends
``GET /v3/instruments/{instrument}/candles`` and yields the answer page by page as candle
frames (see ``resample``), so a download of any length holds one page in memory.

Paging: OANDA refuses ``count`` together with both ``from`` and ``to``, so each request asks
for ``count`` candles from a cursor (at most ``page_size``, fewer when the rest of the range
cannot hold that many); the next one starts at the last candle received with
``includeFirst=false``. Paging stops at the requested end, at a short page (OANDA has no
more candles yet) or at an incomplete candle (the live edge). Only complete candles with a
start in ``[start, end)`` are yielded. Every request asks for ``dailyAlignment=17`` and
``alignmentTimezone=America/New_York``, so ``H2`` candles are the OVC blocks themselves.

Resilience: requests are spaced by a client-side rate limit (default 50/s, OANDA allows
100/s per connection); connection errors, 429 and 5xx are retried with exponential backoff
and jitter, honouring ``Retry-After`` up to ``backoff_max``, for at most ``max_attempts``
attempts (then ``E_OANDA_UNAVAILABLE``). A new connection is opened only after a failure
and a backoff of at least ``backoff_initial / 2`` (0.5 s by default), which keeps new
connections within OANDA's 2 per second. 401/403 are ``E_OANDA_AUTH``, an unknown instrument
``E_OANDA_INSTRUMENT``, any other 4xx or a malformed answer ``E_OANDA_RESPONSE``. The token
travels only in the ``Authorization`` header and appears in no message or repr.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx
import numpy as np
import pandas as pd

from ovc_assets.calendar import NEW_YORK
from ovc_assets.calendar.blocks import OVC_DAY_START_HOUR
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.resample import candle_frame, validate_candles

ENVIRONMENT_URLS: Mapping[str, str] = {
    "practice": "https://api-fxpractice.oanda.com",
    "live": "https://api-fxtrade.oanda.com",
}
MAX_PAGE_SIZE = 5000
OANDA_REQUESTS_PER_SECOND = 100
GRANULARITY_BAR_SIZES: Mapping[str, timedelta] = {
    "M1": timedelta(minutes=1),
    "M2": timedelta(minutes=2),
    "M4": timedelta(minutes=4),
    "M5": timedelta(minutes=5),
    "M10": timedelta(minutes=10),
    "M15": timedelta(minutes=15),
    "M30": timedelta(minutes=30),
    "H1": timedelta(hours=1),
    "H2": timedelta(hours=2),
}
PRICE_COMPONENTS: Mapping[str, str] = {"M": "mid", "B": "bid", "A": "ask"}

_FX_PAIR = re.compile(r"[A-Z]{6}")
_INSTRUMENT = re.compile(r"[A-Z0-9]+_[A-Z0-9]+")
_CONNECTION_LIMITS = httpx.Limits(max_connections=1, max_keepalive_connections=1)


def to_oanda_instrument(symbol: str) -> str:
    """The OANDA instrument of an OVC symbol: ``GBPUSD`` -> ``GBP_USD``; ``GBP_USD`` stays."""
    name = symbol.strip().upper()
    if _INSTRUMENT.fullmatch(name):
        return name
    if _FX_PAIR.fullmatch(name):
        return f"{name[:3]}_{name[3:]}"
    raise OvcError(
        ErrorCode.OANDA_INSTRUMENT,
        f"cannot map {symbol!r} to an OANDA instrument: give a 6-letter FX pair such as GBPUSD "
        "or an OANDA name such as XAU_USD",
    )


def from_oanda_instrument(instrument: str) -> str:
    """The OVC symbol of an OANDA instrument: ``GBP_USD`` -> ``GBPUSD``; ``GBPUSD`` stays."""
    return to_oanda_instrument(instrument).replace("_", "")


class RateLimiter:
    """Spaces calls at least ``1 / per_second`` apart: a token bucket that holds one token."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError(f"per_second must be positive, got {per_second}")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next_allowed = float("-inf")

    def wait(self) -> None:
        """Block until the next call is allowed, and count it."""
        now = self._clock()
        if now < self._next_allowed:
            self._sleep(self._next_allowed - now)
            now = self._next_allowed
        self._next_allowed = now + self._interval


class OandaClient:
    """A client of the OANDA v20 REST API for candles; use as a context manager, or ``close()``.

    ``environment`` (practice / live) selects the server unless ``base_url`` is given. The
    backoff before retry ``n`` (1-based) is drawn from ``[d/2, d]`` with
    ``d = min(backoff_max, backoff_initial * 2**(n-1))``. ``sleep`` (used for those
    backoffs) and ``jitter`` (a ``random()``-like function) are injectable so tests need not
    wait. ``requests_per_second`` must stay below OANDA's 100.
    """

    def __init__(
        self,
        token: str,
        *,
        environment: str = "practice",
        base_url: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        requests_per_second: float = 50.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if environment not in ENVIRONMENT_URLS:
            raise OvcError(
                ErrorCode.CONFIG, f"OANDA_ENV must be one of {', '.join(ENVIRONMENT_URLS)}, got {environment!r}"
            )
        if not token:
            raise OvcError(ErrorCode.OANDA_AUTH, "no OANDA API token given (OANDA_API_TOKEN)")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if requests_per_second > OANDA_REQUESTS_PER_SECOND:
            raise ValueError(
                f"requests_per_second must stay below OANDA's {OANDA_REQUESTS_PER_SECOND}, got {requests_per_second}"
            )
        self.base_url = (base_url or ENVIRONMENT_URLS[environment]).rstrip("/")
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._jitter = jitter
        self._rate_limiter = RateLimiter(requests_per_second)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept-Datetime-Format": "RFC3339"},
            timeout=timeout,
            limits=_CONNECTION_LIMITS,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> Self:
        """A client configured by ``OANDA_API_TOKEN``, ``OANDA_ENV`` (default practice) and
        ``OANDA_BASE_URL`` (optional); ``options`` go to the constructor and win over them."""
        env = os.environ if environ is None else environ
        token = env.get("OANDA_API_TOKEN", "").strip()
        if not token:
            raise OvcError(ErrorCode.OANDA_AUTH, "OANDA_API_TOKEN is not set")
        settings: dict[str, Any] = {
            "environment": env.get("OANDA_ENV", "").strip() or "practice",
            "base_url": env.get("OANDA_BASE_URL", "").strip() or None,
        }
        return cls(token, **(settings | options))

    def __repr__(self) -> str:
        return f"OandaClient(base_url={self.base_url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def candle_pages(
        self,
        symbol: str,
        start: datetime,
        end: datetime,
        *,
        granularity: str = "H2",
        price: str = "M",
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[pd.DataFrame]:
        """Complete candles starting in ``[start, end)``, one candle frame per page.

        ``symbol`` is an OVC symbol or an OANDA instrument; ``granularity`` one of
        ``GRANULARITY_BAR_SIZES`` (its bar size is what ``resample`` needs); ``price`` M
        (mid), B (bid) or A (ask). Arguments are checked now, requests are sent as the
        iterator is read. Frame index: the candle's number in this download, from 1.
        """
        if granularity not in GRANULARITY_BAR_SIZES:
            raise ValueError(f"granularity must be one of {', '.join(GRANULARITY_BAR_SIZES)}, got {granularity!r}")
        if price not in PRICE_COMPONENTS:
            raise ValueError(f"price must be one of {', '.join(PRICE_COMPONENTS)}, got {price!r}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        return self._pages(to_oanda_instrument(symbol), _utc(start), _utc(end), granularity, price, page_size)

    def _pages(
        self, instrument: str, start: datetime, end: datetime, granularity: str, price: str, page_size: int
    ) -> Iterator[pd.DataFrame]:
        cursor, include_first = start, True
        previous_time: pd.Timestamp | None = None
        candles_yielded = 0
        bar_size = GRANULARITY_BAR_SIZES[granularity]
        while cursor < end:
            # No more than the range can hold, so a short range costs a short answer.
            count = min(page_size, (end - cursor) // bar_size + 2)
            params = {
                "price": price,
                "granularity": granularity,
                "from": _rfc3339(cursor),
                "count": str(count),
                "includeFirst": "true" if include_first else "false",
                "dailyAlignment": str(OVC_DAY_START_HOUR),
                "alignmentTimezone": NEW_YORK.key,
            }
            candles = _candles_of(self._get_json(f"/v3/instruments/{instrument}/candles", params, instrument))
            if not candles:
                return
            times = _candle_times(candles)
            if not include_first and times[0] <= pd.Timestamp(cursor):
                raise OvcError(
                    ErrorCode.OANDA_RESPONSE,
                    f"OANDA answered a page from {_rfc3339(cursor)} with a candle at {times[0].isoformat()}",
                )
            complete = np.array([candle.get("complete") is True for candle in candles])
            wanted = complete & (times >= start) & (times < end)
            if wanted.any():
                frame = _candle_frame(
                    [candle for candle, keep in zip(candles, wanted) if keep],
                    times[wanted],
                    PRICE_COMPONENTS[price],
                    first_row=candles_yielded + 1,
                )
                validate_candles(frame, previous_time=previous_time)
                previous_time = frame["time"].iloc[-1]
                candles_yielded += len(frame)
                yield frame
            if not complete.all() or len(candles) < count:
                return
            cursor, include_first = times[-1].to_pydatetime(), False

    def _get_json(self, path: str, params: Mapping[str, str], instrument: str) -> Any:
        failure = ""
        for attempt in range(1, self._max_attempts + 1):
            self._rate_limiter.wait()
            retry_after = None
            try:
                response = self._http.get(path, params=params)
            except httpx.TransportError as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == httpx.codes.OK:
                    return _json_of(response, path)
                if response.status_code != httpx.codes.TOO_MANY_REQUESTS and response.status_code < 500:
                    raise _client_error(response, instrument, self.base_url)
                failure = f"HTTP {response.status_code}"
                retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            if attempt < self._max_attempts:
                self._sleep(self._backoff(attempt, retry_after))
        raise OvcError(
            ErrorCode.OANDA_UNAVAILABLE,
            f"OANDA ({self.base_url}) failed {self._max_attempts} attempts at {path}; last: {failure}",
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        ceiling = min(self._backoff_max, self._backoff_initial * 2 ** (attempt - 1))
        delay = ceiling / 2 + self._jitter() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._backoff_max))
        return delay


def _utc(ts: datetime) -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got naive {ts!r}")
    return ts.astimezone(UTC)


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_of(response: httpx.Response, path: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise OvcError(ErrorCode.OANDA_RESPONSE, f"OANDA answered {path} with something other than JSON") from None


def _error_message(response: httpx.Response) -> str:
    try:
        message = response.json().get("errorMessage")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else response.text[:200]


def _client_error(response: httpx.Response, instrument: str, base_url: str) -> OvcError:
    status = response.status_code
    message = _error_message(response)
    if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
        return OvcError(
            ErrorCode.OANDA_AUTH,
            f"OANDA ({base_url}) refused the API token: HTTP {status} {message}; "
            "check OANDA_API_TOKEN and that OANDA_ENV matches the account",
        )
    if status == httpx.codes.BAD_REQUEST and "'instrument'" in message:
        return OvcError(ErrorCode.OANDA_INSTRUMENT, f"OANDA does not know instrument {instrument!r}: {message}")
    return OvcError(ErrorCode.OANDA_RESPONSE, f"OANDA answered HTTP {status}: {message}")


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _candles_of(payload: Any) -> list[dict[str, Any]]:
    candles = payload.get("candles") if isinstance(payload, dict) else None
    if not isinstance(candles, list) or not all(isinstance(candle, dict) for candle in candles):
        raise OvcError(ErrorCode.OANDA_RESPONSE, "OANDA's answer has no list of candles")
    return candles


def _candle_times(candles: list[dict[str, Any]]) -> pd.DatetimeIndex:
    try:
        return pd.DatetimeIndex(pd.to_datetime([candle["time"] for candle in candles], format="ISO8601", utc=True))
    except (KeyError, TypeError, ValueError):
        raise OvcError(ErrorCode.OANDA_RESPONSE, "OANDA sent a candle without a readable RFC 3339 time") from None


def _candle_frame(
    candles: list[dict[str, Any]], times: pd.DatetimeIndex, component: str, *, first_row: int
) -> pd.DataFrame:
    try:
        ohlc = np.array(
            [[float(candle[component][key]) for key in ("o", "h", "l", "c")] for candle in candles], dtype=np.float64
        )
        volume = np.array([float(candle.get("volume", np.nan)) for candle in candles], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise OvcError(
            ErrorCode.OANDA_RESPONSE, f"OANDA sent a candle without readable {component!r} prices"
        ) from None
    return candle_frame(
        times,
        *ohlc.T,
        volume,
        rows=np.arange(first_row, first_row + len(candles)),
        row_noun="candle",
    )
