"""Receiver fixtures: the app in-process on a fresh database and a local raw store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette

from ovc_assets.receiver.app import create_app
from ovc_assets.receiver.config import ReceiverConfig
from ovc_assets.storage.raw_store import FileRawStore, RawStore
from ovc_assets_tests.receiver.receiver_harness import FAST_TUNING
from ovc_assets_tests.receiver.receiver_payloads import TOKEN


@pytest.fixture
def raw_root(tmp_path: Path) -> Path:
    return tmp_path / "raw"


@pytest.fixture
def store(raw_root: Path) -> FileRawStore:
    return FileRawStore(raw_root)


@pytest.fixture
def config(raw_root: Path) -> ReceiverConfig:
    """The default layout (spool inside the file store) with the test token."""
    return ReceiverConfig(spool_dir=raw_root / ".spool", token=TOKEN)


@pytest.fixture
def make_app(database_url: str, store: FileRawStore, config: ReceiverConfig) -> Callable[..., Starlette]:
    """Build the receiver; `dsn` and `raw_store` replace the test's, other keyword arguments
    override fields of `config`."""

    def make(dsn: str | None = None, raw_store: RawStore | None = None, **overrides: Any) -> Starlette:
        merged = ReceiverConfig(**{**config.__dict__, **overrides})
        return create_app(merged, dsn=dsn or database_url, store=raw_store or store, tuning=FAST_TUNING)

    return make
