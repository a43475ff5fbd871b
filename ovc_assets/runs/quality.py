"""Post-run data-quality figures of a range of `ovc_blocks_v01` (seed 002 section 7).

Shared by the run report and by the asset checks: `data_quality(conn, symbols, start, end)`.
All figures are computed in SQL over the 2H rows whose `block_start` lies in `[start, end)`.

- `blocks_missing`: for each symbol, the open blocks of `FxCalendar().expected_blocks`
  (weekend and holiday closures excluded) that have no row, counting only blocks that have
  ended by `now`. `symbols=None` means the symbols that have rows in the range; with no
  symbol at all the figure is unknown (None).
- `ready0_count` / `tradeable0_count`: rows with `ready = false` / `tradeable = false`.
- `null_rate_summary`: for each column (default `state_tag`, `play`), the share of NULLs
  among the rows that carry a TradingView MIN export (`export_min IS NOT NULL`): these are
  MIN fields, which provider-only rows never have. None when there is no such row.
- `sanity_error_count`: rows whose prices break the OHLC rules: `h >= max(o, c)`,
  `l <= min(o, c)`, `h >= l`, no NaN or infinity, and no partial price set (some of
  o/h/l/c present, others NULL). Checked for the TradingView prices and for the provider
  prices; a row counts once. Rows without prices are not checked.
- `ready0_spike` (`Ready0SpikeRule`): at least `min_count` (3) ready = 0 rows in the range,
  and their share of the rows with a known `ready` above `factor` (2) times the share over
  the `baseline_days` (7) days before `start`. With no baseline rows there is no spike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from ovc_assets.calendar import FxCalendar, block_at

DEFAULT_NULL_RATE_COLUMNS = ("state_tag", "play")
BLOCK_TYPE = "2H"
MISSING_EXAMPLES = 10

# Columns whose null rate can be asked for: the MIN fields and prices of ovc_blocks_v01.
NULL_RATE_ALLOWED_COLUMNS = frozenset({
    "bar_close_ms", "o", "h", "l", "c", "volume", "rng", "body", "ret", "dir", "ready", "tradeable",
    "state_tag", "value_tag", "play", "bias_dir", "pred_dir", "pred_target", "invalidation",
    "build_id", "scheme",
})  # fmt: skip


def _price_set_broken(o: str, h: str, low: str, c: str) -> sql.Composable:
    """True when a price set is partial, or complete and breaking an OHLC rule."""
    cols = [sql.Identifier(name) for name in (o, h, low, c)]
    values = sql.SQL(", ").join(cols)
    return sql.SQL(
        "(num_nonnulls({values}) BETWEEN 1 AND 3"
        " OR (num_nonnulls({values}) = 4 AND ("
        "{h} < greatest({o}, {c}) OR {l} > least({o}, {c}) OR {h} < {l}"
        " OR 'NaN'::float8 IN ({values}) OR 'Infinity'::float8 IN ({values})"
        " OR '-Infinity'::float8 IN ({values}))))"
    ).format(values=values, o=cols[0], h=cols[1], l=cols[2], c=cols[3])


def _sanity_broken() -> sql.Composable:
    """True when the TradingView or the provider price set of a row is broken."""
    # Built per call, not at import, so a mutation tester can switch _price_set_broken.
    return sql.SQL("({} OR {})").format(
        _price_set_broken("o", "h", "l", "c"),
        _price_set_broken("provider_o", "provider_h", "provider_l", "provider_c"),
    )

# One scan over [baseline_start, end): figures for the range and the ready0 baseline.
QUALITY_SQL = sql.SQL(
    """
SELECT
    count(*) FILTER (WHERE in_range)                                              AS rows_in_range,
    count(*) FILTER (WHERE in_range AND ready IS FALSE)                           AS ready0_count,
    count(*) FILTER (WHERE in_range AND ready IS NOT NULL)                        AS ready_known,
    count(*) FILTER (WHERE in_range AND tradeable IS FALSE)                       AS tradeable0_count,
    count(*) FILTER (WHERE in_range AND {sanity_broken})                          AS sanity_error_count,
    count(*) FILTER (WHERE in_range AND export_min IS NOT NULL)                   AS min_rows,
    count(*) FILTER (WHERE NOT in_range AND ready IS FALSE)                       AS baseline_ready0,
    count(*) FILTER (WHERE NOT in_range AND ready IS NOT NULL)                    AS baseline_ready_known
    {null_counts}
FROM (
    SELECT b.*, b.block_start >= %(start)s AS in_range
    FROM ovc.ovc_blocks_v01 b
    WHERE b.block_type = %(block_type)s
      AND b.block_start >= %(baseline_start)s AND b.block_start < %(end)s
      AND (%(all_symbols)s OR b.symbol = ANY(%(symbols)s))
) AS scoped
"""
)

SYMBOLS_IN_RANGE_SQL = """
SELECT DISTINCT symbol FROM ovc.ovc_blocks_v01
WHERE block_type = %(block_type)s AND block_start >= %(start)s AND block_start < %(end)s
ORDER BY symbol
"""

MISSING_SQL = """
SELECT count(*),
       (array_agg(s.symbol ORDER BY e.block_start, s.symbol))[1:%(examples)s],
       (array_agg(e.block_start ORDER BY e.block_start, s.symbol))[1:%(examples)s]
FROM unnest(%(symbols)s::text[]) AS s(symbol)
CROSS JOIN unnest(%(starts)s::timestamptz[]) AS e(block_start)
WHERE NOT EXISTS (
    SELECT 1 FROM ovc.ovc_blocks_v01 b
    WHERE b.symbol = s.symbol AND b.block_start = e.block_start AND b.block_type = %(block_type)s
)
"""


@dataclass(frozen=True)
class Ready0SpikeRule:
    baseline_days: int = 7
    factor: float = 2.0
    min_count: int = 3

    def is_spike(self, ready0: int, ready_known: int, baseline_ready0: int, baseline_known: int) -> bool:
        # A spike is relative to what came before: without a baseline there is nothing to spike
        # against, and the first week of a new symbol would otherwise always warn.
        if ready0 < self.min_count or ready_known == 0 or baseline_known == 0:
            return False
        return ready0 / ready_known > self.factor * (baseline_ready0 / baseline_known)


@dataclass(frozen=True)
class DataQuality:
    range_start: datetime
    range_end: datetime
    symbols: tuple[str, ...]
    rows_in_range: int
    expected_blocks: int | None
    blocks_missing: int | None
    missing_examples: tuple[str, ...]
    ready0_count: int
    tradeable0_count: int
    null_rate_summary: dict[str, float | None] = field(default_factory=dict)
    sanity_error_count: int = 0
    ready0_share: float | None = None
    ready0_baseline_share: float | None = None
    ready0_spike: bool = False

    def as_metadata(self) -> dict[str, object]:
        """Plain values for Dagster metadata / JSON (datetimes as ISO text)."""
        values = asdict(self)
        values["range_start"] = self.range_start.isoformat()
        values["range_end"] = self.range_end.isoformat()
        values["symbols"] = list(self.symbols)
        values["missing_examples"] = list(self.missing_examples)
        return values


def data_quality(
    conn: psycopg.Connection,
    symbols: Sequence[str] | None,
    range_start: datetime,
    range_end: datetime,
    *,
    null_rate_columns: Sequence[str] = DEFAULT_NULL_RATE_COLUMNS,
    calendar: FxCalendar | None = None,
    now: datetime | None = None,
    spike_rule: Ready0SpikeRule = Ready0SpikeRule(),
) -> DataQuality:
    """The data-quality figures of `[range_start, range_end)`; see the module docstring."""
    if range_start.tzinfo is None or range_end.tzinfo is None:
        raise ValueError("range_start and range_end must be timezone-aware")
    unknown = [name for name in null_rate_columns if name not in NULL_RATE_ALLOWED_COLUMNS]
    if unknown:
        raise ValueError(f"no null rate for column(s) {unknown}; allowed: {sorted(NULL_RATE_ALLOWED_COLUMNS)}")
    calendar = calendar or FxCalendar()
    now = now or datetime.now(UTC)
    bounds = {"start": range_start, "end": range_end, "block_type": BLOCK_TYPE}

    if symbols is None:
        symbols = [name for (name,) in conn.execute(SYMBOLS_IN_RANGE_SQL, bounds).fetchall()]
    symbols = tuple(sorted(set(symbols)))

    null_counts = sql.SQL("").join(
        sql.SQL(", count(*) FILTER (WHERE in_range AND export_min IS NOT NULL AND {} IS NULL) AS {}").format(
            sql.Identifier(name), sql.Identifier(f"null_{name}")
        )
        for name in null_rate_columns
    )
    query = QUALITY_SQL.format(sanity_broken=_sanity_broken(), null_counts=null_counts)
    params = {
        **bounds,
        "baseline_start": range_start - timedelta(days=spike_rule.baseline_days),
        "all_symbols": not symbols,
        "symbols": list(symbols),
    }
    row = conn.execute(query, params).fetchone()
    (rows_in_range, ready0, ready_known, tradeable0, sanity, min_rows, base_ready0, base_known) = row[:8]
    null_rates = {
        name: (round(count / min_rows, 6) if min_rows else None)
        for name, count in zip(null_rate_columns, row[8:], strict=True)
    }

    expected_count, missing, examples = _missing_blocks(conn, symbols, range_start, min(range_end, now), calendar)
    return DataQuality(
        range_start=range_start,
        range_end=range_end,
        symbols=symbols,
        rows_in_range=rows_in_range,
        expected_blocks=expected_count,
        blocks_missing=missing,
        missing_examples=examples,
        ready0_count=ready0,
        tradeable0_count=tradeable0,
        null_rate_summary=null_rates,
        sanity_error_count=sanity,
        ready0_share=(ready0 / ready_known) if ready_known else None,
        ready0_baseline_share=(base_ready0 / base_known) if base_known else None,
        ready0_spike=spike_rule.is_spike(ready0, ready_known, base_ready0, base_known),
    )


def _missing_blocks(
    conn: psycopg.Connection,
    symbols: tuple[str, ...],
    start: datetime,
    end: datetime,
    calendar: FxCalendar,
) -> tuple[int | None, int | None, tuple[str, ...]]:
    if not symbols:
        return None, None, ()
    # Only blocks that have ended by `end` are expected to be there.
    expected = [block for block in calendar.expected_blocks(start, end) if block.end_utc <= end]
    if not expected:
        return 0, 0, ()
    missing, example_symbols, example_starts = conn.execute(
        MISSING_SQL,
        {
            "symbols": list(symbols),
            "starts": [block.start_utc for block in expected],
            "block_type": BLOCK_TYPE,
            "examples": MISSING_EXAMPLES,
        },
    ).fetchone()
    examples = tuple(
        _block_label(symbol, block_start)
        for symbol, block_start in zip(example_symbols or (), example_starts or (), strict=True)
    )
    return len(expected) * len(symbols), missing, examples


def _block_label(symbol: str, block_start: datetime) -> str:
    try:
        return block_at(block_start).block_id(symbol)
    except ValueError:  # a symbol the block-id format cannot spell
        return f"{symbol}@{block_start.isoformat()}"
