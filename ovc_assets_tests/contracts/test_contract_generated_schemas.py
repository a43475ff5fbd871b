"""`dataframe_model_for` builds a contract's pandera model afresh here (FullExportSchema is built
once at import): its columns, its named checks and the row each rule refuses, with the exact
tolerance, for the FULL contract and for MIN r1, whose rules include `ret`; and the exact
disagreements `schema_mismatches` reports."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ovc_assets.contracts import load_contract, load_contracts, parse_export, schema_mismatches
from ovc_assets.contracts import schemas
from ovc_assets.contracts.spec import CONTRACT_FILES, contract_from_document, contracts_dir
from ovc_assets.contracts.schemas import (
    _column_facts,
    _expected_facts,
    dataframe_model_for,
    field_nullable,
    validate_frame,
)
from ovc_assets.errors import ErrorCode
from ovc_assets_tests.contracts.contract_strategies import FULL_EXPORT, sample_file
from ovc_assets_tests.contracts.test_contract_parser import R1

FULL_ROW = dict(parse_export(sample_file(FULL_EXPORT).read_text()).fields)
R1_ROW = dict(parse_export(R1).fields)


def rows_breaking(base: dict, changes: dict[str, dict]) -> pd.DataFrame:
    """One valid row labelled "valid", then one row per change, labelled by its name."""
    rows = {"valid": base} | {name: {**base, **change} for name, change in changes.items()}
    return pd.DataFrame(list(rows.values()), index=list(rows))


@pytest.mark.parametrize("contract", ["FULL_V0_1", "MIN_R1", "MIN_V0_1"])
def test_a_generated_model_has_the_contracts_columns_and_types(contract: str) -> None:
    spec = load_contract(contract)

    model = dataframe_model_for(spec, "Generated")

    assert _column_facts(model) == {field.key: _expected_facts(field, field_nullable(field)) for field in spec.fields}
    assert (model.__name__, model.__module__) == ("Generated", "ovc_assets.contracts.schemas")
    assert model.__doc__ == f"Typed {contract} exports, one row per payload, generated from contracts/."
    schema = model.to_schema()
    assert (schema.strict, schema.coerce) == (True, True)


def test_the_full_models_columns_in_a_few_literal_cases() -> None:
    facts = _column_facts(dataframe_model_for(load_contract("FULL_V0_1"), "Generated"))

    assert facts["age_l1"] == ("Int64", True, None)
    assert facts["dir"] == ("int64", False, frozenset({1, -1, 0}))
    assert facts["tradeable"] == ("bool", False, frozenset({False, True}))
    assert facts["near_lvl"] == ("float64", True, None)
    assert facts["bias_dir"] == ("string[python]", False, frozenset({"UP", "DOWN", "NEUTRAL"}))


def test_the_full_models_checks_refuse_each_broken_rule_with_its_code() -> None:
    model = dataframe_model_for(load_contract("FULL_V0_1"), "Generated")
    frame = rows_breaking(
        FULL_ROW,
        {
            "empty": {"note": ""},
            "ohlc": {"c": 1.3459, "body": 0.00025, "dir": 1},
            "rng": {"rng": 0.00023 + 2.5e-6},
            "body": {"body": 0.00005 + 2.5e-6},
            "dir": {"dir": 1},
            "identity": {"ymd": "20260114"},
            "bar_time": {"bar_close_ms": 1768377600001},
            "rng_within_tolerance": {"rng": 0.00023 + 0.5e-6},
            "body_within_tolerance": {"body": 0.00005 + 0.5e-6},
        },
    )

    batch = validate_frame(model, frame)

    assert [check.name for check in model.to_schema().checks] == [
        "E_EMPTY_NOT_ALLOWED", "E_SEM_OHLC", "E_SEM_RNG", "E_SEM_BODY", "E_SEM_DIR", "E_IDENTITY_FORMAT", "E_IDENTITY_TIME"
    ]  # fmt: skip
    assert batch.row_codes == {
        "empty": (ErrorCode.EMPTY_NOT_ALLOWED,),
        "ohlc": (ErrorCode.SEM_OHLC,),
        "rng": (ErrorCode.SEM_RNG,),
        "body": (ErrorCode.SEM_BODY,),
        "dir": (ErrorCode.SEM_DIR,),
        "identity": (ErrorCode.IDENTITY_FORMAT,),
        "bar_time": (ErrorCode.IDENTITY_TIME,),
    }
    assert list(batch.valid.index) == ["valid", "rng_within_tolerance", "body_within_tolerance"]


def test_a_generated_min_r1_model_checks_ret_with_the_contracts_tolerance() -> None:
    model = dataframe_model_for(load_contract("MIN_R1"), "Generated")
    ret = R1_ROW["ret"]
    frame = rows_breaking(
        R1_ROW,
        {
            "ret": {"ret": ret + 2.5e-6},
            "ret_within_tolerance": {"ret": ret + 0.5e-6},
            "four_hour_pair": {"block4h": "GH"},
        },
    )

    batch = validate_frame(model, frame)

    assert "E_SEM_RET" in [check.name for check in model.to_schema().checks]
    assert batch.row_codes == {"ret": (ErrorCode.SEM_RET,), "four_hour_pair": (ErrorCode.IDENTITY_FORMAT,)}
    assert list(batch.valid.index) == ["valid", "ret_within_tolerance"]


def contracts_with(name: str, change) -> dict:
    document = json.loads((contracts_dir() / CONTRACT_FILES[name]).read_text())
    change(document)
    return {**load_contracts(), name: contract_from_document(document)}


def test_mismatches_name_a_tolerance_and_a_canonical_column_the_schemas_do_not_know() -> None:
    changed = contracts_with("MIN_R1", lambda doc: doc.update(tolerance=1e-5))
    assert schema_mismatches(changed) == ["MIN contract tolerances [1e-06, 1e-05] differ from the schema's 1e-06"]

    def feed_nowhere(doc: dict) -> None:
        next(f for f in doc["fields"] if f["key"] == "tz")["canonical"] = "time_zone"

    assert schema_mismatches(contracts_with("MIN_R1", feed_nowhere)) == ["MIN_R1.tz feeds unknown canonical column 'time_zone'"]


def test_mismatches_name_a_schema_whose_columns_are_not_the_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemas, "MinBlockSchema", dataframe_model_for(load_contract("MIN_R1"), "NotTheCanonicalBlock"))
    monkeypatch.setattr(schemas, "FullExportSchema", dataframe_model_for(load_contract("MIN_V0_1"), "NotTheFullExport"))

    problems = schema_mismatches()

    assert problems[0] == "MinBlockSchema columns differ from MinBlock fields"
    assert "FullExportSchema columns differ from the FULL contract keys" in problems
