-- The spine's secondary index on bid is read by no query: every look-up of a block goes by the
-- primary key (symbol, block_start, ...), and the queries that name bid group or sort the rows
-- of a whole range or table (duplicate and divergence checks, `ovc runs duplicates`), which the
-- planner serves from a scan of those rows. Each insert still paid for it: dropping it is most
-- of what keeps the provider merge of a history backfill within half of a plain COPY (issue 12).
-- The run_id index stays: rollback and lineage find a run's rows through it.
DROP INDEX IF EXISTS ovc.ovc_blocks_v01_bid_idx;
