-- Whether the spine already holds a block of one of the symbols within its time range
-- (%(symbols)s, %(firsts)s, %(lasts)s: one first and last block_start per symbol): if not, no key
-- of the chunk can conflict and the provider rows are copied in without the merge. One
-- primary-key range probe per symbol, whatever the size of the spine.
SELECT EXISTS (
    SELECT 1
    FROM unnest(%(symbols)s::text[], %(firsts)s::timestamptz[], %(lasts)s::timestamptz[])
        AS chunk(symbol, first_start, last_start)
    CROSS JOIN LATERAL (
        SELECT 1
        FROM ovc.ovc_blocks_v01 AS b
        WHERE b.symbol = chunk.symbol AND b.block_start BETWEEN chunk.first_start AND chunk.last_start
        LIMIT 1
    ) AS stored
);
