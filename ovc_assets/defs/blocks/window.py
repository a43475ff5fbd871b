"""What one step of a block asset did to its window, as the asset's metadata."""

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


@dataclass
class WindowIngest:
    """What one step did to its window."""

    start: datetime
    end: datetime
    counts: RunCounts
    prepared: PreparedBlocks
    merged: UpsertCounts

    def metadata(self) -> dict[str, object]:
        failures_by_code = sorted(self.counts.fail_by_code.items())
        failures = [(e.event_id, ", ".join(e.codes), e.message) for e in self.prepared.rejected[:FAILURE_ROWS_SHOWN]]
        return {
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
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
