"""Rendering typed values back to export strings, in literal values: keys left out, empty
values, mapped and boolean values, identity fields rebuilt from the block, and the refusals."""

from __future__ import annotations

import json

import pytest

from ovc_assets.contracts import load_contract, parse_export, render_export, render_min_block
from ovc_assets.contracts.render import min_block_fields
from ovc_assets.contracts.spec import CONTRACT_FILES, contract_from_document, contracts_dir
from ovc_assets_tests.contracts.test_contract_parser import R1

R1_BLOCK = parse_export(R1).record


def r1_with(change) -> object:
    document = json.loads((contracts_dir() / CONTRACT_FILES["MIN_R1"]).read_text())
    change(document)
    return contract_from_document(document)


def test_absent_keys_and_nones_are_left_out_and_the_rest_kept_in_contract_order() -> None:
    fields = {"note": None, "tt": 3, "o": None, "with_htf": False, "ready": True, "dir": -1, "sym": "EURUSD"}

    assert render_export("MIN_R1", fields) == "sym=EURUSD|dir=-1|tt=3|with_htf=0|note=|ready=1"
    assert render_export("MIN_V0_1", {"dir": -1, "tradeable": True}) == "dir=DN|tradeable=Y"


def test_a_value_the_contract_cannot_produce_is_refused() -> None:
    with pytest.raises(ValueError) as raised:
        render_export("MIN_V0_1", {"dir": 7})

    assert str(raised.value) == "dir: 7 is not a value the contract produces"


def test_a_block_renders_the_same_from_a_spec_as_from_its_name() -> None:
    rendered = render_min_block(load_contract("MIN_R1"), R1_BLOCK)

    assert rendered == render_min_block("MIN_R1", R1_BLOCK)
    assert parse_export(rendered).record == R1_BLOCK


def test_identity_fields_are_rebuilt_from_the_block() -> None:
    spec = r1_with(
        lambda doc: (
            doc["fields"].append({"key": "ymd", "order": 99, "type": "string", "required": True}),
            doc["identity"].update(date_compact=["ymd"]),
        )
    )

    fields = min_block_fields(spec, R1_BLOCK)

    assert (fields["ymd"], fields["block4h"], fields["block_id"], fields["block2h"]) == (
        "20260116", "IJ", "20260116-I-GBPUSD", "I"
    )  # fmt: skip


def test_only_min_contracts_and_fields_with_a_source_can_be_filled_from_a_block() -> None:
    with pytest.raises(ValueError) as not_min:
        min_block_fields("FULL_V0_1", R1_BLOCK)
    spec = r1_with(lambda doc: doc["fields"].append({"key": "extra", "order": 99, "type": "string", "required": True}))
    with pytest.raises(ValueError) as no_source:
        min_block_fields(spec, R1_BLOCK)

    assert str(not_min.value) == "FULL_V0_1 is not a MIN contract"
    assert str(no_source.value) == "MIN_R1.extra has no source in a MinBlock"
