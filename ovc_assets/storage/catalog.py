"""What the `ovc` schema holds: its tables and their row counts."""

from __future__ import annotations

import psycopg
from psycopg import sql

OVC_SCHEMA = "ovc"
LIST_TABLES_SQL = """
SELECT table_name FROM information_schema.tables
WHERE table_schema = %s AND table_type = 'BASE TABLE'
ORDER BY table_name
"""


def table_row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Exact row count of every table in the `ovc` schema, by table name."""
    tables = [name for (name,) in conn.execute(LIST_TABLES_SQL, (OVC_SCHEMA,)).fetchall()]
    counts = {}
    for table in tables:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(OVC_SCHEMA, table))
        counts[table] = conn.execute(query).fetchone()[0]
    return counts
