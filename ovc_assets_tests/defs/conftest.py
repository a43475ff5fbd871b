"""Fixtures for the asset tests: the demo week's alerts landed in this test's database."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.demo.sample_week import (
    DEMO_SYMBOLS,
    SampleAlert,
    land_alerts_directly,
    sample_alerts,
    sample_candles,
    week_blocks,
)

WEEK = week_blocks()
WEEK_RANGE_TAGS = {
    "dagster/asset_partition_range_start": partition_key_for_block(WEEK[0]),
    "dagster/asset_partition_range_end": partition_key_for_block(WEEK[-1]),
}
BLOCKS_2H = blocks_2h_partitions(WEEK[0].start_utc)


@pytest.fixture
def demo_alerts() -> list[SampleAlert]:
    return sample_alerts(sample_candles())


@pytest.fixture
def landed_week(database_url: str, demo_alerts: list[SampleAlert]) -> str:
    land_alerts_directly(database_url, demo_alerts)
    return database_url


@pytest.fixture
def resources(database_url: str) -> dict[str, object]:
    return {
        "ovc_database": PostgresResource(database_url=database_url),
        "pipeline": PipelineSettings(symbols=list(DEMO_SYMBOLS)),
    }


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance
