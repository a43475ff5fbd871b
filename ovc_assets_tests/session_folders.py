"""The private temporary folders of pytest sessions (`/tmp/ovc-pytest-*`, see conftest.py): a
failing session keeps its folder to be looked at, and only the newest few of those are kept,
so hundreds of them do not pile up. A session holds a lock while it runs, so another session
starting meanwhile never removes its folder. The lock is a file beside the folder, not in it:
pytest empties a given `--basetemp` folder when it first uses it."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

KEPT_ENDED_SESSIONS = 5
# A folder without a lock file belongs to a session of an older checkout, which cannot say
# whether it still runs; no session runs for a day.
UNLOCKED_ENDED_AFTER_SECONDS = 24 * 3600


def lock_file_of(folder: Path) -> Path:
    return folder.with_name(f"{folder.name}.lock")


@dataclass
class SessionFolder:
    path: Path
    lock: IO[bytes]

    def release(self) -> None:
        """End the session's hold; a removed folder takes its lock file with it."""
        if not self.path.exists():
            lock_file_of(self.path).unlink(missing_ok=True)
        self.lock.close()


def open_session_folder(parent: Path, prefix: str, keep: int = KEPT_ENDED_SESSIONS) -> SessionFolder:
    """A new folder `<parent>/<prefix>*`, locked until `release`; first removes the folders of
    ended sessions but the `keep` newest."""
    remove_ended_session_folders(parent, prefix, keep)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    # The lock file is locked before it takes its name: a session scanning meanwhile finds no
    # lock file (a young folder: in use) or a held lock, never a free one it would call ended.
    descriptor, pending = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    lock = os.fdopen(descriptor, "wb")
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.rename(pending, lock_file_of(path))
    return SessionFolder(path, lock)


def remove_ended_session_folders(parent: Path, prefix: str, keep: int) -> list[Path]:
    """Remove the folders of ended sessions but the `keep` newest (by modification time); a
    folder whose session still runs is never touched. Returns the folders removed."""
    ended: list[tuple[float, Path]] = []
    for folder in parent.glob(f"{prefix}*"):
        try:
            if folder.is_dir() and not _in_use(folder):
                ended.append((folder.stat().st_mtime, folder))
        except FileNotFoundError:  # removed meanwhile, by its own session or another one starting
            continue
    ended.sort(reverse=True)
    removed = [folder for _, folder in ended[keep:]]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
        lock_file_of(folder).unlink(missing_ok=True)
    return removed


def _in_use(folder: Path) -> bool:
    try:
        with lock_file_of(folder).open("rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return time.time() - folder.stat().st_mtime < UNLOCKED_ENDED_AFTER_SECONDS
    except (BlockingIOError, PermissionError):  # running, or another user's
        return True
    return False
