"""The code location with the steps of every job executed by Celery workers (dagster-celery).

`dagster dev -m ovc_assets.definitions_celery` (or the same module in `workspace.yaml`) serves
the same assets, jobs, schedules and sensors as `ovc_assets.definitions`, with the Celery
executor as the default executor. Runs take the broker from their run config
(`execution: config: broker: ..., backend: ...`); the workers, started with
`dagster-celery worker start -y celery.yaml`, need the same package, the same environment
(`OVC_DATABASE_URL`, ...) and a Dagster instance with shared (PostgreSQL) storage.
"""

import dagster as dg
from dagster_celery import celery_executor

from ovc_assets.definitions import build_definitions


def build_celery_definitions() -> dg.Definitions:
    """`ovc_assets.definitions` with the Celery executor."""
    return build_definitions(executor=celery_executor)


defs = build_celery_definitions()


def live_ingest_job() -> dg.JobDefinition:
    """`live_ingest_job` on Celery, for `dg.execute_job(dg.reconstructable(live_ingest_job), ...)`
    from Python (workers rebuild the job from this function, with the partitions of their
    environment's `OVC_PARTITIONS_START`)."""
    return build_celery_definitions().resolve_job_def("live_ingest_job")
