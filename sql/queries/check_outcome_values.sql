-- Outcome rows of a range whose values break outcome v0.1: negative, NaN or infinite
-- excursions, close_pos outside [0, 1] (or NaN), a bars_to_* outside the window's N blocks.
-- coalesce: a NULL where a value is required counts as broken too.
SELECT symbol, bid, window_type, mfe_up, mfe_down, close_pos, bars_to_mfe_up, bars_to_mfe_down
FROM ovc.ovc_outcomes_v01
WHERE outcome_ver = %(outcome_ver)s AND window_type = ANY(%(window_types)s) AND symbol = ANY(%(symbols)s)
  AND block_start >= %(start)s AND block_start < %(end)s
  AND NOT coalesce(
      mfe_up >= 0 AND mfe_up < 'Infinity' AND mfe_down >= 0 AND mfe_down < 'Infinity'
      AND (close_pos IS NULL OR (close_pos >= 0 AND close_pos <= 1))
      AND bars_to_mfe_up BETWEEN 1 AND substring(window_type FROM '^NEXT_([0-9]+)H$')::integer / 2
      AND bars_to_mfe_down BETWEEN 1 AND substring(window_type FROM '^NEXT_([0-9]+)H$')::integer / 2,
      false)
ORDER BY symbol, block_start, window_type
