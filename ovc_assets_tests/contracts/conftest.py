"""Fixtures of the contract tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ovc_assets.contracts.identity import block_times, symbol_fits_block_id
from ovc_assets.contracts.parser import _compiled_contracts
from ovc_assets.contracts.spec import load_contracts


@pytest.fixture
def fresh_contracts() -> Iterator[None]:
    """The contract files read and compiled again, and block identities looked up again, for this
    test, not taken from the process caches:
    a test that judges how the specs and the parser's field tables are built must see them built
    (mutation testing runs a changed builder in a process whose caches were filled before)."""
    load_contracts.cache_clear()
    _compiled_contracts.cache_clear()
    block_times.cache_clear()
    symbol_fits_block_id.cache_clear()
    yield
