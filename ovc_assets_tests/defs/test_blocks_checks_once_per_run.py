"""A run records each check of `ovc_blocks` once, however it is launched: the jobs (and the CLI)
run the asset without the checks defined beside it, and the write step records them; the UI's
"Materialize" selects those checks with the asset (`ovc_blocks_checks`, a step of its own after
the write), and then only that step records them."""

from __future__ import annotations

from collections import Counter

import dagster as dg

from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.blocks.checks import CHECK_DESCRIPTIONS, build_blocks_checks
from ovc_assets_tests.defs.conftest import BLOCKS_2H, WEEK, WEEK_RANGE_TAGS

OVC_BLOCKS = build_block_assets(BLOCKS_2H)[0]
OVC_BLOCKS_CHECKS = build_blocks_checks(OVC_BLOCKS.key)
ONCE_EACH = {name: 1 for name in CHECK_DESCRIPTIONS}


def _entries_per_check(result: dg.ExecuteInProcessResult) -> Counter[str]:
    return Counter(evaluation.check_name for evaluation in result.get_asset_check_evaluations())


def test_the_asset_alone_records_each_check_once(landed_week, resources, instance) -> None:
    result = dg.materialize([OVC_BLOCKS], resources=resources, instance=instance, tags=WEEK_RANGE_TAGS)
    assert result.success
    assert _entries_per_check(result) == ONCE_EACH


def test_the_asset_with_its_checks_selected_records_each_check_once(landed_week, resources, instance) -> None:
    result = dg.materialize(
        [OVC_BLOCKS, OVC_BLOCKS_CHECKS], resources=resources, instance=instance, tags=WEEK_RANGE_TAGS
    )
    assert result.success
    assert _entries_per_check(result) == ONCE_EACH
    # Judged by the checks' own step, on the window the run wrote.
    evaluations = result.get_asset_check_evaluations()
    assert {e.metadata["window_start"].value for e in evaluations} == {WEEK[0].start_utc.isoformat()}
    assert {e.metadata["window_end"].value for e in evaluations} == {WEEK[-1].end_utc.isoformat()}
    assert all(e.passed or e.severity is dg.AssetCheckSeverity.WARN for e in evaluations)
