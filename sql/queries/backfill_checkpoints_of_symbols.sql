-- The checkpoints of one backfill (source, window, input) for some symbols.
SELECT symbol, completed_at IS NOT NULL, blocks_committed
FROM ovc.backfill_checkpoints
WHERE source = %(source)s AND range_start = %(range_start)s AND range_end = %(range_end)s
  AND input_hash = %(input_hash)s AND symbol = ANY(%(symbols)s)
