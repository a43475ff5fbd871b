-- Blocks in a window whose symbol the pipeline is not configured for: written, but neither
-- expected by the calendar (blocks_missing) nor judged by the checks.
SELECT symbol, count(*) AS blocks
FROM ovc.ovc_blocks_v01
WHERE block_start >= %(start)s AND block_start < %(end)s
  AND NOT (symbol = ANY(%(symbols)s))
GROUP BY symbol
ORDER BY symbol
