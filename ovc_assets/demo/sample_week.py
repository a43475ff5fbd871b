"""One FX week of generated market data for the demo and the end-to-end tests.

Deterministic (seeded): 15-minute candles per symbol (a random walk), the TradingView MIN
alerts a chart would send at each 2H close of those candles (legacy MIN v0.1 strings, what
real alerts send), and a handful of realistic faults: resends of the same body, two alerts
for one block, payloads that break the contract, a FULL export on the live route, and one
missed alert per symbol (so `blocks_missing` has something to find, and the history
backfill has something to fill).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ovc_assets.calendar import Block, FxCalendar, block_at
from ovc_assets.contracts.records import MinBlock
from ovc_assets.contracts.render import render_min_block
from ovc_assets.receiver.intake import Arrival, admit
from ovc_assets.storage.postgres import connect
from ovc_assets.storage.raw_events import land_events

DEMO_SYMBOLS = ("GBPUSD", "EURUSD")
DEMO_WEEK_SUNDAY = date(2026, 1, 11)  # date_ny of the week's first OVC day (Sunday 17:00 New York)
# `OVC_PARTITIONS_START` that lists the demo week (older than the default window of partitions).
DEMO_PARTITIONS_START = f"{DEMO_WEEK_SUNDAY.isoformat()} 17:00"
CANDLE_MINUTES = 15
ALERT_DELAY = timedelta(seconds=3)
START_PRICES = {"GBPUSD": 1.3450, "EURUSD": 1.1650}

STATE_TAGS = ("ROTATE", "TREND", "STABLE", "EXPAND")
PLAYS = ("SELECTIVE_CONT", "PB_PULLBACK", "NONE", "FADE")


@dataclass(frozen=True)
class Candle:
    symbol: str
    start: datetime
    o: float
    h: float
    l: float  # noqa: E741 - the conventional name of the low
    c: float
    volume: int


@dataclass(frozen=True)
class SampleAlert:
    """One webhook delivery: its body, route and the time it arrives."""

    body: str
    route: str
    received_at: datetime
    note: str = ""


def week_blocks(sunday: date = DEMO_WEEK_SUNDAY) -> list[Block]:
    """The 60 open blocks of the FX week that opens on `sunday` at 17:00 New York."""
    opening = Block(sunday, "A").start_utc
    return FxCalendar(default_closures=False).week_blocks(opening)


def sample_candles(symbols: tuple[str, ...] = DEMO_SYMBOLS, sunday: date = DEMO_WEEK_SUNDAY, seed: int = 7) -> list[Candle]:
    """15-minute candles covering every open block of the week, per symbol, in time order."""
    rng = random.Random(seed)
    candles = []
    for symbol in symbols:
        price = START_PRICES.get(symbol, 1.0)
        for block in week_blocks(sunday):
            start = block.start_utc
            while start < block.end_utc:
                o = price
                path = [o + rng.gauss(0, 0.0004) for _ in range(3)]
                c = round(path[-1], 5)
                h = round(max(o, c, *path) + abs(rng.gauss(0, 0.0001)), 5)
                low = round(min(o, c, *path) - abs(rng.gauss(0, 0.0001)), 5)
                candles.append(Candle(symbol, start, round(o, 5), h, low, c, rng.randint(50, 500)))
                price = c
                start += timedelta(minutes=CANDLE_MINUTES)
    return candles


def _block_of_candles(symbol: str, block: Block, candles: list[Candle], rng: random.Random) -> MinBlock:
    o, c = candles[0].o, candles[-1].c
    h, low = max(x.h for x in candles), min(x.l for x in candles)
    direction = (c > o) - (c < o)
    ready = rng.random() > 0.1
    return MinBlock(
        contract="MIN_V0_1", scheme="OVC_MIN_V0_1", producer_ver="OVC_LOG_V0.1", symbol=symbol,
        block_id=block.block_id(symbol), date_ny=block.date_ny, block_letter=block.letter, block4h=block.pair,
        bar_close_ms=block.start_ms, block_start=block.start_utc, block_end=block.end_utc,
        o=o, h=h, l=low, c=c, dir=direction, rng=h - low, body=abs(c - o), ret=(c - o) / o,
        state_tag=rng.choice(STATE_TAGS), value_tag="ACCEPT-", event="PureIn", tt=rng.randint(0, 9),
        cp_tag="LOW", tis=rng.randint(0, 12), rrc=round(rng.random(), 5), vrc=round(rng.random(), 3),
        trend_tag="CAMPAIGN", struct_state="MIX", space_tag="MID", htf_stack="CONTRA", with_htf=False,
        rd_state=None, regime_tag=None, trans_risk=None, bias_mode="TRANSITION",
        bias_dir=("UP", "DOWN", "NEUTRAL")[direction], perm_state="YELLOW", rail_loc=None,
        tradeable=ready and rng.random() > 0.3, conf_l3="D", play=rng.choice(PLAYS),
        pred_dir=("UP", "DOWN", "NEUTRAL")[direction], pred_target=None, timebox="TB_6bars",
        invalidation="INV_NO_CONFIRM", source="TV", build_id="OVC_v0.1", note=None, ready=ready,
        news_flag=False, unknown_key_count=0,
    )  # fmt: skip


def sample_alerts(candles: list[Candle], route: str = "tv", seed: int = 11) -> list[SampleAlert]:
    """The alerts a chart sends for `candles`, faults included (see the module docstring), in arrival order."""
    rng = random.Random(seed)
    by_block: dict[tuple[str, Block], list[Candle]] = {}
    for candle in candles:
        by_block.setdefault((candle.symbol, block_at(candle.start)), []).append(candle)
    alerts: list[SampleAlert] = []
    for index, ((symbol, block), block_candles) in enumerate(sorted(by_block.items(), key=lambda item: (item[0][1], item[0][0]))):
        arrival = block.end_utc + ALERT_DELAY
        record = _block_of_candles(symbol, block, block_candles, rng)
        body = render_min_block("MIN_V0_1", record)
        if block.letter == "F" and block.date_ny.weekday() == 1:
            continue  # a missed webhook: Tuesday's F block never arrives
        alerts.append(SampleAlert(body, route, arrival))
        if index % 17 == 3:
            alerts.append(SampleAlert(body, route, arrival + timedelta(seconds=5), "resend of the same body"))
        if index % 41 == 5:
            # TradingView's bar time is the bar's open; a second alert stamped with the close wins.
            later = render_min_block("MIN_V0_1", record._replace(bar_close_ms=block.end_ms, note="recalc"))
            alerts.append(SampleAlert(later, route, arrival + timedelta(seconds=30), "second alert for one block"))
        if index == 9:
            broken = body.replace(f"|h={record.h!r}|", f"|h={record.l - 0.001!r}|")
            alerts.append(SampleAlert(broken, route, arrival + timedelta(seconds=1), "high below low: E_SEM_OHLC"))
        if index == 21:
            alerts.append(SampleAlert(body.replace("|play=", "|plya="), route, arrival + timedelta(seconds=1), "missing key"))
        if index == 33:
            wrong_time = body.replace(f"bar_close_ms={block.start_ms}", f"bar_close_ms={block.start_ms - 7_200_000}")
            alerts.append(SampleAlert(wrong_time, route, arrival + timedelta(seconds=1), "bar time of another block"))
    return sorted(alerts, key=lambda alert: alert.received_at)


def land_alerts_directly(dsn: str, alerts: list[SampleAlert]) -> None:
    """Land alerts as the webhook receiver judges and lands them, without HTTP or raw objects
    (for tests and benchmarks of what comes after landing)."""
    events = []
    for alert in alerts:
        body = alert.body.encode()
        arrival = Arrival(alert.route, body, len(body), alert.received_at, "127.0.0.1", "text/plain")
        events.append(admit(arrival, secret=None)[0])
    with connect(dsn, autocommit=True) as conn:
        land_events(conn, events)


def write_candles_csv(candles: list[Candle], symbol: str, path) -> None:
    """The candles of one symbol as a generic OHLCV CSV (UTC ISO timestamps), as a data vendor ships them."""
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [
        f"{c.start.isoformat()},{c.o!r},{c.h!r},{c.l!r},{c.c!r},{c.volume}" for c in candles if c.symbol == symbol
    ]
    path.write_text("\n".join(lines) + "\n")
