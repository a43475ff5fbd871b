-- Merge staged provider rows (OANDA, CSV) into the spine in one statement.
-- provider_* always take the candle. OHLC, volume and the prices derived from them (staged
-- with the candle, computed by `storage.blocks.block_prices`) are filled only where no live
-- TradingView row owns them: a live row keeps its OHLC and MIN fields, and the ohlc_divergence
-- check compares the two. Unchanged rows are skipped before they reach ON CONFLICT (which
-- would lock each stored row, a write and a WAL record per row, before its WHERE skips it):
-- a rerun then only reads. The look-up is a scalar subquery so that it stays one primary-key
-- probe per staged row (a join was planned as a scan of the whole spine).
INSERT INTO ovc.ovc_blocks_v01 AS b (
    symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
    provider_source, provider_o, provider_h, provider_l, provider_c, provider_volume,
    provider_bar_count, provider_partial, run_id,
    o, h, l, c, volume, rng, body, ret, dir, source
)
SELECT
    symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
    provider_source, provider_o, provider_h, provider_l, provider_c, provider_volume,
    provider_bar_count, provider_partial, run_id,
    o, h, l, c, volume, rng, body, ret, dir, source
FROM staging_blocks AS s
WHERE (
    SELECT (stored.provider_source, stored.provider_o, stored.provider_h, stored.provider_l, stored.provider_c,
            stored.provider_volume, stored.provider_bar_count, stored.provider_partial)
    FROM ovc.ovc_blocks_v01 AS stored
    WHERE (stored.symbol, stored.block_start, stored.block_type, stored.schema_ver)
        = (s.symbol, s.block_start, s.block_type, s.schema_ver)
) IS DISTINCT FROM
    (s.provider_source, s.provider_o, s.provider_h, s.provider_l, s.provider_c,
     s.provider_volume, s.provider_bar_count, s.provider_partial)
ON CONFLICT (symbol, block_start, block_type, schema_ver) DO UPDATE SET
    o = CASE WHEN b.export_min IS NULL THEN EXCLUDED.o ELSE b.o END,
    h = CASE WHEN b.export_min IS NULL THEN EXCLUDED.h ELSE b.h END,
    l = CASE WHEN b.export_min IS NULL THEN EXCLUDED.l ELSE b.l END,
    c = CASE WHEN b.export_min IS NULL THEN EXCLUDED.c ELSE b.c END,
    rng = CASE WHEN b.export_min IS NULL THEN EXCLUDED.rng ELSE b.rng END,
    body = CASE WHEN b.export_min IS NULL THEN EXCLUDED.body ELSE b.body END,
    ret = CASE WHEN b.export_min IS NULL THEN EXCLUDED.ret ELSE b.ret END,
    dir = CASE WHEN b.export_min IS NULL THEN EXCLUDED.dir ELSE b.dir END,
    source = CASE WHEN b.export_min IS NULL THEN EXCLUDED.source ELSE b.source END,
    volume = COALESCE(b.volume, EXCLUDED.volume),
    provider_source = EXCLUDED.provider_source,
    provider_o = EXCLUDED.provider_o,
    provider_h = EXCLUDED.provider_h,
    provider_l = EXCLUDED.provider_l,
    provider_c = EXCLUDED.provider_c,
    provider_volume = EXCLUDED.provider_volume,
    provider_bar_count = EXCLUDED.provider_bar_count,
    provider_partial = EXCLUDED.provider_partial,
    run_id = EXCLUDED.run_id,
    updated_at = now()
WHERE (b.provider_source, b.provider_o, b.provider_h, b.provider_l, b.provider_c,
       b.provider_volume, b.provider_bar_count, b.provider_partial)
  IS DISTINCT FROM
      (EXCLUDED.provider_source, EXCLUDED.provider_o, EXCLUDED.provider_h, EXCLUDED.provider_l,
       EXCLUDED.provider_c, EXCLUDED.provider_volume, EXCLUDED.provider_bar_count,
       EXCLUDED.provider_partial)
RETURNING (xmax = 0) AS inserted;
