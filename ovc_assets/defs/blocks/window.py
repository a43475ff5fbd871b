"""What one step of a block asset did to its window, as the asset's metadata.

A range run records one materialisation per 2H partition (the UI shows each partition
materialised), and each event is serialised and stored with its whole metadata. The run's
figures, counted once for the whole window, are attached to its first partition only
(`add_run_figures`); every partition carries the small `window_metadata`, enough to find the
window the run judged and the symbols it wrote.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

from ovc_assets.defs.metadata import markdown_table
from ovc_assets.pipeline.block_rows import PreparedBlocks
from ovc_assets.runs.counts import RunCounts
from ovc_assets.storage.blocks import UpsertCounts

FAILURE_ROWS_SHOWN = 20
COUNT_FIELDS = (
    "received_events", "unique_events", "duplicate_events", "parse_ok", "parse_fail",
    "insert_attempted", "insert_success", "insert_skipped", "insert_failed",
)  # fmt: skip


def window_metadata(start: datetime, end: datetime, symbols: Sequence[str]) -> dict[str, object]:
    """What every partition's materialisation of a run carries: the run's window and symbols."""
    return {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "symbols": dg.MetadataValue.json(list(symbols)),
    }


def add_run_figures(context: dg.AssetExecutionContext, figures: Mapping[str, object]) -> None:
    """Attach the run's figures to the materialisation of its first partition only."""
    context.add_asset_metadata(figures, partition_key=context.partition_key_range.start)


@dataclass
class WindowIngest:
    """What one step did to its window."""

    start: datetime
    end: datetime
    counts: RunCounts
    prepared: PreparedBlocks
    merged: UpsertCounts

    def figures(self) -> dict[str, object]:
        """The step's counts and rejected payloads, for `add_run_figures`."""
        failures_by_code = sorted(self.counts.fail_by_code.items())
        failures = [(e.event_id, ", ".join(e.codes), e.message) for e in self.prepared.rejected[:FAILURE_ROWS_SHOWN]]
        return {
            **{name: dg.MetadataValue.int(getattr(self.counts, name)) for name in COUNT_FIELDS},
            "rows_inserted": dg.MetadataValue.int(self.merged.inserted),
            "rows_updated": dg.MetadataValue.int(self.merged.updated),
            "webhook_resends": dg.MetadataValue.int(self.prepared.webhook_resends),
            "fail_by_code": dg.MetadataValue.md(
                markdown_table(("code", "payloads"), failures_by_code) if failures_by_code else "no failures"
            ),
            "rejected_events": dg.MetadataValue.md(
                markdown_table(("event_id", "codes", "message"), failures) if failures else "none"
            ),
            "schema_versions_seen": dg.MetadataValue.json(self.counts.schema_versions_seen),
            "build_ids_seen": dg.MetadataValue.json(self.counts.build_ids_seen),
        }
