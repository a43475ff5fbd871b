"""`ovc db migrate`: apply `sql/*.sql` in order, each in its own transaction, exactly once.

A session-level advisory lock serialises concurrent migrators; each applied file is
recorded with its sha256 in `ovc.schema_migrations`, so a second run is a no-op and an
applied file that was edited afterwards is refused instead of silently diverging.

After the files, the roles (where the server allows CREATE ROLE; never a reason to fail):
`ovc_owner` (NOLOGIN) owns schema `ovc` and everything in it, and the migrating user
becomes a member of both roles; `ovc_writer` (NOLOGIN), the role every data path acts as,
may read and write the data tables but only SELECT and INSERT the append-only ones (run
reports, their chain) and only SELECT the migration records; it owns nothing, so it cannot
alter, disable or drop a trigger or a table. Roles are cluster-wide and shared by every
OVC database on the server; their grants are per database and re-applied by every migrate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.project_files import project_dir
from ovc_assets.storage.postgres import OWNER_ROLE, WRITER_ROLE, connect, forget_writer_dsn, owner_dsn

# Arbitrary but fixed: the same key for every migrator of every OVC database.
MIGRATION_LOCK_KEY = 0x4F56435F4D494752  # "OVC_MIGR"

BOOTSTRAP_SQL = """
CREATE SCHEMA IF NOT EXISTS ovc;
CREATE TABLE IF NOT EXISTS ovc.schema_migrations (
    version    text PRIMARY KEY,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""
SELECT_APPLIED_SQL = "SELECT version, checksum FROM ovc.schema_migrations"
RECORD_APPLIED_SQL = "INSERT INTO ovc.schema_migrations (version, checksum) VALUES (%s, %s)"


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


# Tables the writer may only read and append to; `ovc_run_reports_unchained` and the
# migration records are written by migrations alone.
APPEND_ONLY_TABLES = ("ovc_run_reports_v01", "ovc_run_report_chain")
READ_ONLY_TABLES = ("ovc_run_reports_unchained", "schema_migrations")

OVC_TABLES_SQL = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'ovc'"
IS_SUPERUSER_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
ROLE_EXISTS_SQL = "SELECT 1 FROM pg_roles WHERE rolname = %s"
# Objects of schema `ovc` not yet owned by the owner role. Sequences of identity or serial
# columns follow their table; so do indexes, a table's row type and a range's multirange.
FOREIGN_OWNED_SQL = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
       format('%%I.%%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'ovc' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> to_regrole(%(owner)s)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype IN ('a', 'i'))
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'ovc' AND p.prokind IN ('f', 'p') AND p.proowner <> to_regrole(%(owner)s)
UNION ALL
SELECT 'TYPE', format('%%I.%%I', n.nspname, t.typname)
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'ovc' AND t.typtype IN ('e', 'd', 'r') AND t.typowner <> to_regrole(%(owner)s)
"""


@dataclass
class MigrationResult:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)
    roles: str = ""  # what the role set-up did, or why it was skipped


def discover_migrations(sql_dir: Path | None = None) -> list[Migration]:
    """The `NNN_name.sql` files of `sql/`, in name order."""
    folder = sql_dir or project_dir("sql")
    return [Migration(version=path.stem, path=path) for path in sorted(folder.glob("*.sql"))]


def migrate(dsn: str, sql_dir: Path | None = None) -> MigrationResult:
    """Apply every pending migration; see the module docstring for the guarantees."""
    migrations = discover_migrations(sql_dir)
    result = MigrationResult()
    forget_writer_dsn(dsn)
    with connect(owner_dsn(dsn), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            with conn.transaction():
                conn.execute(BOOTSTRAP_SQL)
            applied = dict(conn.execute(SELECT_APPLIED_SQL).fetchall())
            for migration in migrations:
                recorded = applied.get(migration.version)
                if recorded is None:
                    _apply(conn, migration)
                    result.applied.append(migration.version)
                elif recorded != migration.checksum:
                    raise OvcError(
                        ErrorCode.MIGRATION_CHANGED,
                        f"{migration.path.name} was applied with checksum {recorded[:12]} but the file now has "
                        f"{migration.checksum[:12]}; add a new migration instead of editing an applied one",
                    )
                else:
                    result.already_applied.append(migration.version)
            result.roles = set_up_roles(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return result


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(RECORD_APPLIED_SQL, (migration.version, migration.checksum))
    except psycopg.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OvcError(
            ErrorCode.MIGRATION_FAILED, f"{migration.path.name} failed and was rolled back: {first_line}"
        ) from None


def set_up_roles(conn: psycopg.Connection) -> str:
    """Create the roles where allowed and (re)grant them this database's schema; see the
    module docstring. Returns one line saying what holds; a refusal is said, not raised."""
    try:
        for role in (OWNER_ROLE, WRITER_ROLE):
            _create_role(conn, role)
        if not conn.execute(IS_SUPERUSER_SQL).fetchone()[0]:
            _become_member(conn)
        with conn.transaction():
            _transfer_ownership(conn)
            _grant_writer(conn)
    except psycopg.Error as error:  # e.g. CREATE ROLE refused on a managed server
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return (
            f"roles not set up ({first_line}); data commands act as the connecting user "
            "(README: Security, managed Postgres)"
        )
    return (
        f"roles: {OWNER_ROLE} owns schema ovc; data commands act as {WRITER_ROLE} "
        "(reports: INSERT only, no UPDATE, DELETE, TRUNCATE or DDL)"
    )


def _create_role(conn: psycopg.Connection, role: str) -> None:
    if conn.execute(ROLE_EXISTS_SQL, (role,)).fetchone():
        return
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))
    except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
        pass  # another migrator (of this or another database on the server) made it first


def _become_member(conn: psycopg.Connection) -> None:
    """Let a non-superuser migrator own through `ovc_owner` and act as the writer."""
    for role in (OWNER_ROLE, WRITER_ROLE):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        except psycopg.errors.UniqueViolation:
            pass  # granted concurrently


def _transfer_ownership(conn: psycopg.Connection) -> None:
    owner = sql.Identifier(OWNER_ROLE)
    conn.execute(sql.SQL("ALTER SCHEMA ovc OWNER TO {}").format(owner))
    for kind, name in conn.execute(FOREIGN_OWNED_SQL, {"owner": OWNER_ROLE}).fetchall():
        # `name` is the catalog's own quoted spelling (format %I, regprocedure).
        conn.execute(sql.SQL("ALTER {} {} OWNER TO {}").format(sql.SQL(kind), sql.SQL(name), owner))


def _grant_writer(conn: psycopg.Connection) -> None:
    writer = sql.Identifier(WRITER_ROLE)
    existing = {name for (name,) in conn.execute(OVC_TABLES_SQL).fetchall()}
    conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA ovc FROM {}").format(writer))
    conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ovc TO {}").format(writer))
    for privileges, names in (("UPDATE, DELETE", APPEND_ONLY_TABLES), ("INSERT, UPDATE, DELETE", READ_ONLY_TABLES)):
        for name in (name for name in names if name in existing):  # a partial sql/ folder in tests
            conn.execute(
                sql.SQL("REVOKE {} ON {} FROM {}").format(sql.SQL(privileges), sql.Identifier("ovc", name), writer)
            )
    conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ovc TO {}").format(writer))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA ovc TO {}").format(writer))


def applied_migrations(dsn: str) -> list[tuple[str, str]]:
    """(version, applied_at ISO) of every recorded migration; empty before the first migrate."""
    with connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('ovc.schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return []
        rows = conn.execute("SELECT version, applied_at FROM ovc.schema_migrations ORDER BY version").fetchall()
    return [(version, applied_at.isoformat()) for version, applied_at in rows]
