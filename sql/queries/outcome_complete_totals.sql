-- Per symbol and window type: how many COMPLETE outcome rows a range has stored, and the sum of
-- their block starts (epoch seconds): outcomes_missing compares both with what was computed.
SELECT symbol, window_type, count(*), sum(extract(epoch FROM block_start))::bigint
FROM ovc.ovc_outcomes_v01
WHERE outcome_ver = %(outcome_ver)s AND window_type = ANY(%(window_types)s) AND symbol = ANY(%(symbols)s)
  AND block_start >= %(start)s AND block_start < %(end)s AND window_status = 'COMPLETE'
GROUP BY symbol, window_type
