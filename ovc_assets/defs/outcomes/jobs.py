"""The outcome job; its tags give every run an OUTCOME_COMPUTE run report."""

import dagster as dg

from ovc_assets.defs.outcomes.assets import OVC_OUTCOMES
from ovc_assets.pipeline.outcomes import OUTCOME_VER
from ovc_assets.runs.tags import RunType, ovc_run_tags

OUTCOME_COMPUTE_JOB = "outcome_compute_job"


def build_outcome_compute_job():
    return dg.define_asset_job(
        OUTCOME_COMPUTE_JOB,
        selection=dg.AssetSelection.assets(OVC_OUTCOMES),
        tags=ovc_run_tags(RunType.OUTCOME_COMPUTE, input_source="ovc_blocks_v01", profile="OUTCOME", scheme=OUTCOME_VER),
        description="Compute the forward outcomes of 2H blocks into ovc_outcomes_v01 (OUTCOME_COMPUTE).",
    )
