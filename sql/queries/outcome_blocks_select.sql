-- The stored 2H blocks of some symbols in a range, as the outcome computation reads them.
SELECT symbol, block_start, bid, h, l, c, pred_target, invalidation
FROM ovc.ovc_blocks_v01
WHERE block_type = %(block_type)s AND schema_ver = %(schema_ver)s AND symbol = ANY(%(symbols)s)
  AND block_start >= %(start)s AND block_start < %(end)s
ORDER BY symbol, block_start
