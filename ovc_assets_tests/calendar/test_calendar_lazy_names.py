"""The array names of the calendar package resolve lazily to `calendar.vectorized` (so the
block clock imports without pandas), and an unknown name is the usual AttributeError."""

import pytest

import ovc_assets.calendar as calendar
from ovc_assets.calendar import vectorized

LAZY_NAMES = ["BlockKeys", "block_bounds_utc", "block_ids", "block_keys", "block_letters", "block_pairs"]


@pytest.mark.parametrize("name", LAZY_NAMES)
def test_a_lazy_name_is_the_vectorized_object(name: str) -> None:
    assert getattr(calendar, name) is getattr(vectorized, name)


def test_an_unknown_name_raises_the_standard_attribute_error() -> None:
    with pytest.raises(AttributeError) as raised:
        calendar.no_such_name  # noqa: B018
    assert str(raised.value) == "module 'ovc_assets.calendar' has no attribute 'no_such_name'"


def test_a_name_of_vectorized_outside_the_lazy_list_is_not_exported() -> None:
    with pytest.raises(AttributeError):
        calendar.pd  # noqa: B018
