"""How parse and batch failures are reported: codes in one stable order, one short message."""

from __future__ import annotations

from collections.abc import Iterable

from ovc_assets.errors import ErrorCode

MESSAGE_LIMIT = 200
"""Longest message; it never quotes more than a short preview of the input."""

_CODE_RANK = {code: rank for rank, code in enumerate(ErrorCode)}


def ordered_codes(codes: Iterable[ErrorCode]) -> tuple[ErrorCode, ...]:
    """The distinct codes in ErrorCode declaration order, whatever order they were found in."""
    return tuple(sorted(set(codes), key=_CODE_RANK.__getitem__))


def failure_message(code: ErrorCode, detail: str, total: int = 1) -> str:
    """`"<code>: <detail> (+N more)"` for the first of `total` errors, cut to MESSAGE_LIMIT."""
    more = f" (+{total - 1} more)" if total > 1 else ""
    text = f"{code}: {detail}"
    room = MESSAGE_LIMIT - len(more)
    if len(text) > room:
        text = text[: room - 3] + "..."
    return text + more
