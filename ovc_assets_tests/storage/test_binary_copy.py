"""`binary_copy` against the server: every value comes back as written, NULLs included, whatever
the mix of text widths (one record group per width pattern); `read_sent_records` reads
fixed-width records the server sent in one bytea back, and refuses records of another width."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from ovc_assets.storage.binary_copy import binary_copy, read_sent_records
from ovc_assets.storage.postgres import connect

TYPES = ["text", "timestamptz", "date", "float8", "int2", "int4", "bool"]
TABLE_SQL = "CREATE TEMP TABLE copied (n int4, t text, ts timestamptz, d date, x float8, s int2, i int4, b bool)"


def test_values_of_every_type_come_back_as_written(database_url) -> None:
    texts = np.array(["GBPUSD", "é", "", "20050102-A-EURUSD"], dtype=object)
    times = np.array(["2026-01-01T10:00:00", "1999-12-31T23:00:00", "2005-01-02T22:00:00", "2000-01-01T00:00:00.000001"], dtype="datetime64[us]")
    days = np.array(["2026-01-01", "1999-12-31", "2005-01-02", "2000-01-01"], dtype="datetime64[D]")
    doubles = np.array([1.25, np.nan, 0.1 + 0.2, -0.0])
    payload = binary_copy(
        ["int4", *TYPES],
        [np.arange(4, dtype=np.int32), texts, times, days, doubles, np.array([-1, 0, 1, 0], dtype=np.int16),
         np.array([7, -8, 2**31 - 1, 0], dtype=np.int32), np.array([True, False, True, False])],
        [None, None, None, None, np.isnan(doubles), None, None, None],
    )  # fmt: skip
    with connect(database_url) as conn:
        conn.execute(TABLE_SQL)
        with conn.cursor().copy("COPY copied FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(payload)
        rows = conn.execute("SELECT t, ts, d, x, s, i, b FROM copied ORDER BY n").fetchall()

    assert rows == [
        ("GBPUSD", datetime(2026, 1, 1, 10, tzinfo=UTC), date(2026, 1, 1), 1.25, -1, 7, True),
        ("é", datetime(1999, 12, 31, 23, tzinfo=UTC), date(1999, 12, 31), None, 0, -8, False),
        ("", datetime(2005, 1, 2, 22, tzinfo=UTC), date(2005, 1, 2), 0.1 + 0.2, 1, 2**31 - 1, True),
        ("20050102-A-EURUSD", datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC), date(2000, 1, 1), -0.0, 0, 0, False),
    ]


SENT_SQL = """
SELECT string_agg(int4send(n) || timestamptz_send(ts) || date_send(d) || float8send(x) || int2send(s) || int4send(i) || boolsend(b), ''::bytea)
FROM (VALUES
    (1, timestamptz '2026-01-01 10:00+00', date '2026-01-01', float8 '1.25', int2 '-1', 7, true),
    (2, timestamptz '1999-12-31 23:00:00.000001+00', date '1999-12-31', float8 'NaN', int2 '0', -8, false),
    (3, timestamptz '2000-01-01 00:00+00', date '2000-01-01', float8 '-0', int2 '1', 2147483647, true)
) AS v(n, ts, d, x, s, i, b)
"""


def sent(database_url: str, query: str) -> bytes:
    with connect(database_url) as conn:
        return conn.execute(query, binary=True).fetchone()[0]


def test_records_the_server_sent_read_back_as_numpy_columns(database_url) -> None:
    n, ts, d, x, s, i, b = read_sent_records(sent(database_url, SENT_SQL), ["int4", *TYPES[1:]])

    order = np.argsort(n)
    n, ts, d, x, s, i, b = (column[order] for column in (n, ts, d, x, s, i, b))
    assert n.tolist() == [1, 2, 3]
    assert ts.tolist() == np.array(["2026-01-01T10:00", "1999-12-31T23:00:00.000001", "2000-01-01"], dtype="datetime64[us]").tolist()
    assert d.tolist() == np.array(["2026-01-01", "1999-12-31", "2000-01-01"], dtype="datetime64[D]").tolist()
    assert x[0] == 1.25 and np.isnan(x[1]) and x[2] == 0.0 and np.signbit(x[2])
    assert (s.tolist(), i.tolist(), b.tolist()) == ([-1, 0, 1], [7, -8, 2**31 - 1], [True, False, True])


def test_records_of_other_widths_are_refused(database_url) -> None:
    records = sent(database_url, "SELECT int4send(1) || int4send(2) || int4send(3)")

    with pytest.raises(ValueError, match="12 bytes are not a whole number of 8-byte records"):
        read_sent_records(records, ["int4", "int4"])
