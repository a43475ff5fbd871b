"""The storage module: DSN masking, connection errors, the pool."""

from __future__ import annotations

import socket

import pytest
from psycopg.conninfo import conninfo_to_dict

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.storage.postgres import Database, connect, describe_server, mask_dsn


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        ("postgresql://alice:s3cr3t@db.example.com:5433/ovc", "postgresql://alice:***@db.example.com:5433/ovc"),
        ("postgresql://alice@db.example.com/ovc", "postgresql://alice@db.example.com/ovc"),
        ("postgresql+psycopg2://u:p%40ss@h/d?sslmode=require", "postgresql+psycopg2://u:***@h/d?sslmode=require"),
        ("postgresql://postgres:@/postgres?host=/tmp/pg", "postgresql://postgres:@/postgres?host=/tmp/pg"),
        ("postgresql://u@127.0.0.1:1/x?password=pw", "postgresql://u@127.0.0.1:1/x?password=***"),
        ("postgresql://u@h/x?sslmode=require&PASSWORD=pw&a=1", "postgresql://u@h/x?sslmode=require&PASSWORD=***&a=1"),
        ("postgresql://u@h/x?sslpassword=key&password=pw", "postgresql://u@h/x?sslpassword=***&password=***"),
        ("postgresql://u:pw@[bad/x", "postgresql://u:***@[bad/x"),
        ("postgresql://u:p@ss@h/x", "postgresql://u:***@h/x"),
        ("host=h password='a b\\' c' user=u", "host=h password=*** user=u"),
        ("host=h password = pw user=u", "host=h password = *** user=u"),
        ("host=h user=u password", "host=h user=u password"),
    ],
)
def test_mask_dsn_hides_only_the_password(dsn: str, masked: str) -> None:
    assert mask_dsn(dsn) == masked


def test_mask_dsn_in_key_value_form() -> None:
    masked = mask_dsn("host=h port=5432 user=u password=hunter2 dbname=d")
    assert "hunter2" not in masked
    assert conninfo_to_dict(masked) == {"host": "h", "port": "5432", "user": "u", "password": "***", "dbname": "d"}


def test_mask_dsn_never_raises_and_never_returns_a_password_it_was_given() -> None:
    for dsn in ("postgresql://u:pw1@[", "postgresql://:pw2@", "password='pw3", "x password=pw4", "postgresql://u:pw5@h:bad"):
        assert "pw" not in mask_dsn(dsn), dsn


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:Malformed77@[bad/x",
        "host=127.0.0.1 password=Malformed77 user",
        "postgresql://u@127.0.0.1:{port}/x?password=Malformed77",
        "host=127.0.0.1 port={port} user=u password=Malformed77 dbname=x",
        "postgresql://u:Malformed%3777@127.0.0.1:{port}/x",
    ],
)
def test_connection_errors_never_carry_the_password_in_any_dsn_form(dsn: str) -> None:
    with pytest.raises(OvcError) as raised:
        connect(dsn.format(port=_closed_port()))
    assert raised.value.code is ErrorCode.DB_UNREACHABLE
    assert "Malformed77" not in str(raised.value) and "\n" not in raised.value.message


def test_describe_server_names_host_port_and_database() -> None:
    assert describe_server("postgresql://u:pw@db.internal:6432/prod") == "db.internal:6432/prod"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_is_one_coded_line_naming_the_host_never_the_password() -> None:
    port = _closed_port()
    with pytest.raises(OvcError) as raised:
        connect(f"postgresql://ovc:TopSecret99@127.0.0.1:{port}/ovc")
    error = raised.value
    assert error.code is ErrorCode.DB_UNREACHABLE
    assert f"127.0.0.1:{port}/ovc" in error.message
    assert "TopSecret99" not in str(error)
    assert "\n" not in error.message


def test_pooled_connection_commits_on_success_and_rolls_back_on_error(database_url: str) -> None:
    with Database(database_url) as database:
        with database.connection() as conn:
            conn.execute("CREATE TABLE ovc.pool_probe (n int)")
            conn.execute("INSERT INTO ovc.pool_probe VALUES (1)")
        with pytest.raises(ZeroDivisionError), database.connection() as conn:
            conn.execute("INSERT INTO ovc.pool_probe VALUES (2)")
            raise ZeroDivisionError
        with database.connection() as conn:
            assert conn.execute("SELECT array_agg(n) FROM ovc.pool_probe").fetchone()[0] == [1]
