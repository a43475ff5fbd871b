"""The run report's exact texts and boundaries: every warning as a user reads it, the JSON
artifact's layout, the canonical form the hash chain signs, and how a stored row reads back."""

from __future__ import annotations

import json

import pytest

from ovc_assets.runs.report import (
    FAIL,
    GENESIS_SHA256,
    PASS,
    WARN,
    ChainLink,
    RunReport,
    Verdict,
    exit_code_for,
)

PINNED_SHA256 = "2bfc65c5beffffb328168637d9696e506a70c2e5fc2c8b74b51fe0a96a9b0d95"


def clean(**changes) -> RunReport:
    """A consistent run of one event, changed by `changes`."""
    values = {"received_events": 1, "parse_ok": 1, "insert_attempted": 1, "insert_success": 1}
    return RunReport(run_id="r", **{**values, **changes})


def test_every_reason_at_once_is_named_in_order_with_its_values() -> None:
    report = RunReport(
        run_id="r",
        received_events=9, parse_ok=3, parse_fail=1, fail_by_code={"E_SEM_DIR": 1},
        insert_attempted=4, insert_success=1, insert_skipped=1, insert_failed=1,
        outcomes_attempted=5, outcomes_inserted=1, outcomes_skipped=2, outcomes_failed=1,
        duplicate_events=-1, blocks_missing=1, ready0_spike=True, ready0_count=4, sanity_error_count=1,
        run_failure="FAILURE", tracking_problems=["counts: timeout"], cautions=["rollback forced over run x"],
    )  # fmt: skip
    verdict = report.verdict()
    assert verdict.status == FAIL
    assert verdict.warnings == (
        "run did not succeed: FAILURE",
        "invariant broken: received_events = parse_ok + parse_fail (9 != 3 + 1)",
        "invariant broken: insert_attempted = parse_ok (4 != 3)",
        "invariant broken: insert_attempted = insert_success + insert_skipped + insert_failed (4 != 1 + 1 + 1)",
        "invariant broken: outcomes_attempted = outcomes_inserted + outcomes_skipped + outcomes_failed"
        " (5 != 1 + 2 + 1)",
        "invariant broken: counts are non-negative (negative: duplicate_events)",
        "insert_failed = 1",
        "outcomes_failed = 1",
        "parse_fail = 1 (E_SEM_DIR: 1)",
        "blocks_missing = 1",
        "ready0_count spike: 4 blocks with ready = 0",
        "sanity_error_count = 1 (PASS requires 0)",
        "tracking incomplete: counts: timeout",
        "rollback forced over run x",
    )


def test_negative_counts_are_listed_sorted_with_the_negative_error_codes_last() -> None:
    report = clean(expected_events=-3, unique_events=-1, duplicate_events=-2, fail_by_code={"E_Z": -1, "E_A": -1})
    assert report.verdict().warnings == (
        "invariant broken: counts are non-negative"
        " (negative: duplicate_events, expected_events, unique_events, fail_by_code[E_A], fail_by_code[E_Z])",
    )


def test_a_negative_error_code_count_alone_breaks_the_non_negative_invariant() -> None:
    report = clean(fail_by_code={"E_SEM_DIR": -1})
    assert report.verdict().warnings == (
        "invariant broken: counts are non-negative (negative: fail_by_code[E_SEM_DIR])",
    )


def test_parse_failures_list_their_codes_sorted_and_without_codes_the_count_alone() -> None:
    with_codes = clean(received_events=4, parse_fail=3, fail_by_code={"E_Z": 1, "E_A": 2})
    assert with_codes.verdict() == Verdict(WARN, ("parse_fail = 3 (E_A: 2, E_Z: 1)",))
    without_codes = clean(received_events=2, parse_fail=1)
    assert without_codes.verdict() == Verdict(WARN, ("parse_fail = 1",))


def test_zero_counts_and_unknown_figures_are_a_pass_with_no_warning() -> None:
    report = clean(blocks_missing=0, sanity_error_count=0, outcomes_attempted=0, outcomes_inserted=0,
                   outcomes_skipped=0, outcomes_failed=0, ready0_count=0)  # fmt: skip
    assert report.verdict() == Verdict(PASS, ())
    assert clean().verdict() == Verdict(PASS, ())


@pytest.mark.parametrize(
    ("outcomes", "broken"),
    [
        ({"outcomes_attempted": 2}, True),  # the counts that are not given are 0
        ({"outcomes_inserted": 0}, False),
        ({"outcomes_attempted": 2, "outcomes_inserted": 2}, False),
        ({"outcomes_attempted": 2, "outcomes_skipped": 2}, False),
    ],
)
def test_outcome_counts_given_in_part_count_the_missing_ones_as_zero(outcomes, broken) -> None:
    warnings = clean(**outcomes).verdict().warnings
    assert warnings == (
        ("invariant broken: outcomes_attempted = outcomes_inserted + outcomes_skipped + outcomes_failed"
         " (2 != 0 + 0 + 0)",) if broken else ()
    )  # fmt: skip


def test_finalized_stores_the_verdict_and_its_warnings_as_a_list() -> None:
    report = clean(blocks_missing=2).finalized()
    assert (report.run_status, report.warnings) == (WARN, ["blocks_missing = 2"])


def test_the_json_artifact_is_indented_by_two_keeps_non_ascii_and_ends_with_a_newline() -> None:
    text = clean(notes="für Zürich").to_json_text()
    assert text.startswith('{\n  "run_id": "r",\n  "run_type": null,\n')
    assert '\n  "notes": "für Zürich"\n}\n' in text
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text) == clean(notes="für Zürich").to_json()


def test_the_json_artifact_carries_the_chain_link_only_once_linked_and_warnings_never_null() -> None:
    report = clean(warnings=None)
    assert "chain" not in report.to_json()
    assert report.to_json()["warnings"] == []
    report.chained(1, GENESIS_SHA256)
    assert report.to_json()["chain"] == {
        "seq": 1, "prev_sha256": GENESIS_SHA256, "report_sha256": report.sha256_at(1, GENESIS_SHA256),
    }  # fmt: skip


def test_the_canonical_form_is_compact_sorted_utf8_json() -> None:
    canonical = clean(notes="é").canonical_json(7, "ab")
    assert canonical.startswith(b'{"prev_sha256":"ab","report":{"blocks_missing":null,"build_ids_seen":{},')
    assert b'"notes":"\xc3\xa9"' in canonical
    assert canonical.endswith(b'},"seq":7}')


def test_the_chain_hash_of_a_fixed_report_is_pinned() -> None:
    # A literal: any change to the canonical form changes every hash of an existing chain.
    assert clean(notes="é").sha256_at(1, GENESIS_SHA256) == PINNED_SHA256
    assert clean(notes="é").sha256_at(2, GENESIS_SHA256) != PINNED_SHA256


def test_a_row_with_nulls_reads_back_as_the_defaults() -> None:
    row = dict.fromkeys(
        ("fail_by_code", "schema_versions_seen", "build_ids_seen", "warnings", "notes", "received_events",
         "unique_events", "duplicate_events", "parse_ok", "parse_fail", "insert_attempted", "insert_success",
         "insert_skipped", "insert_failed", "raw_events_written"),
    )  # fmt: skip
    assert RunReport.from_row({"run_id": "r", **row, "not_a_column": 1}) == RunReport(run_id="r")


def test_a_row_keeps_its_values_and_drops_what_is_not_a_column() -> None:
    report = clean(fail_by_code={"E_A": 1}, warnings=["w"], notes="n", raw_events_written=3, ready0_spike=True)
    row = {**report.to_row(), "ready0_spike": True, "extra": 1}
    read_back = RunReport.from_row(row)
    assert read_back.to_row() == report.to_row()
    assert read_back.ready0_spike is False  # a verdict input, not a column


def test_a_chain_link_reads_back_from_json_text_values() -> None:
    link = ChainLink.from_json({"seq": "3", "prev_sha256": "aa", "report_sha256": "bb"})
    assert link == ChainLink(seq=3, prev_sha256="aa", report_sha256="bb")
    assert ChainLink.from_json(link.to_json()) == link


@pytest.mark.parametrize(("status", "code"), [(PASS, 0), (WARN, 0), (FAIL, 1), (None, 1), ("UNKNOWN", 1)])
def test_exit_codes(status, code) -> None:
    assert exit_code_for(status) == code


def test_an_error_code_counted_zero_times_is_not_negative() -> None:
    assert clean(fail_by_code={"E_SEM_DIR": 0}).verdict() == Verdict(PASS, ())
    assert clean(duplicate_events=-1, fail_by_code={"E_SEM_DIR": 0}).verdict().warnings == (
        "invariant broken: counts are non-negative (negative: duplicate_events)",
    )


def test_outcomes_without_an_attempted_count_are_shown_as_zero_attempted() -> None:
    assert clean(outcomes_inserted=2).verdict().warnings == (
        "invariant broken: outcomes_attempted = outcomes_inserted + outcomes_skipped + outcomes_failed"
        " (0 != 2 + 0 + 0)",
    )
