"""Batch frames and batch validation of `contracts.schemas` in exact terms: the nullable integer
columns `min_blocks_frame` / `full_exports_frame` build from the records' own values, and every
failing row's codes and exact message from `validate_frame`."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from ovc_assets.contracts import parse_export
from ovc_assets.contracts.schemas import code_for_check, full_exports_frame, min_blocks_frame, validate_min_blocks
from ovc_assets.errors import ErrorCode
from ovc_assets_tests.contracts.contract_strategies import FULL_EXPORT, sample_file
from ovc_assets_tests.contracts.test_contract_schemas import ALERT, R1, blocks_frame

ALERT_BLOCK = parse_export(ALERT).record
R1_BLOCK = parse_export(R1).record
FULL = parse_export(sample_file(FULL_EXPORT).read_text()).record
BIG = 2**62 + 1  # no float holds it exactly


def test_nullable_integers_keep_every_value_exactly_and_other_columns_their_inferred_type() -> None:
    blocks = [ALERT_BLOCK._replace(tis=7), R1_BLOCK._replace(tis=None), ALERT_BLOCK._replace(tis=BIG)]

    frame = min_blocks_frame(blocks)

    assert str(frame["tis"].dtype) == "Int64"
    assert frame["tis"].isna().tolist() == [False, True, False]
    assert frame["tis"].astype(object).tolist()[::2] == [7, BIG]
    assert (str(frame["o"].dtype), str(frame["dir"].dtype)) == ("float64", "int64")


def test_a_value_that_is_no_integer_is_kept_as_it_came_for_pandera_to_report() -> None:
    frame = min_blocks_frame([ALERT_BLOCK._replace(tis=1.5), R1_BLOCK._replace(tis=7)])

    assert str(frame["tis"].dtype) == "object"
    assert frame["tis"].tolist() == [1.5, 7]
    assert validate_min_blocks(frame).row_codes[0] == (ErrorCode.TYPE_COERCION,)


def test_full_exports_get_their_nullable_integer_column_from_the_exports() -> None:
    exports = [replace(FULL, fields={**FULL.fields, "age_l1": value}) for value in (BIG, None)]

    frame = full_exports_frame(exports)

    assert str(frame["age_l1"].dtype) == "Int64"
    assert frame["age_l1"].isna().tolist() == [False, True]
    assert frame["age_l1"].iloc[0] == BIG


def test_each_failing_row_gets_its_codes_and_the_exact_message_of_its_first() -> None:
    frame = blocks_frame(7)
    for column in ("dir", "bias_dir", "play", "rrc"):
        frame[column] = frame[column].astype(object)
    frame.loc[0, ["dir", "bias_dir"]] = [-1, "SIDEWAYS"]
    frame.loc[1, "play"] = ""
    frame.loc[3, "rrc"] = np.inf
    frame.loc[4, "play"] = None
    frame.loc[5, "bias_dir"] = "S" * 50
    frame.loc[6, "rrc"] = np.nan

    batch = validate_min_blocks(frame)

    assert batch.row_codes == {
        0: (ErrorCode.ENUM, ErrorCode.SEM_DIR),
        1: (ErrorCode.EMPTY_NOT_ALLOWED,),
        3: (ErrorCode.TYPE_COERCION,),
        4: (ErrorCode.REQUIRED_MISSING,),
        5: (ErrorCode.ENUM,),
        6: (ErrorCode.REQUIRED_MISSING,),
    }
    enum = "column bias_dir fails isin(['UP', 'DOWN', 'NEUTRAL'])"
    assert batch.row_messages == {
        0: f"E_ENUM: {enum} (value 'SIDEWAYS') (+1 more)",
        1: "E_EMPTY_NOT_ALLOWED: a string column holds an empty string (NULL is the empty value)",
        3: "E_TYPE_COERCION: column rrc fails finite (value 'inf')",
        4: "E_REQUIRED_MISSING: column play fails not_nullable",
        5: f"E_ENUM: {enum} (value '{'S' * 40}')",  # the value cut at 40 characters
        6: "E_REQUIRED_MISSING: column rrc fails not_nullable",  # no value shown for a missing one
    }
    assert batch.valid.index.tolist() == [2]
    assert str(batch.valid["dir"].dtype) == "int64"  # the passing rows come back coerced
    assert batch.fail_by_code() == {"E_REQUIRED_MISSING": 2, "E_TYPE_COERCION": 1, "E_EMPTY_NOT_ALLOWED": 1, "E_ENUM": 2, "E_SEM_DIR": 1}


BROKEN_RULES = {
    ("h", 1.0): "E_SEM_OHLC: h >= max(o,c), l <= min(o,c), h >= l, l > 0 does not hold (+1 more)",  # and rng
    ("rng", 0.5): "E_SEM_RNG: rng differs from h - l by more than the tolerance",
    ("body", 0.5): "E_SEM_BODY: body differs from |c - o| by more than the tolerance",
    ("ret", 0.5): "E_SEM_RET: ret differs from (c - o) / o by more than the tolerance",
    ("dir", -1): "E_SEM_DIR: dir is not the sign of c - o",
    ("block4h", "GH"): "E_IDENTITY_FORMAT: block id fields disagree with date_ny, letter and symbol",
    ("bar_close_ms", 1): "E_IDENTITY_TIME: bar_close_ms is neither the block's start nor its end",
}


def test_a_broken_rule_is_one_failure_of_the_row_with_the_rules_text() -> None:
    frame = blocks_frame(len(BROKEN_RULES) + 1)
    for row, (column, value) in enumerate(BROKEN_RULES, start=1):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value

    batch = validate_min_blocks(frame)

    # Every column a dataframe check lists for a row is the same one failure.
    assert batch.row_messages == dict(enumerate(BROKEN_RULES.values(), start=1))
    assert batch.valid.index.tolist() == [0]


def test_a_pandera_check_without_a_code_is_named_in_the_refusal() -> None:
    with pytest.raises(LookupError, match=r"^no error code for pandera check 'something_new'$"):
        code_for_check("something_new")


def test_one_check_failing_on_two_columns_of_a_row_is_two_failures() -> None:
    frame = blocks_frame(2)
    frame[["play", "rrc"]] = frame[["play", "rrc"]].astype(object)
    frame.loc[1, ["play", "rrc"]] = [None, np.nan]

    messages = validate_min_blocks(frame).row_messages

    assert list(messages) == [1]
    assert re.fullmatch(r"E_REQUIRED_MISSING: column (play|rrc) fails not_nullable \(\+1 more\)", messages[1])


def test_a_passing_frame_has_no_codes_and_no_messages() -> None:
    batch = validate_min_blocks(blocks_frame(2))

    assert (batch.row_codes, batch.row_messages, batch.valid.index.tolist()) == ({}, {}, [0, 1])


def test_a_frame_whose_index_repeats_a_label_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^validate_frame needs a frame with a unique index$"):
        validate_min_blocks(blocks_frame(2).set_axis([0, 0]))
