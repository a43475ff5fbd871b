-- Per symbol, the start of its latest block with finite h, l and c: how far its data reaches.
-- (NULL compares to NULL and NaN is above 'Infinity' in PostgreSQL, so both drop out.)
SELECT symbol, max(block_start)
FROM ovc.ovc_blocks_v01
WHERE block_type = %(block_type)s AND schema_ver = %(schema_ver)s AND symbol = ANY(%(symbols)s)
  AND h > '-Infinity' AND h < 'Infinity' AND l > '-Infinity' AND l < 'Infinity'
  AND c > '-Infinity' AND c < 'Infinity'
GROUP BY symbol
