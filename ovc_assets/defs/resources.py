"""Dagster resources shared by every domain."""


from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from ovc_assets.storage.postgres import connect, resolve_dsn


class PostgresResource(dg.ConfigurableResource):
    """The OVC database: `database_url` if given, else `OVC_DATABASE_URL`, else the embedded
    server under `$OVC_HOME/pg` (started on first use)."""

    database_url: str | None = None

    def dsn(self) -> str:
        return self.database_url or resolve_dsn()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """One connection whose transaction commits on success and rolls back on error."""
        with connect(self.dsn()) as conn:
            yield conn
