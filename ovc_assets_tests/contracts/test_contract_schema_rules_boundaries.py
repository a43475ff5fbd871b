"""The batch rules of `contracts.schemas` (`*_holds`) on literal rows: each at its boundary
(a difference of exactly the tolerance holds), just past it, and with each input missing (a
rule never judges a row it cannot compute); prices that overflow or divide by zero give a
verdict and no numpy warning."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest

from ovc_assets.contracts.schemas import body_holds, dir_holds, ohlc_holds, ret_holds, rng_holds

TOLERANCE = 1e-6


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("o", "h", "low", "c", "holds"),
    [
        (1.0, 1.2, 0.9, 1.2, True),  # closes at the high
        (1.2, 1.2, 0.9, 1.0, True),  # opens at the high
        (0.9, 1.2, 0.9, 1.0, True),  # opens at the low
        (1.0, 1.2, 0.9, 0.9, True),  # closes at the low
        (1.0, 1.0, 1.0, 1.0, True),  # a flat bar
        (1.0, 1.1, 0.9, 1.2, False),  # closes above the high
        (1.2, 1.1, 0.9, 1.0, False),  # opens above the high
        (1.0, 1.2, 1.05, 1.1, False),  # opens below the low
        (1.0, 1.2, 0.9, 0.8, False),  # closes below the low
        (0.0, 0.0, 0.0, 0.0, False),  # a low of 0 is no price
        (-1.0, 1.0, -1.0, 0.5, False),  # a negative low
        (None, 1.1, 0.9, 1.2, True),  # each input missing: not judged
        (1.0, None, 0.9, 1.0, True),
        (1.0, 1.1, None, 0.8, True),
        (1.0, 1.1, 0.9, None, True),
        (1.0, math.inf, 0.9, 1.0, True),  # infinite: counted as missing
    ],
)
def test_ohlc_at_and_past_each_bound(o, h, low, c, holds) -> None:
    assert ohlc_holds(_frame([{"o": o, "h": h, "l": low, "c": c}])).tolist() == [holds]


@pytest.mark.parametrize(
    ("rng", "h", "low", "holds"),
    [
        (0.3, 1.2, 0.9, True),
        (0.3 + 0.5e-6, 1.2, 0.9, True),
        (0.3 - 0.5e-6, 1.2, 0.9, True),
        (0.3 + 2.5e-6, 1.2, 0.9, False),
        (0.3 - 2.5e-6, 1.2, 0.9, False),
        (1e-6, 1.0, 1.0, True),  # exactly the tolerance off
        (None, 1.2, 0.9, True),
        (0.3, None, 0.9, True),
        (0.3, 1.2, None, True),
    ],
)
def test_rng_within_the_tolerance(rng, h, low, holds) -> None:
    assert rng_holds(_frame([{"rng": rng, "h": h, "l": low}]), TOLERANCE).tolist() == [holds]


@pytest.mark.parametrize(
    ("body", "o", "c", "holds"),
    [
        (0.2, 1.0, 1.2, True),
        (0.2, 1.2, 1.0, True),  # a down bar's body is positive too
        (-0.2, 1.2, 1.0, False),
        (0.2 + 2.5e-6, 1.0, 1.2, False),
        (0.2 + 0.5e-6, 1.0, 1.2, True),
        (1e-6, 1.0, 1.0, True),  # exactly the tolerance off
        (None, 1.0, 1.2, True),
        (0.2, None, 1.2, True),
        (0.2, 1.0, None, True),
    ],
)
def test_body_is_the_absolute_move_within_the_tolerance(body, o, c, holds) -> None:
    assert body_holds(_frame([{"body": body, "o": o, "c": c}]), TOLERANCE).tolist() == [holds]


@pytest.mark.parametrize(
    ("ret", "o", "c", "holds"),
    [
        (0.25, 0.8, 1.0, True),
        (-0.2, 1.0, 0.8, True),
        (0.25 + 2.5e-6, 0.8, 1.0, False),
        (0.25 + 0.5e-6, 0.8, 1.0, True),
        (0.2, 1.0, 0.8, False),  # the sign of the move
        (1e-6, 1.0, 1.0, True),  # exactly the tolerance off
        (0.0, 0.0, 0.0, False),  # an open of 0 has no return
        (None, 0.8, 1.0, True),
        (0.25, None, 1.0, True),
        (0.25, 0.8, None, True),
    ],
)
def test_ret_is_the_relative_move_within_the_tolerance(ret, o, c, holds) -> None:
    assert ret_holds(_frame([{"ret": ret, "o": o, "c": c}]), TOLERANCE).tolist() == [holds]


@pytest.mark.parametrize(
    ("direction", "o", "c", "holds"),
    [
        (1, 1.0, 1.2, True),
        (-1, 1.2, 1.0, True),
        (0, 1.0, 1.0, True),
        (0, 1.0, 1.2, False),
        (1, 1.0, 1.0, False),
        (-1, 1.0, 1.2, False),
        (1, 1.2, 1.0, False),
        (None, 1.0, 1.2, True),
        (1, None, 1.2, True),
        (1, 1.0, None, True),
    ],
)
def test_dir_is_the_sign_of_the_move(direction, o, c, holds) -> None:
    assert dir_holds(_frame([{"dir": direction, "o": o, "c": c}])).tolist() == [holds]


def test_each_row_is_judged_on_its_own_and_keeps_its_index() -> None:
    frame = pd.DataFrame(
        [{"o": 1.0, "h": 1.2, "l": 0.9, "c": 1.2}, {"o": 1.0, "h": 1.1, "l": 0.9, "c": 1.2}, {"o": 1.0, "h": None, "l": 0.9, "c": 1.0}],
        index=[10, 20, 30],
    )
    result = ohlc_holds(frame)
    assert result.index.tolist() == [10, 20, 30]
    assert result.tolist() == [True, False, True]


def test_prices_that_overflow_or_divide_by_zero_are_judged_without_warnings() -> None:
    huge = 1e308
    frame = pd.DataFrame(
        {
            "o": [-huge, 0.0, 0.0, 1e-10],
            "h": [huge, 1.0, 0.0, huge],
            "l": [-huge, 0.0, 0.0, 1e-10],
            "c": [huge, 1.0, 0.0, huge],
            "rng": [1.0, 1.0, 0.0, huge],
            "body": [1.0, 1.0, 0.0, huge],
            "ret": [1.0, 1.0, 0.0, 1.0],
            "dir": [1, 1, 0, 1],
        }
    )

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verdicts = {
            "ohlc": ohlc_holds(frame).tolist(),
            "rng": rng_holds(frame, TOLERANCE).tolist(),
            "body": body_holds(frame, TOLERANCE).tolist(),
            "ret": ret_holds(frame, TOLERANCE).tolist(),
            "dir": dir_holds(frame).tolist(),
        }

    assert verdicts == {
        "ohlc": [False, False, False, True],
        "rng": [False, True, True, True],
        "body": [False, True, True, True],
        "ret": [False, False, False, False],
        "dir": [True, True, True, True],
    }
