"""Golden tests: the real upstream samples parse the way the contracts say they should."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from ovc_assets.calendar import block_for
from ovc_assets.contracts import (
    FullExport,
    MinBlock,
    load_contract,
    parse_export,
    read_payloads,
)
from ovc_assets.errors import ErrorCode
from ovc_assets_tests.contracts.contract_strategies import (
    ALERT_LOG_CSV,
    FIXTURES,
    FULL_EXPORT,
    R1_EXPORT,
    R1_SAMPLE,
    R1_SAMPLE_EXPECTED,
    UPSTREAM,
    as_pairs,
    from_pairs,
    sample_file,
)

pytestmark = pytest.mark.usefixtures("fresh_contracts")


def alert_log_export() -> str:
    [payload] = list(read_payloads(sample_file(ALERT_LOG_CSV)))
    return payload.export


def test_the_real_alert_log_payload_is_a_clean_legacy_min_block() -> None:
    result = parse_export(alert_log_export(), strict=True)

    assert result.ok, result.message
    assert result.contract == "MIN_V0_1"
    block = result.record
    assert isinstance(block, MinBlock)
    assert block.block_id == "20260113-F-GBPUSD"
    assert (block.symbol, block.date_ny, block.block_letter, block.block4h) == ("GBPUSD", date(2026, 1, 13), "F", "EF")
    # TradingView sends the 2H bar's OPEN time: block F of 2026-01-13 starts 2026-01-14T08:00Z.
    assert block.bar_close_ms == 1768377600000 == block_for(date(2026, 1, 13), "F").start_ms
    assert block.block_start == datetime(2026, 1, 14, 8, tzinfo=UTC)
    assert block.block_end == datetime(2026, 1, 14, 10, tzinfo=UTC)
    assert (block.o, block.h, block.l, block.c) == (1.34515, 1.34518, 1.34512, 1.34517)
    assert block.dir == 1  # dir=UP
    assert block.rng == pytest.approx(0.00006) and block.body == pytest.approx(0.00002)
    assert block.ret == pytest.approx((1.34517 - 1.34515) / 1.34515)
    assert (block.trend_tag, block.struct_state, block.space_tag) == ("CAMPAIGN", "MIX", "MID")  # tr/ss/sp
    assert (block.bias_dir, block.pred_dir) == ("NEUTRAL", "NEUTRAL")  # bias_dir=0, pred_dir=0
    assert (block.tradeable, block.with_htf, block.ready, block.news_flag) == (False, False, False, False)
    # `na` in *_or_empty string fields is NULL; the empty note too.
    assert (block.rd_state, block.regime_tag, block.trans_risk, block.rail_loc, block.pred_target) == (None,) * 5
    assert block.note is None
    assert block.unknown_key_count == 0


def test_the_real_full_export_parses_with_every_field_typed() -> None:
    result = parse_export(sample_file(FULL_EXPORT).read_text(), strict=True)

    assert result.ok, result.message
    assert result.contract == "FULL_V0_1"
    export = result.record
    assert isinstance(export, FullExport)
    assert list(export.fields) == list(load_contract("FULL_V0_1").keys())
    assert len(export.fields) == 174
    assert export.block_id == "20260113-F-GBPUSD"
    assert export.fields["rng"] == 0.00023 and export.fields["body"] == 0.00005
    assert export.fields["dir"] == -1  # dir=DN, and c < o
    assert export.fields["tradeable"] is False and export.fields["with_htf"] is False
    assert export.fields["bias_dir"] == "NEUTRAL"
    # A value may contain '=': only the first one separates key and value.
    assert export.fields["rd_why"] == "W=NaN>D=0.029>ROT_OK>BRK_GATED"
    assert export.fields["near_lvl"] is None and export.fields["band"] == 0.0
    assert export.fields["pred_target"] is None  # na
    assert export.fields["near_src"] == "na"  # a plain required string keeps the text
    assert export.fields["swingdir"] == "+1"


def test_the_upstream_r1_sample_is_rejected_for_its_bar_time_and_its_rounded_ret() -> None:
    sample = sample_file(R1_SAMPLE).read_text()
    block = block_for(date(2026, 1, 16), "I")
    # 1768602000000 is 2026-01-16T22:20Z: neither start nor end of 20260116-I.
    assert 1768602000000 not in (block.start_ms, block.end_ms)

    result = parse_export(sample)

    assert result.contract == "MIN_R1"
    # ret=0.00260 is (c-o)/o = 0.0025974... rounded to 5 decimals: 2.6e-6 off, over 1e-6.
    assert result.codes == (ErrorCode.SEM_RET, ErrorCode.IDENTITY_TIME)
    assert result.block_id == "20260116-I-GBPUSD"
    at_block_start = from_pairs([(k, str(block.start_ms) if k == "bar_close_ms" else v) for k, v in as_pairs(sample)])
    assert parse_export(at_block_start).codes == (ErrorCode.SEM_RET,)


def test_the_r1_sample_types_like_its_upstream_expected_parse() -> None:
    """With its two defects repaired, the sample's typed values are upstream's expected ones."""
    sample = sample_file(R1_SAMPLE).read_text()
    expected = json.loads(sample_file(R1_SAMPLE_EXPECTED).read_text())
    block = block_for(date(2026, 1, 16), "I")
    repairs = {"bar_close_ms": str(block.start_ms), "ret": repr((1.2738 - 1.2705) / 1.2705)}
    repaired = from_pairs([(key, repairs.get(key, value)) for key, value in as_pairs(sample)])

    result = parse_export(repaired, strict=True)

    assert result.ok, result.message
    record = result.record._asdict()
    spec = load_contract("MIN_R1")
    compared = 0
    for field in spec.fields:
        if field.canonical is None or field.key in repairs:
            continue
        assert record[field.canonical] == expected[field.key], field.key
        compared += 1
    assert compared == 41
    assert record["block_id"] == expected["block_id"] and record["block4h"] == expected["block4h"]
    assert record["ret"] == pytest.approx(expected["ret"], abs=1e-5)


def test_min_001_carries_only_the_bar_time_defect() -> None:
    result = parse_export(sample_file(R1_EXPORT).read_text())

    assert result.codes == (ErrorCode.IDENTITY_TIME,)
    assert "neither start" in result.message


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="../shared/reference/upstream is not checked out")
def test_fixture_copies_match_the_upstream_reference_files() -> None:
    for copy in sorted(FIXTURES.iterdir()):
        assert copy.read_bytes() == (UPSTREAM / copy.name).read_bytes(), copy.name
