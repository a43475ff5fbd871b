"""Strict parser for OVC export strings (`key=value|key=value|...`, DESIGN section 3).

One parser serves all three contracts: the contract is detected from its marker key and
its precompiled field table (built from `contracts/*.json`) drives typing, the semantic
rules and the mapping into the canonical record. Plain `str` operations and dict lookups
keep it fast enough for 20,000+ payloads per second; no input raises, every failure is a
coded error.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from ovc_assets.contracts.identity import BlockTimes, block_times, symbol_fits_block_id
from ovc_assets.contracts.messages import failure_message, ordered_codes
from ovc_assets.contracts.records import MIN_BLOCK_COLUMNS, FullExport, MinBlock
from ovc_assets.contracts.render import min_block_fields
from ovc_assets.contracts.spec import ContractSpec, FieldSpec, load_contracts
from ovc_assets.errors import ErrorCode

MAX_EXPORT_CHARS = 65_536
"""Longest export string parsed (E_BODY_TOO_LARGE beyond); a FULL export is ~2 KB."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_INT64_DIGITS = 19
_KEY_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_BOOL_01 = MappingProxyType({"0": False, "1": True})
_PREVIEW_CHARS = 40
_NOT_LISTED = object()

# Derived values sit in the typed dict under "@" + column: no contract key can contain "@".
_DERIVED_PREFIX = "@"
# How the canonical block fills rng, body and ret for a contract without them; the OHLC
# rule (checked first) guarantees o > 0.
_OHLC_FORMULAS: dict[str, Callable[[float, float, float, float], float]] = {
    "rng": lambda o, h, low, c: h - low,
    "body": lambda o, h, low, c: abs(c - o),
    "ret": lambda o, h, low, c: (c - o) / o,
}


@dataclass(frozen=True, slots=True)
class ParseResult:
    """Outcome of parsing one export string.

    `ok` is true when `codes` is empty; `record` is then a `MinBlock` (MIN contracts) or a
    `FullExport` (FULL). `block_id` is the calendar's id for the payload's date_ny, letter
    and symbol whenever those three are usable, also for a rejected payload. `message` is
    a short human text (<= 200 characters) naming the first error, None when ok.
    """

    contract: str | None
    codes: tuple[ErrorCode, ...]
    message: str | None
    block_id: str | None = None
    record: MinBlock | FullExport | None = None
    unknown_keys: int = 0

    @property
    def ok(self) -> bool:
        """Whether the payload passed every rule of its contract."""
        return not self.codes

    @property
    def fields(self) -> Mapping[str, Any] | None:
        """Every contract key with its typed value (None for an absent optional or empty
        value), for an accepted payload; None otherwise.

        Rebuilt from the record on demand rather than kept: at 100,000 payloads a typed
        dict per result would double the batch's memory.
        """
        if self.record is None:
            return None
        if isinstance(self.record, FullExport):
            return self.record.fields
        return MappingProxyType(min_block_fields(self.record.contract, self.record))


class _Rejected(Exception):
    """A value that cannot take its field's type; caught inside the parser only."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Errors:
    """Collects coded errors: every code once, the first detail per code, and a total count."""

    __slots__ = ("details", "total")

    def __init__(self) -> None:
        self.details: dict[ErrorCode, str] = {}
        self.total = 0

    def add(self, code: ErrorCode, detail: str) -> None:
        self.total += 1
        if code not in self.details:
            self.details[code] = detail

    def __bool__(self) -> bool:
        return self.total > 0

    def codes(self) -> tuple[ErrorCode, ...]:
        return ordered_codes(self.details)

    def message(self) -> str:
        first = self.codes()[0]
        return failure_message(first, self.details[first], self.total)


def _preview(text: str) -> str:
    """A short, printable rendering of untrusted text for messages."""
    if len(text) > _PREVIEW_CHARS:
        return repr(text[:_PREVIEW_CHARS]) + "..."
    return repr(text)


def _to_int(raw: str) -> int:
    digits = raw[1:] if raw[0] == "-" else raw
    if not (digits.isascii() and digits.isdigit()) or len(digits) > _INT64_DIGITS:
        raise _Rejected(ErrorCode.TYPE_COERCION, "is not an integer (optional '-', ASCII digits)")
    value = int(raw)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise _Rejected(ErrorCode.TYPE_COERCION, "is outside the 64-bit integer range")
    return value


def _to_float(raw: str) -> float:
    # float() also takes '+1', '1_0', 'nan', 'inf' and non-ASCII digits; the contract does not.
    if raw[0] == "+" or "_" in raw or not raw.isascii():
        raise _Rejected(ErrorCode.TYPE_COERCION, "is not a plain decimal number")
    try:
        value = float(raw)
    except ValueError:
        raise _Rejected(ErrorCode.TYPE_COERCION, "is not a number") from None
    if not math.isfinite(value):
        raise _Rejected(ErrorCode.TYPE_COERCION, "is not a finite number")
    return value + 0.0  # turns -0.0 into 0.0


_NUMBER_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "int": _to_int,
    "int_or_empty": _to_int,
    "float": _to_float,
    "number_or_empty": _to_float,
}


def _restricted(base: Callable[[str], Any], permitted: tuple[Any, ...]) -> Callable[[str], Any]:
    """`base`, then E_ENUM unless the typed value is one of `permitted`."""
    allowed = frozenset(permitted)
    listed = "/".join(str(value) for value in permitted)

    def convert(raw: str) -> Any:
        value = base(raw)
        if value not in allowed:
            raise _Rejected(ErrorCode.ENUM, f"is not one of {listed}")
        return value

    return convert


# A field typed by table lookup (enum, bool_01): key, required, raw text -> typed value,
# and the code and reason for text not in the table.
_LookupField = tuple[str, bool, Mapping[str, Any], ErrorCode, str]
# A field typed by a function (numbers; an optional plain string keeps its text): key,
# required, empty allowed, converter.
_ConvertedField = tuple[str, bool, bool, Callable[[str], Any]]


def _lookup_field(field: FieldSpec) -> _LookupField:
    if field.type == "bool_01":
        return field.key, field.required, _BOOL_01, ErrorCode.TYPE_COERCION, "is not 0 or 1"
    raw_to_typed = field.value_map if field.value_map is not None else dict(zip(field.enum, field.enum))
    listing = "/".join(str(value) for value in field.enum)
    return field.key, field.required, MappingProxyType(dict(raw_to_typed)), ErrorCode.ENUM, f"is not one of {listing}"


def _converted_field(field: FieldSpec) -> _ConvertedField:
    convert = _NUMBER_CONVERTERS.get(field.type, str)
    if field.enum is not None:
        convert = _restricted(convert, field.enum)
    return field.key, field.required, field.empty_allowed, convert


@dataclass(frozen=True, slots=True)
class _CompiledContract:
    """A contract's field table in the shape the hot loop wants.

    Most fields are strings whose raw text is the value; they are looked up in bulk
    (`map`), and only the rest goes through the per-field loop.
    """

    spec: ContractSpec
    text_keys: tuple[str, ...]  # required `string` fields
    nullable_text_keys: tuple[str, ...]  # `string_or_empty` fields
    required_nullable_text_keys: frozenset[str]
    null_tokens: frozenset[str]
    lookup_fields: tuple[_LookupField, ...]
    converted_fields: tuple[_ConvertedField, ...]
    order: Mapping[str, int]
    rules: frozenset[str]
    # MIN only: for each canonical column, the contract key it is read from or the derived
    # value's "@" name; and the OHLC-derived columns the contract lacks, which are computed.
    record_sources: tuple[str, ...]
    computed_columns: tuple[str, ...]


def _compile(spec: ContractSpec) -> _CompiledContract:
    text = [f for f in spec.fields if f.type == "string" and f.required]
    nullable_text = [f for f in spec.fields if f.type == "string_or_empty"]
    lookup = [f for f in spec.fields if f.type in ("enum", "bool_01")]
    converted = [f for f in spec.fields if f not in text and f not in nullable_text and f not in lookup]
    canonical_keys = {field.canonical: field.key for field in spec.fields if field.canonical is not None}
    computed: tuple[str, ...] = ()
    record_sources: tuple[str, ...] = ()
    if spec.profile == "MIN":
        computed = tuple(column for column in _OHLC_FORMULAS if column not in canonical_keys)
        record_sources = tuple(canonical_keys.get(column, _DERIVED_PREFIX + column) for column in MIN_BLOCK_COLUMNS)
    return _CompiledContract(
        spec=spec,
        text_keys=tuple(f.key for f in text),
        nullable_text_keys=tuple(f.key for f in nullable_text),
        required_nullable_text_keys=frozenset(f.key for f in nullable_text if f.required),
        null_tokens=spec.null_tokens,
        lookup_fields=tuple(_lookup_field(f) for f in lookup),
        converted_fields=tuple(_converted_field(f) for f in converted),
        order=MappingProxyType({field.key: field.order for field in spec.fields}),
        rules=frozenset(spec.semantic_rules),
        record_sources=record_sources,
        computed_columns=computed,
    )


@cache
def _compiled_contracts() -> tuple[_CompiledContract, ...]:
    return tuple(_compile(spec) for spec in load_contracts().values())


def parse_export(payload: str | bytes, *, strict: bool = False, profile: str | None = None) -> ParseResult:
    """Parse and validate one export string against the contract its marker names.

    `payload` may be text or raw bytes (decoded as strict UTF-8). By default unknown keys
    are ignored and counted; `strict=True` reports them (`E_UNKNOWN_KEY`) and checks key
    order (`E_KEY_ORDER`). `profile="MIN"` refuses a FULL export with `E_PROFILE` (the
    live route). Never raises for any input.
    """
    errors = _Errors()
    text = _decoded(payload, errors)
    if text is None:
        return _failure(None, errors)
    pairs = _split_pairs(text, errors)
    compiled = _detect_contract(pairs, errors)
    if compiled is None:
        _check_keys(pairs, None, strict, errors)
        return _failure(None, errors)
    spec = compiled.spec
    if profile is not None and spec.profile != profile:
        errors.add(ErrorCode.PROFILE, f"{spec.name} is a {spec.profile} export; this route takes {profile} only")
    typed, known_present = _type_fields(compiled, pairs, errors)
    unknown_keys = len(pairs) - known_present
    if unknown_keys or strict:
        _check_keys(pairs, compiled, strict, errors)
    _check_values(compiled, typed, errors)
    identity = _check_identity(compiled, typed, errors)
    block_id = identity.block_id(typed[spec.identity.symbol]) if identity is not None else None
    if errors or identity is None:
        return _failure(spec.name, errors, block_id)
    if spec.profile == "MIN":
        record: MinBlock | FullExport = _min_block(compiled, typed, identity, block_id, unknown_keys)
    else:
        record = _full_export(compiled, typed, identity, block_id, unknown_keys)
    return ParseResult(spec.name, (), None, block_id, record, unknown_keys)


def parse_exports(
    payloads: Iterable[str | bytes], *, strict: bool = False, profile: str | None = None
) -> list[ParseResult]:
    """`parse_export` over a batch, in order, with Python's cyclic garbage collector paused.

    Results hold no reference cycles, yet every collection pass would rescan all results
    parsed so far; pausing the collector for the batch saves about a quarter of the time
    at 100,000 payloads (benchmarks/RESULTS.md). Its previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return [parse_export(payload, strict=strict, profile=profile) for payload in payloads]
    finally:
        if was_enabled:
            gc.enable()


def _failure(contract: str | None, errors: _Errors, block_id: str | None = None) -> ParseResult:
    return ParseResult(contract, errors.codes(), errors.message(), block_id)


def _decoded(payload: str | bytes, errors: _Errors) -> str | None:
    """The payload as stripped text, or None with the reason recorded."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        if len(payload) > 4 * MAX_EXPORT_CHARS:
            errors.add(ErrorCode.BODY_TOO_LARGE, f"{len(payload)} bytes; the limit is {MAX_EXPORT_CHARS} characters")
            return None
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            errors.add(ErrorCode.ENCODING, f"not valid UTF-8 (byte {error.start})")
            return None
    elif isinstance(payload, str):
        text = payload
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                errors.add(ErrorCode.ENCODING, f"not encodable as UTF-8 (character {error.start})")
                return None
    else:
        errors.add(ErrorCode.ENCODING, f"expected text or bytes, got {type(payload).__name__}")
        return None
    if len(text) > MAX_EXPORT_CHARS:
        errors.add(ErrorCode.BODY_TOO_LARGE, f"{len(text)} characters; the limit is {MAX_EXPORT_CHARS}")
        return None
    if "\x00" in text:
        errors.add(ErrorCode.ENCODING, "contains a NUL character")
        return None
    text = text.strip()
    if not text:
        errors.add(ErrorCode.EMPTY_BODY, "the export string is empty")
        return None
    return text


def _has_ascii_whitespace(text: str) -> bool:
    """Whether `text` holds any ASCII character str.strip() would remove (ten substring scans in C)."""
    return (
        " " in text
        or "\t" in text
        or "\n" in text
        or "\r" in text
        or "\x0b" in text
        or "\x0c" in text
        or "\x1c" in text
        or "\x1d" in text
        or "\x1e" in text
        or "\x1f" in text
    )


def _split_pairs(text: str, errors: _Errors) -> dict[str, str]:
    """Keys to trimmed values, first occurrence winning; bad segments and repeats recorded."""
    segments = text.split("|")
    if text.isascii() and not _has_ascii_whitespace(text):
        # Fast path for the usual payload: nothing to trim, so pairs need no strip().
        # dict() refuses a segment without '='; a repeat or an empty key shows in the result.
        try:
            pairs = dict([segment.split("=", 1) for segment in segments])
        except ValueError:
            pass
        else:
            if len(pairs) == len(segments) and "" not in pairs:
                return pairs
    pairs = {}
    for segment in segments:
        key, separator, value = segment.partition("=")
        key = key.strip()
        if not separator or not key:
            errors.add(ErrorCode.BAD_KV, f"segment {_preview(segment)} is not key=value")
            continue
        if key in pairs:
            errors.add(ErrorCode.DUPLICATE_KEY, f"key {_preview(key)} appears more than once")
            continue
        pairs[key] = value.strip()
    return pairs


def _detect_contract(pairs: Mapping[str, str], errors: _Errors) -> _CompiledContract | None:
    compiled_contracts = _compiled_contracts()
    matches = [c for c in compiled_contracts if pairs.get(c.spec.marker_key) == c.spec.marker_value]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(c.spec.name for c in matches)
        errors.add(ErrorCode.UNKNOWN_CONTRACT, f"markers of several contracts ({names})")
        return None
    for compiled in compiled_contracts:
        marker = pairs.get(compiled.spec.marker_key)
        if marker is not None:
            detail = f"{compiled.spec.marker_key}={_preview(marker)} is not a known contract"
            errors.add(ErrorCode.UNKNOWN_CONTRACT, detail)
            return None
    markers = ", ".join(c.spec.marker_key for c in compiled_contracts)
    errors.add(ErrorCode.UNKNOWN_CONTRACT, f"no contract marker ({markers})")
    return None


def _type_fields(compiled: _CompiledContract, pairs: Mapping[str, str], errors: _Errors) -> tuple[dict[str, Any], int]:
    """Typed values by key (None for an absent optional or empty value), and how many known keys were present."""
    get = pairs.get
    typed: dict[str, Any] = {}

    keys = compiled.text_keys
    texts = list(map(get, keys))
    missing = texts.count(None)
    present = len(keys) - missing
    if missing or "" in texts:
        for key, raw in zip(keys, texts):
            if raw is None:
                errors.add(ErrorCode.REQUIRED_MISSING, f"required key {key} is missing")
            elif not raw:
                errors.add(ErrorCode.EMPTY_NOT_ALLOWED, f"{key} may not be empty")
            else:
                typed[key] = raw
    else:
        typed.update(zip(keys, texts))

    keys = compiled.nullable_text_keys
    texts = list(map(get, keys))
    missing = texts.count(None)
    present += len(keys) - missing
    if missing:
        for key, raw in zip(keys, texts):
            if raw is None and key in compiled.required_nullable_text_keys:
                errors.add(ErrorCode.REQUIRED_MISSING, f"required key {key} is missing")
    null_tokens = compiled.null_tokens
    typed.update(zip(keys, [None if not raw or raw in null_tokens else raw for raw in texts]))

    for key, required, table, code, reason in compiled.lookup_fields:
        raw = get(key)
        value = table.get(raw, _NOT_LISTED)
        if value is not _NOT_LISTED:
            typed[key] = value
            present += 1
        elif raw is None:
            if required:
                errors.add(ErrorCode.REQUIRED_MISSING, f"required key {key} is missing")
            else:
                typed[key] = None
        else:
            present += 1
            if raw:
                errors.add(code, f"{key}={_preview(raw)} {reason}")
            else:
                errors.add(ErrorCode.EMPTY_NOT_ALLOWED, f"{key} may not be empty")

    for key, required, empty_allowed, convert in compiled.converted_fields:
        raw = get(key)
        if raw is None:
            if required:
                errors.add(ErrorCode.REQUIRED_MISSING, f"required key {key} is missing")
            else:
                typed[key] = None
            continue
        present += 1
        if not raw:
            if empty_allowed:
                typed[key] = None
            else:
                errors.add(ErrorCode.EMPTY_NOT_ALLOWED, f"{key} may not be empty")
            continue
        try:
            typed[key] = convert(raw)
        except _Rejected as rejected:
            errors.add(rejected.code, f"{key}={_preview(raw)} {rejected.reason}")
    return typed, present


def _check_keys(pairs: Mapping[str, str], compiled: _CompiledContract | None, strict: bool, errors: _Errors) -> None:
    """Malformed keys always; unknown keys and key order in strict mode."""
    order = compiled.order if compiled is not None else {}
    previous = -1
    for key in pairs:
        position = order.get(key)
        if position is None:
            if not _KEY_CHARACTERS.issuperset(key):
                errors.add(ErrorCode.BAD_KV, f"key {_preview(key)} is not ASCII letters, digits or _")
            elif strict and compiled is not None:
                errors.add(ErrorCode.UNKNOWN_KEY, f"key {_preview(key)} is not in {compiled.spec.name}")
        elif strict:
            if position < previous:
                errors.add(ErrorCode.KEY_ORDER, f"key {key} is out of contract order")
            previous = max(previous, position)


def _check_values(compiled: _CompiledContract, typed: Mapping[str, Any], errors: _Errors) -> None:
    """The OHLC, rng, body, ret and dir rules, on whichever inputs typed cleanly."""
    rules = compiled.rules
    tolerance = compiled.spec.tolerance
    o, h, low, c = typed.get("o"), typed.get("h"), typed.get("l"), typed.get("c")
    if "ohlc" in rules and None not in (o, h, low, c):
        if not (h >= max(o, c) and low <= min(o, c) and h >= low and low > 0):
            errors.add(ErrorCode.SEM_OHLC, f"o={o} h={h} l={low} c={c} break h>=max(o,c), l<=min(o,c), l>0")
    if "rng" in rules:
        rng = typed.get("rng")
        if None not in (rng, h, low) and not abs(rng - (h - low)) <= tolerance:
            errors.add(ErrorCode.SEM_RNG, f"rng={rng} but h-l={h - low}")
    if "body" in rules:
        body = typed.get("body")
        if None not in (body, o, c) and not abs(body - abs(c - o)) <= tolerance:
            errors.add(ErrorCode.SEM_BODY, f"body={body} but |c-o|={abs(c - o)}")
    if "ret" in rules:
        ret = typed.get("ret")
        if None not in (ret, o, c) and (o == 0 or not abs(ret - (c - o) / o) <= tolerance):
            expected = (c - o) / o if o else math.nan
            errors.add(ErrorCode.SEM_RET, f"ret={ret} but (c-o)/o={expected}")
    if "dir" in rules:
        direction = typed.get("dir")
        if None not in (direction, o, c) and direction != (c > o) - (c < o):
            errors.add(ErrorCode.SEM_DIR, f"dir={direction} but c-o={c - o}")


def _check_identity(compiled: _CompiledContract, typed: Mapping[str, Any], errors: _Errors) -> BlockTimes | None:
    """The block of date_ny + letter, with every identity field checked against it.

    None (and an error recorded) when there is no such block or the symbol cannot be part
    of a block id.
    """
    identity = compiled.spec.identity
    symbol, date_text, letter = typed.get(identity.symbol), typed.get(identity.date_ny), typed.get(identity.letter)
    if symbol is None or date_text is None or letter is None:
        if not errors:  # unreachable while all three are required strings; never return ok without a block
            errors.add(ErrorCode.IDENTITY_FORMAT, "the block identity is incomplete")
        return None
    times = block_times(date_text, letter)
    if times is None:
        errors.add(
            ErrorCode.IDENTITY_FORMAT,
            f"no block for {identity.date_ny}={_preview(date_text)} {identity.letter}={_preview(letter)}",
        )
        return None
    if not symbol_fits_block_id(symbol):
        errors.add(ErrorCode.IDENTITY_FORMAT, f"{identity.symbol}={_preview(symbol)} cannot be part of a block id")
        return None
    if "identity" in compiled.rules:
        block_id = times.block_id(symbol)
        expectations = (
            (identity.block_id, block_id),
            (identity.four_hour_id, times.four_hour_id(symbol)),
            (identity.four_hour_pair, times.block.pair),
            (identity.date_compact, times.compact_date),
        )
        for keys, expected in expectations:
            for key in keys:
                value = typed.get(key)
                if value is not None and value != expected:
                    errors.add(ErrorCode.IDENTITY_FORMAT, f"{key}={_preview(value)} but the block is {block_id}")
    if "bar_time" in compiled.rules:
        bar_ms = typed.get(identity.bar_time)
        if bar_ms is not None and bar_ms != times.start_ms and bar_ms != times.end_ms:
            errors.add(
                ErrorCode.IDENTITY_TIME,
                f"{identity.bar_time}={bar_ms} is neither start ({times.start_ms}) nor end ({times.end_ms}) "
                f"of {times.block_id(symbol)}",
            )
    return times


def _min_block(
    compiled: _CompiledContract, typed: dict[str, Any], times: BlockTimes, block_id: str, unknown_keys: int
) -> MinBlock:
    block = times.block
    typed["@contract"] = compiled.spec.name
    typed["@block_id"] = block_id
    typed["@date_ny"] = block.date_ny
    typed["@block_letter"] = block.letter
    typed["@block4h"] = block.pair
    typed["@block_start"] = times.start_utc
    typed["@block_end"] = times.end_utc
    typed["@unknown_key_count"] = unknown_keys
    if compiled.computed_columns:
        prices = (typed["o"], typed["h"], typed["l"], typed["c"])
        for column in compiled.computed_columns:
            typed[_DERIVED_PREFIX + column] = _OHLC_FORMULAS[column](*prices)
    # A canonical column nothing feeds or derives (r1's news_flag) reads None.
    return MinBlock._make(map(typed.get, compiled.record_sources))


def _full_export(
    compiled: _CompiledContract, typed: Mapping[str, Any], times: BlockTimes, block_id: str, unknown_keys: int
) -> FullExport:
    spec = compiled.spec
    return FullExport(
        contract=spec.name,
        scheme=typed[spec.marker_key],
        producer_ver=typed["ver"],
        symbol=typed[spec.identity.symbol],
        block_id=block_id,
        date_ny=times.block.date_ny,
        block_letter=times.block.letter,
        bar_close_ms=typed[spec.identity.bar_time],
        block_start=times.start_utc,
        block_end=times.end_utc,
        unknown_key_count=unknown_keys,
        fields=MappingProxyType({key: typed[key] for key in spec.keys()}),
    )
