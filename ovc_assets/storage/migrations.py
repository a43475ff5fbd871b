"""`ovc db migrate`: apply `sql/*.sql` in order, each in its own transaction, exactly once.

A session-level advisory lock serialises concurrent migrators; each applied file is
recorded with its sha256 in `ovc.schema_migrations`, so a second run is a no-op and an
applied file that was edited afterwards is refused instead of silently diverging.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.project_files import project_dir
from ovc_assets.storage.postgres import connect

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


@dataclass
class MigrationResult:
    applied: list[str] = field(default_factory=list)
    already_applied: list[str] = field(default_factory=list)


def discover_migrations(sql_dir: Path | None = None) -> list[Migration]:
    """The `NNN_name.sql` files of `sql/`, in name order."""
    folder = sql_dir or project_dir("sql")
    return [Migration(version=path.stem, path=path) for path in sorted(folder.glob("*.sql"))]


def migrate(dsn: str, sql_dir: Path | None = None) -> MigrationResult:
    """Apply every pending migration; see the module docstring for the guarantees."""
    migrations = discover_migrations(sql_dir)
    result = MigrationResult()
    with connect(dsn, autocommit=True) as conn:
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


def applied_migrations(dsn: str) -> list[tuple[str, str]]:
    """(version, applied_at ISO) of every recorded migration; empty before the first migrate."""
    with connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('ovc.schema_migrations') IS NOT NULL").fetchone()[0]
        if not exists:
            return []
        rows = conn.execute("SELECT version, applied_at FROM ovc.schema_migrations ORDER BY version").fetchall()
    return [(version, applied_at.isoformat()) for version, applied_at in rows]
