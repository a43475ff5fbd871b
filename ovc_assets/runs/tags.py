"""The run tags that make a Dagster run an OVC run, and the run types of seed 002.

A run tagged `ovc/run_type` gets exactly one run report when it finishes (or dies). A run
launched without it (the asset page, `dagster asset materialize`, a job of the user's own)
is an OVC run all the same when it targets an asset that writes OVC tables:
`infer_run_type` names its type from those assets and the run config, and the report
sensors tag the run with it. The other tags are optional; where one is missing the report
falls back to a default derived from the run type or from the counts the run's steps recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum


class RunType(StrEnum):
    """`run_type` of seed 002, section 3."""

    LIVE_INGEST = "LIVE_INGEST"
    HIST_BACKFILL = "HIST_BACKFILL"
    OUTCOME_COMPUTE = "OUTCOME_COMPUTE"
    FULL_ENRICH = "FULL_ENRICH"


RUN_TYPES: tuple[str, ...] = tuple(member.value for member in RunType)

# The manifest's run type of `ovc runs rollback`; never a report's run_type (see rollback.py).
ROLLBACK_RUN_TYPE = "ROLLBACK"

RUN_TYPE_TAG = "ovc/run_type"
INPUT_SOURCE_TAG = "ovc/input_source"  # tv_webhook, oanda_api, dukascopy_csv, csv, ...
INPUT_RANGE_TAG = "ovc/input_range"  # free text, e.g. 2026-01-15..2026-01-16
PROFILE_TAG = "ovc/profile"  # MIN, OUTCOME, FULL
SCHEME_TAG = "ovc/scheme"  # export_contract_v0.1_min_r1, outcome_v0.1, ...
ENV_TAG = "ovc/env"  # prod, staging, local (default: $OVC_ENV, else local)
CLI_ARGS_TAG = "ovc/cli_args"  # JSON object of the command line that launched the run
DEDUP_MODE_TAG = "ovc/dedup_mode"  # inline, post-batch, none
SOURCE_TIER_TAG = "ovc/source_tier"  # LIVE_WEBHOOK, BACKFILL_API, BACKFILL_FILE, DERIVED

DEFAULT_PROFILES: Mapping[str, str] = {
    RunType.LIVE_INGEST: "MIN",
    RunType.HIST_BACKFILL: "MIN",
    RunType.OUTCOME_COMPUTE: "OUTCOME",
    RunType.FULL_ENRICH: "FULL",
}
DEFAULT_INPUT_SOURCES: Mapping[str, str] = {
    RunType.LIVE_INGEST: "tv_webhook",
    RunType.OUTCOME_COMPUTE: "ovc_blocks_v01",
}
SOURCE_TIERS: Mapping[str, str] = {
    "tv_webhook": "LIVE_WEBHOOK",
    "tv_alert_log": "REPLAY_FILE",
    "oanda_api": "BACKFILL_API",
    "dukascopy_csv": "BACKFILL_FILE",
    "csv": "BACKFILL_FILE",
    "full_export": "COLD_PATH_FILE",
    "ovc_blocks_v01": "DERIVED",
}
# The assets that write OVC tables, in the order that decides the type of a run that targets
# several of them, with the run type of a run launched without the tag.
RUN_TYPES_OF_WRITING_ASSETS: tuple[tuple[str, str], ...] = (
    ("ovc_blocks", RunType.LIVE_INGEST),
    ("ovc_block_details", RunType.FULL_ENRICH),
    ("ovc_outcomes", RunType.OUTCOME_COMPUTE),
)
# `ovc_blocks` run config sources that read provider candles (a history backfill).
PROVIDER_SOURCES = frozenset({"oanda", "csv"})

# Every writer merges with INSERT .. ON CONFLICT on the table's key: duplicates are folded
# in the same statement (seed 003's "inline" mode).
DEFAULT_DEDUP_MODE = "inline"


def ovc_run_tags(
    run_type: str,
    *,
    input_source: str | None = None,
    input_range: str | None = None,
    profile: str | None = None,
    scheme: str | None = None,
    cli_args: str | None = None,
) -> dict[str, str]:
    """The tags to put on a Dagster run (job tags, `materialize(tags=...)`, RunRequest tags)
    so that it gets a run report. `cli_args` is a JSON object as text."""
    if run_type not in RUN_TYPES:
        raise ValueError(f"run_type must be one of {', '.join(RUN_TYPES)}, got {run_type!r}")
    tags = {RUN_TYPE_TAG: str(run_type)}  # Dagster serialises tags: plain str, never the enum
    optional = {
        INPUT_SOURCE_TAG: input_source,
        INPUT_RANGE_TAG: input_range,
        PROFILE_TAG: profile,
        SCHEME_TAG: scheme,
        CLI_ARGS_TAG: cli_args,
    }
    tags.update({key: value for key, value in optional.items() if value})
    return tags


def infer_run_type(
    tags: Mapping[str, str], asset_keys: Iterable[str], run_config: Mapping[str, object] | None
) -> str | None:
    """The run type of a run: its `ovc/run_type` tag, else the type implied by the OVC-writing
    assets it targets (`ovc_blocks` with a provider `source` in its run config is a history
    backfill); None for a run that writes no OVC table (e.g. `ovc_run_reports` alone)."""
    if tags.get(RUN_TYPE_TAG):
        return tags[RUN_TYPE_TAG]
    targeted = set(asset_keys)
    for asset_key, run_type in RUN_TYPES_OF_WRITING_ASSETS:
        if asset_key not in targeted:
            continue
        if asset_key == "ovc_blocks" and _blocks_source(run_config) in PROVIDER_SOURCES:
            return RunType.HIST_BACKFILL
        return run_type
    return None


def _blocks_source(run_config: Mapping[str, object] | None) -> object:
    ops = (run_config or {}).get("ops")
    op = ops.get("ovc_blocks") if isinstance(ops, Mapping) else None
    config = op.get("config") if isinstance(op, Mapping) else None
    return config.get("source") if isinstance(config, Mapping) else None
