"""`ovc` through its entry point in the test's process: for tests of what a command prints and
its exit code, where a new process (seconds of imports each) proves nothing more. Each route
keeps a test of the real process (cli/test_cli_db.py: the one-line coded error and its exit)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping
from contextlib import redirect_stderr, redirect_stdout
from unittest import mock

import pytest

from ovc_assets.cli.app import main


def run_ovc_in_process(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """`main()` with `args` and `env` as the whole environment (restored after, as `main`
    sets defaults in it); stdout, stderr and the exit code as `subprocess.run` gives them."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, dict(env), clear=True), mock.patch.object(sys, "argv", ["ovc", *args]):
        with redirect_stdout(stdout), redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
            main()
    return subprocess.CompletedProcess(["ovc", *args], exit_info.value.code or 0, stdout.getvalue(), stderr.getvalue())
