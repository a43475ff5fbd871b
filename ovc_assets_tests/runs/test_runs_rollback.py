"""Rollback restores exactly the state before a run (table checksums), refuses when later
runs changed the same rows, and --force overrides; recorded as a run with its report."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from ovc_assets.calendar import Block
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.counts import RunCounts, record_step_counts
from ovc_assets.runs.report import WARN
from ovc_assets.runs.rollback import rollback_run
from ovc_assets.runs.store import load_report
from ovc_assets_tests.runs.runs_fake_job import INSERT_BLOCK_SQL, SYMBOL, block_params

DAY = date(2026, 1, 13)
ORDER = {
    "ovc_blocks_v01": "symbol, block_start, block_type, schema_ver",
    "ovc_blocks_detail_v01": "symbol, block_start, block_type, schema_ver",
    "ovc_outcomes_v01": "symbol, block_start, window_type, outcome_ver",
}

DETAIL_SQL = """
INSERT INTO ovc.ovc_blocks_detail_v01 AS d (symbol, block_start, schema_ver, bid, export_full, full_payload, run_id)
VALUES (%(symbol)s, %(start)s, 'full_v0.1', %(bid)s, %(export)s, jsonb_build_object('export', %(export)s::text), %(run_id)s)
ON CONFLICT (symbol, block_start, block_type, schema_ver) DO UPDATE SET
    export_full = EXCLUDED.export_full, full_payload = EXCLUDED.full_payload, run_id = EXCLUDED.run_id,
    updated_at = now()
WHERE (d.export_full, d.full_payload) IS DISTINCT FROM (EXCLUDED.export_full, EXCLUDED.full_payload)
"""
OUTCOME_SQL = """
INSERT INTO ovc.ovc_outcomes_v01 AS o (symbol, block_start, window_type, outcome_ver, bid, window_end, window_status,
    blocks_in_window, ref_price, mfe_up, outcome_dir, run_id)
VALUES (%(symbol)s, %(start)s, 'NEXT_4H', 'outcome_v0.1', %(bid)s, %(start)s + interval '4 hours', 'COMPLETE', 2,
    %(price)s, %(price)s / 100, 'UP', %(run_id)s)
ON CONFLICT (symbol, block_start, window_type, outcome_ver) DO UPDATE SET
    ref_price = EXCLUDED.ref_price, mfe_up = EXCLUDED.mfe_up, run_id = EXCLUDED.run_id, computed_at = now()
WHERE (o.ref_price, o.mfe_up) IS DISTINCT FROM (EXCLUDED.ref_price, EXCLUDED.mfe_up)
"""


def block(letter: str) -> Block:
    return Block(DAY, letter)


def write_block(conn: psycopg.Connection, letter: str, run_id: str, price: float) -> None:
    conn.execute(INSERT_BLOCK_SQL, block_params(block(letter), run_id, price=price))


def write_detail(conn: psycopg.Connection, letter: str, run_id: str, text: str) -> None:
    b = block(letter)
    conn.execute(DETAIL_SQL, {"symbol": SYMBOL, "start": b.start_utc, "bid": b.block_id(SYMBOL), "export": text,
                              "run_id": run_id})


def write_outcome(conn: psycopg.Connection, letter: str, run_id: str, price: float) -> None:
    b = block(letter)
    conn.execute(OUTCOME_SQL, {"symbol": SYMBOL, "start": b.start_utc, "bid": b.block_id(SYMBOL), "price": price,
                               "run_id": run_id})


def delete_block(conn: psycopg.Connection, letter: str, run_id: str) -> None:
    with conn.transaction():
        conn.execute("SELECT set_config('ovc.run_id', %s, true)", (run_id,))
        conn.execute("DELETE FROM ovc.ovc_blocks_v01 WHERE block_start = %s", (block(letter).start_utc,))


def checksums(conn, checksum) -> dict[str, str]:
    return {table: checksum(conn, table, order) for table, order in ORDER.items()}


@pytest.fixture
def baseline(conn, checksum) -> dict[str, str]:
    """Run P wrote blocks A-F, details and outcomes of A and B; the state to come back to."""
    for letter in "ABCDEF":
        write_block(conn, letter, "P", 1.0)
    for letter in "AB":
        write_detail(conn, letter, "P", f"full {letter}")
        write_outcome(conn, letter, "P", 1.0)
    return checksums(conn, checksum)


def run_r(conn: psycopg.Connection, *, finish: bool = True) -> None:
    """Run R updates, inserts and deletes in all three tables (and rewrites E unchanged)."""
    record_step_counts(conn, "R", "blocks", "HIST_BACKFILL", RunCounts(), block("A").start_utc, block("H").end_utc,
                       [SYMBOL])
    for letter in "BC":
        write_block(conn, letter, "R", 2.0)
    write_block(conn, "E", "R", 1.0)  # unchanged: no write, no history
    for letter in "GH":
        write_block(conn, letter, "R", 3.0)
    delete_block(conn, "D", "R")
    write_detail(conn, "A", "R", "full A v2")
    write_detail(conn, "C", "R", "full C")
    write_outcome(conn, "A", "R", 2.0)
    write_outcome(conn, "C", "R", 2.0)
    if finish:  # what the run's report does to its manifest
        conn.execute("UPDATE ovc.ovc_runs SET status = 'SUCCESS' WHERE run_id = 'R'")


def test_rollback_restores_every_table_checksum_exactly(conn, checksum, baseline, ovc_home) -> None:
    run_r(conn)
    assert checksums(conn, checksum) != baseline
    history = conn.execute("SELECT count(*) FROM ovc.row_history WHERE replaced_by_run_id = 'R'").fetchone()[0]
    assert history == 5  # B, C, D (delete), detail A, outcome A; E was unchanged

    planned = rollback_run(conn, "R", dry_run=True)
    assert not planned.applied and planned.rollback_run_id is None
    assert (planned.tables["ovc_blocks_v01"].to_remove, planned.tables["ovc_blocks_v01"].to_restore) == (2, 3)
    assert checksums(conn, checksum) != baseline  # a dry run changes nothing

    result = rollback_run(conn, "R")
    assert result.applied and result.refused is None
    assert checksums(conn, checksum) == baseline
    assert {table: (c.removed, c.restored) for table, c in result.tables.items()} == {
        "ovc_blocks_v01": (2, 3), "ovc_blocks_detail_v01": (1, 1), "ovc_outcomes_v01": (1, 1),
    }

    runs = dict(conn.execute("SELECT run_id, status FROM ovc.ovc_runs").fetchall())
    assert runs == {"R": "ROLLED_BACK", result.rollback_run_id: "SUCCESS"}
    rollback_type, rollback_of = conn.execute(
        "SELECT run_type, rollback_of FROM ovc.ovc_runs WHERE run_id = %s", (result.rollback_run_id,)).fetchone()
    assert (rollback_type, rollback_of) == ("ROLLBACK", "R")
    report = load_report(conn, result.rollback_run_id)
    assert report.run_type == "HIST_BACKFILL" and report.input_source == "rollback"
    assert report.input_range == "run_id=R" and "ovc_blocks_v01: removed 2, restored 3" in report.notes
    # Over R's recorded range (A-H) the blocks only R had written, G and H, are missing again.
    assert report.blocks_missing == 2 and report.run_status == WARN
    assert (ovc_home / "reports" / f"{result.rollback_run_id}.json").exists()

    with pytest.raises(OvcError) as twice:
        rollback_run(conn, "R")
    assert twice.value.code == ErrorCode.ROLLBACK_REFUSED
    with pytest.raises(OvcError) as of_rollback:
        rollback_run(conn, result.rollback_run_id)
    assert of_rollback.value.code == ErrorCode.ROLLBACK_REFUSED


def test_rollback_refuses_when_a_later_run_changed_the_same_rows_and_force_overrides(
    conn, checksum, baseline, ovc_home
) -> None:
    run_r(conn)
    write_block(conn, "G", "S", 4.0)  # S changed a row R inserted
    delete_block(conn, "B", "T")  # T deleted a row R updated
    before_attempt = checksums(conn, checksum)

    refused = rollback_run(conn, "R")
    assert not refused.applied and refused.later_runs == ["S", "T"]
    assert "later run(s) S, T" in refused.refused and refused.conflicted == 2
    assert checksums(conn, checksum) == before_attempt

    forced = rollback_run(conn, "R", force=True)
    assert forced.applied and forced.later_runs == ["S", "T"]
    assert checksums(conn, checksum) == baseline
    report = load_report(conn, forced.rollback_run_id)
    assert report.run_status == WARN
    assert any("forced rollback: discarded later changes of 2 row(s) by run(s) S, T" in w for w in report.warnings)


def test_a_run_still_started_is_refused_unless_forced(conn, checksum, baseline, ovc_home) -> None:
    run_r(conn, finish=False)
    with pytest.raises(OvcError, match="still recorded as STARTED"):
        rollback_run(conn, "R")
    assert rollback_run(conn, "R", force=True).applied
    assert checksums(conn, checksum) == baseline


def test_a_run_nobody_knows_is_not_found(conn) -> None:
    with pytest.raises(OvcError) as unknown:
        rollback_run(conn, "no-such-run")
    assert unknown.value.code == ErrorCode.RUN_NOT_FOUND
