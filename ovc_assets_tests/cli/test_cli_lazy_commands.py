"""`ovc` imports only the sub-command it runs: the receiver and the report commands start
without Dagster, pandas or pandera (each `ovc` process otherwise paid ~1.9 s of imports)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ovc_assets.cli.app import SUBCOMMANDS, build_app

HEAVY_MODULES = ("dagster", "pandas", "pandera")
PROBE = """
import json, sys
from ovc_assets.cli.app import main
sys.argv = ["ovc", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
"""


def _heavy_modules_loaded_by(*args: str) -> list[str]:
    probe = PROBE.format(heavy=HEAVY_MODULES)
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("serve", "--help"), ("runs", "--help"), ("contract", "--help"), ("replay", "--help")])
def test_a_command_that_needs_no_dagster_imports_none(args: tuple[str, ...]) -> None:
    assert _heavy_modules_loaded_by(*args) == []


def test_a_dagster_command_still_loads_dagster() -> None:
    assert "dagster" in _heavy_modules_loaded_by("backfill", "--help")


def test_the_whole_app_lists_every_command_in_order_and_report_has_daily() -> None:
    cli = build_app()
    groups = [group.name for group in cli.registered_groups]
    commands = [command.name for command in cli.registered_commands]
    assert [name for name in SUBCOMMANDS if name in groups + commands] == list(SUBCOMMANDS)
    report = next(group.typer_instance for group in cli.registered_groups if group.name == "report")
    assert [command.name for command in report.registered_commands] == ["show", "verify", "daily"]
