-- Whether the spine already holds a block of a staged symbol within the staged time range: if
-- not, no staged key can conflict and the provider merge can insert without the ON CONFLICT
-- arbiter (a speculative insertion per row), which is its cost on a first load. One primary-key
-- range probe per symbol, whatever the size of the spine (a join on the keys was planned as a
-- scan of the whole table).
SELECT EXISTS (
    SELECT 1
    FROM (
        SELECT symbol, min(block_start) AS first_start, max(block_start) AS last_start
        FROM staging_blocks
        GROUP BY symbol
    ) AS staged
    CROSS JOIN LATERAL (
        SELECT 1
        FROM ovc.ovc_blocks_v01 AS b
        WHERE b.symbol = staged.symbol AND b.block_start BETWEEN staged.first_start AND staged.last_start
        LIMIT 1
    ) AS stored
);
