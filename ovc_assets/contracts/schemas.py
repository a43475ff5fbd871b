"""Pandera schemas for parsed exports, and batch validation that speaks the parser's codes.

`MinBlockSchema` describes the canonical MIN block (one row per `MinBlock`), written by
hand and checked against the MIN contracts by `schema_mismatches()`; `FullExportSchema` is
generated from the FULL contract. Their dataframe checks are the parser's semantic and
identity rules in vectorised form and are named by error code, so `validate_min_blocks`
and `validate_full_exports` report failing rows with the same codes as `parse_export`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine
from pandera.typing import Series

from ovc_assets.calendar import BLOCK_LETTERS, FOUR_HOUR_PAIRS
from ovc_assets.contracts.identity import BlockTimes, block_times, symbol_fits_block_id
from ovc_assets.contracts.messages import failure_message, ordered_codes
from ovc_assets.contracts.records import MIN_BLOCK_COLUMNS, FullExport, MinBlock
from ovc_assets.contracts.spec import (
    FULL_V0_1,
    MIN_CONTRACTS,
    ContractSpec,
    FieldSpec,
    IdentitySpec,
    load_contract,
    load_contracts,
)
from ovc_assets.errors import ErrorCode

_UTC_MS = {"unit": "ms", "tz": "UTC"}
_EPOCH = pd.Timestamp(0, tz="UTC")
_ONE_MS = pd.Timedelta(1, "ms")

# Canonical MIN columns the parser derives rather than copies from a contract field.
MIN_DERIVED_COLUMNS = frozenset(
    {"contract", "block_id", "date_ny", "block_letter", "block4h", "block_start", "block_end", "unknown_key_count"}
)
# Canonical MIN columns computed from OHLC when a contract does not carry them.
MIN_OHLC_COLUMNS = ("rng", "body", "ret")

_CANONICAL_IDENTITY = IdentitySpec(
    symbol="symbol",
    date_ny="date_ny",
    letter="block_letter",
    block_id=("block_id",),
    four_hour_id=(),
    four_hour_pair=("block4h",),
    date_compact=(),
    bar_time="bar_close_ms",
)


# --- the parser's rules, vectorised --------------------------------------------------------
# Each returns True where the row passes. Like the parser, a rule only judges rows whose
# inputs all typed cleanly: missing, non-numeric and non-finite inputs are left to the
# column checks (E_REQUIRED_MISSING, E_TYPE_COERCION).


def _numbers(frame: pd.DataFrame, *columns: str) -> list[np.ndarray]:
    """The columns as float arrays, NaN wherever a value is missing or not a finite number."""
    arrays = []
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        arrays.append(np.where(np.isfinite(values), values, np.nan))
    return arrays


def _present(*arrays: np.ndarray) -> np.ndarray:
    return ~np.isnan(np.vstack(arrays)).any(axis=0)


def _passes(frame: pd.DataFrame, judged: np.ndarray, holds: np.ndarray) -> pd.Series:
    return pd.Series(~judged | holds, index=frame.index)


def ohlc_holds(frame: pd.DataFrame) -> pd.Series:
    """h >= max(o,c), l <= min(o,c), h >= l and l > 0 (`E_SEM_OHLC`)."""
    o, h, low, c = _numbers(frame, "o", "h", "l", "c")
    consistent = (h >= np.maximum(o, c)) & (low <= np.minimum(o, c)) & (h >= low) & (low > 0)
    return _passes(frame, _present(o, h, low, c), consistent)


def rng_holds(frame: pd.DataFrame, tolerance: float) -> pd.Series:
    """rng = h - l within the tolerance (`E_SEM_RNG`)."""
    rng, h, low = _numbers(frame, "rng", "h", "l")
    with np.errstate(over="ignore"):  # h - l of two huge prices; NaN (missing) raises nothing
        close = np.abs(rng - (h - low)) <= tolerance
    return _passes(frame, _present(rng, h, low), close)


def body_holds(frame: pd.DataFrame, tolerance: float) -> pd.Series:
    """body = |c - o| within the tolerance (`E_SEM_BODY`)."""
    body, o, c = _numbers(frame, "body", "o", "c")
    with np.errstate(over="ignore"):  # c - o of two huge prices
        close = np.abs(body - np.abs(c - o)) <= tolerance
    return _passes(frame, _present(body, o, c), close)


def ret_holds(frame: pd.DataFrame, tolerance: float) -> pd.Series:
    """ret = (c - o) / o within the tolerance, and o != 0 (`E_SEM_RET`)."""
    ret, o, c = _numbers(frame, "ret", "o", "c")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        close = np.abs(ret - (c - o) / o) <= tolerance
    return _passes(frame, _present(ret, o, c), (o != 0) & close)


def dir_holds(frame: pd.DataFrame) -> pd.Series:
    """dir = sign(c - o) (`E_SEM_DIR`)."""
    direction, o, c = _numbers(frame, "dir", "o", "c")
    sign = (c > o).astype(float) - (c < o).astype(float)
    return _passes(frame, _present(direction, o, c), direction == sign)


@dataclass(frozen=True)
class _CalendarColumns:
    """Per row (numpy arrays): whether the block derives, and what the calendar says about it."""

    inputs_known: np.ndarray
    derivable: np.ndarray
    block_id: np.ndarray
    four_hour_id: np.ndarray
    pair: np.ndarray
    compact_date: np.ndarray
    start_ms: np.ndarray
    end_ms: np.ndarray


def _row_block_times(date_value: Any, letter: Any) -> BlockTimes | None:
    if isinstance(date_value, date):
        date_value = date_value.isoformat()
    if isinstance(date_value, str) and isinstance(letter, str):
        return block_times(date_value, letter)
    return None


def _calendar_columns(frame: pd.DataFrame, identity: IdentitySpec) -> _CalendarColumns:
    # The calendar is asked once per distinct (date_ny, letter) and per distinct symbol; rows
    # then pick their answers by code. A row whose date or letter is missing gets the pair
    # code of the value -1, which asks the calendar nothing; a missing symbol (code -1) picks
    # the appended fill.
    date_codes, date_values = pd.factorize(frame[identity.date_ny])
    letter_codes, letter_values = pd.factorize(frame[identity.letter])
    symbol_codes, symbol_values = pd.factorize(frame[identity.symbol])
    width = len(letter_values)
    pair_known = (date_codes >= 0) & (letter_codes >= 0)
    pair_codes, pair_values = pd.factorize(np.where(pair_known, date_codes * width + letter_codes, -1))
    dates, letters_seen = list(date_values), list(letter_values)
    times = [
        _row_block_times(dates[value // width], letters_seen[value % width]) if value >= 0 else None
        for value in pair_values
    ]

    def per_pair(values: list[Any]) -> np.ndarray:
        return np.array(values)[pair_codes]

    usable_symbols = [isinstance(symbol, str) and symbol_fits_block_id(symbol) for symbol in symbol_values]
    has_block = np.array([t is not None for t in times], dtype=bool)[pair_codes]
    symbol_ok = np.array([*usable_symbols, False])[symbol_codes]
    # Objects, not numpy strings: an empty frame's (float) id prefixes add to them too.
    symbols = np.array([*map(str, symbol_values), ""], dtype=object)[symbol_codes]
    return _CalendarColumns(
        inputs_known=pair_known & (symbol_codes >= 0),
        derivable=has_block & symbol_ok,
        block_id=per_pair([t.block_id_prefix if t else "" for t in times]) + symbols,
        four_hour_id=per_pair([t.four_hour_id_prefix if t else "" for t in times]) + symbols,
        pair=per_pair([t.block.pair if t else "" for t in times]),
        compact_date=per_pair([t.compact_date if t else "" for t in times]),
        start_ms=per_pair([t.start_ms if t else np.nan for t in times]),
        end_ms=per_pair([t.end_ms if t else np.nan for t in times]),
    )


def identity_format_holds(
    frame: pd.DataFrame, identity: IdentitySpec, bounds: tuple[str, str] | None = None
) -> pd.Series:
    """The block derives from date_ny + letter + symbol and every id field matches it (`E_IDENTITY_FORMAT`).

    `bounds` names start/end datetime columns that must equal the block's boundaries.
    """
    calendar = _calendar_columns(frame, identity)
    expectations = (
        (identity.block_id, calendar.block_id),
        (identity.four_hour_id, calendar.four_hour_id),
        (identity.four_hour_pair, calendar.pair),
        (identity.date_compact, calendar.compact_date),
    )
    agrees = calendar.derivable.copy()
    for keys, expected in expectations:
        for key in keys:
            column = frame[key]
            agrees &= column.isna().to_numpy() | (column.to_numpy() == expected)
    if bounds is not None:
        for column, expected_ms in zip(bounds, (calendar.start_ms, calendar.end_ms)):
            instants = pd.to_datetime(frame[column], utc=True, errors="coerce")
            agrees &= ((instants - _EPOCH) // _ONE_MS).to_numpy() == expected_ms  # NaT gives NaN
    return _passes(frame, calendar.inputs_known, agrees)


def bar_time_holds(frame: pd.DataFrame, identity: IdentitySpec) -> pd.Series:
    """bar_close_ms is the derived block's start or end in epoch ms (`E_IDENTITY_TIME`)."""
    calendar = _calendar_columns(frame, identity)
    [bar] = _numbers(frame, identity.bar_time)
    at_boundary = (bar == calendar.start_ms) | (bar == calendar.end_ms)
    judged = calendar.inputs_known & calendar.derivable & ~np.isnan(bar)
    return _passes(frame, judged, at_boundary)


def text_is_not_empty(frame: pd.DataFrame) -> pd.Series:
    """No string column holds an empty string; NULL is the empty value (`E_EMPTY_NOT_ALLOWED`)."""
    # Plain object comparisons column by column: several times cheaper than pandera's
    # str_length check per column at 100,000 rows.
    empty = np.zeros(len(frame), dtype=bool)
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.StringDtype):
            empty |= frame[name].to_numpy() == ""
    return pd.Series(~empty, index=frame.index)


_MIN_TOLERANCE = 1e-6  # every MIN contract's `tolerance`; schema_mismatches() keeps them equal


class MinBlockSchema(pa.DataFrameModel):
    """The canonical MIN block, one row per `MinBlock`, as the blocks assets store it.

    Checks named `E_*` are the parser's rules (non-empty text, semantic, identity); column
    checks map to codes too (`isin` -> E_ENUM, non-null -> E_REQUIRED_MISSING,
    dtype/finite -> E_TYPE_COERCION).
    """

    contract: Series[str] = pa.Field(isin=list(MIN_CONTRACTS))
    scheme: Series[str] = pa.Field()
    producer_ver: Series[str] = pa.Field()
    symbol: Series[str] = pa.Field()
    block_id: Series[str] = pa.Field()
    date_ny: Series[pandas_engine.Date] = pa.Field()
    block_letter: Series[str] = pa.Field(isin=list(BLOCK_LETTERS))
    block4h: Series[str] = pa.Field(isin=list(FOUR_HOUR_PAIRS))
    bar_close_ms: Series[np.int64] = pa.Field()
    block_start: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_UTC_MS)
    block_end: Series[pd.DatetimeTZDtype] = pa.Field(dtype_kwargs=_UTC_MS)
    o: Series[float] = pa.Field()
    h: Series[float] = pa.Field()
    l: Series[float] = pa.Field()  # noqa: E741 - the contract's key for the low price
    c: Series[float] = pa.Field()
    dir: Series[np.int64] = pa.Field(isin=[1, -1, 0])
    rng: Series[float] = pa.Field()
    body: Series[float] = pa.Field()
    ret: Series[float] = pa.Field()
    state_tag: Series[str] = pa.Field()
    value_tag: Series[str] = pa.Field()
    event: Series[str] = pa.Field(nullable=True)
    tt: Series[np.int64] = pa.Field()
    cp_tag: Series[str] = pa.Field()
    tis: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    rrc: Series[float] = pa.Field()
    vrc: Series[float] = pa.Field()
    trend_tag: Series[str] = pa.Field()
    struct_state: Series[str] = pa.Field()
    space_tag: Series[str] = pa.Field()
    htf_stack: Series[str] = pa.Field(nullable=True)
    with_htf: Series[bool] = pa.Field()
    rd_state: Series[str] = pa.Field(nullable=True)
    regime_tag: Series[str] = pa.Field(nullable=True)
    trans_risk: Series[str] = pa.Field(nullable=True)
    bias_mode: Series[str] = pa.Field()
    bias_dir: Series[str] = pa.Field(isin=["UP", "DOWN", "NEUTRAL"])
    perm_state: Series[str] = pa.Field()
    rail_loc: Series[str] = pa.Field(nullable=True)
    tradeable: Series[bool] = pa.Field()
    conf_l3: Series[str] = pa.Field()
    play: Series[str] = pa.Field()
    pred_dir: Series[str] = pa.Field(isin=["UP", "DOWN", "NEUTRAL"])
    pred_target: Series[str] = pa.Field(nullable=True)
    timebox: Series[str] = pa.Field()
    invalidation: Series[str] = pa.Field(nullable=True)
    source: Series[str] = pa.Field()
    build_id: Series[str] = pa.Field()
    note: Series[str] = pa.Field(nullable=True)
    ready: Series[bool] = pa.Field()
    news_flag: Series[pd.BooleanDtype] = pa.Field(nullable=True)
    unknown_key_count: Series[np.int64] = pa.Field()

    class Config:
        strict = True
        coerce = True

    @pa.check("o", "h", "l", "c", "rng", "body", "ret", "rrc", "vrc", name="finite")
    def numbers_are_finite(cls, series: pd.Series) -> pd.Series:
        return pd.Series(np.isfinite(pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)), index=series.index)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.EMPTY_NOT_ALLOWED.value)
    def text_is_not_empty(cls, frame: pd.DataFrame) -> pd.Series:
        return text_is_not_empty(frame)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.SEM_OHLC.value)
    def ohlc_is_consistent(cls, frame: pd.DataFrame) -> pd.Series:
        return ohlc_holds(frame)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.SEM_RNG.value)
    def rng_is_high_minus_low(cls, frame: pd.DataFrame) -> pd.Series:
        return rng_holds(frame, _MIN_TOLERANCE)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.SEM_BODY.value)
    def body_is_close_minus_open(cls, frame: pd.DataFrame) -> pd.Series:
        return body_holds(frame, _MIN_TOLERANCE)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.SEM_RET.value)
    def ret_is_relative_change(cls, frame: pd.DataFrame) -> pd.Series:
        return ret_holds(frame, _MIN_TOLERANCE)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.SEM_DIR.value)
    def dir_is_sign_of_change(cls, frame: pd.DataFrame) -> pd.Series:
        return dir_holds(frame)

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.IDENTITY_FORMAT.value)
    def block_id_matches_calendar(cls, frame: pd.DataFrame) -> pd.Series:
        return identity_format_holds(frame, _CANONICAL_IDENTITY, bounds=("block_start", "block_end"))

    @pa.dataframe_check(ignore_na=False, name=ErrorCode.IDENTITY_TIME.value)
    def bar_close_is_block_boundary(cls, frame: pd.DataFrame) -> pd.Series:
        return bar_time_holds(frame, _CANONICAL_IDENTITY)


# --- FULL: generated from the contract ---------------------------------------------------------

_PLAIN_DTYPES: dict[str, Any] = {
    "string": str,
    "string_or_empty": str,
    "int": np.int64,
    "int_or_empty": pd.Int64Dtype,
    "float": float,
    "number_or_empty": float,
    "bool_01": bool,
}
# Plain numpy dtypes cannot hold NULL; these can.
_NULLABLE_DTYPES: dict[Any, Any] = {bool: pd.BooleanDtype, np.int64: pd.Int64Dtype}


def field_nullable(field: FieldSpec) -> bool:
    """Whether a typed value of `field` can be NULL (optional key or *_or_empty type)."""
    return field.empty_allowed or not field.required


def field_dtype(field: FieldSpec, nullable: bool | None = None) -> Any:
    """The column dtype typed values of `field` land in; pandas' nullable dtypes where NULL can occur."""
    if field.type != "enum":
        base = _PLAIN_DTYPES[field.type]
    else:
        values = field.typed_values() or ()
        if all(isinstance(value, bool) for value in values):
            base = bool
        elif all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            base = np.int64
        else:
            base = str
    if nullable is None:
        nullable = field_nullable(field)
    return _NULLABLE_DTYPES.get(base, base) if nullable else base


def _column_field(field: FieldSpec) -> Any:
    kwargs: dict[str, Any] = {"nullable": field_nullable(field)}
    allowed = field.typed_values()
    if allowed is not None:
        kwargs["isin"] = list(allowed)
    return pa.Field(**kwargs)


def _semantic_checks(spec: ContractSpec) -> dict[str, Any]:
    """Dataframe checks, named by error code, for the rules `spec` lists."""
    tolerance = spec.tolerance
    identity = spec.identity
    rules = {
        "ohlc": (ErrorCode.SEM_OHLC, ohlc_holds),
        "rng": (ErrorCode.SEM_RNG, lambda frame: rng_holds(frame, tolerance)),
        "body": (ErrorCode.SEM_BODY, lambda frame: body_holds(frame, tolerance)),
        "ret": (ErrorCode.SEM_RET, lambda frame: ret_holds(frame, tolerance)),
        "dir": (ErrorCode.SEM_DIR, dir_holds),
        "identity": (ErrorCode.IDENTITY_FORMAT, lambda frame: identity_format_holds(frame, identity)),
        "bar_time": (ErrorCode.IDENTITY_TIME, lambda frame: bar_time_holds(frame, identity)),
    }
    checks = {"text_is_not_empty": pa.dataframe_check(ignore_na=False, name=ErrorCode.EMPTY_NOT_ALLOWED.value)(
        lambda cls, frame: text_is_not_empty(frame)
    )}
    for rule in spec.semantic_rules:
        code, holds = rules[rule]

        def check(cls: Any, frame: pd.DataFrame, holds: Any = holds) -> pd.Series:
            return holds(frame)

        checks[f"{rule}_holds"] = pa.dataframe_check(ignore_na=False, name=code.value)(check)
    return checks


def dataframe_model_for(spec: ContractSpec, class_name: str) -> type[pa.DataFrameModel]:
    """A DataFrameModel with one column per contract key (typed values) and its rules as checks."""

    class Config:
        strict = True
        coerce = True

    namespace: dict[str, Any] = {
        "__annotations__": {field.key: Series[field_dtype(field)] for field in spec.fields},
        "__doc__": f"Typed {spec.name} exports, one row per payload, generated from contracts/.",
        "__module__": __name__,
        "Config": Config,
    }
    namespace.update({field.key: _column_field(field) for field in spec.fields})
    namespace.update(_semantic_checks(spec))
    return type(class_name, (pa.DataFrameModel,), namespace)


FullExportSchema = dataframe_model_for(load_contract(FULL_V0_1), "FullExportSchema")


# --- frames and batch validation ------------------------------------------------------------


def min_blocks_frame(blocks: Iterable[MinBlock]) -> pd.DataFrame:
    """A DataFrame of canonical blocks, one row per `MinBlock`, columns in schema order."""
    return _records_frame(list(blocks), list(MIN_BLOCK_COLUMNS), MinBlockSchema)


def full_exports_frame(exports: Iterable[FullExport]) -> pd.DataFrame:
    """A DataFrame of FULL exports: one row per export, one column per contract key."""
    keys = list(load_contract(FULL_V0_1).keys())
    return _records_frame([tuple(export.fields.values()) for export in exports], keys, FullExportSchema)


def _records_frame(rows: list[tuple[Any, ...]], columns: list[str], model: type[pa.DataFrameModel]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=columns)
    # Inference turns integers next to a None into floats, which cannot hold every int64
    # exactly; nullable integer columns are built from the original values instead.
    positions = {name: position for position, name in enumerate(columns)}
    for name, column in model.to_schema().columns.items():
        if isinstance(column.dtype.type, pd.Int64Dtype) and name in positions:
            values = [row[positions[name]] for row in rows]
            try:
                frame[name] = pd.array(values, dtype="Int64")
            except (TypeError, ValueError):
                frame[name] = pd.Series(values, dtype=object)  # left for pandera to report
    return frame


@dataclass(frozen=True)
class BatchValidation:
    """Result of validating a frame: the coerced rows that passed, and codes per failing row.

    Rows are identified by their index label in the validated frame.
    """

    valid: pd.DataFrame
    row_codes: Mapping[Hashable, tuple[ErrorCode, ...]]
    row_messages: Mapping[Hashable, str]

    @property
    def failed_rows(self) -> int:
        """How many rows failed at least one check."""
        return len(self.row_codes)

    def fail_by_code(self) -> dict[str, int]:
        """Failing rows per error code (a row with two codes counts under both)."""
        counts: dict[str, int] = {}
        for codes in self.row_codes.values():
            for code in codes:
                counts[code.value] = counts.get(code.value, 0) + 1
        return {code.value: counts[code.value] for code in ordered_codes(ErrorCode(value) for value in counts)}


_RULE_TEXT = {
    ErrorCode.EMPTY_NOT_ALLOWED: "a string column holds an empty string (NULL is the empty value)",
    ErrorCode.SEM_OHLC: "h >= max(o,c), l <= min(o,c), h >= l, l > 0 does not hold",
    ErrorCode.SEM_RNG: "rng differs from h - l by more than the tolerance",
    ErrorCode.SEM_BODY: "body differs from |c - o| by more than the tolerance",
    ErrorCode.SEM_RET: "ret differs from (c - o) / o by more than the tolerance",
    ErrorCode.SEM_DIR: "dir is not the sign of c - o",
    ErrorCode.IDENTITY_FORMAT: "block id fields disagree with date_ny, letter and symbol",
    ErrorCode.IDENTITY_TIME: "bar_close_ms is neither the block's start nor its end",
}

# Pandera's own check names, by prefix, and the parser code each corresponds to.
_PANDERA_CHECK_CODES = (
    ("column_in_dataframe", ErrorCode.REQUIRED_MISSING),
    ("column_in_schema", ErrorCode.UNKNOWN_KEY),
    ("not_nullable", ErrorCode.REQUIRED_MISSING),
    ("isin", ErrorCode.ENUM),
    ("coerce_dtype", ErrorCode.TYPE_COERCION),
    ("dtype", ErrorCode.TYPE_COERCION),
    ("finite", ErrorCode.TYPE_COERCION),
)


def code_for_check(check_name: str) -> ErrorCode:
    """The error code a pandera failure with this check name stands for."""
    try:
        return ErrorCode(check_name)
    except ValueError:
        pass
    for prefix, code in _PANDERA_CHECK_CODES:
        if check_name.startswith(prefix):
            return code
    raise LookupError(f"no error code for pandera check {check_name!r}")


def validate_min_blocks(frame: pd.DataFrame) -> BatchValidation:
    """Validate canonical MIN blocks (e.g. `min_blocks_frame(...)`) with `MinBlockSchema`."""
    return validate_frame(MinBlockSchema, frame)


def validate_full_exports(frame: pd.DataFrame) -> BatchValidation:
    """Validate FULL exports (e.g. `full_exports_frame(...)`) with `FullExportSchema`."""
    return validate_frame(FullExportSchema, frame)


def validate_frame(model: type[pa.DataFrameModel], frame: pd.DataFrame) -> BatchValidation:
    """Validate `frame` lazily with `model`; failing rows get the parser's error codes.

    A failure that concerns the whole frame (a missing or unexpected column) is charged to
    every row. The index must be unique, since rows are reported by label.
    """
    if not frame.index.is_unique:
        raise ValueError("validate_frame needs a frame with a unique index")
    try:
        return BatchValidation(model.validate(frame, lazy=True), {}, {})
    except pa.errors.SchemaErrors as errors:
        failures = errors.failure_cases
    details: dict[Hashable, dict[ErrorCode, str]] = {}
    counts: dict[Hashable, int] = {}
    seen: set[tuple[Hashable, str, Any]] = set()
    for context, check, column, case, label in zip(
        failures["schema_context"], failures["check"], failures["column"], failures["failure_case"], failures["index"]
    ):
        code = code_for_check(str(check))
        # A dataframe check lists every column of a failing row; it is one failure of the row.
        row_level = context == "DataFrameSchema" and code.value == check
        if row_level:
            detail = _RULE_TEXT[code]
        else:
            detail = f"column {column} fails {check}"
            if isinstance(case, str | int | float | bool) and code is not ErrorCode.REQUIRED_MISSING:
                detail += f" (value {str(case)[:40]!r})"
        labels = frame.index if pd.isna(label) else (label,)  # None too
        for row in labels:
            key = (row, str(check), None if row_level else column)
            if key in seen:
                continue
            seen.add(key)
            counts[row] = counts.get(row, 0) + 1
            details.setdefault(row, {}).setdefault(code, detail)
    row_codes = {row: ordered_codes(codes) for row, codes in details.items()}
    row_messages = {
        row: failure_message(codes[0], details[row][codes[0]], counts[row]) for row, codes in row_codes.items()
    }
    passing = frame.drop(index=list(row_codes))
    # Nothing left (e.g. a column is missing): the empty rest cannot be coerced either.
    valid = model.validate(passing) if len(passing) else passing
    return BatchValidation(valid, row_codes, row_messages)


# --- agreement between the JSON contracts and the schemas --------------------------------------


def _column_facts(model: type[pa.DataFrameModel]) -> dict[str, tuple[str, bool, frozenset[Any] | None]]:
    """Column -> (dtype name, nullable, allowed values or None) as pandera sees the model."""
    facts = {}
    for name, column in model.to_schema().columns.items():
        allowed = None
        for check in column.checks:
            if check.name == "isin":
                allowed = frozenset(check.statistics["allowed_values"])
        facts[name] = (str(column.dtype), column.nullable, allowed)
    return facts


def _expected_facts(field: FieldSpec, nullable: bool) -> tuple[str, bool, frozenset[Any] | None]:
    dtype = pandas_engine.Engine.dtype(field_dtype(field, nullable))
    allowed = field.typed_values()
    return str(dtype), nullable, frozenset(allowed) if allowed is not None else None


def schema_mismatches(contracts: Mapping[str, ContractSpec] | None = None) -> list[str]:
    """Every way the JSON contracts and the pandera schemas disagree; empty when they agree.

    MIN: each canonical column must have the dtype its source fields type to in every MIN
    contract, be nullable exactly when some contract can leave it NULL, and allow exactly
    the values the contracts can produce. FULL: the generated schema must have one column
    per contract key, in order, with the type the contract gives it.
    """
    contracts = load_contracts() if contracts is None else contracts
    problems: list[str] = []
    canonical = _column_facts(MinBlockSchema)
    if tuple(canonical) != MIN_BLOCK_COLUMNS:
        problems.append("MinBlockSchema columns differ from MinBlock fields")
    tolerances = {contracts[name].tolerance for name in MIN_CONTRACTS}
    if tolerances != {_MIN_TOLERANCE}:
        problems.append(f"MIN contract tolerances {sorted(tolerances)} differ from the schema's {_MIN_TOLERANCE}")
    for column, (dtype, nullable, allowed) in canonical.items():
        if column in MIN_DERIVED_COLUMNS:
            continue
        sources = {name: [f for f in contracts[name].fields if f.canonical == column] for name in MIN_CONTRACTS}
        # NULL is possible when a contract's field allows it, or a contract cannot fill the column.
        expected_nullable = any(
            field_nullable(fields[0]) if fields else column not in MIN_OHLC_COLUMNS for fields in sources.values()
        )
        if expected_nullable != nullable:
            problems.append(f"{column}: contracts say nullable={expected_nullable}, MinBlockSchema {nullable}")
        value_sets = []
        for name, fields in sources.items():
            if not fields:
                continue
            source_dtype, _, source_allowed = _expected_facts(fields[0], expected_nullable)
            value_sets.append(source_allowed)
            if source_dtype != dtype:
                problems.append(f"{column}: {name} types it {source_dtype}, MinBlockSchema {dtype}")
        expected_allowed = None if None in value_sets else frozenset().union(*value_sets)
        if expected_allowed != allowed:
            problems.append(f"{column}: contracts allow {expected_allowed}, MinBlockSchema {allowed}")
    for name in MIN_CONTRACTS:
        for field in contracts[name].fields:
            if field.canonical is not None and field.canonical not in canonical:
                problems.append(f"{name}.{field.key} feeds unknown canonical column {field.canonical!r}")

    full_spec = contracts[FULL_V0_1]
    full = _column_facts(FullExportSchema)
    if tuple(full) != full_spec.keys():
        problems.append("FullExportSchema columns differ from the FULL contract keys")
    for field in full_spec.fields:
        expected = _expected_facts(field, field_nullable(field))
        if field.key in full and full[field.key] != expected:
            problems.append(f"FULL {field.key}: contract {expected}, FullExportSchema {full[field.key]}")
    return problems
