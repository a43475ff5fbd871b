"""`ovc runs ...`, `ovc report show` and `ovc validate-duplicates`: run history, reports,
rollback, and the duplicate scan.

Exit codes: reading commands exit 0 when they show what was asked; `runs rollback` (it
runs a job) exits 0 when done, 1 when refused (later runs changed the rows) or when its own
report is FAIL; `--dry-run` exits as the rollback would (0, or 1 when it would be refused). `validate-duplicates` exits 1 when it finds anything.
`report verify` exits 1 when the report hash chain has any break, naming each.
An unknown run is `E_RUN_NOT_FOUND` (the `ovc` entry point prints it and exits 2).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.chain import verify_report_chain
from ovc_assets.runs.duplicates import find_duplicates
from ovc_assets.runs.manifest import load_manifest
from ovc_assets.runs.report import FAIL, REPORT_COLUMNS, WARN, RunReport, exit_code_for
from ovc_assets.runs.rollback import rollback_run
from ovc_assets.runs.store import load_report
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import connect, resolve_dsn

runs_app = typer.Typer(help="Run history (manifests and reports), and rollback of a run's writes.", no_args_is_help=True)
report_app = typer.Typer(help="Run reports (seed 002): one immutable report per run.", no_args_is_help=True)

LIST_RUNS_SQL = """
SELECT r.run_id, r.run_type, r.status, rep.run_status AS verdict, r.started_at, r.completed_at,
       r.dagster_run_id, r.rollback_of, r.rolled_back_by
FROM ovc.ovc_runs r
LEFT JOIN ovc.ovc_run_reports_v01 rep ON rep.run_id = r.run_id
WHERE (%(status)s::text IS NULL OR r.status = %(status)s OR rep.run_status = %(status)s)
  AND (%(run_type)s::text IS NULL OR r.run_type = %(run_type)s)
ORDER BY r.started_at DESC, r.run_id
LIMIT %(limit)s
"""

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, default=_json_default, ensure_ascii=False))


def _not_found(run_id: str, what: str) -> OvcError:
    return OvcError(ErrorCode.RUN_NOT_FOUND, f"no {what} for run {run_id}")  # type: ignore[arg-type]


def _verdict_line(report: RunReport) -> str:
    line = f"verdict: {report.run_status}"
    if report.run_status == WARN:
        line += " (a warning, not a failure)"
    if report.warnings:
        line += "\n" + "\n".join(f"  - {warning}" for warning in report.warnings)
    return line


def _print_report(report: RunReport) -> None:
    width = max(len(name) for name in REPORT_COLUMNS)
    for name in REPORT_COLUMNS:
        if name in ("warnings", "run_status"):
            continue
        value = getattr(report, name)
        if isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        typer.echo(f"{name:<{width}}  {'' if value is None else value}")
    typer.echo(_verdict_line(report))


@runs_app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option("--status", help="Manifest status (SUCCESS, FAILURE, ...) or verdict (PASS, WARN, FAIL).")
    ] = None,
    run_type: Annotated[str | None, typer.Option("--type", help="Run type, e.g. LIVE_INGEST or ROLLBACK.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs, newest first.")] = 20,
    json_output: JsonOption = False,
) -> None:
    """List runs, newest first, with their status and report verdict."""
    params = {
        "status": status.upper() if status else None,
        "run_type": run_type.upper() if run_type else None,
        "limit": limit,
    }
    with connect(resolve_dsn()) as conn:
        cursor = conn.execute(LIST_RUNS_SQL, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if json_output:
        _print_json(rows)
        return
    if not rows:
        typer.echo("no runs")
        return
    typer.echo(f"{'run_id':<36}  {'run_type':<15}  {'status':<11}  {'verdict':<7}  started (UTC)")
    for row in rows:
        started = row["started_at"].strftime("%Y-%m-%d %H:%M:%S") if row["started_at"] else ""
        typer.echo(
            f"{row['run_id']:<36}  {row['run_type']:<15}  {row['status']:<11}  {row['verdict'] or '-':<7}  {started}"
        )


@runs_app.command("show")
def show_command(run_id: Annotated[str, typer.Argument(help="The run id (the Dagster run id for Dagster runs).")],
                 json_output: JsonOption = False) -> None:
    """Show one run in full: its manifest and its report."""
    with connect(resolve_dsn()) as conn:
        manifest = load_manifest(conn, run_id)
        report = load_report(conn, run_id)
    if manifest is None and report is None:
        raise _not_found(run_id, "manifest or report")
    if json_output:
        _print_json({"manifest": manifest, "report": report.to_json() if report else None})
        return
    typer.echo("manifest")
    if manifest is None:
        typer.echo("  (none recorded)")
    else:
        width = max(len(name) for name in manifest)
        for name, value in manifest.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, sort_keys=True, default=_json_default)
            typer.echo(f"  {name:<{width}}  {'' if value is None else value}")
    typer.echo("report")
    if report is None:
        typer.echo("  (none written yet)")
    else:
        _print_report(report)


@runs_app.command("rollback")
def rollback_command(
    run_id: Annotated[str, typer.Argument(help="The run whose writes to undo.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Roll back even rows later runs changed since (their changes are lost).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Restore exactly the state before a run (rows it inserted removed, rows it changed
    restored), in one transaction, recorded as a run with its own report."""
    with connect(resolve_dsn()) as conn:
        result = rollback_run(
            conn, run_id, dry_run=dry_run, force=force,
            cli_args={"command": "runs rollback", "run_id": run_id, "dry_run": dry_run, "force": force},
        )
    if json_output:
        _print_json(result.to_json())
    else:
        verb = "would" if dry_run else ("will" if result.refused else "did")
        typer.echo(f"rollback of run {run_id}" + (" (dry run)" if dry_run else ""))
        for table, change in result.tables.items():
            if dry_run or result.refused:
                typer.echo(f"  {table}: {verb} remove {change.to_remove}, restore {change.to_restore}"
                           + (f", {change.conflicted} changed by later runs" if change.conflicted else ""))
            else:
                typer.echo(f"  {table}: removed {change.removed}, restored {change.restored}")
        if result.later_runs:
            typer.echo(f"later runs that changed these rows: {', '.join(result.later_runs)}")
        if result.refused:
            typer.echo(f"refused: {result.refused}", err=True)
        elif result.applied and result.report is not None:
            typer.echo(f"recorded as run {result.rollback_run_id}")
            typer.echo(_verdict_line(result.report))
    if result.refused:
        raise typer.Exit(1)
    if result.applied and result.report is not None and result.report.run_status == FAIL:
        raise typer.Exit(exit_code_for(FAIL))


@report_app.command("show")
def report_show_command(run_id: Annotated[str, typer.Argument(help="The run id.")], json_output: JsonOption = False) -> None:
    """Show one run report (every seed-002 field) and its verdict."""
    with connect(resolve_dsn()) as conn:
        report = load_report(conn, run_id)
    if report is None:
        raise _not_found(run_id, "report")
    if json_output:
        _print_json(report.to_json())
        return
    _print_report(report)


@report_app.command("verify")
def report_verify_command(
    files: Annotated[
        bool, typer.Option("--files/--no-files", help="Also check the JSON files in $OVC_HOME/reports.")
    ] = True,
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="A head hash printed earlier and kept elsewhere: it must still be in the chain."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Verify the run-report hash chain (table and files); exit 1 naming every break."""
    reports_dir = load_settings().reports_dir if files else None
    with connect(resolve_dsn()) as conn:
        result = verify_report_chain(conn, reports_dir, expected_head=expect_head)
    if json_output:
        _print_json(result.to_json())
    else:
        typer.echo(
            f"chain links: {result.links}; reports older than the chain: {result.older_than_chain}; "
            f"files checked: {result.files_checked}" + ("" if files else " (files not checked)")
        )
        typer.echo(f"head: {result.head_sha256 or '(empty chain)'}")
        for found in result.breaks:
            typer.echo(f"BREAK {found}")
        typer.echo("ok" if result.ok else f"{len(result.breaks)} break(s)")
    if not result.ok:
        raise typer.Exit(1)


def validate_duplicates_command(json_output: JsonOption = False) -> None:
    """Find duplicate block keys, conflicting blocks for one block id, and blocks whose id
    disagrees with their time; exit 1 if there is any."""
    with connect(resolve_dsn()) as conn:
        found = find_duplicates(conn)
    if json_output:
        _print_json(found.to_json())
    else:
        typer.echo(f"rows checked: {found.rows_checked}")
        typer.echo(f"duplicate keys: {len(found.duplicate_keys)}")
        for item in found.duplicate_keys:
            typer.echo(f"  {item['table_name']} {item['bid']} ({item['version']}): {', '.join(item['rows'])}; "
                       f"runs {', '.join(item['run_ids'])}")
        typer.echo(f"conflicting blocks: {len(found.conflicting_blocks)}")
        for item in found.conflicting_blocks:
            typer.echo(f"  {item['bid']}: {'; '.join(item['prices'])}; runs {', '.join(item['run_ids'])}")
        typer.echo(f"id/time mismatches: {len(found.id_time_mismatches)}")
        for item in found.id_time_mismatches:
            typer.echo(f"  {item['bid']} ({item['symbol']} {item['block_start']}): {item['problem']}; "
                       f"run {item['run_id'] or 'unknown'}")
        typer.echo("ok" if found.ok else f"faulty runs: {', '.join(found.faulty_runs)}")
    if not found.ok:
        raise typer.Exit(1)
