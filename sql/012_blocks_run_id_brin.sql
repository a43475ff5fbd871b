-- The spine's run_id index as a BRIN bloom index instead of a B-tree. Rollback and lineage look a
-- run's rows up by equality only, and a run writes its rows together: a bloom filter per range
-- of 128 heap pages answers "may this run have rows here?" for a few bytes per range, where the
-- B-tree held an entry per row and descended the tree for every row written. Each row a history
-- backfill writes paid for that descent (about a sixth of a plain COPY into the spine, issue 12);
-- a look-up of one run among 1,000,000 rows takes ~10 ms instead of ~2 ms (75 ms with no index).
-- autosummarize: autovacuum summarises each range once it is full, so the newest rows are not
-- left to be read unsummarised (still found, by reading their pages).
DROP INDEX IF EXISTS ovc.ovc_blocks_v01_run_id_idx;
CREATE INDEX ovc_blocks_v01_run_id_idx ON ovc.ovc_blocks_v01 USING brin (run_id text_bloom_ops)
    WITH (autosummarize = on);
