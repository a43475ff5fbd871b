"""The `ovc_run_reports` asset: the run reports of each OVC day, as the Dagster UI shows them.

Daily partitions on the OVC day (17:00 to 17:00 New York; key = the day's `date_ny`). A
report belongs to the day its run started.

How it is materialised: the report sensors (sensors.py) write each report and then record
a *runless* materialisation of that day's partition (`report_runless_asset_event`), whose
metadata holds the new report (verdict, counts, warnings, the full report as a table) and
the table of all reports of the day so far. Launching a run per report instead would cost
a run (and, on a persistent instance, about a third of a second) for every run reported,
and those runs would themselves be runs to watch. Materialising the asset by hand (UI or
`dagster asset materialize`) recomputes a day's table from the database, e.g. after a
rollback wrote a report outside Dagster.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

from ovc_assets.calendar import NEW_YORK, Block, date_ny_of
from ovc_assets.defs.partitions import ovc_daily_partitions
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.ops.daily_quality import daily_quality
from ovc_assets.ops.quality_plots import quality_figures, quality_markdown
from ovc_assets.runs.chain import ChainVerification, verify_report_chain
from ovc_assets.runs.report import FAIL, PASS, REPORT_COLUMNS, WARN, RunReport
from ovc_assets.runs.store import load_reports_between
from ovc_assets.settings import load_settings

RUN_REPORTS_ASSET_KEY = dg.AssetKey("ovc_run_reports")
RUN_REPORTS_START = datetime(2025, 1, 1, 17, tzinfo=NEW_YORK)
PARTITION_KEY_FORMAT = "%Y-%m-%d"
QUALITY_PLOT_DAYS = 14  # the data-quality figures of a day show it and the days before

run_report_partitions = ovc_daily_partitions(RUN_REPORTS_START)

SUMMARY_COUNTS = (
    "received_events", "parse_ok", "parse_fail", "insert_attempted", "insert_success", "insert_skipped",
    "insert_failed", "blocks_missing", "ready0_count", "tradeable0_count", "sanity_error_count",
    "outcomes_attempted", "outcomes_inserted", "outcomes_failed", "raw_events_written", "duration_ms",
)  # fmt: skip


def partition_key_for(report: RunReport) -> str:
    """The OVC day (`date_ny`) the report's run started in."""
    started = (
        datetime.fromtimestamp(report.started_at_ms / 1000, UTC) if report.started_at_ms is not None else datetime.now(UTC)
    )
    return date_ny_of(started).strftime(PARTITION_KEY_FORMAT)


def day_bounds_ms(partition_key: str) -> tuple[int, int]:
    """[start, end) of an OVC day in epoch milliseconds."""
    day = date.fromisoformat(partition_key)
    return Block(day, "A").start_ms, Block(day + timedelta(days=1), "A").start_ms


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def report_markdown(report: RunReport) -> str:
    """Every seed-002 field of one report, as a two-column table."""
    lines = ["| field | value |", "|---|---|"]
    lines += [f"| {name} | {_cell(getattr(report, name))} |" for name in REPORT_COLUMNS]
    return "\n".join(lines)


def day_markdown(reports: list[RunReport]) -> str:
    """One line per report of a day: what ran, how much, and the verdict."""
    if not reports:
        return "No run reports for this day."
    lines = [
        "| started (UTC) | run_id | run_type | verdict | received | parse_fail | inserted | skipped | failed | warnings |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for report in reports:
        started = (
            datetime.fromtimestamp(report.started_at_ms / 1000, UTC).strftime("%H:%M:%S")
            if report.started_at_ms is not None
            else ""
        )
        lines.append(
            f"| {started} | {_cell(report.run_id)} | {_cell(report.run_type)} | {_cell(report.run_status)} "
            f"| {report.received_events} | {report.parse_fail} | {report.insert_success} | {report.insert_skipped} "
            f"| {report.insert_failed} | {_cell('; '.join(report.warnings))} |"
        )
    return "\n".join(lines)


def _verdict_counts(reports: list[RunReport]) -> dict[str, int]:
    return {status: sum(1 for report in reports if report.run_status == status) for status in (PASS, WARN, FAIL)}


def day_metadata(reports: list[RunReport]) -> dict[str, dg.MetadataValue]:
    verdicts = _verdict_counts(reports)
    return {
        "reports": dg.MetadataValue.int(len(reports)),
        "pass": dg.MetadataValue.int(verdicts[PASS]),
        "warn": dg.MetadataValue.int(verdicts[WARN]),
        "fail": dg.MetadataValue.int(verdicts[FAIL]),
        "day_reports": dg.MetadataValue.md(day_markdown(reports)),
    }


def report_metadata(report: RunReport, day_reports: list[RunReport]) -> dict[str, dg.MetadataValue]:
    """Metadata of one report's materialisation: the report itself, then its day."""
    metadata: dict[str, dg.MetadataValue] = {
        "run_id": dg.MetadataValue.text(report.run_id),
        "run_type": dg.MetadataValue.text(report.run_type or ""),
        "verdict": dg.MetadataValue.text(report.run_status or ""),
        "warnings": dg.MetadataValue.md("\n".join(f"- {_cell(w)}" for w in report.warnings) or "none"),
        "fail_by_code": dg.MetadataValue.json(report.fail_by_code),
    }
    for name in SUMMARY_COUNTS:
        value = getattr(report, name)
        if value is not None:
            metadata[name] = dg.MetadataValue.int(int(value))
    metadata["report"] = dg.MetadataValue.md(report_markdown(report))
    metadata.update(day_metadata(day_reports))
    return metadata


def report_materialization(report: RunReport, day_reports: list[RunReport]) -> dg.AssetMaterialization:
    """The runless materialisation of the report's day partition."""
    return dg.AssetMaterialization(
        asset_key=RUN_REPORTS_ASSET_KEY,
        partition=partition_key_for(report),
        description=f"run report {report.run_id}: {report.run_status}",
        metadata=report_metadata(report, day_reports),
    )


CHAIN_CHECK_NAME = "run_report_chain_is_intact"


def chain_check_result(verification: ChainVerification) -> dg.AssetCheckResult:
    """The chain check's result: passed only without a break; every break named."""
    return dg.AssetCheckResult(
        check_name=CHAIN_CHECK_NAME,
        passed=verification.ok,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "links": dg.MetadataValue.int(verification.links),
            "older_than_chain": dg.MetadataValue.int(verification.older_than_chain),
            "files_checked": dg.MetadataValue.int(verification.files_checked),
            "head_sha256": dg.MetadataValue.text(verification.head_sha256 or ""),
            "breaks": dg.MetadataValue.int(len(verification.breaks)),
            "findings": dg.MetadataValue.md("\n".join(f"- {_cell(str(b))}" for b in verification.breaks) or "none"),
        },
    )


@dg.asset(
    key=RUN_REPORTS_ASSET_KEY,
    partitions_def=run_report_partitions,
    group_name="run_reports",
    kinds={"postgres"},
    check_specs=[
        dg.AssetCheckSpec(
            CHAIN_CHECK_NAME,
            asset=RUN_REPORTS_ASSET_KEY,
            description=(
                "Every run report, in ovc_run_reports_v01 and in $OVC_HOME/reports, is unedited and in its "
                "place in the SHA-256 hash chain: nothing edited, deleted, re-ordered or forged (ovc report verify)."
            ),
        )
    ],
)
def ovc_run_reports(context: dg.AssetExecutionContext, ovc_database: PostgresResource) -> dg.MaterializeResult:
    """The run reports of one OVC day (17:00 to 17:00 New York): one immutable report per
    OVC run (seed 002), with its verdict PASS / WARN / FAIL and the reasons. Written by the
    run-report sensors as each run ends; materialising a day recomputes its table from
    `ovc.ovc_run_reports_v01`, verifies the whole report hash chain (table and files) and draws
    the data-quality figures of the 14 days up to it (blocks vs the FX calendar, rejected
    payloads by code, verdicts, TradingView vs provider)."""
    start_ms, end_ms = day_bounds_ms(context.partition_key)
    day = date.fromisoformat(context.partition_key)
    with ovc_database.connection() as conn:
        reports = load_reports_between(conn, start_ms, end_ms)
        quality = daily_quality(conn, day - timedelta(days=QUALITY_PLOT_DAYS - 1), day)
        verification = verify_report_chain(conn, load_settings().reports_dir)
    context.log.info(f"{len(reports)} run report(s) on {context.partition_key}")
    for found in verification.breaks:
        context.log.error(f"run report chain: {found}")
    figures = quality_figures(quality)
    return dg.MaterializeResult(
        metadata={**day_metadata(reports), "data_quality": dg.MetadataValue.md(quality_markdown(quality, figures))},
        check_results=[chain_check_result(verification)],
    )
