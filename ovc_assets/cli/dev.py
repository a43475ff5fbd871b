"""`ovc dev`: everything a developer needs, in one command.

The database (embedded unless `OVC_DATABASE_URL` is set) is started and migrated here (the
migrations show in the UI as a materialisation of `ovc_database_schema`); then three child
processes run on it: the webhook receiver (`ovc serve`), the Dagster webserver and the
Dagster daemon on this code location, with instance storage in PostgreSQL. Once all answer,
the three URLs are printed. Ctrl-C or SIGTERM stops them all: each child runs in a process
group of its own (its code servers included), which gets SIGTERM and, after a grace period,
SIGKILL, so nothing is left behind. A child that dies stops the others and fails the command.

Dagster's own INFO lines (a sensor tick every 30-60 s, daemon heartbeats) are hidden: the
webserver and the daemon log at `--log-level` (default warning); the receiver logs each request.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx
import typer

from ovc_assets.dagster_instance import prepare_dagster_home
from ovc_assets.defs.storage.assets import migrate_and_record
from ovc_assets.settings import load_settings
from ovc_assets.storage.postgres import mask_dsn, resolve_dsn

READY_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 5.0
KILLED_GROUP_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.2
CODE_LOCATION_MODULE = "ovc_assets.definitions"


@dataclass
class Child:
    name: str
    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def group_gone(self) -> bool:
        """True once no process of the child's group is left (the child reaped)."""
        self.process.poll()
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return True
        return False


@dataclass(frozen=True)
class DevUrls:
    ui: str
    webhook: str
    health: str


def dev_urls(host: str, ui_port: int, webhook_port: int) -> DevUrls:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return DevUrls(
        ui=f"http://{shown}:{ui_port}",
        webhook=f"http://{shown}:{webhook_port}/tv",
        health=f"http://{shown}:{webhook_port}/healthz",
    )


def child_commands(host: str, ui_port: int, webhook_port: int, log_level: str) -> dict[str, list[str]]:
    scripts = Path(sys.executable).parent  # the console scripts of this environment
    quiet = ["--log-level", log_level, "--code-server-log-level", log_level]
    return {
        "receiver": [sys.executable, "-m", "ovc_assets.cli", "serve", "--host", host, "--port", str(webhook_port)],
        "webserver": [str(scripts / "dagster-webserver"), "-m", CODE_LOCATION_MODULE, "-h", host, "-p", str(ui_port),
                      *quiet, "--dagster-log-level", log_level],
        "daemon": [str(scripts / "dagster-daemon"), "run", "-m", CODE_LOCATION_MODULE, *quiet],
    }  # fmt: skip


def start_children(commands: dict[str, list[str]], env: dict[str, str]) -> list[Child]:
    # A session of its own: Ctrl-C reaches this process only, which stops each group in order.
    return [Child(name, subprocess.Popen(command, env=env, start_new_session=True)) for name, command in commands.items()]


def _wait_until_groups_gone(children: list[Child], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not all(child.group_gone() for child in children):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def stop_children(children: list[Child], grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every child's process group, wait, then SIGKILL what is left and wait until it is
    gone: a killed group member (a code server) exists until its new parent reaps it, so the
    command returns only when no process of the stack is left."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    if not _wait_until_groups_gone(children, grace_seconds):
        for child in children:
            if not child.group_gone():
                child.signal_group(signal.SIGKILL)
        _wait_until_groups_gone(children, KILLED_GROUP_WAIT_SECONDS)
    for child in children:
        child.process.wait()


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_ready(children: list[Child], urls: DevUrls, stopping: list[int], timeout: float) -> str | None:
    """None once the UI and the receiver answer; else why not (a child died, a signal, a timeout)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if stopping:
                return "stopped before it was ready"
            dead = [child.name for child in children if not child.alive()]
            if dead:
                return f"{', '.join(dead)} exited before it was ready"
            if _answers(client, f"{urls.ui}/server_info") and _answers(client, urls.health):
                return None
            time.sleep(POLL_SECONDS * 2)
    return f"not ready within {timeout:.0f} s"


def dev_command(
    port: int = typer.Option(3000, help="Port of the Dagster UI."),
    webhook_port: int = typer.Option(8080, help="Port of the webhook receiver."),
    host: str = typer.Option("127.0.0.1", help="Address the UI and the receiver listen on."),
    log_level: str = typer.Option("warning", help="Log level of the Dagster webserver and daemon."),
) -> None:
    """Start the database, the webhook receiver and the Dagster UI + daemon on ovc_assets.definitions."""
    settings = load_settings()
    dsn = resolve_dsn(settings)
    applied = migrate_and_record(dsn, settings).applied
    dagster_home = prepare_dagster_home(dsn, settings)  # the children's instance
    typer.echo(f"database: {mask_dsn(dsn)} ({len(applied)} migration(s) applied now)")
    typer.echo(f"DAGSTER_HOME: {dagster_home} (storage in PostgreSQL); symbols: {','.join(settings.symbols)}")
    # The children must use the server this process keeps running.
    env = {**os.environ, "OVC_DATABASE_URL": dsn}
    urls = dev_urls(host, port, webhook_port)

    stopping: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    children = start_children(child_commands(host, port, webhook_port, log_level), env)
    exit_code = 0
    try:
        problem = wait_until_ready(children, urls, stopping, READY_TIMEOUT_SECONDS)
        if problem is not None:
            typer.echo(f"ovc dev: {problem}; stopping", err=True)
            exit_code = 0 if stopping else 1
        else:
            typer.echo(f"Dagster UI   {urls.ui}\nwebhook      {urls.webhook}  (POST; /tv_secure with OVC_TOKEN)")
            typer.echo(f"health       {urls.health}\nready; Ctrl-C stops everything", nl=True)
            while not stopping:
                dead = [child.name for child in children if not child.alive()]
                if dead:
                    typer.echo(f"ovc dev: {', '.join(dead)} exited; stopping the others", err=True)
                    exit_code = 1
                    break
                time.sleep(POLL_SECONDS)
    finally:
        stop_children(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    typer.echo("ovc dev: stopped")
    raise typer.Exit(exit_code)
