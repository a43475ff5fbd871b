"""Dagster's switches for the bookkeeping of range runs, which every `ovc` command sets; this
module imports nothing of Dagster, so a command that needs no Dagster (`ovc serve`) pays nothing."""

import os

# Dagster's switches for the bookkeeping of range runs (a year of history is ~3,000 2H
# partitions): the `ovc` command sets them unless already set, so its runs and the webserver and
# daemon of `ovc dev` inherit them; a webserver or daemon started otherwise needs them exported.
DAGSTER_ENV_DEFAULTS = {
    # One ASSET_MATERIALIZATION_PLANNED event per asset and range run instead of one per
    # partition. Trade-off: Dagster then does not mark a failed range run's partitions as
    # failed; its run report (verdict FAIL, with the range) records the failure instead.
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    # Store a range run's per-partition materialisations in batches of up to 1,000 events.
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
}


def apply_dagster_env_defaults() -> None:
    """Set `DAGSTER_ENV_DEFAULTS` in this process (and so its children) where not set already."""
    for name, value in DAGSTER_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
