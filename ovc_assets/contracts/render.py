"""Typed values back to export strings: the inverse of `parse_export`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ovc_assets.calendar import block_for
from ovc_assets.contracts.records import MinBlock
from ovc_assets.contracts.spec import ContractSpec, FieldSpec, load_contract


def render_export(contract: str | ContractSpec, fields: Mapping[str, Any]) -> str:
    """The export string carrying `fields` (typed values by contract key), in contract order.

    Mapped enum values go back to their raw form (e.g. dir 1 -> `UP` in MIN v0.1), booleans
    of bool_01 fields to `1`/`0`, floats to their shortest round-tripping text. None becomes
    an empty value where the type allows one and leaves the key out otherwise; keys absent
    from `fields` are left out, keys unknown to the contract are ignored.
    """
    spec = _spec(contract)
    parts = []
    for field in spec.fields:
        if field.key not in fields:
            continue
        value = fields[field.key]
        if value is None and not field.empty_allowed:
            continue
        parts.append(f"{field.key}{spec.kv_separator}{_raw_text(field, value)}")
    return spec.delimiter.join(parts)


def min_block_fields(contract: str | ContractSpec, block: MinBlock) -> dict[str, Any]:
    """The typed contract fields that carry canonical `block` in a MIN contract.

    Canonical columns go to the keys that feed them, identity fields are rebuilt from the
    block calendar, the marker and single-valued fields (profile, tz) take their only value.
    """
    spec = _spec(contract)
    if spec.profile != "MIN":
        raise ValueError(f"{spec.name} is not a MIN contract")
    calendar_block = block_for(block.date_ny, block.block_letter)
    identity = spec.identity
    by_identity: dict[str, Any] = {
        identity.symbol: block.symbol,
        identity.date_ny: block.date_ny.isoformat(),
        identity.letter: block.block_letter,
        identity.bar_time: block.bar_close_ms,
    }
    by_identity.update(dict.fromkeys(identity.block_id, block.block_id))
    by_identity.update(dict.fromkeys(identity.four_hour_id, calendar_block.four_hour_id(block.symbol)))
    by_identity.update(dict.fromkeys(identity.four_hour_pair, block.block4h))
    by_identity.update(dict.fromkeys(identity.date_compact, block.date_ny.strftime("%Y%m%d")))
    values = block._asdict()
    fields: dict[str, Any] = {}
    for field in spec.fields:
        if field.key == spec.marker_key:
            fields[field.key] = spec.marker_value
        elif field.canonical is not None:
            fields[field.key] = values[field.canonical]
        elif field.key in by_identity:
            fields[field.key] = by_identity[field.key]
        elif field.enum is not None and len(field.enum) == 1:
            fields[field.key] = field.enum[0]
        else:
            raise ValueError(f"{spec.name}.{field.key} has no source in a MinBlock")
    return fields


def render_min_block(contract: str | ContractSpec, block: MinBlock) -> str:
    """The export string of canonical `block` in a MIN contract (`MIN_V0_1` or `MIN_R1`)."""
    return render_export(contract, min_block_fields(contract, block))


def _spec(contract: str | ContractSpec) -> ContractSpec:
    return load_contract(contract) if isinstance(contract, str) else contract


def _raw_text(field: FieldSpec, value: Any) -> str:
    if value is None:
        return ""
    if field.value_map is not None:
        for raw, typed in field.value_map.items():
            if typed == value:
                return raw
        raise ValueError(f"{field.key}: {value!r} is not a value the contract produces")
    if field.type == "bool_01":
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value)
