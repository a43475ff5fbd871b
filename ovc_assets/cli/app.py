"""Entry point of the `ovc` command: assembles the sub-commands and maps coded errors to exits.

A sub-command's module is imported only when it runs: importing all of them (Dagster, pandas,
pandera) cost ~1.9 s per process, while `ovc serve`, `ovc runs` or `ovc contract` need 0.1-0.3 s.
`ovc --help`, an unknown command and `app` (what tests drive) assemble them all.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

import typer

from ovc_assets.dagster_env import apply_dagster_env_defaults
from ovc_assets.errors import OvcError

GROUP, COMMAND = "group", "command"
# name: (added as, module, attribute), in the order `ovc --help` lists them
SUBCOMMANDS = {
    "db": (GROUP, "ovc_assets.cli.db", "db_app"),
    "contract": (GROUP, "ovc_assets.cli.contract", "contract_app"),
    "backfill": (GROUP, "ovc_assets.cli.backfill", "backfill_app"),
    "ingest": (GROUP, "ovc_assets.cli.ingest", "ingest_app"),
    "outcomes": (COMMAND, "ovc_assets.cli.outcomes", "outcomes_command"),
    "serve": (COMMAND, "ovc_assets.cli.serve", "serve_command"),
    "replay": (GROUP, "ovc_assets.cli.replay", "replay_app"),
    "runs": (GROUP, "ovc_assets.cli.runs", "runs_app"),
    "report": (GROUP, "ovc_assets.cli.report", "report_app"),
    "validate-duplicates": (COMMAND, "ovc_assets.cli.runs", "validate_duplicates_command"),
    "demo": (COMMAND, "ovc_assets.cli.demo", "demo_command"),
    "dev": (COMMAND, "ovc_assets.cli.dev", "dev_command"),
}

EXIT_OVC_ERROR = 2


def build_app(names: Iterable[str] = SUBCOMMANDS) -> typer.Typer:
    """The `ovc` app with the sub-commands `names`."""
    cli = typer.Typer(
        name="ovc",
        help="OVC asset graph: TradingView alerts and FX candles into a trustworthy dataset of 2H blocks.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    # A group even with one sub-command (Typer runs a lone command without its name otherwise).
    cli.callback()(lambda: None)
    for name in names:
        added_as, module, attribute = SUBCOMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if added_as == GROUP:
            cli.add_typer(target, name=name)
        else:
            cli.command(name)(target)
    return cli


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI; an `OvcError` becomes one line on stderr and exit code 2, never a traceback."""
    apply_dagster_env_defaults()
    requested = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    cli = build_app([requested] if requested in SUBCOMMANDS else SUBCOMMANDS)
    if "dagster" in sys.modules:
        from ovc_assets.dagster_warnings import quiet_dagster_warnings

        quiet_dagster_warnings()
    try:
        cli()
    except OvcError as error:
        print(f"error {error.code}: {error.message}", file=sys.stderr)
        sys.exit(EXIT_OVC_ERROR)
