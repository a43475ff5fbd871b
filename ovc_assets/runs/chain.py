"""Verification of the run-report hash chain (`sql/006_run_report_chain.sql`).

The table side: links numbered 1..n without gaps, each `prev_sha256` equal to the stored
hash of the link before it, each report's recomputed hash equal to its link's, and every
report either chained or recorded as older than the chain. The file side
(`$OVC_HOME/reports/<run_id>.json`): every file's content matches the hash it carries and
the table's link for its run, and every chained report has its file.

What this finds: a report edited, deleted, re-ordered, or inserted outside `ovc` (in the
table or as a file). What it cannot find on its own: the newest links removed or replaced
together with their files, or a forged report appended at the head by someone who can
write the chain; compare the head hash it prints with one kept elsewhere
(`expected_head`) for that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ovc_assets.runs.report import GENESIS_SHA256, ChainLink, RunReport
from ovc_assets.runs.store import SELECT_REPORTS_SQL, report_file_name, report_from_row

SELECT_CHAIN_SQL = "SELECT seq, run_id, prev_sha256, report_sha256 FROM ovc.ovc_run_report_chain ORDER BY seq"
SELECT_UNCHAINED_SQL = "SELECT run_id FROM ovc.ovc_run_reports_unchained"
TABLE = "table"


@dataclass(frozen=True)
class ChainBreak:
    """One finding: where (`table` or a file path), which run and link, and what is wrong."""

    where: str
    run_id: str | None
    seq: int | None
    problem: str

    def __str__(self) -> str:
        link = f"link {self.seq}" if self.seq is not None else "no link"
        return f"{self.where}: run {self.run_id or '?'} ({link}): {self.problem}"


@dataclass
class ChainVerification:
    links: int = 0
    older_than_chain: int = 0
    files_checked: int = 0
    head_sha256: str | None = None
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "links": self.links,
            "older_than_chain": self.older_than_chain,
            "files_checked": self.files_checked,
            "head_sha256": self.head_sha256,
            "breaks": [
                {"where": b.where, "run_id": b.run_id, "seq": b.seq, "problem": b.problem} for b in self.breaks
            ],
        }


def verify_report_chain(
    conn: psycopg.Connection, reports_dir: Path | None = None, *, expected_head: str | None = None
) -> ChainVerification:
    """Check the chain in the table and, when `reports_dir` is given, the report files."""
    result = ChainVerification()
    links = [ChainLinkRow(*row) for row in conn.execute(SELECT_CHAIN_SQL).fetchall()]
    reports = {report.run_id: report for report in map(report_from_row, conn.execute(SELECT_REPORTS_SQL).fetchall())}
    older = {run_id for (run_id,) in conn.execute(SELECT_UNCHAINED_SQL).fetchall()}
    result.links = len(links)
    result.older_than_chain = len(older)
    _verify_table(links, reports, older, result)
    result.head_sha256 = links[-1].report_sha256 if links else None
    if expected_head is not None and expected_head not in {link.report_sha256 for link in links}:
        result.breaks.append(
            ChainBreak(TABLE, None, None, f"the expected head {expected_head[:16]}... is not in the chain: "
                       "links up to it were removed or rewritten")
        )
    if reports_dir is not None:
        _verify_files(Path(reports_dir), {link.run_id: link for link in links}, older, result)
    return result


@dataclass(frozen=True)
class ChainLinkRow:
    seq: int
    run_id: str
    prev_sha256: str
    report_sha256: str


def _verify_table(
    links: list[ChainLinkRow], reports: dict[str, RunReport], older: set[str], result: ChainVerification
) -> None:
    expected_seq, expected_prev = 1, GENESIS_SHA256
    for link in links:
        if link.seq != expected_seq:
            result.breaks.append(
                ChainBreak(TABLE, link.run_id, link.seq, f"links {expected_seq}..{link.seq - 1} are missing (deleted)")
            )
        if link.prev_sha256 != expected_prev:
            result.breaks.append(
                ChainBreak(
                    TABLE, link.run_id, link.seq,
                    f"does not follow link {link.seq - 1} (prev {link.prev_sha256[:12]} != {expected_prev[:12]}): "
                    "a report before it was deleted, re-ordered or replaced",
                )  # fmt: skip
            )
        report = reports.get(link.run_id)
        if report is None:
            result.breaks.append(ChainBreak(TABLE, link.run_id, link.seq, "report deleted from ovc_run_reports_v01"))
        elif report.sha256_at(link.seq, link.prev_sha256) != link.report_sha256:
            result.breaks.append(
                ChainBreak(TABLE, link.run_id, link.seq, "report edited after it was written (hash mismatch)")
            )
        expected_seq, expected_prev = link.seq + 1, link.report_sha256
    chained = {link.run_id for link in links}
    for run_id in sorted(set(reports) - chained - older):
        result.breaks.append(
            ChainBreak(TABLE, run_id, None, "report not in the chain: forged, or inserted outside ovc")
        )


def _verify_files(
    reports_dir: Path, links: dict[str, ChainLinkRow], older: set[str], result: ChainVerification
) -> None:
    seen: set[str] = set()
    for path in sorted(reports_dir.glob("*.json")) if reports_dir.is_dir() else []:
        result.files_checked += 1
        where = str(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            run_id = str(data["run_id"])
            report = RunReport.from_row(data)
            file_link = ChainLink.from_json(data["chain"]) if data.get("chain") is not None else None
        except (OSError, ValueError, KeyError, TypeError) as error:
            result.breaks.append(ChainBreak(where, None, None, f"not a readable report file ({type(error).__name__})"))
            continue
        seen.add(run_id)
        if path.name != report_file_name(run_id):
            result.breaks.append(ChainBreak(where, run_id, None, f"file name is not {report_file_name(run_id)}"))
        if file_link is None:
            if run_id not in older:
                result.breaks.append(ChainBreak(where, run_id, None, "file carries no chain link"))
            continue
        if report.sha256_at(file_link.seq, file_link.prev_sha256) != file_link.report_sha256:
            result.breaks.append(ChainBreak(where, run_id, file_link.seq, "file edited (hash mismatch)"))
        table_link = links.get(run_id)
        if table_link is None:
            result.breaks.append(
                ChainBreak(where, run_id, file_link.seq, "no chained report in the table for this file (forged file, "
                           "or its report was deleted)")
            )
        elif (table_link.seq, table_link.prev_sha256, table_link.report_sha256) != (
            file_link.seq, file_link.prev_sha256, file_link.report_sha256
        ):
            result.breaks.append(ChainBreak(where, run_id, file_link.seq, "file differs from the table's report"))
    for run_id in sorted(set(links) - seen):
        path = reports_dir / report_file_name(run_id)
        result.breaks.append(ChainBreak(str(path), run_id, links[run_id].seq, "report file missing (deleted)"))
