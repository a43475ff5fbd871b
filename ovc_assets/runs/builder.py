"""Build and store the report of a finished (or dead) run.

Inputs, all read after the run:
- the run's tags (`ovc/run_type` makes it an OVC run; `ovc/input_source`,
  `ovc/input_range`, `ovc/profile`, `ovc/scheme`, `ovc/env`, `ovc/cli_args`,
  `ovc/dedup_mode`, `ovc/source_tier` are optional), its status and its times;
- the sum of the run's `ovc.ovc_run_counts` rows (one per step);
- the data-quality figures of the union of the steps' ranges (quality.py);
- the manifest its first step recorded (for `run_ver`: the worker's code identity).

A run that did not succeed is FAIL, with the reason (failed steps and their errors, a
cancellation, or the dead process) in `warnings` and `notes`. Anything that goes wrong
while gathering these facts (a tracking failure) is logged, named in `warnings`, and never
stops the report from being written.

`report_dagster_run(instance, run_id, conn)` is the one call a command that launches a
job in-process needs after the run: it writes the report (or finds the existing one) and
returns it; `exit_code_for(report.run_status)` gives the command's exit code.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import psycopg

from ovc_assets.calendar import block_at
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.counts import (
    RunCounts,
    StepCountsRow,
    load_step_counts,
    sum_counts,
)
from ovc_assets.runs.manifest import (
    UNKNOWN,
    RunManifest,
    SecretScrubber,
    environment_info,
    input_hash,
    load_manifest,
    redact,
    run_ver,
)
from ovc_assets.runs.quality import DEFAULT_NULL_RATE_COLUMNS, DataQuality, data_quality
from ovc_assets.runs.repairs import repair_note
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.store import StoredReport, load_report, report_exists, store_report
from ovc_assets.runs.tags import (
    CLI_ARGS_TAG,
    DEDUP_MODE_TAG,
    DEFAULT_DEDUP_MODE,
    DEFAULT_INPUT_SOURCES,
    DEFAULT_PROFILES,
    ENV_TAG,
    INPUT_RANGE_TAG,
    INPUT_SOURCE_TAG,
    PROFILE_TAG,
    RUN_TYPE_TAG,
    RUN_TYPES,
    SCHEME_TAG,
    SOURCE_TIER_TAG,
    SOURCE_TIERS,
    RunType,
)
from ovc_assets.settings import Settings, load_settings
from ovc_assets.storage.raw_store import RawStore, open_raw_store

log = logging.getLogger(__name__)

SUCCESS, FAILURE, CANCELED, CRASHED = "SUCCESS", "FAILURE", "CANCELED", "CRASHED"
OUTCOMES = (SUCCESS, FAILURE, CANCELED, CRASHED)
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
MAX_REASON_LENGTH = 500
MAX_STEP_FAILURES = 3


@dataclass
class RunFacts:
    """What the builder needs to know about a run, independent of where it ran."""

    run_id: str
    tags: Mapping[str, str]
    outcome: str  # SUCCESS, FAILURE, CANCELED, CRASHED
    started_at: datetime | None
    finished_at: datetime | None
    dagster_run_id: str | None = None
    failure_reason: str | None = None
    run_config: Mapping[str, object] | None = None
    job_name: str | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    @property
    def run_type(self) -> str | None:
        return self.tags.get(RUN_TYPE_TAG)


@dataclass
class ReportOutcome:
    """What one attempt to report a run did: `written` False means the run already had a
    report (returned as `report`) or is not an OVC run (`report` None)."""

    run_id: str
    written: bool
    report: RunReport | None = None
    stored: StoredReport | None = None
    reason: str = ""


# --- facts from Dagster ----------------------------------------------------------------


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def facts_from_dagster_run(
    instance: dg.DagsterInstance, run_id: str, *, crashed_reason: str | None = None
) -> RunFacts | None:
    """The facts of a Dagster run from the instance's run record and event log; None when
    the instance does not know the run. `crashed_reason` marks a run whose process died."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    run = record.dagster_run
    status = run.status
    if crashed_reason:
        outcome, reason = CRASHED, crashed_reason
    elif status == dg.DagsterRunStatus.SUCCESS:
        outcome, reason = SUCCESS, None
    elif status == dg.DagsterRunStatus.CANCELED:
        outcome, reason = CANCELED, "the run was canceled"
    elif status == dg.DagsterRunStatus.FAILURE:
        outcome, reason = FAILURE, _failure_reason(instance, run_id)
    else:
        outcome, reason = CRASHED, f"the run is {status.value} and was reported as not finished"
    started = _ts(record.start_time) or record.create_timestamp
    finished = _ts(record.end_time)
    if finished is None and outcome != SUCCESS:
        finished = _last_event_time(instance, run_id) or record.update_timestamp
    return RunFacts(
        run_id=run_id,
        dagster_run_id=run_id,
        tags=dict(run.tags),
        outcome=outcome,
        started_at=started,
        finished_at=finished,
        failure_reason=reason,
        run_config=dict(run.run_config or {}),
        job_name=run.job_name,
    )


def _failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    try:
        records = instance.get_records_for_run(
            run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ).records
    except Exception as error:  # noqa: BLE001 - the reason is a nicety; the FAIL stands without it
        return f"the run failed (its failure events could not be read: {type(error).__name__})"
    step_failures: list[str] = []
    run_message = None
    for record in records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = _root_cause(getattr(event.event_specific_data, "error", None))
            detail = error.message.strip() if error is not None else (event.message or "")
            step_failures.append(f"step {entry.step_key or '?'} failed: {detail}")
        elif event.event_type == dg.DagsterEventType.RUN_FAILURE:
            run_message = event.message
    if step_failures:
        more = len(step_failures) - MAX_STEP_FAILURES
        text = "; ".join(step_failures[:MAX_STEP_FAILURES]) + (f"; and {more} more" if more > 0 else "")
    else:
        text = run_message or "the run failed"
    return _shorten(text)


def _root_cause(error):
    """The user's exception inside Dagster's wrappers (SerializableErrorInfo.cause chain);
    its message already starts with the exception's class name."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def _last_event_time(instance: dg.DagsterInstance, run_id: str) -> datetime | None:
    try:
        records = instance.get_records_for_run(run_id, limit=1, ascending=False).records
    except Exception:  # noqa: BLE001
        return None
    return _ts(records[0].event_log_entry.timestamp) if records else None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON_LENGTH else text[: MAX_REASON_LENGTH - 3] + "..."


# --- building --------------------------------------------------------------------------


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


@dataclass
class _Gathered:
    rows: list[StepCountsRow] = field(default_factory=list)
    counts: RunCounts = field(default_factory=RunCounts)
    range_start: datetime | None = None
    range_end: datetime | None = None
    symbols: tuple[str, ...] = ()
    quality: DataQuality | None = None
    manifest_row: Mapping[str, object] | None = None
    problems: list[str] = field(default_factory=list)


def _gather(
    conn: psycopg.Connection, facts: RunFacts, null_rate_columns: Sequence[str], scrubber: SecretScrubber
) -> _Gathered:
    gathered = _Gathered()

    def problem(what: str, error: BaseException) -> None:
        text = scrubber.scrub(f"{what}: {' '.join(str(error).split())[:300] or type(error).__name__}")
        log.warning("run tracking (run %s): %s", facts.run_id, text)
        gathered.problems.append(text)

    try:
        with conn.transaction():
            gathered.rows = load_step_counts(conn, facts.dagster_run_id or facts.run_id)
            gathered.manifest_row = load_manifest(conn, facts.run_id)
    except (psycopg.Error, ValueError, TypeError) as error:
        problem("step counts could not be read", error)
    gathered.counts = sum_counts(row.counts for row in gathered.rows)
    starts = [row.range_start for row in gathered.rows if row.range_start is not None]
    ends = [row.range_end for row in gathered.rows if row.range_end is not None]
    gathered.range_start = min(starts) if starts else None
    gathered.range_end = max(ends) if ends else None
    gathered.symbols = tuple(sorted({symbol for row in gathered.rows for symbol in row.symbols}))
    if not gathered.rows and facts.outcome == SUCCESS and not gathered.problems:
        gathered.problems.append("no step recorded its counts (ovc.ovc_run_counts has no row for this run)")

    if gathered.range_start is not None and gathered.range_end is not None:
        try:
            with conn.transaction():
                gathered.quality = data_quality(
                    conn,
                    gathered.symbols or None,
                    gathered.range_start,
                    gathered.range_end,
                    null_rate_columns=null_rate_columns,
                )
        except (psycopg.Error, ValueError) as error:
            problem("data-quality figures could not be computed", error)
    elif gathered.rows and facts.outcome == SUCCESS:
        gathered.problems.append("no step recorded an input range; data-quality figures not computed")
    return gathered


def _run_ver(manifest_row: Mapping[str, object] | None) -> str:
    if not manifest_row:
        return run_ver()
    commit = str(manifest_row.get("git_commit") or UNKNOWN)
    short = commit[:12] if commit != UNKNOWN else UNKNOWN
    dirty = "-dirty" if manifest_row.get("git_dirty") else ""
    return f"{manifest_row.get('package_version')}+{short}{dirty}"


def _input_range(facts: RunFacts, gathered: _Gathered) -> str | None:
    if facts.tags.get(INPUT_RANGE_TAG):
        return facts.tags[INPUT_RANGE_TAG]
    start, end, symbols = gathered.range_start, gathered.range_end, gathered.symbols
    if start is not None and end is not None:
        block = block_at(start)
        if len(symbols) == 1 and block.start_utc == start and block.end_utc == end:
            try:
                return f"block_id={block.block_id(symbols[0])}"
            except ValueError:
                pass
        text = f"{start.astimezone(UTC):%Y-%m-%dT%H:%MZ}..{end.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
        return text + (f" symbols={','.join(symbols)}" if symbols else "")
    if facts.tags.get(RANGE_START_TAG):
        return f"partitions={facts.tags[RANGE_START_TAG]}...{facts.tags.get(RANGE_END_TAG, '')}"
    if facts.tags.get(PARTITION_TAG):
        return f"partition={facts.tags[PARTITION_TAG]}"
    return None


def _joined(tally: Mapping[str, int]) -> str | None:
    return ",".join(sorted(tally)) if tally else None


def build_report(
    conn: psycopg.Connection,
    facts: RunFacts,
    *,
    raw_store_location: str | None = None,
    env: str | None = None,
    null_rate_columns: Sequence[str] = DEFAULT_NULL_RATE_COLUMNS,
    scrubber: SecretScrubber | None = None,
    extra_problems: Sequence[str] = (),
) -> tuple[RunReport, RunManifest]:
    """The finalized report and the completed manifest of a run (nothing is written)."""
    scrubber = scrubber or SecretScrubber.from_environ()
    run_type = facts.run_type
    gathered = _gather(conn, facts, null_rate_columns, scrubber)
    counts, quality = gathered.counts, gathered.quality
    problems = [*extra_problems, *gathered.problems]
    if run_type not in RUN_TYPES:
        problems.append(f"run_type tag {RUN_TYPE_TAG}={run_type!r} is not one of {', '.join(RUN_TYPES)}")
    repair = None
    try:
        with conn.transaction():  # a savepoint: a failed look-up leaves the caller's transaction usable
            repair = repair_note(conn, facts.tags)
    except psycopg.Error as error:
        problems.append(f"self-repair summary not gathered: {type(error).__name__}: {error}")

    started_ms, finished_ms = _ms(facts.started_at), _ms(facts.finished_at)
    input_source = facts.tags.get(INPUT_SOURCE_TAG) or DEFAULT_INPUT_SOURCES.get(run_type or "")
    is_outcome_run = run_type == RunType.OUTCOME_COMPUTE or any(
        (counts.outcomes_attempted, counts.outcomes_inserted, counts.outcomes_skipped, counts.outcomes_failed)
    )
    scheme = facts.tags.get(SCHEME_TAG)
    if not scheme and is_outcome_run and len(counts.outcome_vers_seen) == 1:
        scheme = next(iter(counts.outcome_vers_seen))
    if not scheme and len(counts.schema_versions_seen) == 1:
        scheme = next(iter(counts.schema_versions_seen))

    report = RunReport(
        run_id=facts.run_id,
        run_type=run_type,
        run_ver=_run_ver(gathered.manifest_row),
        profile=facts.tags.get(PROFILE_TAG) or DEFAULT_PROFILES.get(run_type or ""),
        scheme=scheme,
        env=facts.tags.get(ENV_TAG) or env or os.environ.get("OVC_ENV") or "local",
        started_at_ms=started_ms,
        finished_at_ms=finished_ms,
        duration_ms=(finished_ms - started_ms) if started_ms is not None and finished_ms is not None else None,
        input_source=input_source,
        input_range=_input_range(facts, gathered),
        expected_events=counts.expected_events,
        received_events=counts.received_events,
        unique_events=counts.unique_events,
        duplicate_events=counts.duplicate_events,
        parse_ok=counts.parse_ok,
        parse_fail=counts.parse_fail,
        fail_by_code=dict(counts.fail_by_code),
        insert_attempted=counts.insert_attempted,
        insert_success=counts.insert_success,
        insert_skipped=counts.insert_skipped,
        insert_failed=counts.insert_failed,
        blocks_missing=quality.blocks_missing if quality else None,
        ready0_count=quality.ready0_count if quality else None,
        tradeable0_count=quality.tradeable0_count if quality else None,
        null_rate_summary=dict(quality.null_rate_summary) if quality else None,
        sanity_error_count=quality.sanity_error_count if quality else None,
        outcomes_attempted=counts.outcomes_attempted if is_outcome_run else None,
        outcomes_inserted=counts.outcomes_inserted if is_outcome_run else None,
        outcomes_skipped=counts.outcomes_skipped if is_outcome_run else None,
        outcomes_failed=counts.outcomes_failed if is_outcome_run else None,
        window_type=_joined(counts.window_types_seen) if is_outcome_run else None,
        outcome_ver=_joined(counts.outcome_vers_seen) if is_outcome_run else None,
        raw_events_written=counts.raw_events_written,
        raw_store_path=raw_store_location if counts.raw_events_written > 0 else None,
        schema_versions_seen=dict(counts.schema_versions_seen),
        build_ids_seen=dict(counts.build_ids_seen),
        quarantined_events=counts.quarantined_events,
        ready0_spike=bool(quality and quality.ready0_spike),
        run_failure=facts.failure_reason if facts.outcome != SUCCESS else None,
        tracking_problems=problems,
    )
    report.notes = _notes(facts, gathered) + (f". {repair}" if repair else "")
    report.finalized()

    manifest = _finished_manifest(facts, input_source, report.input_range)
    return report, manifest


def _notes(facts: RunFacts, gathered: _Gathered) -> str:
    parts = [f"Dagster run {facts.dagster_run_id}" if facts.dagster_run_id else f"run {facts.run_id}"]
    if facts.job_name:
        parts[0] += f" of job {facts.job_name}"
    parts[0] += f": {facts.outcome}"
    if facts.failure_reason and facts.outcome != SUCCESS:
        parts.append(facts.failure_reason)
    if gathered.rows:
        parts.append(f"{len(gathered.rows)} step(s) recorded counts: {', '.join(r.step_key for r in gathered.rows)}")
    quality = gathered.quality
    if quality is not None and quality.missing_examples:
        parts.append("missing blocks include " + ", ".join(quality.missing_examples))
    return ". ".join(parts)


def _cli_args(tags: Mapping[str, str]) -> dict | None:
    text = tags.get(CLI_ARGS_TAG)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"args": text}
    return value if isinstance(value, dict) else {"args": value}


def _finished_manifest(facts: RunFacts, input_source: str | None, input_range: str | None) -> RunManifest:
    run_config = redact(dict(facts.run_config or {}))
    cli_args = _cli_args(facts.tags)
    inputs = {
        "run_type": facts.run_type,
        "job_name": facts.job_name,
        "run_config": run_config,
        "cli_args": redact(cli_args) if cli_args else None,
        "input_source": input_source,
        "input_range_tag": facts.tags.get(INPUT_RANGE_TAG),
        "partition": facts.tags.get(PARTITION_TAG),
        "partition_range": [facts.tags.get(RANGE_START_TAG), facts.tags.get(RANGE_END_TAG)],
    }
    status = {SUCCESS: "SUCCESS", FAILURE: "FAILURE", CANCELED: "CANCELED", CRASHED: "CRASHED"}[facts.outcome]
    return RunManifest(
        run_id=facts.run_id,
        dagster_run_id=facts.dagster_run_id,
        run_type=facts.run_type or "UNKNOWN",
        status=status,
        started_at=facts.started_at or datetime.now(UTC),
        completed_at=facts.finished_at,
        cli_args=cli_args,
        run_config=run_config,  # type: ignore[arg-type]
        env_info=environment_info(),
        input_hash=input_hash(inputs),
        dedup_mode=facts.tags.get(DEDUP_MODE_TAG) or DEFAULT_DEDUP_MODE,
        source_tier=facts.tags.get(SOURCE_TIER_TAG) or SOURCE_TIERS.get(input_source or ""),
        error=facts.failure_reason if facts.outcome != SUCCESS else None,
    ).with_code_identity()


# --- building and storing --------------------------------------------------------------


def _open_raw_store(settings: Settings) -> tuple[RawStore | None, list[str]]:
    try:
        return open_raw_store(settings.raw_store_url, settings.s3_endpoint_url), []
    except OvcError as error:
        return None, [f"raw store not opened: {error.message}"]


def report_run(
    conn: psycopg.Connection,
    facts: RunFacts,
    *,
    settings: Settings | None = None,
    raw_store: RawStore | None = None,
    scrubber: SecretScrubber | None = None,
) -> ReportOutcome:
    """Build and store the report of a run unless it has one.

    Commits are the caller's: with an autocommit connection each report is one
    transaction; with a transaction open, it joins it.
    """
    if report_exists(conn, facts.run_id):
        return ReportOutcome(facts.run_id, False, load_report(conn, facts.run_id), reason="already reported")
    settings = settings or load_settings()
    scrubber = scrubber or SecretScrubber.from_environ()
    problems: list[str] = []
    if raw_store is None:
        raw_store, problems = _open_raw_store(settings)
    report, manifest = build_report(
        conn,
        facts,
        raw_store_location=raw_store.location if raw_store is not None else None,
        scrubber=scrubber,
        extra_problems=problems,
    )
    try:
        stored = store_report(
            conn, report, manifest=manifest, reports_dir=settings.reports_dir, raw_store=raw_store, scrubber=scrubber
        )
    except OvcError as error:
        if error.code != ErrorCode.REPORT_EXISTS:
            raise
        return ReportOutcome(facts.run_id, False, load_report(conn, facts.run_id), reason="already reported")
    log.info("run report written: run %s %s %s", facts.run_id, report.run_type, report.run_status)
    return ReportOutcome(facts.run_id, True, stored.report, stored, reason="written")


def report_dagster_run(
    instance: dg.DagsterInstance,
    run_id: str,
    conn: psycopg.Connection,
    *,
    crashed_reason: str | None = None,
    settings: Settings | None = None,
    raw_store: RawStore | None = None,
) -> ReportOutcome:
    """Write the report of one Dagster run (no-op when it has one or is not an OVC run)."""
    if report_exists(conn, run_id):
        return ReportOutcome(run_id, False, load_report(conn, run_id), reason="already reported")
    facts = facts_from_dagster_run(instance, run_id, crashed_reason=crashed_reason)
    if facts is None:
        raise OvcError(ErrorCode.RUN_NOT_FOUND, f"the Dagster instance has no run {run_id}")  # type: ignore[arg-type]
    if RUN_TYPE_TAG not in facts.tags:
        return ReportOutcome(run_id, False, None, reason=f"not an OVC run (no {RUN_TYPE_TAG} tag)")
    return report_run(conn, facts, settings=settings, raw_store=raw_store)

