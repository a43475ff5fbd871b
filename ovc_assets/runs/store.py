"""Where a run report goes: `ovc.ovc_run_reports_v01` (one INSERT, immutable), the artifact
`$OVC_HOME/reports/<run_id>.json` (written atomically) and, when the raw store is S3/R2, a
copy beside the raw events under `reports/<run_id>.json`.

The database row is authoritative. The artifacts are written first, inside the
transaction that inserts the row, so that a failure to write them can still be named in
the report's warnings; a second report for the same run is refused (`E_REPORT_EXISTS`),
by an explicit check under an advisory lock and, behind it, by the primary key.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.manifest import RunManifest, SecretScrubber, upsert_manifest
from ovc_assets.runs.report import JSON_COLUMNS, REPORT_COLUMNS, RunReport
from ovc_assets.storage.files import write_atomically
from ovc_assets.storage.raw_store import RawStore, S3RawStore, report_key

log = logging.getLogger(__name__)

REPORTS_TABLE = sql.Identifier("ovc", "ovc_run_reports_v01")
INSERT_REPORT_SQL = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values})").format(
    table=REPORTS_TABLE,
    columns=sql.SQL(", ").join(sql.Identifier(name) for name in REPORT_COLUMNS),
    values=sql.SQL(", ").join(sql.Placeholder(name) for name in REPORT_COLUMNS),
)
SELECT_REPORT_SQL = sql.SQL("SELECT {columns} FROM {table} WHERE run_id = %s").format(
    table=REPORTS_TABLE, columns=sql.SQL(", ").join(sql.Identifier(name) for name in REPORT_COLUMNS)
)
SELECT_REPORTS_BETWEEN_SQL = sql.SQL(
    "SELECT {columns} FROM {table} WHERE started_at_ms >= %s AND started_at_ms < %s ORDER BY started_at_ms, run_id"
).format(table=REPORTS_TABLE, columns=sql.SQL(", ").join(sql.Identifier(name) for name in REPORT_COLUMNS))
EXISTING_REPORTS_SQL = "SELECT run_id FROM ovc.ovc_run_reports_v01 WHERE run_id = ANY(%s)"
# Serialises writers of the same run's report (sensors of two kinds, a CLI) without a
# failed INSERT aborting anybody's transaction.
REPORT_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('ovc_run_report'), hashtext(%s))"


@dataclass
class StoredReport:
    report: RunReport
    json_path: Path | None = None
    s3_uri: str | None = None
    problems: list[str] = field(default_factory=list)


def report_file_name(run_id: str) -> str:
    """`<run_id>.json`, made safe the same way as the raw store's report key."""
    return Path(report_key(run_id)).name


def store_report(
    conn: psycopg.Connection,
    report: RunReport,
    *,
    manifest: RunManifest | None = None,
    reports_dir: Path | None = None,
    raw_store: RawStore | None = None,
    scrubber: SecretScrubber | None = None,
) -> StoredReport:
    """Write the report once, with its artifacts and the run's manifest, in one transaction.

    Raises `OvcError(E_REPORT_EXISTS)` when the run already has a report (nothing is written
    then). Artifact failures do not stop the report: they become warnings in it.
    """
    scrubber = scrubber or SecretScrubber.from_environ()
    scrub_report(report, scrubber)
    if report.run_status is None:
        report.finalized()
    stored = StoredReport(report=report)
    with conn.transaction():
        conn.execute(REPORT_LOCK_SQL, (report.run_id,))
        if report_exists(conn, report.run_id):
            raise _exists(report.run_id)
        _write_artifacts(stored, reports_dir, raw_store, scrubber)
        try:
            with conn.transaction():
                conn.execute(INSERT_REPORT_SQL, _row_params(report))
        except psycopg.errors.UniqueViolation:
            raise _exists(report.run_id) from None
        if manifest is not None:
            upsert_manifest(conn, manifest.scrubbed(scrubber))
    return stored


def _exists(run_id: str) -> OvcError:
    return OvcError(
        ErrorCode.REPORT_EXISTS,  # type: ignore[arg-type]
        f"run {run_id} already has a report; reports are immutable and one per run",
    )


def scrub_report(report: RunReport, scrubber: SecretScrubber) -> RunReport:
    for name in ("input_source", "input_range", "notes", "raw_store_path", "scheme", "profile", "env"):
        value = getattr(report, name)
        if isinstance(value, str):
            setattr(report, name, scrubber.scrub(value))
    report.warnings = [scrubber.scrub(text) for text in report.warnings]
    report.tracking_problems = [scrubber.scrub(text) for text in report.tracking_problems]
    if report.run_failure:
        report.run_failure = scrubber.scrub(report.run_failure)
    return report


def _write_artifacts(
    stored: StoredReport, reports_dir: Path | None, raw_store: RawStore | None, scrubber: SecretScrubber
) -> None:
    report = stored.report

    def note_problem(problem: str) -> None:
        problem = scrubber.scrub(problem)
        log.warning("run tracking: %s", problem)
        stored.problems.append(problem)
        report.tracking_problems.append(problem)
        report.finalized()

    if reports_dir is not None:
        path = Path(reports_dir) / report_file_name(report.run_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, report.to_json_text().encode())
            stored.json_path = path
        except OSError as error:
            note_problem(f"report artifact {path} not written: {error.strerror or error}")
    if isinstance(raw_store, S3RawStore):
        try:
            stored.s3_uri = raw_store.put(report_key(report.run_id), report.to_json_text().encode("utf-8"))
        except OvcError as error:
            note_problem(f"report copy in the raw store not written: {error.message}")
            if stored.json_path is not None:
                with contextlib.suppress(OSError):
                    write_atomically(stored.json_path, report.to_json_text().encode())


def _row_params(report: RunReport) -> dict[str, object]:
    row = report.to_row()
    for name in JSON_COLUMNS:
        if row[name] is not None:
            row[name] = Jsonb(row[name])
    return row


def report_exists(conn: psycopg.Connection, run_id: str) -> bool:
    return bool(existing_report_ids(conn, [run_id]))


def existing_report_ids(conn: psycopg.Connection, run_ids: Iterable[str]) -> set[str]:
    run_ids = list(run_ids)
    if not run_ids:
        return set()
    return {run_id for (run_id,) in conn.execute(EXISTING_REPORTS_SQL, (run_ids,)).fetchall()}


def load_report(conn: psycopg.Connection, run_id: str) -> RunReport | None:
    cursor = conn.execute(SELECT_REPORT_SQL, (run_id,))
    row = cursor.fetchone()
    if row is None:
        return None
    return RunReport.from_row(dict(zip(REPORT_COLUMNS, row, strict=True)))


def load_reports_between(conn: psycopg.Connection, start_ms: int, end_ms: int) -> list[RunReport]:
    """Reports of runs that started in `[start_ms, end_ms)`, oldest first."""
    rows = conn.execute(SELECT_REPORTS_BETWEEN_SQL, (start_ms, end_ms)).fetchall()
    return [RunReport.from_row(dict(zip(REPORT_COLUMNS, row, strict=True))) for row in rows]


def report_json_text(report: RunReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
