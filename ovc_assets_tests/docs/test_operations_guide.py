"""docs/operations.md is executable: every fenced `bash` block runs, in order, from the
repository root against a demo database of this module's own, every `sql` block runs against
that database, and a `text` block after a `bash` block lists lines its output must contain.
A query on a table the demo fills must return rows, unless it says `-- empty when healthy`
(then it must return none).

The guide is one script (its receiver started in section 2 is stopped in section 5), run as one
test per section heading, in the guide's order, on one database: the first section (migrate,
`ovc demo`) runs once in the module's fixture. After a failing section the later ones are
skipped, naming it, since they would run on a state the guide does not describe. `make test`
runs a test file whole on one worker (`--dist loadfile`), so the order holds under xdist too.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ovc_assets.storage.postgres import connect

REPO_ROOT = Path(__file__).resolve().parents[2]
GUIDE = REPO_ROOT / "docs" / "operations.md"
FENCE = re.compile(r"^```([a-z]*)\n(.*?)^```[ \t]*$", re.S | re.M)
SECTION_HEADING = re.compile(r"^#{2,3} (.+)$", re.M)
RUNNABLE = {"bash", "sql"}
BLOCK_TIMEOUT_SECONDS = 240
EPHEMERAL_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PAIR_PORTS_FROM = 20000  # above the ports services usually listen on
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
    section: str


def guide_blocks(text: str) -> list[GuideBlock]:
    """The runnable blocks, each with the `text` block that follows it (if any) and the
    heading (`##` or `###`) it is under."""
    headings = [(m.start(), m.group(1).strip()) for m in SECTION_HEADING.finditer(text)]
    fences = [(m.group(1), m.group(2), m.start()) for m in FENCE.finditer(text)]
    blocks = []
    for index, (language, body, offset) in enumerate(fences):
        if language not in RUNNABLE:
            continue
        following = fences[index + 1] if index + 1 < len(fences) else None
        expected = ()
        if following is not None and following[0] == "text":
            expected = tuple(stripped for stripped in (raw.strip() for raw in following[1].splitlines()) if stripped)
        section = next((title for start, title in reversed(headings) if start < offset), "")
        blocks.append(GuideBlock(language, body, expected, text.count("\n", 0, offset) + 1, section))
    return blocks


def guide_sections() -> list[str]:
    """The headings that have runnable blocks, in the guide's order."""
    return list(dict.fromkeys(block.section for block in guide_blocks(GUIDE.read_text(encoding="utf-8"))))


def free_port_pair() -> int:
    """A port P on 127.0.0.1 with P + 1 free too (the guide's second receiver), both below the
    kernel's ephemeral range. The guide binds P + 1 minutes after this check; an ephemeral port
    may meanwhile go to any other test's `bind(("127.0.0.1", 0))` or outgoing connection, and
    once did ("address already in use", three workers)."""
    ephemeral_low = int(EPHEMERAL_PORT_RANGE.read_text().split()[0]) if EPHEMERAL_PORT_RANGE.exists() else 32768
    for port in random.sample(range(PAIR_PORTS_FROM, ephemeral_low - 1), 100):
        with socket.socket() as first, socket.socket() as second:
            try:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no two adjacent free ports on 127.0.0.1 between {PAIR_PORTS_FROM} and {ephemeral_low}")


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
    sections = guide_sections()
    assert (len(sections), sections[0], sections[1], sections[-1]) == (
        16, "1. A database to look at", "The webhook receiver", "5. Stopping"
    ), "each `##`/`###` heading with blocks is a test of its own (update the literals when the guide changes)"
    assert [b.body.strip() for b in blocks if b.section == sections[0]] == ["ovc db migrate\novc db url", "ovc demo"]
    assert sum(b.language == "bash" for b in blocks) >= 15 and sum(b.language == "sql" for b in blocks) >= 10


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


def run_block(block: GuideBlock, env: dict[str, str], conn: psycopg.Connection) -> None:
    if block.language == "bash":
        output = run_bash(block, env)
        for line in block.expected_lines:
            assert line in output, f"docs/operations.md line {block.line}: {line!r} not in the output:\n{output[-3000:]}"
        return
    rows = run_sql(block, conn)
    if EMPTY_WHEN_HEALTHY in block.body:
        assert rows == [], f"docs/operations.md line {block.line}: {rows[:3]}"
    elif any(table in block.body for table in DEMO_FILLED_TABLES):
        assert rows, f"docs/operations.md line {block.line}: no rows on the demo database"


@dataclass
class GuideRun:
    """The guide's shared state: its environment, a connection to its database, and the first
    section that failed (if any)."""

    env: dict[str, str]
    conn: psycopg.Connection
    failed_section: str | None = None

    def run_section(self, section: str) -> None:
        if self.failed_section is not None:
            pytest.skip(f"an earlier section of the guide failed: {self.failed_section!r}")
        self.failed_section = section
        for block in guide_blocks(GUIDE.read_text(encoding="utf-8")):
            if block.section == section:
                run_block(block, self.env, self.conn)
        self.failed_section = None


@pytest.fixture(scope="module")
def guide_run(
    create_module_database: Callable[[bool], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GuideRun]:
    """A demo database, made by running the guide's first section (migrate, `ovc demo`) once."""
    database_url = create_module_database(True)
    home = tmp_path_factory.mktemp("guide") / "ovc_home"
    home.mkdir()
    env = {name: value for name, value in os.environ.items() if name not in SCRUBBED_ENV}
    env.update(
        OVC_DATABASE_URL=database_url,
        OVC_HOME=str(home),
        PORT=str(free_port_pair()),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    with connect(database_url, autocommit=True) as conn:
        run = GuideRun(env, conn)
        try:
            run.run_section(guide_sections()[0])
            yield run
        finally:
            stop_guide_receiver(home)


def stop_guide_receiver(home: Path) -> None:
    """A failed block may leave the guide's receiver running."""
    pid_file = home / "receiver.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass


@pytest.mark.parametrize("section", guide_sections()[1:])
def test_every_command_and_query_of_the_section_runs_on_the_demo_database(guide_run: GuideRun, section: str) -> None:
    guide_run.run_section(section)
