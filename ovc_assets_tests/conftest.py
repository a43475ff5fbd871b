"""Database fixtures shared by every test layer.

`OVC_TEST_DATABASE_URL` set: tests use that server. Unset: a private embedded server is
started for the session. Either way every test gets its own fresh database, cloned from a
migrated template, so tests never share mutable state.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg import sql

from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import (
    EmbeddedPostgres,
    check_reachable,
    connect,
    dsn_for_database,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def postgres_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An administrative DSN: the configured test server, or an embedded one for this session."""
    configured = os.environ.get("OVC_TEST_DATABASE_URL")
    if configured:
        check_reachable(configured)
        yield configured
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "pg")
    yield embedded.start()
    embedded.stop()


def _create_database(admin_dsn: str, name: str, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
    with connect(admin_dsn, autocommit=True) as conn:
        conn.execute(statement)


def _drop_database(admin_dsn: str, name: str) -> None:
    with connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def create_test_database(postgres_server_dsn: str) -> Iterator[Callable[[bool], str]]:
    """Factory: a new database (migrated or empty) on the test server; all dropped at the end."""
    session_tag = uuid.uuid4().hex[:8]
    created: list[str] = []
    template_name = f"ovc_tpl_{session_tag}"
    _create_database(postgres_server_dsn, template_name)
    created.append(template_name)
    migrate(dsn_for_database(postgres_server_dsn, template_name))

    def create(migrated: bool = True) -> str:
        name = f"ovc_test_{session_tag}_{len(created)}"
        _create_database(postgres_server_dsn, name, template_name if migrated else None)
        created.append(name)
        return dsn_for_database(postgres_server_dsn, name)

    yield create
    for name in reversed(created):
        _drop_database(postgres_server_dsn, f"{name}_dagster")  # Dagster's storage, when a test made one
        _drop_database(postgres_server_dsn, name)


@pytest.fixture
def database_url(create_test_database: Callable[[bool], str]) -> str:
    """A fresh, fully migrated database for this test alone."""
    return create_test_database(True)


@pytest.fixture
def empty_database_url(create_test_database: Callable[[bool], str]) -> str:
    """A fresh database with nothing in it, for migration tests."""
    return create_test_database(False)


@pytest.fixture
def ovc_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> dict[str, str]:
    """Environment of an `ovc` process bound to this test's database and a private OVC_HOME."""
    home = tmp_path / "ovc_home"
    monkeypatch.setenv("OVC_HOME", str(home))
    monkeypatch.setenv("OVC_DATABASE_URL", database_url)
    monkeypatch.delenv("OVC_RAW_STORE", raising=False)
    monkeypatch.delenv("OVC_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("OVC_DAGSTER_PG_URL", raising=False)
    return {"OVC_HOME": str(home), "OVC_DATABASE_URL": database_url}
