"""Fixtures of the history-backfill tests: candle files, the asset on a partition range, and
comparisons of block tables across databases."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from ovc_assets.calendar import NEW_YORK, Block, FxCalendar
from ovc_assets.cli.backfill import open_block_range
from ovc_assets.dagster_instance import (
    DAGSTER_URL_ENV,
    ensure_dagster_database,
    sqlalchemy_psycopg2_url,
)
from ovc_assets.defs.blocks.assets import OVC_BLOCKS, build_block_assets
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.runs.counts import RunCounts, load_step_counts
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.providers.fake_oanda import FakeOanda, price_at

# Every test window lies after this: one partitions definition serves them all.
PARTITIONS_START = datetime(2025, 6, 1, 17, tzinfo=NEW_YORK)
BLOCKS_2H = blocks_2h_partitions(PARTITIONS_START)
(OVC_BLOCKS_ASSET,) = [asset for asset in build_block_assets(BLOCKS_2H) if asset.key == OVC_BLOCKS]

# The spine's content without lineage and timestamps, so two databases filled by different
# runs at different times compare equal when they hold the same blocks.
CONTENT_CHECKSUM_SQL = """
SELECT md5(coalesce(string_agg(
    ROW(symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
        o, h, l, c, volume, rng, body, ret, dir, source, export_min,
        provider_source, provider_o, provider_h, provider_l, provider_c, provider_volume,
        provider_bar_count, provider_partial)::text,
    E'\\n' ORDER BY symbol, block_start, block_type, schema_ver), ''))
FROM ovc.ovc_blocks_v01
"""
CANDLE_HEADER = ("timestamp", "open", "high", "low", "close", "volume")
OANDA_TOKEN = "backfill-test-token"
OANDA_NOW = datetime(2026, 7, 15, 12, 34, 56, tzinfo=UTC)  # a Wednesday, 08:34 New York


@dataclass(frozen=True)
class Candle:
    start: datetime
    o: float
    h: float
    l: float  # noqa: E741 - the OHLC letter
    c: float
    volume: int


def market_candles(start: datetime, end: datetime, step: timedelta) -> list[Candle]:
    """Deterministic candles of `step` starting in [start, end), only while the FX market is open
    (the calendar's open blocks: weekends and the Dec 25 / Jan 1 sessions stay empty)."""
    candles = []
    for block in FxCalendar().expected_blocks(start, end):
        bar_start = block.start_utc
        while bar_start < block.end_utc:
            o, c = price_at(bar_start), price_at(bar_start + step)
            volume = 10 + int(bar_start.timestamp() // 60) % 40
            candles.append(Candle(bar_start, round(o, 5), round(max(o, c) + 0.0002, 5), round(min(o, c) - 0.0002, 5), round(c, 5), volume))
            bar_start += step
    return candles


def write_generic_csv(path: Path, candles: Sequence[Candle], time_text: Callable[[datetime], str] | None = None) -> Path:
    """A generic candle CSV; timestamps ISO UTC with `Z` unless `time_text` writes them."""
    text_of = time_text or (lambda ts: ts.strftime("%Y-%m-%dT%H:%M:%SZ"))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANDLE_HEADER)
        writer.writerows((text_of(x.start), x.o, x.h, x.l, x.c, x.volume) for x in candles)
    return path


def range_tags(first: Block, last: Block) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": partition_key_for_block(first),
        "dagster/asset_partition_range_end": partition_key_for_block(last),
    }


def window_tags(start: datetime, end: datetime) -> dict[str, str]:
    """Range tags of the partitions whose blocks start in [start, end)."""
    return range_tags(*open_block_range(start, end))


def materialize_blocks(
    database_url: str,
    config: dict[str, object],
    tags: dict[str, str],
    *,
    instance: dg.DagsterInstance | None = None,
    symbols: Sequence[str] = ("GBPUSD",),
) -> dg.ExecuteInProcessResult:
    """`ovc_blocks` with this source config over a partition range; failures are returned, not raised."""
    return dg.materialize(
        [OVC_BLOCKS_ASSET],
        instance=instance,
        resources={
            "ovc_database": PostgresResource(database_url=database_url),
            "pipeline": PipelineSettings(symbols=list(symbols)),
        },
        run_config={"ops": {"ovc_blocks": {"config": config}}},
        tags=tags,
        selection=[OVC_BLOCKS],
        raise_on_error=False,
    )


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    first = result.asset_materializations_for_node("ovc_blocks")[0]
    return {key: value.value for key, value in first.metadata.items()}


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def step_counts(database_url: str, run_id: str) -> RunCounts:
    with connect(database_url) as conn:
        (step,) = load_step_counts(conn, run_id)
    return step.counts


def assert_seed_002_invariants(counts: RunCounts) -> None:
    assert counts.received_events == counts.parse_ok + counts.parse_fail
    assert counts.insert_attempted == counts.parse_ok
    assert counts.insert_attempted == counts.insert_success + counts.insert_skipped + counts.insert_failed


def content_checksum(database_url: str) -> str:
    with connect(database_url) as conn:
        return conn.execute(CONTENT_CHECKSUM_SQL).fetchone()[0]


def cli_environment(database_url: str, home: Path) -> dict[str, str]:
    """Environment of an `ovc` process on `database_url`, with its Dagster storage beside it
    (`<db>_dagster`, dropped with the test databases) and a private OVC_HOME / DAGSTER_HOME."""
    return {
        "OVC_DATABASE_URL": database_url,
        "OVC_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        DAGSTER_URL_ENV: sqlalchemy_psycopg2_url(ensure_dagster_database(database_url)),
    }


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process bound to the test database like an `ovc` process (restored afterwards)."""
    environment = cli_environment(database_url, tmp_path / "ovc_home")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.fixture
def fake_oanda(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOanda]:
    """The fake OANDA v20 server on 127.0.0.1, with this process's OANDA_* pointing at it."""
    with FakeOanda(token=OANDA_TOKEN, now=OANDA_NOW) as server:
        monkeypatch.setenv("OANDA_API_TOKEN", OANDA_TOKEN)
        monkeypatch.setenv("OANDA_BASE_URL", server.url)
        monkeypatch.delenv("OANDA_ENV", raising=False)
        yield server


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """An in-memory instance: the asset tests need no persistent run history."""
    with dg.DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral
