"""`ovc serve`: the webhook receiver under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver.config import load_receiver_config
from ovc_assets.receiver.server import run_server, server_options
from ovc_assets.settings import load_settings
from ovc_assets.storage.migrations import applied_migrations, discover_migrations
from ovc_assets.storage.postgres import mask_dsn, resolve_dsn
from ovc_assets.storage.raw_store import open_raw_store

APP_FACTORY = "ovc_assets.receiver.app:create_app_from_environment"
GRACEFUL_SHUTDOWN_SECONDS = 10


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the webhook receiver: POST /tv and /tv_secure, GET /healthz.

    Every body is durable (spool + raw store + ovc.raw_events) before it is answered 2xx.
    Refuses to start while migrations are pending.
    """
    settings = load_settings()
    store = open_raw_store(settings.raw_store_url, settings.s3_endpoint_url)
    config = load_receiver_config(settings, store)
    dsn = resolve_dsn(settings)
    pending = pending_migrations(dsn)
    if pending:
        raise OvcError(
            ErrorCode.CONFIG,
            f"the database has {len(pending)} pending migration(s) ({', '.join(pending)}); run `ovc db migrate` first",
        )
    # Workers are separate processes: they reach the same server, the embedded one included.
    os.environ["OVC_DATABASE_URL"] = dsn
    typer.echo(f"ovc serve on http://{host}:{port} ({workers} worker(s))")
    typer.echo(f"  database  {mask_dsn(dsn)}")
    typer.echo(f"  raw store {store.location}; spool {config.spool_dir}")
    if not config.token:
        typer.echo("  OVC_TOKEN is not set: POST /tv_secure answers 503", err=True)
    run_server(
        APP_FACTORY,
        workers,
        host=host,
        port=port,
        # The access log would print query strings, where a misplaced token could be.
        access_log=False,
        # X-Forwarded-For is honoured by the receiver itself, from OVC_TRUSTED_PROXIES only.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # Header size and deadline, idle keep-alive, concurrency (see receiver/server.py).
        **server_options(),
    )


def pending_migrations(dsn: str) -> list[str]:
    """The versions in `sql/` not yet applied to the database at `dsn`."""
    applied = {version for version, _ in applied_migrations(dsn)}
    return [migration.version for migration in discover_migrations() if migration.version not in applied]
