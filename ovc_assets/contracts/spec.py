"""The export contracts in `contracts/*.json`, loaded into typed, read-only specs.

The JSON files are the single source of the field tables: the parser, the canonical
record mapping and the pandera schemas are all driven by (or checked against) them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ovc_assets.project_files import project_dir

MIN_V0_1 = "MIN_V0_1"
MIN_R1 = "MIN_R1"
FULL_V0_1 = "FULL_V0_1"
CONTRACT_NAMES = (MIN_V0_1, MIN_R1, FULL_V0_1)
MIN_CONTRACTS = (MIN_V0_1, MIN_R1)

CONTRACT_FILES = {
    MIN_V0_1: "min_v0_1.json",
    MIN_R1: "min_v0_1_1_r1.json",
    FULL_V0_1: "full_v0_1.json",
}

FIELD_TYPES = frozenset(
    {"string", "string_or_empty", "int", "int_or_empty", "float", "number_or_empty", "bool_01", "enum"}
)
SEMANTIC_RULES = frozenset({"ohlc", "rng", "body", "ret", "dir", "identity", "bar_time"})
# Fields each semantic rule reads; a contract naming a rule must define them.
RULE_FIELDS = {
    "ohlc": ("o", "h", "l", "c"),
    "rng": ("h", "l", "rng"),
    "body": ("o", "c", "body"),
    "ret": ("o", "c", "ret"),
    "dir": ("o", "c", "dir"),
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One key of an export contract: its position, type and what it becomes when typed."""

    key: str
    order: int
    type: str
    required: bool
    enum: tuple[Any, ...] | None = None
    value_map: Mapping[str, Any] | None = None
    canonical: str | None = None

    @property
    def empty_allowed(self) -> bool:
        """Whether an empty value is valid (the `*_or_empty` types); it then types to None."""
        return self.type.endswith("_or_empty")

    def typed_values(self) -> tuple[Any, ...] | None:
        """The values this field can take once typed when it is restricted, else None."""
        if self.value_map is not None:
            return tuple(dict.fromkeys(self.value_map.values()))
        return self.enum


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    """Which fields carry a contract's block identity (see DESIGN section 2)."""

    symbol: str
    date_ny: str
    letter: str
    block_id: tuple[str, ...]
    four_hour_id: tuple[str, ...]
    four_hour_pair: tuple[str, ...]
    date_compact: tuple[str, ...]
    bar_time: str

    def keys(self) -> tuple[str, ...]:
        """Every field key the identity rules read."""
        singles = (self.symbol, self.date_ny, self.letter, self.bar_time)
        return singles + self.block_id + self.four_hour_id + self.four_hour_pair + self.date_compact


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """One export contract: marker, field table, semantic rules and identity fields."""

    name: str
    profile: str
    marker_key: str
    marker_value: str
    delimiter: str
    kv_separator: str
    null_tokens: frozenset[str]
    tolerance: float
    semantic_rules: tuple[str, ...]
    identity: IdentitySpec
    fields: tuple[FieldSpec, ...]
    notes: tuple[str, ...]

    def field(self, key: str) -> FieldSpec:
        """The field spec for `key`; KeyError if the contract has no such key."""
        for spec in self.fields:
            if spec.key == key:
                return spec
        raise KeyError(key)

    def keys(self) -> tuple[str, ...]:
        """The contract's keys in contract order."""
        return tuple(spec.key for spec in self.fields)


class ContractFileError(ValueError):
    """A contract JSON file that breaks the rules this module relies on."""


def contracts_dir() -> Path:
    """The directory holding the contract JSON files.

    Wheel builds copy `contracts/` into the package as `ovc_assets/_data/contracts`; a
    source checkout uses the repository's `contracts/` directory.
    """
    return project_dir("contracts")


def contract_from_document(document: Mapping[str, Any]) -> ContractSpec:
    """Build a spec from a parsed contract document, rejecting anything inconsistent."""
    name = document["contract"]
    fields = tuple(_field_from_entry(name, entry) for entry in document["fields"])
    keys = [spec.key for spec in fields]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ContractFileError(f"{name}: keys listed more than once: {duplicates}")
    rules = tuple(document["semantic_rules"])
    unknown_rules = set(rules) - SEMANTIC_RULES
    if unknown_rules:
        raise ContractFileError(f"{name}: unknown semantic rules {sorted(unknown_rules)}")
    identity_entry = document["identity"]
    identity = IdentitySpec(
        symbol=identity_entry["symbol"],
        date_ny=identity_entry["date_ny"],
        letter=identity_entry["letter"],
        block_id=tuple(identity_entry["block_id"]),
        four_hour_id=tuple(identity_entry["four_hour_id"]),
        four_hour_pair=tuple(identity_entry["four_hour_pair"]),
        date_compact=tuple(identity_entry["date_compact"]),
        bar_time=identity_entry["bar_time"],
    )
    needed = set(identity.keys())
    for rule in rules:
        needed.update(RULE_FIELDS.get(rule, ()))
    missing = sorted(needed - set(keys))
    if missing:
        raise ContractFileError(f"{name}: rules or identity name keys the contract lacks: {missing}")
    marker = document["marker"]
    if marker["key"] not in keys:
        raise ContractFileError(f"{name}: marker key {marker['key']!r} is not a field")
    return ContractSpec(
        name=name,
        profile=document["profile"],
        marker_key=marker["key"],
        marker_value=marker["value"],
        delimiter=document["delimiter"],
        kv_separator=document["kv_separator"],
        null_tokens=frozenset(document.get("null_tokens", ())),
        tolerance=float(document["tolerance"]),
        semantic_rules=rules,
        identity=identity,
        fields=fields,
        notes=tuple(document.get("notes", ())),
    )


@cache
def load_contracts() -> Mapping[str, ContractSpec]:
    """All contracts by name (`MIN_V0_1`, `MIN_R1`, `FULL_V0_1`), read once per process."""
    directory = contracts_dir()
    specs = {}
    for name, filename in CONTRACT_FILES.items():
        document = json.loads((directory / filename).read_text(encoding="utf-8"))
        spec = contract_from_document(document)
        if spec.name != name:
            raise ContractFileError(f"{filename} declares contract {spec.name!r}, expected {name!r}")
        specs[name] = spec
    return MappingProxyType(specs)


def load_contract(name: str) -> ContractSpec:
    """One contract by name; KeyError for an unknown name."""
    return load_contracts()[name]


def _field_from_entry(contract: str, entry: Mapping[str, Any]) -> FieldSpec:
    field_type = entry["type"]
    if field_type not in FIELD_TYPES:
        raise ContractFileError(f"{contract}.{entry['key']}: unknown type {field_type!r}")
    enum = tuple(entry["enum"]) if "enum" in entry else None
    value_map = entry.get("map")
    if field_type == "enum" and enum is None:
        raise ContractFileError(f"{contract}.{entry['key']}: enum without values")
    if value_map is not None and (enum is None or set(value_map) != set(enum)):
        raise ContractFileError(f"{contract}.{entry['key']}: map keys must equal the enum values")
    return FieldSpec(
        key=entry["key"],
        order=int(entry["order"]),
        type=field_type,
        required=bool(entry["required"]),
        enum=enum,
        value_map=MappingProxyType(dict(value_map)) if value_map is not None else None,
        canonical=entry.get("canonical"),
    )
