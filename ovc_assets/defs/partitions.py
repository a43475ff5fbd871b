"""Partitions of the asset graph, defined once and imported everywhere.

2H partitions are the blocks of the FX calendar: each key is a block's New York start
(`2026-01-13-17:00` is block A of date_ny 2026-01-13), the cron ticks at odd New York
hours, and the weekend (Friday 17:00 to Sunday 17:00 New York) and the default holiday
sessions (Dec 25, Jan 1) are excluded, so the partitions equal `FxCalendar().expected_blocks`.
Daily partitions use the same 17:00 anchor: key `2026-01-13` is the OVC day of that date.
"""

import os
from datetime import date, datetime, timedelta

import dagster as dg

from ovc_assets.calendar import DEFAULT_CLOSURE_MONTH_DAYS, NEW_YORK, Block

BLOCKS_2H_CRON = "0 1-23/2 * * *"
BLOCK_KEY_FORMAT = "%Y-%m-%d-%H:%M"

# Friday 17:00 to Sunday 15:00 New York: the ticks of the weekend closure.
WEEKEND_EXCLUSIONS = ("0 17-23/2 * * 5", "0 1-23/2 * * 6", "0 1-15/2 * * 0")
DEFAULT_PARTITION_WEEKS = 4


def _holiday_exclusions() -> list[str]:
    """Cron ticks of each default closure: the session from 17:00 the day before to 17:00 that day."""
    exclusions = []
    for month, day in sorted(DEFAULT_CLOSURE_MONTH_DAYS):
        session_open = date(2001, month, day) - timedelta(days=1)  # a non-leap year: Mar 1 -> Feb 28
        exclusions.append(f"0 17-23/2 {session_open.day} {session_open.month} *")
        exclusions.append(f"0 1-15/2 {day} {month} *")
    return exclusions


def default_partitions_start(today: date) -> datetime:
    """Sunday 17:00 New York, the open of the week `DEFAULT_PARTITION_WEEKS` weeks before
    `today`'s: at most 5 weeks of 2H partitions (300). Each page of a 2H asset in the UI lists
    every partition key, which Dagster computes per request at ~0.1-0.2 ms a key (benchmarks/
    RESULTS.md, UI), so the count must stay small for pages under 2 s. Older history is imported
    with `ovc backfill`, which is not bound by the partitions; `OVC_PARTITIONS_START` lists more."""
    days_since_sunday = (today.weekday() + 1) % 7
    sunday = today - timedelta(days=days_since_sunday, weeks=DEFAULT_PARTITION_WEEKS)
    return datetime(sunday.year, sunday.month, sunday.day, 17, 0, tzinfo=NEW_YORK)


def partitions_start(today: date | None = None) -> datetime:
    """`OVC_PARTITIONS_START` (New York local, `YYYY-MM-DD HH:MM`), else `default_partitions_start`."""
    text = os.environ.get("OVC_PARTITIONS_START")
    if not text:
        return default_partitions_start(today or datetime.now(NEW_YORK).date())
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=NEW_YORK)


def blocks_2h_partitions(start: datetime) -> dg.TimeWindowPartitionsDefinition:
    """One partition per open 2H block from `start` (any aware datetime) on."""
    # Dagster reads the start's wall-clock time in the partitions' time zone.
    return dg.TimeWindowPartitionsDefinition(
        start=start.astimezone(NEW_YORK),
        fmt=BLOCK_KEY_FORMAT,
        cron_schedule=BLOCKS_2H_CRON,
        timezone="America/New_York",
        exclusions=[*WEEKEND_EXCLUSIONS, *_holiday_exclusions()],
    )


def ovc_daily_partitions(start: datetime) -> dg.DailyPartitionsDefinition:
    """One partition per OVC day (17:00 to 17:00 New York), keyed by its date_ny. The current,
    still open day is a partition too (end_offset=1): reports written today need it."""
    return dg.DailyPartitionsDefinition(
        start_date=start.astimezone(NEW_YORK).strftime("%Y-%m-%d"),
        hour_offset=17,
        timezone="America/New_York",
        end_offset=1,
    )


def partition_key_for_block(block: Block) -> str:
    """The 2H partition key of a block: its New York start, e.g. `2026-01-13-17:00` for A of 2026-01-13."""
    return block.start_utc.astimezone(NEW_YORK).strftime(BLOCK_KEY_FORMAT)
