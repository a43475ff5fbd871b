"""Dagster resources shared by every domain."""


from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

from ovc_assets.storage.postgres import connect, resolve_dsn, writer_dsn


class PostgresResource(dg.ConfigurableResource):
    """The OVC database: `database_url` if given, else `OVC_DATABASE_URL`, else the embedded
    server under `$OVC_HOME/pg` (started on first use); acting as the writer role where
    `ovc db migrate` set it up."""

    database_url: str | None = None

    def dsn(self) -> str:
        return writer_dsn(self.database_url) if self.database_url else resolve_dsn()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """One connection whose transaction commits on success and rolls back on error."""
        with connect(self.dsn()) as conn:
            yield conn


class PipelineSettings(dg.ConfigurableResource):
    """What the pipeline ingests and how strictly the checks judge it.

    Symbols are configuration, not a partition dimension: one run of a 2H partition ingests
    every landed event of its window, and `symbols` says which series the calendar expects
    (`blocks_missing`) and the checks judge. The code location sets them from the deployment's
    `OVC_SYMBOLS` (read when the definitions load, in the run's process too); a run may
    override them under `resources: pipeline: config: symbols`. Blocks of other symbols in a
    window are counted and warned about (`unconfigured_symbol_blocks`).
    """

    symbols: list[str] = ["GBPUSD"]
    full_details_enabled: bool = False
    null_rate_thresholds: dict[str, float] = {"state_tag": 0.05, "play": 0.05}
    ohlc_divergence_tolerance: float = 0.0005
