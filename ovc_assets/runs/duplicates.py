"""`ovc validate-duplicates`: blocks that should not coexist, and the runs that wrote them.

Three findings over `ovc_blocks_v01` (and the outcome table for duplicate keys):

- duplicate keys: one block id (`bid`) on more than one row of the same block type and
  contract version (or, for outcomes, of the same window and outcome version). The table's
  primary key is (symbol, block_start, ...), so this happens when rows with different
  times claim the same block id.
- conflicting blocks: one block id whose rows (across contract versions) carry different
  OHLC prices.
- id/time mismatches: rows whose block id does not parse, or names another symbol, start
  time (`Block.start_utc` of `parse_block_id(bid)`), OVC day or letter than the row has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg

from ovc_assets.calendar import parse_block_id

MAX_FINDINGS = 1000
FETCH_BATCH = 10_000

DUPLICATE_BLOCK_KEYS_SQL = """
SELECT 'ovc_blocks_v01' AS table_name, bid, block_type || '/' || schema_ver AS version, count(*) AS row_count,
       array_agg(symbol || '@' || to_char(block_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"')
                 ORDER BY block_start, symbol) AS rows,
       array_agg(DISTINCT coalesce(run_id, 'unknown')) AS run_ids
FROM ovc.ovc_blocks_v01
GROUP BY bid, block_type, schema_ver
HAVING count(*) > 1
UNION ALL
SELECT 'ovc_outcomes_v01', bid, window_type || '/' || outcome_ver, count(*),
       array_agg(symbol || '@' || to_char(block_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"')
                 ORDER BY block_start, symbol),
       array_agg(DISTINCT coalesce(run_id, 'unknown'))
FROM ovc.ovc_outcomes_v01
GROUP BY bid, window_type, outcome_ver
HAVING count(*) > 1
ORDER BY 1, 2, 3
LIMIT %s
"""

CONFLICTING_BLOCKS_SQL = """
SELECT bid, block_type,
       count(DISTINCT (o, h, l, c)) AS price_versions,
       array_agg(schema_ver || ': ' || concat_ws('/', o, h, l, c) ORDER BY schema_ver) AS prices,
       array_agg(DISTINCT coalesce(run_id, 'unknown')) AS run_ids
FROM ovc.ovc_blocks_v01
WHERE num_nonnulls(o, h, l, c) = 4
GROUP BY bid, block_type
HAVING count(DISTINCT (o, h, l, c)) > 1
ORDER BY bid, block_type
LIMIT %s
"""

BLOCK_IDENTITIES_SQL = """
SELECT bid, symbol, block_start, date_ny, block2h, schema_ver, run_id
FROM ovc.ovc_blocks_v01
WHERE block_type = '2H'
ORDER BY symbol, block_start
"""


@dataclass
class DuplicateReport:
    duplicate_keys: list[dict] = field(default_factory=list)
    conflicting_blocks: list[dict] = field(default_factory=list)
    id_time_mismatches: list[dict] = field(default_factory=list)
    rows_checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.duplicate_keys or self.conflicting_blocks or self.id_time_mismatches)

    @property
    def faulty_runs(self) -> list[str]:
        runs: set[str] = set()
        for finding in (*self.duplicate_keys, *self.conflicting_blocks):
            runs.update(finding["run_ids"])
        runs.update(finding["run_id"] or "unknown" for finding in self.id_time_mismatches)
        return sorted(runs)

    def to_json(self) -> dict:
        return {"ok": self.ok, "faulty_runs": self.faulty_runs, **asdict(self)}


def _mismatch(bid: str, symbol: str, block_start: datetime, date_ny, block2h: str) -> str | None:
    try:
        block, id_symbol = parse_block_id(bid)
    except ValueError:
        return "block id does not parse"
    problems = []
    if id_symbol != symbol:
        problems.append(f"id symbol {id_symbol} != row symbol {symbol}")
    if block.start_utc != block_start:
        problems.append(f"id starts {block.start_utc.isoformat()} != block_start {block_start.isoformat()}")
    if block.date_ny != date_ny or block.letter != block2h:
        problems.append(f"id day/letter {block.date_ny}/{block.letter} != row {date_ny}/{block2h}")
    return "; ".join(problems) or None


def find_duplicates(conn: psycopg.Connection, *, max_findings: int = MAX_FINDINGS) -> DuplicateReport:
    report = DuplicateReport()
    cursor = conn.execute(DUPLICATE_BLOCK_KEYS_SQL, (max_findings,))
    names = [column.name for column in cursor.description]
    report.duplicate_keys = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    cursor = conn.execute(CONFLICTING_BLOCKS_SQL, (max_findings,))
    names = [column.name for column in cursor.description]
    report.conflicting_blocks = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    with conn.transaction(), conn.cursor(name="ovc_block_identities") as rows:
        rows.itersize = FETCH_BATCH
        rows.execute(BLOCK_IDENTITIES_SQL)
        for bid, symbol, block_start, date_ny, block2h, schema_ver, run_id in rows:
            report.rows_checked += 1
            problem = _mismatch(bid, symbol, block_start, date_ny, block2h)
            if problem and len(report.id_time_mismatches) < max_findings:
                report.id_time_mismatches.append(
                    {
                        "bid": bid,
                        "symbol": symbol,
                        "block_start": block_start.isoformat(),
                        "schema_ver": schema_ver,
                        "run_id": run_id,
                        "problem": problem,
                    }
                )
    return report
