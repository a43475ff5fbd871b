"""Dagster's `backfill_policy` BetaWarning and its SupersessionWarnings are filtered, nothing else."""

import warnings
from datetime import UTC, datetime

import dagster as dg

from ovc_assets.dagster_warnings import quiet_dagster_warnings
from ovc_assets.definitions import build_definitions
from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.partitions import blocks_2h_partitions


def test_only_the_backfill_policy_beta_warning_is_quiet() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_dagster_warnings()
        build_block_assets(blocks_2h_partitions(datetime(2026, 1, 4, 22, tzinfo=UTC)))  # backfill_policy: quiet
        warnings.warn("a beta API used by this module", dg.BetaWarning)
        warnings.warn("superseded, called from this module", dg.SupersessionWarning)
        warnings.warn("anything else", UserWarning)

    assert [(w.category, str(w.message)) for w in caught] == [
        (dg.BetaWarning, "a beta API used by this module"),
        (dg.SupersessionWarning, "superseded, called from this module"),
        (UserWarning, "anything else"),
    ]


def test_the_definitions_use_no_deprecated_dagster_api() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_definitions().resolve_job_def("live_ingest_job")
    ours = [w for w in caught if issubclass(w.category, DeprecationWarning) and "/ovc_assets/" in w.filename]
    assert [str(w.message) for w in ours] == []
