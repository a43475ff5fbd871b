"""`binary_copy` against the server: every value comes back as written, NULLs included, whatever
the mix of text widths (one record group per width pattern); `read_binary_copy` reads the
server's fixed-width COPY streams back, and refuses a NULL or a column of another width."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest

from ovc_assets.storage.binary_copy import binary_copy, read_binary_copy
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


READ_BACK_SQL = """
COPY (SELECT n, ts, d, x, s, i, b FROM (VALUES
    (1, timestamptz '2026-01-01 10:00+00', date '2026-01-01', float8 '1.25', int2 '-1', 7, true),
    (2, timestamptz '1999-12-31 23:00:00.000001+00', date '1999-12-31', float8 'NaN', int2 '0', -8, false),
    (3, timestamptz '2000-01-01 00:00+00', date '2000-01-01', float8 '-0', int2 '1', 2147483647, true)
) AS v(n, ts, d, x, s, i, b) ORDER BY n) TO STDOUT (FORMAT BINARY)
"""


def copied_out(database_url: str, statement: str) -> bytes:
    with connect(database_url) as conn, conn.cursor().copy(statement) as copy:
        return b"".join(copy)


def test_a_copy_of_fixed_width_columns_reads_back_as_numpy_columns(database_url) -> None:
    n, ts, d, x, s, i, b = read_binary_copy(copied_out(database_url, READ_BACK_SQL), ["int4", *TYPES[1:]])

    assert n.tolist() == [1, 2, 3]
    assert ts.tolist() == np.array(["2026-01-01T10:00", "1999-12-31T23:00:00.000001", "2000-01-01"], dtype="datetime64[us]").tolist()
    assert d.tolist() == np.array(["2026-01-01", "1999-12-31", "2000-01-01"], dtype="datetime64[D]").tolist()
    assert x[0] == 1.25 and np.isnan(x[1]) and x[2] == 0.0 and np.signbit(x[2])
    assert (s.tolist(), i.tolist(), b.tolist()) == ([-1, 0, 1], [7, -8, 2**31 - 1], [True, False, True])


def test_a_null_or_a_column_of_another_width_is_refused(database_url) -> None:
    with_null = copied_out(database_url, "COPY (SELECT 1::int4, 2::int4 UNION ALL SELECT 3, NULL) TO STDOUT (FORMAT BINARY)")
    # The same row width with the columns' widths swapped: only each value's length tells.
    swapped = copied_out(database_url, "COPY (SELECT 1::int4, 2::float8) TO STDOUT (FORMAT BINARY)")

    with pytest.raises(ValueError, match="fixed width"):
        read_binary_copy(with_null, ["int4", "int4"])
    with pytest.raises(ValueError, match="column 0 of the stream is not a non-NULL float8"):
        read_binary_copy(swapped, ["float8", "int4"])
