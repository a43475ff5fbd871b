"""The daily data-quality view: per OVC day (17:00 to 17:00 New York) of a date range,

- blocks stored vs the blocks the FX calendar expects (per symbol seen in the range);
- payloads rejected by the receiver or the parser, by error code (`ovc.raw_events`);
- run-report verdicts (PASS / WARN / FAIL);
- TradingView vs provider divergence: blocks with both a live close and a provider close,
  their largest relative difference, and how many are over the `ohlc_divergence` tolerance.

`daily_quality` gathers the numbers (four set-based queries); `quality_plots` draws them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg

from ovc_assets.calendar import Block, FxCalendar
from ovc_assets.runs.report import VERDICTS
from ovc_assets.storage.blocks import BLOCK_TYPE_2H

DEFAULT_DIVERGENCE_TOLERANCE = 0.0005  # PipelineSettings.ohlc_divergence_tolerance's default
# The OVC day of an instant: New York wall clock minus 17 hours, as a date.
_OVC_DAY = "(({ts} AT TIME ZONE 'America/New_York') - interval '17 hours')::date"

BLOCKS_PER_DAY_SQL = """
SELECT date_ny, symbol, count(*)
FROM ovc.ovc_blocks_v01
WHERE block_type = %(block_type)s AND block_start >= %(start)s AND block_start < %(end)s
GROUP BY date_ny, symbol
"""
PARSE_FAILURES_SQL = f"""
SELECT {_OVC_DAY.format(ts="e.received_at")} AS day, code, count(*)
FROM ovc.raw_events e CROSS JOIN LATERAL unnest(e.codes) AS code
WHERE e.parse_status = 'rejected' AND e.received_at >= %(start)s AND e.received_at < %(end)s
GROUP BY 1, 2
"""
VERDICTS_SQL = f"""
SELECT {_OVC_DAY.format(ts="to_timestamp(started_at_ms / 1000.0)")} AS day, run_status, count(*)
FROM ovc.ovc_run_reports_v01
WHERE started_at_ms >= %(start_ms)s AND started_at_ms < %(end_ms)s
GROUP BY 1, 2
"""
DIVERGENCE_SQL = """
SELECT date_ny, count(*),
       max(abs(c - provider_c) / nullif(abs(provider_c), 0)),
       count(*) FILTER (WHERE abs(c - provider_c) / nullif(abs(provider_c), 0) > %(tolerance)s)
FROM ovc.ovc_blocks_v01
WHERE block_type = %(block_type)s AND block_start >= %(start)s AND block_start < %(end)s
  AND export_min IS NOT NULL AND c IS NOT NULL AND provider_c IS NOT NULL
GROUP BY date_ny
"""


@dataclass(frozen=True)
class DayDivergence:
    compared: int
    max_relative: float | None
    over_tolerance: int


@dataclass
class DailyQuality:
    """The four views, keyed by OVC day; every day of the range is in `days`."""

    days: list[date]
    symbols: list[str]
    expected_blocks: dict[date, int]
    stored_blocks: dict[date, dict[str, int]] = field(default_factory=dict)
    parse_failures: dict[date, dict[str, int]] = field(default_factory=dict)
    verdicts: dict[date, dict[str, int]] = field(default_factory=dict)
    divergence: dict[date, DayDivergence] = field(default_factory=dict)
    divergence_tolerance: float = DEFAULT_DIVERGENCE_TOLERANCE

    def stored_total(self, day: date) -> int:
        """Blocks stored on `day` for the expected symbols."""
        counts = self.stored_blocks.get(day, {})
        return sum(counts.get(symbol, 0) for symbol in self.symbols)

    def failure_codes(self) -> list[str]:
        return sorted({code for codes in self.parse_failures.values() for code in codes})


def daily_quality(
    conn: psycopg.Connection,
    first_day: date,
    last_day: date,
    *,
    symbols: Sequence[str] | None = None,
    calendar: FxCalendar | None = None,
    divergence_tolerance: float = DEFAULT_DIVERGENCE_TOLERANCE,
) -> DailyQuality:
    """The view of the OVC days `first_day`..`last_day` (both included). `symbols`: the series
    the calendar expects; default the symbols stored in the range."""
    if last_day < first_day:
        raise ValueError(f"the range ends ({last_day}) before it starts ({first_day})")
    calendar = calendar or FxCalendar()
    start, end = Block(first_day, "A").start_utc, Block(last_day + timedelta(days=1), "A").start_utc
    bounds = {"start": start, "end": end, "block_type": BLOCK_TYPE_2H}
    days = [first_day + timedelta(days=offset) for offset in range((last_day - first_day).days + 1)]

    stored: dict[date, dict[str, int]] = defaultdict(dict)
    for day, symbol, count in conn.execute(BLOCKS_PER_DAY_SQL, bounds).fetchall():
        stored[day][symbol] = count
    chosen = sorted(set(symbols) if symbols else {name for counts in stored.values() for name in counts})
    expected = {day: (len(calendar.expected_blocks(Block(day, "A").start_utc, Block(day, "L").end_utc)) * len(chosen))
                for day in days}  # fmt: skip

    failures: dict[date, dict[str, int]] = defaultdict(dict)
    for day, code, count in conn.execute(PARSE_FAILURES_SQL, bounds).fetchall():
        failures[day][code] = count
    verdicts: dict[date, dict[str, int]] = defaultdict(dict)
    params_ms = {"start_ms": int(start.timestamp() * 1000), "end_ms": int(end.timestamp() * 1000)}
    for day, verdict, count in conn.execute(VERDICTS_SQL, params_ms).fetchall():
        if verdict in VERDICTS:
            verdicts[day][verdict] = count
    divergence = {
        day: DayDivergence(compared, max_relative, over)
        for day, compared, max_relative, over in conn.execute(
            DIVERGENCE_SQL, {**bounds, "tolerance": divergence_tolerance}
        ).fetchall()
    }
    return DailyQuality(
        days=days, symbols=chosen, expected_blocks=expected, stored_blocks=dict(stored),
        parse_failures=dict(failures), verdicts=dict(verdicts), divergence=divergence,
        divergence_tolerance=divergence_tolerance,
    )  # fmt: skip
