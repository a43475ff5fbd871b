"""The frozen verdict rules, one property test per branch: each branch has its own generator,
which builds a report that must land in that branch (consistent counts with `insert_failed > 0`
included), so every branch is exercised in every run, not when a random seed happens to
reach it. The expected verdict and reasons come from how the report was built, not from a
second copy of the rules."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.runs.report import (
    FAIL,
    INV_ATTEMPTED_PARSED,
    INV_ATTEMPTED_SPLIT,
    INV_NON_NEGATIVE,
    INV_OUTCOMES_SPLIT,
    INV_RECEIVED,
    PASS,
    WARN,
    RunReport,
    exit_code_for,
)

positive = st.integers(min_value=1, max_value=50)
count = st.integers(min_value=0, max_value=50)


@st.composite
def consistent(draw, *, parse_fail=st.just(0), insert_failed=st.just(0), outcomes_failed=st.just(0)) -> RunReport:
    """A report whose invariants all hold and that has no WARN reason unless the caller's
    strategies give one (parse_fail, insert_failed, outcomes_failed)."""
    success, skipped, failed = draw(count), draw(count), draw(insert_failed)
    parsed, rejected = success + skipped + failed, draw(parse_fail)
    with_outcomes = draw(st.booleans())
    outcomes_inserted, outcomes_skipped, outcomes_failed_count = draw(count), draw(count), draw(outcomes_failed)
    return RunReport(
        run_id="r",
        received_events=parsed + rejected,
        parse_ok=parsed,
        parse_fail=rejected,
        fail_by_code={"E_SEM_DIR": rejected} if rejected else {},
        insert_attempted=parsed,
        insert_success=success,
        insert_skipped=skipped,
        insert_failed=failed,
        blocks_missing=draw(st.sampled_from([None, 0])),
        ready0_count=draw(st.none() | count),
        sanity_error_count=draw(st.sampled_from([None, 0])),
        outcomes_attempted=outcomes_inserted + outcomes_skipped + outcomes_failed_count if with_outcomes else None,
        outcomes_inserted=outcomes_inserted if with_outcomes else None,
        outcomes_skipped=outcomes_skipped if with_outcomes else None,
        outcomes_failed=outcomes_failed_count if with_outcomes else None,
        duplicate_events=draw(count),
    )


@st.composite
def with_cautions(draw, report: RunReport) -> tuple[RunReport, list[str]]:
    """`report` with any mix of further WARN reasons (none taken away), and the warning texts
    every WARN reason of the result must produce."""
    missing, sanity = draw(st.none() | positive), draw(st.none() | positive)
    changed = replace(
        report,
        blocks_missing=missing or report.blocks_missing,
        sanity_error_count=sanity or report.sanity_error_count,
        ready0_spike=report.ready0_spike or draw(st.booleans()),
    )
    texts = [f"blocks_missing = {changed.blocks_missing}"] if changed.blocks_missing else []
    texts += ["ready0_count spike"] if changed.ready0_spike else []
    texts += [f"sanity_error_count = {changed.sanity_error_count}"] if changed.sanity_error_count else []
    texts += [f"parse_fail = {changed.parse_fail}"] if changed.parse_fail else []
    return changed, texts


def _break(report: RunReport, invariant: str, by: int) -> RunReport:
    """`report` with exactly `invariant` broken (by `by`), every other invariant still holding."""
    if invariant == INV_RECEIVED:
        return replace(report, received_events=report.received_events + by)
    if invariant == INV_ATTEMPTED_PARSED:  # parse_ok moves with received_events, attempted does not
        return replace(report, parse_ok=report.parse_ok + by, received_events=report.received_events + by)
    if invariant == INV_ATTEMPTED_SPLIT:
        return replace(report, insert_success=report.insert_success + by)
    if invariant == INV_OUTCOMES_SPLIT:
        return replace(report, outcomes_attempted=(report.outcomes_attempted or 0) + by,
                       outcomes_inserted=report.outcomes_inserted or 0, outcomes_skipped=report.outcomes_skipped or 0,
                       outcomes_failed=report.outcomes_failed or 0)
    return replace(report, duplicate_events=-by)


@st.composite
def pass_branch(draw):
    return draw(consistent()), PASS, []


@st.composite
def warn_branch(draw, reason: str):
    report = draw(consistent(parse_fail=positive if reason == "parse_fail" else st.just(0)))
    if reason == "blocks_missing":
        report = replace(report, blocks_missing=draw(positive))
    elif reason == "ready0_spike":
        report = replace(report, ready0_spike=True)
    elif reason == "sanity_error_count":
        report = replace(report, sanity_error_count=draw(positive))
    report, texts = draw(with_cautions(report))
    return report, WARN, texts


@st.composite
def insert_failed_branch(draw):
    """Consistent counts with failed inserts: no invariant is broken, yet the run is a FAIL."""
    report, texts = draw(with_cautions(draw(consistent(parse_fail=count, insert_failed=positive))))
    return report, FAIL, [f"insert_failed = {report.insert_failed}", *texts]


@st.composite
def outcomes_failed_branch(draw):
    report = draw(consistent(insert_failed=count))
    failed, inserted = draw(positive), draw(count)
    report = replace(report, outcomes_attempted=failed + inserted, outcomes_inserted=inserted, outcomes_skipped=0,
                     outcomes_failed=failed)
    return report, FAIL, [f"outcomes_failed = {failed}"]


@st.composite
def broken_invariant_branch(draw, invariant: str):
    report, texts = draw(with_cautions(draw(consistent(parse_fail=count))))
    report = _break(report, invariant, draw(positive))
    return report, FAIL, [f"invariant broken: {invariant}", *texts]


@st.composite
def run_failure_branch(draw):
    report, texts = draw(with_cautions(draw(consistent(parse_fail=count))))
    report = replace(report, run_failure="Dagster run FAILURE")
    return report, FAIL, ["run did not succeed: Dagster run FAILURE", *texts]


INVARIANTS = (INV_RECEIVED, INV_ATTEMPTED_PARSED, INV_ATTEMPTED_SPLIT, INV_OUTCOMES_SPLIT, INV_NON_NEGATIVE)
BRANCHES = {
    "pass": pass_branch(),
    **{f"warn_{reason}": warn_branch(reason) for reason in ("parse_fail", "blocks_missing", "ready0_spike", "sanity_error_count")},
    "fail_insert_failed_with_consistent_counts": insert_failed_branch(),
    "fail_outcomes_failed": outcomes_failed_branch(),
    **{f"fail_invariant_{number}": broken_invariant_branch(invariant) for number, invariant in enumerate(INVARIANTS)},
    "fail_run_did_not_succeed": run_failure_branch(),
}


@pytest.mark.parametrize("branch", list(BRANCHES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_verdict_branch_gives_its_verdict_and_names_every_reason(branch, data) -> None:
    report, expected_status, reasons = data.draw(BRANCHES[branch])
    verdict = report.verdict()

    assert verdict.status == expected_status
    assert exit_code_for(verdict.status) == (1 if expected_status == FAIL else 0)
    text = "\n".join(verdict.warnings)
    for reason in reasons:
        assert reason in text
    if expected_status == PASS:
        assert verdict.warnings == ()
    if branch == "fail_insert_failed_with_consistent_counts":
        assert report.check_invariants() == [] and report.insert_failed > 0
    if branch.startswith("fail_invariant_"):
        assert report.check_invariants() == [INVARIANTS[int(branch.rsplit("_", 1)[1])]]
    finalized = report.finalized()
    assert (finalized.run_status, finalized.warnings) == (expected_status, list(verdict.warnings))
