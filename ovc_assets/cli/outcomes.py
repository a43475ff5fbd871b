"""`ovc outcomes`: forward outcomes of stored blocks over any date range, through the Dagster asset.

One OUTCOME_COMPUTE run of `ovc_outcomes` in-process on the persistent OVC Dagster instance,
over the 2H partition range covering the requested OVC days (`--start D` from 17:00 New
York on D, `--end D` included), also before `OVC_PARTITIONS_START`, as `ovc backfill` does.
Windows whose blocks have not all arrived yet stay pending (not written) and are counted.

Exit codes follow the run report: 0 on PASS and WARN, 1 on FAIL. Bad input is one coded
line and exit 2: an unknown `--window` (E_CONFIG, listing the valid ones), a symbol without
blocks in the range (E_NO_BLOCKS), a bad date.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import dagster as dg
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ovc_assets.cli.backfill import finish_job_command, open_block_range, ovc_days_window
from ovc_assets.defs.blocks.inprocess import run_block_range
from ovc_assets.defs.outcomes.assets import OVC_OUTCOMES
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.pipeline.outcomes import DEFAULT_WINDOW, OUTCOME_VER, parse_window
from ovc_assets.runs.tags import RunType
from ovc_assets.settings import load_settings
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.outcomes import count_symbol_blocks
from ovc_assets.storage.postgres import connect, resolve_dsn

OUTCOME_FIGURES = ("outcomes_attempted", "outcomes_inserted", "outcomes_skipped", "outcomes_failed", "outcomes_gap", "outcomes_pending")


def outcomes_command(
    symbol: Annotated[list[str], typer.Option("--symbol", help="Symbol of stored blocks, e.g. GBPUSD; repeatable.")],
    start: Annotated[str, typer.Option("--start", help="First OVC day (date_ny, YYYY-MM-DD), from 17:00 New York.")],
    end: Annotated[str, typer.Option("--end", help="Last OVC day (date_ny, YYYY-MM-DD), included.")],
    window: Annotated[
        list[str] | None,
        typer.Option("--window", help="NEXT_2H, NEXT_4H (default), NEXT_12H or NEXT_<2N>H for N blocks; repeatable."),
    ] = None,
) -> None:
    """Compute the forward outcomes of stored 2H blocks (OUTCOME_COMPUTE run) and print its verdict."""
    windows = [parse_window(name).name for name in (window or [DEFAULT_WINDOW])]
    range_start, range_end = ovc_days_window(start, end)
    first, last = open_block_range(range_start, range_end)
    settings = load_settings()
    dsn = resolve_dsn(settings)
    migrate(dsn)
    with connect(dsn) as conn:
        empty = [s for s in symbol if count_symbol_blocks(conn, s, range_start, range_end) == 0]
    if empty:
        raise OvcError(
            ErrorCode.NO_BLOCKS, f"no stored blocks of {', '.join(empty)} between OVC days {start} and {end}"
        )
    console = Console(soft_wrap=True)
    console.print(
        f"outcomes {', '.join(symbol)} {', '.join(windows)} ({OUTCOME_VER}): partitions "
        f"{partition_key_for_block(first)} .. {partition_key_for_block(last)} (New York block starts)",
        highlight=False,
    )
    cli_args = {"command": "outcomes", "symbol": list(symbol), "start": start, "end": end, "window": windows}
    with _progress(console), warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        run = run_block_range(
            OVC_OUTCOMES,
            first,
            last,
            dsn=dsn,
            settings=settings,
            pipeline=PipelineSettings(symbols=list(symbol)),
            run_type=RunType.OUTCOME_COMPUTE,
            input_source="ovc_blocks_v01",
            cli_args=json.dumps(cli_args, sort_keys=True),
            run_config={"ops": {OVC_OUTCOMES.to_python_identifier(): {"config": {"windows": windows, "symbols": list(symbol)}}}},
        )
    if run.result.success:
        _print_figures(console, run.result)
    finish_job_command(console, run, RunType.OUTCOME_COMPUTE)


@contextmanager
def _progress(console: Console) -> Iterator[None]:
    """A spinner with the elapsed time on a terminal (the run is one step); a plain line otherwise."""
    if not console.is_terminal:
        console.print("computing outcomes ...")
        yield
        return
    with Progress(SpinnerColumn(), TextColumn("computing outcomes"), TimeElapsedColumn(), console=console) as bar:
        bar.add_task("outcomes", total=None)
        yield


def _print_figures(console: Console, result: dg.ExecuteInProcessResult) -> None:
    """What the run wrote and left pending, and its failed checks."""
    (materialization, *_) = result.asset_materializations_for_node(OVC_OUTCOMES.to_python_identifier())
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    console.print(", ".join(f"{name} {metadata[name]}" for name in OUTCOME_FIGURES), highlight=False)
    failed = [check for check in result.get_asset_check_evaluations() if not check.passed]
    if not failed:
        console.print("checks: all passed")
    for check in failed:
        count = {key: value.value for key, value in check.metadata.items() if isinstance(value.value, int)}
        console.print(f"{check.severity.value} {check.check_name}: {json.dumps(count, sort_keys=True)}", highlight=False)
