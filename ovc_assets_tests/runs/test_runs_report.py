"""The report itself: invariants and the frozen verdict rules (property-tested), storage,
immutability."""

from __future__ import annotations

import json

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.report import (
    FAIL,
    INV_ATTEMPTED_PARSED,
    INV_ATTEMPTED_SPLIT,
    INV_NON_NEGATIVE,
    INV_OUTCOMES_SPLIT,
    INV_RECEIVED,
    PASS,
    REPORT_COLUMNS,
    WARN,
    RunReport,
    exit_code_for,
)
from ovc_assets.runs.store import load_report, store_report

small = st.integers(min_value=0, max_value=6)
maybe_small = st.none() | small


@st.composite
def reports(draw) -> RunReport:
    """Random count vectors; often consistent, often not, so both sides of every rule occur."""
    parse_ok, parse_fail = draw(small), draw(small)
    received = draw(st.sampled_from([parse_ok + parse_fail, draw(small)]))
    success, skipped, failed = draw(small), draw(small), draw(st.sampled_from([0, 0, draw(small)]))
    attempted = draw(st.sampled_from([parse_ok, success + skipped + failed, draw(small)]))
    outcomes = draw(st.none() | st.tuples(small, small, small, small))
    return RunReport(
        run_id="r",
        received_events=received,
        parse_ok=parse_ok,
        parse_fail=parse_fail,
        fail_by_code={"E_SEM_DIR": parse_fail} if parse_fail and draw(st.booleans()) else {},
        insert_attempted=attempted,
        insert_success=success,
        insert_skipped=skipped,
        insert_failed=failed,
        blocks_missing=draw(st.sampled_from([None, 0, 0, draw(small)])),
        ready0_count=draw(maybe_small),
        sanity_error_count=draw(st.sampled_from([None, 0, 0, draw(small)])),
        outcomes_attempted=outcomes[0] if outcomes else None,
        outcomes_inserted=outcomes[1] if outcomes else None,
        outcomes_skipped=outcomes[2] if outcomes else None,
        outcomes_failed=draw(st.sampled_from([0, outcomes[3]])) if outcomes else None,
        ready0_spike=draw(st.booleans()),
        duplicate_events=draw(st.sampled_from([0, 0, -1])),
    )


def expected_broken(r: RunReport) -> list[str]:
    broken = []
    if r.received_events != r.parse_ok + r.parse_fail:
        broken.append(INV_RECEIVED)
    if r.insert_attempted != r.parse_ok:
        broken.append(INV_ATTEMPTED_PARSED)
    if r.insert_attempted != r.insert_success + r.insert_skipped + r.insert_failed:
        broken.append(INV_ATTEMPTED_SPLIT)
    if r.outcomes_attempted is not None and r.outcomes_attempted != (
        r.outcomes_inserted + r.outcomes_skipped + r.outcomes_failed
    ):
        broken.append(INV_OUTCOMES_SPLIT)
    if r.duplicate_events < 0:
        broken.append(INV_NON_NEGATIVE)
    return broken


@settings(max_examples=400, deadline=None)
@given(reports())
def test_every_broken_invariant_is_named_and_the_verdict_follows_the_frozen_rules(report: RunReport) -> None:
    broken = report.check_invariants()
    assert broken == expected_broken(report)

    verdict = report.verdict()
    fails = bool(broken) or report.insert_failed > 0 or (report.outcomes_failed or 0) > 0
    warns = (
        report.parse_fail > 0
        or (report.blocks_missing or 0) > 0
        or report.ready0_spike
        or (report.sanity_error_count or 0) > 0
    )
    assert verdict.status == (FAIL if fails else WARN if warns else PASS)
    # PASS requires insert_failed = 0 and sanity_error_count = 0 (seed 002, section 10).
    if verdict.status == PASS:
        assert report.insert_failed == 0 and not report.sanity_error_count and verdict.warnings == ()
    # Every reason is named in the warnings.
    text = "\n".join(verdict.warnings)
    for name in broken:
        assert f"invariant broken: {name}" in text
    if report.insert_failed:
        assert f"insert_failed = {report.insert_failed}" in text
    if report.parse_fail:
        assert f"parse_fail = {report.parse_fail}" in text
    if report.blocks_missing:
        assert f"blocks_missing = {report.blocks_missing}" in text
    if report.ready0_spike:
        assert "ready0_count spike" in text
    if report.sanity_error_count:
        assert f"sanity_error_count = {report.sanity_error_count}" in text
    assert exit_code_for(verdict.status) == (1 if verdict.status == FAIL else 0)


def test_sanity_errors_alone_are_a_warn_never_a_pass() -> None:
    report = RunReport(run_id="r", received_events=1, parse_ok=1, insert_attempted=1, insert_success=1,
                       sanity_error_count=2, blocks_missing=0).finalized()
    assert report.run_status == WARN
    assert report.warnings == ["sanity_error_count = 2 (PASS requires 0)"]


def test_a_run_that_did_not_succeed_is_fail_with_the_reason_even_when_counts_are_clean() -> None:
    report = RunReport(run_id="r", run_failure="step fake_ingest failed: ValueError: boom").finalized()
    assert report.run_status == FAIL
    assert report.warnings == ["run did not succeed: step fake_ingest failed: ValueError: boom"]


def test_to_row_has_exactly_the_table_columns_in_order(conn: psycopg.Connection) -> None:
    columns = [
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ovc' "
            "AND table_name = 'ovc_run_reports_v01' ORDER BY ordinal_position"
        ).fetchall()
    ]
    assert list(RunReport(run_id="r").to_row()) == columns == list(REPORT_COLUMNS)


def _report(run_id: str = "run-1") -> RunReport:
    return RunReport(
        run_id=run_id, run_type="LIVE_INGEST", received_events=3, parse_ok=2, parse_fail=1,
        fail_by_code={"E_SEM_DIR": 1}, insert_attempted=2, insert_success=2, blocks_missing=0,
        null_rate_summary={"state_tag": 0.0, "play": None},
    ).finalized()


def test_a_report_is_stored_once_with_its_json_artifact_and_a_second_is_refused(conn, ovc_home) -> None:
    stored = store_report(conn, _report(), reports_dir=ovc_home / "reports")
    assert stored.json_path == ovc_home / "reports" / "run-1.json"
    artifact = json.loads(stored.json_path.read_text())
    assert list(artifact) == [*REPORT_COLUMNS, "chain"]
    assert artifact["run_status"] == WARN and artifact["fail_by_code"] == {"E_SEM_DIR": 1}

    loaded = load_report(conn, "run-1")
    assert loaded.to_json() == artifact

    with pytest.raises(OvcError) as refused:
        store_report(conn, _report(), reports_dir=ovc_home / "reports")
    assert refused.value.code == ErrorCode.REPORT_EXISTS
    assert load_report(conn, "run-1").to_json() == artifact


def test_the_database_refuses_to_update_or_delete_a_report(conn, ovc_home) -> None:
    store_report(conn, _report(), reports_dir=ovc_home / "reports")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
        conn.execute("UPDATE ovc.ovc_run_reports_v01 SET run_status = 'PASS' WHERE run_id = 'run-1'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="immutable"):
        conn.execute("DELETE FROM ovc.ovc_run_reports_v01 WHERE run_id = 'run-1'")
    assert load_report(conn, "run-1").run_status == WARN


def test_an_unwritable_reports_folder_becomes_a_warning_not_a_lost_report(conn, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the reports folder should be")
    stored = store_report(conn, _report(), reports_dir=blocker)
    assert stored.json_path is None
    report = load_report(conn, "run-1")
    assert report.run_status == WARN
    assert any("report artifact" in warning for warning in report.warnings)


def test_with_an_s3_raw_store_the_report_is_also_uploaded_beside_the_raw_events(
    conn, ovc_home, tmp_path, monkeypatch
) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from ovc_assets.storage.raw_store import open_raw_store

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_CONFIG_FILE", str(tmp_path / "none")),
                        ("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none")), ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="ovc-raw")
        store = open_raw_store("s3://ovc-raw/prod", endpoint)

        stored = store_report(conn, _report("run-s3"), reports_dir=ovc_home / "reports", raw_store=store)
        assert stored.s3_uri == "s3://ovc-raw/prod/reports/run-s3.json"
        body = client.get_object(Bucket="ovc-raw", Key="prod/reports/run-s3.json")["Body"].read()
        assert json.loads(body) == json.loads(stored.json_path.read_text())
    finally:
        server.stop()
