"""A provider candle never overwrites any field of a live TradingView row: every column of
the table is compared, so a merge that takes the candle's o, h, l, c, body, ret, dir, rng,
source or any MIN field fails, whichever it is. The candle differs from the live row in
every price, so overwriting any one of them shows."""

from __future__ import annotations

import uuid

import pytest

from ovc_assets.demo.sample_week import sample_alerts, sample_candles
from ovc_assets.pipeline.block_rows import MIN_BLOCKS, prepare_rows
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.blocks import (
    LIVE_BLOCK_COLUMNS,
    PROVIDER_BLOCK_COLUMNS,
    upsert_live_blocks,
    upsert_provider_blocks,
)
from ovc_assets.storage.postgres import connect
from ovc_assets.storage.raw_events import WindowEvent

# What a provider candle may change on a row it shares with a live block: its own columns,
# the lineage, the volume (live MIN exports carry none) and the write time.
PROVIDER_OWNED = {column for column in PROVIDER_BLOCK_COLUMNS if column.startswith("provider_")}
MAY_CHANGE_ON_LIVE_ROW = PROVIDER_OWNED | {"run_id", "updated_at", "volume"}


def live_row() -> tuple:
    alert = sample_alerts(sample_candles())[0]
    event = WindowEvent(uuid.uuid4(), alert.received_at, "tv", alert.body.encode(), 0)
    (row,) = prepare_rows(MIN_BLOCKS, [event], "live-run", RunCounts()).rows
    return row


def candle_for(live: tuple, *, shift: float) -> tuple:
    """A provider row for the live row's block whose every price differs from the live one."""
    values = dict(zip(LIVE_BLOCK_COLUMNS, live, strict=True))
    o, c = values["o"] + shift, values["c"] - shift  # direction flipped when shift is large
    provider = {
        **values,
        "provider_source": "oanda",
        "provider_o": o,
        "provider_h": max(o, c) + 0.002,
        "provider_l": min(o, c) - 0.003,
        "provider_c": c,
        "provider_volume": 4321,
        "provider_bar_count": 8,
        "provider_partial": False,
        "run_id": "backfill-run",
    }
    return tuple(provider[column] for column in PROVIDER_BLOCK_COLUMNS)


def whole_row(conn, symbol: str, block_start) -> dict[str, object]:
    cursor = conn.execute(
        "SELECT * FROM ovc.ovc_blocks_v01 WHERE symbol = %s AND block_start = %s", (symbol, block_start)
    )
    names = [column.name for column in cursor.description]
    (row,) = cursor.fetchall()
    return dict(zip(names, row, strict=True))


@pytest.mark.parametrize("shift", [0.0137, -0.0211])
def test_a_candle_changes_no_live_column_of_a_live_row(database_url, shift) -> None:
    live = live_row()
    symbol, block_start = live[0], live[1]
    with connect(database_url, autocommit=True) as conn:
        upsert_live_blocks(conn, [live])
        before = whole_row(conn, symbol, block_start)
        counts = upsert_provider_blocks(conn, [candle_for(live, shift=shift)])
        after = whole_row(conn, symbol, block_start)

    assert (counts.inserted, counts.updated) == (0, 1)
    changed = {column for column in before if before[column] != after[column]}
    assert changed - MAY_CHANGE_ON_LIVE_ROW == set(), "the candle overwrote live fields"
    assert changed == MAY_CHANGE_ON_LIVE_ROW  # the provider columns were empty, the volume too
    # Every live column is compared, and the candle disagrees with each live price it could have taken.
    assert set(LIVE_BLOCK_COLUMNS) - {"run_id"} <= set(before) - changed
    for live_price, provider_price in (("o", "provider_o"), ("h", "provider_h"), ("l", "provider_l"), ("c", "provider_c")):
        assert after[live_price] != after[provider_price]
    assert (after["rng"], after["body"], after["dir"]) == (before["rng"], before["body"], before["dir"])
    assert after["source"] == before["source"] != "oanda"


def test_without_a_live_row_the_candle_fills_prices_and_a_later_live_block_takes_them_over(database_url) -> None:
    live = live_row()
    values = dict(zip(LIVE_BLOCK_COLUMNS, live, strict=True))
    candle = dict(zip(PROVIDER_BLOCK_COLUMNS, candle_for(live, shift=0.0137), strict=True))
    with connect(database_url, autocommit=True) as conn:
        upsert_provider_blocks(conn, [tuple(candle.values())])
        filled = whole_row(conn, values["symbol"], values["block_start"])
        upsert_live_blocks(conn, [live])
        taken_over = whole_row(conn, values["symbol"], values["block_start"])

    o, h, low, c = (candle[f"provider_{name}"] for name in ("o", "h", "l", "c"))
    assert (filled["o"], filled["h"], filled["l"], filled["c"], filled["source"]) == (o, h, low, c, "oanda")
    assert filled["rng"] == pytest.approx(h - low) and filled["body"] == pytest.approx(abs(c - o))
    assert filled["ret"] == pytest.approx((c - o) / o) and filled["dir"] == (1 if c > o else -1)
    assert filled["export_min"] is None and filled["volume"] == 4321

    for column in LIVE_BLOCK_COLUMNS:
        if column not in {"payload_min"}:
            assert taken_over[column] == values[column], column
    assert {name: taken_over[name] for name in PROVIDER_OWNED} == {name: candle[name] for name in PROVIDER_OWNED}
    assert taken_over["volume"] == 4321
