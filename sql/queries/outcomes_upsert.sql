-- Merge staged outcome rows in one statement; rows whose values would not change are left
-- alone (computed_at and run_id included), so recomputing the same version changes nothing.
WITH merged AS (
    INSERT INTO ovc.ovc_outcomes_v01 AS o (
        symbol, block_start, window_type, outcome_ver, bid, window_end, window_status, window_complete,
        blocks_in_window, ref_price, mfe_up, mfe_down, close_pos, outcome_dir, bars_to_mfe_up,
        bars_to_mfe_down, hit_target, hit_invalidation, first_hit, run_id, computed_at
    )
    SELECT
        symbol, block_start, window_type, outcome_ver, bid, window_end, window_status, window_complete,
        blocks_in_window, ref_price, mfe_up, mfe_down, close_pos, outcome_dir, bars_to_mfe_up,
        bars_to_mfe_down, hit_target, hit_invalidation, first_hit, run_id, now()
    FROM staging_outcomes
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
