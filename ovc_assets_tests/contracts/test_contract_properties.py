"""Properties of the parser over generated payloads: valid ones round-trip, every broken
rule reports its own code, and no input at all makes it raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovc_assets.calendar import FOUR_HOUR_PAIRS, Block, block_for
from ovc_assets.contracts import (
    CONTRACT_NAMES,
    ContractSpec,
    load_contract,
    min_block_fields,
    min_blocks_frame,
    parse_export,
    render_export,
    render_min_block,
    validate_min_blocks,
)
from ovc_assets.contracts.identity import parse_date_ny
from ovc_assets.errors import ErrorCode
from ovc_assets_tests.contracts.contract_strategies import (
    as_pairs,
    from_pairs,
    valid_exports,
    valid_fields,
    value_text,
)

PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# DESIGN section 3: the codes an export string can earn by itself (E_PROFILE depends on the
# route; see test_a_full_export_is_refused_on_a_min_route).
EXPORT_STRING_CODES = frozenset(
    {
        ErrorCode.BAD_KV,
        ErrorCode.DUPLICATE_KEY,
        ErrorCode.REQUIRED_MISSING,
        ErrorCode.UNKNOWN_KEY,
        ErrorCode.KEY_ORDER,
        ErrorCode.EMPTY_NOT_ALLOWED,
        ErrorCode.TYPE_COERCION,
        ErrorCode.ENUM,
        ErrorCode.SEM_OHLC,
        ErrorCode.SEM_RNG,
        ErrorCode.SEM_BODY,
        ErrorCode.SEM_DIR,
        ErrorCode.SEM_RET,
        ErrorCode.IDENTITY_FORMAT,
        ErrorCode.IDENTITY_TIME,
        ErrorCode.UNKNOWN_CONTRACT,
    }
)
# What the parser may answer for any input: those, plus the whole-payload codes.
PARSER_CODES = EXPORT_STRING_CODES | {ErrorCode.ENCODING, ErrorCode.EMPTY_BODY, ErrorCode.BODY_TOO_LARGE}

# (key, raw value) pairs; a None value writes the key text alone, as a segment without '='.
Pairs = list[tuple[str, str | None]]
# A mutation returns the broken pairs and whether to parse in strict mode.
Mutation = Callable[[st.DataObject, ContractSpec, dict[str, Any], Pairs], tuple[Pairs, bool]]


@pytest.mark.parametrize("contract", CONTRACT_NAMES)
@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_valid_payload_parses_and_round_trips(contract: str, data: st.DataObject) -> None:
    fields, export = data.draw(valid_exports(contract))

    result = parse_export(export, strict=True)

    assert result.ok, result.message
    assert result.contract == contract and result.unknown_keys == 0
    assert dict(result.fields) == fields
    if load_contract(contract).profile == "MIN":
        assert min_block_fields(contract, result.record) == fields
        again = parse_export(render_min_block(contract, result.record), strict=True)
    else:
        again = parse_export(render_export(contract, result.record.fields), strict=True)
    assert again.record == result.record


# --- mutations: each breaks one rule ---------------------------------------------------------


def _replace(pairs: Pairs, key: str, raw: str) -> Pairs:
    return [(k, raw if k == key else v) for k, v in pairs]


def _key_of(data: st.DataObject, spec: ContractSpec, keep: Callable[[Any], bool]) -> str:
    keys = [field.key for field in spec.fields if field.key != spec.marker_key and keep(field)]
    return data.draw(st.sampled_from(keys))


def drop_required_key(data, spec, fields, pairs):
    key = _key_of(data, spec, lambda field: field.required)
    return [(k, v) for k, v in pairs if k != key], False


def empty_a_non_empty_field(data, spec, fields, pairs):
    key = _key_of(data, spec, lambda field: not field.empty_allowed)
    return _replace(pairs, key, ""), False


def repeat_a_key(data, spec, fields, pairs):
    key, value = data.draw(st.sampled_from(pairs))
    position = data.draw(st.integers(0, len(pairs)))
    repeated = data.draw(st.sampled_from([value, value + "0", ""]))
    return [*pairs[:position], (key, repeated), *pairs[position:]], False


def insert_a_malformed_segment(data, spec, fields, pairs):
    segment = data.draw(st.sampled_from(["", "junk", "=v", " = x", "a b=1", "ключ=1", "k\x7fey=1"]))
    position = data.draw(st.integers(0, len(pairs)))
    return [*pairs[:position], (segment, None), *pairs[position:]], False


NUMBER_TYPES = ("int", "int_or_empty", "float", "number_or_empty", "bool_01")
NOT_NUMBERS = ["abc", "nan", "inf", "-inf", "1e309", "+1", "1_0", "0x10", "１", "1 2", "--1", "1e"]


def mistype_a_number(data, spec, fields, pairs):
    key = _key_of(data, spec, lambda field: field.type in NUMBER_TYPES)
    field = spec.field(key)
    extra = ["1.5", "1e3", "99999999999999999999"] if field.type.startswith("int") else []
    extra += ["2", "yes"] if field.type == "bool_01" else []
    return _replace(pairs, key, data.draw(st.sampled_from(NOT_NUMBERS + extra))), False


def leave_an_enum(data, spec, fields, pairs):
    key = _key_of(data, spec, lambda field: field.enum is not None)
    field = spec.field(key)
    if field.type == "enum":
        raw = data.draw(value_text.filter(lambda text: text not in field.enum))
    else:
        raw = str(data.draw(st.integers(-1000, 1000).filter(lambda number: number not in field.enum)))
    return _replace(pairs, key, raw), False


def break_ohlc(data, spec, fields, pairs):
    o, low, c = fields["o"], fields["l"], fields["c"]
    key, value = data.draw(
        st.sampled_from(
            [
                ("h", max(o, c) * 0.9 - 1e-3),
                ("l", min(o, c) * 1.1 + 1e-3),
                ("l", -abs(low)),
                ("l", 0.0),
            ]
        )
    )
    return _replace(pairs, key, repr(value)), False


def _shift(key: str) -> Mutation:
    def shift(data, spec, fields, pairs):
        delta = data.draw(st.floats(min_value=2e-6, max_value=1.0)) * data.draw(st.sampled_from([1, -1]))
        return _replace(pairs, key, repr(fields[key] + delta)), False

    return shift


def flip_dir(data, spec, fields, pairs):
    field = spec.field("dir")
    raw_values = list(field.value_map) if field.value_map is not None else [str(value) for value in field.enum]
    current = dict(pairs)["dir"]
    return _replace(pairs, "dir", data.draw(st.sampled_from([raw for raw in raw_values if raw != current]))), False


def _block_of(spec: ContractSpec, fields: dict[str, Any]) -> Block:
    return block_for(parse_date_ny(fields[spec.identity.date_ny]), fields[spec.identity.letter])


def misname_the_block(data, spec, fields, pairs):
    identity = spec.identity
    block, symbol = _block_of(spec, fields), fields[identity.symbol]
    other = data.draw(st.sampled_from([block.next(), block.previous()]))
    choices = [(key, other.block_id(symbol)) for key in identity.block_id]
    choices += [(key, other.block_id(symbol + "X")) for key in identity.block_id]
    choices += [(key, block.four_hour_id(symbol + "X")) for key in identity.four_hour_id]
    choices += [(key, pair) for key in identity.four_hour_pair for pair in FOUR_HOUR_PAIRS if pair != block.pair]
    if other.date_ny != block.date_ny:
        choices += [(key, other.date_ny.strftime("%Y%m%d")) for key in identity.date_compact]
    choices += [(identity.letter, other.letter), (identity.date_ny, "not-a-date"), (identity.symbol, "lower")]
    key, raw = data.draw(st.sampled_from(choices))
    return _replace(pairs, key, raw), False


def move_the_bar_time(data, spec, fields, pairs):
    block = _block_of(spec, fields)
    offset = data.draw(st.integers(-10**9, 10**9).filter(lambda ms: ms not in (0, block.end_ms - block.start_ms)))
    return _replace(pairs, spec.identity.bar_time, str(block.start_ms + offset)), False


def add_an_unknown_key(data, spec, fields, pairs):
    key = data.draw(st.from_regex(r"zz_[a-z0-9_]{1,8}", fullmatch=True))
    position = data.draw(st.integers(0, len(pairs)))
    return [*pairs[:position], (key, "1"), *pairs[position:]], True


def swap_two_keys(data, spec, fields, pairs):
    first = data.draw(st.integers(0, len(pairs) - 2))
    second = data.draw(st.integers(first + 1, len(pairs) - 1))
    swapped = list(pairs)
    swapped[first], swapped[second] = swapped[second], swapped[first]
    return swapped, True


def change_the_marker(data, spec, fields, pairs):
    raw = data.draw(value_text.filter(lambda text: text != spec.marker_value))
    return _replace(pairs, spec.marker_key, raw), False


MUTATIONS: dict[ErrorCode, Mutation] = {
    ErrorCode.BAD_KV: insert_a_malformed_segment,
    ErrorCode.DUPLICATE_KEY: repeat_a_key,
    ErrorCode.REQUIRED_MISSING: drop_required_key,
    ErrorCode.UNKNOWN_KEY: add_an_unknown_key,
    ErrorCode.KEY_ORDER: swap_two_keys,
    ErrorCode.EMPTY_NOT_ALLOWED: empty_a_non_empty_field,
    ErrorCode.TYPE_COERCION: mistype_a_number,
    ErrorCode.ENUM: leave_an_enum,
    ErrorCode.SEM_OHLC: break_ohlc,
    ErrorCode.SEM_RNG: _shift("rng"),
    ErrorCode.SEM_BODY: _shift("body"),
    ErrorCode.SEM_DIR: flip_dir,
    ErrorCode.SEM_RET: _shift("ret"),
    ErrorCode.IDENTITY_FORMAT: misname_the_block,
    ErrorCode.IDENTITY_TIME: move_the_bar_time,
    ErrorCode.UNKNOWN_CONTRACT: change_the_marker,
}
# rng, body and ret are only rules where the contract carries the field (MIN v0.1 has none, FULL no ret).
OPTIONAL_RULES = {ErrorCode.SEM_RNG: "rng", ErrorCode.SEM_BODY: "body", ErrorCode.SEM_RET: "ret"}
CASES = [
    (contract, code)
    for contract in CONTRACT_NAMES
    for code in MUTATIONS
    if OPTIONAL_RULES.get(code) in (None, *load_contract(contract).semantic_rules)
]


def _text(pairs: Pairs) -> str:
    return "|".join(key if value is None else f"{key}={value}" for key, value in pairs)


@pytest.mark.parametrize(("contract", "code"), CASES, ids=[f"{contract}-{code.value}" for contract, code in CASES])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_breaking_a_rule_reports_that_rules_code(contract: str, code: ErrorCode, data: st.DataObject) -> None:
    spec = load_contract(contract)
    fields, export = data.draw(valid_exports(contract))

    pairs, strict = MUTATIONS[code](data, spec, fields, as_pairs(export))
    result = parse_export(_text(pairs), strict=strict)

    assert code in result.codes, result.message
    assert result.record is None


def test_every_export_string_code_has_a_mutation() -> None:
    assert set(MUTATIONS) == EXPORT_STRING_CODES


@PROPERTY_SETTINGS
@given(data=st.data())
def test_unknown_keys_are_only_counted_outside_strict_mode(data: st.DataObject) -> None:
    contract = data.draw(st.sampled_from(CONTRACT_NAMES))
    spec = load_contract(contract)
    fields, export = data.draw(valid_exports(contract))
    pairs, _ = add_an_unknown_key(data, spec, fields, as_pairs(export))

    result = parse_export(_text(pairs))

    assert result.ok and result.unknown_keys == 1


# --- arbitrary input never raises ------------------------------------------------------------


def _assert_coded(result) -> None:
    assert set(result.codes) <= PARSER_CODES
    assert result.ok == (not result.codes) == (result.record is not None)
    if not result.ok:
        assert result.message and len(result.message) <= 200
        assert len(set(result.codes)) == len(result.codes)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_gives_only_coded_errors(text: str) -> None:
    _assert_coded(parse_export(text))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_only_coded_errors(payload: bytes) -> None:
    _assert_coded(parse_export(payload))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=60), st.sampled_from(CONTRACT_NAMES))
def test_arbitrary_pairs_under_a_real_marker_give_only_coded_errors(pairs, contract: str) -> None:
    spec = load_contract(contract)
    _assert_coded(parse_export(from_pairs([(spec.marker_key, spec.marker_value), *pairs])))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_valid_payload_mangled_character_by_character_gives_only_coded_errors(data: st.DataObject) -> None:
    _, export = data.draw(valid_exports(data.draw(st.sampled_from(CONTRACT_NAMES))))
    text = list(export)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(text) - 1))
        text[position] = data.draw(st.sampled_from(["", "|", "=", " ", "\x00", "-", "+", "e", "9", ".", "\ud800", "é"]))

    _assert_coded(parse_export("".join(text)))
    _assert_coded(parse_export("".join(text), strict=True))


# --- batch validation agrees with the parser -------------------------------------------------


SHARED_COLUMNS = ("o", "h", "l", "c", "rng", "body", "ret", "dir", "bar_close_ms", "block_id", "block4h")


def _semantic_mutation(data: st.DataObject, fields: dict[str, Any]) -> tuple[str, Any]:
    """A change to one column the r1 contract and the canonical block share, typed cleanly."""
    block = _block_of(load_contract("MIN_R1"), fields)
    column = data.draw(st.sampled_from(SHARED_COLUMNS))
    if column in ("o", "h", "l", "c"):
        price = fields[column]
        return column, data.draw(st.sampled_from([0.0, -1.0, price * 2, price / 2, price + 5e-7]))
    if column in ("rng", "body", "ret"):
        return column, fields[column] + data.draw(st.floats(min_value=-3e-6, max_value=3e-6))
    if column == "dir":
        return column, data.draw(st.sampled_from([-1, 0, 1]))
    if column == "bar_close_ms":
        return column, block.start_ms + data.draw(st.sampled_from([0, 1, -1, 3_600_000, block.end_ms - block.start_ms]))
    if column == "block4h":
        return column, data.draw(st.sampled_from(FOUR_HOUR_PAIRS))
    return column, data.draw(st.sampled_from([block.next().block_id(fields["sym"]), "garbage", fields["block_id"]]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_batch_validation_reports_a_row_with_the_parsers_codes(data: st.DataObject) -> None:
    rows = [data.draw(valid_fields("MIN_R1")) for _ in range(3)]
    frame = min_blocks_frame(parse_export(render_export("MIN_R1", fields)).record for fields in rows)
    target = data.draw(st.integers(0, 2))
    column, value = _semantic_mutation(data, rows[target])

    parsed = parse_export(render_export("MIN_R1", {**rows[target], column: value}))
    frame.loc[target, column] = value
    batch = validate_min_blocks(frame)

    assert batch.row_codes.get(target, ()) == parsed.codes
    assert set(batch.row_codes) <= {target}
    assert len(batch.valid) == 3 - batch.failed_rows
