-- The stored provider columns of the spine's blocks in a chunk's key ranges, as a binary COPY of
-- fixed-width columns (`storage.binary_copy.read_binary_copy`): the chunk's rows are compared with
-- them in numpy, and only the new or changed ones are merged. A range is one symbol, block type,
-- schema version and provider source of the chunk (%(symbols)s .. %(lasts)s, one element each),
-- from its first to its last block_start; `key_range` is its position (1-based) in those arrays.
-- NULL provider prices and volumes come as NaN (the writers send NaN as NULL, so equal NaN/NULL
-- compare as IS DISTINCT FROM does), NULL counts and flags as -1, and the source is compared here.
-- One primary-key range scan per range: OFFSET 0 keeps the planner from flattening the lateral
-- subquery into a join, which it plans as a scan of the whole spine.
COPY (
    SELECT chunk.key_range::int4, stored.block_start,
           coalesce(stored.provider_o, 'NaN'), coalesce(stored.provider_h, 'NaN'),
           coalesce(stored.provider_l, 'NaN'), coalesce(stored.provider_c, 'NaN'),
           coalesce(stored.provider_volume, 'NaN'), coalesce(stored.provider_bar_count, -1),
           coalesce(stored.provider_partial::int4, -1),
           stored.provider_source IS NOT DISTINCT FROM chunk.source
    FROM unnest(%(symbols)s::text[], %(block_types)s::text[], %(schema_vers)s::text[], %(sources)s::text[],
                %(firsts)s::timestamptz[], %(lasts)s::timestamptz[])
        WITH ORDINALITY AS chunk(symbol, block_type, schema_ver, source, first_start, last_start, key_range)
    CROSS JOIN LATERAL (
        SELECT b.block_start, b.provider_o, b.provider_h, b.provider_l, b.provider_c, b.provider_volume,
               b.provider_bar_count, b.provider_partial, b.provider_source
        FROM ovc.ovc_blocks_v01 AS b
        WHERE b.symbol = chunk.symbol AND b.block_start BETWEEN chunk.first_start AND chunk.last_start
          AND b.block_type = chunk.block_type AND b.schema_ver = chunk.schema_ver
        OFFSET 0
    ) AS stored
    ORDER BY chunk.key_range, stored.block_start
) TO STDOUT (FORMAT BINARY)
