"""The run report of seed 002: every field, the invariants and the frozen verdict rules.

Verdict (seed 002 section 10, DESIGN 5b), applied in this order:

- FAIL when any invariant is broken or `insert_failed > 0`. Also FAIL, because the run
  cannot be trusted at all, when the run itself did not succeed (Dagster FAILURE, CANCELED,
  or its process died), and when `outcomes_failed > 0` (the insert failures of an outcome
  run, section 8's counterpart of `insert_failed`).
- WARN when `parse_fail > 0`, `blocks_missing > 0` or a `ready0_count` spike. Also WARN
  when `sanity_error_count > 0` and nothing above applies: PASS requires
  `sanity_error_count = 0`, and a run whose writes all succeeded but left data failing the
  OHLC sanity rules is not a FAIL of the run either. Also WARN when events of the run's
  window are quarantined (`quarantined_events > 0`: the database refused them for their
  own data, so they are in `ovc.raw_event_quarantine`, not in the blocks). Also WARN when
  run tracking itself failed (counts or data-quality figures could not be gathered): the
  report is incomplete; and for the `cautions` a writer adds (a rollback forced over later
  runs).
- PASS otherwise, which implies `insert_failed = 0` and `sanity_error_count = 0`.

`warnings` names every reason, one string each, so the verdict can always be explained.

Invariants (seed 002 sections 5 and 6, plus the same accounting for section 8):

- `received_events = parse_ok + parse_fail`
- `insert_attempted = parse_ok`
- `insert_attempted = insert_success + insert_skipped + insert_failed`
- `outcomes_attempted = outcomes_inserted + outcomes_skipped + outcomes_failed`
- every count is >= 0
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

PASS = "PASS"
WARN = "WARN"
FAIL = "FAIL"
VERDICTS = (PASS, WARN, FAIL)

# Seed 002 section 12, in order: the columns of ovc_run_reports_v01.
REPORT_COLUMNS = (
    "run_id", "run_type", "run_ver", "profile", "scheme", "env",
    "started_at_ms", "finished_at_ms", "duration_ms",
    "input_source", "input_range", "expected_events", "received_events", "unique_events", "duplicate_events",
    "parse_ok", "parse_fail", "fail_by_code",
    "insert_attempted", "insert_success", "insert_skipped", "insert_failed",
    "blocks_missing", "ready0_count", "tradeable0_count", "null_rate_summary", "sanity_error_count",
    "outcomes_attempted", "outcomes_inserted", "outcomes_skipped", "outcomes_failed", "window_type", "outcome_ver",
    "raw_events_written", "raw_store_path", "schema_versions_seen", "build_ids_seen",
    "run_status", "warnings", "notes",
)  # fmt: skip
JSON_COLUMNS = frozenset({"fail_by_code", "null_rate_summary", "schema_versions_seen", "build_ids_seen", "warnings"})

INV_RECEIVED = "received_events = parse_ok + parse_fail"
INV_ATTEMPTED_PARSED = "insert_attempted = parse_ok"
INV_ATTEMPTED_SPLIT = "insert_attempted = insert_success + insert_skipped + insert_failed"
INV_OUTCOMES_SPLIT = "outcomes_attempted = outcomes_inserted + outcomes_skipped + outcomes_failed"
INV_NON_NEGATIVE = "counts are non-negative"
INVARIANTS = (INV_RECEIVED, INV_ATTEMPTED_PARSED, INV_ATTEMPTED_SPLIT, INV_OUTCOMES_SPLIT, INV_NON_NEGATIVE)

COUNT_COLUMNS = (
    "expected_events", "received_events", "unique_events", "duplicate_events", "parse_ok", "parse_fail",
    "insert_attempted", "insert_success", "insert_skipped", "insert_failed", "blocks_missing", "ready0_count",
    "tradeable0_count", "sanity_error_count", "outcomes_attempted", "outcomes_inserted", "outcomes_skipped",
    "outcomes_failed", "raw_events_written", "duration_ms",
)  # fmt: skip

# Exit codes of commands that run a job: a shell or CI can rely on them.
EXIT_CODES = {PASS: 0, WARN: 0, FAIL: 1}


# prev_sha256 of the first link of the report chain (sql/006_run_report_chain.sql).
GENESIS_SHA256 = "0" * 64


@dataclass(frozen=True)
class ChainLink:
    """A report's place in the hash chain: its position, its predecessor's hash, its own."""

    seq: int
    prev_sha256: str
    report_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "prev_sha256": self.prev_sha256, "report_sha256": self.report_sha256}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainLink:
        return cls(seq=int(data["seq"]), prev_sha256=str(data["prev_sha256"]), report_sha256=str(data["report_sha256"]))


@dataclass(frozen=True)
class Verdict:
    status: str
    warnings: tuple[str, ...]


@dataclass
class RunReport:
    """One run report. The dataclass fields up to `notes` are exactly the table's columns;
    the ones after it are verdict inputs that are not stored as columns (their effect is
    stored: the verdict and a warning naming them)."""

    run_id: str
    run_type: str | None = None
    run_ver: str | None = None
    profile: str | None = None
    scheme: str | None = None
    env: str | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    duration_ms: int | None = None
    input_source: str | None = None
    input_range: str | None = None
    expected_events: int | None = None
    received_events: int = 0
    unique_events: int = 0
    duplicate_events: int = 0
    parse_ok: int = 0
    parse_fail: int = 0
    fail_by_code: dict[str, int] = field(default_factory=dict)
    insert_attempted: int = 0
    insert_success: int = 0
    insert_skipped: int = 0
    insert_failed: int = 0
    blocks_missing: int | None = None
    ready0_count: int | None = None
    tradeable0_count: int | None = None
    null_rate_summary: dict[str, float | None] | None = None
    sanity_error_count: int | None = None
    outcomes_attempted: int | None = None
    outcomes_inserted: int | None = None
    outcomes_skipped: int | None = None
    outcomes_failed: int | None = None
    window_type: str | None = None
    outcome_ver: str | None = None
    raw_events_written: int = 0
    raw_store_path: str | None = None
    schema_versions_seen: dict[str, int] = field(default_factory=dict)
    build_ids_seen: dict[str, int] = field(default_factory=dict)
    run_status: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: str = ""
    # Verdict inputs that are not columns.
    quarantined_events: int = 0
    ready0_spike: bool = False
    run_failure: str | None = None
    tracking_problems: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)  # other WARN reasons, e.g. a forced rollback
    chain: ChainLink | None = None  # set once the report is appended to the hash chain

    # --- rules ---------------------------------------------------------------------------

    def check_invariants(self) -> list[str]:
        """The names of the broken invariants (see the module docstring), in a fixed order."""
        broken = []
        if self.received_events != self.parse_ok + self.parse_fail:
            broken.append(INV_RECEIVED)
        if self.insert_attempted != self.parse_ok:
            broken.append(INV_ATTEMPTED_PARSED)
        if self.insert_attempted != self.insert_success + self.insert_skipped + self.insert_failed:
            broken.append(INV_ATTEMPTED_SPLIT)
        outcomes = (self.outcomes_attempted, self.outcomes_inserted, self.outcomes_skipped, self.outcomes_failed)
        if any(value is not None for value in outcomes):
            attempted, inserted, skipped, failed = (value or 0 for value in outcomes)
            if attempted != inserted + skipped + failed:
                broken.append(INV_OUTCOMES_SPLIT)
        if any((getattr(self, name) or 0) < 0 for name in COUNT_COLUMNS) or any(
            count < 0 for count in self.fail_by_code.values()
        ):
            broken.append(INV_NON_NEGATIVE)
        return broken

    def verdict(self) -> Verdict:
        """PASS / WARN / FAIL by the frozen rules, with one warning per reason."""
        failures: list[str] = []
        if self.run_failure:
            failures.append(f"run did not succeed: {self.run_failure}")
        for name in self.check_invariants():
            failures.append(f"invariant broken: {name} ({self._invariant_values(name)})")
        if self.insert_failed > 0:
            failures.append(f"insert_failed = {self.insert_failed}")
        if (self.outcomes_failed or 0) > 0:
            failures.append(f"outcomes_failed = {self.outcomes_failed}")

        cautions: list[str] = []
        if self.parse_fail > 0:
            codes = ", ".join(f"{code}: {count}" for code, count in sorted(self.fail_by_code.items()))
            cautions.append(f"parse_fail = {self.parse_fail}" + (f" ({codes})" if codes else ""))
        if (self.blocks_missing or 0) > 0:
            cautions.append(f"blocks_missing = {self.blocks_missing}")
        if self.quarantined_events > 0:
            cautions.append(
                f"quarantined_events = {self.quarantined_events} (refused by the database, "
                "in ovc.raw_event_quarantine, not in the blocks)"
            )
        if self.ready0_spike:
            cautions.append(f"ready0_count spike: {self.ready0_count} blocks with ready = 0")
        if (self.sanity_error_count or 0) > 0:
            cautions.append(f"sanity_error_count = {self.sanity_error_count} (PASS requires 0)")
        cautions.extend(f"tracking incomplete: {problem}" for problem in self.tracking_problems)
        cautions.extend(self.cautions)

        if failures:
            return Verdict(FAIL, tuple(failures + cautions))
        if cautions:
            return Verdict(WARN, tuple(cautions))
        return Verdict(PASS, ())

    def finalized(self) -> RunReport:
        """Set `run_status` and `warnings` from the rules (returns self)."""
        verdict = self.verdict()
        self.run_status = verdict.status
        self.warnings = list(verdict.warnings)
        return self

    def _invariant_values(self, name: str) -> str:
        if name == INV_RECEIVED:
            return f"{self.received_events} != {self.parse_ok} + {self.parse_fail}"
        if name == INV_ATTEMPTED_PARSED:
            return f"{self.insert_attempted} != {self.parse_ok}"
        if name == INV_ATTEMPTED_SPLIT:
            return (
                f"{self.insert_attempted} != {self.insert_success} + {self.insert_skipped} + {self.insert_failed}"
            )
        if name == INV_OUTCOMES_SPLIT:
            return (
                f"{self.outcomes_attempted or 0} != {self.outcomes_inserted or 0} + "
                f"{self.outcomes_skipped or 0} + {self.outcomes_failed or 0}"
            )
        negative = sorted(name for name in COUNT_COLUMNS if (getattr(self, name) or 0) < 0)
        negative += sorted(f"fail_by_code[{code}]" for code, count in self.fail_by_code.items() if count < 0)
        return "negative: " + ", ".join(negative)

    # --- serialisation -------------------------------------------------------------------

    def to_row(self) -> dict[str, Any]:
        """The table row: exactly `REPORT_COLUMNS`, JSON columns as Python objects."""
        return {name: getattr(self, name) for name in REPORT_COLUMNS}

    def to_json(self) -> dict[str, Any]:
        """The JSON artifact: the row, keys in column order, then its `chain` link if any."""
        row = self.to_row()
        row["warnings"] = list(row["warnings"] or [])
        if self.chain is not None:
            row["chain"] = self.chain.to_json()
        return row

    def canonical_json(self, seq: int, prev_sha256: str) -> bytes:
        """What the chain hashes: the row (as `from_row` reads it back, so the table, the
        file and the writer agree) with its position, as compact sorted-key UTF-8 JSON."""
        row = RunReport.from_row(self.to_row()).to_row()
        document = {"report": row, "seq": seq, "prev_sha256": prev_sha256}
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def sha256_at(self, seq: int, prev_sha256: str) -> str:
        """The report's hash as link `seq` after a predecessor whose hash is `prev_sha256`."""
        return hashlib.sha256(self.canonical_json(seq, prev_sha256)).hexdigest()

    def chained(self, seq: int, prev_sha256: str) -> RunReport:
        """Link the report into the chain after a predecessor (returns self)."""
        self.chain = ChainLink(seq=seq, prev_sha256=prev_sha256, report_sha256=self.sha256_at(seq, prev_sha256))
        return self

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RunReport:
        known = {f.name for f in fields(cls)}
        values = {name: row[name] for name in REPORT_COLUMNS if name in row and name in known}
        for name in ("fail_by_code", "schema_versions_seen", "build_ids_seen"):
            values[name] = dict(values.get(name) or {})
        values["warnings"] = list(values.get("warnings") or [])
        values["notes"] = values.get("notes") or ""
        for name in ("received_events", "unique_events", "duplicate_events", "parse_ok", "parse_fail",
                     "insert_attempted", "insert_success", "insert_skipped", "insert_failed", "raw_events_written"):
            values[name] = values.get(name) or 0
        return cls(**values)


def exit_code_for(status: str | None) -> int:
    """0 for PASS and WARN, 1 for FAIL (and for a missing verdict)."""
    return EXIT_CODES.get(status or FAIL, 1)
