"""Scale-out on Celery: two `dagster-celery` workers on the machine's RabbitMQ (a virtual host
of this test's own, so no other worker can take its tasks) materialise a multi-partition range
of `ovc_blocks`; the table equals an in-process run of the same range, and the run gets
exactly one run report."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from celery import Celery

from ovc_assets.calendar import Block
from ovc_assets.dagster_instance import DAGSTER_YAML
from ovc_assets.defs.partitions import partition_key_for_block
from ovc_assets.demo.sample_week import DEMO_PARTITIONS_START, land_alerts_directly, sample_alerts, sample_candles
from ovc_assets.runs.builder import report_dagster_run
from ovc_assets.runs.tags import RunType, ovc_run_tags
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import cli_environment, content_checksum

REPO_ROOT = Path(__file__).resolve().parents[2]
RABBITMQ = "127.0.0.1:5672"
WORKERS = ("ovc-worker-1", "ovc-worker-2")
WORKERS_READY_SECONDS = 90
# Monday and Tuesday of the demo week: 24 2H partitions, with rejected payloads and a missed alert.
FIRST, LAST = Block(date(2026, 1, 12), "A"), Block(date(2026, 1, 13), "L")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": partition_key_for_block(FIRST),
    "dagster/asset_partition_range_end": partition_key_for_block(LAST),
    **ovc_run_tags(RunType.LIVE_INGEST, input_source="tv_webhook"),
}
REPORTS_OF_RUN_SQL = "SELECT count(*) FROM ovc.ovc_run_reports_v01 WHERE run_id = %s"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A RabbitMQ virtual host for this test alone (deleted afterwards)."""
    assert shutil.which("rabbitmqctl"), "RabbitMQ is needed (.ci/run starts it)"
    vhost = f"ovc_celery_{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"pyamqp://guest:guest@{RABBITMQ}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


def execution_config(broker_url: str) -> dict[str, object]:
    return {"execution": {"config": {"broker": broker_url, "backend": "rpc://"}}}


@pytest.fixture
def workers(broker_url: str, database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Two Celery workers bound to this test's database and Dagster instance; the environment they share."""
    env = {**cli_environment(database_url, tmp_path / "ovc_home"), "OVC_PARTITIONS_START": DEMO_PARTITIONS_START}
    dagster_home = Path(env["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)  # run and event storage in PostgreSQL, shared
    config = tmp_path / "celery.yaml"
    config.write_text(f"execution:\n  config:\n    broker: {broker_url}\n    backend: rpc://\n")
    bin_dir = Path(sys.executable).parent
    worker_env = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    command = [str(bin_dir / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(config)]
    processes = [
        subprocess.Popen(
            [*command, "-n", f"{name}@%h", "--", "--concurrency=1", "--without-gossip", "--without-mingle"],
            env=worker_env, cwd=tmp_path, stdout=(tmp_path / f"{name}.log").open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,  # `dagster-celery` runs `celery` as a child: stop them as one group
        )  # fmt: skip
        for name in WORKERS
    ]
    try:
        wait_for_workers(broker_url, tmp_path, processes)
        yield env
    finally:
        for process in processes:
            stop_group(process, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stop_group(process, signal.SIGKILL)
                process.wait(timeout=10)


def stop_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass


def wait_for_workers(broker_url: str, logs: Path, processes: list[subprocess.Popen]) -> None:
    app = Celery(broker=broker_url)
    deadline = time.monotonic() + WORKERS_READY_SECONDS
    replies: list = []
    while time.monotonic() < deadline and all(process.poll() is None for process in processes):
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) == len(WORKERS):
            return
    worker_logs = "\n".join((logs / f"{name}.log").read_text()[-2000:] for name in WORKERS)
    pytest.fail(f"{len(replies)} of {len(WORKERS)} Celery workers answered (or one exited)\n{worker_logs}")


def celery_worker_of_step(instance: dg.DagsterInstance, run_id: str) -> str | None:
    for record in instance.get_records_for_run(run_id).records:
        entry = record.event_log_entry
        if entry.dagster_event is not None and entry.dagster_event.is_engine_event:
            metadata = entry.dagster_event.engine_event_data.metadata
            if "Celery worker" in metadata:
                return metadata["Celery worker"].value
    return None


def test_a_range_of_blocks_on_two_celery_workers_equals_the_in_process_run(
    broker_url, workers, database_url, create_test_database, monkeypatch
) -> None:
    from ovc_assets import definitions_celery

    alerts = sample_alerts(sample_candles())
    in_process_url = create_test_database(True)
    for url in (database_url, in_process_url):
        land_alerts_directly(url, alerts)

    monkeypatch.setenv("OVC_DATABASE_URL", in_process_url)
    monkeypatch.setenv("OVC_PARTITIONS_START", DEMO_PARTITIONS_START)
    baseline = definitions_celery.live_ingest_job().execute_in_process(tags=RANGE_TAGS)
    assert baseline.success

    for name, value in workers.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(definitions_celery.live_ingest_job),
            instance=instance,
            tags=RANGE_TAGS,
            run_config=execution_config(broker_url),
        )
        assert result.success
        worker = celery_worker_of_step(instance, result.run_id)
        with connect(database_url, autocommit=True) as conn:
            first = report_dagster_run(instance, result.run_id, conn)
            second = report_dagster_run(instance, result.run_id, conn)
            reports = conn.execute(REPORTS_OF_RUN_SQL, (result.run_id,)).fetchone()[0]

    assert worker is not None and worker.split("@")[0] in WORKERS, f"the step ran in {worker!r}, not on a worker"
    assert content_checksum(database_url) == content_checksum(in_process_url)
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone()[0] == 2 * 24 - 2, "Tuesday's F is missing"
    assert first.written and not second.written and reports == 1
    assert first.report.run_type == "LIVE_INGEST" and first.report.blocks_missing == 1, "GBPUSD's (the default symbols)"
    assert first.report.insert_success == 2 * 24 - 2
