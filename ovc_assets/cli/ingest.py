"""`ovc ingest full FILE...`: FULL exports by the cold path (FULL never comes in live)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ovc_assets.calendar import Block, block_at
from ovc_assets.contracts import parse_export, read_payloads
from ovc_assets.defs.blocks.assets import OVC_BLOCK_DETAILS
from ovc_assets.defs.blocks.inprocess import run_block_range
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver.batch import land_cold_full
from ovc_assets.runs.report import FAIL
from ovc_assets.runs.tags import RunType
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import resolve_dsn

ingest_app = typer.Typer(help="Land exports that do not come by webhook.", no_args_is_help=True)


def _selected(files: list[Path], symbol: str | None, start: date | None, end: date | None) -> tuple[list[str], list[Block], int]:
    """The export strings to land, the blocks they name, and how many the filters left out.
    Without filters every payload lands (a bad one is stored and counted as rejected)."""
    filtered = symbol is not None or start is not None or end is not None
    exports, blocks, left_out = [], [], 0
    for path in files:
        try:
            payloads = list(read_payloads(path))
        except OSError as error:
            raise OvcError(ErrorCode.CONFIG, f"cannot read {path}: {error.strerror or error}") from None
        for payload in payloads:
            result = parse_export(payload.export, profile="FULL") if payload.export is not None else None
            record = result.record if result is not None else None
            if record is not None:
                in_range = (start is None or record.date_ny >= start) and (end is None or record.date_ny <= end)
                if (symbol is None or record.symbol == symbol) and in_range:
                    exports.append(payload.export)
                    blocks.append(block_at(record.block_start))
                    continue
            if filtered:
                left_out += 1
            elif payload.export is not None:
                exports.append(payload.export)
    return exports, blocks, left_out


@ingest_app.command("full")
def full_command(
    files: Annotated[list[Path], typer.Argument(help="FULL export strings, one per line, or a TradingView alert-log CSV.")],
    symbol: Annotated[str | None, typer.Option(help="Only exports of this symbol.")] = None,
    start: Annotated[str | None, typer.Option(help="Only blocks with date_ny on or after (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Only blocks with date_ny on or before (YYYY-MM-DD).")] = None,
) -> None:
    """Land FULL exports as events of the cold route, then materialise `ovc_block_details` for
    their blocks in one FULL_ENRICH run (which gets its run report). Exit 1 if the run FAILs."""
    try:
        first_day = date.fromisoformat(start) if start else None
        last_day = date.fromisoformat(end) if end else None
    except ValueError as error:
        raise OvcError(ErrorCode.CONFIG, f"--start/--end must be YYYY-MM-DD: {error}") from None
    exports, blocks, left_out = _selected(files, symbol, first_day, last_day)
    settings = load_settings()
    dsn = resolve_dsn(settings)
    counts = land_cold_full(exports, settings=settings, dsn=dsn)
    typer.echo(
        f"landed {counts.landed} new, {counts.duplicates} already landed, {counts.rejected} rejected "
        f"of {counts.received} payloads" + (f"; {left_out} left out by the filters" if left_out else "")
    )
    if not blocks:
        typer.echo("no FULL export with a usable block identity: nothing to enrich")
        raise typer.Exit(1 if counts.rejected else 0)
    run = run_block_range(
        OVC_BLOCK_DETAILS,
        min(blocks),
        max(blocks),
        dsn=dsn,
        settings=settings,
        pipeline=PipelineSettings(full_details_enabled=True),
        run_type=RunType.FULL_ENRICH,
        input_source="full_export",
        cli_args=json.dumps({"files": [str(path) for path in files], "symbol": symbol, "start": start, "end": end}),
    )
    report = run.report
    verdict = report.run_status if report is not None else FAIL
    typer.echo(f"FULL_ENRICH run {run.result.run_id}: {verdict}")
    for warning in (report.warnings if report is not None else None) or []:
        typer.echo(f"  {warning}")
    raise typer.Exit(1 if verdict == FAIL or not run.result.success else 0)
