"""Fixtures of the run-tracking tests: a connection, the report sensors' resources, and an
OVC home whose reports folder the tests can read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from ovc_assets.defs.resources import PostgresResource
from ovc_assets.storage.postgres import connect


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to this test's fresh database."""
    with connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def ovc_home(ovc_env: dict[str, str]) -> Path:
    """$OVC_HOME of this test (the reports folder is `reports/` under it)."""
    return Path(ovc_env["OVC_HOME"])


@pytest.fixture
def resources(database_url: str) -> dict[str, object]:
    return {"ovc_database": PostgresResource(database_url=database_url)}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def table_checksum(conn: psycopg.Connection, table: str, order_by: str) -> str:
    """md5 of the whole table's rows as text, in key order (None for an empty table)."""
    query = sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY {})) FROM {} t").format(
        sql.SQL(order_by), sql.Identifier("ovc", table)
    )
    return conn.execute(query).fetchone()[0]


@pytest.fixture
def checksum():
    return table_checksum
