"""Environment-driven settings, read when asked for and never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def ovc_home() -> Path:
    """`$OVC_HOME`, default `./.ovc`, as an absolute path."""
    return Path(os.environ.get("OVC_HOME") or ".ovc").expanduser().resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    raw_store_url: str
    s3_endpoint_url: str | None

    @property
    def pgdata(self) -> Path:
        return self.home / "pg"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


def load_settings() -> Settings:
    home = ovc_home()
    return Settings(
        home=home,
        database_url=os.environ.get("OVC_DATABASE_URL") or None,
        raw_store_url=os.environ.get("OVC_RAW_STORE") or (home / "raw").as_uri(),
        s3_endpoint_url=os.environ.get("OVC_S3_ENDPOINT_URL") or None,
    )
