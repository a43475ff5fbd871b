"""`ovc replay ...`: land what the webhook did not: spool segments, TradingView alert logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ovc_assets.receiver.batch import LandingCounts, replay_alert_log, replay_spool

replay_app = typer.Typer(help="Land events the webhook did not: spooled segments, alert logs.", no_args_is_help=True)


@replay_app.command("spool")
def spool_command() -> None:
    """Land the spool segments no running receiver holds, then write pending raw objects."""
    result = replay_spool()
    counts = result.segments
    typer.echo(
        f"{counts.segments} segment(s) replayed: {counts.landed} landed, {counts.duplicates} duplicate(s), "
        f"{counts.skipped} already landed, {counts.quarantined} quarantined; "
        f"{counts.raw_written + result.pending_raw_written} raw object(s) written"
    )


@replay_app.command("alerts")
def alerts_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="TradingView alert-log CSV.")],
) -> None:
    """Land every payload of an exported TradingView alert log at the alert's own time.

    Payloads already landed (by the webhook, or an earlier replay) are skipped. Exits 1 if
    a row had no usable time or a payload could not be landed; 2 (`error E_INPUT_FORMAT`)
    for a file that is not an alert log, names a column twice or holds an unreadable row.
    """
    counts = replay_alert_log(file)
    for problem in counts.problems:
        typer.echo(f"{file}: {problem}", err=True)
    typer.echo(f"{file}: {_summary(counts)}")
    if counts.problems or counts.spooled or counts.failed:
        raise typer.Exit(1)


def _summary(counts: LandingCounts) -> str:
    parts = [f"{counts.received} payload(s)", f"{counts.landed} landed", f"{counts.duplicates} already landed"]
    if counts.rejected:
        parts.append(f"{counts.rejected} rejected (stored)")
    if counts.spooled:
        parts.append(f"{counts.spooled} spooled until the database is back (`ovc replay spool`)")
    if counts.failed:
        parts.append(f"{counts.failed} not stored: run again")
    return ", ".join(parts)
