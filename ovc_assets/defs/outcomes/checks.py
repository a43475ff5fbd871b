"""Asset checks of `ovc_outcomes`, judged in the step that wrote them over the run's range.

Each check is a small function from what the step knows (the outcomes it computed, the rows
stored) to an `AssetCheckResult` with its counts and examples, so it tests without Dagster runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

import dagster as dg
import pandas as pd
import psycopg

from ovc_assets.pipeline.outcome_runs import OutcomeRange
from ovc_assets.pipeline.outcomes import OUTCOME_VER
from ovc_assets.project_files import load_query

OUTCOMES_MISSING = "outcomes_missing"
OUTCOME_VALUES_CONSISTENT = "outcome_values_consistent"
EXAMPLES_SHOWN = 10
T = TypeVar("T")

CHECK_DESCRIPTIONS = {
    OUTCOMES_MISSING: "Every block of the range whose window is complete has its stored COMPLETE outcome, per window type (outcomes_missing = 0).",
    OUTCOME_VALUES_CONSISTENT: "Every stored outcome has finite mfe_up >= 0 and mfe_down >= 0, 0 <= close_pos <= 1 (or NULL on a zero range) and bars_to_mfe_* within the window.",
}


def check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name=name, asset=asset_key, description=text) for name, text in CHECK_DESCRIPTIONS.items()]


def _scope(symbols: Sequence[str], window_types: Sequence[str], start: datetime, end: datetime) -> dict[str, object]:
    return {"outcome_ver": OUTCOME_VER, "window_types": list(window_types), "symbols": list(symbols), "start": start, "end": end}


def _none_found_result(
    check_name: str, found_name: str, found: Sequence[T], describe: Callable[[T], object], total_name: str, total: int
) -> dg.AssetCheckResult:
    """An ERROR check that passes when nothing was `found`, with the count, the total judged
    and the first examples."""
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=not found,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            found_name: dg.MetadataValue.int(len(found)),
            total_name: dg.MetadataValue.int(total),
            "examples": dg.MetadataValue.json([describe(item) for item in found[:EXAMPLES_SHOWN]]),
        },
    )


def outcomes_missing_result(
    expected: set[tuple[str, int, str]], stored: Iterable[tuple[str, int, str]], complete_windows: int
) -> dg.AssetCheckResult:
    """Missing = computed COMPLETE windows (symbol, start ns, window type) without a stored COMPLETE row."""
    return _none_found_result(
        OUTCOMES_MISSING,
        "outcomes_missing",
        sorted(expected - set(stored)),
        lambda key: f"{key[0]} {pd.Timestamp(key[1], tz='UTC').isoformat()} {key[2]}",
        "complete_windows",
        complete_windows,
    )


def outcome_values_result(inconsistent_rows: Sequence[tuple], rows_attempted: int) -> dg.AssetCheckResult:
    """Rows of `check_outcome_values.sql` (symbol, bid, window_type, mfe_up, mfe_down, close_pos, bars_up, bars_down)."""
    return _none_found_result(
        OUTCOME_VALUES_CONSISTENT,
        "inconsistent_rows",
        inconsistent_rows,
        lambda row: [str(value) for value in row],
        "rows_attempted",
        rows_attempted,
    )


def evaluate_checks(conn: psycopg.Connection, computed: OutcomeRange) -> list[dg.AssetCheckResult]:
    """Both checks over the stored rows of the range `computed` covers."""
    scope = _scope(computed.symbols, [window.name for window in computed.windows], computed.start, computed.end)
    stored_totals = {
        (symbol, window_type): (count, start_sum)
        for symbol, window_type, count, start_sum in conn.execute(load_query("outcome_complete_totals"), scope).fetchall()
    }
    expected = computed.complete_keys() if stored_totals != computed.complete_totals() else set()
    # Equal counts and sums of block starts per symbol and window: the same keys, without
    # fetching them; only a difference pays for the key-by-key comparison that finds examples.
    stored = (
        [
            (symbol, pd.Timestamp(start).value, window_type)
            for symbol, start, window_type in conn.execute(load_query("outcome_complete_keys"), scope).fetchall()
        ]
        if expected
        else []
    )
    inconsistent = conn.execute(load_query("check_outcome_values"), scope).fetchall()
    return [
        outcomes_missing_result(expected, stored, sum(count for count, _ in computed.complete_totals().values())),
        outcome_values_result(inconsistent, computed.write.attempted),
    ]
