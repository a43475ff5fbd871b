"""Export contracts: the JSON contracts, the strict parser, the canonical records, the
pandera schemas with batch validation, envelope unpacking and input-file reading."""

from ovc_assets.contracts.envelope import (
    ENVELOPE_SCHEMA,
    Envelope,
    looks_like_envelope,
    unpack_envelope,
)
from ovc_assets.contracts.parser import (
    MAX_EXPORT_CHARS,
    ParseResult,
    parse_export,
    parse_exports,
)
from ovc_assets.contracts.records import MIN_BLOCK_COLUMNS, FullExport, MinBlock
from ovc_assets.contracts.render import (
    min_block_fields,
    render_export,
    render_min_block,
)
from ovc_assets.contracts.sources import SourcePayload, read_payloads
from ovc_assets.contracts.spec import (
    CONTRACT_NAMES,
    FULL_V0_1,
    MIN_CONTRACTS,
    MIN_R1,
    MIN_V0_1,
    ContractSpec,
    FieldSpec,
    contracts_dir,
    load_contract,
    load_contracts,
)

__all__ = [
    "CONTRACT_NAMES",
    "ENVELOPE_SCHEMA",
    "FULL_V0_1",
    "MAX_EXPORT_CHARS",
    "MIN_BLOCK_COLUMNS",
    "MIN_CONTRACTS",
    "MIN_R1",
    "MIN_V0_1",
    "BatchValidation",
    "ContractSpec",
    "Envelope",
    "FieldSpec",
    "FullExport",
    "FullExportSchema",
    "MinBlock",
    "MinBlockSchema",
    "ParseResult",
    "SourcePayload",
    "contracts_dir",
    "full_exports_frame",
    "load_contract",
    "load_contracts",
    "looks_like_envelope",
    "min_block_fields",
    "min_blocks_frame",
    "parse_export",
    "parse_exports",
    "read_payloads",
    "render_export",
    "render_min_block",
    "schema_mismatches",
    "unpack_envelope",
    "validate_full_exports",
    "validate_min_blocks",
]

# The pandera schemas pull in pandas and pandera (~0.5 s, ~100 MB); the webhook receiver only
# parses, so they load on first use.
_SCHEMA_NAMES = frozenset({'BatchValidation', 'FullExportSchema', 'MinBlockSchema', 'full_exports_frame', 'min_blocks_frame', 'schema_mismatches', 'validate_full_exports', 'validate_min_blocks'})


def __getattr__(name: str) -> object:
    if name in _SCHEMA_NAMES:
        from ovc_assets.contracts import schemas

        return getattr(schemas, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
