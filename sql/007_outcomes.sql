-- Outcome v0.1 in full (issue 11): the columns ovc_outcomes_v01 lacked, what each one means,
-- and the analysis view joining blocks and outcomes (the upstream's name).

ALTER TABLE ovc.ovc_outcomes_v01
    ADD COLUMN bars_to_mfe_up   integer,
    ADD COLUMN bars_to_mfe_down integer,
    ADD COLUMN first_hit        text CHECK (first_hit IN ('TARGET', 'INVALIDATION', 'NONE')),
    ADD COLUMN window_complete  boolean,
    ADD CONSTRAINT ovc_outcomes_v01_window_status_check CHECK (window_status IN ('COMPLETE', 'GAP')),
    ADD CONSTRAINT ovc_outcomes_v01_blocks_in_window_check CHECK (blocks_in_window >= 1);

UPDATE ovc.ovc_outcomes_v01 SET window_complete = (window_status = 'COMPLETE');
ALTER TABLE ovc.ovc_outcomes_v01 ALTER COLUMN window_complete SET NOT NULL;

-- window_complete follows window_status, whoever writes the row. A trigger rather than a
-- generated column: rollback restores rows by inserting every column, which a generated
-- column refuses.
CREATE FUNCTION ovc.set_outcome_window_complete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.window_complete := NEW.window_status = 'COMPLETE';
    RETURN NEW;
END;
$$;

CREATE TRIGGER ovc_outcomes_v01_window_complete
    BEFORE INSERT OR UPDATE ON ovc.ovc_outcomes_v01
    FOR EACH ROW EXECUTE FUNCTION ovc.set_outcome_window_complete();

COMMENT ON TABLE ovc.ovc_outcomes_v01 IS
    'Forward outcomes per 2H block and window: the next N open blocks of the FX calendar (weekend and holiday closures skipped). A window not yet closed (its last block has no data yet) is never stored; one missing block inside a closed window is stored with window_status GAP.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.window_type IS
    'NEXT_<2N>H: the N open blocks after the block (NEXT_2H = 1, NEXT_4H = 2, NEXT_12H = 6).';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.outcome_ver IS
    'Version of the outcome logic (also the code_version of the ovc_outcomes asset); versions live side by side.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.window_end IS
    'End of the last calendar block of the window (exclusive), UTC.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.window_status IS
    'COMPLETE: every block of the window has prices. GAP: some block inside the window has none although later data exists; the figures cover the blocks that exist.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.window_complete IS
    'window_status = COMPLETE.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.blocks_in_window IS
    'Blocks of the window that have prices (N when complete, fewer on a GAP).';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.ref_price IS 'The close (c) of the block itself.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.mfe_up IS 'max(h) over the window minus ref_price (highs, never closes only).';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.mfe_down IS 'ref_price minus min(l) over the window.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.close_pos IS
    '(c of the last block with prices - min l) / (max h - min l) over the window; NULL on a zero range.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.outcome_dir IS
    'UP / DOWN / NEUTRAL: the close of the last block with prices against ref_price.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.bars_to_mfe_up IS
    'Which block of the window (1-based, calendar position) made max(h); the first one on a tie.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.bars_to_mfe_down IS
    'Which block of the window (1-based, calendar position) made min(l); the first one on a tie.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.hit_target IS
    'pred_target touched inside the window (h >= level when the level is at or above ref_price, l <= level below it). NULL when pred_target is not a price.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.hit_invalidation IS
    'invalidation touched inside the window, same rule as hit_target. NULL when invalidation is not a price.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.first_hit IS
    'TARGET / INVALIDATION / NONE: which level was touched first. Same-block rule: when both are touched inside the same block, INVALIDATION first (pessimistic; a 2H bar does not tell the order). NULL unless both pred_target and invalidation are prices.';
COMMENT ON COLUMN ovc.ovc_outcomes_v01.run_id IS 'Dagster run id of the run that last wrote the row (rollback).';

CREATE VIEW ovc.v_ovc_min_with_outcomes_v01 AS
SELECT
    b.symbol, b.block_start, b.block_end, b.bid, b.date_ny, b.block2h, b.block4h,
    b.o, b.h, b.l, b.c, b.volume, b.ready, b.tradeable, b.state_tag, b.value_tag, b.play,
    b.bias_dir, b.pred_dir, b.pred_target, b.invalidation, b.source,
    o.window_type, o.outcome_ver, o.window_end, o.window_status, o.window_complete,
    o.blocks_in_window, o.ref_price, o.mfe_up, o.mfe_down, o.close_pos, o.outcome_dir,
    o.bars_to_mfe_up, o.bars_to_mfe_down, o.hit_target, o.hit_invalidation, o.first_hit,
    o.computed_at, o.run_id AS outcome_run_id
FROM ovc.ovc_blocks_v01 AS b
JOIN ovc.ovc_outcomes_v01 AS o
  ON o.symbol = b.symbol AND o.block_start = b.block_start
WHERE b.block_type = '2H' AND b.schema_ver = 'v01';

COMMENT ON VIEW ovc.v_ovc_min_with_outcomes_v01 IS
    'One row per 2H block and stored outcome (window_type x outcome_ver); blocks without outcomes are left out.';
