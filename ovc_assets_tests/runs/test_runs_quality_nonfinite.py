"""`sanity_error_count` counts a row with NaN, +Infinity or -Infinity in any price, live
(o, h, l, c) or provider (provider_o .. provider_c), once per row, and no sane row.
Each case is a row of its own symbol, judged alone, so one field that goes unchecked fails
its own case whatever the other fields do."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from ovc_assets.calendar import Block
from ovc_assets.runs.quality import data_quality

BLOCK = Block(date(2026, 1, 13), "I")
NON_FINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
PRICES = ("o", "h", "l", "c")
SANE = {"o": 1.0, "h": 1.25, "l": 0.75, "c": 1.125}

INSERT_SQL = """
INSERT INTO ovc.ovc_blocks_v01 (symbol, block_start, schema_ver, block_end, bid, date_ny, block2h, block4h,
    o, h, l, c, provider_source, provider_o, provider_h, provider_l, provider_c, source, export_min, run_id)
VALUES (%(symbol)s, %(start)s, 'v01', %(end)s, %(symbol)s || '-bid', %(date_ny)s, %(letter)s, %(pair)s,
    %(o)s, %(h)s, %(l)s, %(c)s, 'oanda', %(provider_o)s, %(provider_h)s, %(provider_l)s, %(provider_c)s,
    'tv_plain', 'export', 'writer')
"""
CASES = [
    (prefix, price, label)
    for prefix, price, label in itertools.product(("", "provider_"), PRICES, NON_FINITE)
]


def write_row(conn, symbol: str, prefix: str | None = None, price: str | None = None, value: float | None = None) -> None:
    values = {
        "symbol": symbol, "start": BLOCK.start_utc, "end": BLOCK.end_utc, "date_ny": BLOCK.date_ny,
        "letter": BLOCK.letter, "pair": BLOCK.pair,
        **SANE, **{f"provider_{name}": SANE[name] for name in PRICES},
    }  # fmt: skip
    if prefix is not None:
        values[f"{prefix}{price}"] = value
    conn.execute(INSERT_SQL, values)


def sanity_errors(conn, symbols: list[str]) -> int:
    return data_quality(conn, symbols, BLOCK.start_utc, BLOCK.end_utc).sanity_error_count


def test_every_non_finite_value_in_every_price_is_a_sanity_error(conn) -> None:
    write_row(conn, "SANE")
    symbols = []
    for number, (prefix, price, label) in enumerate(CASES):
        symbol = f"X{number:02d}"
        write_row(conn, symbol, prefix, price, NON_FINITE[label])
        symbols.append(symbol)

    assert sanity_errors(conn, ["SANE"]) == 0
    caught = {(prefix, price, label): sanity_errors(conn, [symbol]) for symbol, (prefix, price, label) in zip(symbols, CASES, strict=True)}
    assert caught == {case: 1 for case in CASES}
    assert sanity_errors(conn, ["SANE", *symbols]) == len(CASES)


@pytest.mark.parametrize("label", list(NON_FINITE))
def test_a_row_with_every_price_non_finite_counts_once(conn, label) -> None:
    values = {name: NON_FINITE[label] for name in PRICES}
    conn.execute(INSERT_SQL, {
        "symbol": "ALL", "start": BLOCK.start_utc, "end": BLOCK.end_utc, "date_ny": BLOCK.date_ny,
        "letter": BLOCK.letter, "pair": BLOCK.pair, **values, **{f"provider_{name}": v for name, v in values.items()},
    })  # fmt: skip
    assert sanity_errors(conn, ["ALL"]) == 1
