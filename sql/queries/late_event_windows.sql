-- 2H windows with live events landed after the last ovc_blocks step that covered them
-- recorded its counts: those windows need materialising again.
SELECT e.block_start, max(e.landed_at) AS last_landed_at
FROM ovc.raw_events AS e
WHERE e.landed_at > %(since)s
  AND e.route = ANY(%(routes)s)
  AND e.block_start IS NOT NULL
  AND EXISTS (
      SELECT 1 FROM ovc.ovc_run_counts AS c
      WHERE c.step_key = %(step_key)s
        AND c.range_start <= e.block_start AND e.block_start < c.range_end
  )
  AND NOT EXISTS (
      SELECT 1 FROM ovc.ovc_run_counts AS c
      WHERE c.step_key = %(step_key)s
        AND c.range_start <= e.block_start AND e.block_start < c.range_end
        AND c.recorded_at >= e.landed_at
  )
GROUP BY e.block_start
ORDER BY max(e.landed_at), e.block_start
LIMIT %(limit)s
