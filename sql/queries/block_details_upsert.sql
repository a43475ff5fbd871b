-- Merge staged FULL exports into ovc_blocks_detail_v01 (JSONB under the block's key).
-- Unchanged rows are skipped, so reruns are no-ops.
INSERT INTO ovc.ovc_blocks_detail_v01 AS d (
    symbol, block_start, block_type, schema_ver, bid, export_full, full_payload, run_id
)
SELECT symbol, block_start, block_type, schema_ver, bid, export_full, full_payload, run_id
FROM staging_blocks
ON CONFLICT (symbol, block_start, block_type, schema_ver) DO UPDATE SET
    bid = EXCLUDED.bid,
    export_full = EXCLUDED.export_full,
    full_payload = EXCLUDED.full_payload,
    run_id = EXCLUDED.run_id,
    updated_at = now()
WHERE (d.bid, d.export_full, d.full_payload) IS DISTINCT FROM (EXCLUDED.bid, EXCLUDED.export_full, EXCLUDED.full_payload)
RETURNING (xmax = 0) AS inserted;
