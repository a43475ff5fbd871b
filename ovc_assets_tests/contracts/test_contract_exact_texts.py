"""Literal answers of the contract modules around the parser: the spec built from a contract
file, the refusals of a bad file or envelope, the strict date reading, and the lazy schema names."""

from __future__ import annotations

import json
from datetime import date

import pytest

import ovc_assets.contracts as contracts
from ovc_assets.contracts import schemas, unpack_envelope
from ovc_assets.contracts.identity import parse_date_ny
from ovc_assets.contracts.parser import _converted_field
from ovc_assets.contracts.spec import (
    CONTRACT_FILES,
    ContractFileError,
    FieldSpec,
    IdentitySpec,
    contract_from_document,
    contracts_dir,
)
from ovc_assets.errors import OvcError


def document(name: str) -> dict:
    return json.loads((contracts_dir() / CONTRACT_FILES[name]).read_text())


def test_a_contract_file_becomes_its_spec_field_by_field() -> None:
    source = document("MIN_R1")

    spec = contract_from_document(source)

    assert (spec.name, spec.profile, spec.marker_key, spec.marker_value) == (
        "MIN_R1", "MIN", "scheme_min", "export_contract_v0.1_min_r1"
    )  # fmt: skip
    assert (spec.delimiter, spec.kv_separator, spec.null_tokens, spec.tolerance) == ("|", "=", frozenset({"na"}), 1e-6)
    assert spec.semantic_rules == ("ohlc", "rng", "body", "ret", "dir", "identity", "bar_time")
    assert spec.identity == IdentitySpec("sym", "date_ny", "block2h", ("block_id",), (), ("block4h",), (), "bar_close_ms")
    assert spec.notes == tuple(source["notes"]) and len(spec.notes) == 14
    dir_field = spec.field("dir")
    assert (dir_field.key, dir_field.order, dir_field.type, dir_field.required) == ("dir", 17, "int", True)
    assert type(dir_field.order) is int
    with pytest.raises(KeyError) as raised:
        spec.field("news_flag")
    assert raised.value.args == ("news_flag",)


def test_null_tokens_and_notes_are_optional_in_a_contract_file() -> None:
    source = document("MIN_R1")
    del source["null_tokens"], source["notes"]

    spec = contract_from_document(source)

    assert (spec.null_tokens, spec.notes) == (frozenset(), ())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda doc: doc["marker"].update(key="schema"),
            "MIN_R1: marker key 'schema' is not a field",
        ),
        (
            lambda doc: next(f for f in doc["fields"] if f["key"] == "bias_dir").update(map={"UP": "UP"}),
            "MIN_R1.bias_dir: map keys must equal the enum values",
        ),
        (
            lambda doc: doc["fields"].append(dict(doc["fields"][0])),
            "MIN_R1: keys listed more than once: ['ver']",
        ),
        (
            lambda doc: doc["semantic_rules"].append("vibes"),
            "MIN_R1: unknown semantic rules ['vibes']",
        ),
        (
            lambda doc: doc.update(fields=[f for f in doc["fields"] if f["key"] != "rng"]),
            "MIN_R1: rules or identity name keys the contract lacks: ['rng']",
        ),
        (
            lambda doc: doc["fields"][0].update(type="text"),
            "MIN_R1.ver: unknown type 'text'",
        ),
        (
            lambda doc: doc["fields"][0].update(type="enum"),
            "MIN_R1.ver: enum without values",
        ),
    ],
    ids=["marker-key", "map-keys", "repeated-key", "unknown-rule", "rule-field-missing", "unknown-type", "enum-without-values"],
)
def test_a_bad_contract_file_is_refused_naming_what_is_wrong(change, message: str) -> None:
    source = document("MIN_R1")
    change(source)

    with pytest.raises(ContractFileError) as raised:
        contract_from_document(source)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2026-01-13", date(2026, 1, 13)),
        ("2026-11-30", date(2026, 11, 30)),
        ("2026/01-13", None),
        ("2026-01/13", None),
        ("20260113", None),
        ("2026-01-133", None),
        ("2026-1-013", None),
        ("2026-02-30", None),
        ("2026-0a-13", None),
        ("2026-01-1\u0663", None),
    ],
)
def test_dates_are_read_only_as_yyyy_mm_dd(text: str, parsed: date | None) -> None:
    assert parse_date_ny(text) == parsed


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"export": "\xff"}', "E_ENCODING", "envelope is not valid UTF-8 (byte 12)"),
        (
            "{" + '"a": 1, ' * 2000,
            "E_ENVELOPE_JSON",
            "envelope is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 16002 (char 160",
        ),
        ("[1]", "E_ENVELOPE_JSON", "envelope must be a JSON object, got list"),
        ('{"export": 1}', "E_ENVELOPE_SCHEMA", "envelope has no string field 'export'"),
    ],
    ids=["not-utf8", "json-cut-at-80", "not-an-object", "no-export"],
)
def test_a_bad_envelope_is_refused_with_its_exact_message(body, code: str, message: str) -> None:
    with pytest.raises(OvcError) as raised:
        unpack_envelope(body)

    assert (raised.value.code, raised.value.message) == (code, message)


def test_an_envelope_of_another_schema_is_refused_naming_the_expected_one() -> None:
    with pytest.raises(OvcError) as raised:
        unpack_envelope('{"export": "x", "schema": "OTHER"}', expected_schema="OVC_MIN_V01")

    assert (raised.value.code, raised.value.message) == ("E_ENVELOPE_SCHEMA", "envelope schema must be 'OVC_MIN_V01'")


def test_the_schema_names_load_lazily_from_the_schemas_module() -> None:
    assert getattr(contracts, "validate_min_blocks") is schemas.validate_min_blocks  # noqa: B009 - the module's __getattr__ is under test
    assert getattr(contracts, "BatchValidation") is schemas.BatchValidation  # noqa: B009
    with pytest.raises(AttributeError) as raised:
        getattr(contracts, "parse_everything")  # noqa: B009

    assert str(raised.value) == "module 'ovc_assets.contracts' has no attribute 'parse_everything'"


def test_an_optional_plain_string_field_keeps_its_text() -> None:
    # No contract has one today; a future one must not lose or crash on its values.
    field = FieldSpec(key="comment", order=99, type="string", required=False)

    key, required, empty_allowed, convert = _converted_field(field)

    assert (key, required, empty_allowed, convert("as sent")) == ("comment", False, False, "as sent")
