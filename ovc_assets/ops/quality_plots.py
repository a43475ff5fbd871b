"""The daily data-quality view drawn with matplotlib: four PNG figures, as markdown for the
Dagster UI (images embedded as data URIs) and as a static HTML page (`ovc report daily`).

Each figure comes with the table of the numbers it draws, so the page can be read without
the pictures and checked against the database.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ovc_assets.ops.daily_quality import DailyQuality
from ovc_assets.runs.report import FAIL, PASS, VERDICTS, WARN

if TYPE_CHECKING:
    from matplotlib.axes import Axes

VERDICT_COLOURS = {PASS: "#2e7d32", WARN: "#f9a825", FAIL: "#c62828"}
FIGURE_SIZE = (8.0, 3.2)
FIGURE_DPI = 90


@dataclass(frozen=True)
class QualityFigure:
    """One view: its title, the PNG, and the table of what it draws."""

    key: str
    title: str
    png: bytes
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _labels(quality: DailyQuality) -> list[str]:
    return [day.strftime("%m-%d") for day in quality.days]


def _png(draw: Callable[[Axes], None], title: str, *, counts: bool = True) -> bytes:
    # The object API without pyplot: no global figure registry, no GUI backend, safe in threads.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=FIGURE_SIZE, dpi=FIGURE_DPI, layout="constrained")
    axes = figure.add_subplot()
    draw(axes)
    axes.set_title(title, fontsize=11)
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    if counts:
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _blocks_figure(quality: DailyQuality) -> QualityFigure:
    labels = _labels(quality)
    stored = [quality.stored_total(day) for day in quality.days]
    expected = [quality.expected_blocks[day] for day in quality.days]

    def draw(axes: Axes) -> None:
        axes.bar(labels, stored, color="#1565c0", label="stored")
        axes.plot(labels, expected, color="black", marker="_", markersize=14, linestyle="none", label="expected (FX calendar)")
        axes.set_ylabel("2H blocks")
        axes.legend(fontsize=8)

    title = f"Blocks per day vs calendar ({', '.join(quality.symbols) or 'no symbols'})"
    rows = [(day.isoformat(), e, s, e - s) for day, e, s in zip(quality.days, expected, stored, strict=True)]
    return QualityFigure("blocks", title, _png(draw, title), ("OVC day", "expected", "stored", "missing"), rows)


def _stacked(axes: Axes, labels: list[str], series: dict[str, list[int]], colours: dict[str, str] | None = None) -> None:
    bottom = [0] * len(labels)
    for name, values in series.items():
        axes.bar(labels, values, bottom=bottom, label=name, color=(colours or {}).get(name))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if series:
        axes.legend(fontsize=8)


def _failures_figure(quality: DailyQuality) -> QualityFigure:
    codes = quality.failure_codes()
    series = {code: [quality.parse_failures.get(day, {}).get(code, 0) for day in quality.days] for code in codes}
    title = "Rejected payloads by error code"

    def draw(axes: Axes) -> None:
        _stacked(axes, _labels(quality), series)
        axes.set_ylabel("payloads")

    rows = [(day.isoformat(), code, count) for day in quality.days for code, count in sorted(quality.parse_failures.get(day, {}).items())]
    return QualityFigure("parse_failures", title, _png(draw, title), ("OVC day", "code", "payloads"), rows)


def _verdicts_figure(quality: DailyQuality) -> QualityFigure:
    series = {verdict: [quality.verdicts.get(day, {}).get(verdict, 0) for day in quality.days] for verdict in VERDICTS}
    title = "Run reports by verdict"

    def draw(axes: Axes) -> None:
        _stacked(axes, _labels(quality), series, VERDICT_COLOURS)
        axes.set_ylabel("runs")

    rows = [(day.isoformat(), *(series[v][i] for v in VERDICTS)) for i, day in enumerate(quality.days)]
    return QualityFigure("verdicts", title, _png(draw, title), ("OVC day", *VERDICTS), rows)


def _divergence_figure(quality: DailyQuality) -> QualityFigure:
    tolerance_bp = quality.divergence_tolerance * 10_000
    largest = [
        (quality.divergence[day].max_relative or 0.0) * 10_000 if day in quality.divergence else 0.0 for day in quality.days
    ]
    title = "TradingView vs provider close: largest divergence"

    def draw(axes: Axes) -> None:
        axes.bar(_labels(quality), largest, color="#6a1b9a", label="largest |c - provider_c| / provider_c")
        axes.axhline(tolerance_bp, color="#c62828", linestyle="--", label=f"tolerance {tolerance_bp:g} bp")
        axes.set_ylabel("basis points")
        axes.legend(fontsize=8)

    rows = [
        (day.isoformat(), d.compared, round((d.max_relative or 0.0) * 10_000, 3), d.over_tolerance)
        for day in quality.days
        if (d := quality.divergence.get(day)) is not None
    ]
    header = ("OVC day", "blocks compared", "largest (bp)", "over tolerance")
    return QualityFigure("divergence", title, _png(draw, title, counts=False), header, rows)


def quality_figures(quality: DailyQuality) -> list[QualityFigure]:
    """The four views, in reading order."""
    return [_blocks_figure(quality), _failures_figure(quality), _verdicts_figure(quality), _divergence_figure(quality)]


def _range_text(quality: DailyQuality) -> str:
    return f"{quality.days[0].isoformat()} to {quality.days[-1].isoformat()}"


def quality_markdown(quality: DailyQuality, figures: list[QualityFigure]) -> str:
    """The figures as markdown images (data URIs), for `MetadataValue.md`."""
    parts = [f"Data quality, OVC days {_range_text(quality)}"]
    parts += [f"![{figure.title}]({figure.data_uri()})" for figure in figures]
    return "\n\n".join(parts)


def _html_table(figure: QualityFigure) -> str:
    if not figure.rows:
        return "<p>nothing in this range</p>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in figure.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row) + "</tr>" for row in figure.rows
    )
    return f'<table data-figure="{figure.key}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def quality_html(quality: DailyQuality, figures: list[QualityFigure]) -> str:
    """A self-contained page: every image embedded, every figure followed by its numbers."""
    title = f"OVC data quality, {_range_text(quality)}"
    sections = "".join(
        f'<section id="{figure.key}"><h2>{html.escape(figure.title)}</h2>'
        f'<img alt="{html.escape(figure.title)}" src="{figure.data_uri()}">{_html_table(figure)}</section>'
        for figure in figures
    )
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "img{max-width:100%}table{border-collapse:collapse;margin:.5em 0 2em}"
        "th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Symbols: {html.escape(', '.join(quality.symbols) or 'none')}. OVC days run 17:00 to 17:00 New York.</p>"
        f"{sections}</body></html>\n"
    )
