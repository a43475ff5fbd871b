"""Self-repair of missed alerts: `missing_blocks_repair_sensor` (see ovc_assets.ops.repair)."""
