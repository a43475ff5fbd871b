"""Failing sessions keep their temporary folder, but only the newest few: the others are removed
when a session starts, except the folders of sessions still running."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ovc_assets_tests.conftest import PRIVATE_BASETEMP_PREFIX
from ovc_assets_tests.session_folders import lock_file_of, open_session_folder


def _ended_session(parent: Path, name: str, mtime: int) -> Path:
    folder = parent / f"{PRIVATE_BASETEMP_PREFIX}{name}"
    (folder / "popen-gw0").mkdir(parents=True)
    lock_file_of(folder).touch()
    os.utime(folder, (mtime, mtime))
    return folder


def test_a_new_session_keeps_the_newest_ended_folders_and_every_running_one(tmp_path: Path) -> None:
    ended = [_ended_session(tmp_path, f"ended{age}", mtime=1_000_000 - age) for age in range(8)]
    # Folders of sessions of an older checkout, without a lock: a day old, and of a session
    # that may still run.
    unlocked_old = tmp_path / f"{PRIVATE_BASETEMP_PREFIX}unlocked_old"
    unlocked_old.mkdir()
    os.utime(unlocked_old, (1, 1))
    unlocked_recent = tmp_path / f"{PRIVATE_BASETEMP_PREFIX}unlocked_recent"
    unlocked_recent.mkdir()
    running = open_session_folder(tmp_path, PRIVATE_BASETEMP_PREFIX, keep=3)
    shutil.rmtree(running.path)  # as pytest empties a given --basetemp when it first uses it
    running.path.mkdir()
    os.utime(running.path, (1, 1))  # oldest of all, but its session still runs
    unrelated = tmp_path / "pytest-of-someone"
    unrelated.mkdir()
    try:
        newest = open_session_folder(tmp_path, PRIVATE_BASETEMP_PREFIX, keep=3)
        newest.release()
        kept = [folder.name for folder in ended[:3]]
        kept += [running.path.name, newest.path.name, unlocked_recent.name, unrelated.name]
        assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == sorted(kept)
        removed = [folder.name for folder in ended[3:]] + [unlocked_old.name]
        assert [name for name in removed if lock_file_of(tmp_path / name).exists()] == []
    finally:
        running.release()


def test_a_released_folder_counts_as_ended_and_a_removed_one_leaves_no_lock_file(tmp_path: Path) -> None:
    first = open_session_folder(tmp_path, PRIVATE_BASETEMP_PREFIX, keep=1)
    first.release()  # a failing session: its folder stays
    os.utime(first.path, (1, 1))
    second = open_session_folder(tmp_path, PRIVATE_BASETEMP_PREFIX, keep=1)
    second.release()
    os.utime(second.path, (2, 2))
    third = open_session_folder(tmp_path, PRIVATE_BASETEMP_PREFIX, keep=1)
    shutil.rmtree(third.path)  # a passing session removes its folder, then releases it
    third.release()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([second.path.name, lock_file_of(second.path).name])
