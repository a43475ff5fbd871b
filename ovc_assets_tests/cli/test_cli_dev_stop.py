"""`ovc dev`'s stop: nothing of a child's process group is left when it returns, even when the
group ignores SIGTERM and must be killed."""

from __future__ import annotations

import os
import subprocess

import pytest

from ovc_assets.cli.dev import Child, stop_children

# A group leader and a grandchild that both ignore SIGTERM (an ignored signal survives exec);
# "ready" once both run.
STUBBORN_GROUP = "trap '' TERM; sleep 60 & echo ready; sleep 60; wait"


def test_a_group_that_ignores_sigterm_is_gone_when_stop_returns() -> None:
    process = subprocess.Popen(["sh", "-c", STUBBORN_GROUP], start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    stop_children([Child("stubborn", process)], grace_seconds=0.3)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
