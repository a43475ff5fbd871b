"""Fixtures of the contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovc_assets.contracts.parser import _compiled_contracts
from ovc_assets.contracts.spec import load_contracts


@pytest.fixture
def fresh_contracts() -> Iterator[None]:
    """The contract files read and compiled again for this test, not taken from the process cache:
    a test that judges how the specs and the parser's field tables are built must see them built
    (mutation testing runs a changed builder in a process whose caches were filled before)."""
    load_contracts.cache_clear()
    _compiled_contracts.cache_clear()
    yield
