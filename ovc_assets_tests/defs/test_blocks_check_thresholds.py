"""The WARN checks of `ovc_blocks` at, just under and just over their thresholds, with the
metadata the UI shows: `null_rates`, `tradeable0_count` and `ready0_count` (spike against the
7 days before) and `ohlc_divergence`. Rows are written straight into the spine so each case
holds exactly the share it names; the checks are judged the way the asset judges them."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from psycopg import sql

from ovc_assets.calendar import Block
from ovc_assets.defs.blocks.checks import evaluate_checks
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.runs.quality import data_quality
from ovc_assets.storage.postgres import connect

WINDOW_BLOCK = Block(date(2026, 1, 13), "I")
BASELINE_BLOCK = Block(date(2026, 1, 12), "I")  # one day before: inside the 7-day baseline
SYMBOLS = 20
TOLERANCE = 2.0**-11  # a binary fraction, so a divergence can sit exactly on it

INSERT_SQL = """
INSERT INTO ovc.ovc_blocks_v01 (symbol, block_start, schema_ver, block_end, bid, date_ny, block2h, block4h,
    o, h, l, c, ready, tradeable, state_tag, play, source, export_min,
    provider_source, provider_o, provider_h, provider_l, provider_c, run_id)
VALUES (%(symbol)s, %(start)s, 'v01', %(end)s, %(bid)s, %(date_ny)s, %(letter)s, %(pair)s,
    %(o)s, %(h)s, %(l)s, %(c)s, %(ready)s, %(tradeable)s, %(state_tag)s, %(play)s, 'tv_plain', 'export',
    %(provider_source)s, %(provider_o)s, %(provider_h)s, %(provider_l)s, %(provider_c)s, 'writer')
"""


def write_rows(conn, block: Block, count: int, **special: object) -> None:
    """`count` rows of `block`, one per symbol S00.., the first `special_rows` with `special` values."""
    special_rows = special.pop("special_rows", 0)
    for index in range(count):
        symbol = f"S{index:02d}"
        values = {
            "symbol": symbol, "start": block.start_utc, "end": block.end_utc, "bid": block.block_id(symbol),
            "date_ny": block.date_ny, "letter": block.letter, "pair": block.pair,
            "o": 1.0, "h": 1.25, "l": 0.75, "c": 1.0, "ready": True, "tradeable": True,
            "state_tag": "TREND", "play": "LONG",
            "provider_source": None, "provider_o": None, "provider_h": None, "provider_l": None, "provider_c": None,
        }  # fmt: skip
        if index < special_rows:
            values.update(special)
        conn.execute(INSERT_SQL, values)


def judge(database_url: str, tolerance: float | None = None) -> dict[str, dg.AssetCheckResult]:
    settings = PipelineSettings()
    with connect(database_url, autocommit=True) as conn:
        quality = data_quality(conn, None, WINDOW_BLOCK.start_utc, WINDOW_BLOCK.end_utc,
                               null_rate_columns=sorted(settings.null_rate_thresholds))
        results = evaluate_checks(conn, quality, settings.null_rate_thresholds,
                                  settings.ohlc_divergence_tolerance if tolerance is None else tolerance)
    return {result.check_name: result for result in results}


def metadata(result: dg.AssetCheckResult) -> dict[str, object]:
    return {key: value.value for key, value in result.metadata.items()}


def test_the_default_thresholds_are_the_documented_ones() -> None:
    settings = PipelineSettings()
    assert settings.null_rate_thresholds == {"state_tag": 0.05, "play": 0.05}
    assert settings.ohlc_divergence_tolerance == 0.0005


# 1 NULL state_tag among 21, 20 and 19 MIN rows: 4.76 %, exactly 5 % and 5.26 % against 5 %.
@pytest.mark.parametrize(("rows", "passed", "rate"), [(21, True, 0.047619), (20, True, 0.05), (19, False, 0.052632)])
def test_null_rates_at_under_and_over_the_threshold(database_url, rows, passed, rate) -> None:
    with connect(database_url, autocommit=True) as conn:
        write_rows(conn, WINDOW_BLOCK, rows, special_rows=1, state_tag=None)
    result = judge(database_url)["null_rates"]
    assert result.passed is passed and result.severity == dg.AssetCheckSeverity.WARN
    shown = metadata(result)
    assert shown["null_rate_state_tag"] == rate and shown["null_rate_play"] == 0.0
    assert shown["over_threshold"] == ({} if passed else {"state_tag": rate})
    assert shown["window_start"] == WINDOW_BLOCK.start_utc.isoformat()
    assert shown["window_end"] == WINDOW_BLOCK.end_utc.isoformat()


def test_a_column_without_a_threshold_never_warns(database_url) -> None:
    with connect(database_url, autocommit=True) as conn:
        write_rows(conn, WINDOW_BLOCK, 4, special_rows=4, state_tag=None, play=None)
    with connect(database_url, autocommit=True) as conn:
        quality = data_quality(conn, None, WINDOW_BLOCK.start_utc, WINDOW_BLOCK.end_utc, null_rate_columns=["state_tag", "play"])
        (null_rates,) = [r for r in evaluate_checks(conn, quality, {"state_tag": 1.0}, TOLERANCE) if r.check_name == "null_rates"]
    # play is 100 % NULL but has no threshold; state_tag is exactly at its threshold of 1.0.
    assert null_rates.passed and metadata(null_rates)["null_rate_play"] == 1.0


# Baseline: 3 of 20 rows false (15 %), so the spike threshold is 2 x 15 % = 30 % of the window's 20 rows.
@pytest.mark.parametrize(("false_rows", "passed"), [(5, True), (6, True), (7, False)])
def test_tradeable0_spike_at_under_and_over_twice_the_baseline_share(database_url, false_rows, passed) -> None:
    with connect(database_url, autocommit=True) as conn:
        write_rows(conn, BASELINE_BLOCK, SYMBOLS, special_rows=3, tradeable=False)
        write_rows(conn, WINDOW_BLOCK, SYMBOLS, special_rows=false_rows, tradeable=False)
    result = judge(database_url)["tradeable0_count"]
    assert result.passed is passed and result.severity == dg.AssetCheckSeverity.WARN
    shown = metadata(result)
    assert shown["tradeable0_count"] == false_rows
    assert shown["tradeable0_share"] == pytest.approx(false_rows / SYMBOLS)


@pytest.mark.parametrize(("false_rows", "passed"), [(5, True), (6, True), (7, False)])
def test_ready0_spike_at_under_and_over_twice_the_baseline_share(database_url, false_rows, passed) -> None:
    with connect(database_url, autocommit=True) as conn:
        write_rows(conn, BASELINE_BLOCK, SYMBOLS, special_rows=3, ready=False)
        write_rows(conn, WINDOW_BLOCK, SYMBOLS, special_rows=false_rows, ready=False)
    result = judge(database_url)["ready0_count"]
    assert result.passed is passed and result.severity == dg.AssetCheckSeverity.WARN
    shown = metadata(result)
    assert shown["ready0_count"] == false_rows
    assert shown["ready0_share"] == pytest.approx(false_rows / SYMBOLS)
    assert shown["baseline_share"] == pytest.approx(3 / SYMBOLS)


@pytest.mark.parametrize("check", ["ready0_count", "tradeable0_count"])
def test_fewer_than_three_zero_rows_are_never_a_spike(database_url, check) -> None:
    column = "ready" if check == "ready0_count" else "tradeable"
    with connect(database_url, autocommit=True) as conn:
        write_rows(conn, BASELINE_BLOCK, SYMBOLS)  # a baseline share of 0: any zero row is over twice it
        write_rows(conn, WINDOW_BLOCK, 4, special_rows=2, **{column: False})
    assert judge(database_url)[check].passed
    with connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("UPDATE ovc.ovc_blocks_v01 SET {} = false WHERE symbol = 'S02' AND block_start = %s").format(
                sql.Identifier(column)),
            (WINDOW_BLOCK.start_utc,),
        )
    assert not judge(database_url)[check].passed  # three zero rows of four, against a baseline of none


def _diverging_rows(conn, live_c: float) -> None:
    """Block rows whose live close differs from the provider close 1.0 by `live_c - 1.0`."""
    write_rows(conn, WINDOW_BLOCK, 1, special_rows=1, c=live_c, h=1.25,
               provider_source="oanda", provider_o=1.0, provider_h=1.25, provider_l=0.75, provider_c=1.0)


@pytest.mark.parametrize(
    ("live_c", "passed"),
    [(1.0 + TOLERANCE - 2.0**-30, True), (1.0 + TOLERANCE, True), (1.0 + TOLERANCE + 2.0**-30, False)],
    ids=["under", "at", "over"],
)
def test_ohlc_divergence_at_under_and_over_the_tolerance(database_url, live_c, passed) -> None:
    with connect(database_url, autocommit=True) as conn:
        _diverging_rows(conn, live_c)
    result = judge(database_url, tolerance=TOLERANCE)["ohlc_divergence"]
    assert result.passed is passed and result.severity == dg.AssetCheckSeverity.WARN
    shown = metadata(result)
    assert shown["blocks_compared"] == 1
    assert shown["blocks_diverging"] == (0 if passed else 1)
    assert shown["max_divergence"] == live_c - 1.0
    assert shown["examples"] == ([] if passed else [WINDOW_BLOCK.block_id("S00")])


@pytest.mark.parametrize(("live_c", "passed"), [(1.0004, True), (1.0006, False)])
def test_ohlc_divergence_with_the_default_tolerance_of_five_hundredths_of_a_percent(database_url, live_c, passed) -> None:
    with connect(database_url, autocommit=True) as conn:
        _diverging_rows(conn, live_c)
    assert judge(database_url)["ohlc_divergence"].passed is passed
