"""The deployment guide's `dagster.yaml` is the instance `ovc` writes, for what a server needs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ovc_assets.dagster_instance import DAGSTER_YAML

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
SERVER_SETTINGS = ("run_storage", "event_log_storage", "schedule_storage", "run_coordinator")


def test_the_guides_dagster_yaml_has_the_storage_and_run_queue_ovc_writes() -> None:
    guide = GUIDE.read_text()
    after_heading = guide[guide.index("`dagster.yaml` in `DAGSTER_HOME`") :]
    block = re.search(r"```yaml\n(.*?)```", after_heading, re.DOTALL)
    assert block, "deploy.md has no yaml block after its dagster.yaml paragraph"
    documented, written = yaml.safe_load(block.group(1)), yaml.safe_load(DAGSTER_YAML)
    for setting in SERVER_SETTINGS:
        assert documented.get(setting) == written[setting], setting
