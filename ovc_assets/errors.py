"""Coded errors shared by every part of the package.

Every bad input is reported with one of these codes and a short human message, so a run
report can count failures by code and a shell can match on them.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Export-contract parsing (DESIGN section 3).
    BAD_KV = "E_BAD_KV"
    DUPLICATE_KEY = "E_DUPLICATE_KEY"
    REQUIRED_MISSING = "E_REQUIRED_MISSING"
    UNKNOWN_KEY = "E_UNKNOWN_KEY"
    KEY_ORDER = "E_KEY_ORDER"
    EMPTY_NOT_ALLOWED = "E_EMPTY_NOT_ALLOWED"
    TYPE_COERCION = "E_TYPE_COERCION"
    ENUM = "E_ENUM"
    SEM_OHLC = "E_SEM_OHLC"
    SEM_RNG = "E_SEM_RNG"
    SEM_BODY = "E_SEM_BODY"
    SEM_DIR = "E_SEM_DIR"
    SEM_RET = "E_SEM_RET"
    IDENTITY_FORMAT = "E_IDENTITY_FORMAT"
    IDENTITY_TIME = "E_IDENTITY_TIME"
    UNKNOWN_CONTRACT = "E_UNKNOWN_CONTRACT"
    PROFILE = "E_PROFILE"
    # Webhook envelopes (DESIGN section 4).
    ENVELOPE_JSON = "E_ENVELOPE_JSON"
    ENVELOPE_SCHEMA = "E_ENVELOPE_SCHEMA"
    AUTH = "E_AUTH"
    EMPTY_BODY = "E_EMPTY_BODY"
    BODY_TOO_LARGE = "E_BODY_TOO_LARGE"
    BODY_INCOMPLETE = "E_BODY_INCOMPLETE"
    ENCODING = "E_ENCODING"
    # Historical candles: CSV files and the OANDA v20 API (history backfill).
    CANDLE_COLUMNS = "E_CANDLE_COLUMNS"
    CANDLE_TIMESTAMP = "E_CANDLE_TIMESTAMP"
    CANDLE_TIMEZONE = "E_CANDLE_TIMEZONE"
    CANDLE_PRICE = "E_CANDLE_PRICE"
    CANDLE_OHLC = "E_CANDLE_OHLC"
    CANDLE_DUPLICATE = "E_CANDLE_DUPLICATE"
    CANDLE_UNSORTED = "E_CANDLE_UNSORTED"
    CANDLE_EMPTY = "E_CANDLE_EMPTY"
    CANDLE_BAR_SIZE = "E_CANDLE_BAR_SIZE"
    OANDA_AUTH = "E_OANDA_AUTH"
    OANDA_INSTRUMENT = "E_OANDA_INSTRUMENT"
    OANDA_UNAVAILABLE = "E_OANDA_UNAVAILABLE"
    OANDA_RESPONSE = "E_OANDA_RESPONSE"
    # Outcomes: a range with no stored blocks to compute from.
    NO_BLOCKS = "E_NO_BLOCKS"
    # Run tracking: reports, manifests, rollback.
    REPORT_EXISTS = "E_REPORT_EXISTS"
    RUN_NOT_FOUND = "E_RUN_NOT_FOUND"
    ROLLBACK_CONFLICT = "E_ROLLBACK_CONFLICT"
    ROLLBACK_REFUSED = "E_ROLLBACK_REFUSED"
    # Infrastructure: configuration, database, raw store.
    CONFIG = "E_CONFIG"
    DB_UNREACHABLE = "E_DB_UNREACHABLE"
    PGDATA_INVALID = "E_PGDATA_INVALID"
    MIGRATION_CHANGED = "E_MIGRATION_CHANGED"
    MIGRATION_FAILED = "E_MIGRATION_FAILED"
    RAW_STORE_SCHEME = "E_RAW_STORE_SCHEME"
    RAW_STORE_KEY = "E_RAW_STORE_KEY"
    RAW_STORE_UNAVAILABLE = "E_RAW_STORE_UNAVAILABLE"
    # Input files of the command line (alert logs, export lists).
    INPUT_FORMAT = "E_INPUT_FORMAT"


class OvcError(Exception):
    """An error a user can act on: a code plus a one-line message without secrets."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def one_line(error: BaseException, limit: int | None = None) -> str:
    """An exception's text on one line (at most `limit` characters), or its type's name."""
    return " ".join(str(error).split())[:limit] or type(error).__name__
