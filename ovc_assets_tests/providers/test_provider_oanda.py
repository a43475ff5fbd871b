"""The OANDA v20 client against a fake OANDA server on 127.0.0.1 (see fake_oanda)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ovc_assets.calendar import Block
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.oanda import (
    ENVIRONMENT_URLS,
    GRANULARITY_BAR_SIZES,
    OandaClient,
    RateLimiter,
    from_oanda_instrument,
    to_oanda_instrument,
)
from ovc_assets.providers.resample import resample_to_blocks
from ovc_assets_tests.providers.fake_oanda import HALF_SPREAD, FakeOanda, Fault

TOKEN = "test-token-5f3a9c"
SUMMER_NOW = datetime(2026, 7, 15, 12, 34, 56, tzinfo=UTC)  # a Wednesday
WINTER_NOW = datetime(2026, 1, 14, 12, 34, 56, tzinfo=UTC)  # a Wednesday
BACKOFF_INITIAL = 0.01
MAX_ATTEMPTS = 4


@pytest.fixture
def fake() -> Iterator[FakeOanda]:
    with FakeOanda(token=TOKEN, now=SUMMER_NOW) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """The backoff delays the client asked for (it never really waits for them)."""
    return []


@pytest.fixture
def client(fake: FakeOanda, sleeps: list[float]) -> Iterator[OandaClient]:
    with OandaClient(
        TOKEN,
        base_url=fake.url,
        max_attempts=MAX_ATTEMPTS,
        backoff_initial=BACKOFF_INITIAL,
        backoff_max=5.0,
        timeout=5.0,
        sleep=sleeps.append,
        jitter=lambda: 0.0,
    ) as oanda:
        yield oanda


def all_candles(client: OandaClient, *args: object, **kwargs: object) -> pd.DataFrame:
    return pd.concat(list(client.candle_pages(*args, **kwargs)))


@pytest.mark.parametrize(
    ("symbol", "instrument"),
    [("GBPUSD", "GBP_USD"), ("GBP_USD", "GBP_USD"), ("eurusd", "EUR_USD"), ("XAU_USD", "XAU_USD")],
)
def test_symbols_map_to_instruments_and_back(symbol, instrument):
    assert to_oanda_instrument(symbol) == instrument
    assert from_oanda_instrument(instrument) == instrument.replace("_", "")
    assert from_oanda_instrument(symbol) == instrument.replace("_", "")


@pytest.mark.parametrize("symbol", ["GBP", "GBPUSDX", "GBP-USD", ""])
def test_symbols_that_are_no_instrument_are_refused(symbol):
    with pytest.raises(OvcError) as raised:
        to_oanda_instrument(symbol)
    assert raised.value.code == ErrorCode.OANDA_INSTRUMENT


@pytest.mark.parametrize(("now", "utc_hour_parity"), [(SUMMER_NOW, 1), (WINTER_NOW, 0)])
def test_h2_candles_are_the_new_york_blocks(now, utc_hour_parity):
    monday_open = Block((now - timedelta(days=3)).date(), "A")  # Sunday 17:00 New York
    with FakeOanda(token=TOKEN, now=now) as fake, OandaClient(TOKEN, base_url=fake.url) as client:
        candles = all_candles(client, "GBPUSD", monday_open.start_utc, now + timedelta(days=1))
        blocks = pd.concat(
            resample_to_blocks([candles], symbol="GBPUSD", source="oanda", bar_size=GRANULARITY_BAR_SIZES["H2"])
        )
        request = fake.candle_requests()[0]

    assert {time.hour % 2 for time in candles["time"]} == {utc_hour_parity}
    assert candles["time"].iloc[0] == monday_open.start_utc
    assert candles["time"].iloc[-1] + timedelta(hours=2) <= now  # the incomplete candle is left out
    assert candles.index.name == "candle" and list(candles.index) == list(range(1, len(candles) + 1))
    assert blocks["bid"].iloc[0] == monday_open.block_id("GBPUSD")
    assert (blocks["bar_count"] == 1).all() and (blocks["expected_bar_count"] == 1).all()
    assert not blocks["partial"].any()
    assert list(blocks["block_start"]) == list(candles["time"])
    assert request.path == "/v3/instruments/GBP_USD/candles"
    assert request.params["dailyAlignment"] == "17"
    assert request.params["alignmentTimezone"] == "America/New_York"
    assert request.params["granularity"] == "H2" and request.params["price"] == "M"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["accept-datetime-format"] == "RFC3339"


def test_pages_by_from_and_count_without_gaps_or_repeats(client, fake):
    start = datetime(2026, 7, 13, tzinfo=UTC)
    end = start + timedelta(hours=36)
    pages = list(client.candle_pages("GBPUSD", start, end, granularity="M1", page_size=500))

    candles = pd.concat(pages)
    assert [len(page) for page in pages] == [500, 500, 500, 500, 160]
    assert list(candles["time"]) == list(pd.date_range(start, end, freq="1min", inclusive="left"))
    requests = fake.candle_requests()
    assert len(requests) == 5
    assert all("to" not in request.params for request in requests)
    # Full pages of 500, then only as many as the 161 minutes left of the range can hold.
    assert [request.params["count"] for request in requests] == ["500"] * 4 + ["163"]
    assert requests[0].params["includeFirst"] == "true"
    for request, previous_page in zip(requests[1:], pages):
        assert request.params["includeFirst"] == "false"
        assert pd.Timestamp(request.params["from"]) == previous_page["time"].iloc[-1]


def test_m1_pages_resample_to_whole_blocks_across_page_boundaries(client):
    friday = datetime(2026, 7, 10, 15, tzinfo=UTC)  # block J, 11:00 New York
    monday = datetime(2026, 7, 13, 1, tzinfo=UTC)
    pages = client.candle_pages("GBPUSD", friday, monday, granularity="M1", page_size=500)
    blocks = pd.concat(
        list(resample_to_blocks(pages, symbol="GBPUSD", source="oanda", bar_size=GRANULARITY_BAR_SIZES["M1"]))
    )

    # Friday J, K, L up to the 17:00 close, then Sunday A and B after the weekend.
    assert blocks["bid"].tolist() == [f"20260709-{letter}-GBPUSD" for letter in "JKL"] + [
        "20260712-A-GBPUSD",
        "20260712-B-GBPUSD",
    ]
    assert (blocks["bar_count"] == 120).all() and not blocks["partial"].any()


def test_weekend_gap_is_skipped_and_paging_stops_at_the_live_edge(client, fake):
    friday = datetime(2026, 7, 10, 12, tzinfo=UTC)
    candles = all_candles(client, "EURUSD", friday, SUMMER_NOW + timedelta(days=30), granularity="H1")

    friday_close = datetime(2026, 7, 10, 21, tzinfo=UTC)  # 17:00 New York
    sunday_open = datetime(2026, 7, 12, 21, tzinfo=UTC)
    times = candles["time"]
    assert not ((times >= friday_close) & (times < sunday_open)).any()
    assert times.iloc[-1] == datetime(2026, 7, 15, 11, tzinfo=UTC)  # 12:00-13:00 is not complete yet
    assert len(fake.candle_requests()) == 1


def test_bid_and_ask_prices_come_from_their_own_keys(client):
    start = datetime(2026, 7, 14, 9, tzinfo=UTC)
    end = start + timedelta(hours=1)
    mid = all_candles(client, "GBPUSD", start, end, granularity="M5", price="M")
    bid = all_candles(client, "GBPUSD", start, end, granularity="M5", price="B")
    ask = all_candles(client, "GBPUSD", start, end, granularity="M5", price="A")
    for column in ("o", "h", "l", "c"):
        assert (bid[column] - (mid[column] - HALF_SPREAD)).abs().max() < 1e-9
        assert (ask[column] - (mid[column] + HALF_SPREAD)).abs().max() < 1e-9


def test_429_is_retried_after_the_retry_after_delay(client, fake, sleeps):
    fake.script(Fault(429, {"Retry-After": "2"}))
    start = datetime(2026, 7, 14, 9, tzinfo=UTC)
    candles = all_candles(client, "GBPUSD", start, start + timedelta(hours=2), granularity="M15")

    assert len(candles) == 8
    assert sleeps == [2.0]
    assert len(fake.candle_requests()) == 2


def test_5xx_and_a_dropped_connection_are_retried_with_growing_backoff(client, fake, sleeps):
    start = datetime(2026, 7, 14, 9, tzinfo=UTC)
    expected = all_candles(client, "GBPUSD", start, start + timedelta(hours=2), granularity="M15")
    fake.requests.clear()
    fake.script(Fault(500), Fault.drop(), Fault(503))

    candles = all_candles(client, "GBPUSD", start, start + timedelta(hours=2), granularity="M15")

    pd.testing.assert_frame_equal(candles, expected)
    assert len(fake.candle_requests()) == 4
    # jitter 0 gives the low end of each [d/2, d] range: d doubles from BACKOFF_INITIAL.
    assert sleeps == pytest.approx([BACKOFF_INITIAL / 2, BACKOFF_INITIAL, BACKOFF_INITIAL * 2])


def test_the_client_gives_up_after_max_attempts(client, fake, sleeps):
    fake.script(*[Fault(500)] * MAX_ATTEMPTS)
    start = datetime(2026, 7, 14, 9, tzinfo=UTC)
    with pytest.raises(OvcError) as raised:
        all_candles(client, "GBPUSD", start, start + timedelta(hours=2))

    assert raised.value.code == ErrorCode.OANDA_UNAVAILABLE
    assert "HTTP 500" in raised.value.message
    assert len(fake.candle_requests()) == MAX_ATTEMPTS
    assert len(sleeps) == MAX_ATTEMPTS - 1


def test_a_wrong_token_is_an_auth_error_that_never_shows_the_token(fake):
    wrong_token = "wrong-token-77e1d0"
    with OandaClient(wrong_token, base_url=fake.url) as client:
        with pytest.raises(OvcError) as raised:
            all_candles(client, "GBPUSD", SUMMER_NOW - timedelta(hours=4), SUMMER_NOW)

    assert raised.value.code == ErrorCode.OANDA_AUTH
    assert wrong_token not in str(raised.value)
    assert wrong_token not in repr(client)
    assert len(fake.candle_requests()) == 1


def test_an_unknown_instrument_is_named(client, fake):
    with pytest.raises(OvcError) as raised:
        all_candles(client, "USDXYZ", SUMMER_NOW - timedelta(hours=4), SUMMER_NOW)

    assert raised.value.code == ErrorCode.OANDA_INSTRUMENT
    assert "USD_XYZ" in raised.value.message
    assert len(fake.candle_requests()) == 1


@pytest.mark.parametrize("status", [400, 404, 405])
def test_other_client_errors_are_response_errors_and_not_retried(client, fake, status):
    fake.script(Fault(status))
    with pytest.raises(OvcError) as raised:
        all_candles(client, "GBPUSD", SUMMER_NOW - timedelta(hours=4), SUMMER_NOW)

    assert raised.value.code == ErrorCode.OANDA_RESPONSE
    assert f"HTTP {status}" in raised.value.message
    assert len(fake.candle_requests()) == 1


def test_from_env_reads_token_environment_and_base_url():
    with OandaClient.from_env({"OANDA_API_TOKEN": TOKEN}) as client:
        assert client.base_url == ENVIRONMENT_URLS["practice"]
    with OandaClient.from_env({"OANDA_API_TOKEN": TOKEN, "OANDA_ENV": "live"}) as client:
        assert client.base_url == "https://api-fxtrade.oanda.com"
    environ = {"OANDA_API_TOKEN": TOKEN, "OANDA_ENV": "live", "OANDA_BASE_URL": "http://127.0.0.1:9/"}
    with OandaClient.from_env(environ) as client:
        assert client.base_url == "http://127.0.0.1:9"
    with OandaClient.from_env(environ, base_url="http://127.0.0.1:10") as client:
        assert client.base_url == "http://127.0.0.1:10"


@pytest.mark.parametrize(
    ("environ", "code"),
    [({}, ErrorCode.OANDA_AUTH), ({"OANDA_API_TOKEN": TOKEN, "OANDA_ENV": "sandbox"}, ErrorCode.CONFIG)],
)
def test_from_env_refuses_a_missing_token_or_an_unknown_environment(environ, code):
    with pytest.raises(OvcError) as raised:
        OandaClient.from_env(environ)
    assert raised.value.code == code


def test_bad_arguments_are_refused_before_any_request(client, fake):
    start = datetime(2026, 7, 14, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        client.candle_pages("GBPUSD", start.replace(tzinfo=None), SUMMER_NOW)
    with pytest.raises(ValueError, match="granularity"):
        client.candle_pages("GBPUSD", start, SUMMER_NOW, granularity="D")
    with pytest.raises(ValueError, match="price"):
        client.candle_pages("GBPUSD", start, SUMMER_NOW, price="MBA")
    with pytest.raises(ValueError, match="page_size"):
        client.candle_pages("GBPUSD", start, SUMMER_NOW, page_size=5001)
    with pytest.raises(ValueError, match="below OANDA"):
        OandaClient(TOKEN, base_url=fake.url, requests_per_second=150)
    assert fake.requests == []


def test_rate_limiter_spaces_calls():
    clock = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(50, clock=lambda: clock[0], sleep=sleep)
    for _ in range(5):
        limiter.wait()
    assert waits == pytest.approx([0.02] * 4)
    clock[0] += 1.0
    limiter.wait()
    assert len(waits) == 4  # an idle second leaves no debt to wait for
