"""`ovc dev`: one command brings up the receiver, the Dagster UI and the daemon on the test
database, prints the three URLs, and SIGTERM stops every process it started within seconds."""

from __future__ import annotations

import signal

import httpx
import pytest

from ovc_assets.cli.dev import STOP_GRACE_SECONDS, dev_urls
from ovc_assets_tests.backfill.conftest import cli_environment
from ovc_assets_tests.cli.dev_stack import DevStack, group_alive

READY_TIMEOUT = 240
STOP_MARGIN_SECONDS = 5  # the grace period, then SIGKILL and reaping


def test_the_urls_name_loopback_for_a_wildcard_host() -> None:
    assert dev_urls("0.0.0.0", 3000, 8080).health == "http://127.0.0.1:8080/healthz"
    assert dev_urls("127.0.0.1", 3000, 8080).webhook == "http://127.0.0.1:8080/tv"


@pytest.mark.timeout(420)
def test_ovc_dev_serves_the_three_urls_and_stops_everything_on_sigterm(empty_database_url, tmp_path) -> None:
    env = cli_environment(empty_database_url, tmp_path / "ovc_home")
    stack = DevStack.start(env, tmp_path / "ovc_dev.log")
    try:
        stack.wait_ready(READY_TIMEOUT)
        assert set(stack.urls) == {"Dagster UI", "webhook", "health"}
        assert len(stack.groups) == 3, "receiver, webserver, daemon, each in a group of its own"
        with httpx.Client(timeout=10) as client:
            assert client.get(f"{stack.urls['Dagster UI']}/server_info").status_code == 200
            assert client.get(stack.urls["health"]).json()["ok"] is True
            refused = client.post(stack.urls["webhook"], content=b"not an export", headers={"content-type": "text/plain"})
            assert refused.status_code == 400 and refused.json()["ok"] is False

        seconds = stack.stop(signal.SIGTERM)

        assert stack.process.returncode == 0
        assert seconds < STOP_GRACE_SECONDS + STOP_MARGIN_SECONDS
        assert [pgid for pgid in stack.groups if group_alive(pgid)] == []
        assert "ovc dev: stopped" in open(tmp_path / "ovc_dev.log").read()
    finally:
        stack.kill_leftovers()
