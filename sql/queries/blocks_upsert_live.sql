-- Merge staged live TradingView blocks into the spine in one statement.
-- A live row owns the MIN fields and OHLC; provider_* columns (history backfill) are left
-- alone. Rows whose values would not change are skipped (no write, no history), so a rerun
-- over unchanged data changes nothing.
INSERT INTO ovc.ovc_blocks_v01 AS b (
    symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
    bar_close_ms, o, h, l, c, rng, body, ret, dir, ready, tradeable, state_tag, value_tag, play,
    bias_dir, pred_dir, pred_target, invalidation, build_id, scheme, source, export_min,
    payload_min, run_id
)
SELECT
    symbol, block_start, block_type, schema_ver, block_end, bid, date_ny, block2h, block4h,
    bar_close_ms, o, h, l, c, rng, body, ret, dir, ready, tradeable, state_tag, value_tag, play,
    bias_dir, pred_dir, pred_target, invalidation, build_id, scheme, source, export_min,
    payload_min, run_id
FROM staging_blocks
ON CONFLICT (symbol, block_start, block_type, schema_ver) DO UPDATE SET
    block_end = EXCLUDED.block_end,
    bid = EXCLUDED.bid,
    date_ny = EXCLUDED.date_ny,
    block2h = EXCLUDED.block2h,
    block4h = EXCLUDED.block4h,
    bar_close_ms = EXCLUDED.bar_close_ms,
    o = EXCLUDED.o,
    h = EXCLUDED.h,
    l = EXCLUDED.l,
    c = EXCLUDED.c,
    rng = EXCLUDED.rng,
    body = EXCLUDED.body,
    ret = EXCLUDED.ret,
    dir = EXCLUDED.dir,
    ready = EXCLUDED.ready,
    tradeable = EXCLUDED.tradeable,
    state_tag = EXCLUDED.state_tag,
    value_tag = EXCLUDED.value_tag,
    play = EXCLUDED.play,
    bias_dir = EXCLUDED.bias_dir,
    pred_dir = EXCLUDED.pred_dir,
    pred_target = EXCLUDED.pred_target,
    invalidation = EXCLUDED.invalidation,
    build_id = EXCLUDED.build_id,
    scheme = EXCLUDED.scheme,
    source = EXCLUDED.source,
    export_min = EXCLUDED.export_min,
    payload_min = EXCLUDED.payload_min,
    run_id = EXCLUDED.run_id,
    updated_at = now()
WHERE (b.block_end, b.bid, b.date_ny, b.block2h, b.block4h, b.bar_close_ms, b.o, b.h, b.l, b.c,
       b.rng, b.body, b.ret, b.dir, b.ready, b.tradeable, b.state_tag, b.value_tag, b.play,
       b.bias_dir, b.pred_dir, b.pred_target, b.invalidation, b.build_id, b.scheme, b.source,
       b.export_min, b.payload_min)
  IS DISTINCT FROM
      (EXCLUDED.block_end, EXCLUDED.bid, EXCLUDED.date_ny, EXCLUDED.block2h, EXCLUDED.block4h,
       EXCLUDED.bar_close_ms, EXCLUDED.o, EXCLUDED.h, EXCLUDED.l, EXCLUDED.c, EXCLUDED.rng,
       EXCLUDED.body, EXCLUDED.ret, EXCLUDED.dir, EXCLUDED.ready, EXCLUDED.tradeable,
       EXCLUDED.state_tag, EXCLUDED.value_tag, EXCLUDED.play, EXCLUDED.bias_dir, EXCLUDED.pred_dir,
       EXCLUDED.pred_target, EXCLUDED.invalidation, EXCLUDED.build_id, EXCLUDED.scheme,
       EXCLUDED.source, EXCLUDED.export_min, EXCLUDED.payload_min)
RETURNING (xmax = 0) AS inserted;
