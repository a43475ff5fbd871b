"""Run tracking: one immutable run report per run (seed 002), run manifests (seed 003),
row lineage and rollback.

What an asset of an OVC run does (the only contract with the rest of the package):

1. The run carries the tag `ovc/run_type` (`tags.ovc_run_tags(...)`).
2. Each step counts what it did in a `RunCounts` and records it at its end, also on
   failure: `with tracked_step(dsn, run_id, step_key, run_type, range_start=..,
   range_end=.., symbols=..) as counts: ...`, or `record_step_counts(conn, ...)`.
3. Every row it writes to the block, detail and outcome tables carries its run id in
   `run_id`, and it updates only rows whose values change (IS DISTINCT FROM guard).

The report sensors (`ovc_assets.defs.run_reports`) do the rest when the run ends.
"""

from ovc_assets.runs.counts import RunCounts, record_step_counts, tracked_step
from ovc_assets.runs.quality import DataQuality, data_quality
from ovc_assets.runs.report import RunReport, exit_code_for
from ovc_assets.runs.tags import RUN_TYPE_TAG, RunType, ovc_run_tags

__all__ = [
    "RUN_TYPE_TAG",
    "DataQuality",
    "RunCounts",
    "RunReport",
    "RunType",
    "data_quality",
    "exit_code_for",
    "ovc_run_tags",
    "record_step_counts",
    "tracked_step",
]
