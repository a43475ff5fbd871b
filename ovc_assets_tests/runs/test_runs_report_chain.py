"""The run-report hash chain: built on every store, verified in the table and the files,
never forked by concurrent writers, and `ovc report verify` naming each break."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from ovc_assets.cli.runs import report_app
from ovc_assets.project_files import project_dir
from ovc_assets.runs.chain import verify_report_chain
from ovc_assets.runs.report import GENESIS_SHA256, RunReport
from ovc_assets.runs.store import load_report, store_report
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import connect

RUN_IDS = ("run-1", "run-2", "run-3")


def _report(run_id: str, started_at_ms: int = 1_768_000_000_000) -> RunReport:
    return RunReport(
        run_id=run_id, run_type="LIVE_INGEST", started_at_ms=started_at_ms, received_events=3, parse_ok=2,
        parse_fail=1, fail_by_code={"E_SEM_DIR": 1}, insert_attempted=2, insert_success=2, blocks_missing=0,
        null_rate_summary={"state_tag": 0.1, "play": None}, notes="naïve ✓",
    ).finalized()


@pytest.fixture
def reports_dir(ovc_home: Path) -> Path:
    return ovc_home / "reports"


@pytest.fixture
def three_reports(conn, reports_dir) -> None:
    for offset, run_id in enumerate(RUN_IDS):
        store_report(conn, _report(run_id, 1_768_000_000_000 + offset), reports_dir=reports_dir)


def _disable_immutability(conn: psycopg.Connection) -> None:
    """What an owner (or a superuser) can do that the writer cannot."""
    conn.execute("ALTER TABLE ovc.ovc_run_reports_v01 DISABLE TRIGGER USER")
    conn.execute("ALTER TABLE ovc.ovc_run_report_chain DISABLE TRIGGER USER")


def _problems(conn, reports_dir: Path | None = None) -> list[tuple[str | None, str]]:
    return [(b.run_id, b.problem) for b in verify_report_chain(conn, reports_dir).breaks]


def test_each_report_links_to_its_predecessor_in_the_table_and_in_its_file(conn, reports_dir, three_reports) -> None:
    links = [load_report(conn, run_id).chain for run_id in RUN_IDS]
    assert [link.seq for link in links] == [1, 2, 3]
    assert [link.prev_sha256 for link in links] == [GENESIS_SHA256, links[0].report_sha256, links[1].report_sha256]
    assert len({link.report_sha256 for link in links}) == 3
    for run_id, link in zip(RUN_IDS, links, strict=True):
        assert json.loads((reports_dir / f"{run_id}.json").read_text())["chain"] == link.to_json()
    result = verify_report_chain(conn, reports_dir)
    assert result.ok, result.breaks
    assert (result.links, result.files_checked, result.head_sha256) == (3, 3, links[2].report_sha256)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        pytest.param(
            "UPDATE ovc.ovc_run_reports_v01 SET run_status = 'PASS', warnings = '[]' WHERE run_id = 'run-2'",
            [("run-2", "report edited after it was written (hash mismatch)")],
            id="edited",
        ),
        pytest.param(
            "DELETE FROM ovc.ovc_run_reports_v01 WHERE run_id = 'run-2'",
            [("run-2", "report deleted from ovc_run_reports_v01")],
            id="report-deleted",
        ),
        pytest.param(
            "DELETE FROM ovc.ovc_run_report_chain WHERE seq = 2",
            [("run-3", "links 2..2 are missing (deleted)"), ("run-3", "does not follow"),
             ("run-2", "report not in the chain: forged, or inserted outside ovc")],
            id="link-deleted",
        ),
        pytest.param(
            "UPDATE ovc.ovc_run_report_chain SET seq = 100 WHERE seq = 1;"
            "UPDATE ovc.ovc_run_report_chain SET seq = 1 WHERE seq = 2;"
            "UPDATE ovc.ovc_run_report_chain SET seq = 2 WHERE seq = 100",
            [("run-2", "does not follow"), ("run-2", "report edited"), ("run-1", "does not follow"),
             ("run-1", "report edited"), ("run-3", "does not follow")],
            id="re-ordered",
        ),
        pytest.param(
            "INSERT INTO ovc.ovc_run_reports_v01 (run_id, run_type, run_status) VALUES ('forged', 'LIVE_INGEST', 'PASS')",
            [("forged", "report not in the chain: forged, or inserted outside ovc")],
            id="forged",
        ),
    ],
)
def test_a_tampered_table_is_a_named_break(conn, three_reports, tamper: str, expected) -> None:
    assert _problems(conn) == []
    _disable_immutability(conn)
    conn.execute(tamper)
    found = _problems(conn)
    assert len(found) == len(expected), found
    for (run_id, problem), (expected_run, expected_problem) in zip(found, expected, strict=True):
        assert run_id == expected_run and problem.startswith(expected_problem), found


def _edit_file(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_tampered_file_is_a_named_break(conn, reports_dir, three_reports) -> None:
    _edit_file(reports_dir / "run-1.json", run_status="PASS")
    link_3 = json.loads((reports_dir / "run-3.json").read_text())["chain"]
    forged = _report("run-2").chained(link_3["seq"], link_3["prev_sha256"])  # a consistent file of its own
    (reports_dir / "run-2.json").write_text(forged.to_json_text())
    (reports_dir / "run-3.json").unlink()
    shutil.copy(reports_dir / "run-1.json", reports_dir / "invented.json")
    found = _problems(conn, reports_dir)
    assert ("run-1", "file edited (hash mismatch)") in found
    assert ("run-1", "file name is not run-1.json") in found
    assert ("run-2", "file differs from the table's report") in found
    assert ("run-3", "report file missing (deleted)") in found
    assert len(found) == 5, found  # run-1's edit is named twice: in its file and in its copy
    assert _problems(conn) == []  # the table itself is intact


def test_two_writers_at_once_never_fork_the_chain(database_url: str, reports_dir: Path) -> None:
    per_writer, errors = 8, []
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            with connect(database_url, autocommit=True) as conn:
                barrier.wait()
                for index in range(per_writer):
                    store_report(conn, _report(f"{name}-{index}"), reports_dir=reports_dir)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with connect(database_url, autocommit=True) as conn:
        result = verify_report_chain(conn, reports_dir)
    assert result.ok, result.breaks
    assert result.links == 2 * per_writer


def test_reports_older_than_the_chain_are_told_apart_from_forged_ones(empty_database_url: str, tmp_path) -> None:
    before_chain = tmp_path / "sql"
    before_chain.mkdir()
    for path in project_dir("sql").glob("*.sql"):
        if path.name < "006":
            shutil.copy(path, before_chain / path.name)
    migrate(empty_database_url, before_chain)
    with connect(empty_database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ovc.ovc_run_reports_v01 (run_id, run_status) VALUES ('old', 'PASS')")
        migrate(empty_database_url)
        store_report(conn, _report("new"))
        result = verify_report_chain(conn)
        assert result.ok and (result.links, result.older_than_chain) == (1, 1), result.breaks
        assert load_report(conn, "new").chain.seq == 1
        conn.execute("ALTER TABLE ovc.ovc_run_reports_v01 DISABLE TRIGGER USER")
        conn.execute("INSERT INTO ovc.ovc_run_reports_v01 (run_id, run_status) VALUES ('later', 'PASS')")
        assert _problems(conn) == [("later", "report not in the chain: forged, or inserted outside ovc")]


def test_an_expected_head_that_left_the_chain_is_a_break(conn, reports_dir) -> None:
    store_report(conn, _report("run-1"), reports_dir=reports_dir)
    head = verify_report_chain(conn).head_sha256
    store_report(conn, _report("run-2"), reports_dir=reports_dir)
    assert verify_report_chain(conn, expected_head=head).ok
    _disable_immutability(conn)
    conn.execute("DELETE FROM ovc.ovc_run_report_chain")
    conn.execute("DELETE FROM ovc.ovc_run_reports_v01")
    found = verify_report_chain(conn, expected_head=head).breaks
    assert [b.problem.split(":")[0] for b in found] == [f"the expected head {head[:16]}... is not in the chain"]


def test_report_verify_exits_1_naming_the_break_and_0_when_intact(conn, reports_dir, three_reports) -> None:
    app = typer.Typer()
    app.add_typer(report_app, name="report")
    runner = CliRunner()
    intact = runner.invoke(app, ["report", "verify"])
    assert intact.exit_code == 0, intact.output
    assert "chain links: 3" in intact.output and "files checked: 3" in intact.output
    _edit_file(reports_dir / "run-2.json", insert_failed=0, notes="quietly fixed")
    broken = runner.invoke(app, ["report", "verify"])
    assert broken.exit_code == 1
    assert f"BREAK {reports_dir / 'run-2.json'}: run run-2 (link 2): file edited (hash mismatch)" in broken.output
    as_json = runner.invoke(app, ["report", "verify", "--json", "--no-files"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["files_checked"] == 0


def test_the_daily_materialisation_checks_the_chain_and_names_a_break(conn, reports_dir, three_reports) -> None:
    import dagster as dg

    from ovc_assets.defs.resources import PostgresResource
    from ovc_assets.defs.run_reports.assets import CHAIN_CHECK_NAME, ovc_run_reports, partition_key_for

    resources = {"ovc_database": PostgresResource(database_url=conn.info.dsn)}
    day = partition_key_for(load_report(conn, "run-1"))

    def check(instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
        result = dg.materialize([ovc_run_reports], instance=instance, resources=resources, partition_key=day)
        (evaluation,) = result.get_asset_check_evaluations()
        assert evaluation.check_name == CHAIN_CHECK_NAME
        return evaluation

    with dg.instance_for_test() as instance:
        intact = check(instance)
        assert intact.passed and intact.metadata["links"].value == 3 and intact.metadata["files_checked"].value == 3
        _disable_immutability(conn)
        conn.execute("UPDATE ovc.ovc_run_reports_v01 SET run_status = 'PASS', warnings = '[]' WHERE run_id = 'run-3'")
        broken = check(instance)
    assert not broken.passed and broken.severity == dg.AssetCheckSeverity.ERROR
    assert "run run-3 (link 3): report edited after it was written" in broken.metadata["findings"].value
