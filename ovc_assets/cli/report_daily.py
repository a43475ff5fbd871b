"""`ovc report daily --start D --end D --out FILE.html`: the daily data-quality view as a page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.ops.daily_quality import daily_quality
from ovc_assets.ops.quality_plots import quality_figures, quality_html
from ovc_assets.storage.files import write_atomically
from ovc_assets.storage.postgres import connect, resolve_dsn

MAX_DAYS = 366


def _ovc_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise OvcError(ErrorCode.CONFIG, f"{option} {text!r} is not a date (YYYY-MM-DD, an OVC day)") from None


def report_daily_command(
    start: Annotated[str, typer.Option("--start", help="First OVC day (YYYY-MM-DD; the day from 17:00 New York).")],
    end: Annotated[str, typer.Option("--end", help="Last OVC day, included.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (self-contained: images embedded).")],
    symbol: Annotated[
        list[str] | None, typer.Option("--symbol", help="Symbols the calendar expects (repeat); default: those stored.")
    ] = None,
) -> None:
    """Write the daily data-quality page: blocks per day vs the FX calendar, rejected payloads by
    code, run verdicts, and TradingView-vs-provider divergence, as figures with their numbers."""
    first, last = _ovc_day(start, "--start"), _ovc_day(end, "--end")
    if last < first:
        raise OvcError(ErrorCode.CONFIG, f"--end {end} is before --start {start}")
    if (last - first).days >= MAX_DAYS:
        raise OvcError(ErrorCode.CONFIG, f"at most {MAX_DAYS} days per page, got {(last - first).days + 1}")
    with connect(resolve_dsn()) as conn:
        quality = daily_quality(conn, first, last, symbols=[s.strip().upper() for s in symbol or []] or None)
    figures = quality_figures(quality)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(out, quality_html(quality, figures).encode("utf-8"))
    except OSError as error:
        raise OvcError(ErrorCode.CONFIG, f"cannot write {out}: {error.strerror or error}") from None
    missing = sum(quality.expected_blocks[day] - quality.stored_total(day) for day in quality.days)
    print(f"wrote {out}: {len(figures)} figures, OVC days {first}..{last}, {len(quality.symbols)} symbol(s), {missing} block(s) missing")
