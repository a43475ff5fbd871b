-- tradeable = false rows among live rows with a known tradeable flag: in the range, and over
-- the baseline days before it (for the spike rule).
SELECT
    count(*) FILTER (WHERE block_start >= %(start)s AND NOT tradeable),
    count(*) FILTER (WHERE block_start >= %(start)s),
    count(*) FILTER (WHERE block_start < %(start)s AND NOT tradeable),
    count(*) FILTER (WHERE block_start < %(start)s)
FROM ovc.ovc_blocks_v01
WHERE block_type = '2H' AND tradeable IS NOT NULL
  AND block_start >= %(baseline_start)s AND block_start < %(end)s
