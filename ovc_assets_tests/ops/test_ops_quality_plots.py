"""The daily data-quality view: its numbers against the demo week landed in a real database
(checked against the calendar and Python's own day arithmetic), the page written by
`ovc report daily`, and the figures in the `ovc_run_reports` materialisation."""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pytest

from ovc_assets.calendar import NEW_YORK, Block, date_ny_of
from ovc_assets.defs.blocks.assets import build_block_assets
from ovc_assets.defs.partitions import blocks_2h_partitions, partition_key_for_block
from ovc_assets.defs.resources import PipelineSettings, PostgresResource
from ovc_assets.defs.run_reports import ovc_run_reports
from ovc_assets.demo.sample_week import DEMO_SYMBOLS, land_alerts_directly, sample_alerts, sample_candles, week_blocks
from ovc_assets.ops.daily_quality import daily_quality
from ovc_assets.ops.quality_plots import FIGURE_DPI, FIGURE_SIZE
from ovc_assets.runs.report import RunReport
from ovc_assets.runs.store import store_report
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.ovc_in_process import run_ovc_in_process

WEEK = week_blocks()
SUNDAY, THURSDAY = WEEK[0].date_ny, WEEK[-1].date_ny
TUESDAY = date(2026, 1, 13)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DIVERGED_BID = Block(TUESDAY, "C").block_id("GBPUSD")
REJECTED_SQL = "SELECT received_at, codes FROM ovc.raw_events WHERE parse_status = 'rejected'"
LAND_REJECTED_SQL = """
INSERT INTO ovc.raw_events (event_id, received_at, route, body, body_size, body_sha256, parse_status, codes, last_seen_at)
VALUES (%(id)s, %(at)s, 'tv', 'x', 1, repeat('b', 64), 'rejected', ARRAY['E_BAD_KV'], %(at)s)
"""


@pytest.fixture(scope="module")
def landed_week(create_module_database) -> str:
    """The demo week's alerts landed and ingested in one live run, a provider close 10 bp away
    from one live close, and three run reports (FAIL on Monday, two PASS on Tuesday). Shared by
    the module's tests, which only read it."""
    database_url = create_module_database(True)
    land_alerts_directly(database_url, sample_alerts(sample_candles()))
    (blocks_asset, _) = build_block_assets(blocks_2h_partitions(WEEK[0].start_utc))
    result = dg.materialize(
        [blocks_asset],
        selection=[blocks_asset.key],
        resources={"ovc_database": PostgresResource(database_url=database_url), "pipeline": PipelineSettings(symbols=list(DEMO_SYMBOLS))},
        tags={
            "dagster/asset_partition_range_start": partition_key_for_block(WEEK[0]),
            "dagster/asset_partition_range_end": partition_key_for_block(WEEK[-1]),
        },
    )
    assert result.success
    with connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE ovc.ovc_blocks_v01 SET provider_c = c * 1.001, provider_source = 'oanda' WHERE bid = %s", (DIVERGED_BID,))
        conn.execute("UPDATE ovc.ovc_blocks_v01 SET provider_c = c, provider_source = 'oanda' WHERE date_ny = %s AND block2h = 'D'", (TUESDAY,))
        for run_id, day, insert_failed in (("r-mon", TUESDAY - timedelta(days=1), 1), ("r-tue-1", TUESDAY, 0), ("r-tue-2", TUESDAY, 0)):
            store_report(conn, RunReport(
                run_id=run_id, run_type="LIVE_INGEST", started_at_ms=Block(day, "K").start_ms, received_events=1, parse_ok=1,
                insert_attempted=1, insert_success=1 - insert_failed, insert_failed=insert_failed, sanity_error_count=0,
            ).finalized())  # fmt: skip
    return database_url


def test_the_numbers_of_each_view(landed_week) -> None:
    with connect(landed_week) as conn:
        quality = daily_quality(conn, SUNDAY - timedelta(days=1), THURSDAY + timedelta(days=1))
        rejected = conn.execute(REJECTED_SQL).fetchall()

    assert quality.symbols == sorted(DEMO_SYMBOLS)
    assert [quality.expected_blocks[day] for day in quality.days] == [0, 24, 24, 24, 24, 24, 0]  # Sat, Sun..Thu, Fri
    assert [quality.stored_total(day) for day in quality.days] == [0, 24, 24, 22, 24, 24, 0], "Tuesday's F never arrived"
    by_day: dict[date, dict[str, int]] = {}
    for received_at, codes in rejected:
        for code in codes:
            counts = by_day.setdefault(date_ny_of(received_at), {})
            counts[code] = counts.get(code, 0) + 1
    assert quality.parse_failures == by_day and sum(map(len, by_day.values())) >= 3
    assert quality.verdicts == {TUESDAY - timedelta(days=1): {"FAIL": 1}, TUESDAY: {"PASS": 2}}
    tuesday = quality.divergence[TUESDAY]
    assert (tuesday.compared, tuesday.over_tolerance) == (3, 1)
    assert tuesday.max_relative == pytest.approx(0.001 / 1.001, rel=1e-9)  # relative to the provider close
    assert set(quality.divergence) == {TUESDAY}


def test_rejected_payloads_are_counted_on_their_ovc_day_across_daylight_saving(database_url) -> None:
    instants = [
        datetime(2026, 1, 13, 16, 59, tzinfo=NEW_YORK), datetime(2026, 1, 13, 17, 0, tzinfo=NEW_YORK),
        datetime(2026, 7, 14, 16, 59, tzinfo=NEW_YORK), datetime(2026, 7, 14, 17, 0, tzinfo=NEW_YORK),
        datetime(2026, 3, 8, 16, 59, tzinfo=NEW_YORK), datetime(2026, 3, 8, 17, 0, tzinfo=NEW_YORK),  # DST began at 02:00
    ]  # fmt: skip
    with connect(database_url, autocommit=True) as conn:
        for at in instants:
            conn.execute(LAND_REJECTED_SQL, {"id": uuid.uuid4(), "at": at.astimezone(UTC)})
        quality = daily_quality(conn, date(2026, 1, 1), date(2026, 7, 31))
    expected: dict[date, dict[str, int]] = {}
    for at in instants:
        day = expected.setdefault(date_ny_of(at), {"E_BAD_KV": 0})
        day["E_BAD_KV"] += 1
    assert quality.parse_failures == expected
    assert len(expected) == 6, "16:59 and 17:00 New York are on two OVC days, in winter and in summer"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img":
            self.images.append(values)
        elif tag == "table":
            self._table = values["data-figure"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td":
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None


def ovc(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "ovc"), *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def decoded_png(src: str) -> bytes:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix):], validate=True)


def png_size(png: bytes) -> tuple[int, int]:
    from matplotlib.image import imread

    height, width = imread(io.BytesIO(png), format="png").shape[:2]
    return width, height


def test_ovc_report_daily_writes_a_page_with_the_four_figures_and_their_numbers(landed_week, ovc_env, tmp_path) -> None:
    out = tmp_path / "pages" / "quality.html"
    env = {**ovc_env, "OVC_DATABASE_URL": landed_week}
    done = ovc("report", "daily", "--start", str(SUNDAY), "--end", str(THURSDAY), "--out", str(out), env=env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out}: 4 figures, OVC days {SUNDAY}..{THURSDAY}, 2 symbol(s), 2 block(s) missing"
    page = _Page()
    page.feed(out.read_text(encoding="utf-8"))
    assert [image["alt"] for image in page.images] == [
        "Blocks per day vs calendar (EURUSD, GBPUSD)", "Rejected payloads by error code", "Run reports by verdict",
        "TradingView vs provider close: largest divergence",
    ]  # fmt: skip
    for image in page.images:
        png = decoded_png(image["src"])
        assert png.startswith(PNG_SIGNATURE)
        assert png_size(png) == (FIGURE_SIZE[0] * FIGURE_DPI, FIGURE_SIZE[1] * FIGURE_DPI)
    assert page.tables["blocks"][1:] == [
        [str(day), "24", "24" if day != TUESDAY else "22", "0" if day != TUESDAY else "2"]
        for day in (SUNDAY + timedelta(days=n) for n in range(5))
    ]
    assert [row for row in page.tables["verdicts"][1:] if row[1:] != ["0", "0", "0"]] == [
        [str(TUESDAY - timedelta(days=1)), "0", "0", "1"], [str(TUESDAY), "2", "0", "0"],
    ]  # fmt: skip
    assert page.tables["divergence"][1:] == [[str(TUESDAY), "3", "9.99", "1"]]
    assert {row[1] for row in page.tables["parse_failures"][1:]} >= {"E_SEM_OHLC", "E_IDENTITY_TIME"}


def test_ovc_report_daily_refuses_bad_dates_with_a_coded_error(ovc_env, tmp_path) -> None:
    out = tmp_path / "page.html"
    for args, message in (
        (("--start", "2026-13-01", "--end", "2026-01-02"), "--start '2026-13-01' is not a date"),
        (("--start", "2026-01-05", "--end", "2026-01-02"), "--end 2026-01-02 is before --start 2026-01-05"),
    ):
        done = run_ovc_in_process("report", "daily", *args, "--out", str(out), env={**os.environ, **ovc_env})
        assert done.returncode == 2 and re.fullmatch(rf"error E_CONFIG: {re.escape(message)}.*\n", done.stderr), done.stderr
    assert not out.exists()


def test_the_daily_run_reports_materialisation_shows_the_figures(landed_week) -> None:
    result = dg.materialize(
        [ovc_run_reports], resources={"ovc_database": PostgresResource(database_url=landed_week)}, partition_key=str(TUESDAY)
    )
    markdown = result.asset_materializations_for_node("ovc_run_reports")[0].metadata["data_quality"].value
    images = re.findall(r"!\[([^\]]+)\]\((data:image/png;base64,[A-Za-z0-9+/=]+)\)", markdown)
    assert [title for title, _ in images][0] == "Blocks per day vs calendar (EURUSD, GBPUSD)"
    assert len(images) == 4 and all(decoded_png(src).startswith(PNG_SIGNATURE) for _, src in images)
    assert markdown.startswith(f"Data quality, OVC days {TUESDAY - timedelta(days=13)} to {TUESDAY}")
