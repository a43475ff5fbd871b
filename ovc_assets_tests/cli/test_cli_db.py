"""`ovc db ...` end to end, as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def run_ovc(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )


def test_db_url_prints_the_configured_dsn_with_the_password_masked(ovc_env: dict[str, str]) -> None:
    result = run_ovc("db", "url", env={"OVC_DATABASE_URL": "postgresql://ovc:Sup3rSecret@db.example.com:5433/ovc"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgresql://ovc:***@db.example.com:5433/ovc"
    assert "Sup3rSecret" not in result.stdout + result.stderr


def test_db_migrate_twice_is_a_no_op_the_second_time(ovc_env: dict[str, str], empty_database_url: str) -> None:
    env = {"OVC_DATABASE_URL": empty_database_url}
    first = run_ovc("db", "migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 001_core_tables" in first.stdout
    second = run_ovc("db", "migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout


def test_unreachable_database_is_one_line_and_a_non_zero_exit(ovc_env: dict[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_ovc("db", "migrate", env={"OVC_DATABASE_URL": f"postgresql://u:Hidden42@127.0.0.1:{port}/x"})
    assert result.returncode == 2
    assert result.stderr.startswith("error E_DB_UNREACHABLE: cannot connect to PostgreSQL at 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert "Hidden42" not in result.stderr + result.stdout


def test_a_foreign_pg_folder_under_ovc_home_is_a_clear_error(ovc_env: dict[str, str], tmp_path) -> None:
    home = tmp_path / "foreign_home"
    (home / "pg").mkdir(parents=True)
    (home / "pg" / "notes.txt").write_text("mine")
    env = {k: v for k, v in os.environ.items() if k != "OVC_DATABASE_URL"}
    env["OVC_HOME"] = str(home)
    result = subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", "db", "url"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "E_PGDATA_INVALID" in result.stderr and "Traceback" not in result.stderr
    assert (home / "pg" / "notes.txt").read_text() == "mine"


def test_embedded_server_is_started_reused_and_stopped(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OVC_DATABASE_URL"}
    env["OVC_HOME"] = str(tmp_path / "home")

    def ovc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ovc_assets.cli", *args], capture_output=True, text=True, env=env, timeout=120)

    migrate = ovc("db", "migrate")
    assert migrate.returncode == 0, migrate.stderr
    # The server this command started stops when it exits; the data stays.
    assert "stopped" in ovc("db", "status").stdout
    assert "0 migration(s) applied" in ovc("db", "migrate").stdout

    started = ovc("db", "start")
    assert started.returncode == 0, started.stderr
    assert f"host={tmp_path / 'home' / 'pg'}" in started.stdout
    assert "running" in ovc("db", "status").stdout
    assert ovc("db", "migrate").returncode == 0
    assert "running" in ovc("db", "status").stdout, "a command must not stop a server it did not start"
    assert ovc("db", "stop").stdout.strip() == "stopped"
    assert "stopped" in ovc("db", "status").stdout
