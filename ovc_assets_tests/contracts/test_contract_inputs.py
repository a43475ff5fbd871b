"""Getting export strings out of envelopes and files (plain lines, JSON lines, alert-log CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ovc_assets.contracts import (
    Envelope,
    looks_like_envelope,
    read_payloads,
    unpack_envelope,
)
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets_tests.contracts.contract_strategies import (
    ALERT_LOG_CSV,
    FULL_EXPORT,
    sample_file,
)

FULL = sample_file(FULL_EXPORT).read_text().strip()


def envelope(**fields) -> str:
    return json.dumps({"schema": "OVC_MIN_V01", "token": "s3cret", "export": FULL, **fields})


def test_an_envelope_gives_its_export_and_keeps_the_token_out_of_repr() -> None:
    unpacked = unpack_envelope(envelope(contract_version="0.1", source="tv", sent_ms=1768377600123))

    assert unpacked == Envelope(
        export=FULL, schema="OVC_MIN_V01", token="s3cret", contract_version="0.1", source="tv", sent_ms=1768377600123
    )
    assert "s3cret" not in repr(unpacked)


def test_envelope_bytes_are_accepted() -> None:
    assert unpack_envelope(envelope().encode()).export == FULL


def test_optional_envelope_fields_of_the_wrong_type_are_dropped() -> None:
    unpacked = unpack_envelope(envelope(token=123, sent_ms="soon", source=None))

    assert (unpacked.token, unpacked.sent_ms, unpacked.source) == (None, None, None)
    assert unpack_envelope(envelope(sent_ms=True)).sent_ms is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", ErrorCode.ENVELOPE_JSON),
        ("[1, 2]", ErrorCode.ENVELOPE_JSON),
        ('"just a string"', ErrorCode.ENVELOPE_JSON),
        ("[" * 100_000, ErrorCode.ENVELOPE_JSON),
        ('{"schema": "OVC_MIN_V01"}', ErrorCode.ENVELOPE_SCHEMA),
        ('{"export": 42}', ErrorCode.ENVELOPE_SCHEMA),
        (b'{"export": "\xff"}', ErrorCode.ENCODING),
    ],
)
def test_broken_envelopes_raise_coded_errors(body, code: ErrorCode) -> None:
    with pytest.raises(OvcError) as raised:
        unpack_envelope(body)

    assert raised.value.code == code


def test_the_schema_is_checked_only_when_asked() -> None:
    wrong = envelope(schema="OTHER")

    assert unpack_envelope(wrong).schema == "OTHER"
    with pytest.raises(OvcError) as raised:
        unpack_envelope(wrong, expected_schema="OVC_MIN_V01")
    assert raised.value.code == ErrorCode.ENVELOPE_SCHEMA


def test_an_envelope_is_recognised_by_its_opening_brace() -> None:
    assert looks_like_envelope('  {"export": ""}')
    assert not looks_like_envelope("ver=OVC_LOG_V0.1|profile=MIN")


def test_text_files_give_one_payload_per_line_skipping_blanks_and_comments(tmp_path: Path) -> None:
    source = tmp_path / "exports.txt"
    source.write_bytes(
        b"# exported by hand\r\n\r\n"
        + FULL.encode()
        + b"\r\n   \n"
        + envelope().encode()
        + b"\n"
        + b'{"no_export": 1}\n'
        + b"o=1|\xff\xfe=2\n"
    )

    payloads = list(read_payloads(source))

    assert [payload.line for payload in payloads] == [3, 5, 6, 7]
    assert payloads[0].export == FULL and payloads[1].export == FULL
    assert payloads[2].export is None and payloads[2].error.code == ErrorCode.ENVELOPE_SCHEMA
    # Invalid UTF-8 stays on its own line, for the parser to report as E_ENCODING.
    assert payloads[3].export.startswith("o=1|")


def test_the_alert_log_csv_gives_its_description_column() -> None:
    [payload] = list(read_payloads(sample_file(ALERT_LOG_CSV)))

    assert payload.line == 2
    assert payload.export.startswith("ver=OVC_LOG_V0.1|profile=MIN|schema_min=OVC_MIN_V0_1|")
    assert payload.export.endswith("|note=|ready=0")


def test_alert_log_rows_report_the_line_they_start_on(tmp_path: Path) -> None:
    source = tmp_path / "log.csv"
    source.write_text(
        "\ufeffAlert ID,Ticker,Name,Description,Time\n"
        '1,"FX:GBPUSD, 1m","multi\nline name",first=1,2026-01-14T09:24:00Z\n'
        "\n"
        "2,FX:EURUSD,short,second=2,2026-01-14T11:24:00Z\n"
        "3,FX:EURUSD,short\n"
        '4,FX:EURUSD,envelope,"{""export"": ""fourth=4""}",2026-01-14T13:24:00Z\n',
        encoding="utf-8",
    )

    payloads = list(read_payloads(source))

    assert [(payload.line, payload.export) for payload in payloads] == [
        (2, "first=1"),
        (5, "second=2"),
        (6, ""),
        (7, "fourth=4"),
    ]
