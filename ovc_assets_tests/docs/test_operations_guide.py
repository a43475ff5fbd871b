"""docs/operations.md is executable: every fenced `bash` block runs, in order, from the
repository root against a demo database of this test's own, every `sql` block runs against
that database, and a `text` block after a `bash` block lists lines its output must contain.
A query on a table the demo fills must return rows, unless it says `-- empty when healthy`
(then it must return none)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ovc_assets.storage.postgres import connect

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "operations.md"
FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```[ \t]*$", re.S | re.M)
RUNNABLE = {"bash", "sql"}
BLOCK_TIMEOUT_SECONDS = 240
# Tables the demo fills: a query on them that returns nothing shows the guide lost its data.
DEMO_FILLED_TABLES = ("ovc_blocks_v01", "ovc_run_reports_v01", "raw_events", "ovc_runs")
EMPTY_WHEN_HEALTHY = "-- empty when healthy"
# Variables of the caller that would point the guide's commands somewhere else.
SCRUBBED_ENV = (
    "OVC_DATABASE_URL", "OVC_HOME", "OVC_RAW_STORE", "OVC_S3_ENDPOINT_URL", "DAGSTER_HOME", "OVC_DAGSTER_PG_URL",
    "OVC_TOKEN", "OVC_ALLOWED_IPS", "OANDA_API_TOKEN", "OANDA_ENV", "OANDA_BASE_URL", "OVC_ALERT_WEBHOOK_URL",
)  # fmt: skip


@dataclass(frozen=True)
class GuideBlock:
    language: str
    body: str
    expected_lines: tuple[str, ...]
    line: int


def guide_blocks(text: str) -> list[GuideBlock]:
    """The runnable blocks, each with the `text` block that follows it (if any)."""
    fences = [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]
    blocks = []
    for index, (language, body, line) in enumerate(fences):
        if language not in RUNNABLE:
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        expected = ()
        if following is not None and following[0] == "text":
            expected = tuple(stripped for stripped in (raw.strip() for raw in following[1].splitlines()) if stripped)
        blocks.append(GuideBlock(language, body, expected, line))
    return blocks


def free_port_pair() -> int:
    """A port P on 127.0.0.1 with P + 1 free too (the guide's second receiver)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


def test_every_fence_of_the_guide_is_run_or_is_the_output_of_one() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    fences = FENCE.findall(text)
    assert text.count("```") == 2 * len(fences), "an unclosed or oddly written fence would escape the test"
    assert {language for language, _ in fences} <= RUNNABLE | {"text"}
    languages = [language for language, _ in fences]
    for index, language in enumerate(languages):
        if language == "text":
            assert index > 0 and languages[index - 1] == "bash", f"text block #{index} does not follow a bash block"
    blocks = guide_blocks(text)
    assert sum(b.language == "bash" for b in blocks) >= 15 and sum(b.language == "sql" for b in blocks) >= 10


@pytest.fixture
def guide_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    home = tmp_path / "ovc_home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if name not in SCRUBBED_ENV}
    env.update(
        OVC_DATABASE_URL=database_url,
        OVC_HOME=str(home),
        PORT=str(free_port_pair()),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    yield env
    pid_file = home / "receiver.pid"
    if pid_file.exists():  # a failed block may leave the guide's receiver running
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


def run_bash(block: GuideBlock, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.body],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_SECONDS,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"docs/operations.md line {block.line}: exit {done.returncode}\n{output[-3000:]}"
    return output


def run_sql(block: GuideBlock, conn: psycopg.Connection) -> list[tuple]:
    try:
        return conn.execute(block.body).fetchall()
    except psycopg.Error as error:
        pytest.fail(f"docs/operations.md line {block.line}: {type(error).__name__}: {error}")


# The guide is one script run top to bottom (`ovc demo`, then some 30 commands, each a fresh
# `ovc` process): 4-5 minutes of real work on 2 cores, over the suite's generic 300 s cap,
# which it hit in 1 of 2 clean-clone runs. Its own budget until the guide's run is split.
@pytest.mark.timeout(900)
def test_every_command_and_query_of_the_guide_runs_on_a_demo_database(guide_env, database_url) -> None:
    blocks = guide_blocks(GUIDE.read_text(encoding="utf-8"))
    with connect(database_url, autocommit=True) as conn:
        for block in blocks:
            if block.language == "bash":
                output = run_bash(block, guide_env)
                for line in block.expected_lines:
                    assert line in output, f"docs/operations.md line {block.line}: {line!r} not in the output:\n{output[-3000:]}"
            else:
                rows = run_sql(block, conn)
                if EMPTY_WHEN_HEALTHY in block.body:
                    assert rows == [], f"docs/operations.md line {block.line}: {rows[:3]}"
                elif any(table in block.body for table in DEMO_FILLED_TABLES):
                    assert rows, f"docs/operations.md line {block.line}: no rows on the demo database"
