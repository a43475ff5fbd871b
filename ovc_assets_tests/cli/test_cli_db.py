"""`ovc db ...` end to end, as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psycopg
import pytest

from ovc_assets_tests.ovc_in_process import run_ovc_in_process


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

    def status() -> str:
        # The server's state as another process sees it: `status` itself in a real process once.
        return run_ovc_in_process("db", "status", env=env).stdout

    migrate = ovc("db", "migrate")
    assert migrate.returncode == 0, migrate.stderr
    # The server this command started stops when it exits; the data stays.
    assert "stopped" in ovc("db", "status").stdout
    assert "0 migration(s) applied" in ovc("db", "migrate").stdout

    started = ovc("db", "start")
    assert started.returncode == 0, started.stderr
    assert f"host={tmp_path / 'home' / 'pg'}" in started.stdout
    assert "running" in status()
    assert ovc("db", "migrate").returncode == 0
    assert "running" in status(), "a command must not stop a server it did not start"
    assert ovc("db", "stop").stdout.strip() == "stopped"
    assert "stopped" in status()


SECRET = "Pw0rdXyz9"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (f"postgresql://u@127.0.0.1:1/x?password={SECRET}", "postgresql://u@127.0.0.1:1/x?password=***"),
        (f"postgresql://u:{SECRET}@[bad/x", "postgresql://u:***@[bad/x"),
        (f"host=127.0.0.1 port=1 user=u password={SECRET} dbname=x", "host=127.0.0.1 port=1 user=u password=*** dbname=x"),
        (f"host=127.0.0.1 password='{SECRET} x", "host=127.0.0.1 password=***"),
    ],
)
def test_db_url_masks_every_dsn_form_and_never_crashes(ovc_env: dict[str, str], dsn: str, shown: str) -> None:
    result = run_ovc_in_process("db", "url", env={**os.environ, "OVC_DATABASE_URL": dsn})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shown
    assert SECRET not in result.stdout + result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [("db", "migrate"), ("runs", "list"), ("report", "verify")])
@pytest.mark.parametrize(
    "dsn", [f"postgresql://u:{SECRET}@[bad/x", f"postgresql://u@127.0.0.1:1/x?password={SECRET}", f"password={SECRET} x"]
)
def test_database_errors_are_one_coded_line_without_the_password(
    ovc_env: dict[str, str], command: tuple[str, ...], dsn: str
) -> None:
    result = run_ovc_in_process(*command, env={**os.environ, "OVC_DATABASE_URL": dsn})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error E_DB_UNREACHABLE: ") and len(result.stderr.strip().splitlines()) == 1
    assert SECRET not in result.stdout + result.stderr


def test_db_migrate_says_what_the_roles_guarantee(ovc_env: dict[str, str], empty_database_url: str) -> None:
    result = run_ovc_in_process("db", "migrate", env={**os.environ, "OVC_DATABASE_URL": empty_database_url})
    assert result.returncode == 0, result.stderr
    assert "roles: ovc_owner owns schema ovc; data commands act as ovc_writer" in result.stdout


def test_db_url_on_the_embedded_default_prints_a_dsn_that_works_afterwards(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OVC_DATABASE_URL"}
    env["OVC_HOME"] = str(tmp_path / "home")
    url = subprocess.run([sys.executable, "-m", "ovc_assets.cli", "db", "url"], capture_output=True, text=True,
                         env=env, timeout=120)
    try:
        assert url.returncode == 0, url.stderr
        assert "left running; stop it with `ovc db stop`" in url.stderr
        with psycopg.connect(url.stdout.strip(), connect_timeout=5) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        stop = subprocess.run([sys.executable, "-m", "ovc_assets.cli", "db", "stop"], capture_output=True, text=True,
                              env=env, timeout=120)
    assert stop.stdout.strip() == "stopped"


def test_serve_banner_masks_the_password(ovc_env: dict[str, str], database_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **ovc_env, "OVC_DATABASE_URL": f"{database_url} password={SECRET}", "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "ovc_assets.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: list[str] = []
    try:
        for line in server.stdout:
            lines.append(line)
            if line.strip().startswith("database"):
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    banner = "".join(lines)
    assert "password=***" in banner, banner
    assert SECRET not in banner
