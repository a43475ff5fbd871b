"""The counts hand-off (ovc_run_counts) and the run manifest: code identity, redaction, hashes."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime

import psycopg
import pytest

from ovc_assets.runs.counts import (
    RunCounts,
    load_step_counts,
    record_step_counts,
    sum_counts,
    tracked_step,
)
from ovc_assets.runs.manifest import (
    SecretScrubber,
    environment_info,
    git_info,
    input_hash,
    load_manifest,
    redact,
    run_ver,
)
from ovc_assets.storage.postgres import connect

START = datetime(2026, 1, 13, 14, tzinfo=UTC)
END = datetime(2026, 1, 13, 16, tzinfo=UTC)


def test_counts_merge_by_summing_every_field() -> None:
    a = RunCounts(received_events=3, parse_ok=2, parse_fail=1, fail_by_code={"E_SEM_DIR": 1}, expected_events=None)
    a.see("min_r1", "pine_1")
    b = RunCounts(received_events=2, parse_ok=1, parse_fail=1, expected_events=4)
    b.count_failure(["E_SEM_DIR", "E_ENUM", "E_SEM_DIR"])
    b.see("min_r1")
    total = sum_counts([a, b])
    assert (total.received_events, total.parse_ok, total.parse_fail) == (5, 3, 3)
    assert total.fail_by_code == {"E_ENUM": 1, "E_SEM_DIR": 2}
    assert total.schema_versions_seen == {"min_r1": 2} and total.build_ids_seen == {"pine_1": 1}
    assert total.expected_events == 4
    assert sum_counts([RunCounts(), RunCounts()]).expected_events is None
    assert RunCounts.from_json({**total.to_json(), "from_a_newer_writer": 1}) == total


def test_a_step_upserts_its_row_and_the_first_step_records_the_manifest(conn) -> None:
    counts = RunCounts(received_events=1, parse_ok=1, insert_attempted=1, insert_success=1)
    assert record_step_counts(conn, "dag-1", "blocks", "LIVE_INGEST", counts, START, END, ["GBPUSD", "GBPUSD"])
    counts.insert_success = 0
    counts.insert_failed = 1
    assert record_step_counts(conn, "dag-1", "blocks", "LIVE_INGEST", counts, START, END, ["GBPUSD"])
    record_step_counts(conn, "dag-1", "outcomes", "LIVE_INGEST", RunCounts(outcomes_attempted=2), START, END)

    rows = load_step_counts(conn, "dag-1")
    assert [row.step_key for row in rows] == ["blocks", "outcomes"]
    assert rows[0].counts.insert_failed == 1 and rows[0].counts.insert_success == 0
    assert rows[0].symbols == ("GBPUSD",)
    manifest = load_manifest(conn, "dag-1")
    assert manifest["status"] == "STARTED" and manifest["dagster_run_id"] == "dag-1"
    assert manifest["package_version"] == run_ver().split("+")[0]


def test_recording_never_breaks_the_callers_transaction(database_url, caplog) -> None:
    with connect(database_url) as conn:
        conn.execute("CREATE TEMP TABLE mine (x int)")
        conn.execute("INSERT INTO mine VALUES (1)")
        conn.execute("ALTER TABLE ovc.ovc_run_counts RENAME TO ovc_run_counts_gone")
        with caplog.at_level(logging.WARNING):
            assert not record_step_counts(conn, "dag-2", "blocks", "LIVE_INGEST", RunCounts())
        assert "could not record counts" in caplog.text
        assert conn.execute("SELECT x FROM mine").fetchone() == (1,)
        conn.rollback()


def test_tracked_step_records_what_was_counted_when_the_step_fails(database_url, conn) -> None:
    with pytest.raises(RuntimeError, match="boom"), tracked_step(
        database_url, "dag-3", "blocks", "HIST_BACKFILL", range_start=START, range_end=END, symbols=["EURUSD"]
    ) as counts:
        counts.received_events = 7
        raise RuntimeError("boom")
    (row,) = load_step_counts(conn, "dag-3")
    assert row.counts.received_events == 7 and row.range_start == START


UNREACHABLE = "postgresql://u:Hidden42@127.0.0.1:1/x"


def test_counts_committed_with_the_steps_work_need_no_connection_of_their_own(database_url, caplog) -> None:
    # The counts' own connection would fail (and say so): the counts must come from the step's.
    with connect(database_url) as conn, caplog.at_level(logging.WARNING):
        with tracked_step(UNREACHABLE, "dag-5", "blocks", "LIVE_INGEST", range_start=START, range_end=END) as counts:
            conn.execute("CREATE TABLE public.work (x int)")
            counts.received_events = 4
            counts.commit_with(conn)
        assert "could not record counts" not in caplog.text
        (row,) = load_step_counts(conn, "dag-5")
        assert row.counts.received_events == 4 and row.range_end == END
        assert conn.execute("SELECT count(*) FROM public.work").fetchone() == (0,), "the step's work committed too"


def test_counts_changed_after_the_commit_are_recorded_again_on_their_own(database_url, conn) -> None:
    with connect(database_url) as step_conn, tracked_step(database_url, "dag-6", "blocks", "LIVE_INGEST") as counts:
        counts.received_events = 4
        counts.commit_with(step_conn)
        counts.received_events = 5
    (row,) = load_step_counts(conn, "dag-6")
    assert row.counts.received_events == 5


def test_counts_of_a_step_whose_commit_fails_are_recorded_on_their_own(database_url, conn) -> None:
    with connect(database_url) as step_conn:
        step_conn.execute("CREATE TABLE public.once (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        step_conn.commit()
        with pytest.raises(psycopg.errors.UniqueViolation), tracked_step(database_url, "dag-7", "blocks", "LIVE_INGEST") as counts:
            step_conn.execute("INSERT INTO public.once VALUES (1), (1)")  # refused only at the commit
            counts.parse_fail = 2
            counts.commit_with(step_conn)
    (row,) = load_step_counts(conn, "dag-7")
    assert row.counts.parse_fail == 2
    assert conn.execute("SELECT count(*) FROM public.once").fetchone() == (0,)


def test_tracked_step_survives_an_unreachable_database(caplog) -> None:
    with caplog.at_level(logging.WARNING), tracked_step(UNREACHABLE, "dag-4", "blocks", "LIVE_INGEST") as counts:
        counts.received_events = 1
    assert "could not record counts" in caplog.text
    assert "Hidden42" not in caplog.text


def test_redaction_by_name_and_of_passwords_in_urls_and_dsns() -> None:
    config = {
        "resources": {"ovc_database": {"config": {"database_url": "postgresql://ovc:pw123456@db:5432/ovc"}}},
        "api_token": "abc123secret",
        "OANDA_API_KEY": "k-987654",
        "dsn": "host=db password=pw123456 dbname=ovc",
        "nested": [{"Password": "x"}, "host=db password='p w' user=u"],
        "plain": "value",
    }
    redacted = redact(config)
    assert redacted["resources"]["ovc_database"]["config"]["database_url"] == "postgresql://ovc:***@db:5432/ovc"
    assert redacted["api_token"] == redacted["OANDA_API_KEY"] == redacted["dsn"] == "***"
    assert redacted["nested"][0] == {"Password": "***"}
    assert "p w" not in redacted["nested"][1]
    assert redacted["plain"] == "value"


def test_environment_info_redacts_and_the_scrubber_removes_secret_values_anywhere() -> None:
    environ = {
        "OANDA_API_TOKEN": "abc123secret",
        "OVC_DATABASE_URL": "postgresql://ovc:Sup3rS3cret@db/ovc",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
        "OVC_HOME": "/home/ovc",
        "HOME": "/root",
    }
    info = environment_info(environ)
    assert info == {
        "AWS_SECRET_ACCESS_KEY": "***",
        "OANDA_API_TOKEN": "***",
        "OVC_DATABASE_URL": "postgresql://ovc:***@db/ovc",
        "OVC_HOME": "/home/ovc",
    }
    scrubber = SecretScrubber.from_environ(environ)
    text = "token abc123secret, password Sup3rS3cret and aws-secret-value leaked"
    assert scrubber.scrub(text) == "token ***, password *** and *** leaked"


def test_input_hash_is_canonical() -> None:
    assert input_hash({"a": 1, "b": [1, 2]}) == input_hash({"b": [1, 2], "a": 1})
    assert input_hash({"a": 1}) != input_hash({"a": 2})


def test_git_info_is_known_in_the_checkout_and_unknown_outside_git(tmp_path) -> None:
    info = git_info()
    assert len(info.commit) == 40 and info.branch != "unknown"
    # A copy of the package outside any repository: "unknown", never an exception.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from ovc_assets.runs.manifest import git_info, run_ver; print(git_info(), run_ver())"
    )
    import shutil
    from pathlib import Path

    import ovc_assets

    shutil.copytree(Path(ovc_assets.__file__).parent, tmp_path / "ovc_assets",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60, check=True)
    assert "GitInfo(commit='unknown', branch='unknown', dirty=None)" in result.stdout
    assert result.stdout.strip().endswith("+unknown")
