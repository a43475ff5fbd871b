"""No test can write into the checkout or a developer's real OVC home or database: the
session's OVC_HOME is a temporary folder and the variables naming real data are unset."""

from __future__ import annotations

import os

from ovc_assets.settings import load_settings
from ovc_assets_tests.conftest import REAL_DATA_VARIABLES, REPO_ROOT


def test_the_default_ovc_home_and_reports_folder_are_outside_the_checkout() -> None:
    settings = load_settings()
    for path in (settings.home, settings.reports_dir):
        assert not path.resolve().is_relative_to(REPO_ROOT), path
        assert not path.resolve().is_relative_to(os.getcwd()), path


def test_no_variable_pointing_at_real_data_reaches_a_test() -> None:
    assert [name for name in REAL_DATA_VARIABLES if os.environ.get(name)] == []


def test_temporary_folders_are_outside_the_folder_other_pytest_sessions_re_tighten(tmp_path) -> None:
    assert not any(part.startswith("pytest-of-") for part in tmp_path.parts)
