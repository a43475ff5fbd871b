"""Reading alert logs and payload files, in literal values: rows with their first line and
`Time`, and each refusal of a log that cannot be read unambiguously, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ovc_assets.contracts.sources import AlertLogRow, SourcePayload, is_alert_log, read_alert_log, read_payloads, read_text
from ovc_assets.errors import OvcError

HEADER = "Alert ID,Ticker,Name,Description,Time\n"


def test_rows_keep_their_first_line_export_and_time() -> None:
    text = HEADER + '1,FX:GBPUSD,a,"a=1\r\nb=2",2026-01-14T10:00:05Z\n\n2,FX:GBPUSD,b,c=3,2026-01-14T10:00:06Z\n3,FX,c\n'

    rows = list(read_alert_log(text, "log.csv", require_time=True))

    assert rows == [
        AlertLogRow(2, "a=1\r\nb=2", "2026-01-14T10:00:05Z"),
        AlertLogRow(5, "c=3", "2026-01-14T10:00:06Z"),
        AlertLogRow(6, "", None),  # a short row: no Description, no Time
    ]


def test_a_log_without_time_column_has_no_times() -> None:
    assert list(read_alert_log("Description,Other\nx=1,y\n", "log.csv")) == [AlertLogRow(2, "x=1", None)]


@pytest.mark.parametrize(
    ("text", "require_time", "message"),
    [
        ("Name,Description\nx,a=1\n", True, "log.csv is not a TradingView alert log: no column Time"),
        ("Name,Other\nx,a=1\n", True, "log.csv is not a TradingView alert log: no column Description, Time"),
        ("Name,Other\nx,a=1\n", False, "log.csv is not a TradingView alert log: no column Description"),
        (
            "Time,Description,Time,Description,,\nx,a=1,y,b=2,,\n",
            False,
            "log.csv: the header names Description, Time more than once",
        ),
        (
            HEADER + "1,FX,a,b=1,t\n2,FX,a," + "x" * 131_073 + ",t\n",
            False,
            "log.csv: line 3: not readable as CSV: field larger than field limit (131072)",
        ),
    ],
    ids=["no-time", "neither", "no-description", "repeated-names", "oversized-field"],
)
def test_an_unreadable_alert_log_is_refused_naming_the_file(text: str, require_time: bool, message: str) -> None:
    with pytest.raises(OvcError) as raised:
        list(read_alert_log(text, "log.csv", require_time=require_time))

    assert (raised.value.code, raised.value.message) == ("E_INPUT_FORMAT", message)


def test_an_empty_header_name_may_repeat() -> None:
    assert list(read_alert_log(",Description,\n,a=1,\n", "log.csv")) == [AlertLogRow(2, "a=1", None)]


def test_a_payload_file_is_an_alert_log_only_with_a_description_among_several_columns(tmp_path: Path) -> None:
    assert (is_alert_log("Description\nx=1"), is_alert_log("Description,Time\nx=1,t"), is_alert_log("Time,Name\n")) == (
        False, True, False
    )  # fmt: skip
    lines = tmp_path / "lines.txt"
    lines.write_bytes(b"\xef\xbb\xbfDescription\n# a comment\n\n  a=1  \n")

    assert list(read_payloads(lines)) == [SourcePayload(1, "Description"), SourcePayload(4, "a=1")]


def test_a_refused_alert_log_file_is_named_by_its_path(tmp_path: Path) -> None:
    log = tmp_path / "alerts.csv"
    log.write_text("Description,Description\na,b\n")

    with pytest.raises(OvcError) as raised:
        list(read_payloads(log))

    assert raised.value.message == f"{log}: the header names Description more than once"


def test_a_byte_order_mark_is_dropped_only_at_the_start(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffa=1\ufeff".encode() + b"\xff")

    assert read_text(path) == "a=1\ufeff\udcff"


def test_a_header_the_csv_module_cannot_read_is_refused_at_line_1() -> None:
    # The header's first line names Description; its quoted second field runs on past the csv limit.
    text = 'Description,"Time\n' + "x" * 131_073 + '"\na=1,t\n'

    with pytest.raises(OvcError) as raised:
        list(read_alert_log(text, "log.csv"))

    assert raised.value.message == "log.csv: line 1: not readable as CSV: field larger than field limit (131072)"
