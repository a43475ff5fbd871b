"""The data-quality figures as Dagster metadata / JSON: plain values, datetimes as ISO text."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ovc_assets.runs.quality import DataQuality


def test_the_metadata_is_plain_json_with_iso_datetimes_and_lists() -> None:
    quality = DataQuality(
        range_start=datetime(2026, 1, 13, 22, tzinfo=UTC),
        range_end=datetime(2026, 1, 14, 22, tzinfo=UTC),
        symbols=("EURUSD", "GBPUSD"),
        rows_in_range=3,
        expected_blocks=24,
        blocks_missing=21,
        missing_examples=("20260113-A-EURUSD",),
        ready0_count=1,
        tradeable0_count=2,
        null_rate_summary={"play": 0.5},
    )
    metadata = quality.as_metadata()
    assert metadata == {
        "range_start": "2026-01-13T22:00:00+00:00",
        "range_end": "2026-01-14T22:00:00+00:00",
        "symbols": ["EURUSD", "GBPUSD"],
        "rows_in_range": 3,
        "expected_blocks": 24,
        "blocks_missing": 21,
        "missing_examples": ["20260113-A-EURUSD"],
        "ready0_count": 1,
        "tradeable0_count": 2,
        "null_rate_summary": {"play": 0.5},
        "sanity_error_count": 0,
        "ready0_share": None,
        "ready0_baseline_share": None,
        "ready0_spike": False,
    }
    assert json.loads(json.dumps(metadata)) == metadata
