"""Locate the project's data folders (`sql/`, `contracts/`) in a checkout or an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ovc_assets.errors import ErrorCode, OvcError

_PACKAGE_DIR = Path(__file__).resolve().parent


def project_dir(name: str) -> Path:
    """The folder `name` shipped with the package: inside a wheel it is copied to
    `ovc_assets/_data/<name>`; in a checkout (editable install) it sits at the repository root."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise OvcError(ErrorCode.CONFIG, f"the project folder '{name}/' is missing from the installation")


@cache
def load_query(name: str) -> str:
    """The text of `sql/queries/<name>.sql`."""
    return (project_dir("sql") / "queries" / f"{name}.sql").read_text(encoding="utf-8")
