"""Where a run report goes: `ovc.ovc_run_reports_v01` (one INSERT, immutable), the artifact
`$OVC_HOME/reports/<run_id>.json` (written atomically) and, when the raw store is S3/R2, a
copy beside the raw events under `reports/<run_id>.json`.

Every report is appended to the hash chain `ovc.ovc_run_report_chain` in the same
transaction (see `sql/006_run_report_chain.sql`); the JSON artifact carries the same link
under `chain`. Appends are serialised by one transaction-level advisory lock, so two runs
finishing at once cannot fork the chain; `ovc_assets.runs.chain` verifies it.

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
from ovc_assets.runs.report import GENESIS_SHA256, JSON_COLUMNS, REPORT_COLUMNS, ChainLink, RunReport
from ovc_assets.storage.files import write_atomically
from ovc_assets.storage.raw_store import RawStore, S3RawStore, report_key

log = logging.getLogger(__name__)

REPORTS_TABLE = sql.Identifier("ovc", "ovc_run_reports_v01")
INSERT_REPORT_SQL = sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values})").format(
    table=REPORTS_TABLE,
    columns=sql.SQL(", ").join(sql.Identifier(name) for name in REPORT_COLUMNS),
    values=sql.SQL(", ").join(sql.Placeholder(name) for name in REPORT_COLUMNS),
)
# Every report column, then its chain link (NULL for a report outside the chain).
SELECT_REPORTS_SQL = sql.SQL(
    "SELECT {columns}, c.seq, c.prev_sha256, c.report_sha256 "
    "FROM {table} r LEFT JOIN ovc.ovc_run_report_chain c ON c.run_id = r.run_id"
).format(table=REPORTS_TABLE, columns=sql.SQL(", ").join(sql.Identifier("r", name) for name in REPORT_COLUMNS))
SELECT_REPORT_SQL = SELECT_REPORTS_SQL + sql.SQL(" WHERE r.run_id = %s")
SELECT_REPORTS_BETWEEN_SQL = SELECT_REPORTS_SQL + sql.SQL(
    " WHERE r.started_at_ms >= %s AND r.started_at_ms < %s ORDER BY r.started_at_ms, r.run_id"
)
EXISTING_REPORTS_SQL = "SELECT run_id FROM ovc.ovc_run_reports_v01 WHERE run_id = ANY(%s)"
# Serialises writers of the same run's report (sensors of two kinds, a CLI) without a
# failed INSERT aborting anybody's transaction.
REPORT_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('ovc_run_report'), hashtext(%s))"
# Taken after REPORT_LOCK_SQL by every writer (one order, no deadlock): one append at a time.
CHAIN_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('ovc_run_report_chain'))"
CHAIN_HEAD_SQL = "SELECT seq, report_sha256 FROM ovc.ovc_run_report_chain ORDER BY seq DESC LIMIT 1"
INSERT_CHAIN_LINK_SQL = (
    "INSERT INTO ovc.ovc_run_report_chain (seq, run_id, prev_sha256, report_sha256) VALUES (%s, %s, %s, %s)"
)


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
        conn.execute(CHAIN_LOCK_SQL)
        head = conn.execute(CHAIN_HEAD_SQL).fetchone()
        seq, prev_sha256 = (head[0] + 1, head[1]) if head else (1, GENESIS_SHA256)
        report.chained(seq, prev_sha256)
        _write_artifacts(stored, reports_dir, raw_store, scrubber)
        try:
            with conn.transaction():
                conn.execute(INSERT_REPORT_SQL, _row_params(report))
        except psycopg.errors.UniqueViolation:
            raise _exists(report.run_id) from None
        link = report.chain
        conn.execute(INSERT_CHAIN_LINK_SQL, (link.seq, report.run_id, link.prev_sha256, link.report_sha256))
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
        report.chained(report.chain.seq, report.chain.prev_sha256)  # the content changed: so does its hash

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


def report_from_row(row: tuple) -> RunReport:
    """A `RunReport` from a row of `SELECT_REPORTS_SQL`, chain link included."""
    report = RunReport.from_row(dict(zip(REPORT_COLUMNS, row[: len(REPORT_COLUMNS)], strict=True)))
    seq, prev_sha256, report_sha256 = row[len(REPORT_COLUMNS) :]
    if seq is not None:
        report.chain = ChainLink(seq=seq, prev_sha256=prev_sha256, report_sha256=report_sha256)
    return report


def load_report(conn: psycopg.Connection, run_id: str) -> RunReport | None:
    row = conn.execute(SELECT_REPORT_SQL, (run_id,)).fetchone()
    return None if row is None else report_from_row(row)


def load_reports_between(conn: psycopg.Connection, start_ms: int, end_ms: int) -> list[RunReport]:
    """Reports of runs that started in `[start_ms, end_ms)`, oldest first."""
    return [report_from_row(row) for row in conn.execute(SELECT_REPORTS_BETWEEN_SQL, (start_ms, end_ms)).fetchall()]


def report_json_text(report: RunReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)
