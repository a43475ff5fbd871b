"""A tiny OVC-tagged asset for the run-report tests: it lands 2H blocks the way the real
writers do (run id in every row, IS DISTINCT FROM guard) and records its counts.

Imported by the tests and run as a script by the crash test (`python runs_fake_job.py`,
with DAGSTER_HOME and the JSON run config in the environment).
"""

import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg

from ovc_assets.calendar import Block
from ovc_assets.defs.resources import PostgresResource
from ovc_assets.runs.counts import tracked_step
from ovc_assets.storage.postgres import connect

SYMBOL = "GBPUSD"
DAY = "2026-01-13"  # a Tuesday: all twelve blocks are open

INSERT_BLOCK_SQL = """
INSERT INTO ovc.ovc_blocks_v01 AS b (
    symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
    o, h, l, c, ready, tradeable, state_tag, play, source, export_min, payload_min, run_id
) VALUES (
    %(symbol)s, %(block_start)s, '2H', 'export_contract_v0.1_min_r1', %(block_end)s, %(bid)s, %(date_ny)s,
    %(letter)s, %(pair)s, %(o)s, %(h)s, %(l)s, %(c)s, %(ready)s, true, 'TREND', 'LONG', 'tv', %(export)s,
    '{}'::jsonb, %(run_id)s
)
ON CONFLICT (symbol, block_start, block_type, schema_ver) DO UPDATE SET
    o = EXCLUDED.o, h = EXCLUDED.h, l = EXCLUDED.l, c = EXCLUDED.c, ready = EXCLUDED.ready,
    export_min = EXCLUDED.export_min, run_id = EXCLUDED.run_id, updated_at = now()
WHERE (b.o, b.h, b.l, b.c, b.ready, b.export_min) IS DISTINCT FROM
      (EXCLUDED.o, EXCLUDED.h, EXCLUDED.l, EXCLUDED.c, EXCLUDED.ready, EXCLUDED.export_min)
RETURNING (xmax = 0) AS inserted
"""


def block_params(block: Block, run_id: str, *, price: float = 1.25, ready: bool = True) -> dict:
    return {
        "symbol": SYMBOL,
        "block_start": block.start_utc,
        "block_end": block.end_utc,
        "bid": block.block_id(SYMBOL),
        "date_ny": block.date_ny,
        "letter": block.letter,
        "pair": block.pair,
        "o": price,
        "h": price + 0.01,
        "l": price - 0.01,
        "c": price + 0.005,
        "ready": ready,
        "export": f"export for {block.block_id(SYMBOL)} at {price}",
        "run_id": run_id,
    }


class FakeIngestConfig(dg.Config):
    letters: list[str] = ["I"]
    rejected_codes: list[list[str]] = []
    price: float = 1.25
    ready_file: str = ""
    api_token: str = ""
    source_url: str = ""


@dg.asset
def fake_ingest(context: dg.AssetExecutionContext, config: FakeIngestConfig, ovc_database: PostgresResource) -> None:
    """Lands one 2H block per letter of DAY and counts like a live ingest."""
    day = date.fromisoformat(DAY)
    blocks = [Block(day, letter) for letter in config.letters]
    dsn = ovc_database.dsn()
    with tracked_step(
        dsn,
        context.run.run_id,
        "fake_ingest",
        "LIVE_INGEST",
        range_start=blocks[0].start_utc,
        range_end=blocks[-1].end_utc,
        symbols=[SYMBOL],
    ) as counts:
        counts.received_events = len(blocks) + len(config.rejected_codes)
        counts.unique_events = counts.received_events
        for codes in config.rejected_codes:
            counts.count_failure(codes)
        counts.parse_ok = len(blocks)
        counts.insert_attempted = len(blocks)
        with connect(dsn) as conn:
            for block in blocks:
                counts.see("export_contract_v0.1_min_r1", "ovc_pine_0.1.0")
                try:
                    with conn.transaction():
                        row = conn.execute(INSERT_BLOCK_SQL, block_params(block, context.run.run_id, price=config.price)).fetchone()
                except psycopg.Error as error:
                    context.log.warning(f"insert failed for {block.block_id(SYMBOL)}: {error}")
                    counts.insert_failed += 1
                    continue
                if row is None:
                    counts.insert_skipped += 1
                else:
                    counts.insert_success += 1
        if config.ready_file:
            counts.checkpoint()
            Path(config.ready_file).write_text(str(os.getpid()))
            time.sleep(120)


def run_tags(run_type: str = "LIVE_INGEST") -> dict[str, str]:
    return {"ovc/run_type": run_type, "ovc/input_source": "tv_webhook"}


if __name__ == "__main__":
    # The crash test: materialise on the persistent instance of $DAGSTER_HOME, then get killed.
    run_config = json.loads(os.environ["FAKE_JOB_RUN_CONFIG"])
    dg.materialize(
        [fake_ingest],
        instance=dg.DagsterInstance.get(),
        resources={"ovc_database": PostgresResource(database_url=os.environ["FAKE_JOB_DATABASE_URL"])},
        tags=run_tags(),
        run_config=run_config,
    )
    sys.exit(0)
