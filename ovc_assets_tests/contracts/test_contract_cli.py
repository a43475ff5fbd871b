"""`ovc contract validate`: exit codes, the --json lines, --strict, and unreadable files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ovc_assets.cli.contract import contract_app
from ovc_assets.errors import ErrorCode, OvcError
from ovc_assets_tests.contracts.contract_strategies import (
    ALERT_LOG_CSV,
    FULL_EXPORT,
    R1_EXPORT,
    sample_file,
)

# Registered the way the `ovc` app registers it.
ovc = typer.Typer()
ovc.add_typer(contract_app, name="contract")


def validate(*args: str | Path):
    return CliRunner().invoke(ovc, ["contract", "validate", *map(str, args)])


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


@pytest.fixture
def real_samples(tmp_path: Path) -> list[Path]:
    """The real alert log and the real FULL export, both of which pass."""
    paths = [tmp_path / ALERT_LOG_CSV, tmp_path / FULL_EXPORT]
    for path in paths:
        shutil.copy(sample_file(path.name), path)
    return paths


def test_files_that_all_pass_exit_zero(real_samples: list[Path]) -> None:
    result = validate(*real_samples)

    assert result.exit_code == 0, result.output
    assert "2 payloads in 2 file(s): 2 ok, 0 failed" in result.stdout


def test_json_prints_one_object_per_payload(real_samples: list[Path]) -> None:
    result = validate("--json", *real_samples)

    assert result.exit_code == 0
    assert json_lines(result.stdout) == [
        {
            "file": str(real_samples[0]),
            "line": 2,
            "ok": True,
            "contract": "MIN_V0_1",
            "codes": [],
            "block_id": "20260113-F-GBPUSD",
            "message": None,
        },
        {
            "file": str(real_samples[1]),
            "line": 1,
            "ok": True,
            "contract": "FULL_V0_1",
            "codes": [],
            "block_id": "20260113-F-GBPUSD",
            "message": None,
        },
    ]


def test_any_failure_exits_one_and_is_reported_by_line(tmp_path: Path) -> None:
    source = tmp_path / "mixed.txt"
    full = sample_file(FULL_EXPORT).read_text().strip()
    source.write_text(
        "# one good, three bad\n"
        f"{full}\n"
        f"{sample_file(R1_EXPORT).read_text().strip()}\n"
        '{"schema": "OVC_MIN_V01"}\n'
        "|||\n"
    )

    result = validate("--json", source)

    assert result.exit_code == 1
    lines = json_lines(result.stdout)
    assert [(line["line"], line["ok"], line["contract"], line["codes"]) for line in lines] == [
        (2, True, "FULL_V0_1", []),
        (3, False, "MIN_R1", ["E_IDENTITY_TIME"]),
        (4, False, None, ["E_ENVELOPE_SCHEMA"]),
        (5, False, None, ["E_BAD_KV", "E_UNKNOWN_CONTRACT"]),
    ]
    assert lines[1]["block_id"] == "20260116-I-GBPUSD"
    assert all(line["message"].startswith(line["codes"][0]) for line in lines[1:])
    assert "4 payloads in 1 file(s): 1 ok, 3 failed" in result.stderr


def test_plain_output_lists_the_failures(tmp_path: Path) -> None:
    source = tmp_path / "bad.txt"
    source.write_text(sample_file(R1_EXPORT).read_text())

    result = validate(source)

    assert result.exit_code == 1
    assert f"{source}:1: FAIL MIN_R1 E_IDENTITY_TIME - E_IDENTITY_TIME: bar_close_ms=1768602000000" in result.stdout


def test_strict_refuses_unknown_keys(tmp_path: Path) -> None:
    source = tmp_path / "extra.txt"
    source.write_text(sample_file(FULL_EXPORT).read_text().strip() + "|added=1\n")

    lenient, strict = validate("--json", source), validate("--json", "--strict", source)

    assert lenient.exit_code == 0
    assert strict.exit_code == 1 and json_lines(strict.stdout)[0]["codes"] == ["E_UNKNOWN_KEY"]


def test_hostile_lines_are_reported_not_raised(tmp_path: Path) -> None:
    source = tmp_path / "hostile.txt"
    source.write_bytes(b"\xff\xfe\x00garbage\n=\n" + b"k=" + b"v" * 10_000_000 + b"\n{\n")

    result = validate("--json", source)

    assert result.exit_code == 1
    assert [line["codes"] for line in json_lines(result.stdout)] == [
        ["E_ENCODING"],
        ["E_BAD_KV", "E_UNKNOWN_CONTRACT"],
        ["E_BODY_TOO_LARGE"],
        ["E_ENVELOPE_JSON"],
    ]


def test_a_missing_file_is_a_coded_configuration_error(tmp_path: Path, real_samples: list[Path]) -> None:
    result = validate(real_samples[0], tmp_path / "nope.txt")

    assert result.exit_code != 0
    assert isinstance(result.exception, OvcError)
    assert result.exception.code == ErrorCode.CONFIG
    assert "nope.txt" in result.exception.message and "\n" not in result.exception.message
    assert result.stdout == ""  # nothing validated before the inputs are known to exist
