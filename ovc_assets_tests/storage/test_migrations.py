"""`ovc db migrate`: every table of the design, exactly once, safely under concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.storage.migrations import (
    applied_migrations,
    discover_migrations,
    migrate,
)
from ovc_assets.storage.postgres import connect

DESIGN_TABLES = {
    "ovc_blocks_v01",
    "ovc_blocks_detail_v01",
    "ovc_outcomes_v01",
    "ovc_run_reports_v01",
    "ovc_runs",
    "raw_events",
    "schema_migrations",
}

# Seed 002, section 12, in order.
RUN_REPORT_COLUMNS = [
    "run_id", "run_type", "run_ver", "profile", "scheme", "env",
    "started_at_ms", "finished_at_ms", "duration_ms",
    "input_source", "input_range", "expected_events", "received_events", "unique_events", "duplicate_events",
    "parse_ok", "parse_fail", "fail_by_code",
    "insert_attempted", "insert_success", "insert_skipped", "insert_failed",
    "blocks_missing", "ready0_count", "tradeable0_count", "null_rate_summary", "sanity_error_count",
    "outcomes_attempted", "outcomes_inserted", "outcomes_skipped", "outcomes_failed", "window_type", "outcome_ver",
    "raw_events_written", "raw_store_path", "schema_versions_seen", "build_ids_seen",
    "run_status", "warnings", "notes",
]  # fmt: skip


def _tables(dsn: str) -> set[str]:
    with connect(dsn) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'ovc'").fetchall()
    return {name for (name,) in rows}


def test_migrate_creates_every_design_table_and_is_a_no_op_the_second_time(empty_database_url: str) -> None:
    first = migrate(empty_database_url)
    assert first.applied == [m.version for m in discover_migrations()]
    assert _tables(empty_database_url) >= DESIGN_TABLES

    second = migrate(empty_database_url)
    assert second.applied == []
    assert second.already_applied == first.applied
    assert [version for version, _ in applied_migrations(empty_database_url)] == first.applied


def test_run_reports_table_has_exactly_the_seed_columns(database_url: str) -> None:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'ovc' AND table_name = 'ovc_run_reports_v01' ORDER BY ordinal_position"
        ).fetchall()
    assert [name for (name,) in rows] == RUN_REPORT_COLUMNS


def test_blocks_primary_key_is_the_seed_key(database_url: str) -> None:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'ovc.ovc_blocks_v01'::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)"
        ).fetchall()
    assert [name for (name,) in rows] == ["symbol", "block_start", "block_type", "schema_ver"]


def test_run_reports_refuse_update_delete_and_truncate(database_url: str) -> None:
    with connect(database_url) as conn:
        conn.execute("INSERT INTO ovc.ovc_run_reports_v01 (run_id, run_status) VALUES ('r1', 'PASS')")
        conn.commit()
        for statement in (
            "UPDATE ovc.ovc_run_reports_v01 SET run_status = 'FAIL' WHERE run_id = 'r1'",
            "DELETE FROM ovc.ovc_run_reports_v01 WHERE run_id = 'r1'",
            "TRUNCATE ovc.ovc_run_reports_v01",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
                conn.execute(statement)
            conn.rollback()
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO ovc.ovc_run_reports_v01 (run_id) VALUES ('r1')")
        conn.rollback()
        assert conn.execute("SELECT run_status FROM ovc.ovc_run_reports_v01").fetchall() == [("PASS",)]


def test_concurrent_migrators_apply_each_migration_once(empty_database_url: str) -> None:
    results, errors = [], []

    def run() -> None:
        try:
            results.append(migrate(empty_database_url))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    applied_counts = sorted(len(result.applied) for result in results)
    assert applied_counts == [0, 0, 0, len(discover_migrations())]
    assert _tables(empty_database_url) >= DESIGN_TABLES


def _write_migrations(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_a_failing_migration_is_rolled_back_whole_and_not_recorded(empty_database_url: str, tmp_path: Path) -> None:
    sql_dir = _write_migrations(
        tmp_path / "sql",
        {
            "001_ok.sql": "CREATE TABLE ovc.first (n int);",
            "002_bad.sql": "CREATE TABLE ovc.second (n int);\nINSERT INTO ovc.missing VALUES (1);",
        },
    )
    with pytest.raises(OvcError) as raised:
        migrate(empty_database_url, sql_dir)
    assert raised.value.code is ErrorCode.MIGRATION_FAILED
    assert "002_bad.sql" in raised.value.message
    assert _tables(empty_database_url) == {"schema_migrations", "first"}
    assert [version for version, _ in applied_migrations(empty_database_url)] == ["001_ok"]


def test_an_applied_migration_that_was_edited_is_refused(empty_database_url: str, tmp_path: Path) -> None:
    sql_dir = _write_migrations(tmp_path / "sql", {"001_one.sql": "CREATE TABLE ovc.one (n int);"})
    migrate(empty_database_url, sql_dir)
    (sql_dir / "001_one.sql").write_text("CREATE TABLE ovc.one (n bigint);")
    with pytest.raises(OvcError) as raised:
        migrate(empty_database_url, sql_dir)
    assert raised.value.code is ErrorCode.MIGRATION_CHANGED
