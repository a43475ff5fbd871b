"""Bodies that come from files: alert-log replay, the FULL cold path, and their commands."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ovc_assets.cli.app import app as cli
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.receiver import land_cold_full, replay_alert_log
from ovc_assets.settings import Settings
from ovc_assets.storage.raw_store import FileRawStore
from ovc_assets_tests.ovc_in_process import run_ovc_in_process
from ovc_assets_tests.receiver.receiver_harness import fetch_events, post, run
from ovc_assets_tests.receiver.receiver_payloads import (
    ALERT_EXPORT,
    ALERT_LOG_TIME,
    FULL_EXPORT,
    unique_export,
)

ALERT_LOG_HEADER = ["Alert ID", "Ticker", "Name", "Description", "Time"]


def write_alert_log(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(ALERT_LOG_HEADER)
        for number, (payload, time) in enumerate(rows):
            writer.writerow([3765087917 + number, "FX:GBPUSD, 1m", "OVC v0.1 — L1 / L2 (3, MIN, …)", payload, time])
    return path


@pytest.fixture
def settings(database_url: str, raw_root: Path, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, raw_store_url=raw_root.as_uri(), s3_endpoint_url=None)


def test_an_alert_log_lands_at_the_alerts_own_times(
    settings: Settings, database_url: str, raw_root: Path, tmp_path: Path
) -> None:
    log = write_alert_log(
        tmp_path / "alerts.csv",
        [(ALERT_EXPORT, ALERT_LOG_TIME), (FULL_EXPORT, "2026-01-14T11:24:00Z"), (unique_export(1), "2026-01-14T13:24:00+00:00")],
    )
    counts = replay_alert_log(log, settings=settings)
    assert (counts.received, counts.landed, counts.duplicates, counts.rejected, counts.problems) == (3, 3, 0, 1, [])
    events = fetch_events(database_url)
    assert [e["received_at"] for e in events] == [
        datetime(2026, 1, 14, 9, 24, tzinfo=UTC),
        datetime(2026, 1, 14, 11, 24, tzinfo=UTC),
        datetime(2026, 1, 14, 13, 24, tzinfo=UTC),
    ]
    assert {e["route"] for e in events} == {"replay_alerts"}
    assert events[1]["codes"] == ["E_PROFILE"] and events[1]["block_id"] == "20260113-F-GBPUSD"
    assert {e["raw_key"] for e in events} == set(FileRawStore(raw_root).list_keys())
    assert all(e["raw_key"].startswith("tv/2026-01-14/") for e in events)

    again = replay_alert_log(log, settings=settings)
    assert (again.landed, again.duplicates) == (0, 3)
    assert len(fetch_events(database_url)) == 3


def test_what_the_webhook_landed_is_not_landed_again(make_app, settings: Settings, database_url: str, tmp_path: Path) -> None:
    assert run(make_app(), post("/tv", ALERT_EXPORT)).status_code == 200
    rows = [(ALERT_EXPORT, datetime.now(UTC).isoformat()), (unique_export(9), ALERT_LOG_TIME)]
    log = write_alert_log(tmp_path / "alerts.csv", rows)
    counts = replay_alert_log(log, settings=settings)
    assert (counts.landed, counts.duplicates) == (1, 1)
    webhook = [e for e in fetch_events(database_url) if e["route"] == "tv"]
    assert webhook[0]["duplicate_count"] == 0


def test_rows_without_a_usable_time_are_reported(settings: Settings, tmp_path: Path) -> None:
    log = write_alert_log(tmp_path / "alerts.csv", [(ALERT_EXPORT, "yesterday"), (unique_export(2), "2026-01-14T09:24:00")])
    counts = replay_alert_log(log, settings=settings)
    assert counts.received == 0 and len(counts.problems) == 2 and counts.problems[0].startswith("line 2:")


def test_a_file_that_is_not_an_alert_log_is_refused(settings: Settings, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(OvcError, match="not a TradingView alert log") as raised:
        replay_alert_log(other, settings=settings)
    assert raised.value.code is ErrorCode.INPUT_FORMAT


def test_land_cold_full(settings: Settings, database_url: str) -> None:
    counts = land_cold_full([FULL_EXPORT, ALERT_EXPORT.encode()], settings=settings)
    assert (counts.received, counts.landed, counts.rejected) == (2, 2, 1)
    full, refused = sorted(fetch_events(database_url), key=lambda e: e["parse_status"])
    assert (full["route"], full["contract"], full["block_id"]) == ("cold_full", "FULL_V0_1", "20260113-F-GBPUSD")
    assert full["block_start"] == datetime(2026, 1, 14, 8, tzinfo=UTC)
    assert refused["codes"] == ["E_PROFILE"]
    assert land_cold_full([FULL_EXPORT], settings=settings).duplicates == 1


def test_the_replay_commands(ovc_env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    log = write_alert_log(tmp_path / "alerts.csv", [(ALERT_EXPORT, ALERT_LOG_TIME)])
    first = runner.invoke(cli, ["replay", "alerts", str(log)])
    assert first.exit_code == 0, first.output
    assert "1 payload(s), 1 landed, 0 already landed" in first.output
    assert "0 landed, 1 already landed" in runner.invoke(cli, ["replay", "alerts", str(log)]).output
    spool = runner.invoke(cli, ["replay", "spool"])
    assert spool.exit_code == 0 and "0 segment(s) replayed" in spool.output
    bad = runner.invoke(cli, ["replay", "alerts", str(write_alert_log(tmp_path / "bad.csv", [(ALERT_EXPORT, "soon")]))])
    assert bad.exit_code == 1 and "no usable Time" in bad.output


def test_serve_refuses_to_start_with_pending_migrations(ovc_env: dict[str, str], empty_database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("OVC_DATABASE_URL", empty_database_url)
    result = CliRunner().invoke(cli, ["serve", "--port", "1"])
    assert isinstance(result.exception, OvcError) and result.exception.code is ErrorCode.CONFIG
    assert "ovc db migrate" in result.exception.message


def test_a_field_over_the_csv_limit_is_a_coded_error_in_validate_and_replay(ovc_env: dict[str, str], tmp_path: Path) -> None:
    huge = "x" * (200 * 1024)
    log = write_alert_log(tmp_path / "alerts.csv", [(ALERT_EXPORT, ALERT_LOG_TIME), (huge, ALERT_LOG_TIME)])
    for command in (["contract", "validate", str(log)], ["replay", "alerts", str(log)]):
        result = run_ovc_in_process(*command, env={**os.environ, **ovc_env})
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"error E_INPUT_FORMAT: {log}: line 3: not readable as CSV: field larger than field limit (131072)"
        ]
    assert "Traceback" not in result.stderr


def test_a_header_naming_description_twice_is_refused_by_validate_and_replay(ovc_env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "alerts.csv"
    with log.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["Alert ID", "Description", "Time", "Description"])
        writer.writerow(["1", ALERT_EXPORT, ALERT_LOG_TIME, unique_export(3)])
    for command in (["contract", "validate", str(log)], ["replay", "alerts", str(log)]):
        result = run_ovc_in_process(*command, env={**os.environ, **ovc_env})
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.strip() == f"error E_INPUT_FORMAT: {log}: the header names Description more than once"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00", "1999-12-31T23:59:59+00:00"])
def test_alert_times_before_2000_or_in_the_future_are_problems_not_events(
    settings: Settings, database_url: str, tmp_path: Path, moment: str
) -> None:
    tomorrow_and_more = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    rows = [(unique_export(5), moment), (unique_export(6), tomorrow_and_more), (ALERT_EXPORT, ALERT_LOG_TIME)]
    counts = replay_alert_log(write_alert_log(tmp_path / "alerts.csv", rows), settings=settings)
    assert (counts.received, counts.landed) == (1, 1)
    assert [problem.split(":")[0] for problem in counts.problems] == ["line 2", "line 3"]
    assert all("before 2000 or in the future" in problem for problem in counts.problems)
    assert [event["received_at"].year for event in fetch_events(database_url)] == [2026]
