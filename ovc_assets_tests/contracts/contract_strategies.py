"""Test helpers for the contract tests: upstream sample files and hypothesis strategies.

The strategies build valid typed field values for any contract straight from its JSON
spec (types, enums, maps), then make the semantic and identity fields consistent, so a
change to a contract file changes what is generated.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from ovc_assets.calendar import BLOCK_LETTERS, Block, block_for
from ovc_assets.contracts import ContractSpec, FieldSpec, load_contract, render_export

FIXTURES = Path(__file__).resolve().parent / "fixtures"
UPSTREAM = Path(__file__).resolve().parents[3] / "shared" / "reference" / "upstream"

ALERT_LOG_CSV = "TradingView_Alerts_Log_2026-01-14_6bab8.csv"
FULL_EXPORT = "full_001.txt"
R1_EXPORT = "min_001.txt"
R1_SAMPLE = "export_contract_v0.1.1_min_sample.txt"
R1_SAMPLE_EXPECTED = "export_contract_v0.1.1_min_sample.expected.json"


def sample_file(name: str) -> Path:
    """An upstream sample: the copy in fixtures/, so the tests do not depend on ../shared."""
    return FIXTURES / name


def as_pairs(export: str) -> list[tuple[str, str]]:
    """An export string as (key, raw value) pairs, for mutating payloads."""
    return [tuple(segment.split("=", 1)) for segment in export.split("|")]  # type: ignore[misc]


def from_pairs(pairs: list[tuple[str, str]]) -> str:
    return "|".join(f"{key}={value}" for key, value in pairs)


# Text a producer could send as a value: no delimiter, no NUL, no surrounding whitespace
# (values are trimmed), and `=` allowed since only the first one splits.
_value_characters = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="|\x00", min_codepoint=1, max_codepoint=0x2FFF
)
value_text = st.text(_value_characters, min_size=1, max_size=12).filter(lambda text: text == text.strip() and text)

prices = st.floats(min_value=1e-4, max_value=1e5, allow_nan=False, allow_infinity=False)
# text() draws these ~10x faster than the equal regex `[A-Z0-9._]{1,12}`.
symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._", min_size=1, max_size=12)
high_over_body = st.floats(min_value=0, max_value=10)
low_under_body = st.floats(min_value=0.5, max_value=1)
blocks = st.builds(
    block_for,
    st.dates(min_value=date(2005, 1, 1), max_value=date(2035, 12, 31)),
    st.sampled_from(BLOCK_LETTERS),
)


def _value(field: FieldSpec, spec: ContractSpec) -> st.SearchStrategy[Any]:
    """Any valid typed value of `field` (None where the type allows an empty value)."""
    allowed = field.typed_values()
    if allowed is not None:
        base: st.SearchStrategy[Any] = st.sampled_from(allowed)
    elif field.type in ("string", "string_or_empty"):
        base = value_text.filter(lambda text: text not in spec.null_tokens or field.type == "string")
    elif field.type in ("int", "int_or_empty"):
        base = st.integers(min_value=-(2**63), max_value=2**63 - 1)
    elif field.type in ("float", "number_or_empty"):
        base = st.floats(allow_nan=False, allow_infinity=False)
    else:
        base = st.booleans()
    if field.empty_allowed or not field.required:
        return st.none() | base
    return base


@functools.cache
def _typed_values(contract: str) -> st.SearchStrategy[dict[str, Any]]:
    """Typed values for every key of `contract`, built once: hypothesis validates a strategy
    when it is first drawn from, and building these anew for each example was a third of the
    property tests' time."""
    spec = load_contract(contract)
    return st.fixed_dictionaries({field.key: _value(field, spec) for field in spec.fields})


@st.composite
def valid_fields(draw: st.DrawFn, contract: str) -> dict[str, Any]:
    """Typed values for every key of `contract` that together pass every rule."""
    spec = load_contract(contract)
    fields = dict(draw(_typed_values(contract)))
    fields[spec.marker_key] = spec.marker_value
    o, c = draw(prices), draw(prices)
    h = max(o, c) + draw(high_over_body)
    low = min(o, c) * draw(low_under_body)
    fields.update(o=o, h=h, l=low, c=c)
    for key, value in (("rng", h - low), ("body", abs(c - o)), ("ret", (c - o) / o)):
        if key in fields:
            fields[key] = value
    fields["dir"] = (c > o) - (c < o)  # typed: every contract's dir types (or maps) to -1/0/1
    block = draw(blocks)
    fields.update(identity_fields(spec, block, draw(symbols), draw(st.sampled_from([block.start_ms, block.end_ms]))))
    return fields


def identity_fields(spec: ContractSpec, block: Block, symbol: str, bar_ms: int) -> dict[str, Any]:
    """The identity fields of `spec` describing `block` for `symbol`."""
    identity = spec.identity
    values: dict[str, Any] = {
        identity.symbol: symbol,
        identity.date_ny: block.date_ny.isoformat(),
        identity.letter: block.letter,
        identity.bar_time: bar_ms,
    }
    values.update(dict.fromkeys(identity.block_id, block.block_id(symbol)))
    values.update(dict.fromkeys(identity.four_hour_id, block.four_hour_id(symbol)))
    values.update(dict.fromkeys(identity.four_hour_pair, block.pair))
    values.update(dict.fromkeys(identity.date_compact, block.date_ny.strftime("%Y%m%d")))
    return values


@st.composite
def valid_exports(draw: st.DrawFn, contract: str) -> tuple[dict[str, Any], str]:
    """Typed field values and the export string carrying them."""
    fields = draw(valid_fields(contract))
    return fields, render_export(contract, fields)
