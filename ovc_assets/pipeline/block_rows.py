"""Landed events -> rows for the block tables, with the counts of seed 002 on the way:
MIN exports (live routes and alert-log replays) become `ovc_blocks_v01` rows, FULL exports
(the cold route) become `ovc_blocks_detail_v01` rows. Both go the same way: parse with the
contract, validate the batch with the pandera schema, keep one payload per block.

Counting rules (what a run report shows):
- `received_events`: the distinct landed events of the window (a resend of an identical body
  was already folded into its first event by the receiver and is reported as `webhook_resends`).
- `parse_ok` / `parse_fail`: each event is parsed (envelope, contract, semantic checks) and the
  batch validated with the pandera schema; a failure in either counts once, by code.
- `unique_events`: distinct blocks among the parsed events; `duplicate_events`: the other
  parsed events for an already-seen block. For several alerts of one block the one with the
  latest bar time, then the latest receipt, is kept.
- The losers of that choice count as `insert_skipped` (nothing of theirs is written), so that
  `insert_attempted = parse_ok` holds as seed 002 defines it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

import pandas as pd

from ovc_assets.contracts.envelope import looks_like_envelope, unpack_envelope
from ovc_assets.contracts.parser import parse_export
from ovc_assets.contracts.records import FullExport, MinBlock
from ovc_assets.contracts.schemas import (
    BatchValidation,
    full_exports_frame,
    min_blocks_frame,
    validate_full_exports,
    validate_min_blocks,
)
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.blocks import (
    BLOCK_TYPE_2H,
    DETAIL_COLUMNS,
    LIVE_BLOCK_COLUMNS,
    SCHEMA_VER,
)
from ovc_assets.storage.raw_events import (
    ROUTE_COLD_FULL,
    ROUTE_REPLAY,
    ROUTE_TV,
    ROUTE_TV_SECURE,
    WindowEvent,
)

BLOCK_SOURCE_ROUTES = (ROUTE_TV, ROUTE_TV_SECURE, ROUTE_REPLAY)
DETAIL_SOURCE_ROUTES = (ROUTE_COLD_FULL,)
SOURCE_BY_ROUTE = {ROUTE_TV: "tv_plain", ROUTE_TV_SECURE: "tv_secure", ROUTE_REPLAY: "tv_alert_log"}


@dataclass(frozen=True)
class RejectedEvent:
    event_id: Any
    codes: tuple[str, ...]
    message: str


@dataclass
class PreparedBlocks:
    """Rows ready for their table's upsert, unique by primary key, plus what was refused."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)
    webhook_resends: int = 0
    superseded: int = 0


def export_text(body: bytes) -> str:
    """The export string of a landed body: the body itself, or the `export` of a JSON envelope.
    Raises `OvcError` (E_ENCODING, E_ENVELOPE_*) for bodies that carry no export string."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise OvcError(ErrorCode.ENCODING, f"body is not valid UTF-8 (byte {error.start})") from None
    if not text.strip():
        raise OvcError(ErrorCode.EMPTY_BODY, "empty body")
    return unpack_envelope(text).export if looks_like_envelope(text) else text


def _json_value(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _block_row(block: MinBlock, export: str, route: str, run_id: str) -> tuple[Any, ...]:
    values = {
        **block.to_dict(),
        "block_type": BLOCK_TYPE_2H,
        "schema_ver": SCHEMA_VER,
        "bid": block.block_id,
        "block2h": block.block_letter,
        "source": SOURCE_BY_ROUTE.get(route, route),
        "export_min": export,
        "payload_min": json.dumps(block.to_dict(), default=_json_value, sort_keys=True),
        "run_id": run_id,
    }
    return tuple(values[column] for column in LIVE_BLOCK_COLUMNS)


def _detail_row(export_record: FullExport, export: str, route: str, run_id: str) -> tuple[Any, ...]:
    values = {
        "symbol": export_record.symbol,
        "block_start": export_record.block_start,
        "block_type": BLOCK_TYPE_2H,
        "schema_ver": SCHEMA_VER,
        "bid": export_record.block_id,
        "export_full": export,
        "full_payload": json.dumps(export_record.to_dict(), default=_json_value, sort_keys=True),
        "run_id": run_id,
    }
    return tuple(values[column] for column in DETAIL_COLUMNS)


@dataclass(frozen=True)
class PayloadKind:
    """How one profile's payloads become rows."""

    profile: str
    frame: Callable[[Iterable[Any]], pd.DataFrame]
    validate: Callable[[pd.DataFrame], BatchValidation]
    row: Callable[[Any, str, str, str], tuple[Any, ...]]


MIN_BLOCKS = PayloadKind("MIN", min_blocks_frame, validate_min_blocks, _block_row)
FULL_DETAILS = PayloadKind("FULL", full_exports_frame, validate_full_exports, _detail_row)


class _Parsed(NamedTuple):
    event: WindowEvent
    export: str
    record: Any
    build_id: str | None


def prepare_rows(kind: PayloadKind, events: Sequence[WindowEvent], run_id: str, counts: RunCounts) -> PreparedBlocks:
    """Parse, validate and deduplicate `events` as `kind`, adding to `counts` (see the module docstring)."""
    prepared = PreparedBlocks()
    counts.received_events += len(events)
    parsed: list[_Parsed] = []
    for event in events:
        prepared.webhook_resends += event.duplicate_count
        try:
            export = export_text(event.body)
        except OvcError as error:
            counts.count_failure([error.code.value])
            prepared.rejected.append(RejectedEvent(event.event_id, (error.code.value,), error.message))
            continue
        result = parse_export(export, profile=kind.profile)
        if not result.ok:
            codes = tuple(code.value for code in result.codes)
            counts.count_failure(codes)
            prepared.rejected.append(RejectedEvent(event.event_id, codes, result.message or ""))
            continue
        parsed.append(_Parsed(event, export, result.record, result.fields.get("build_id")))

    validation = kind.validate(kind.frame(item.record for item in parsed))
    for position, codes in validation.row_codes.items():
        code_values = tuple(code.value for code in codes)
        counts.count_failure(code_values)
        prepared.rejected.append(RejectedEvent(parsed[position].event.event_id, code_values, validation.row_messages[position]))
    survivors = [parsed[position] for position in validation.valid.index]
    counts.parse_ok += len(survivors)
    for item in survivors:
        counts.see(item.record.scheme, item.build_id)

    # Latest bar time, then latest receipt, wins a block.
    ranked = pd.DataFrame(
        {
            "symbol": [item.record.symbol for item in survivors],
            "block_start": [item.record.block_start for item in survivors],
            "bar_close_ms": [item.record.bar_close_ms for item in survivors],
            "received_at": [item.event.received_at for item in survivors],
        }
    ).sort_values(["symbol", "block_start", "bar_close_ms", "received_at"], ascending=[True, True, False, False])
    winners = sorted(
        (survivors[position] for position in ranked.drop_duplicates(["symbol", "block_start"], keep="first").index),
        key=lambda item: (item.record.symbol, item.record.block_start),
    )
    prepared.superseded = len(survivors) - len(winners)
    counts.unique_events += len(winners)
    counts.duplicate_events += prepared.superseded
    prepared.rows = [kind.row(item.record, item.export, item.event.route, run_id) for item in winners]
    return prepared
