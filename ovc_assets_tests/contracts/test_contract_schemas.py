"""The pandera schemas: in step with the JSON contracts, and batch validation by error code."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ovc_assets.calendar import block_for
from ovc_assets.contracts import (
    MIN_BLOCK_COLUMNS,
    FullExportSchema,
    MinBlockSchema,
    full_exports_frame,
    load_contract,
    load_contracts,
    min_blocks_frame,
    parse_export,
    read_payloads,
    schema_mismatches,
    validate_full_exports,
    validate_min_blocks,
)
from ovc_assets.contracts.schemas import code_for_check
from ovc_assets.contracts.spec import (
    CONTRACT_FILES,
    contract_from_document,
    contracts_dir,
)
from ovc_assets.errors import ErrorCode
from ovc_assets_tests.contracts.contract_strategies import (
    ALERT_LOG_CSV,
    FULL_EXPORT,
    R1_EXPORT,
    as_pairs,
    from_pairs,
    sample_file,
)

ALERT = next(iter(read_payloads(sample_file(ALERT_LOG_CSV)))).export
R1_BLOCK = block_for(date(2026, 1, 16), "I")
R1 = from_pairs(
    [(k, str(R1_BLOCK.start_ms) if k == "bar_close_ms" else v) for k, v in as_pairs(sample_file(R1_EXPORT).read_text())]
)


def blocks_frame(rows: int = 4) -> pd.DataFrame:
    """Valid canonical blocks: the real alert and the r1 sample, alternating."""
    records = [parse_export(ALERT if row % 2 == 0 else R1).record for row in range(rows)]
    return min_blocks_frame(records)


def altered_contracts(name: str, key: str, **changes) -> dict:
    document = json.loads((contracts_dir() / CONTRACT_FILES[name]).read_text())
    for field in document["fields"]:
        if field["key"] == key:
            field.update(changes)
    return {**load_contracts(), name: contract_from_document(document)}


def test_the_schemas_agree_with_the_json_contracts() -> None:
    assert schema_mismatches() == []


@pytest.mark.parametrize(
    ("name", "key", "changes", "column"),
    [
        ("MIN_R1", "bias_dir", {"enum": ["UP", "DOWN", "NEUTRAL", "SIDEWAYS"]}, "bias_dir"),
        ("MIN_R1", "tis", {"type": "number_or_empty"}, "tis"),
        ("MIN_V0_1", "tt", {"type": "float"}, "tt"),
        ("MIN_V0_1", "play", {"type": "string_or_empty"}, "play"),
        ("MIN_V0_1", "dir", {"map": {"UP": 1, "DN": -1, "0": 2}}, "dir"),
        ("FULL_V0_1", "mc", {"type": "float"}, "mc"),
        ("FULL_V0_1", "band", {"type": "float", "required": True}, "band"),
    ],
)
def test_a_contract_change_the_schemas_do_not_follow_is_reported(name, key, changes, column) -> None:
    problems = schema_mismatches(altered_contracts(name, key, **changes))

    assert problems and all(column in problem for problem in problems)


def test_the_full_schema_has_one_typed_column_per_contract_key() -> None:
    columns = FullExportSchema.to_schema().columns

    assert list(columns) == list(load_contract("FULL_V0_1").keys())
    assert str(columns["or"].dtype) == "float64"  # a Python keyword is still a column
    assert str(columns["age_l1"].dtype) == "Int64" and columns["age_l1"].nullable
    assert str(columns["tradeable"].dtype) == "bool" and str(columns["dir"].dtype) == "int64"


def test_the_min_schema_describes_the_canonical_block() -> None:
    assert tuple(MinBlockSchema.to_schema().columns) == MIN_BLOCK_COLUMNS


def test_valid_blocks_pass_and_come_back_typed() -> None:
    batch = validate_min_blocks(blocks_frame())

    assert batch.failed_rows == 0 and batch.fail_by_code() == {}
    valid = batch.valid
    assert len(valid) == 4
    assert str(valid["block_start"].dtype) == "datetime64[ms, UTC]"
    assert isinstance(valid["date_ny"].iloc[0], date)
    assert str(valid["news_flag"].dtype) == "boolean" and valid["news_flag"].isna().tolist() == [False, True] * 2
    assert str(valid["tis"].dtype) == "Int64" and str(valid["dir"].dtype) == "int64"


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("bias_dir", "DN", ErrorCode.ENUM),
        ("block_letter", "M", ErrorCode.ENUM),
        ("play", "", ErrorCode.EMPTY_NOT_ALLOWED),
        ("play", None, ErrorCode.REQUIRED_MISSING),
        ("rrc", np.inf, ErrorCode.TYPE_COERCION),
        ("o", "abc", ErrorCode.TYPE_COERCION),
        ("h", 1.0, ErrorCode.SEM_OHLC),
        ("rng", 0.5, ErrorCode.SEM_RNG),
        ("body", 0.5, ErrorCode.SEM_BODY),
        ("ret", 0.5, ErrorCode.SEM_RET),
        ("dir", -1, ErrorCode.SEM_DIR),
        ("block_id", "20260113-G-GBPUSD", ErrorCode.IDENTITY_FORMAT),
        ("block4h", "GH", ErrorCode.IDENTITY_FORMAT),
        ("bar_close_ms", 1768602000000, ErrorCode.IDENTITY_TIME),
    ],
)
def test_a_failing_row_is_reported_with_the_parsers_code(column: str, value, code: ErrorCode) -> None:
    frame = blocks_frame()
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = value

    batch = validate_min_blocks(frame)

    assert list(batch.row_codes) == [2]
    assert code in batch.row_codes[2]
    assert batch.row_messages[2].startswith(batch.row_codes[2][0].value)
    assert len(batch.row_messages[2]) <= 200
    assert list(batch.valid.index) == [0, 1, 3]


def test_block_bounds_that_are_not_the_calendars_are_identity_errors() -> None:
    frame = blocks_frame()
    frame.loc[1, "block_start"] = frame.loc[1, "block_start"] - timedelta(hours=2)

    assert validate_min_blocks(frame).row_codes == {1: (ErrorCode.IDENTITY_FORMAT,)}


def test_failures_are_counted_by_code() -> None:
    frame = blocks_frame(6)
    frame.loc[0, "dir"] = -1
    frame.loc[3, "dir"] = 0
    frame.loc[3, "bias_dir"] = "SIDEWAYS"

    batch = validate_min_blocks(frame)

    assert batch.fail_by_code() == {"E_ENUM": 1, "E_SEM_DIR": 2}
    assert batch.failed_rows == 2


def test_a_missing_or_unexpected_column_fails_every_row() -> None:
    missing = validate_min_blocks(blocks_frame().drop(columns=["play"]))
    extra = validate_min_blocks(blocks_frame().assign(surprise=1))

    assert missing.row_codes == {row: (ErrorCode.REQUIRED_MISSING,) for row in range(4)}
    assert extra.row_codes == {row: (ErrorCode.UNKNOWN_KEY,) for row in range(4)}
    assert missing.valid.empty and extra.valid.empty


def test_rows_are_reported_by_index_label() -> None:
    frame = blocks_frame().set_axis(["a", "b", "c", "d"])
    frame.loc["c", "dir"] = -1

    assert validate_min_blocks(frame).row_codes == {"c": (ErrorCode.SEM_DIR,)}
    with pytest.raises(ValueError, match="unique index"):
        validate_min_blocks(frame.set_axis([0, 0, 1, 2]))


def test_full_exports_validate_and_fail_with_the_parsers_codes() -> None:
    export = parse_export(sample_file(FULL_EXPORT).read_text()).record
    frame = full_exports_frame([export, export, export])
    frame.loc[1, "ymd"] = "20260114"
    frame.loc[2, "rng"] = 0.5

    batch = validate_full_exports(frame)

    assert batch.row_codes == {1: (ErrorCode.IDENTITY_FORMAT,), 2: (ErrorCode.SEM_RNG,)}
    assert batch.valid["rd_why"].tolist() == ["W=NaN>D=0.029>ROT_OK>BRK_GATED"]


def test_every_pandera_check_of_the_schemas_has_a_code() -> None:
    for model in (MinBlockSchema, FullExportSchema):
        schema = model.to_schema()
        names = [check.name for check in schema.checks]
        names += [check.name for column in schema.columns.values() for check in column.checks]
        assert all(isinstance(code_for_check(name), ErrorCode) for name in names)
    for builtin in ("column_in_dataframe", "column_in_schema", "not_nullable", "coerce_dtype('float64')"):
        assert isinstance(code_for_check(builtin), ErrorCode)
    with pytest.raises(LookupError):
        code_for_check("something_new")
