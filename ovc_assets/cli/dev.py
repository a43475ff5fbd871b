"""`ovc dev`: the Dagster UI on this code location, with the OVC database up."""

from __future__ import annotations

import os
import subprocess
import sys

import typer

from ovc_assets.dagster_instance import prepare_dagster_home
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import mask_dsn, resolve_dsn


def dev_command(
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
    host: str = typer.Option("127.0.0.1", help="Address the Dagster UI listens on."),
) -> None:
    """Start the database (embedded unless OVC_DATABASE_URL is set) and `dagster dev` on ovc_assets.definitions."""
    settings = load_settings()
    dsn = resolve_dsn(settings)
    dagster_home = prepare_dagster_home(dsn, settings)
    typer.echo(f"database: {mask_dsn(dsn)}\nDAGSTER_HOME: {dagster_home} (storage in PostgreSQL)")
    # The code-location process must use the same server this process keeps running.
    env = {**os.environ, "OVC_DATABASE_URL": dsn}
    command = [sys.executable, "-m", "dagster", "dev", "-m", "ovc_assets.definitions", "-h", host, "-p", str(port)]
    raise typer.Exit(subprocess.call(command, env=env))
