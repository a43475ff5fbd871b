"""`ovc db ...`: the DSN in use, migrations, and the embedded server's life cycle."""

from __future__ import annotations

import typer

from ovc_assets.defs.storage.assets import migrate_and_record
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import EmbeddedPostgres, mask_dsn, resolve_dsn

db_app = typer.Typer(help="Database: DSN, migrations, embedded server.", no_args_is_help=True)


@db_app.command("url")
def url_command() -> None:
    """Print the DSN in use, password masked. On the embedded default the server is started
    if needed and left running, so that the DSN works afterwards (`psql "$(ovc db url)"`),
    as after `ovc db start`; `ovc db stop` stops it."""
    settings = load_settings()
    typer.echo(mask_dsn(resolve_dsn(settings, keep_running=True, as_writer=False)))
    if not settings.database_url:
        typer.echo(f"embedded server in {settings.pgdata} left running; stop it with `ovc db stop`", err=True)


@db_app.command("migrate")
def migrate_command() -> None:
    """Apply sql/*.sql in order, each in a transaction; a no-op when all are applied. The Dagster
    UI shows the result as a materialisation of ovc_database_schema."""
    settings = load_settings()
    dsn = resolve_dsn(settings, as_writer=False)
    result = migrate_and_record(dsn, settings)
    for version in result.applied:
        typer.echo(f"applied {version}")
    typer.echo(result.roles)
    typer.echo(
        f"{len(result.applied)} migration(s) applied, {len(result.already_applied)} already applied "
        f"on {mask_dsn(dsn)}"
    )


@db_app.command("start")
def start_command() -> None:
    """Start the embedded server and leave it running (until `ovc db stop`)."""
    settings = load_settings()
    if settings.database_url:
        typer.echo("OVC_DATABASE_URL is set; the embedded server is not used")
        raise typer.Exit(1)
    typer.echo(mask_dsn(EmbeddedPostgres(settings.pgdata).start(keep_running=True)))


@db_app.command("stop")
def stop_command() -> None:
    """Stop the embedded server cleanly."""
    stopped = EmbeddedPostgres(load_settings().pgdata).stop()
    typer.echo("stopped" if stopped else "not running")


@db_app.command("status")
def status_command() -> None:
    """Say whether the embedded server under $OVC_HOME/pg is running."""
    settings = load_settings()
    running = EmbeddedPostgres(settings.pgdata).is_running()
    typer.echo(f"embedded server in {settings.pgdata}: {'running' if running else 'stopped'}")
