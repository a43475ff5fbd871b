"""Two runs never write OVC tables at once, however they were launched: a run of the asset page
(the implicit asset job, no `ovc/run_type` tag) is tagged when queued, so the instance's tag
limit holds the second one back until the first is no longer in progress (a kill -9'd run
included, once run monitoring or the report sweep has failed it)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.external import RemoteJob
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from ovc_assets.dagster_instance import open_dagster_instance
from ovc_assets.cli.dev import CODE_LOCATION_MODULE
from ovc_assets.definitions import defs
from ovc_assets.runs.tags import RUN_TYPE_TAG, RunType

BLOCKS = dg.AssetKey("ovc_blocks")


def _queue_asset_page_run(instance: dg.DagsterInstance, job: dg.JobDefinition, remote: RemoteJob, partition: str) -> str:
    """What the asset page's "Materialize" does: a run of the implicit asset job selecting the
    asset for one partition, untagged, submitted to the instance's run coordinator."""
    run = instance.create_run_for_job(
        job,
        asset_selection={BLOCKS},
        tags={"dagster/partition": partition},
        status=dg.DagsterRunStatus.NOT_STARTED,
        remote_job_origin=remote.get_remote_origin(),
        job_code_origin=remote.get_python_origin(),
    )
    instance.submit_run(run.run_id, workspace=None)
    return run.run_id


def _dequeued_now(instance: dg.DagsterInstance) -> set[str]:
    """The runs the daemon's queue would launch at this moment (its own selection logic)."""
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    return {run.run_id for run in daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)}


def test_runs_from_the_asset_page_wait_for_each_other_also_after_a_killed_run(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("OVC_DAGSTER_PG_URL", "")  # set by open_dagster_instance; restored after the test
    job = defs.resolve_implicit_job_def_def_for_assets([BLOCKS])
    instance = open_dagster_instance(database_url)
    origin = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name=CODE_LOCATION_MODULE))
    try:
        with origin.create_location(instance) as location:
            remote = location.get_repository("__repository__").get_full_job(job.name)
        first = _queue_asset_page_run(instance, job, remote, "2026-01-13-17:00")
        second = _queue_asset_page_run(instance, job, remote, "2026-01-13-19:00")
        for run_id in (first, second):
            run = instance.get_run_by_id(run_id)
            assert run.status == dg.DagsterRunStatus.QUEUED
            assert run.tags[RUN_TYPE_TAG] == RunType.LIVE_INGEST

        assert _dequeued_now(instance) == {first}  # both queued: one at a time
        started = dg.DagsterEvent(event_type_value=dg.DagsterEventType.RUN_START.value, job_name=job.name)
        instance.report_dagster_event(started, run_id=first)
        assert instance.get_run_by_id(first).status == dg.DagsterRunStatus.STARTED
        assert _dequeued_now(instance) == set()  # the first in progress: the second waits

        # The first run's process was killed (-9): it stays STARTED until run monitoring or the
        # report sweep (tested in runs/test_runs_crash.py) marks it failed, which frees the queue.
        instance.report_run_failed(instance.get_run_by_id(first))
        assert _dequeued_now(instance) == {second}
    finally:
        instance.dispose()
