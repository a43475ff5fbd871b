"""`ovc_outcomes` materialised through Dagster on a real database: equal to the per-row loop,
lineage, idempotent reruns, its checks on corrupted rows, its run report and rollback."""

from __future__ import annotations

import math
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from ovc_assets.calendar import Block
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.outcomes.assets import LOOKAHEAD_BLOCKS, OVC_OUTCOMES, build_outcome_assets
from ovc_assets.defs.outcomes.checks import OUTCOME_VALUES_CONSISTENT, OUTCOMES_MISSING, evaluate_checks
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.pipeline.outcome_runs import compute_range
from ovc_assets.pipeline.outcomes import NAMED_WINDOWS, OUTCOME_VER, OutcomeWindow, parse_window
from ovc_assets.runs.builder import report_dagster_run
from ovc_assets.runs.counts import RunCounts
from ovc_assets.runs.report import PASS
from ovc_assets.runs.rollback import rollback_run
from ovc_assets.runs.tags import RunType, ovc_run_tags
from ovc_assets.storage.outcomes import outcomes_table_checksum
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.outcomes.outcome_series import FIRST_DAY, GAP_BLOCKS, SYMBOL, reference_outcomes

BLOCKS_2H = blocks_2h_partitions(Block(FIRST_DAY, "A").start_utc)
(OUTCOMES_ASSET,) = build_outcome_assets(BLOCKS_2H)
FIRST = Block(date(2025, 3, 6), "A")  # Thursday before the March DST change
LAST = Block(date(2025, 3, 11), "L")  # past the gap on Tuesday
RANGE_START, RANGE_END = FIRST.start_utc, LAST.end_utc
RANGE_TAGS = {
    "dagster/asset_partition_range_start": partition_key_for_block(FIRST),
    "dagster/asset_partition_range_end": partition_key_for_block(LAST),
    **ovc_run_tags(RunType.OUTCOME_COMPUTE, input_source="ovc_blocks_v01"),
}
STORED_SQL = """
SELECT bid, window_type, window_end, window_status, window_complete, blocks_in_window, ref_price, mfe_up,
       mfe_down, close_pos, outcome_dir, bars_to_mfe_up, bars_to_mfe_down, hit_target, hit_invalidation,
       first_hit, outcome_ver, run_id
FROM ovc.ovc_outcomes_v01 ORDER BY bid, window_type
"""


def _materialize(resources, instance, tags=RANGE_TAGS) -> dg.ExecuteInProcessResult:
    return dg.materialize([OUTCOMES_ASSET], resources=resources, instance=instance, selection=[OVC_OUTCOMES], tags=tags)


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    return {key: value.value for key, value in result.asset_materializations_for_node("ovc_outcomes")[0].metadata.items()}


def _stored(dsn: str) -> dict[tuple[str, str], dict]:
    with connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(STORED_SQL)
        names = [column.name for column in cursor.description]
        return {(row[0], row[1]): dict(zip(names, row)) for row in cursor.fetchall()}


def test_stored_outcomes_equal_the_per_row_loop_for_every_window(stored_series, resources, instance, database_url) -> None:
    result = _materialize(resources, instance)
    assert result.success
    stored = _stored(database_url)
    for name in NAMED_WINDOWS:
        expected, _ = reference_outcomes(stored_series, parse_window(name).blocks, RANGE_START, RANGE_END)
        assert {bid for bid, window in stored if window == name} == set(expected)
        for bid, want in expected.items():
            got = stored[(bid, name)]
            for field, value in want.items():
                if isinstance(value, float):
                    assert math.isclose(got[field], value, abs_tol=1e-12), (bid, name, field)
                else:
                    assert got[field] == value, (bid, name, field)
            assert got["window_complete"] == (want["window_status"] == "COMPLETE")
            assert (got["outcome_ver"], got["run_id"]) == (OUTCOME_VER, result.run_id)
    assert stored[(GAP_BLOCKS[0].previous().block_id(SYMBOL), "NEXT_4H")]["window_status"] == "GAP"

    metadata = _metadata(result)
    assert metadata["outcomes_attempted"] == len(stored) == metadata["outcomes_inserted"]
    assert metadata["outcomes_pending"] == 0 and metadata["outcomes_gap"] > 0
    assert "| NEXT_4H | play | FADE |" in metadata["research_summary"]
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    assert checks[OUTCOMES_MISSING].passed and checks[OUTCOME_VALUES_CONSISTENT].passed


def test_rerunning_the_same_version_changes_no_row(stored_series, resources, instance, database_url) -> None:
    first = _materialize(resources, instance)
    with connect(database_url) as conn:
        before = outcomes_table_checksum(conn)
    again = _materialize(resources, instance)
    with connect(database_url) as conn:
        assert outcomes_table_checksum(conn) == before
    metadata = _metadata(again)
    assert metadata["outcomes_inserted"] == 0
    assert metadata["outcomes_skipped"] == metadata["outcomes_attempted"] == _metadata(first)["outcomes_attempted"]


def test_windows_still_open_are_not_written_and_the_partition_is_still_materialised(
    stored_series, resources, instance, database_url
) -> None:
    last = stored_series[-1].block
    tags = {
        **RANGE_TAGS,
        "dagster/asset_partition_range_start": partition_key_for_block(last.previous()),
        "dagster/asset_partition_range_end": partition_key_for_block(last),
    }
    result = _materialize(resources, instance, tags)
    assert result.success
    assert {m.partition for m in result.asset_materializations_for_node("ovc_outcomes")} == {
        partition_key_for_block(last.previous()), partition_key_for_block(last)
    }
    metadata = _metadata(result)
    # No data after the last block: of the 2 x 3 windows only NEXT_2H of the block before it is closed.
    assert metadata["outcomes_pending"] == 2 * len(NAMED_WINDOWS) - 1
    assert metadata["outcomes_attempted"] == 1
    assert set(_stored(database_url)) == {(last.previous().block_id(SYMBOL), "NEXT_2H")}


@pytest.mark.parametrize(
    ("corruption", "broken_check"),
    [
        ("UPDATE ovc.ovc_outcomes_v01 SET mfe_up = 'NaN' WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET mfe_down = 'Infinity' WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET mfe_up = -0.0001 WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET close_pos = 1.5 WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET close_pos = 'NaN' WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET bars_to_mfe_up = 7 WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET bars_to_mfe_down = 0 WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("UPDATE ovc.ovc_outcomes_v01 SET mfe_down = NULL WHERE bid = %(bid)s", OUTCOME_VALUES_CONSISTENT),
        ("DELETE FROM ovc.ovc_outcomes_v01 WHERE bid = %(bid)s", OUTCOMES_MISSING),
        ("UPDATE ovc.ovc_outcomes_v01 SET window_status = 'GAP' WHERE bid = %(bid)s", OUTCOMES_MISSING),
    ],
)
def test_checks_fail_on_corrupted_rows(stored_series, database_url, corruption, broken_check) -> None:
    windows = [OutcomeWindow(6)]
    bid = FIRST.next().block_id(SYMBOL)
    with connect(database_url) as conn:
        computed = compute_range(conn, [SYMBOL], RANGE_START, RANGE_END, windows, "run-1", RunCounts())
        conn.commit()
        healthy = {result.check_name: result for result in evaluate_checks(conn, computed)}
        assert all(result.passed for result in healthy.values())
        conn.execute(corruption, {"bid": bid})
        results = {result.check_name: result for result in evaluate_checks(conn, computed)}
    broken = results[broken_check]
    assert not broken.passed and broken.severity == dg.AssetCheckSeverity.ERROR
    count_key = "inconsistent_rows" if broken_check == OUTCOME_VALUES_CONSISTENT else "outcomes_missing"
    assert broken.metadata[count_key].value == 1
    assert bid in str(broken.metadata["examples"].value) or FIRST.next().start_utc.isoformat() in str(
        broken.metadata["examples"].value
    )
    assert all(result.passed for name, result in results.items() if name != broken_check)


def test_lineage_maps_a_partition_to_its_block_and_the_next_open_blocks() -> None:
    (dep,) = [dep for dep in OUTCOMES_ASSET.specs_by_key[OVC_OUTCOMES].deps if dep.asset_key == OVC_BLOCKS]
    assert isinstance(dep.partition_mapping, dg.TimeWindowPartitionMapping)
    friday_last = Block(date(2025, 3, 6), "L")
    subset = BLOCKS_2H.subset_with_partition_keys([partition_key_for_block(friday_last)])
    upstream = dep.partition_mapping.get_upstream_mapped_partitions_result_for_partitions(
        subset, BLOCKS_2H, BLOCKS_2H
    ).partitions_subset.get_partition_keys()
    sunday = [Block(date(2025, 3, 9), letter) for letter in "ABCDEF"[:LOOKAHEAD_BLOCKS]]
    assert list(upstream) == [partition_key_for_block(b) for b in [friday_last, *sunday]]

    from ovc_assets.definitions import defs

    assert OVC_BLOCKS in defs.resolve_asset_graph().get(OVC_OUTCOMES).parent_keys


def test_a_real_run_gets_a_pass_outcome_compute_report(stored_series, resources, instance, database_url, ovc_env) -> None:
    before_gap = GAP_BLOCKS[0].previous().previous()  # blocks_missing of the range would make it WARN
    tags = {**RANGE_TAGS, "dagster/asset_partition_range_end": partition_key_for_block(before_gap)}
    result = _materialize(resources, instance, tags=tags)
    with connect(database_url, autocommit=True) as conn:
        report = report_dagster_run(instance, result.run_id, conn).report
    metadata = _metadata(result)
    assert report.run_type == RunType.OUTCOME_COMPUTE and report.run_status == PASS, report.warnings
    assert report.outcomes_attempted == metadata["outcomes_attempted"] > 0
    assert report.outcomes_attempted == report.outcomes_inserted + report.outcomes_skipped + report.outcomes_failed
    assert report.outcomes_failed == 0
    assert report.window_type == "NEXT_12H,NEXT_2H,NEXT_4H"
    assert report.outcome_ver == OUTCOME_VER and report.profile == "OUTCOME"


def test_rollback_restores_the_outcomes_before_a_run(stored_series, resources, instance, database_url, ovc_env) -> None:
    first = _materialize(resources, instance)
    with connect(database_url) as conn:
        after_first = outcomes_table_checksum(conn)
        conn.execute("UPDATE ovc.ovc_blocks_v01 SET h = h + 0.01 WHERE block_start >= %s AND block_start < %s",
                     (RANGE_START, pd.Timestamp(RANGE_START) + pd.Timedelta(days=2)))  # fmt: skip
    second = _materialize(resources, instance)
    assert 0 < _metadata(second)["outcomes_inserted"] < _metadata(second)["outcomes_attempted"]
    with connect(database_url, autocommit=True) as conn:
        report_dagster_run(instance, first.run_id, conn)
        report_dagster_run(instance, second.run_id, conn)
        assert outcomes_table_checksum(conn) != after_first
        assert rollback_run(conn, second.run_id).applied
        assert outcomes_table_checksum(conn) == after_first
        assert rollback_run(conn, first.run_id).applied
        assert conn.execute("SELECT count(*) FROM ovc.ovc_outcomes_v01").fetchone()[0] == 0


def test_a_failed_merge_rolls_back_every_window_and_the_report_counts_them_failed(
    stored_series, resources, instance, database_url, ovc_env
) -> None:
    with connect(database_url) as conn:
        conn.execute(
            "CREATE FUNCTION ovc.fail_long_windows() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN IF NEW.window_type = 'NEXT_12H' THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER fail_long_windows BEFORE INSERT ON ovc.ovc_outcomes_v01 "
            "FOR EACH ROW EXECUTE FUNCTION ovc.fail_long_windows()"
        )
    result = dg.materialize(
        [OUTCOMES_ASSET], resources=resources, instance=instance, selection=[OVC_OUTCOMES], tags=RANGE_TAGS, raise_on_error=False
    )
    assert not result.success
    with connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.ovc_outcomes_v01").fetchone()[0] == 0
        report = report_dagster_run(instance, result.run_id, conn).report
    assert report.run_status == "FAIL"
    assert report.outcomes_failed == report.outcomes_attempted > 0
    assert report.outcomes_inserted == report.outcomes_skipped == 0
