"""Symbols come from the deployment's `OVC_SYMBOLS`; blocks of other symbols in a window are
counted and warned about, never silently ignored."""

from __future__ import annotations

import dagster as dg
import pytest

from ovc_assets.definitions import build_definitions
from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.errors import OvcError
from ovc_assets.settings import configured_symbols
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.defs.conftest import BLOCKS_2H, WEEK_RANGE_TAGS

OVC_BLOCKS = build_block_assets(BLOCKS_2H)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, ("GBPUSD",)), ("", ("GBPUSD",)), (" gbpusd, EURUSD,,gbpusd ", ("GBPUSD", "EURUSD")), ("XAU_USD", ("XAU_USD",))],
)
def test_ovc_symbols_is_a_comma_separated_list(text, expected) -> None:
    assert configured_symbols(text) == expected


def test_a_symbol_that_cannot_name_a_block_is_e_config() -> None:
    with pytest.raises(OvcError) as raised:
        configured_symbols("GBPUSD,EUR-USD")
    assert raised.value.code == "E_CONFIG" and "EUR-USD" in raised.value.message


def test_the_code_location_takes_its_symbols_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("OVC_SYMBOLS", "GBPUSD,EURUSD")
    monkeypatch.setenv("OVC_PARTITIONS_START", "2026-01-04 17:00")
    assert build_definitions().resources["pipeline"].symbols == ["GBPUSD", "EURUSD"]


def _week(landed_week: str, instance, symbols: list[str]) -> dict:
    resources = {"ovc_database": PostgresResource(database_url=landed_week), "pipeline": PipelineSettings(symbols=symbols)}
    result = dg.materialize([OVC_BLOCKS], resources=resources, instance=instance, tags=WEEK_RANGE_TAGS)
    assert result.success
    return {key: value.value for key, value in result.asset_materializations_for_node("ovc_blocks")[0].metadata.items()}


def test_blocks_of_a_symbol_not_configured_are_counted(landed_week, instance) -> None:
    metadata = _week(landed_week, instance, ["GBPUSD"])

    with connect(landed_week) as conn:
        eurusd_blocks = conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01 WHERE symbol = 'EURUSD'").fetchone()[0]
    assert eurusd_blocks > 0
    assert metadata["unconfigured_symbol_blocks"] == {"EURUSD": eurusd_blocks}
    assert metadata["symbols"] == ["GBPUSD"]


def test_with_every_symbol_configured_nothing_is_unaccounted(landed_week, instance) -> None:
    assert _week(landed_week, instance, ["GBPUSD", "EURUSD"])["unconfigured_symbol_blocks"] == {}
