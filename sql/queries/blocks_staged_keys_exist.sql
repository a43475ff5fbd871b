-- Whether any staged block's key is already in the spine: if none is, the provider merge can
-- insert without the ON CONFLICT arbiter (a speculative insertion per row), which is its cost
-- on a first load.
SELECT EXISTS (
    SELECT 1
    FROM staging_blocks AS s
    JOIN ovc.ovc_blocks_v01 AS b USING (symbol, block_start, block_type, schema_ver)
);
