"""The browser suite's stack: `ovc demo` on a fresh test database, then `ovc dev` on loopback
ports, driven by Debian's Chromium through Playwright (never a browser download).

The demo week (January 2026) is older than the default partitions (the last 4 weeks), so the
stack lists 2H partitions from the demo week on, as the README tells demo users to. A second
webserver on the same instance runs the default configuration, for the page-time goal.

Screenshots and page timings go to `$OVC_UI_ARTIFACTS` (CI: `.ci/artifacts/ui`), else to
`ui-artifacts/` under pytest's temporary folder. Without Chromium or Playwright the suite is
skipped, saying which is missing.

The stack and the browser are module-scoped, not session-scoped: `make test` runs this file
whole on one xdist worker, among other files, and Playwright's sync API keeps an event loop
running in the main thread while it is open, which made every later test of that worker that
calls `asyncio.run()` fail; `ovc dev` would also keep loading the worker until the session ends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ovc_assets.cli.dev import CODE_LOCATION_MODULE
from ovc_assets.dagster_env import DAGSTER_ENV_DEFAULTS
from ovc_assets.demo.sample_week import DEMO_PARTITIONS_START
from ovc_assets_tests.backfill.conftest import cli_environment
from ovc_assets_tests.cli.dev_stack import DevStack, free_port, group_alive
from ovc_assets_tests.conftest import REPO_ROOT

CHROMIUM = os.environ.get("OVC_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
DEMO_SYMBOLS = "GBPUSD,EURUSD"
READY_TIMEOUT = 300
PAGE_TIMEOUT_MS = 120_000
REPORT_SENSOR_SECONDS = 5  # the backfill test waits for a report after each run; 30 s by default


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set OVC_CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def ui_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("OVC_UI_ARTIFACTS") or tmp_path_factory.getbasetemp() / "ui-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def demo_env(create_module_database, tmp_path_factory) -> dict[str, str]:
    """The environment of the stack's `ovc` processes, on a fresh database where `ovc demo` ran."""
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    home = tmp_path_factory.mktemp("ui") / "ovc_home"
    env = {
        **cli_environment(create_module_database(False), home),
        "OVC_SYMBOLS": DEMO_SYMBOLS,
        "OVC_PARTITIONS_START": DEMO_PARTITIONS_START,
        "OVC_REPORT_SENSOR_SECONDS": str(REPORT_SENSOR_SECONDS),
    }
    demo = subprocess.run(
        [sys.executable, "-m", "ovc_assets.cli", "demo"], cwd=REPO_ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def ui_stack(demo_env, default_webserver, ui_artifacts) -> Iterator[tuple[DevStack, dict[str, str]]]:
    """`ovc dev` after `ovc demo`; stopped with Ctrl-C (SIGINT) at the end, leaving nothing behind.
    The default configuration's webserver is started first, so that the two start-ups overlap."""
    stack = DevStack.start(demo_env, ui_artifacts / "ovc_dev.log")
    try:
        stack.wait_ready(READY_TIMEOUT)
        yield stack, demo_env
        stack.stop(signal.SIGINT)
        assert stack.process.returncode == 0
        assert [pgid for pgid in stack.groups if group_alive(pgid)] == []
    finally:
        stack.kill_leftovers()


@pytest.fixture(scope="module")
def ui_url(ui_stack) -> str:
    return ui_stack[0].urls["Dagster UI"]


def graphql_client(url: str) -> Callable[[str, dict | None], dict]:
    """The GraphQL endpoint of the webserver at `url` (what its pages query)."""

    def query(text: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{url}/graphql", json={"query": text, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    return query


@pytest.fixture(scope="module")
def graphql(ui_url) -> Callable[[str, dict | None], dict]:
    return graphql_client(ui_url)


LOCATION_STATUS = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"


@pytest.fixture(scope="module")
def default_webserver(demo_env, ui_artifacts) -> Iterator[tuple[subprocess.Popen, str]]:
    """A Dagster webserver on the stack's instance and code at the default configuration (no
    `OVC_PARTITIONS_START`), and its URL; no daemon, so it launches nothing."""
    env = {name: value for name, value in {**os.environ, **demo_env}.items() if name != "OVC_PARTITIONS_START"}
    env = {**DAGSTER_ENV_DEFAULTS, **env}
    url = f"http://127.0.0.1:{free_port()}"
    command = [str(Path(sys.executable).parent / "dagster-webserver"), "-m", CODE_LOCATION_MODULE,
               "-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1], "--log-level", "warning"]  # fmt: skip
    with (ui_artifacts / "default_webserver.log").open("w") as log:
        server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    try:
        yield server, url
    finally:
        # A helper, not under test (`ovc dev`'s clean stop is): on SIGTERM Dagster's webserver
        # took 7.6-11.5 s to exit here, so its group (it and its code server) is killed at once.
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def default_ui_url(default_webserver, ui_artifacts) -> str:
    """The default configuration's webserver, once its code is loaded."""
    server, url = default_webserver
    query = graphql_client(url)

    def code_loaded() -> bool:
        assert server.poll() is None, f"the default webserver exited: see {ui_artifacts / 'default_webserver.log'}"
        try:
            entries = query(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
        except httpx.HTTPError:
            return False
        return bool(entries) and all(entry["loadStatus"] == "LOADED" for entry in entries)

    wait_for(code_loaded, READY_TIMEOUT, "the default webserver", interval=1.0)
    return url


@pytest.fixture(scope="module")
def browser(ui_stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page_timings(ui_artifacts) -> Iterator[dict[str, float]]:
    """Seconds from navigation to the page's content, per page; written to timings.json."""
    timings: dict[str, float] = {}
    yield timings
    (ui_artifacts / "timings.json").write_text(json.dumps(timings, indent=2, sort_keys=True))


def _page_on(browser, url: str, screenshot: Path):
    """A page in a fresh browser context on `url`; its screenshot is saved at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=url)
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    yield page
    page.screenshot(path=str(screenshot), full_page=True)
    context.close()


@pytest.fixture
def page(browser, ui_url, ui_artifacts, request):
    yield from _page_on(browser, ui_url, ui_artifacts / f"{request.node.name}.png")


@pytest.fixture
def default_page(browser, default_ui_url, ui_artifacts, request):
    """A page on the webserver at the default configuration."""
    yield from _page_on(browser, default_ui_url, ui_artifacts / f"{request.node.name}.png")


def open_page(page, timings: dict[str, float], name: str, path: str, ready) -> float:
    """Navigate to `path` and wait for `ready` (a locator) to be visible; records the time."""
    started = time.monotonic()
    page.goto(path)
    ready(page).first.wait_for(state="visible")
    seconds = time.monotonic() - started
    timings[name] = round(seconds, 3)
    return seconds


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

