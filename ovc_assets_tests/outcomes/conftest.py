"""Fixtures of the outcome tests: the outcome series stored as blocks in this test's database."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.outcomes.outcome_series import SYMBOL, SeriesBlock, series

INSERT_SERIES_BLOCK_SQL = """
INSERT INTO ovc.ovc_blocks_v01 (
    symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
    o, h, l, c, play, pred_dir, pred_target, invalidation, source, run_id
) VALUES (
    %(symbol)s, %(block_start)s, '2H', 'v01', %(block_end)s, %(bid)s, %(date_ny)s, %(letter)s, %(pair)s,
    %(o)s, %(h)s, %(l)s, %(c)s, %(play)s, %(pred_dir)s, %(pred_target)s, %(invalidation)s, 'csv', 'series-loader'
)
"""


def store_blocks(dsn: str, blocks: list[SeriesBlock]) -> None:
    with connect(dsn) as conn, conn.cursor() as cursor:
        cursor.executemany(
            INSERT_SERIES_BLOCK_SQL,
            [
                {
                    "symbol": SYMBOL, "block_start": b.block.start_utc, "block_end": b.block.end_utc, "bid": b.bid,
                    "date_ny": b.block.date_ny, "letter": b.block.letter, "pair": b.block.pair, "o": b.o, "h": b.h,
                    "l": b.l, "c": b.c, "play": b.play, "pred_dir": b.pred_dir, "pred_target": b.pred_target,
                    "invalidation": b.invalidation,
                }  # fmt: skip
                for b in blocks
            ],
        )


@pytest.fixture
def stored_series(database_url: str) -> list[SeriesBlock]:
    blocks = series()
    store_blocks(database_url, blocks)
    return blocks


@pytest.fixture
def resources(database_url: str) -> dict[str, object]:
    return {
        "ovc_database": PostgresResource(database_url=database_url),
        "pipeline": PipelineSettings(symbols=[SYMBOL]),
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance
