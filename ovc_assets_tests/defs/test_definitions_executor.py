"""Every job of the code location runs its steps in the run's own process (one Python start-up per
run, not one per step); the Celery code location keeps the Celery executor."""

from __future__ import annotations

import dagster as dg

from ovc_assets import definitions_celery
from ovc_assets.definitions import defs


def test_every_job_runs_its_steps_in_the_runs_process() -> None:
    jobs = [*defs.resolve_all_job_defs(), defs.resolve_implicit_global_asset_job_def()]
    assert {job.name: job.executor_def.name for job in jobs} == {job.name: dg.in_process_executor.name for job in jobs}
    assert definitions_celery.live_ingest_job().executor_def.name == "celery"
