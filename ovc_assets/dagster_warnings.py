"""Dagster's API-stage warnings that reach users of this project without being theirs to act on.

`quiet_dagster_warnings` silences exactly these, by category, module and message, in every
`ovc` command and in the code location; every other warning still shows.
"""

import warnings

import dagster as dg

# (category, message pattern, module pattern of where the warning points)
QUIETED_WARNINGS = (
    # `backfill_policy=BackfillPolicy.single_run()` on the 2H assets: beta in 1.13, relied on by
    # every range run; Dagster's decorator machinery is where the warning points.
    (dg.BetaWarning, r"Parameter `backfill_policy` of function `asset`", r"dagster\._core\.decorator_utils"),
    # Dagster's own internals calling APIs Dagster has superseded (not code of this project).
    (dg.SupersessionWarning, r".*", r"dagster\."),
)


def quiet_dagster_warnings() -> None:
    """Install the filters (idempotent: `warnings.filterwarnings` replaces an equal filter)."""
    for category, message, module in QUIETED_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
