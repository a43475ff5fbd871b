"""What a step of a run counted, handed to the run report through `ovc.ovc_run_counts`.

Each step (asset) of an OVC run keeps a `RunCounts` while it works and records it once at
the end, also when it fails (what it counted so far): one row per (Dagster run id, step
key), replaced when the step records again. The report builder sums a run's rows.

The simplest way to get this right is `tracked_step`:

    with tracked_step(dsn, context.run.run_id, context.asset_key.to_user_string(),
                      RunType.LIVE_INGEST, range_start=w.start, range_end=w.end,
                      symbols=["GBPUSD"]) as counts:
        counts.received_events += len(payloads)
        ...

It records on the way out whatever happened, and a tracking failure is logged, never raised.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from ovc_assets.errors import one_line
from ovc_assets.runs.manifest import insert_manifest_if_absent, manifest_for_step
from ovc_assets.runs.tags import RUN_TYPES
from ovc_assets.storage.postgres import connect

log = logging.getLogger(__name__)

INT_FIELDS = (
    "received_events",
    "unique_events",
    "duplicate_events",
    "parse_ok",
    "parse_fail",
    "insert_attempted",
    "insert_success",
    "insert_skipped",
    "insert_failed",
    "outcomes_attempted",
    "outcomes_inserted",
    "outcomes_skipped",
    "outcomes_failed",
    "raw_events_written",
    "quarantined_events",
)
TALLY_FIELDS = ("fail_by_code", "schema_versions_seen", "build_ids_seen", "window_types_seen", "outcome_vers_seen")

UPSERT_RUN_COUNTS_SQL = """
INSERT INTO ovc.ovc_run_counts AS c
    (dagster_run_id, step_key, run_type, counts, range_start, range_end, symbols, recorded_at)
VALUES (%(dagster_run_id)s, %(step_key)s, %(run_type)s, %(counts)s, %(range_start)s, %(range_end)s,
        %(symbols)s, now())
ON CONFLICT (dagster_run_id, step_key) DO UPDATE SET
    run_type = EXCLUDED.run_type,
    counts = EXCLUDED.counts,
    range_start = EXCLUDED.range_start,
    range_end = EXCLUDED.range_end,
    symbols = EXCLUDED.symbols,
    recorded_at = EXCLUDED.recorded_at
"""

SELECT_RUN_COUNTS_SQL = """
SELECT step_key, run_type, counts, range_start, range_end, symbols
FROM ovc.ovc_run_counts
WHERE dagster_run_id = %s
ORDER BY step_key
"""


@dataclass
class RunCounts:
    """The counts of seed 002 sections 4-6, 8 and 9 that a step produces.

    Integers are totals for the step (not deltas); tallies map a name to how often it was
    seen (`fail_by_code`: error code -> payloads rejected with it). `expected_events` is
    None when the step cannot know it. `window_types_seen` / `outcome_vers_seen` give the
    report's `window_type` / `outcome_ver` for outcome runs.
    """

    received_events: int = 0
    unique_events: int = 0
    duplicate_events: int = 0
    parse_ok: int = 0
    parse_fail: int = 0
    fail_by_code: dict[str, int] = field(default_factory=dict)
    insert_attempted: int = 0
    insert_success: int = 0
    insert_skipped: int = 0
    insert_failed: int = 0
    outcomes_attempted: int = 0
    outcomes_inserted: int = 0
    outcomes_skipped: int = 0
    outcomes_failed: int = 0
    raw_events_written: int = 0
    schema_versions_seen: dict[str, int] = field(default_factory=dict)
    build_ids_seen: dict[str, int] = field(default_factory=dict)
    expected_events: int | None = None
    window_types_seen: dict[str, int] = field(default_factory=dict)
    outcome_vers_seen: dict[str, int] = field(default_factory=dict)
    quarantined_events: int = 0  # of the step's window, refused by the database (ovc.raw_event_quarantine)

    def count_failure(self, codes: Iterable[str]) -> None:
        """One rejected payload with these error codes (each code counted once per payload)."""
        self.parse_fail += 1
        _tally(self.fail_by_code, dict.fromkeys(codes, 1))

    def see(self, schema_version: str | None = None, build_id: str | None = None) -> None:
        """One parsed payload of this contract version and producer build."""
        if schema_version:
            _tally(self.schema_versions_seen, {schema_version: 1})
        if build_id:
            _tally(self.build_ids_seen, {build_id: 1})

    def merged_with(self, other: RunCounts) -> RunCounts:
        """The sum of two step counts (a new object; neither input changes)."""
        merged = RunCounts()
        for name in INT_FIELDS:
            setattr(merged, name, getattr(self, name) + getattr(other, name))
        for name in TALLY_FIELDS:
            tally: dict[str, int] = dict(getattr(self, name))
            _tally(tally, getattr(other, name))
            setattr(merged, name, tally)
        if self.expected_events is not None or other.expected_events is not None:
            merged.expected_events = (self.expected_events or 0) + (other.expected_events or 0)
        return merged

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> RunCounts:
        """Read a stored `counts` object; unknown keys (from a newer writer) are ignored."""
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for name, value in data.items():
            if name not in known:
                continue
            if name in TALLY_FIELDS:
                values[name] = {str(key): int(count) for key, count in dict(value or {}).items()}
            elif name == "expected_events":
                values[name] = None if value is None else int(value)
            else:
                values[name] = int(value or 0)
        return cls(**values)


def sum_counts(counts: Iterable[RunCounts]) -> RunCounts:
    total = RunCounts()
    for item in counts:
        total = total.merged_with(item)
    return total


def _tally(into: dict[str, int], more: Mapping[str, int]) -> None:
    merged = Counter(into)
    merged.update(more)
    into.clear()
    into.update(sorted(merged.items()))


def record_step_counts(
    conn: psycopg.Connection,
    dagster_run_id: str,
    step_key: str,
    run_type: str,
    counts: RunCounts,
    range_start: datetime | None = None,
    range_end: datetime | None = None,
    symbols: Sequence[str] = (),
) -> bool:
    """Upsert this step's row of `ovc.ovc_run_counts` (one statement; a later call replaces it).

    Also records the run's manifest in `ovc.ovc_runs` the first time a step of the run
    reports (status STARTED, with this process's package version, git state and redacted
    environment); the report builder completes it when the run ends.

    Runs in a savepoint of `conn`'s transaction (or its own transaction): a database error,
    like an invalid argument (a run type outside seed 002's enum, a naive datetime), is
    logged and False returned, and the caller's transaction stays usable. Tracking must
    never stop the work it tracks.
    """
    problem = None
    if run_type not in RUN_TYPES:
        problem = f"run_type must be one of {', '.join(RUN_TYPES)}, got {run_type!r}"
    elif any(value is not None and value.tzinfo is None for value in (range_start, range_end)):
        problem = "range_start and range_end must be timezone-aware"
    if problem:
        log.warning("run tracking: counts of step %s of run %s not recorded: %s", step_key, dagster_run_id, problem)
        return False
    params = {
        "dagster_run_id": dagster_run_id,
        "step_key": step_key,
        "run_type": run_type,
        "counts": Jsonb(counts.to_json()),
        "range_start": range_start,
        "range_end": range_end,
        "symbols": sorted(set(symbols)),
    }
    try:
        with conn.transaction():
            insert_manifest_if_absent(conn, manifest_for_step(dagster_run_id, run_type))
            conn.execute(UPSERT_RUN_COUNTS_SQL, params)
    except psycopg.Error as error:
        log.warning("run tracking: could not record counts of step %s of run %s: %s",
                    step_key, dagster_run_id, one_line(error, 300))
        return False
    return True


class TrackedCounts(RunCounts):
    """The `RunCounts` of `tracked_step`, with two ways to record before the step ends:

    - `checkpoint()`: record the counts so far now, on a connection of their own. A long step
      calls it now and then, so that a process killed outright (kill -9, OOM) still leaves
      what it had counted for its FAIL report.
    - `commit_with(conn)`: record the final counts in the step's open transaction and commit
      it: the counts commit with the work they count, and `tracked_step` opens no connection
      for them (a live window's step costs one connection, not two).
    """

    _checkpoint: Callable[[], bool] | None = None
    _record_on: Callable[[psycopg.Connection], bool] | None = None
    _committed: dict[str, object] | None = None

    def checkpoint(self) -> bool:
        return self._checkpoint() if self._checkpoint is not None else False

    def commit_with(self, conn: psycopg.Connection) -> None:
        recorded = self._record_on(conn) if self._record_on is not None else False
        conn.commit()
        if recorded:
            self._committed = self.to_json()

    def committed(self) -> bool:
        """Whether these very counts were committed by `commit_with`."""
        return self._committed is not None and self._committed == self.to_json()


@contextmanager
def tracked_step(
    dsn: str,
    dagster_run_id: str,
    step_key: str,
    run_type: str,
    *,
    range_start: datetime | None = None,
    range_end: datetime | None = None,
    symbols: Sequence[str] = (),
) -> Iterator[TrackedCounts]:
    """Yield a fresh `TrackedCounts`; record it on exit, on success and on failure alike
    (and whenever the step calls `counts.checkpoint()`).

    Records on a connection of its own, so the step's own transaction (committed or rolled
    back) does not decide whether the counts are kept; unless the step committed these very
    counts with its work (`counts.commit_with(conn)`). Never raises a tracking error; an error
    of the step itself propagates unchanged.
    """
    counts = TrackedCounts()

    def record_on(conn: psycopg.Connection) -> bool:
        return record_step_counts(conn, dagster_run_id, step_key, run_type, counts, range_start, range_end, symbols)

    def record() -> bool:
        try:
            with connect(dsn) as conn:
                return record_on(conn)
        except Exception as error:  # noqa: BLE001 - tracking must not replace the step's outcome
            log.warning("run tracking: could not record counts of step %s of run %s: %s",
                        step_key, dagster_run_id, one_line(error, 300))
            return False

    counts._checkpoint = record
    counts._record_on = record_on
    try:
        yield counts
    finally:
        if not counts.committed():
            record()


@dataclass(frozen=True)
class StepCountsRow:
    step_key: str
    run_type: str
    counts: RunCounts
    range_start: datetime | None
    range_end: datetime | None
    symbols: tuple[str, ...]


def load_step_counts(conn: psycopg.Connection, dagster_run_id: str) -> list[StepCountsRow]:
    """Every step row recorded for a run, in step-key order."""
    rows = conn.execute(SELECT_RUN_COUNTS_SQL, (dagster_run_id,)).fetchall()
    return [
        StepCountsRow(
            step_key=step_key,
            run_type=run_type,
            counts=RunCounts.from_json(counts if isinstance(counts, Mapping) else json.loads(counts)),
            range_start=range_start,
            range_end=range_end,
            symbols=tuple(symbols or ()),
        )
        for step_key, run_type, counts, range_start, range_end, symbols in rows
    ]
