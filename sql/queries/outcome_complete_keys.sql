-- The COMPLETE outcome rows stored for a range: what outcomes_missing compares against.
SELECT symbol, block_start, window_type
FROM ovc.ovc_outcomes_v01
WHERE outcome_ver = %(outcome_ver)s AND window_type = ANY(%(window_types)s) AND symbol = ANY(%(symbols)s)
  AND block_start >= %(start)s AND block_start < %(end)s AND window_status = 'COMPLETE'
