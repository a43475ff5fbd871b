"""Post-run data-quality figures, computed in SQL over ovc_blocks_v01."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from ovc_assets.calendar import Block
from ovc_assets.runs.quality import Ready0SpikeRule, data_quality

TUESDAY = date(2026, 1, 13)
FAR_FUTURE = datetime(2030, 1, 1, tzinfo=UTC)

INSERT_SQL = """
INSERT INTO ovc.ovc_blocks_v01 (symbol, block_start, schema_ver, block_end, bid, date_ny, block2h, block4h, source,
    o, h, l, c, provider_o, provider_h, provider_l, provider_c, ready, tradeable, state_tag, play, export_min, run_id)
VALUES (%(symbol)s, %(start)s, 'v1', %(end)s, %(bid)s, %(date_ny)s, %(letter)s, %(pair)s, 'tv',
    %(o)s, %(h)s, %(l)s, %(c)s, %(po)s, %(ph)s, %(pl)s, %(pc)s, %(ready)s, %(tradeable)s, %(state_tag)s, %(play)s,
    %(export_min)s, 'R')
"""


def put(conn: psycopg.Connection, block: Block, symbol: str = "GBPUSD", **values: object) -> None:
    row = {
        "symbol": symbol, "start": block.start_utc, "end": block.end_utc, "bid": block.block_id(symbol),
        "date_ny": block.date_ny, "letter": block.letter, "pair": block.pair,
        "o": 1.0, "h": 1.2, "l": 0.9, "c": 1.1, "po": None, "ph": None, "pl": None, "pc": None,
        "ready": True, "tradeable": True, "state_tag": "TREND", "play": "LONG", "export_min": "x",
    }  # fmt: skip
    row.update(values)
    conn.execute(INSERT_SQL, row)


def day(d: date) -> tuple[datetime, datetime]:
    return Block(d, "A").start_utc, Block(d + timedelta(days=1), "A").start_utc


def test_blocks_missing_counts_open_blocks_per_symbol_that_have_ended(conn) -> None:
    for letter in "ABEFGHIJKL":  # C and D missing
        put(conn, Block(TUESDAY, letter))
    start, end = day(TUESDAY)

    quality = data_quality(conn, ["GBPUSD", "EURUSD"], start, end, now=FAR_FUTURE)
    assert (quality.expected_blocks, quality.blocks_missing) == (24, 14)
    assert "20260113-C-GBPUSD" in quality.missing_examples and len(quality.missing_examples) == 10

    # Symbols default to those with rows; blocks that have not ended yet are not expected.
    midday = Block(TUESDAY, "E").end_utc
    quality = data_quality(conn, None, start, end, now=midday)
    assert quality.symbols == ("GBPUSD",)
    assert (quality.expected_blocks, quality.blocks_missing) == (5, 2)


def test_the_weekend_is_never_missing(conn) -> None:
    start, end = day(date(2026, 1, 16))  # Friday 17:00 New York: the weekend closure
    quality = data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE)
    assert (quality.expected_blocks, quality.blocks_missing) == (0, 0)


def test_ready_tradeable_null_rates_and_sanity_errors(conn) -> None:
    blocks = [Block(TUESDAY, letter) for letter in "ABCDEFGH"]
    put(conn, blocks[0])
    put(conn, blocks[1], ready=False, tradeable=False, state_tag=None)
    put(conn, blocks[2], ready=False, play=None)
    put(conn, blocks[3], h=0.95)  # h < max(o, c)
    put(conn, blocks[4], o=float("nan"))  # NaN
    put(conn, blocks[5], c=None)  # partial prices
    put(conn, blocks[6], o=None, h=None, l=None, c=None, po=1.0, ph=0.8, pl=0.9, pc=1.0, export_min=None,
        state_tag=None, play=None, ready=None, tradeable=None)  # provider row: h < l
    put(conn, blocks[7], o=None, h=None, l=None, c=None, export_min=None, state_tag=None, play=None)  # no prices
    start, end = day(TUESDAY)

    quality = data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE)
    assert quality.rows_in_range == 8
    assert quality.ready0_count == 2
    assert quality.tradeable0_count == 1
    assert quality.sanity_error_count == 4
    # Null rates over the 6 rows that carry a MIN export.
    assert quality.null_rate_summary == {"state_tag": round(1 / 6, 6), "play": round(1 / 6, 6)}

    quality = data_quality(conn, ["GBPUSD"], start, end, null_rate_columns=["o"], now=FAR_FUTURE)
    assert quality.null_rate_summary == {"o": 0.0}
    with pytest.raises(ValueError, match="no null rate"):
        data_quality(conn, ["GBPUSD"], start, end, null_rate_columns=["o; DROP TABLE x"])


def test_null_rates_are_unknown_without_min_rows(conn) -> None:
    start, end = day(TUESDAY)
    quality = data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE)
    assert quality.null_rate_summary == {"state_tag": None, "play": None}
    assert quality.ready0_count == 0 and quality.sanity_error_count == 0


def test_ready0_spike_compares_with_the_seven_days_before(conn) -> None:
    baseline_day = TUESDAY - timedelta(days=7)
    for index, letter in enumerate("ABCDEFGHIJKL"):
        put(conn, Block(baseline_day, letter), ready=index != 0)  # 1 in 12 not ready
    for index, letter in enumerate("ABCDEF"):
        put(conn, Block(TUESDAY, letter), ready=index >= 3)  # 3 in 6 not ready
    start, end = day(TUESDAY)

    quality = data_quality(conn, ["GBPUSD"], start, end, now=FAR_FUTURE)
    assert quality.ready0_count == 3
    assert quality.ready0_share == 0.5 and quality.ready0_baseline_share == pytest.approx(1 / 12)
    assert quality.ready0_spike

    assert not data_quality(conn, ["GBPUSD"], start, end, spike_rule=Ready0SpikeRule(min_count=4)).ready0_spike
    assert not data_quality(conn, ["GBPUSD"], start, end, spike_rule=Ready0SpikeRule(factor=10)).ready0_spike


def test_without_a_baseline_there_is_no_spike() -> None:
    rule = Ready0SpikeRule()
    assert not rule.is_spike(ready0=10, ready_known=20, baseline_ready0=0, baseline_known=0)
    assert rule.is_spike(ready0=10, ready_known=20, baseline_ready0=1, baseline_known=20)
