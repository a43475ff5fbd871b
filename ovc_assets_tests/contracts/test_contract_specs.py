"""The JSON contracts: loaded as specs, faithful to upstream except where we say so."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from ovc_assets.contracts import (
    CONTRACT_NAMES,
    contracts_dir,
    load_contract,
    load_contracts,
)
from ovc_assets.contracts.spec import (
    CONTRACT_FILES,
    ContractFileError,
    contract_from_document,
)
from ovc_assets_tests.contracts.contract_strategies import sample_file

UPSTREAM_FILES = {
    "MIN_V0_1": "export_contract_v0.1_min.json",
    "MIN_R1": "export_contract_v0.1.1_min.json",
    "FULL_V0_1": "export_contract_v0.1_full.json",
}


def upstream_fields(name: str) -> list[dict]:
    return json.loads(sample_file(UPSTREAM_FILES[name]).read_text())["fields"]


def our_document(name: str) -> dict:
    return json.loads((contracts_dir() / CONTRACT_FILES[name]).read_text())


def test_the_three_contracts_load_under_their_names() -> None:
    specs = load_contracts()

    assert tuple(specs) == CONTRACT_NAMES == ("MIN_V0_1", "MIN_R1", "FULL_V0_1")
    assert {name: len(spec.fields) for name, spec in specs.items()} == {"MIN_V0_1": 48, "MIN_R1": 49, "FULL_V0_1": 174}
    assert {spec.marker_key for spec in specs.values()} == {"schema_min", "scheme_min", "schema_full"}


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_keys_order_and_required_flags_follow_upstream(name: str) -> None:
    upstream = upstream_fields(name)
    first_of_each = {}
    for field in upstream:
        first_of_each.setdefault(field["key"], field)

    spec = load_contract(name)

    assert spec.keys() == tuple(first_of_each)
    for field in spec.fields:
        assert field.order == first_of_each[field.key]["order"]
        assert field.required == first_of_each[field.key]["required"]


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_types_differ_from_upstream_only_where_the_notes_say(name: str) -> None:
    """Every retyped field is an upstream `string` tightened to an enum (or bool_01/int), never loosened."""
    upstream = {field["key"]: field for field in reversed(upstream_fields(name))}
    notes = " ".join(load_contract(name).notes)
    for field in load_contract(name).fields:
        before = upstream[field.key]["type"]
        if field.type != before:
            assert before in ("string", "int"), field.key
            assert field.key in notes, field.key


def test_the_upstream_v0_1_min_defect_is_fixed_and_documented() -> None:
    upstream_counts = Counter(field["key"] for field in upstream_fields("MIN_V0_1"))
    assert upstream_counts["tradeable"] == 2  # enum Y/N and bool_01 at the same order

    spec = load_contract("MIN_V0_1")
    [tradeable] = [field for field in spec.fields if field.key == "tradeable"]

    assert tradeable.type == "enum" and tradeable.enum == ("Y", "N")
    assert dict(tradeable.value_map) == {"Y": True, "N": False}
    assert any("tradeable" in note and "twice" in note for note in our_document("MIN_V0_1")["notes"])


def test_a_contract_listing_a_key_twice_is_refused() -> None:
    document = our_document("MIN_V0_1")
    document["fields"].append(dict(document["fields"][0]))

    with pytest.raises(ContractFileError, match="more than once"):
        contract_from_document(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda doc: doc["fields"][0].update(type="text"), "unknown type"),
        (lambda doc: doc["semantic_rules"].append("vibes"), "unknown semantic rules"),
        (lambda doc: doc["identity"].update(letter="block_letter"), "lacks"),
        (lambda doc: doc["fields"][0].update(type="enum"), "enum without values"),
    ],
)
def test_inconsistent_contract_files_are_refused(change, message: str) -> None:
    document = our_document("MIN_R1")
    change(document)

    with pytest.raises(ContractFileError, match=message):
        contract_from_document(document)


def test_enum_maps_cover_exactly_their_values() -> None:
    for spec in load_contracts().values():
        for field in spec.fields:
            if field.value_map is not None:
                assert set(field.value_map) == set(field.enum), (spec.name, field.key)


def test_every_contract_file_explains_itself_in_notes() -> None:
    for name in CONTRACT_NAMES:
        notes = our_document(name)["notes"]
        assert notes and all(isinstance(note, str) and note for note in notes)
        assert any("na" in note and "NULL" in note for note in notes), name


def test_contracts_are_found_in_the_package_data_or_the_checkout() -> None:
    package = Path(__file__).resolve().parents[2] / "ovc_assets"
    expected = package / "_data" / "contracts"
    if not expected.is_dir():
        expected = package.parent / "contracts"

    assert contracts_dir() == expected
    assert sorted(path.name for path in contracts_dir().glob("*.json")) == sorted(CONTRACT_FILES.values())
