"""The roles `ovc db migrate` sets up: an owner of schema `ovc`, and a writer that every
data path acts as, which can append run reports but never change them or the schema."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ovc_assets.defs.resources import PostgresResource
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.store import store_report
from ovc_assets.storage.migrations import _create_role, migrate
from ovc_assets.storage.postgres import OWNER_ROLE, WRITER_ROLE, WRITER_OPTION, connect, writer_dsn

REFUSED_TO_THE_WRITER = [
    "UPDATE ovc.ovc_run_reports_v01 SET run_status = 'PASS'",
    "DELETE FROM ovc.ovc_run_reports_v01",
    "TRUNCATE ovc.ovc_run_reports_v01",
    "UPDATE ovc.ovc_run_report_chain SET seq = seq",
    "DELETE FROM ovc.ovc_run_report_chain",
    "INSERT INTO ovc.ovc_run_reports_unchained (run_id) VALUES ('forged')",
    "INSERT INTO ovc.schema_migrations (version, checksum) VALUES ('999_x', 'x')",
    "ALTER TABLE ovc.ovc_run_reports_v01 DISABLE TRIGGER ovc_run_reports_v01_immutable",
    "DROP TRIGGER ovc_run_reports_v01_immutable ON ovc.ovc_run_reports_v01",
    "DROP TABLE ovc.ovc_run_reports_v01",
    "ALTER TABLE ovc.ovc_run_reports_v01 ADD COLUMN forged text",
    "DROP FUNCTION ovc.refuse_run_report_change()",
    "CREATE TABLE ovc.planted (x int)",
    "TRUNCATE ovc.ovc_blocks_v01",
]


@pytest.fixture
def writer_conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(writer_dsn(database_url), autocommit=True) as conn:
        yield conn


def test_data_paths_act_as_the_writer_after_migrate(database_url: str, writer_conn) -> None:
    assert WRITER_OPTION in writer_dsn(database_url)
    assert WRITER_OPTION in PostgresResource(database_url=database_url).dsn()
    assert writer_conn.execute("SELECT current_user").fetchone()[0] == WRITER_ROLE
    with connect(database_url, autocommit=True) as conn:
        owners = {owner for (owner,) in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'ovc'")}
        schema_owner = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'ovc'")
        assert (owners, schema_owner.fetchone()[0]) == ({OWNER_ROLE}, OWNER_ROLE)


def test_the_writer_appends_reports_and_data_but_cannot_change_reports_or_the_schema(writer_conn) -> None:
    store_report(writer_conn, RunReport(run_id="r1", run_type="LIVE_INGEST").finalized())
    writer_conn.execute(
        "INSERT INTO ovc.raw_events (event_id, received_at, route, body, body_size, body_sha256, parse_status, "
        "last_seen_at) VALUES (gen_random_uuid(), now(), '/tv', 'x', 1, repeat('a', 64), 'ok', now())"
    )
    writer_conn.execute("UPDATE ovc.raw_events SET raw_status = raw_status")
    for statement in REFUSED_TO_THE_WRITER:
        # Refused by privileges, before any trigger (a trigger is what an owner could disable).
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied|must be owner"):
            writer_conn.execute(statement)
    assert writer_conn.execute("SELECT count(*) FROM ovc.ovc_run_report_chain").fetchone()[0] == 1


def test_migrate_is_idempotent_and_keeps_the_grants(database_url: str) -> None:
    assert migrate(database_url).roles.startswith(f"roles: {OWNER_ROLE} owns schema ovc")
    assert migrate(writer_dsn(database_url)).applied == []  # given the writer DSN, it migrates as the user
    with connect(writer_dsn(database_url), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("DELETE FROM ovc.ovc_run_reports_v01")
        conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01")


def test_concurrent_create_role_never_fails(postgres_server_dsn: str) -> None:
    role = f"ovc_test_race_{uuid.uuid4().hex[:12]}"
    barrier, errors = threading.Barrier(6), []

    def create() -> None:
        try:
            with connect(postgres_server_dsn, autocommit=True) as conn:
                barrier.wait()
                _create_role(conn, role)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    finally:
        with connect(postgres_server_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def unprivileged_dsn(postgres_server_dsn: str, empty_database_url: str) -> Iterator[str]:
    """A login without CREATEROLE that owns an empty database: a managed server's user."""
    role = f"ovc_test_plain_{uuid.uuid4().hex[:12]}"
    dbname = psycopg.conninfo.conninfo_to_dict(empty_database_url)["dbname"]
    with connect(postgres_server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(dbname), sql.Identifier(role)))
    yield make_conninfo(empty_database_url, user=role)
    with connect(empty_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    with connect(postgres_server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_without_createrole_migrate_succeeds_and_says_the_roles_were_not_set_up(unprivileged_dsn: str) -> None:
    result = migrate(unprivileged_dsn)
    assert "006_run_report_chain" in result.applied
    assert result.roles.startswith("roles not set up (") and "README" in result.roles
    assert writer_dsn(unprivileged_dsn) == unprivileged_dsn
    with connect(writer_dsn(unprivileged_dsn), autocommit=True) as conn:
        store_report(conn, RunReport(run_id="r1", run_type="LIVE_INGEST").finalized())
