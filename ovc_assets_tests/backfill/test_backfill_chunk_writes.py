"""How a backfill writes its chunks: the prices it fills are those PostgreSQL computes from the
candle, and a chunk's commit does not wait for the disk while the symbol's completion does,
which makes every chunk before it durable (the reasoning is in `backfill.engine`,
ASYNCHRONOUS_COMMIT_SQL)."""

from __future__ import annotations

from datetime import date, timedelta

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from ovc_assets.backfill import engine
from ovc_assets.backfill.sources import csv_candle_source
from ovc_assets.calendar import Block
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.postgres import connect
from ovc_assets_tests.backfill.conftest import market_candles, write_generic_csv

WINDOW = (Block(date(2026, 3, 1), "A").start_utc, Block(date(2026, 3, 4), "A").start_utc)
CHUNK_BLOCKS = 10
SHOW_SQL = "SHOW synchronous_commit"
# The tests' private embedded server runs with synchronous_commit off for speed; this test's
# database must start from the durable default to show what the backfill changes.
DURABLE_DEFAULT_SQL = "ALTER DATABASE {} SET synchronous_commit = on"
# Rows whose spine prices differ, bit for bit, from the server's own arithmetic on the candle.
PRICES_NOT_FROM_CANDLE_SQL = """
SELECT count(*) FROM ovc.ovc_blocks_v01
WHERE (o, h, l, c, volume, source) IS DISTINCT FROM
      (provider_o, provider_h, provider_l, provider_c, provider_volume, provider_source)
   OR (rng, body, ret, dir) IS DISTINCT FROM
      (provider_h - provider_l, abs(provider_c - provider_o), (provider_c - provider_o) / provider_o,
       sign(provider_c - provider_o)::smallint)
"""


def backfill_a_few_days(database_url: str, folder) -> None:
    path = write_generic_csv(folder / "eurusd.csv", market_candles(*WINDOW, timedelta(minutes=30)))
    with connect(database_url, autocommit=True) as conn:
        engine.backfill_window(
            conn, csv_candle_source([str(path)], "generic", None), *WINDOW, ["EURUSD"],
            run_id="chunk-writes-run", counts=RunCounts(), chunk_blocks=CHUNK_BLOCKS,
        )  # fmt: skip


def test_the_prices_a_backfill_fills_are_the_servers_arithmetic_on_the_candle(database_url, tmp_path) -> None:
    backfill_a_few_days(database_url, tmp_path)
    with connect(database_url) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT dir) FROM ovc.ovc_blocks_v01").fetchone()
        differing = conn.execute(PRICES_NOT_FROM_CANDLE_SQL).fetchone()[0]
    assert stored[0] > 2 * CHUNK_BLOCKS and stored[1] >= 2  # up and down blocks both
    assert differing == 0


def test_chunks_commit_asynchronously_and_the_completion_synchronously(database_url, tmp_path, monkeypatch) -> None:
    settings: dict[str, list[str]] = {"chunk": [], "completion": []}

    def recording(phase: str, write):
        def record_then_write(conn, *args) -> None:
            settings[phase].append(conn.execute(SHOW_SQL).fetchone()[0])
            write(conn, *args)

        return record_then_write

    with connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL(DURABLE_DEFAULT_SQL).format(sql.Identifier(conninfo_to_dict(database_url)["dbname"])))
    monkeypatch.setattr(engine, "advance_checkpoint", recording("chunk", engine.advance_checkpoint))
    monkeypatch.setattr(engine, "complete_checkpoint", recording("completion", engine.complete_checkpoint))
    backfill_a_few_days(database_url, tmp_path)
    with connect(database_url, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM ovc.ovc_blocks_v01").fetchone()[0]

    assert stored > 2 * CHUNK_BLOCKS and len(settings["chunk"]) == -(-stored // CHUNK_BLOCKS)
    assert set(settings["chunk"]) == {"off"}
    assert settings["completion"] == ["on"], "the setting stays inside each chunk's transaction"
