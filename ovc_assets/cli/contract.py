"""`ovc contract ...`: check export strings against the contracts in `contracts/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ovc_assets.contracts import parse_export, read_payloads
from ovc_assets.contracts.messages import failure_message
from ovc_assets.errors import ErrorCode, OvcError

contract_app = typer.Typer(
    name="contract",
    help="Export contracts (MIN v0.1, MIN v0.1.1 r1, FULL v0.1).",
    no_args_is_help=True,
)


@contract_app.callback()
def contract() -> None:
    """Export contracts: validate export strings against contracts/*.json."""


@contract_app.command("validate")
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Files with one export string or JSON envelope per line, or a TradingView alert-log CSV.",
            metavar="FILE...",
            show_default=False,
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per payload.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Unknown keys (E_UNKNOWN_KEY) and key order (E_KEY_ORDER) fail too.")
    ] = False,
) -> None:
    """Validate export strings; exit 0 if every payload passes, 1 if any fails."""
    for path in files:
        if not path.is_file():
            raise OvcError(ErrorCode.CONFIG, f"cannot read {path}: not an existing file")
    total = failed = 0
    for path in files:
        try:
            payloads = list(read_payloads(path))
        except OSError as error:
            raise OvcError(ErrorCode.CONFIG, f"cannot read {path}: {error.strerror}") from None
        for payload in payloads:
            if payload.error is not None:
                outcome = {
                    "ok": False,
                    "contract": None,
                    "codes": [payload.error.code.value],
                    "block_id": None,
                    "message": failure_message(payload.error.code, payload.error.message),
                }
            else:
                result = parse_export(payload.export, strict=strict)
                outcome = {
                    "ok": result.ok,
                    "contract": result.contract,
                    "codes": [code.value for code in result.codes],
                    "block_id": result.block_id,
                    "message": result.message,
                }
            total += 1
            failed += not outcome["ok"]
            if as_json:
                typer.echo(json.dumps({"file": str(path), "line": payload.line, **outcome}))
            elif not outcome["ok"]:
                codes = ",".join(outcome["codes"])
                typer.echo(f"{path}:{payload.line}: FAIL {outcome['contract'] or '-'} {codes} - {outcome['message']}")
    typer.echo(f"{total} payloads in {len(files)} file(s): {total - failed} ok, {failed} failed", err=as_json)
    if failed:
        raise typer.Exit(1)
