-- Start (or resume) the backfill of one symbol: an unfinished checkpoint keeps its progress,
-- a completed one starts over at the window's start (the rerun is a full, idempotent pass).
INSERT INTO ovc.backfill_checkpoints AS cp
    (source, symbol, range_start, range_end, input_hash, input_description, committed_until, dagster_run_id)
VALUES (%(source)s, %(symbol)s, %(range_start)s, %(range_end)s, %(input_hash)s, %(input_description)s,
        %(range_start)s, %(run_id)s)
ON CONFLICT (source, symbol, range_start, range_end, input_hash) DO UPDATE SET
    committed_until  = CASE WHEN cp.completed_at IS NULL THEN cp.committed_until ELSE EXCLUDED.committed_until END,
    blocks_committed = CASE WHEN cp.completed_at IS NULL THEN cp.blocks_committed ELSE 0 END,
    chunks_committed = CASE WHEN cp.completed_at IS NULL THEN cp.chunks_committed ELSE 0 END,
    started_at       = CASE WHEN cp.completed_at IS NULL THEN cp.started_at ELSE now() END,
    completed_at     = NULL,
    dagster_run_id   = EXCLUDED.dagster_run_id,
    updated_at       = now()
RETURNING committed_until, blocks_committed
