"""Is the process of a run that Dagster still records as STARTED actually alive?

A run whose worker was killed (kill -9, OOM, a reboot) stays STARTED in Dagster's run
storage unless something notices. Evidence, in order:

1. The run launcher's own health check, when it has one
   (`run_launcher.supports_check_run_worker_health`: the k8s, ECS and Docker launchers):
   the call Dagster's run monitoring daemon makes. A FAILED or NOT_FOUND worker is dead.
2. Otherwise the worker's pid: Dagster stamps every event with the pid of the process that
   emitted it (`DagsterEvent.pid`), and the run's RUN_START event comes from the run worker.
   The run is dead when that pid is not a process on this host, is a zombie, or belongs to
   a process that started after the RUN_START event (the pid was reused). This presumes run
   workers run on the sensor's host, which holds for the default run launcher, `ovc dev`
   and in-process runs; where workers live elsewhere set `OVC_RUN_PID_CHECK=0` and rely on
   Dagster's run monitoring, which marks such runs FAILURE (they are then reported as such).
A launcher's verdict on a run younger than `grace_seconds` is not trusted yet (a worker
may not be scheduled yet); the pid evidence needs no grace: RUN_START is written by the
worker itself, so its pid was alive at that moment.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

DEFAULT_GRACE_SECONDS = 30.0
PID_CHECK_ENV = "OVC_RUN_PID_CHECK"
_PROC = Path("/proc")


def pid_check_enabled() -> bool:
    return os.environ.get(PID_CHECK_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def dead_run_reason(
    instance: dg.DagsterInstance,
    record: dg.RunRecord,
    *,
    now: datetime | None = None,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> str | None:
    """Why this STARTED run is dead, or None when it is (or may be) alive."""
    run = record.dagster_run
    if run.status != dg.DagsterRunStatus.STARTED:
        return None
    launcher = getattr(instance, "run_launcher", None)
    if launcher is not None and getattr(launcher, "supports_check_run_worker_health", False):
        now = now or datetime.now(UTC)
        started = record.start_time or record.create_timestamp.timestamp()
        if now.timestamp() - started < grace_seconds:
            return None
        try:
            health = launcher.check_run_worker_health(run)
        except Exception:  # noqa: BLE001 - no verdict from the launcher: judge by nothing else
            return None
        status = getattr(getattr(health, "status", None), "value", None)
        if status in ("FAILED", "NOT_FOUND"):
            return f"the run worker is gone ({status}: {health.msg or 'no detail'}), run still recorded as STARTED"
        return None

    if not pid_check_enabled():
        return None
    start_event = _run_start_event(instance, run.run_id)
    if start_event is None or start_event.dagster_event is None or start_event.dagster_event.pid is None:
        return None
    pid = start_event.dagster_event.pid
    if not process_alive(pid, not_started_after=start_event.timestamp):
        return f"the run worker process (pid {pid}) is gone while the run is still recorded as STARTED"
    return None


def _run_start_event(instance: dg.DagsterInstance, run_id: str) -> dg.EventLogEntry | None:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    return records[0].event_log_entry if records else None


def process_alive(pid: int, *, not_started_after: float | None = None) -> bool:
    """Whether `pid` is a live (non-zombie) process on this host that, when
    `not_started_after` (epoch seconds) is given, already existed at that time."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: the signal probe is all we have
    state, start_ticks = stat
    if state in ("Z", "X"):
        return False
    if not_started_after is not None:
        started_at = _process_start_time(start_ticks)
        # One second of slack: /proc times are in clock ticks, event times in float seconds.
        if started_at is not None and started_at > not_started_after + 1.0:
            return False
    return True


def _proc_stat(pid: int) -> tuple[str, int] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _process_start_time(start_ticks: int) -> float | None:
    try:
        boot_time = next(
            float(line.split()[1]) for line in (_PROC / "stat").read_text().splitlines() if line.startswith("btime ")
        )
        ticks_per_second = os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return None
    return boot_time + start_ticks / ticks_per_second

