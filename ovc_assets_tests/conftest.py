"""Database fixtures shared by every test layer.

`OVC_TEST_DATABASE_URL` set: tests use that server. Unset: a private embedded server is
started for the session. Either way every test gets its own fresh database, cloned from a
migrated template, so tests never share mutable state; a test's databases are dropped when
the test ends, so the cost of dropping them is spread over the run instead of charged to the
last test.

Nothing a test does lands in the checkout or a developer's real OVC_HOME / DAGSTER_HOME /
database: the session starts with those variables pointing at a temporary folder (or unset).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from psycopg import sql

from ovc_assets.dagster_env import DAGSTER_ENV_DEFAULTS
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import (
    EmbeddedPostgres,
    check_reachable,
    connect,
    dsn_for_database,
)
from ovc_assets_tests.session_folders import SessionFolder, open_session_folder

REPO_ROOT = Path(__file__).resolve().parents[1]
PRIVATE_BASETEMP_PREFIX = "ovc-pytest-"
_private_basetemp = pytest.StashKey[SessionFolder]()
_session_passed = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders of this session live in a folder of their own, not under
    /tmp/pytest-of-<user>: every pytest session of the same user re-tightens that folder to
    0700 when it starts, which locks out the system user pgserver runs the embedded servers
    as (when started by root), and they PANIC mid-run. Removed after a passing session; after
    a failing one kept, the newest few of those (session_folders.py)."""
    if config.option.basetemp is None:
        folder = open_session_folder(Path(tempfile.gettempdir()), PRIVATE_BASETEMP_PREFIX)
        config.option.basetemp = str(folder.path)
        config.stash[_private_basetemp] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    private = config.stash.get(_private_basetemp, None)
    if private is None:
        return
    if config.stash.get(_session_passed, False):
        shutil.rmtree(private.path, ignore_errors=True)
    private.release()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_session_passed] = exitstatus == 0


# The longest test files (`--durations`, docs/testing.md "Speed"), run first: `make test` hands
# whole files to the xdist workers in collection order (`--no-loadscope-reorder`), and a long
# file started last would leave one core idle while it finishes.
LONGEST_FILES_FIRST = (
    "receiver/test_receiver_reliability.py",
    "ui/test_ui_browser.py",
    "cli/test_cli_db.py",
    "docs/test_operations_guide.py",
    "backfill/test_backfill_kill_resume.py",
    "defs/test_run_report_routes.py",
    "receiver/test_receiver_batch.py",
    "ops/test_ops_quality_plots.py",
    "receiver/test_receiver_limits.py",
    "outcomes/test_outcomes_asset.py",
    "cli/test_cli_ingest_full.py",
    "cli/test_cli_demo.py",
    "cli/test_cli_dev.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        relative = item.path.relative_to(Path(__file__).parent).as_posix()
        return LONGEST_FILES_FIRST.index(relative) if relative in LONGEST_FILES_FIRST else len(LONGEST_FILES_FIRST)

    items.sort(key=rank)


# Variables that point at a developer's real data; no test may inherit them.
REAL_DATA_VARIABLES = (
    "OVC_DATABASE_URL", "OVC_DAGSTER_PG_URL", "OVC_RAW_STORE", "OVC_S3_ENDPOINT_URL", "DAGSTER_HOME",
)


@pytest.fixture(scope="session", autouse=True)
def private_ovc_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """OVC_HOME of the whole session: a temporary folder, never `./.ovc` of the checkout. Tests
    that need their own (`ovc_env`) override it per test. Dagster's bookkeeping switches are set
    as the `ovc` command sets them (`DAGSTER_ENV_DEFAULTS`), so runs in the tests' process keep
    Dagster's books as users' runs do (and a range run costs a fraction of the time)."""
    home = tmp_path_factory.mktemp("session_ovc_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVC_HOME", str(home))
        for name, value in DAGSTER_ENV_DEFAULTS.items():
            patch.setenv(name, os.environ.get(name, value))
        for variable in REAL_DATA_VARIABLES:
            patch.delenv(variable, raising=False)
        yield home


@pytest.fixture(scope="session")
def postgres_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An administrative DSN: the configured test server, or an embedded one for this session."""
    configured = os.environ.get("OVC_TEST_DATABASE_URL")
    if configured:
        check_reachable(configured)
        yield configured
        return
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("embedded") / "pg")
    dsn = embedded.start()
    _skip_durability(dsn)
    yield dsn
    embedded.stop()


# The session's private server holds only throw-away databases: durability there buys nothing
# and costs every commit a flush. Never applied to a user's embedded server, nor to a
# configured OVC_TEST_DATABASE_URL (shared).
NO_DURABILITY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _skip_durability(admin_dsn: str) -> None:
    with connect(admin_dsn, autocommit=True) as conn:
        for name, value in NO_DURABILITY_SETTINGS.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
        conn.execute("SELECT pg_reload_conf()")


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
def migrated_template(postgres_server_dsn: str) -> Iterator[str]:
    """Name of the session's migrated template database, the source of every test database."""
    template_name = f"ovc_tpl_{uuid.uuid4().hex[:8]}"
    _create_database(postgres_server_dsn, template_name)
    migrate(dsn_for_database(postgres_server_dsn, template_name))
    yield template_name
    _drop_database(postgres_server_dsn, template_name)


@contextmanager
def _database_factory(admin_dsn: str, template: str) -> Iterator[Callable[[bool], str]]:
    """A factory of new databases (migrated or empty) on the test server; on exit drops them,
    with the Dagster storage a test may have made beside each."""
    created: list[str] = []

    def create(migrated: bool = True) -> str:
        name = f"ovc_test_{uuid.uuid4().hex[:12]}"
        _create_database(admin_dsn, name, template if migrated else None)
        created.append(name)
        return dsn_for_database(admin_dsn, name)

    try:
        yield create
    finally:
        for name in reversed(created):
            _drop_database(admin_dsn, f"{name}_dagster")
            _drop_database(admin_dsn, name)


@pytest.fixture
def create_test_database(postgres_server_dsn: str, migrated_template: str) -> Iterator[Callable[[bool], str]]:
    """Factory: databases for this test alone, dropped when the test ends."""
    with _database_factory(postgres_server_dsn, migrated_template) as create:
        yield create


@pytest.fixture(scope="module")
def create_module_database(postgres_server_dsn: str, migrated_template: str) -> Iterator[Callable[[bool], str]]:
    """Factory: databases shared by the tests of one module (the operations guide, one test
    per section; the browser suite's stack), dropped when the module ends."""
    with _database_factory(postgres_server_dsn, migrated_template) as create:
        yield create


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
