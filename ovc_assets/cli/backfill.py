"""`ovc backfill oanda|csv`: history backfill of any date range, through the Dagster asset.

Each command materialises `ovc_blocks` in-process on the persistent OVC Dagster instance, as
one run over the 2H partition range that covers the requested period (a single-run
backfill, through `run_block_range`), with a provider source in the run config and the
HIST_BACKFILL tags: it leaves a Dagster run like a backfill launched from the UI, with its
run report. Partitions start at the earlier of the range and `OVC_PARTITIONS_START`, so
history before the UI's partitions (since 2005 and earlier) imports and is checked alike.

Dates are OVC days (`date_ny`, YYYY-MM-DD): `--start D` begins at 17:00 New York on D and
`--end D` includes the whole OVC day D. A CSV backfill covers the file's span unless given
dates. Progress: a bar per symbol on a terminal, one line per committed chunk otherwise.
Rerunning an interrupted command resumes after its last committed chunk.

Exit codes follow the run report: 0 on PASS and WARN (saying WARN, with the warnings and the
failed checks), 1 on FAIL. A run failed by a coded error (`OvcError`: bad input, OANDA,
configuration) re-raises it, so the `ovc` entry point prints it as one line and exits 2.
File-level CSV errors (empty, columns, zone, an unreadable first row) are found while sizing
the range, before any run; all later ones fail the run, which records its counts.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import dagster as dg
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from ovc_assets.backfill.engine import DEFAULT_CHUNK_BLOCKS, BackfillProgress, reporting_progress_to
from ovc_assets.backfill.sources import INPUT_SOURCE_OF_PROVIDER, OANDA_SOURCE
from ovc_assets.calendar import Block, FxCalendar, block_at
from ovc_assets.defs.blocks.assets import OVC_BLOCKS
from ovc_assets.defs.blocks.history import CSV, OANDA
from ovc_assets.defs.blocks.inprocess import BlockRangeRun, run_block_range
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.providers.csv_candles import CSV_LAYOUTS, CsvLayout, read_candle_csv
from ovc_assets.providers.oanda import GRANULARITY_BAR_SIZES, OandaClient
from ovc_assets.runs.report import FAIL
from ovc_assets.runs.tags import RunType
from ovc_assets.settings import load_settings
from ovc_assets.storage.migrations import migrate
from ovc_assets.storage.postgres import resolve_dsn

backfill_app = typer.Typer(
    help="History backfill: OANDA v20 or CSV candles -> New-York-anchored 2H blocks, as a Dagster run.",
    no_args_is_help=True,
)

# Far enough to step over a weekend plus the Christmas or New Year closure.
OPEN_BLOCK_SEARCH = timedelta(days=14)
TAIL_BYTES = 64 * 1024
TAIL_LINES_TRIED = 8

StartOption = Annotated[str, typer.Option("--start", help="First OVC day (date_ny, YYYY-MM-DD), from 17:00 New York.")]
EndOption = Annotated[str, typer.Option("--end", help="Last OVC day (date_ny, YYYY-MM-DD), included.")]
ChunkOption = Annotated[
    int, typer.Option("--chunk-blocks", min=1, help="Blocks per transaction and checkpoint.")
]


class CsvFormat(StrEnum):
    generic = "generic"
    dukascopy = "dukascopy"


@backfill_app.command("oanda")
def oanda_command(
    symbol: Annotated[
        list[str], typer.Option("--symbol", help="OVC symbol (GBPUSD) or OANDA instrument (GBP_USD); repeatable.")
    ],
    start: StartOption,
    end: EndOption,
    granularity: Annotated[
        str,
        typer.Option(help=f"H2 (the blocks themselves) or a finer one, resampled: {', '.join(GRANULARITY_BAR_SIZES)}."),
    ] = "H2",
    price: Annotated[str, typer.Option(help="M (mid), B (bid) or A (ask).")] = "M",
    chunk_blocks: ChunkOption = DEFAULT_CHUNK_BLOCKS,
) -> None:
    """OANDA v20 candles -> 2H blocks (token OANDA_API_TOKEN, OANDA_ENV practice/live, OANDA_BASE_URL)."""
    OandaClient.from_env().close()  # a missing token or bad OANDA_ENV fails here, before any run
    window = ovc_days_window(start, end)
    config = {
        "source": OANDA,
        "symbols": list(symbol),
        "oanda_granularity": granularity,
        "oanda_price": price,
        "chunk_blocks": chunk_blocks,
    }
    cli_args = {"command": "backfill oanda", "symbol": list(symbol), "start": start, "end": end,
                "granularity": granularity, "price": price, "chunk_blocks": chunk_blocks}  # fmt: skip
    run_backfill(config, window, INPUT_SOURCE_OF_PROVIDER[OANDA_SOURCE], cli_args)


@backfill_app.command("csv")
def csv_command(
    symbol: Annotated[str, typer.Option("--symbol", help="The symbol the file holds, e.g. GBPUSD.")],
    file: Annotated[
        list[Path],
        typer.Option("--file", exists=True, dir_okay=False, help="Candle CSV (any bar size up to 2H); repeat for consecutive files."),
    ],
    tz: Annotated[str | None, typer.Option("--tz", help="Zone of timestamps without an offset (default UTC).")] = None,
    csv_format: Annotated[CsvFormat, typer.Option("--format", help="generic or dukascopy.")] = CsvFormat.generic,
    start: Annotated[str | None, typer.Option("--start", help="First OVC day to import; default: the file's first.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last OVC day to import, included; default: the file's last.")] = None,
    chunk_blocks: ChunkOption = DEFAULT_CHUNK_BLOCKS,
) -> None:
    """CSV candles (generic OHLC(V) or Dukascopy, any bar size up to 2H) -> 2H blocks."""
    layout = CSV_LAYOUTS[csv_format.value]
    if start and end:
        window = ovc_days_window(start, end)
    else:
        first, last = csv_span(file, csv_format.value, tz)
        window = (
            _ovc_day_start(start, "--start") if start else block_at(first).start_utc,
            _ovc_day_start(end, "--end", next_day=True) if end else block_at(last).end_utc,
        )
    config = {
        "source": CSV,
        "symbols": [symbol],
        "csv_paths": [str(path) for path in file],
        "csv_format": csv_format.value,
        "csv_tz": tz,
        "chunk_blocks": chunk_blocks,
    }
    cli_args = {"command": "backfill csv", "symbol": symbol, "file": [str(path) for path in file], "tz": tz,
                "format": csv_format.value, "start": start, "end": end, "chunk_blocks": chunk_blocks}  # fmt: skip
    run_backfill(config, window, INPUT_SOURCE_OF_PROVIDER[layout.source], cli_args)


def run_backfill(
    source_config: dict[str, object], window: tuple[datetime, datetime], input_source: str, cli_args: dict[str, object]
) -> None:
    """Materialise `ovc_blocks` with `source_config` over the partitions covering `window`, as one
    HIST_BACKFILL run on the persistent instance; print progress, the outcome and the verdict."""
    first, last = open_block_range(*window)
    settings = load_settings()
    dsn = resolve_dsn(settings)
    migrate(dsn)
    console = Console(soft_wrap=True)
    console.print(
        f"backfill {', '.join(map(str, source_config['symbols']))} from {source_config['source']}: partitions "
        f"{partition_key_for_block(first)} .. {partition_key_for_block(last)} (New York block starts)",
        highlight=False,
    )
    with _progress_display(console) as show_progress, reporting_progress_to(show_progress):
        run = run_block_range(
            OVC_BLOCKS,
            first,
            last,
            dsn=dsn,
            settings=settings,
            pipeline=PipelineSettings(),
            run_type=RunType.HIST_BACKFILL,
            input_source=input_source,
            cli_args=json.dumps(cli_args, sort_keys=True),
            run_config={"ops": {OVC_BLOCKS.to_python_identifier(): {"config": source_config}}},
        )
    if run.result.success:
        _print_outcome(console, run.result)
    finish_job_command(console, run, RunType.HIST_BACKFILL)


def finish_job_command(console: Console, run: BlockRangeRun, run_type: str) -> None:
    """Print the run's verdict and warnings; exit 2 with the run's coded error, 1 on FAIL."""
    verdict = run.report.run_status if run.report is not None else FAIL
    console.print(f"{run_type} run {run.result.run_id}: {verdict}", highlight=False)
    for warning in (run.report.warnings if run.report is not None else None) or []:
        console.print(f"  {warning}", highlight=False)
    if not run.result.success:
        coded = _coded_error(run.result)
        if coded is not None:
            raise coded
    if verdict == FAIL or not run.result.success:
        raise typer.Exit(1)


def open_block_range(start: datetime, end: datetime) -> tuple[Block, Block]:
    """The first and last open blocks (FX calendar, i.e. partitions) starting in `[start, end)`."""
    calendar = FxCalendar()
    head = calendar.expected_blocks(start, min(end, start + OPEN_BLOCK_SEARCH))
    tail = calendar.expected_blocks(max(start, end - OPEN_BLOCK_SEARCH), end)
    if not head or not tail:
        raise OvcError(
            ErrorCode.CONFIG,
            f"no open FX block between {start.isoformat()} and {end.isoformat()} (weekend or holiday closure only)",
        )
    return head[0], tail[-1]


def csv_span(paths: Sequence[Path], csv_format: str, tz: str | None) -> tuple[datetime, datetime]:
    """The times of the first and the last candle of consecutive CSV files, without reading them whole.

    The first candle comes from the head of the first file; the last from the last lines of the
    last file that parse (a bad last line is reported by the backfill itself, with its line
    number). Errors of the file as a whole (empty, columns, zone) are raised here.
    """
    layout = CSV_LAYOUTS[csv_format]
    first_chunk = next(read_candle_csv(paths[0], layout, tz=tz, chunk_rows=1))
    first = first_chunk["time"].iloc[0].to_pydatetime()
    last = _last_candle_time(paths[-1], layout, tz)
    return first, max(first, last)


def _last_candle_time(path: Path, layout: CsvLayout, tz: str | None) -> datetime:
    with path.open("rb") as handle:
        header = handle.readline()
        size = path.stat().st_size
        handle.seek(max(len(header), size - TAIL_BYTES))
        tail_lines = [line for line in handle.read().splitlines() if line.strip()]
    if size - TAIL_BYTES > len(header):
        tail_lines = tail_lines[1:]  # the first line read may be cut
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "tail.csv"
        for line in reversed(tail_lines[-TAIL_LINES_TRIED:]):
            probe.write_bytes(header + line + b"\n")
            try:
                return next(read_candle_csv(probe, layout, tz=tz))["time"].iloc[-1].to_pydatetime()
            except OvcError:
                continue
    # No readable line at the end: read the whole file, which stops with the first bad line.
    *_, last_chunk = read_candle_csv(path, layout, tz=tz)
    return last_chunk["time"].iloc[-1].to_pydatetime()


def ovc_days_window(start: str, end: str) -> tuple[datetime, datetime]:
    window = _ovc_day_start(start, "--start"), _ovc_day_start(end, "--end", next_day=True)
    if window[1] <= window[0]:
        raise OvcError(ErrorCode.CONFIG, f"--end {end} is before --start {start}")
    return window


def _ovc_day_start(text: str, option: str, *, next_day: bool = False) -> datetime:
    """17:00 New York on OVC day `text` (or on the day after, for an inclusive end), in UTC."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise OvcError(ErrorCode.CONFIG, f"{option} {text!r} is not a date (YYYY-MM-DD, an OVC day)") from None
    return Block(day + timedelta(days=1) if next_day else day, "A").start_utc


@contextmanager
def _progress_display(console: Console) -> Iterator[Callable[[BackfillProgress], None]]:
    """A progress listener: a bar per symbol on a terminal, one plain line per event otherwise."""
    if not console.is_terminal:

        def print_line(progress: BackfillProgress) -> None:
            console.print(_progress_line(progress), highlight=False)
            console.file.flush()  # a log file or pipe should see each chunk when it commits

        yield print_line
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[blocks]} blocks"), TimeElapsedColumn(), console=console,
    ) as bars:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def show(progress: BackfillProgress) -> None:
            if progress.symbol not in tasks:
                tasks[progress.symbol] = bars.add_task(progress.symbol, total=1.0, blocks=0)
                if progress.resumed:
                    bars.console.print(_progress_line(progress), highlight=False)
            bars.update(tasks[progress.symbol], completed=progress.fraction_done, blocks=progress.blocks_committed)

        yield show


def _progress_line(progress: BackfillProgress) -> str:
    until = progress.committed_until.isoformat()
    if progress.chunks_committed == 0:
        if progress.committed_until == progress.window_end:
            return f"{progress.symbol}: completed by an earlier run of this backfill; run {progress.dagster_run_id}"
        if progress.resumed:
            return f"{progress.symbol}: resuming after {until} (committed by an earlier run); run {progress.dagster_run_id}"
        return f"{progress.symbol}: starting; run {progress.dagster_run_id}"
    return (
        f"{progress.symbol}: chunk {progress.chunks_committed} committed, {progress.blocks_committed} blocks "
        f"up to {until} ({progress.fraction_done:.0%})"
    )


def _print_outcome(console: Console, result: dg.ExecuteInProcessResult) -> None:
    """Print what the run did and its failed checks (each with its severity and figures)."""
    (materialization, *_) = result.asset_materializations_for_node(OVC_BLOCKS.to_python_identifier())
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    console.print(
        f"{metadata['candles_read']} candles, {metadata['received_events']} blocks: {metadata['rows_inserted']} "
        f"inserted, {metadata['rows_updated']} updated, {metadata['insert_skipped']} unchanged, "
        f"{metadata['partial_blocks']} partial",
        highlight=False,
    )
    failed = [check for check in result.get_asset_check_evaluations() if not check.passed]
    if not failed:
        console.print("checks: all passed")
    for check in failed:
        evidence = {
            key: value.value
            for key, value in check.metadata.items()
            if key not in ("window_start", "window_end") and isinstance(value.value, int | float)
        }
        console.print(f"{check.severity.value} {check.check_name}: {json.dumps(evidence, sort_keys=True)}", highlight=False)


def _coded_error(result: dg.ExecuteInProcessResult) -> OvcError | None:
    """The coded error that failed the run, rebuilt from the run's failure event (the run is
    executed without raising, so that its report is written before the command exits)."""
    for event in result.get_step_failure_events():
        error = event.step_failure_data.error
        while error is not None and error.cls_name != OvcError.__name__:
            error = error.cause
        if error is None:
            continue
        text = error.message.strip().removeprefix(f"{OvcError.__module__}.{OvcError.__name__}: ")
        code, _, message = text.partition(": ")
        if code in ErrorCode.__members__.values():
            return OvcError(ErrorCode(code), message)
    return None
