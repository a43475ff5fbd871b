"""The OVC event log stores exactly what dagster-postgres stores, in fewer round trips.

Events of real runs (checks planned and then evaluated; checks logged by a step without being
planned, as `ovc_blocks` records its checks; passed and failed; of a partition) are replayed
into two empty Dagster databases, one through dagster-postgres's own storage, one through
`OvcEventLogStorage`; every row and every notification must come out the same.
"""

import warnings
from collections.abc import Callable, Iterator, Sequence

import dagster as dg
import pytest
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events.log import EventLogEntry
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.event_log.event_log import CHANNEL_NAME
from psycopg import sql

from ovc_assets.dagster_instance import sqlalchemy_psycopg2_url
from ovc_assets.event_log_storage import OvcEventLogStorage
from ovc_assets.storage.postgres import connect

# Filled by the server (row creation time), so never equal between two databases.
SERVER_TIMESTAMPS = {"create_timestamp", "update_timestamp", "migration_completed"}
# Where a check evaluation lands today; every other table is compared too.
CHECKED_TABLES = ("event_logs", "asset_check_executions", "asset_keys", "asset_event_tags")


@dg.asset(check_specs=[dg.AssetCheckSpec("positive", asset="planned"), dg.AssetCheckSpec("small", asset="planned")])
def planned() -> Iterator[object]:
    yield dg.Output(5)
    yield dg.AssetCheckResult(check_name="positive", passed=True, metadata={"value": 5})
    yield dg.AssetCheckResult(check_name="small", passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"limit": 3})


@dg.asset
def logged(context: dg.AssetExecutionContext) -> None:
    """Records its checks itself, unplanned, as `ovc_blocks` does."""
    for name, passed in (("complete", True), ("sane", False)):
        context.log_event(dg.AssetCheckEvaluation(asset_key=context.asset_key, check_name=name, passed=passed, metadata={"rows": 2}))


PARTS = dg.StaticPartitionsDefinition(["a", "b"])
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", dg.PreviewWarning)
    PARTITIONED_CHECK = dg.AssetCheckSpec("in_partition", asset="partitioned", partitions_def=PARTS)


@dg.asset(partitions_def=PARTS, check_specs=[PARTITIONED_CHECK])
def partitioned(context: dg.AssetExecutionContext) -> Iterator[object]:
    yield dg.Output(context.partition_key)
    yield dg.AssetCheckResult(check_name="in_partition", passed=True)


def _events_of_runs() -> list[EventLogEntry]:
    """Every event of four runs (one of them a partition), in the order they were written."""
    instance = dg.DagsterInstance.ephemeral()
    runs = [
        dg.materialize([planned], instance=instance),
        dg.materialize([logged], instance=instance),
        dg.materialize([planned], instance=instance),
        dg.materialize([partitioned], instance=instance, partition_key="b"),
    ]
    return [record.event_log_entry for run in runs for record in instance.get_records_for_run(run.run_id).records]


def _rows(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of a Dagster database, but for what the server stamps."""
    rows = {}
    with connect(dsn) as conn:
        tables = [name for (name,) in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        for table in tables:
            columns = [
                name
                for (name,) in conn.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
                    "ORDER BY ordinal_position",
                    (table,),
                )
                if name not in SERVER_TIMESTAMPS
            ]
            every_row = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(table),
                sql.SQL(", ").join(sql.Literal(position) for position in range(1, len(columns) + 1)),
            )
            rows[table] = conn.execute(every_row).fetchall()
    assert set(CHECKED_TABLES) <= set(rows), f"Dagster's tables changed: {sorted(rows)}"
    return rows


def _store_listening(dsn: str, storage: PostgresEventLogStorage, events: Sequence[EventLogEntry]) -> list[str]:
    """Store the events one by one, as a run does; the notifications they sent."""
    with connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL_NAME}")
        for event in events:
            storage.store_event(event)
        return [notify.payload for notify in listener.notifies(timeout=0.5)]


@pytest.fixture
def two_event_logs(create_test_database: Callable[[bool], str]) -> Iterator[list[tuple[str, PostgresEventLogStorage]]]:
    """dagster-postgres's event log and OVC's, each in an empty Dagster database of its own."""
    logs = []
    for storage_class in (PostgresEventLogStorage, OvcEventLogStorage):
        dsn = create_test_database(False)
        logs.append((dsn, storage_class(sqlalchemy_psycopg2_url(dsn))))
    yield logs
    for _, storage in logs:
        storage.dispose()


def test_check_evaluations_are_stored_as_dagster_postgres_stores_them(two_event_logs) -> None:
    events = _events_of_runs()
    kinds = {event.dagster_event_type for event in events}
    assert {dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED, dg.DagsterEventType.ASSET_CHECK_EVALUATION} <= kinds

    (dagster_dsn, dagster_log), (ovc_dsn, ovc_log) = two_event_logs
    dagster_notified = _store_listening(dagster_dsn, dagster_log, events)
    ovc_notified = _store_listening(ovc_dsn, ovc_log, events)

    dagster_rows, ovc_rows = _rows(dagster_dsn), _rows(ovc_dsn)
    assert len(dagster_rows["asset_check_executions"]) == 7, "two runs of 2 planned checks, 2 checks logged unplanned, 1 check of a partition"
    assert ovc_rows.keys() == dagster_rows.keys()
    for table in dagster_rows:
        assert ovc_rows[table] == dagster_rows[table], table
    assert ovc_notified == dagster_notified
    assert len(ovc_notified) == len(events)

    for check_name, status in (("positive", "SUCCEEDED"), ("small", "FAILED")):
        history = ovc_log.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey("planned"), check_name), limit=5)
        assert [record.status.value for record in history] == [status, status]
        assert all(record.event and record.event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION for record in history)
    (unplanned,) = ovc_log.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey("logged"), "sane"), limit=5)
    assert unplanned.status.value == "FAILED"


def test_an_evaluation_of_a_check_planned_twice_is_refused_as_dagster_refuses_it(two_event_logs) -> None:
    events = _events_of_runs()
    first_run = [event for event in events if event.run_id == events[0].run_id]
    planned_twice = [
        event for event in first_run if event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
    ]
    evaluation = next(event for event in first_run if event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION)

    rows = []
    for dsn, storage in two_event_logs:
        for event in planned_twice + planned_twice:
            storage.store_event(event)
        with pytest.raises(DagsterInvariantViolationError, match="Updated 2 rows"):
            storage.store_event(evaluation)
        rows.append(_rows(dsn))
    assert rows[1] == rows[0]
