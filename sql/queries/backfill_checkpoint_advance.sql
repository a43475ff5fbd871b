-- Move one symbol's checkpoint past a chunk, in the chunk's own transaction.
UPDATE ovc.backfill_checkpoints
SET committed_until = %(committed_until)s, blocks_committed = blocks_committed + %(blocks)s,
    chunks_committed = chunks_committed + 1, dagster_run_id = %(run_id)s, updated_at = now()
WHERE source = %(source)s AND symbol = %(symbol)s AND range_start = %(range_start)s
  AND range_end = %(range_end)s AND input_hash = %(input_hash)s
