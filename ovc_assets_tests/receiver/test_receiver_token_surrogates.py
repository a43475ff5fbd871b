"""A token that is not encodable text (a lone surrogate, which JSON's `\\ud800` escape yields)
is a wrong token, never an exception: found by mutation testing (`make mutants`), where
dropping the `surrogatepass` error handler survived every test."""

from __future__ import annotations

import json

import pytest

from ovc_assets.receiver.intake import token_matches


@pytest.mark.parametrize("given", [json.loads('"\\ud800"'), "sec\udfffret", "\udcff"])
def test_a_token_with_a_lone_surrogate_is_refused_without_an_error(given: str) -> None:
    assert token_matches(given, "secret") is False


def test_the_right_token_matches_and_a_prefix_does_not() -> None:
    assert token_matches("secret", "secret") is True
    assert token_matches("secre", "secret") is False
