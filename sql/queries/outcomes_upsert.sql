-- Merge the staged outcome rows of one window type in one statement. The staging table holds
-- numbers only (storage/outcomes.py): the symbol is an index into %(symbols)s, the enums are
-- 1-based positions in their arrays (0, out of range, is NULL), nullable booleans are
-- 0 NULL / 1 false / 2 true, a NaN close_pos is NULL, and the block id comes from the block.
-- Rows whose values would not change are left alone (computed_at and run_id included), so
-- recomputing the same version changes nothing.
WITH merged AS (
    INSERT INTO ovc.ovc_outcomes_v01 AS o (
        symbol, block_start, window_type, outcome_ver, bid, window_end, window_status, window_complete,
        blocks_in_window, ref_price, mfe_up, mfe_down, close_pos, outcome_dir, bars_to_mfe_up,
        bars_to_mfe_down, hit_target, hit_invalidation, first_hit, run_id, computed_at
    )
    SELECT
        b.symbol, s.block_start, %(window_type)s, %(outcome_ver)s, b.bid, s.window_end,
        (%(window_statuses)s::text[])[s.window_status], s.window_status = 1,
        s.blocks_in_window, s.ref_price, s.mfe_up, s.mfe_down, NULLIF(s.close_pos, 'NaN'),
        (%(outcome_dirs)s::text[])[s.outcome_dir], s.bars_to_mfe_up, s.bars_to_mfe_down,
        CASE s.hit_target WHEN 1 THEN false WHEN 2 THEN true END,
        CASE s.hit_invalidation WHEN 1 THEN false WHEN 2 THEN true END,
        (%(first_hits)s::text[])[s.first_hit], %(run_id)s, now()
    FROM staging_outcomes AS s
    JOIN ovc.ovc_blocks_v01 AS b
      ON b.symbol = (%(symbols)s::text[])[s.symbol_index] AND b.block_start = s.block_start
     AND b.block_type = %(block_type)s AND b.schema_ver = %(schema_ver)s
    ON CONFLICT (symbol, block_start, window_type, outcome_ver) DO UPDATE SET
        bid = EXCLUDED.bid,
        window_end = EXCLUDED.window_end,
        window_status = EXCLUDED.window_status,
        window_complete = EXCLUDED.window_complete,
        blocks_in_window = EXCLUDED.blocks_in_window,
        ref_price = EXCLUDED.ref_price,
        mfe_up = EXCLUDED.mfe_up,
        mfe_down = EXCLUDED.mfe_down,
        close_pos = EXCLUDED.close_pos,
        outcome_dir = EXCLUDED.outcome_dir,
        bars_to_mfe_up = EXCLUDED.bars_to_mfe_up,
        bars_to_mfe_down = EXCLUDED.bars_to_mfe_down,
        hit_target = EXCLUDED.hit_target,
        hit_invalidation = EXCLUDED.hit_invalidation,
        first_hit = EXCLUDED.first_hit,
        run_id = EXCLUDED.run_id,
        computed_at = now()
    WHERE (o.bid, o.window_end, o.window_status, o.blocks_in_window, o.ref_price, o.mfe_up, o.mfe_down,
           o.close_pos, o.outcome_dir, o.bars_to_mfe_up, o.bars_to_mfe_down, o.hit_target,
           o.hit_invalidation, o.first_hit)
      IS DISTINCT FROM
          (EXCLUDED.bid, EXCLUDED.window_end, EXCLUDED.window_status, EXCLUDED.blocks_in_window,
           EXCLUDED.ref_price, EXCLUDED.mfe_up, EXCLUDED.mfe_down, EXCLUDED.close_pos, EXCLUDED.outcome_dir,
           EXCLUDED.bars_to_mfe_up, EXCLUDED.bars_to_mfe_down, EXCLUDED.hit_target,
           EXCLUDED.hit_invalidation, EXCLUDED.first_hit)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged
