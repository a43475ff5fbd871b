-- The stored provider columns of the spine's blocks in a chunk's key ranges, as one bytea of
-- fixed-width records (each row its values' binary send forms, `storage.binary_copy.read_sent_records`):
-- the chunk's rows are compared with them in numpy, and only the new or changed ones are merged.
-- One value rather than a COPY TO: a COPY sends a message per row, which the client reads one by one.
-- A range is one symbol, block type, schema version and provider source of the chunk
-- (%(symbols)s .. %(lasts)s, one element each), from its first to its last block_start;
-- `key_range` is its position (1-based) in those arrays (rows in no order: they are matched by key).
-- NULL provider prices and volumes come as NaN (the writers send NaN as NULL, so equal NaN/NULL
-- compare as IS DISTINCT FROM does), NULL counts and flags as -1 (a NULL would drop the record),
-- and the source is compared here. One primary-key range scan per range: OFFSET 0 keeps the
-- planner from flattening the lateral subquery into a join, which it may plan as a scan of the spine.
SELECT string_agg(
    int4send(chunk.key_range::int4) || timestamptz_send(stored.block_start)
    || float8send(coalesce(stored.provider_o, 'NaN')) || float8send(coalesce(stored.provider_h, 'NaN'))
    || float8send(coalesce(stored.provider_l, 'NaN')) || float8send(coalesce(stored.provider_c, 'NaN'))
    || float8send(coalesce(stored.provider_volume, 'NaN')) || int4send(coalesce(stored.provider_bar_count, -1))
    || int4send(coalesce(stored.provider_partial::int4, -1))
    || boolsend(stored.provider_source IS NOT DISTINCT FROM chunk.source),
    ''::bytea
)
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
