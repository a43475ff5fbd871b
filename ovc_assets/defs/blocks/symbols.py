"""Blocks of symbols the pipeline is not configured for: counted and warned about, never ignored.

The symbols come from `OVC_SYMBOLS` (see `ovc_assets.settings`); a window that holds alerts of
another symbol still lands them, but the calendar and the checks judge the configured ones only.
"""

from collections.abc import Sequence
from datetime import datetime

import dagster as dg
import psycopg

from ovc_assets.project_files import load_query


def blocks_of_unconfigured_symbols(
    conn: psycopg.Connection, start: datetime, end: datetime, symbols: Sequence[str]
) -> dict[str, int]:
    """Symbol -> blocks in [start, end) of every symbol not in `symbols`."""
    rows = conn.execute(
        load_query("blocks_of_unconfigured_symbols"), {"start": start, "end": end, "symbols": list(symbols)}
    ).fetchall()
    return dict(rows)


def warn_unconfigured_symbols(context: dg.AssetExecutionContext, others: dict[str, int], symbols: Sequence[str]) -> None:
    if others:
        found = ", ".join(f"{symbol}: {blocks}" for symbol, blocks in others.items())
        context.log.warning(
            f"blocks of symbols outside the configured {list(symbols)} in this window ({found}): they are "
            "stored but not checked; add them to OVC_SYMBOLS to have them checked"
        )
