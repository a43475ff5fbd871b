"""The run coordinator of the OVC Dagster instance (named in `dagster.yaml`).

Dagster's `QueuedRunCoordinator` applies `tag_concurrency_limits` to the tags a queued run
carries. A run launched from an asset page, by `dagster asset materialize` or by a backfill of
assets has no `ovc/run_type` tag, so the limit on that tag would not hold it back; this
coordinator gives every OVC run its inferred type (`ovc_run_type_of`, as the report sensors do)
before it is queued, so two runs that write OVC tables are never in progress at once, however
they were launched.
"""

from __future__ import annotations

import dagster as dg

from ovc_assets.runs.dagster_run_type import ovc_run_type_of


class OvcRunCoordinator(dg.QueuedRunCoordinator):
    def submit_run(self, context: dg.SubmitRunContext) -> dg.DagsterRun:
        ovc_run_type_of(self._instance, context.dagster_run)
        return super().submit_run(context)
