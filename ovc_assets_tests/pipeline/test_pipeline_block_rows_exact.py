"""`prepare_rows` in literal values: each way an event is refused (with its code and message),
the counts it adds to, and the rows it builds for the live and the detail table."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ovc_assets.contracts.schemas import validate_min_blocks
from ovc_assets.errors import OvcError
from ovc_assets.pipeline.block_rows import FULL_DETAILS, MIN_BLOCKS, RejectedEvent, _json_value, export_text, prepare_rows
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.blocks import DETAIL_COLUMNS, LIVE_BLOCK_COLUMNS
from ovc_assets.storage.raw_events import WindowEvent
from ovc_assets_tests.contracts.test_contract_parser import ALERT, FULL, R1, with_values

RECEIVED = datetime(2026, 1, 14, 10, 0, 5, tzinfo=UTC)


def event(number: int, body: bytes, route: str = "tv", duplicates: int = 0, seconds: int = 0) -> WindowEvent:
    return WindowEvent(uuid.UUID(int=number), RECEIVED + timedelta(seconds=seconds), route, body, duplicates)


def live_row(row: tuple) -> dict:
    return dict(zip(LIVE_BLOCK_COLUMNS, row, strict=True))


def test_events_are_refused_counted_and_kept_one_per_block() -> None:
    envelope = json.dumps({"export": ALERT, "token": "t"}).encode()
    events = [
        event(1, b"\xffsym=GBPUSD", duplicates=2),
        event(2, b" \n "),
        event(3, b"{not json"),
        event(4, FULL.encode(), duplicates=1),
        event(5, with_values(ALERT, h="1.3").encode()),
        event(6, ALERT.encode(), route="tv"),
        event(7, envelope, route="tv_secure", seconds=1),  # the same block, received later: wins
        event(0, R1.encode(), route="somewhere_else"),  # listed last, its id first: rows go by block
    ]
    # What an earlier window of the same run counted.
    counts = RunCounts(received_events=5, parse_fail=1, fail_by_code={"E_ENCODING": 1}, parse_ok=4, unique_events=3, duplicate_events=1)

    prepared = prepare_rows(MIN_BLOCKS, events, "run-7", counts)

    assert prepared.rejected == [
        RejectedEvent(uuid.UUID(int=1), ("E_ENCODING",), "body is not valid UTF-8 (byte 0)"),
        RejectedEvent(uuid.UUID(int=2), ("E_EMPTY_BODY",), "empty body"),
        RejectedEvent(
            uuid.UUID(int=3), ("E_ENVELOPE_JSON",), "envelope is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        ),
        RejectedEvent(uuid.UUID(int=4), ("E_PROFILE",), "E_PROFILE: FULL_V0_1 is a FULL export; this route takes MIN only"),
        RejectedEvent(
            uuid.UUID(int=5), ("E_SEM_OHLC",), "E_SEM_OHLC: o=1.34515 h=1.3 l=1.34512 c=1.34517 break h>=max(o,c), l<=min(o,c), l>0"
        ),
    ]
    assert (prepared.webhook_resends, prepared.superseded) == (3, 1)
    assert (counts.received_events, counts.parse_fail, counts.parse_ok) == (13, 6, 4 + 3)
    assert counts.fail_by_code == {"E_ENCODING": 2, "E_EMPTY_BODY": 1, "E_ENVELOPE_JSON": 1, "E_PROFILE": 1, "E_SEM_OHLC": 1}
    assert (counts.unique_events, counts.duplicate_events) == (3 + 2, 1 + 1)
    assert counts.schema_versions_seen == {"OVC_MIN_V0_1": 2, "export_contract_v0.1_min_r1": 1}
    assert counts.build_ids_seen == {"OVC_v0.1": 2, "ovc_pine_0.1.0": 1}

    alert, r1 = (live_row(row) for row in prepared.rows)
    assert (alert["bid"], alert["source"], alert["export_min"], alert["run_id"]) == ("20260113-F-GBPUSD", "tv_secure", ALERT, "run-7")
    assert (r1["bid"], r1["source"], r1["block2h"], r1["export_min"]) == ("20260116-I-GBPUSD", "somewhere_else", "I", R1)
    assert (alert["block_type"], alert["schema_ver"], alert["block2h"], alert["block4h"]) == ("2H", "v01", "F", "EF")
    payload = alert["payload_min"]
    assert payload.startswith('{"bar_close_ms": 1768377600000, "bias_dir": "NEUTRAL", "bias_mode": "TRANSITION", "block4h": "EF", ')
    assert '"block_end": "2026-01-14T10:00:00+00:00"' in payload and '"date_ny": "2026-01-13"' in payload
    assert json.loads(payload)["block_id"] == "20260113-F-GBPUSD"


def test_a_replayed_alert_is_stored_as_from_the_alert_log() -> None:
    prepared = prepare_rows(MIN_BLOCKS, [event(1, ALERT.encode(), route="replay_alerts")], "run-1", RunCounts())

    assert live_row(prepared.rows[0])["source"] == "tv_alert_log"


def test_rows_the_batch_schema_refuses_are_rejected_with_its_codes() -> None:
    def refuse_the_second_row(frame):
        frame = frame.copy()
        frame.loc[1, "h"] = 0.5
        return validate_min_blocks(frame)

    kind = replace(MIN_BLOCKS, validate=refuse_the_second_row)
    counts = RunCounts()

    prepared = prepare_rows(kind, [event(1, ALERT.encode()), event(2, R1.encode())], "run-1", counts)

    assert prepared.rejected == [
        RejectedEvent(uuid.UUID(int=2), ("E_SEM_OHLC", "E_SEM_RNG"), "E_SEM_OHLC: h >= max(o,c), l <= min(o,c), h >= l, l > 0 does not hold (+1 more)")
    ]
    assert (counts.parse_ok, counts.parse_fail, counts.fail_by_code) == (1, 1, {"E_SEM_OHLC": 1, "E_SEM_RNG": 1})
    assert [live_row(row)["bid"] for row in prepared.rows] == ["20260113-F-GBPUSD"]


def test_a_full_export_becomes_a_detail_row() -> None:
    counts = RunCounts()

    prepared = prepare_rows(FULL_DETAILS, [event(1, FULL.encode(), route="cold_full")], "run-2", counts)

    (row,) = prepared.rows
    detail = dict(zip(DETAIL_COLUMNS, row, strict=True))
    assert (detail["symbol"], detail["block_start"], detail["block_type"], detail["schema_ver"]) == (
        "GBPUSD", datetime(2026, 1, 14, 8, tzinfo=UTC), "2H", "v01"
    )  # fmt: skip
    assert (detail["bid"], detail["export_full"], detail["run_id"]) == ("20260113-F-GBPUSD", FULL, "run-2")
    payload = json.loads(detail["full_payload"])
    assert {key: value for key, value in payload.items() if key != "fields"} == {
        "contract": "FULL_V0_1", "scheme": "OVC_FULL_V0_1", "producer_ver": "OVC_LOG_V0.1", "symbol": "GBPUSD",
        "block_id": "20260113-F-GBPUSD", "date_ny": "2026-01-13", "block_letter": "F", "bar_close_ms": 1768377600000,
        "block_start": "2026-01-14T08:00:00+00:00", "block_end": "2026-01-14T10:00:00+00:00", "unknown_key_count": 0,
    }  # fmt: skip
    assert (len(payload["fields"]), payload["fields"]["rd_why"], payload["fields"]["dir"]) == (174, "W=NaN>D=0.029>ROT_OK>BRK_GATED", -1)
    assert detail["full_payload"].startswith('{"bar_close_ms": 1768377600000, "block_end": ')
    assert (counts.parse_ok, counts.schema_versions_seen) == (1, {"OVC_FULL_V0_1": 1})


def test_an_export_text_is_the_body_or_its_envelopes_export() -> None:
    assert export_text(b"  a=1  ") == "  a=1  "
    assert export_text(json.dumps({"export": "a=1"}).encode()) == "a=1"
    with pytest.raises(OvcError) as raised:
        export_text(b"ok\xc3")
    assert (raised.value.code, raised.value.message) == ("E_ENCODING", "body is not valid UTF-8 (byte 2)")


def test_a_value_that_is_no_date_is_not_serialised() -> None:
    with pytest.raises(TypeError) as raised:
        _json_value(object())

    assert str(raised.value) == "not JSON serialisable: object"
