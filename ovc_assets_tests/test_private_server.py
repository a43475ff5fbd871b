"""The session's private embedded server runs without durability (a throw-away server, faster
commits); a user's embedded server, the same code path outside the tests, keeps it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ovc_assets.storage.postgres import EmbeddedPostgres, connect
from ovc_assets_tests.conftest import NO_DURABILITY_SETTINGS


def _settings(dsn: str) -> dict[str, str]:
    with connect(dsn) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in NO_DURABILITY_SETTINGS}


@pytest.mark.skipif(bool(os.environ.get("OVC_TEST_DATABASE_URL")), reason="a configured server is never reconfigured")
def test_the_sessions_private_server_runs_without_durability(postgres_server_dsn: str) -> None:
    assert _settings(postgres_server_dsn) == {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def test_a_users_embedded_server_keeps_durability(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "home" / "pg")
    try:
        assert _settings(server.start()) == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    finally:
        server.stop()
