"""Entry point of the `ovc` command: assembles the sub-commands and maps coded errors to exits."""

from __future__ import annotations

import sys

import typer

from ovc_assets.cli.backfill import backfill_app
from ovc_assets.cli.contract import contract_app
from ovc_assets.cli.db import db_app
from ovc_assets.cli.demo import demo_command
from ovc_assets.cli.dev import dev_command
from ovc_assets.cli.ingest import ingest_app
from ovc_assets.cli.outcomes import outcomes_command
from ovc_assets.cli.replay import replay_app
from ovc_assets.cli.report_daily import report_daily_command
from ovc_assets.cli.runs import report_app, runs_app, validate_duplicates_command
from ovc_assets.cli.serve import serve_command
from ovc_assets.dagster_instance import apply_dagster_env_defaults
from ovc_assets.dagster_warnings import quiet_dagster_warnings
from ovc_assets.errors import OvcError

app = typer.Typer(
    name="ovc",
    help="OVC asset graph: TradingView alerts and FX candles into a trustworthy dataset of 2H blocks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.add_typer(db_app, name="db")
app.add_typer(contract_app, name="contract")
app.add_typer(backfill_app, name="backfill")
app.add_typer(ingest_app, name="ingest")
app.command("outcomes")(outcomes_command)
app.command("serve")(serve_command)
app.add_typer(replay_app, name="replay")
app.add_typer(runs_app, name="runs")
app.add_typer(report_app, name="report")
report_app.command("daily")(report_daily_command)
app.command("validate-duplicates")(validate_duplicates_command)
app.command("demo")(demo_command)
app.command("dev")(dev_command)

EXIT_OVC_ERROR = 2


def main() -> None:
    """Run the CLI; an `OvcError` becomes one line on stderr and exit code 2, never a traceback."""
    apply_dagster_env_defaults()
    quiet_dagster_warnings()
    try:
        app()
    except OvcError as error:
        print(f"error {error.code}: {error.message}", file=sys.stderr)
        sys.exit(EXIT_OVC_ERROR)
