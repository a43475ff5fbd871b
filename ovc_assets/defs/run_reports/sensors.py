"""Sensors that write one run report per OVC run and materialise `ovc_run_reports`.

- `ovc_run_report_success_sensor`, `ovc_run_report_failure_sensor`,
  `ovc_run_report_canceled_sensor`: run-status sensors over every code location (runs
  made in-process by `ovc` commands have no code location and are seen too). For each
  finished OVC run (tagged `ovc/run_type`, or targeting an asset that writes OVC tables:
  `ovc_run_type_of` infers its type and tags the run, so a run launched from the asset page
  or by `dagster asset materialize` is reported like any other) they build and store its report and record a runless
  materialisation of its day. Dagster's run-status machinery hands a sensor at most 5 runs
  per tick (`DAGSTER_RUN_STATUS_SENSOR_PROCESS_LIMIT`) and stops at the first run for which
  the sensor returns anything; these return None and report the materialisation on the
  instance themselves, so a tick handles its full 5 runs.
- `ovc_missing_run_report_sensor` (every 60 s): the safety net. It looks at the runs
  updated since its cursor (first tick: the last 7 days) and writes the missing reports of
  finished runs (e.g. ones that ended while the daemon was down, or whose run-status tick
  failed), and of runs still recorded as STARTED whose process is gone (liveness.py): a
  FAIL report naming the dead process, after which the run is marked FAILURE. Its cursor is JSON (`updated_after`, plus runs whose
  report failed, retried a few times); a repeated tick is a no-op because the database
  refuses a second report for a run, which these sensors check first.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg

from ovc_assets.defs.resources import PostgresResource
from ovc_assets.defs.run_reports.assets import (
    day_bounds_ms,
    partition_key_for,
    report_materialization,
)
from ovc_assets.runs.builder import ReportOutcome, report_dagster_run
from ovc_assets.runs.liveness import DEFAULT_GRACE_SECONDS, dead_run_reason
from ovc_assets.runs.manifest import SecretScrubber
from ovc_assets.runs.store import existing_report_ids, load_reports_between
from ovc_assets.runs.dagster_run_type import ovc_run_type_of
from ovc_assets.runs.tags import RUN_TYPE_TAG
from ovc_assets.settings import Settings
from ovc_assets.storage.postgres import connect

log = logging.getLogger(__name__)

FINISHED_STATUSES = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
MAX_RETRIES = 5
CURSOR_OVERLAP = timedelta(seconds=1)
DEFAULT_REPORT_SENSOR_SECONDS = 30
REPORT_SENSOR_SECONDS_RANGE = range(5, 3601)


def _materialization(conn: psycopg.Connection, outcome: ReportOutcome) -> dg.AssetMaterialization | None:
    if not outcome.written or outcome.report is None:
        return None
    day_reports = load_reports_between(conn, *day_bounds_ms(partition_key_for(outcome.report)))
    return report_materialization(outcome.report, day_reports)


def report_and_materialize(
    instance: dg.DagsterInstance,
    conn: psycopg.Connection,
    run_id: str,
    *,
    crashed_reason: str | None = None,
    settings: Settings | None = None,
) -> tuple[ReportOutcome, dg.AssetMaterialization | None]:
    """Write the run's report unless it has one; the materialisation to record if written."""
    outcome = report_dagster_run(instance, run_id, conn, crashed_reason=crashed_reason, settings=settings)
    return outcome, _materialization(conn, outcome)


def report_and_record(
    instance: dg.DagsterInstance, conn: psycopg.Connection, run_id: str, *, settings: Settings | None = None
) -> ReportOutcome:
    """What a command that runs a job in-process calls after the run: write the report
    (unless it has one) and record its day of `ovc_run_reports` on the instance, so the UI
    shows it at once (the sensors then find it reported and record nothing)."""
    outcome, materialization = report_and_materialize(instance, conn, run_id, settings=settings)
    if materialization is not None:
        instance.report_runless_asset_event(materialization)
    return outcome


def _log_outcome(logger: logging.Logger, outcome: ReportOutcome) -> None:
    if outcome.written and outcome.report is not None:
        logger.info(
            SecretScrubber.from_environ().scrub(
                f"run report for {outcome.run_id}: {outcome.report.run_status}"
                + (f" ({'; '.join(outcome.report.warnings)})" if outcome.report.warnings else "")
            )
        )


def build_run_report_status_sensor(
    run_status: dg.DagsterRunStatus, name: str, *, minimum_interval_seconds: int = DEFAULT_REPORT_SENSOR_SECONDS
) -> dg.RunStatusSensorDefinition:
    """A run-status sensor that reports OVC runs reaching `run_status`."""

    @dg.run_status_sensor(
        run_status=run_status,
        name=name,
        monitor_all_code_locations=True,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Writes the run report (seed 002) of every OVC run (tag {RUN_TYPE_TAG}, or inferred from the "
            f"assets it writes) that ends in "
            f"{run_status.value}, and materialises that day of ovc_run_reports."
        ),
    )
    def _sensor(context: dg.RunStatusSensorContext, ovc_database: PostgresResource):
        if ovc_run_type_of(context.instance, context.dagster_run) is None:
            return None
        with connect(ovc_database.dsn(), autocommit=True) as conn:
            outcome, materialization = report_and_materialize(context.instance, conn, context.dagster_run.run_id)
        _log_outcome(context.log, outcome)
        if materialization is not None:
            context.instance.report_runless_asset_event(materialization)
        return None

    return _sensor


@dataclass
class SweepCursor:
    updated_after: str | None = None
    retries: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, text: str | None) -> "SweepCursor":
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(updated_after=data.get("updated_after"), retries=dict(data.get("retries") or {}))
        except (ValueError, AttributeError, TypeError):
            return cls()

    def to_json(self) -> str:
        return json.dumps({"updated_after": self.updated_after, "retries": self.retries}, sort_keys=True)


def build_missing_run_report_sensor(
    name: str = "ovc_missing_run_report_sensor",
    *,
    minimum_interval_seconds: int = 60,
    lookback_days: int = 7,
    batch_size: int = 100,
    max_reports_per_tick: int = 20,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> dg.SensorDefinition:
    """The periodic sensor that writes missing reports and reports dead runs (see module)."""

    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Writes the run reports that are missing: finished OVC runs without one, and FAIL reports "
            "for OVC runs still recorded as STARTED whose process is gone."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, ovc_database: PostgresResource) -> dg.SensorResult:
        cursor = SweepCursor.from_json(context.cursor)
        instance = context.instance
        now = datetime.now(UTC)
        updated_after = (
            datetime.fromisoformat(cursor.updated_after) - CURSOR_OVERLAP
            if cursor.updated_after
            else now - timedelta(days=lookback_days)
        )
        finished = list(
            instance.get_run_records(
                filters=dg.RunsFilter(statuses=list(FINISHED_STATUSES), updated_after=updated_after),
                limit=batch_size,
                order_by="update_timestamp",
                ascending=True,
            )
        )
        retry_ids = [run_id for run_id in cursor.retries if run_id not in {r.dagster_run.run_id for r in finished}]
        if retry_ids:
            finished += instance.get_run_records(filters=dg.RunsFilter(run_ids=retry_ids))
        started = list(
            instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=batch_size)
        )
        events: list[dg.AssetMaterialization] = []
        budget = max_reports_per_tick
        stop_at: datetime | None = None  # the cursor stays before the first run left for later
        with connect(ovc_database.dsn(), autocommit=True) as conn:
            reported = existing_report_ids(conn, [r.dagster_run.run_id for r in finished + started])
            for record in finished:
                run_id = record.dagster_run.run_id
                if run_id in reported or ovc_run_type_of(instance, record.dagster_run) is None:
                    cursor.retries.pop(run_id, None)
                    continue
                if budget <= 0:
                    if run_id not in cursor.retries:
                        stop_at = stop_at or record.update_timestamp
                    continue
                budget -= 1
                try:
                    outcome, materialization = report_and_materialize(instance, conn, run_id)
                except Exception as error:  # noqa: BLE001 - one run's failure must not stop the others
                    attempts = cursor.retries.get(run_id, 0) + 1
                    context.log.warning(
                        SecretScrubber.from_environ().scrub(
                            f"run report for {run_id} failed (attempt {attempts}/{MAX_RETRIES}): "
                            f"{type(error).__name__}: {error}"
                        )
                    )
                    if attempts < MAX_RETRIES:
                        cursor.retries[run_id] = attempts
                    else:
                        cursor.retries.pop(run_id, None)
                    continue
                cursor.retries.pop(run_id, None)
                _log_outcome(context.log, outcome)
                if materialization is not None:
                    events.append(materialization)
            for record in started:
                run_id = record.dagster_run.run_id
                if run_id in reported or budget <= 0:
                    continue
                try:
                    if ovc_run_type_of(instance, record.dagster_run) is None:
                        continue
                    reason = dead_run_reason(instance, record, now=now, grace_seconds=grace_seconds)
                    if reason is None:
                        continue
                    budget -= 1
                    outcome, materialization = report_and_materialize(instance, conn, run_id, crashed_reason=reason)
                    # The default run launcher has no health check for run monitoring to use:
                    # the run would stay STARTED (and hold its queue slot) forever.
                    instance.report_run_failed(record.dagster_run, message=reason)
                except Exception as error:  # noqa: BLE001 - judged again on the next tick
                    context.log.warning(
                        SecretScrubber.from_environ().scrub(
                            f"liveness check or report of STARTED run {run_id} failed: {type(error).__name__}: {error}"
                        )
                    )
                    continue
                _log_outcome(context.log, outcome)
                if materialization is not None:
                    events.append(materialization)

        handled = [r.update_timestamp for r in finished if r.dagster_run.run_id not in cursor.retries]
        if stop_at is not None:
            handled = [ts for ts in handled if ts < stop_at]
        previous = datetime.fromisoformat(cursor.updated_after) if cursor.updated_after else None
        if handled and (previous is None or max(handled) > previous):
            cursor.updated_after = max(handled).isoformat()
        elif previous is None:
            cursor.updated_after = updated_after.isoformat()
        return dg.SensorResult(asset_events=events, cursor=cursor.to_json())

    return _sensor


def report_sensor_seconds() -> int:
    """`OVC_REPORT_SENSOR_SECONDS` (5-3600, default 30): how often the run-status report sensors
    look for ended runs, so the longest wait between a run's end and its report."""
    setting = os.environ.get("OVC_REPORT_SENSOR_SECONDS") or str(DEFAULT_REPORT_SENSOR_SECONDS)
    if not setting.isdigit() or int(setting) not in REPORT_SENSOR_SECONDS_RANGE:
        raise ValueError(f"OVC_REPORT_SENSOR_SECONDS must be whole seconds, 5..3600; got {setting!r}")
    return int(setting)


def build_run_report_sensors(status_sensor_seconds: int = DEFAULT_REPORT_SENSOR_SECONDS) -> list[dg.SensorDefinition]:
    """The three run-status report sensors (every `status_sensor_seconds`) and the sweep."""
    status_sensors = [
        build_run_report_status_sensor(
            status, f"ovc_run_report_{status.value.lower()}_sensor", minimum_interval_seconds=status_sensor_seconds
        )
        for status in FINISHED_STATUSES
    ]
    return [*status_sensors, build_missing_run_report_sensor()]


(
    ovc_run_report_success_sensor,
    ovc_run_report_failure_sensor,
    ovc_run_report_canceled_sensor,
    ovc_missing_run_report_sensor,
) = build_run_report_sensors()
