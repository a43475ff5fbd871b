"""PostgreSQL's binary COPY format, built column-wise with numpy: no Python object per value,
and no text for the server to parse (timestamps, dates and doubles arrive as the server stores
them). Rows are grouped by the widths of their text values and by which values are NULL, each
group one numpy record array; the groups follow one another, which COPY does not mind.

`read_sent_records` reads fixed-width values the server encoded the same way (its send
functions, concatenated into one bytea per query) back into numpy columns: one record array."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us")
PG_EPOCH_DAY = np.datetime64("2000-01-01", "D")
NULL_LENGTH = -1

# Column type -> how numpy holds it; the text type is held as bytes ("S"), width per group.
FIXED_TYPES = {
    "float8": np.dtype(">f8"),
    "int2": np.dtype(">i2"),
    "int4": np.dtype(">i4"),
    "bool": np.dtype("u1"),
    "timestamptz": np.dtype(">i8"),
    "date": np.dtype(">i4"),
}


def _wire_values(pg_type: str, values: np.ndarray) -> np.ndarray:
    if pg_type == "timestamptz":
        return (values.astype("datetime64[us]") - PG_EPOCH_US).astype(np.int64)
    if pg_type == "date":
        return (values.astype("datetime64[D]") - PG_EPOCH_DAY).astype(np.int64)
    if pg_type == "text" and values.dtype.kind != "S":
        try:
            return values.astype("S")  # one C loop; ASCII only
        except UnicodeEncodeError:
            return np.char.encode(values.astype(str), "utf-8")
    return values


def binary_copy(pg_types: Sequence[str], columns: Sequence[np.ndarray], nulls: Sequence[np.ndarray | None]) -> bytes:
    """The whole COPY stream (signature, rows, trailer) of equally long `columns`, of the
    PostgreSQL types `pg_types` (text or one of FIXED_TYPES); `nulls` marks NULL values
    (None: none are)."""
    count = len(columns[0]) if columns else 0
    values = [_wire_values(pg_type, column) for pg_type, column in zip(pg_types, columns, strict=True)]
    lengths = np.empty((count, len(values)), dtype=np.int32)
    for index, (pg_type, column) in enumerate(zip(pg_types, values, strict=True)):
        lengths[:, index] = np.char.str_len(column) if pg_type == "text" else FIXED_TYPES[pg_type].itemsize
        if nulls[index] is not None:
            lengths[nulls[index], index] = NULL_LENGTH
    parts = [SIGNATURE]
    # Most streams are one group (one symbol, no NULL); otherwise groups are hashed, not sorted
    # (numpy's unique over rows sorts them as bytes: seconds per 100,000 rows).
    if count and (lengths == lengths[0]).all():
        group_of_row = np.zeros(count, dtype=np.int64)
    else:
        group_of_row = pd.DataFrame(lengths).groupby(list(range(len(values))), sort=False).ngroup().to_numpy()
    for group in range(group_of_row.max() + 1 if count else 0):
        rows = np.flatnonzero(group_of_row == group)
        pattern = lengths[rows[0]]
        fields = [("count", ">i2")]
        for index, (pg_type, length) in enumerate(zip(pg_types, pattern, strict=True)):
            fields.append((f"length{index}", ">i4"))
            if length != NULL_LENGTH:
                fields.append((f"value{index}", f"S{length}" if pg_type == "text" else FIXED_TYPES[pg_type]))
        records = np.empty(len(rows), dtype=np.dtype(fields))
        records["count"] = len(values)
        for index, length in enumerate(pattern):
            records[f"length{index}"] = length
            if length != NULL_LENGTH:
                records[f"value{index}"] = values[index][rows]
        parts.append(records.tobytes())
    parts.append(TRAILER)
    return b"".join(parts)


def _column_values(pg_type: str, wire: np.ndarray) -> np.ndarray:
    if pg_type == "timestamptz":
        return PG_EPOCH_US + wire.astype(np.int64).astype("timedelta64[us]")
    if pg_type == "date":
        return PG_EPOCH_DAY + wire.astype(np.int64).astype("timedelta64[D]")
    if pg_type == "bool":
        return wire.astype(bool)
    return wire.astype(FIXED_TYPES[pg_type].newbyteorder("="))


def read_sent_records(records: bytes, pg_types: Sequence[str]) -> list[np.ndarray]:
    """The columns of fixed-width records the server sent back to back in one bytea, each record
    its values' binary send forms (`int4send(..) || float8send(..) || ..`, PostgreSQL's binary
    COPY encoding without the lengths) of the `pg_types` (FIXED_TYPES): timestamps as UTC
    datetime64[us], dates as datetime64[D], numbers in native byte order."""
    record = np.dtype([(f"value{index}", FIXED_TYPES[pg_type]) for index, pg_type in enumerate(pg_types)])
    if len(records) % record.itemsize:
        raise ValueError(f"{len(records)} bytes are not a whole number of {record.itemsize}-byte records of {list(pg_types)}")
    array = np.frombuffer(records, dtype=record)
    return [_column_values(pg_type, array[f"value{index}"]) for index, pg_type in enumerate(pg_types)]
