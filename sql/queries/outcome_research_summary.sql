-- Hit rates and mean excursions of a range's outcomes by play and by pred_dir.
SELECT window_type,
       CASE WHEN grouping(play) = 0 THEN 'play' ELSE 'pred_dir' END AS dimension,
       coalesce(CASE WHEN grouping(play) = 0 THEN play ELSE pred_dir END, '(none)') AS value,
       count(*) AS outcomes,
       avg(hit_target::integer) AS target_hit_rate,
       avg(hit_invalidation::integer) AS invalidation_hit_rate,
       avg(mfe_up) AS mean_mfe_up,
       avg(mfe_down) AS mean_mfe_down
FROM ovc.v_ovc_min_with_outcomes_v01
WHERE outcome_ver = %(outcome_ver)s AND window_type = ANY(%(window_types)s) AND symbol = ANY(%(symbols)s)
  AND block_start >= %(start)s AND block_start < %(end)s
GROUP BY GROUPING SETS ((window_type, play), (window_type, pred_dir))
ORDER BY window_type, dimension, value
