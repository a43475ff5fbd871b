"""`ovc runs rollback RUN_ID`: restore exactly the state before a run.

Lineage: every writer puts its run id into each row it writes (`run_id`) and touches only
rows whose values change; the `ovc.record_row_history` trigger (sql/002) keeps the previous
version of every row a run overwrote or deleted in `ovc.row_history`. So for each key a run
touched in `ovc_blocks_v01`, `ovc_blocks_detail_v01` and `ovc_outcomes_v01`:

- the state before the run is the `old_row` of the first history entry for that key that
  involves the run (it replaced a version, or its version was replaced), unless that entry's
  `old_run_id` is the run itself (the run inserted the row first);
- a key with no such state (the run inserted it) is deleted; every other key gets its
  previous row back, byte for byte (timestamps included), by one set-based upsert.

All of it happens in one transaction, with the three tables locked against writers, the
history of the rollback's own changes attributed to the rollback (`SET LOCAL ovc.run_id`).

Refusals: a key whose current version is no longer the run's (a later run updated or
deleted it), or that another run wrote between two writes of the run (restoring the state
before the run would silently discard that write), makes the rollback refuse, listing those
runs, unless `force`, which
restores the pre-run state anyway and discards their changes of those keys (the report
says so and is WARN). A rollback is never rolled back, a run is rolled back once, and a
run still STARTED is refused unless `force`.

Recording: the rollback is a run of its own. In `ovc_runs` it has run_type `ROLLBACK`
(seed 003 allows any type there) with `rollback_of` set, and the rolled-back run becomes
`ROLLED_BACK` with `rolled_back_by`. Its report keeps seed 002's run_type enum: run_type
is that of the rolled-back run, `input_source` is `rollback`, `input_range` names the run,
the event and insert counts are 0 (a rollback processes no events), the data-quality
figures are those of the rolled-back run's range after the rollback, and `notes` list the
rows removed and restored per table.

Limits: rows written without a run_id, TRUNCATE, and values a JSON round trip cannot
carry (the sign of a -0.0 float) are outside what history can restore.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from ovc_assets.calendar import block_at
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.counts import load_step_counts
from ovc_assets.runs.manifest import (
    RunManifest,
    SecretScrubber,
    environment_info,
    input_hash,
    load_manifest,
    run_ver,
)
from ovc_assets.runs.quality import data_quality
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.store import StoredReport, load_report, store_report
from ovc_assets.runs.tags import ROLLBACK_RUN_TYPE
from ovc_assets.settings import Settings, load_settings
from ovc_assets.storage.raw_store import open_raw_store

log = logging.getLogger(__name__)

# Table -> primary-key columns; the same lists are the trigger arguments in sql/002.
TRACKED_TABLES: dict[str, tuple[str, ...]] = {
    "ovc_blocks_v01": ("symbol", "block_start", "block_type", "schema_ver"),
    "ovc_blocks_detail_v01": ("symbol", "block_start", "block_type", "schema_ver"),
    "ovc_outcomes_v01": ("symbol", "block_start", "window_type", "outcome_ver"),
}
SCHEMA = "ovc"

# Timestamps in history keys are spelled in UTC (as the trigger spells them), and the
# trigger attributes the rollback's own changes to the rollback run.
SET_UTC_SQL = "SET LOCAL timezone = 'UTC'"
SET_WRITER_SQL = "SELECT set_config('ovc.run_id', %s, true)"
LOCK_SQL = sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
    sql.SQL(", ").join(sql.Identifier(SCHEMA, table) for table in TRACKED_TABLES)
)
CREATE_PLAN_SQL = """
CREATE TEMP TABLE ovc_rollback_plan (
    table_name    text    NOT NULL,
    pk            jsonb   NOT NULL,
    pre_row       jsonb,
    conflicted    boolean NOT NULL,
    later_run_ids text[]  NOT NULL
) ON COMMIT DROP
"""
COLUMNS_SQL = """
SELECT attname FROM pg_attribute
WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped
ORDER BY attnum
"""
# One statement per table: every key the run touched, its state before the run (pre_row,
# NULL = absent), and whether a later run has changed it since (and which).
PLAN_SQL = sql.SQL(
    """
INSERT INTO pg_temp.ovc_rollback_plan (table_name, pk, pre_row, conflicted, later_run_ids)
WITH touched AS (
    -- rows the run changed or deleted, rows whose version of the run was replaced since,
    -- and rows that still carry the run's version
    SELECT h.pk FROM ovc.row_history h
    WHERE h.table_name = %(table)s AND (h.replaced_by_run_id = %(run_id)s OR h.old_run_id = %(run_id)s)
    UNION
    SELECT jsonb_build_object({pk_pairs}) FROM {table} c WHERE c.run_id = %(run_id)s
),
hist AS (
    SELECT h.history_id, h.pk, h.old_row, h.old_run_id, h.replaced_by_run_id, h.operation
    FROM ovc.row_history h
    WHERE h.table_name = %(table)s AND h.pk IN (SELECT pk FROM touched)
),
own AS (
    -- first_id: the run's first involvement with the key (it replaced a version, or its own
    -- version was replaced); last_id: the last version the run replaced
    SELECT pk, min(history_id) AS first_id,
           max(history_id) FILTER (WHERE replaced_by_run_id = %(run_id)s) AS last_id
    FROM hist WHERE replaced_by_run_id = %(run_id)s OR old_run_id = %(run_id)s GROUP BY pk
),
keyed AS (
    SELECT t.pk,
           first_entry.old_row AS first_old_row,
           first_entry.old_run_id AS first_old_run_id,
           own.first_id,
           coalesce(own.last_id, (SELECT min(h.history_id) - 1 FROM hist h
                                  WHERE h.pk = t.pk AND h.old_run_id = %(run_id)s)) AS since_id,
           cur.present, cur.run_id AS current_run_id,
           latest.replaced_by_run_id AS latest_by, latest.operation AS latest_op,
           -- other runs that wrote the key between the run's first and last write: without
           -- the run the row would hold their version, so the pre-run state would discard it
           ARRAY(
               SELECT DISTINCT coalesce(h.replaced_by_run_id, 'unknown') FROM hist h
               WHERE h.pk = t.pk AND h.history_id >= own.first_id AND h.history_id < own.last_id
                 AND h.replaced_by_run_id IS DISTINCT FROM %(run_id)s
           ) AS interleaved_run_ids
    FROM touched t
    LEFT JOIN own ON own.pk = t.pk
    LEFT JOIN hist first_entry ON first_entry.history_id = own.first_id
    LEFT JOIN LATERAL (
        SELECT true AS present, c.run_id
        FROM {table} c, jsonb_populate_record(NULL::{table}, t.pk) k
        WHERE {pk_match}
    ) cur ON true
    LEFT JOIN LATERAL (
        SELECT h.replaced_by_run_id, h.operation FROM hist h WHERE h.pk = t.pk
        ORDER BY h.history_id DESC LIMIT 1
    ) latest ON true
)
SELECT %(table)s,
       k.pk,
       CASE WHEN k.first_id IS NOT NULL AND k.first_old_run_id IS DISTINCT FROM %(run_id)s
            THEN k.first_old_row END,
       NOT ((k.present AND k.current_run_id IS NOT DISTINCT FROM %(run_id)s)
            OR (k.present IS NULL AND k.latest_by IS NOT DISTINCT FROM %(run_id)s AND k.latest_op = 'DELETE'))
           OR cardinality(k.interleaved_run_ids) > 0,
       ARRAY(
           SELECT DISTINCT coalesce(later.run_id, 'unknown') FROM (
               SELECT k.current_run_id AS run_id
               WHERE k.present AND k.current_run_id IS DISTINCT FROM %(run_id)s
               UNION ALL
               SELECT h.replaced_by_run_id FROM hist h
               WHERE h.pk = k.pk AND h.history_id > coalesce(k.since_id, 9223372036854775807)
                 AND h.replaced_by_run_id IS DISTINCT FROM %(run_id)s
               UNION ALL
               SELECT unnest(k.interleaved_run_ids)
           ) AS later
       )
FROM keyed k
"""
)
PLAN_SUMMARY_SQL = """
SELECT table_name,
       count(*) FILTER (WHERE pre_row IS NULL)     AS to_remove,
       count(*) FILTER (WHERE pre_row IS NOT NULL) AS to_restore,
       count(*) FILTER (WHERE conflicted)          AS conflicted
FROM pg_temp.ovc_rollback_plan GROUP BY table_name
"""
LATER_RUNS_SQL = """
SELECT DISTINCT unnest(later_run_ids) AS run_id FROM pg_temp.ovc_rollback_plan WHERE conflicted ORDER BY 1
"""
PLAN_RANGE_SQL = """
SELECT min((pk ->> 'block_start')::timestamptz), max((pk ->> 'block_start')::timestamptz),
       array_agg(DISTINCT pk ->> 'symbol')
FROM pg_temp.ovc_rollback_plan
"""
DELETE_SQL = sql.SQL(
    """
DELETE FROM {table} c
USING pg_temp.ovc_rollback_plan p, jsonb_populate_record(NULL::{table}, p.pk) k
WHERE p.table_name = %(table)s AND p.pre_row IS NULL AND {pk_match}
"""
)
RESTORE_SQL = sql.SQL(
    """
INSERT INTO {table} AS c ({columns})
SELECT {restored_columns}
FROM pg_temp.ovc_rollback_plan p, jsonb_populate_record(NULL::{table}, p.pre_row) r
WHERE p.table_name = %(table)s AND p.pre_row IS NOT NULL
ON CONFLICT ({pk_columns}) DO UPDATE SET {assignments}
WHERE ({current_values}) IS DISTINCT FROM ({excluded_values})
"""
)
# The rolled-back run's manifest; a run that never recorded one gets a minimal row, so it
# is listed and cannot be rolled back twice.
MARK_ROLLED_BACK_SQL = """
INSERT INTO ovc.ovc_runs AS r (run_id, run_type, status, started_at, package_version, rolled_back_by, error)
VALUES (
    %(run_id)s, %(run_type)s, 'ROLLED_BACK',
    coalesce((SELECT min(replaced_at) FROM ovc.row_history WHERE replaced_by_run_id = %(run_id)s), now()),
    'unknown', %(rollback_id)s, 'no manifest was recorded for this run'
)
ON CONFLICT (run_id) DO UPDATE SET
    status = 'ROLLED_BACK', rolled_back_by = EXCLUDED.rolled_back_by, updated_at = now()
"""
RUN_REFERENCED_SQL = """
SELECT EXISTS (SELECT 1 FROM ovc.row_history WHERE replaced_by_run_id = %(run_id)s OR old_run_id = %(run_id)s)
    OR EXISTS (SELECT 1 FROM ovc.ovc_blocks_v01 WHERE run_id = %(run_id)s)
    OR EXISTS (SELECT 1 FROM ovc.ovc_blocks_detail_v01 WHERE run_id = %(run_id)s)
    OR EXISTS (SELECT 1 FROM ovc.ovc_outcomes_v01 WHERE run_id = %(run_id)s)
    OR EXISTS (SELECT 1 FROM ovc.ovc_run_reports_v01 WHERE run_id = %(run_id)s)
"""


@dataclass
class TableChange:
    to_remove: int = 0
    to_restore: int = 0
    conflicted: int = 0
    removed: int = 0
    restored: int = 0


@dataclass
class RollbackResult:
    run_id: str
    rollback_run_id: str | None
    dry_run: bool
    applied: bool
    tables: dict[str, TableChange] = field(default_factory=dict)
    later_runs: list[str] = field(default_factory=list)
    refused: str | None = None
    report: RunReport | None = None
    stored: StoredReport | None = None

    @property
    def conflicted(self) -> int:
        return sum(change.conflicted for change in self.tables.values())

    def to_json(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "rollback_run_id": self.rollback_run_id,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "refused": self.refused,
            "later_runs": self.later_runs,
            "tables": {name: vars(change) for name, change in self.tables.items()},
            "verdict": self.report.run_status if self.report else None,
        }


def _table(name: str) -> sql.Composable:
    return sql.Identifier(SCHEMA, name)


def _pk_match(pk: tuple[str, ...], left: str, right: str) -> sql.Composable:
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, column), sql.Identifier(right, column)) for column in pk
    )


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [name for (name,) in conn.execute(COLUMNS_SQL, (f"{SCHEMA}.{table}",)).fetchall()]


def _plan(conn: psycopg.Connection, run_id: str) -> tuple[dict[str, TableChange], list[str]]:
    conn.execute(CREATE_PLAN_SQL)
    for table, pk in TRACKED_TABLES.items():
        pk_pairs = sql.SQL(", ").join(
            sql.SQL("{}, c.{}").format(sql.Literal(column), sql.Identifier(column)) for column in pk
        )
        conn.execute(
            PLAN_SQL.format(table=_table(table), pk_pairs=pk_pairs, pk_match=_pk_match(pk, "c", "k")),
            {"table": table, "run_id": run_id},
        )
    changes = {table: TableChange() for table in TRACKED_TABLES}
    for table, to_remove, to_restore, conflicted in conn.execute(PLAN_SUMMARY_SQL).fetchall():
        changes[table] = TableChange(to_remove=to_remove, to_restore=to_restore, conflicted=conflicted)
    later = [later_run for (later_run,) in conn.execute(LATER_RUNS_SQL).fetchall()]
    return changes, later


def _apply(conn: psycopg.Connection, changes: dict[str, TableChange]) -> None:
    for table, pk in TRACKED_TABLES.items():
        columns = _columns(conn, table)
        others = [column for column in columns if column not in pk]
        deleted = conn.execute(
            DELETE_SQL.format(table=_table(table), pk_match=_pk_match(pk, "c", "k")), {"table": table}
        )
        restore = RESTORE_SQL.format(
            table=_table(table),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            restored_columns=sql.SQL(", ").join(sql.Identifier("r", column) for column in columns),
            pk_columns=sql.SQL(", ").join(map(sql.Identifier, pk)),
            assignments=sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(column), sql.Identifier(column)) for column in others
            ),
            current_values=sql.SQL(", ").join(sql.Identifier("c", column) for column in others),
            excluded_values=sql.SQL(", ").join(sql.Identifier("excluded", column) for column in others),
        )
        restored = conn.execute(restore, {"table": table})
        changes[table].removed = deleted.rowcount
        changes[table].restored = restored.rowcount


def rollback_run(
    conn: psycopg.Connection,
    run_id: str,
    *,
    dry_run: bool = False,
    force: bool = False,
    settings: Settings | None = None,
    cli_args: dict | None = None,
) -> RollbackResult:
    """Plan and (unless `dry_run`, or refused) apply the rollback of `run_id` in one
    transaction of `conn` (which must not be inside another transaction), recorded as a
    run of its own with a report. Raises `OvcError` for an unknown run and for runs that
    cannot be rolled back; a conflict with later runs is a refusal in the result."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ValueError("rollback_run needs a connection outside any transaction")
    settings = settings or load_settings()
    scrubber = SecretScrubber.from_environ()
    started = datetime.now(UTC)
    rollback_id = str(uuid.uuid4())

    manifest = load_manifest(conn, run_id)
    referenced = manifest is not None or conn.execute(RUN_REFERENCED_SQL, {"run_id": run_id}).fetchone()[0]
    conn.rollback()
    if not referenced:
        raise OvcError(ErrorCode.RUN_NOT_FOUND, f"no run {run_id} in ovc_runs, reports or row lineage")  # type: ignore[arg-type]
    _refuse_unless_rollbackable(run_id, manifest, force)

    result = RollbackResult(run_id=run_id, rollback_run_id=None, dry_run=dry_run, applied=False)
    with conn.transaction() as transaction:
        conn.execute(SET_UTC_SQL)
        conn.execute(SET_WRITER_SQL, (rollback_id,))
        conn.execute(LOCK_SQL)
        result.tables, result.later_runs = _plan(conn, run_id)
        if result.conflicted and not force:
            result.refused = (
                f"{result.conflicted} row(s) the run wrote were changed since by later run(s) "
                f"{', '.join(result.later_runs)}; rerun with --force to discard those changes"
            )
        if dry_run or result.refused:
            raise psycopg.Rollback(transaction)  # leaves the block; nothing of the plan stays
        range_start, range_end, symbols = conn.execute(PLAN_RANGE_SQL).fetchone()
        _apply(conn, result.tables)
        result.rollback_run_id = rollback_id
        result.applied = True
        report = _rollback_report(conn, run_id, rollback_id, manifest, result, started, force, (range_start, range_end, symbols))
        rollback_manifest = RunManifest(
            run_id=rollback_id,
            run_type=ROLLBACK_RUN_TYPE,
            status="SUCCESS",
            started_at=started,
            completed_at=datetime.now(UTC),
            cli_args=cli_args or {"command": "runs rollback", "run_id": run_id, "force": force},
            env_info=environment_info(),
            input_hash=input_hash({"rollback_of": run_id, "force": force}),
            dedup_mode=None,
            source_tier="ROLLBACK",
            rollback_of=run_id,
        ).with_code_identity()
        raw_store = None
        try:
            raw_store = open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
        except OvcError as error:
            report.tracking_problems.append(f"raw store not opened: {error.message}")
            report.finalized()
        result.stored = store_report(
            conn, report, manifest=rollback_manifest, reports_dir=settings.reports_dir,
            raw_store=raw_store, scrubber=scrubber,
        )
        result.report = result.stored.report
        conn.execute(
            MARK_ROLLED_BACK_SQL,
            {"run_id": run_id, "rollback_id": rollback_id, "run_type": result.report.run_type or "UNKNOWN"},
        )
    if not result.applied:
        return result
    log.info("rolled back run %s as run %s: %s", run_id, rollback_id,
             {table: (c.removed, c.restored) for table, c in result.tables.items()})
    return result


def _refuse_unless_rollbackable(run_id: str, manifest: dict | None, force: bool) -> None:
    if manifest is None:
        return
    if manifest.get("run_type") == ROLLBACK_RUN_TYPE:
        raise OvcError(ErrorCode.ROLLBACK_REFUSED, f"run {run_id} is a rollback; rollbacks are not rolled back")  # type: ignore[arg-type]
    if manifest.get("status") == "ROLLED_BACK":
        raise OvcError(
            ErrorCode.ROLLBACK_REFUSED,  # type: ignore[arg-type]
            f"run {run_id} was already rolled back by run {manifest.get('rolled_back_by')}",
        )
    if manifest.get("status") == "STARTED" and not force:
        raise OvcError(
            ErrorCode.ROLLBACK_REFUSED,  # type: ignore[arg-type]
            f"run {run_id} is still recorded as STARTED; wait for it to finish (or --force if it is dead)",
        )


def _rollback_report(
    conn: psycopg.Connection,
    run_id: str,
    rollback_id: str,
    manifest: dict | None,
    result: RollbackResult,
    started: datetime,
    force: bool,
    plan_range: tuple,
) -> RunReport:
    original = load_report(conn, run_id)
    run_type = (original.run_type if original else None) or (manifest or {}).get("run_type")
    problems: list[str] = []
    steps = load_step_counts(conn, run_id)
    starts = [step.range_start for step in steps if step.range_start]
    ends = [step.range_end for step in steps if step.range_end]
    symbols = sorted({symbol for step in steps for symbol in step.symbols})
    range_start, range_end = (min(starts), max(ends)) if starts and ends else (None, None)
    if range_start is None and plan_range[0] is not None:
        # No recorded range: the blocks the rollback touched, through the end of the last one.
        range_start, range_end = plan_range[0], block_at(plan_range[1]).end_utc
        symbols = sorted(symbol for symbol in (plan_range[2] or []) if symbol)
    quality = None
    if range_start is not None and range_end is not None:
        try:
            with conn.transaction():
                quality = data_quality(conn, symbols or None, range_start, range_end)
        except (psycopg.Error, ValueError) as error:
            problems.append(f"data-quality figures could not be computed: {' '.join(str(error).split())[:200]}")
    finished = datetime.now(UTC)
    started_ms, finished_ms = int(started.timestamp() * 1000), int(finished.timestamp() * 1000)
    changes = "; ".join(
        f"{table}: removed {change.removed}, restored {change.restored}" for table, change in result.tables.items()
    )
    report = RunReport(
        run_id=rollback_id,
        run_type=run_type if run_type != ROLLBACK_RUN_TYPE else None,
        run_ver=run_ver(),
        profile=original.profile if original else None,
        scheme=original.scheme if original else None,
        env=original.env if original else None,
        started_at_ms=started_ms,
        finished_at_ms=finished_ms,
        duration_ms=finished_ms - started_ms,
        input_source="rollback",
        input_range=f"run_id={run_id}",
        blocks_missing=quality.blocks_missing if quality else None,
        ready0_count=quality.ready0_count if quality else None,
        tradeable0_count=quality.tradeable0_count if quality else None,
        null_rate_summary=dict(quality.null_rate_summary) if quality else None,
        sanity_error_count=quality.sanity_error_count if quality else None,
        ready0_spike=bool(quality and quality.ready0_spike),
        tracking_problems=problems,
    )
    if force and result.conflicted:
        report.cautions.append(
            f"forced rollback: discarded later changes of {result.conflicted} row(s) by run(s) "
            f"{', '.join(result.later_runs)}"
        )
    report.notes = f"ROLLBACK of run {run_id} ({run_type or 'unknown type'}): {changes}"
    return report.finalized()
