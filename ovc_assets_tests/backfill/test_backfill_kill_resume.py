"""kill -9 in the middle of `ovc backfill csv`, then the same command again: it resumes after
the last committed chunk, and the table ends as after an uninterrupted run (on a database of
the module's own, run once for both tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.cli.app import app
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import cli_environment, content_checksum

REPO_ROOT = Path(__file__).resolve().parents[2]
WEEK = (Block(date(2026, 2, 1), "A").start_utc, Block(date(2026, 2, 6), "A").start_utc)
CHUNK_BLOCKS = 2
KILL_AFTER_CHUNKS = 3
POLL_SECONDS = 0.005
CHECKPOINT_SQL = "SELECT chunks_committed, blocks_committed, completed_at IS NOT NULL FROM ovc.backfill_checkpoints"


@pytest.fixture(scope="module")
def one_second_bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of 1-second EURUSD bars (432,000 rows, epoch-second timestamps): big enough that
    the backfill's commits spread over a fraction of a second to kill it among."""
    starts = np.concatenate([
        np.arange(int(block.start_utc.timestamp()), int(block.end_utc.timestamp()))
        for block in FxCalendar().expected_blocks(*WEEK)
    ])  # fmt: skip
    rng = np.random.default_rng(20260201)
    opens = 1.17 + np.cumsum(rng.normal(0, 1e-5, len(starts)))
    closes = opens + rng.normal(0, 1e-5, len(starts))
    path = tmp_path_factory.mktemp("kill") / "eurusd_s1.csv"
    pd.DataFrame({
        "timestamp": starts,
        "open": opens.round(5),
        "high": (np.maximum(opens, closes) + 1e-4).round(5),
        "low": (np.minimum(opens, closes) - 1e-4).round(5),
        "close": closes.round(5),
        "volume": rng.integers(1, 9, len(starts)),
    }).to_csv(path, index=False)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def uninterrupted_checksum(
    one_second_bars: Path, create_module_database: Callable[[bool], str], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The table's content after the same command ran uninterrupted (in-process): what both
    killed backfills must end as."""
    database_url = create_module_database(True)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in cli_environment(database_url, tmp_path_factory.mktemp("uninterrupted")).items():
            patch.setenv(name, value)
        baseline = CliRunner().invoke(app, _command(one_second_bars))
    assert baseline.exit_code == 0, baseline.output
    return content_checksum(database_url)


def _command(path: Path) -> list[str]:
    return ["backfill", "csv", "--symbol", "EURUSD", "--file", str(path), "--chunk-blocks", str(CHUNK_BLOCKS)]


def _checkpoint(database_url: str) -> tuple[int, int, bool] | None:
    with connect(database_url) as conn:
        return conn.execute(CHECKPOINT_SQL).fetchone()


def _start_ovc(path: Path, environment: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ovc_assets.cli", *_command(path)],
        env={**os.environ, **environment, "PYTHONPATH": str(REPO_ROOT)},
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_killed_backfill_resumes_and_ends_as_an_uninterrupted_one(
    one_second_bars, uninterrupted_checksum, database_url, tmp_path
) -> None:
    environment = cli_environment(database_url, tmp_path / "killed")
    killed = _start_ovc(one_second_bars, environment)
    deadline = time.monotonic() + 90
    while (checkpoint := _checkpoint(database_url)) is None or checkpoint[0] < KILL_AFTER_CHUNKS:
        assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()
        time.sleep(POLL_SECONDS)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL

    chunks, blocks, completed = _checkpoint(database_url)
    assert not completed and KILL_AFTER_CHUNKS <= chunks < 60 // CHUNK_BLOCKS
    with connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone()[0] == blocks == chunks * CHUNK_BLOCKS

    resumed = _start_ovc(one_second_bars, environment)
    output, errors = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, errors
    assert "EURUSD: resuming after " in output
    assert f"{60 - blocks} blocks: {60 - blocks} inserted" in output
    assert _checkpoint(database_url) == (60 // CHUNK_BLOCKS, 60, True)

    assert content_checksum(database_url) == uninterrupted_checksum


def test_a_backfill_killed_in_dagster_bookkeeping_reruns_to_the_same_table(
    one_second_bars, uninterrupted_checksum, database_url, tmp_path
) -> None:
    """Killed after its last chunk committed, while Dagster records the run's events: the same
    command again is a full, idempotent pass and the table ends as after an uninterrupted run."""
    environment = cli_environment(database_url, tmp_path / "killed")
    killed = _start_ovc(one_second_bars, environment)
    deadline = time.monotonic() + 90
    while (checkpoint := _checkpoint(database_url)) is None or not checkpoint[2]:
        assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()
        time.sleep(POLL_SECONDS)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL  # still in its bookkeeping when killed

    rerun = _start_ovc(one_second_bars, environment)
    output, errors = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, errors
    assert "60 blocks: 0 inserted, 0 updated, 60 unchanged" in output

    assert content_checksum(database_url) == uninterrupted_checksum
