"""Failing sessions keep their temporary folder, but only the newest few: the others are removed
when a session starts, except the folders of sessions still running."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from ovc_assets_tests.conftest import PRIVATE_BASETEMP_PREFIX
from ovc_assets_tests import session_folders
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


def test_a_starting_sessions_lock_file_is_never_seen_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another session scanning between the lock file's creation and its lock would call the new
    session ended and (with enough newer failed sessions) remove its folder: the lock must be
    held before the lock file has its name."""
    named_when_locked: list[bool] = []
    lock_it = fcntl.flock

    def flock_seeing_the_name(file, operation):
        named_when_locked.extend(lock_file_of(folder).exists() for folder in tmp_path.glob(f"{PRIVATE_BASETEMP_PREFIX}*") if folder.is_dir())
        return lock_it(file, operation)

    monkeypatch.setattr(session_folders.fcntl, "flock", flock_seeing_the_name)
    session = open_session_folder(tmp_path, PRIVATE_BASETEMP_PREFIX)
    try:
        assert named_when_locked == [False]
        assert lock_file_of(session.path).exists()
    finally:
        session.release()


def test_a_folder_removed_by_its_own_session_while_others_are_listed_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vanishing = _ended_session(tmp_path, "vanishing", mtime=2_000_000)
    kept = [_ended_session(tmp_path, f"ended{age}", mtime=1_000_000 - age) for age in range(3)]
    judge = session_folders._in_use

    def in_use_while_one_vanishes(folder: Path) -> bool:
        if folder == vanishing:
            shutil.rmtree(folder)  # its session passed and removed its folder meanwhile
        return judge(folder)

    monkeypatch.setattr(session_folders, "_in_use", in_use_while_one_vanishes)
    assert session_folders.remove_ended_session_folders(tmp_path, PRIVATE_BASETEMP_PREFIX, keep=2) == [kept[2]]
    assert [folder.exists() for folder in kept] == [True, True, False]
