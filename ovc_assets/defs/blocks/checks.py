"""Asset checks of `ovc_blocks`, judged over the window a run materialised.

They are judged in the same step as the write, once for the whole window, and recorded as
that step's check evaluations (`check_evaluations`): one entry per run in each check's
history. They are not `check_specs` of the asset, because Dagster plans a check of a
partitioned asset once per partition of a range run (a "planned" row per partition and
check, written before the run starts and shown as skipped afterwards). The checks are
defined beside the asset (`build_blocks_checks`, unpartitioned), so the UI lists them and can
judge the latest materialised window again on demand; a run that selects them with the asset
(the asset page's "Materialize") records them from that step only. Each result carries its
window and numeric metadata the UI can plot.
"""

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import dagster as dg
import psycopg

from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.project_files import load_query
from ovc_assets.runs.quality import DataQuality, Ready0SpikeRule, data_quality

BLOCKS_MISSING = "blocks_missing"
NULL_RATES = "null_rates"
OHLC_SANITY = "ohlc_sanity"
READY0_COUNT = "ready0_count"
TRADEABLE0_COUNT = "tradeable0_count"
DUPLICATE_KEYS = "duplicate_keys"
OHLC_DIVERGENCE = "ohlc_divergence"

CHECK_DESCRIPTIONS = {
    BLOCKS_MISSING: "Every open block of the FX calendar (weekend and holidays excluded) in the window has a row, per configured symbol.",
    NULL_RATES: "The share of NULLs in each configured MIN column (e.g. state_tag, play) stays within its threshold.",
    OHLC_SANITY: "Every row's prices obey h >= max(o,c), l <= min(o,c), h >= l and are finite (sanity_error_count = 0).",
    READY0_COUNT: "The share of ready = 0 blocks does not spike against the 7 days before the window.",
    TRADEABLE0_COUNT: "The share of tradeable = 0 blocks does not spike against the 7 days before the window.",
    DUPLICATE_KEYS: "No block id occurs twice in the window (no conflicting rows for one block).",
    OHLC_DIVERGENCE: "Where a live TradingView row and a provider candle exist for a block, their prices agree within the tolerance.",
}
WARN_CHECKS = (BLOCKS_MISSING, NULL_RATES, READY0_COUNT, TRADEABLE0_COUNT, OHLC_DIVERGENCE)


def check_specs(asset_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name=name, asset=asset_key, description=description, blocking=name not in WARN_CHECKS)
        for name, description in CHECK_DESCRIPTIONS.items()
    ]


def _result(name: str, passed: bool, window: dict[str, str], **metadata: object) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.WARN if name in WARN_CHECKS else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(check_name=name, passed=passed, severity=severity, metadata={**window, **metadata})


def judge_window(
    conn: psycopg.Connection,
    symbols: Sequence[str],
    start: datetime,
    end: datetime,
    pipeline: PipelineSettings,
) -> tuple[DataQuality, list[dg.AssetCheckResult]]:
    """The data-quality figures of `[start, end)` and every check's result for that window."""
    quality = data_quality(conn, symbols, start, end, null_rate_columns=sorted(pipeline.null_rate_thresholds))
    return quality, evaluate_checks(conn, quality, pipeline.null_rate_thresholds, pipeline.ohlc_divergence_tolerance)


def check_evaluations(asset_key: dg.AssetKey, results: Sequence[dg.AssetCheckResult]) -> list[dg.AssetCheckEvaluation]:
    """The results as evaluations a step logs (`context.log_event`) for the checks of `asset_key`."""
    return [
        dg.AssetCheckEvaluation(
            asset_key=asset_key,
            check_name=result.check_name,
            passed=result.passed,
            metadata=result.metadata,
            severity=result.severity,
        )
        for result in results
    ]


def _checks_node_name(asset_key: dg.AssetKey) -> str:
    return f"{asset_key.to_python_identifier()}_checks"


def checks_run_in_their_own_step(context: dg.AssetExecutionContext, asset_key: dg.AssetKey) -> bool:
    """Whether this run also runs `build_blocks_checks(asset_key)`, which then judge the run's
    window in a step of their own after the write. The UI's "Materialize" selects them with the
    asset; the jobs leave them out. Recording the checks in the write step as well would give
    each check two entries for one run."""
    return _checks_node_name(asset_key) in context.job_def.graph.node_dict


def build_blocks_checks(asset_key: dg.AssetKey) -> dg.AssetChecksDefinition:
    """The checks of `asset_key` as definitions, for the UI and for judging on demand."""

    @dg.multi_asset_check(specs=check_specs(asset_key), name=_checks_node_name(asset_key))
    def ovc_blocks_checks(
        context: dg.AssetCheckExecutionContext, ovc_database: PostgresResource, pipeline: PipelineSettings
    ) -> Iterator[dg.AssetCheckResult]:
        """Judge the window of the latest materialisation of `ovc_blocks` again (runs of the
        asset judge their own window in the write step and record these checks there)."""
        latest = context.instance.get_latest_materialization_event(asset_key)
        if latest is None or latest.asset_materialization is None:
            raise dg.Failure(description=f"{asset_key.to_user_string()} has no materialisation to check yet")
        metadata = latest.asset_materialization.metadata
        start = datetime.fromisoformat(metadata["window_start"].value)
        end = datetime.fromisoformat(metadata["window_end"].value)
        symbols = metadata["symbols"].value if "symbols" in metadata else pipeline.symbols
        with ovc_database.connection() as conn:
            _, results = judge_window(conn, symbols, start, end, pipeline)
        yield from results

    return ovc_blocks_checks


def evaluate_checks(
    conn: psycopg.Connection,
    quality: DataQuality,
    null_rate_thresholds: dict[str, float],
    divergence_tolerance: float,
    spike_rule: Ready0SpikeRule = Ready0SpikeRule(),
) -> list[dg.AssetCheckResult]:
    """Every check of `CHECK_DESCRIPTIONS` for the window of `quality`."""
    start, end = quality.range_start, quality.range_end
    window = {"window_start": start.isoformat(), "window_end": end.isoformat()}
    bounds = {"start": start, "end": end}

    null_rates = {name: rate for name, rate in quality.null_rate_summary.items() if rate is not None}
    over_threshold = {name: rate for name, rate in null_rates.items() if rate > null_rate_thresholds.get(name, 1.0)}

    duplicates = conn.execute(load_query("check_duplicate_block_ids"), bounds).fetchall()
    divergences = conn.execute(load_query("check_ohlc_divergence"), bounds).fetchall()
    diverging = [(bid, value) for bid, value in divergences if value is not None and value > divergence_tolerance]
    tradeable0, tradeable_known, base_tradeable0, base_known = conn.execute(
        load_query("check_tradeable0_shares"),
        {**bounds, "baseline_start": start - timedelta(days=spike_rule.baseline_days)},
    ).fetchone()

    return [
        _result(
            BLOCKS_MISSING,
            not quality.blocks_missing,
            window,
            blocks_missing=dg.MetadataValue.int(quality.blocks_missing or 0),
            expected_blocks=dg.MetadataValue.int(quality.expected_blocks or 0),
            missing_examples=dg.MetadataValue.json(list(quality.missing_examples)),
        ),
        _result(
            NULL_RATES,
            not over_threshold,
            window,
            **{f"null_rate_{name}": dg.MetadataValue.float(float(rate)) for name, rate in null_rates.items()},
            over_threshold=dg.MetadataValue.json(over_threshold),
        ),
        _result(OHLC_SANITY, quality.sanity_error_count == 0, window, sanity_error_count=dg.MetadataValue.int(quality.sanity_error_count)),
        _result(
            READY0_COUNT,
            not quality.ready0_spike,
            window,
            ready0_count=dg.MetadataValue.int(quality.ready0_count),
            ready0_share=dg.MetadataValue.float(float(quality.ready0_share or 0.0)),
            baseline_share=dg.MetadataValue.float(float(quality.ready0_baseline_share or 0.0)),
        ),
        _result(
            TRADEABLE0_COUNT,
            not spike_rule.is_spike(tradeable0, tradeable_known, base_tradeable0, base_known),
            window,
            tradeable0_count=dg.MetadataValue.int(tradeable0),
            tradeable0_share=dg.MetadataValue.float(tradeable0 / tradeable_known if tradeable_known else 0.0),
        ),
        _result(
            DUPLICATE_KEYS,
            not duplicates,
            window,
            duplicate_block_ids=dg.MetadataValue.int(len(duplicates)),
            examples=dg.MetadataValue.json([bid for bid, _ in duplicates[:10]]),
        ),
        _result(
            OHLC_DIVERGENCE,
            not diverging,
            window,
            blocks_compared=dg.MetadataValue.int(len(divergences)),
            blocks_diverging=dg.MetadataValue.int(len(diverging)),
            max_divergence=dg.MetadataValue.float(float(max((v for _, v in divergences if v is not None), default=0.0))),
            examples=dg.MetadataValue.json([bid for bid, _ in diverging[:10]]),
        ),
    ]


def window_label(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()}..{end.isoformat()}"
