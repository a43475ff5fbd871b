"""The Dagster instance the `ovc` commands use: `$DAGSTER_HOME` (default `$OVC_HOME/dagster`)
with run, event-log and schedule storage in the OVC Postgres server, in a database of its own.

dagster-postgres needs the `postgresql+psycopg2://` URL form: a plain `postgresql://` URL makes
SQLAlchemy 2.1 pick the psycopg 3 dialect, with which dagster-postgres's NOTIFY fails.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlencode

import dagster as dg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ovc_assets.settings import Settings, load_settings
from ovc_assets.storage.postgres import connect, dsn_for_database, owner_dsn

DAGSTER_URL_ENV = "OVC_DAGSTER_PG_URL"
# The pool of each storage of the instance `ovc` commands open: one connection kept, a few more
# while threads overlap, recycled hourly, no statement timeout (a long backfill's batch may take long).
STORAGE_POOL = {"statement_timeout": 0, "pool_recycle": 3600, "max_overflow": 4}
# Production shape, also what `ovc dev` runs:
# - run, event-log and schedule storage in PostgreSQL;
# - runs launched by the UI, schedules and sensors wait in a queue; at most one run tagged
#   `ovc/run_type` is in progress at a time, so two runs never write the same symbol's blocks
#   at once (a run covers all configured symbols); the coordinator tags every run that writes
#   OVC tables when it is queued (an asset page's run has no tag of its own);
# - run monitoring fails a run stuck in STARTING or CANCELING, and the run-report sweep
#   fails and reports a STARTED run whose process is gone (the default run launcher has no
#   health check of its own);
# - sensor and schedule ticks are purged after a while (skipped sensor ticks after a day).
DAGSTER_YAML = f"""\
# Written by ovc (ovc_assets/dagster_instance.py); rewritten when it differs.
#
# Range runs (history backfills) rely on two environment variables in every process that creates
# or executes runs (the `ovc` command, the webserver, the daemon, run workers); `ovc` and
# `ovc dev` set them unless already set; export them for a webserver or daemon started otherwise:
#   DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true  one planned event per run, not per
#       partition (a failed range run's partitions are then not marked failed in the UI: its
#       run report, verdict FAIL, records the failure)
#   DAGSTER_EVENT_BATCH_SIZE=1000  a range run's per-partition materialisations in batches
run_storage:
  module: dagster_postgres.run_storage
  class: PostgresRunStorage
  config:
    postgres_url:
      env: {DAGSTER_URL_ENV}
# dagster-postgres's event log, remembering which of its tables and columns exist (each check
# evaluation and asset read asked the catalog again) and storing a run's check evaluation in one
# statement (the same rows as its four): ovc_assets/event_log_storage.py
event_log_storage:
  module: ovc_assets.event_log_storage
  class: OvcEventLogStorage
  config:
    postgres_url:
      env: {DAGSTER_URL_ENV}
schedule_storage:
  module: dagster_postgres.schedule_storage
  class: PostgresScheduleStorage
  config:
    postgres_url:
      env: {DAGSTER_URL_ENV}
run_coordinator:
  module: ovc_assets.run_coordinator
  class: OvcRunCoordinator
  config:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: ovc/run_type
        limit: 1
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  poll_interval_seconds: 60
retention:
  schedule:
    purge_after_days: 90
  sensor:
    purge_after_days:
      skipped: 1
      failure: 30
      success: 30
      started: 30
telemetry:
  enabled: false
nux:
  enabled: false
"""


def sqlalchemy_psycopg2_url(dsn: str) -> str:
    """The DSN (URL or key=value form) as a `postgresql+psycopg2://` URL; a unix-socket
    host moves to the `host=` query parameter."""
    params = conninfo_to_dict(dsn)
    user = quote(params.pop("user", "postgres"), safe="")
    password = params.pop("password", "")
    credentials = f"{user}:{quote(password, safe='')}@" if password else f"{user}@"
    host = params.pop("host", "")
    port = params.pop("port", "")
    dbname = quote(params.pop("dbname", "postgres"), safe="")
    query = dict(params)
    if host.startswith("/"):
        query["host"] = host
        netloc = credentials
    else:
        netloc = credentials + host + (f":{port}" if port else "")
    if port and host.startswith("/"):
        query["port"] = port
    suffix = f"?{urlencode(query)}" if query else ""
    return f"postgresql+psycopg2://{netloc}/{dbname}{suffix}"


def dagster_database_name(dsn: str) -> str:
    """The database holding Dagster's storage: `<ovc database>_dagster` on the same server."""
    return f"{conninfo_to_dict(dsn).get('dbname') or 'postgres'}_dagster"


def ensure_dagster_database(dsn: str) -> str:
    """Create Dagster's database beside the OVC one if missing; return its DSN."""
    name = dagster_database_name(dsn)
    with connect(owner_dsn(dsn), autocommit=True) as conn:  # the writer role may not create databases
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return dsn_for_database(dsn, name)


def write_dagster_home(dsn: str, settings: Settings | None = None) -> tuple[Path, str]:
    """The OVC Dagster instance's directory, with its `dagster.yaml` written, and the URL of its
    storage (an explicit `OVC_DAGSTER_PG_URL` wins); the environment is left as it is."""
    settings = settings or load_settings()
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    url = os.environ.get(DAGSTER_URL_ENV) or sqlalchemy_psycopg2_url(ensure_dagster_database(dsn))
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return home, url


def prepare_dagster_home(dsn: str, settings: Settings | None = None) -> Path:
    """Point this process's children (Dagster's webserver and daemon) at the OVC Dagster
    instance: `write_dagster_home`, then sets `DAGSTER_HOME` and `OVC_DAGSTER_PG_URL`."""
    home, url = write_dagster_home(dsn, settings)
    os.environ[DAGSTER_URL_ENV] = url
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def open_dagster_instance(dsn: str, settings: Settings | None = None) -> dg.DagsterInstance:
    """The persistent OVC Dagster instance, opened from its directory (`DAGSTER_HOME` is left
    as it is: an in-process caller, a test, keeps its own), keeping one open connection per
    storage for its lifetime.

    dagster-postgres otherwise opens a connection per statement, i.e. per event a run writes
    outside batches (run and step events, logs, check evaluations). The pooled connections
    close when the instance is garbage-collected (`dispose` leaves them), at the latest when
    the `ovc` process exits."""
    home, url = write_dagster_home(dsn, settings)
    # dagster.yaml names the storage URL by environment variable (no password on disk), and
    # Dagster reads it again whenever it rebuilds the instance from its reference.
    os.environ[DAGSTER_URL_ENV] = url
    instance = dg.DagsterInstance.from_config(str(home))
    instance.optimize_for_webserver(**STORAGE_POOL)
    return instance
