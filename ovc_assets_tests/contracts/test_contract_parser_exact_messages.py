"""Every refusal of the parser with its exact codes, message and block id: the texts users
read in run reports and `ovc contract validate`, and the limits they name."""

from __future__ import annotations

import pytest

from ovc_assets.contracts import MAX_EXPORT_CHARS, parse_export, parse_exports
from ovc_assets.contracts.messages import failure_message
from ovc_assets.errors import ErrorCode
from ovc_assets_tests.contracts.test_contract_parser import ALERT, FULL, R1, with_values, without

pytestmark = pytest.mark.usefixtures("fresh_contracts")

ALERT_BLOCK = "20260113-F-GBPUSD"
R1_BLOCK = "20260116-I-GBPUSD"

REFUSALS = {
    "bytes-over-four-times-the-limit": (
        b"x" * (4 * MAX_EXPORT_CHARS + 1),
        ["E_BODY_TOO_LARGE"],
        "E_BODY_TOO_LARGE: 262145 bytes; the limit is 65536 characters",
        None,
    ),
    "bytes-decoding-to-too-many-characters": (
        b"x" * (4 * MAX_EXPORT_CHARS),
        ["E_BODY_TOO_LARGE"],
        "E_BODY_TOO_LARGE: 262144 characters; the limit is 65536",
        None,
    ),
    "text-one-character-too-long": (
        "x" * (MAX_EXPORT_CHARS + 1),
        ["E_BODY_TOO_LARGE"],
        "E_BODY_TOO_LARGE: 65537 characters; the limit is 65536",
        None,
    ),
    "bytes-not-utf8": (b"ab\xffcd", ["E_ENCODING"], "E_ENCODING: not valid UTF-8 (byte 2)", None),
    "lone-surrogate": ("ab\ud800", ["E_ENCODING"], "E_ENCODING: not encodable as UTF-8 (character 2)", None),
    "not-text": (12, ["E_ENCODING"], "E_ENCODING: expected text or bytes, got int", None),
    "nul": ("a=1\x00", ["E_ENCODING"], "E_ENCODING: contains a NUL character", None),
    "blank": (" \t\n ", ["E_EMPTY_BODY"], "E_EMPTY_BODY: the export string is empty", None),
    "segment-without-equals": (
        ALERT + "|novalue",
        ["E_BAD_KV"],
        "E_BAD_KV: segment 'novalue' is not key=value",
        ALERT_BLOCK,
    ),
    "empty-key": (ALERT + "| =1", ["E_BAD_KV"], "E_BAD_KV: segment ' =1' is not key=value", ALERT_BLOCK),
    "repeated-key": (
        ALERT + "|sym=EURUSD",
        ["E_DUPLICATE_KEY"],
        "E_DUPLICATE_KEY: key 'sym' appears more than once",
        ALERT_BLOCK,
    ),
    "two-markers": (
        ALERT + "|schema_full=OVC_FULL_V0_1",
        ["E_UNKNOWN_CONTRACT"],
        "E_UNKNOWN_CONTRACT: markers of several contracts (MIN_V0_1, FULL_V0_1)",
        None,
    ),
    "unknown-marker-value": (
        with_values(ALERT, schema_min="OVC_MIN_V0_9"),
        ["E_UNKNOWN_CONTRACT"],
        "E_UNKNOWN_CONTRACT: schema_min='OVC_MIN_V0_9' is not a known contract",
        None,
    ),
    "no-marker": (
        "a=1|b=2",
        ["E_UNKNOWN_CONTRACT"],
        "E_UNKNOWN_CONTRACT: no contract marker (schema_min, scheme_min, schema_full)",
        None,
    ),
    "required-string-missing": (
        without(ALERT, "state_tag"),
        ["E_REQUIRED_MISSING"],
        "E_REQUIRED_MISSING: required key state_tag is missing",
        ALERT_BLOCK,
    ),
    "required-string-empty": (
        with_values(ALERT, state_tag=""),
        ["E_EMPTY_NOT_ALLOWED"],
        "E_EMPTY_NOT_ALLOWED: state_tag may not be empty",
        ALERT_BLOCK,
    ),
    "enum-value-unknown": (
        with_values(ALERT, dir="SIDEWAYS"),
        ["E_ENUM"],
        "E_ENUM: dir='SIDEWAYS' is not one of UP/DN/0",
        ALERT_BLOCK,
    ),
    "enum-empty": (
        with_values(ALERT, dir=""),
        ["E_EMPTY_NOT_ALLOWED"],
        "E_EMPTY_NOT_ALLOWED: dir may not be empty",
        ALERT_BLOCK,
    ),
    "enum-missing": (
        without(ALERT, "dir"),
        ["E_REQUIRED_MISSING"],
        "E_REQUIRED_MISSING: required key dir is missing",
        ALERT_BLOCK,
    ),
    "bool-not-0-or-1": (
        with_values(ALERT, ready="2"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: ready='2' is not 0 or 1",
        ALERT_BLOCK,
    ),
    "int-with-a-point": (
        with_values(ALERT, tt="1.5"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: tt='1.5' is not an integer (optional '-', ASCII digits)",
        ALERT_BLOCK,
    ),
    "int-just-over-int64": (
        with_values(ALERT, tt="9223372036854775808"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: tt='9223372036854775808' is outside the 64-bit integer range",
        ALERT_BLOCK,
    ),
    "int-just-under-int64": (
        with_values(ALERT, tt="-9223372036854775809"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: tt='-9223372036854775809' is outside the 64-bit integer range",
        ALERT_BLOCK,
    ),
    "int-of-twenty-digits": (
        with_values(ALERT, tt="00000000000000000001"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: tt='00000000000000000001' is not an integer (optional '-', ASCII digits)",
        ALERT_BLOCK,
    ),
    "int-restricted-to-an-enum": (
        with_values(R1, dir="2", c="1.2705", body="0", ret="0"),
        ["E_ENUM"],
        "E_ENUM: dir='2' is not one of 1/-1/0",
        R1_BLOCK,
    ),
    "required-strings-reported-before-numbers": (
        without(ALERT, "bar_close_ms", "state_tag"),
        ["E_REQUIRED_MISSING"],
        "E_REQUIRED_MISSING: required key state_tag is missing (+1 more)",
        ALERT_BLOCK,
    ),
    "date-missing": (
        without(ALERT, "date_ny"),
        ["E_REQUIRED_MISSING"],
        "E_REQUIRED_MISSING: required key date_ny is missing",
        None,
    ),
    "letter-missing": (without(ALERT, "seg"), ["E_REQUIRED_MISSING"], "E_REQUIRED_MISSING: required key seg is missing", None),
    "symbol-missing": (without(ALERT, "sym"), ["E_REQUIRED_MISSING"], "E_REQUIRED_MISSING: required key sym is missing", None),
    "required-nullable-string-missing": (
        without(ALERT, "note"),
        ["E_REQUIRED_MISSING"],
        "E_REQUIRED_MISSING: required key note is missing",
        ALERT_BLOCK,
    ),
    "int-missing": (
        without(ALERT, "tt"),
        ["E_REQUIRED_MISSING"],
        "E_REQUIRED_MISSING: required key tt is missing",
        ALERT_BLOCK,
    ),
    "float-text": (with_values(ALERT, o="abc"), ["E_TYPE_COERCION"], "E_TYPE_COERCION: o='abc' is not a number", ALERT_BLOCK),
    "float-plus-sign": (
        with_values(ALERT, o="+1.3"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: o='+1.3' is not a plain decimal number",
        ALERT_BLOCK,
    ),
    "float-underscore": (
        with_values(ALERT, o="1_3"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: o='1_3' is not a plain decimal number",
        ALERT_BLOCK,
    ),
    "float-non-ascii-digit": (
        with_values(ALERT, o="\u0661"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: o='\u0661' is not a plain decimal number",
        ALERT_BLOCK,
    ),
    "float-infinite": (
        with_values(ALERT, o="inf"),
        ["E_TYPE_COERCION"],
        "E_TYPE_COERCION: o='inf' is not a finite number",
        ALERT_BLOCK,
    ),
    "float-empty": (with_values(ALERT, o=""), ["E_EMPTY_NOT_ALLOWED"], "E_EMPTY_NOT_ALLOWED: o may not be empty", ALERT_BLOCK),
    "unknown-key-not-ascii-word": (
        ALERT + "|bad-key=1",
        ["E_BAD_KV"],
        "E_BAD_KV: key 'bad-key' is not ASCII letters, digits or _",
        ALERT_BLOCK,
    ),
    "ohlc": (
        with_values(ALERT, h="1.3"),
        ["E_SEM_OHLC"],
        "E_SEM_OHLC: o=1.34515 h=1.3 l=1.34512 c=1.34517 break h>=max(o,c), l<=min(o,c), l>0",
        ALERT_BLOCK,
    ),
    "rng": (with_values(R1, rng="0.1"), ["E_SEM_RNG"], "E_SEM_RNG: rng=0.1 but h-l=0.0051000000000001044", R1_BLOCK),
    "body": (
        with_values(R1, body="0.1"),
        ["E_SEM_BODY"],
        "E_SEM_BODY: body=0.1 but |c-o|=0.0033000000000000806",
        R1_BLOCK,
    ),
    "ret": (with_values(R1, ret="0.1"), ["E_SEM_RET"], "E_SEM_RET: ret=0.1 but (c-o)/o=0.002597402597402661", R1_BLOCK),
    "dir": (with_values(R1, dir="-1"), ["E_SEM_DIR"], "E_SEM_DIR: dir=-1 but c-o=0.0033000000000000806", R1_BLOCK),
    "open-of-zero": (
        with_values(R1, o="0", body="1.2738", ret="0", dir="1"),
        ["E_SEM_OHLC", "E_SEM_RET"],
        "E_SEM_OHLC: o=0.0 h=1.2742 l=1.2691 c=1.2738 break h>=max(o,c), l<=min(o,c), l>0 (+1 more)",
        R1_BLOCK,
    ),
    "no-such-day": (
        with_values(ALERT, date_ny="2026-02-30"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: no block for date_ny='2026-02-30' seg='F'",
        None,
    ),
    "no-such-letter": (
        with_values(ALERT, seg="Z"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: no block for date_ny='2026-01-13' seg='Z'",
        None,
    ),
    "compact-date": (
        with_values(ALERT, date_ny="20260113"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: no block for date_ny='20260113' seg='F'",
        None,
    ),
    "symbol-not-for-an-id": (
        with_values(ALERT, sym="GBP-USD"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: sym='GBP-USD' cannot be part of a block id",
        None,
    ),
    "symbol-of-40-characters-quoted-whole": (
        with_values(ALERT, sym="A" * 40),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: sym='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' cannot be part of a block id",
        None,
    ),
    "long-symbol-previewed": (
        with_values(ALERT, sym="A" * 41),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: sym='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'... cannot be part of a block id",
        None,
    ),
    "block-id": (
        with_values(ALERT, bid="20260113-G-GBPUSD"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: bid='20260113-G-GBPUSD' but the block is 20260113-F-GBPUSD",
        ALERT_BLOCK,
    ),
    "four-hour-id": (
        with_values(ALERT, block4h_id="20260113-GH-GBPUSD"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: block4h_id='20260113-GH-GBPUSD' but the block is 20260113-F-GBPUSD",
        ALERT_BLOCK,
    ),
    "four-hour-pair": (
        with_values(R1, block4h="GH"),
        ["E_IDENTITY_FORMAT"],
        "E_IDENTITY_FORMAT: block4h='GH' but the block is 20260116-I-GBPUSD",
        R1_BLOCK,
    ),
    "bar-time": (
        with_values(ALERT, bar_close_ms="1768377600001"),
        ["E_IDENTITY_TIME"],
        "E_IDENTITY_TIME: bar_close_ms=1768377600001 is neither start (1768377600000) nor end (1768384800000) "
        "of 20260113-F-GBPUSD",
        ALERT_BLOCK,
    ),
}


@pytest.mark.parametrize(("payload", "codes", "message", "block_id"), REFUSALS.values(), ids=REFUSALS.keys())
def test_each_refusal_has_its_exact_codes_message_and_block(payload, codes, message, block_id) -> None:
    result = parse_export(payload)

    assert ([code.value for code in result.codes], result.message, result.block_id) == (codes, message, block_id)
    assert result.record is None and result.fields is None and not result.ok


STRICT_REFUSALS = {
    "unknown-key": (ALERT + "|extra=1", ["E_UNKNOWN_KEY"], "E_UNKNOWN_KEY: key 'extra' is not in MIN_V0_1"),
    "key-order": (
        ALERT.replace("sym=GBPUSD|tz=America/New_York", "tz=America/New_York|sym=GBPUSD"),
        ["E_KEY_ORDER"],
        "E_KEY_ORDER: key sym is out of contract order",
    ),
    "three-errors": (
        with_values(ALERT, h="1.3", dir="X", ready="5"),
        ["E_TYPE_COERCION", "E_ENUM", "E_SEM_OHLC"],
        "E_TYPE_COERCION: ready='5' is not 0 or 1 (+2 more)",
    ),
}


@pytest.mark.parametrize(("payload", "codes", "message"), STRICT_REFUSALS.values(), ids=STRICT_REFUSALS.keys())
def test_strict_refusals_have_their_exact_codes_and_message(payload, codes, message) -> None:
    result = parse_export(payload, strict=True)

    assert ([code.value for code in result.codes], result.message) == (codes, message)


def test_the_limits_themselves_are_accepted() -> None:
    padded = ALERT + " " * (MAX_EXPORT_CHARS - len(ALERT))
    ints = with_values(ALERT, tt="9223372036854775807", tis="-9223372036854775808")

    assert [parse_export(text).ok for text in (padded, padded.encode(), bytearray(ALERT.encode()), memoryview(ALERT.encode()))] == [
        True
    ] * 4
    assert (parse_export(ints).record.tt, parse_export(ints).record.tis) == (2**63 - 1, -(2**63))
    assert parse_export(with_values(ALERT, tt="0000000000000000001")).record.tt == 1


def test_a_batch_is_parsed_with_the_same_options_as_one_payload() -> None:
    payloads = [ALERT + "|extra=1", FULL]

    lenient, strict, live_route = (
        parse_exports(payloads),
        parse_exports(payloads, strict=True),
        parse_exports(payloads, profile="MIN"),
    )

    assert [[code.value for code in result.codes] for result in lenient] == [[], []]
    assert [[code.value for code in result.codes] for result in strict] == [["E_UNKNOWN_KEY"], []]
    assert [[code.value for code in result.codes] for result in live_route] == [[], ["E_PROFILE"]]


def test_accepted_payloads_fill_the_canonical_block_from_the_contract() -> None:
    legacy, r1 = parse_export(ALERT).record, parse_export(R1).record

    # MIN v0.1 has no rng, body, ret: computed from OHLC; `na` and empty strings are NULL.
    assert (legacy.rng, legacy.body, legacy.ret) == (
        pytest.approx(0.00006), pytest.approx(0.00002), pytest.approx(0.00002 / 1.34515)
    )  # fmt: skip
    assert (legacy.rd_state, legacy.note, legacy.news_flag, legacy.contract, legacy.block4h) == (None, None, False, "MIN_V0_1", "EF")
    # r1 carries them as sent, and has no news_flag.
    assert (r1.rng, r1.body, r1.ret, r1.rd_state, r1.note, r1.news_flag) == (
        0.0051, 0.0033, 0.0025974025974027, "RANGE_BREAK", "clean_close", None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("detail", "total", "message"),
    [
        ("x" * 180, 3, "E_BAD_KV: " + "x" * 180 + " (+2 more)"),  # 200 characters: kept whole
        ("x" * 181, 3, "E_BAD_KV: " + "x" * 177 + "... (+2 more)"),
        ("x" * 190, 1, "E_BAD_KV: " + "x" * 190),
        ("x" * 191, 1, "E_BAD_KV: " + "x" * 187 + "..."),
    ],
)
def test_messages_are_cut_to_200_characters_with_the_count_kept(detail: str, total: int, message: str) -> None:
    assert failure_message(ErrorCode.BAD_KV, detail, total) == message
    assert len(message) == 200


FLAT_R1 = with_values(
    R1, o="0.65", h="0.65", l="0.65", c="0.65", rng="0", body="0", ret="0", dir="0", pred_target="0.7", invalidation="0.6"
)


@pytest.mark.parametrize(
    "payload",
    [
        FLAT_R1,  # h = max(o,c), l = min(o,c), h = l, prices under 1
        with_values(FLAT_R1, rng="0.000001"),  # off by exactly the tolerance, 1e-6
        with_values(FLAT_R1, body="0.000001"),
        with_values(FLAT_R1, ret="0.000001"),
        with_values(R1, c="1.2742", body="0.0037", ret=repr((1.2742 - 1.2705) / 1.2705)),  # closes at the high
        with_values(R1, o="1.2691", body="0.0047", ret=repr((1.2738 - 1.2691) / 1.2691)),  # opens at the low
    ],
    ids=["flat-bar-under-1", "rng-at-tolerance", "body-at-tolerance", "ret-at-tolerance", "close-at-high", "open-at-low"],
)
def test_values_on_a_rules_boundary_are_accepted(payload: str) -> None:
    result = parse_export(payload)

    assert (result.ok, result.message) == (True, None)


def test_unknown_keys_are_counted_and_still_checked_when_a_required_key_is_missing() -> None:
    accepted = parse_export(ALERT + "|extra=1|more=2")
    refused = parse_export(without(ALERT, "state_tag") + "|bad-key=1|extra=2")

    assert (accepted.unknown_keys, accepted.record.unknown_key_count) == (2, 2)
    assert refused.message == "E_BAD_KV: key 'bad-key' is not ASCII letters, digits or _ (+1 more)"


@pytest.mark.parametrize("separator", ["\x1c", "\x1d", "\x1e", "\x1f"])
def test_values_are_trimmed_of_the_rarer_ascii_whitespace_too(separator: str) -> None:
    result = parse_export(with_values(ALERT, o="1.34515" + separator))

    assert (result.ok, result.record.o) == (True, 1.34515)


def test_an_absent_optional_number_is_null_and_the_numbers_after_it_are_still_typed() -> None:
    block = parse_export(without(ALERT, "tis")).record

    assert (block.tis, block.rrc, block.vrc) == (None, 0.00026, 0.965)


@pytest.mark.parametrize(
    ("payload", "codes"),
    [
        (with_values(ALERT, dir="SIDEWAYS") + "|bad-key=1", ["E_BAD_KV", "E_ENUM"]),
        (without(ALERT, "note") + "|bad-key=1|extra=2", ["E_BAD_KV", "E_REQUIRED_MISSING"]),
    ],
    ids=["beside-a-bad-enum", "beside-a-missing-nullable-key"],
)
def test_a_malformed_unknown_key_is_reported_beside_other_errors(payload: str, codes: list[str]) -> None:
    assert [code.value for code in parse_export(payload).codes] == codes
