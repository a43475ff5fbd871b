"""Environment-driven settings, read when asked for and never at import time."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ovc_assets.errors import ErrorCode, OvcError

DEFAULT_SYMBOLS = ("GBPUSD",)
SYMBOL_PATTERN = re.compile(r"[A-Z0-9._]{1,32}")  # what a block id accepts as its symbol


def ovc_home() -> Path:
    """`$OVC_HOME`, default `./.ovc`, as an absolute path."""
    return Path(os.environ.get("OVC_HOME") or ".ovc").expanduser().resolve()


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    raw_store_url: str
    s3_endpoint_url: str | None
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS

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
        symbols=configured_symbols(os.environ.get("OVC_SYMBOLS")),
    )


def configured_symbols(text: str | None) -> tuple[str, ...]:
    """`OVC_SYMBOLS`: the symbols the live pipeline expects and checks, comma-separated
    (e.g. `GBPUSD,EURUSD`); unset or empty, GBPUSD."""
    symbols = tuple(dict.fromkeys(part.strip().upper() for part in (text or "").split(",") if part.strip()))
    bad = [symbol for symbol in symbols if not SYMBOL_PATTERN.fullmatch(symbol)]
    if bad:
        raise OvcError(ErrorCode.CONFIG, f"OVC_SYMBOLS has symbols that cannot name blocks: {', '.join(bad)}")
    return symbols or DEFAULT_SYMBOLS
