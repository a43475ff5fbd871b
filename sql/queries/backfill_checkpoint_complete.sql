-- Mark one symbol's backfill complete: the next run with the same key starts over.
UPDATE ovc.backfill_checkpoints
SET completed_at = now(), updated_at = now()
WHERE source = %(source)s AND symbol = %(symbol)s AND range_start = %(range_start)s
  AND range_end = %(range_end)s AND input_hash = %(input_hash)s
