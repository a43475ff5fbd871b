"""The parser's rules one by one, on the real alert payload and small variations of it."""

from __future__ import annotations

from datetime import date

import pytest

from ovc_assets.calendar import block_for
from ovc_assets.contracts import (
    MAX_EXPORT_CHARS,
    parse_export,
    parse_exports,
    read_payloads,
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
FULL = sample_file(FULL_EXPORT).read_text().strip()
BLOCK_F = block_for(date(2026, 1, 13), "F")
R1 = from_pairs(
    [
        (key, str(block_for(date(2026, 1, 16), "I").start_ms) if key == "bar_close_ms" else value)
        for key, value in as_pairs(sample_file(R1_EXPORT).read_text().strip())
    ]
)


def with_values(export: str, **values: str) -> str:
    """`export` with some raw values replaced (keys must exist)."""
    pairs = as_pairs(export)
    assert set(values) <= {key for key, _ in pairs}
    return from_pairs([(key, values.get(key, value)) for key, value in pairs])


def without(export: str, *keys: str) -> str:
    return from_pairs([(key, value) for key, value in as_pairs(export) if key not in keys])


def codes(export: str | bytes, **options) -> tuple[str, ...]:
    return tuple(code.value for code in parse_export(export, **options).codes)


def test_the_bases_are_valid() -> None:
    assert [parse_export(text).ok for text in (ALERT, FULL, R1)] == [True, True, True]
    assert [parse_export(text).contract for text in (ALERT, FULL, R1)] == ["MIN_V0_1", "FULL_V0_1", "MIN_R1"]


# --- contract detection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        without(ALERT, "schema_min"),
        with_values(ALERT, schema_min="OVC_MIN_V0_9"),
        ALERT + "|schema_full=OVC_FULL_V0_1",
        "hello world",
    ],
    ids=["no-marker", "unknown-version", "two-markers", "prose"],
)
def test_payloads_without_exactly_one_known_marker_are_unknown_contracts(text: str) -> None:
    result = parse_export(text)

    assert result.contract is None
    assert ErrorCode.UNKNOWN_CONTRACT in result.codes


def test_a_full_export_is_refused_on_a_min_route() -> None:
    assert codes(FULL, profile="MIN") == ("E_PROFILE",)
    assert codes(ALERT, profile="MIN") == ()


# --- splitting -------------------------------------------------------------------------------


def test_a_repeated_key_is_a_duplicate_even_with_the_same_value() -> None:
    assert codes(ALERT + "|o=1.34515") == ("E_DUPLICATE_KEY",)
    assert codes(ALERT + "|extra=1|extra=1") == ("E_DUPLICATE_KEY",)


@pytest.mark.parametrize("segment", ["novalue", "", "=1.2", " =x", "my key=1", "clé=1", "a\tb=1"])
def test_malformed_pairs_are_bad_kv(segment: str) -> None:
    assert codes(ALERT + "|" + segment) == ("E_BAD_KV",)


def test_whitespace_around_keys_values_and_the_payload_is_trimmed() -> None:
    spaced = "  \n" + " | ".join(f" {key} =  {value}\t" for key, value in as_pairs(ALERT)) + " \r\n"

    result = parse_export(spaced)

    assert result.ok, result.message
    assert result.record == parse_export(ALERT).record


def test_a_value_may_contain_the_separator_after_the_first_one() -> None:
    result = parse_export(with_values(ALERT, note="a=b=c"))

    assert result.record.note == "a=b=c"


# --- presence, emptiness, unknown keys, order ------------------------------------------------


def test_missing_key_and_empty_value_are_different_errors() -> None:
    assert codes(without(ALERT, "play")) == ("E_REQUIRED_MISSING",)
    assert codes(with_values(ALERT, play="")) == ("E_EMPTY_NOT_ALLOWED",)
    assert codes(with_values(ALERT, o="")) == ("E_EMPTY_NOT_ALLOWED",)


def test_a_required_or_empty_key_must_be_present_but_may_be_empty() -> None:
    assert codes(with_values(ALERT, rd_state="")) == ()
    assert codes(without(ALERT, "rd_state")) == ("E_REQUIRED_MISSING",)  # legacy: required string_or_empty
    assert codes(without(R1, "rd_state")) == ()  # r1: optional


def test_unknown_keys_are_counted_by_default_and_refused_in_strict_mode() -> None:
    text = ALERT + "|added_later=1|another=x"

    lenient = parse_export(text)
    strict = parse_export(text, strict=True)

    assert lenient.ok and lenient.unknown_keys == 2 and lenient.record.unknown_key_count == 2
    assert strict.codes == (ErrorCode.UNKNOWN_KEY,)
    assert "(+1 more)" in strict.message


def test_key_order_is_checked_in_strict_mode_only() -> None:
    pairs = as_pairs(ALERT)
    pairs[12], pairs[13] = pairs[13], pairs[12]
    swapped = from_pairs(pairs)

    assert codes(swapped) == ()
    assert codes(swapped, strict=True) == ("E_KEY_ORDER",)


# --- types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["nan", "NaN", "inf", "-Infinity", "1e309", "-1e309", "+1.3", "1_000.5", "0x1p-2", "1.2.3", "１.3", "1 .3"]
)
def test_floats_reject_non_finite_and_non_plain_forms(raw: str) -> None:
    assert codes(with_values(ALERT, rrc=raw)) == ("E_TYPE_COERCION",)


@pytest.mark.parametrize(("raw", "value"), [("1.5e-05", 1.5e-05), (".5", 0.5), ("5.", 5.0), ("2E3", 2000.0)])
def test_floats_accept_decimal_and_exponent_forms(raw: str, value: float) -> None:
    assert parse_export(with_values(ALERT, rrc=raw)).record.rrc == value


def test_negative_zero_is_stored_as_zero() -> None:
    float_zero = parse_export(with_values(ALERT, rrc="-0.0")).record.rrc
    int_zero = parse_export(with_values(ALERT, tt="-0")).record.tt

    assert float_zero == 0.0 and str(float_zero) == "0.0"
    assert int_zero == 0


@pytest.mark.parametrize("raw", ["+1", "1.0", "1e3", "٣", "12345678901234567890", "9223372036854775808", "--1", "-"])
def test_ints_are_ascii_digits_with_an_optional_minus_within_int64(raw: str) -> None:
    assert codes(with_values(ALERT, tt=raw)) == ("E_TYPE_COERCION",)


def test_int64_bounds_are_accepted() -> None:
    assert parse_export(with_values(ALERT, tt="-9223372036854775808")).record.tt == -(2**63)


@pytest.mark.parametrize("raw", ["2", "true", "Y", "01"])
def test_bool_01_is_zero_or_one(raw: str) -> None:
    assert codes(with_values(ALERT, ready=raw)) == ("E_TYPE_COERCION",)


@pytest.mark.parametrize(
    ("export", "key", "raw"),
    [
        (ALERT, "dir", "DOWN"),
        (ALERT, "tradeable", "1"),  # the bool_01 twin upstream listed is not accepted
        (ALERT, "bias_dir", "NEUTRAL"),
        (ALERT, "tz", "Europe/London"),
        (ALERT, "profile", "FULL"),
        (R1, "bias_dir", "DN"),
        (R1, "pred_dir", "0"),
        (R1, "dir", "2"),
        (FULL, "tradeable", "y"),
    ],
)
def test_values_outside_an_enum_are_enum_errors(export: str, key: str, raw: str) -> None:
    assert codes(with_values(export, **{key: raw})) == ("E_ENUM",)


def test_legacy_values_normalise_to_the_canonical_block() -> None:
    up = parse_export(ALERT).record
    down = parse_export(with_values(ALERT, bias_dir="DN", pred_dir="UP", tradeable="Y", with_htf="Y")).record

    assert (up.bias_dir, up.pred_dir, up.tradeable, up.with_htf) == ("NEUTRAL", "NEUTRAL", False, False)
    assert (down.bias_dir, down.pred_dir, down.tradeable, down.with_htf) == ("DOWN", "UP", True, True)


def test_na_is_null_only_in_string_or_empty_fields() -> None:
    assert parse_export(with_values(ALERT, event="na")).record.event is None
    assert parse_export(with_values(ALERT, play="na")).record.play == "na"
    assert codes(with_values(ALERT, rrc="na")) == ("E_TYPE_COERCION",)


def test_both_min_versions_give_the_same_canonical_shape() -> None:
    legacy, r1 = parse_export(ALERT).record, parse_export(R1).record

    assert type(legacy) is type(r1)
    assert (legacy.contract, r1.contract) == ("MIN_V0_1", "MIN_R1")
    assert r1.dir == 1 and r1.with_htf is True and r1.news_flag is None
    assert r1.trend_tag == "UP_BIAS" and legacy.trend_tag == "CAMPAIGN"


# --- semantic rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export", "values", "expected"),
    [
        (ALERT, {"h": "1.34516"}, ("E_SEM_OHLC",)),  # h below c
        (ALERT, {"l": "1.34516"}, ("E_SEM_OHLC",)),  # l above o
        (ALERT, {"dir": "DN"}, ("E_SEM_DIR",)),
        (ALERT, {"dir": "0"}, ("E_SEM_DIR",)),
        (R1, {"rng": "0.00520"}, ("E_SEM_RNG",)),
        (R1, {"body": "0.0034"}, ("E_SEM_BODY",)),
        (R1, {"ret": "0.0026"}, ("E_SEM_RET",)),
        (R1, {"dir": "-1"}, ("E_SEM_DIR",)),
        (R1, {"h": "1.2700"}, ("E_SEM_OHLC", "E_SEM_RNG")),
        (FULL, {"rng": "0.00033"}, ("E_SEM_RNG",)),
        (FULL, {"body": "0.00015"}, ("E_SEM_BODY",)),
        (FULL, {"dir": "UP"}, ("E_SEM_DIR",)),
    ],
)
def test_semantic_rules_apply_where_the_contract_has_the_fields(export, values, expected) -> None:
    assert codes(with_values(export, **values)) == expected


def test_rules_tolerate_one_millionth() -> None:
    assert codes(with_values(R1, rng="0.0051009")) == ()
    assert codes(with_values(R1, rng="0.0051011")) == ("E_SEM_RNG",)


def test_prices_must_be_positive() -> None:
    assert codes(with_values(ALERT, o="0", c="0", h="0", l="0", dir="0")) == ("E_SEM_OHLC",)
    assert codes(with_values(R1, o="0", l="0", c="0.0001", h="0.0001", rng="0.0001", body="0.0001")) == (
        "E_SEM_OHLC",
        "E_SEM_RET",
    )


def test_legacy_min_has_no_rng_body_ret_rules_and_computes_them() -> None:
    block = parse_export(with_values(ALERT, o="1.2", h="1.5", l="1.1", c="1.4")).record

    assert (block.rng, block.body, block.ret) == pytest.approx((0.4, 0.2, 0.2 / 1.2))


# --- identity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export", "values"),
    [
        (ALERT, {"bid": "20260113-G-GBPUSD"}),
        (ALERT, {"block2h_id": "20260113-F-EURUSD"}),
        (ALERT, {"bid": "2026-01-13-F-GBPUSD", "block2h_id": "2026-01-13-F-GBPUSD"}),
        (ALERT, {"block4h_id": "20260113-GH-GBPUSD"}),
        (ALERT, {"seg": "G"}),  # then bid/block2h_id disagree with the letter
        (ALERT, {"seg": "M"}),  # no such block
        (ALERT, {"date_ny": "20260113"}),
        (ALERT, {"date_ny": "2026-02-30"}),
        (ALERT, {"sym": "gbpusd"}),
        (R1, {"block4h": "GH"}),
        (R1, {"block2h": "J"}),
        (FULL, {"ymd": "20260114"}),
        (FULL, {"bid4h": "20260113-EF-EURUSD"}),
    ],
)
def test_identity_fields_that_disagree_are_identity_format_errors(export, values) -> None:
    assert "E_IDENTITY_FORMAT" in codes(with_values(export, **values))


@pytest.mark.parametrize("bar_ms", [BLOCK_F.start_ms, BLOCK_F.end_ms])
def test_bar_close_may_be_the_block_start_or_end(bar_ms: int) -> None:
    assert codes(with_values(ALERT, bar_close_ms=str(bar_ms))) == ()


@pytest.mark.parametrize("offset_ms", [-7_200_000, -1, 1, 3_600_000, 14_400_000])
def test_any_other_bar_close_is_an_identity_time_error(offset_ms: int) -> None:
    result = parse_export(with_values(ALERT, bar_close_ms=str(BLOCK_F.start_ms + offset_ms)))

    assert result.codes == (ErrorCode.IDENTITY_TIME,)
    assert result.block_id == "20260113-F-GBPUSD"


# --- bad input never raises ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"\xff\xfe\xfa", ("E_ENCODING",)),
        (ALERT.encode()[:-3] + b"\xc3", ("E_ENCODING",)),
        ("note=\ud800", ("E_ENCODING",)),
        (ALERT.replace("note=", "note=\x00"), ("E_ENCODING",)),
        ("", ("E_EMPTY_BODY",)),
        (" \t\r\n ", ("E_EMPTY_BODY",)),
        ("x" * 10_000_000, ("E_BODY_TOO_LARGE",)),
        (ALERT + "|note2=" + "x" * MAX_EXPORT_CHARS, ("E_BODY_TOO_LARGE",)),
        ("|||", ("E_BAD_KV", "E_UNKNOWN_CONTRACT")),
        ("=", ("E_BAD_KV", "E_UNKNOWN_CONTRACT")),
        ("a b=1", ("E_BAD_KV", "E_UNKNOWN_CONTRACT")),
        (12345, ("E_ENCODING",)),
    ],
)
def test_bad_input_is_a_coded_error(payload, expected) -> None:
    result = parse_export(payload)

    assert tuple(code.value for code in result.codes) == expected
    assert result.record is None and not result.ok
    assert 0 < len(result.message) <= 200


def test_bytes_are_parsed_like_text() -> None:
    assert parse_export(ALERT.encode()).record == parse_export(ALERT).record


def test_messages_name_the_first_error_count_the_rest_and_stay_short() -> None:
    huge_value = "v" * 30_000
    result = parse_export(with_values(ALERT, o="abc", h=huge_value, tt="x") + "|=|" + huge_value)

    assert result.codes == (ErrorCode.BAD_KV, ErrorCode.TYPE_COERCION)
    assert result.message.startswith("E_BAD_KV: ")
    assert result.message.endswith("(+4 more)")
    assert len(result.message) <= 200


def test_codes_are_unique_and_in_a_stable_order() -> None:
    broken = with_values(ALERT, o="x", h="y", dir="SIDEWAYS", bid="nope") + "|o=1"

    first, second = codes(broken), codes(broken)

    assert first == second == ("E_DUPLICATE_KEY", "E_TYPE_COERCION", "E_ENUM", "E_IDENTITY_FORMAT")


def test_a_batch_parses_in_order_and_restores_the_garbage_collector() -> None:
    import gc

    assert gc.isenabled()
    results = parse_exports([ALERT, "junk", FULL.encode()])

    assert [result.contract for result in results] == ["MIN_V0_1", None, "FULL_V0_1"]
    assert gc.isenabled()
